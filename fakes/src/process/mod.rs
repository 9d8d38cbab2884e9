//! The onboarding process as sans-IO actors (docs/DOMAIN.md §2, §5, §6).
//!
//! Each actor is a state machine: `handle(now, msg, out)` changes its state and puts
//! messages for other actors (each with a delivery time) and events into an
//! [`Outbox`]. Nothing here owns a queue or a clock: the event engine in `sim` (and
//! later the live services) deliver the messages. Deadlines come from
//! [`crate::schedule`], never from copies of the rules.
//!
//! One module per actor:
//! - [`clinic`] (医療機関・薬局) follows its plan and reacts to answers;
//! - [`bureau`] (地方厚生（支）局) answers reception-number requests, returns late ones
//!   (返戻), takes the designation application and designates;
//! - [`implementing_body`] (医療保険情報提供等実施機関) registers reception numbers,
//!   opens portal accounts, issues client certificates, runs the connectivity check;
//! - [`reader_vendor`], [`carrier`], [`system_vendor`]: reader, line, installation.

pub mod bureau;
pub mod carrier;
pub mod clinic;
pub mod codec;
pub mod fault;
pub mod first_patient;
pub mod go_live;
pub mod implementing_body;
pub mod limited_type;
pub mod lines;
pub mod params;
pub mod plan;
pub mod portal;
pub mod reader_vendor;
pub mod system_vendor;

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::calendar::BusinessCalendar;
use crate::codes::{FeeTable, ReceptionNumber, TemporaryCode};
use crate::time::VirtualTime;

/// The parties of the process (on the wire: `clinic`, `implementing-body`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActorId {
    Clinic,
    Bureau,
    ImplementingBody,
    ReaderVendor,
    Carrier,
    SystemVendor,
}

impl ActorId {
    pub const ALL: [ActorId; 6] = [
        ActorId::Clinic,
        ActorId::Bureau,
        ActorId::ImplementingBody,
        ActorId::ReaderVendor,
        ActorId::Carrier,
        ActorId::SystemVendor,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ActorId::Clinic => "clinic",
            ActorId::Bureau => "bureau",
            ActorId::ImplementingBody => "implementing-body",
            ActorId::ReaderVendor => "reader-vendor",
            ActorId::Carrier => "carrier",
            ActorId::SystemVendor => "system-vendor",
        }
    }
}

impl fmt::Display for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A step of the clinic's plan, fired by its own timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    TemporaryCodeRequest,
    ReaderOrder,
    NetworkOrder,
    SystemVendorOrder,
    ReceptionRequest,
    SubmitReceptionNumber(ReceptionNumber),
    Applications,
    DesignationApplication,
    GoLive,
}

/// What the system vendor needs in hand before installation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prerequisite {
    Reader,
    Line,
    /// The certificate notice for one institution code.
    CertificateNotice(FeeTable),
    PortalAccount,
}

/// Why a connectivity check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConnectivityFailure {
    CarrierOutage,
    LineNotConnectable,
    ImplementingBodyDown,
    CertificateExpired,
    CertificateNotYetValid,
    CertificateRevoked,
    CertificateOtherInstitution,
}

impl ConnectivityFailure {
    pub const ALL: [ConnectivityFailure; 7] = [
        ConnectivityFailure::CarrierOutage,
        ConnectivityFailure::LineNotConnectable,
        ConnectivityFailure::ImplementingBodyDown,
        ConnectivityFailure::CertificateExpired,
        ConnectivityFailure::CertificateNotYetValid,
        ConnectivityFailure::CertificateRevoked,
        ConnectivityFailure::CertificateOtherInstitution,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectivityFailure::CarrierOutage => "carrier outage",
            ConnectivityFailure::LineNotConnectable => "line not on the connectable list",
            ConnectivityFailure::ImplementingBodyDown => "implementing body down",
            ConnectivityFailure::CertificateExpired => "client certificate expired",
            ConnectivityFailure::CertificateNotYetValid => "client certificate not yet valid",
            ConnectivityFailure::CertificateRevoked => "client certificate revoked",
            ConnectivityFailure::CertificateOtherInstitution => {
                "client certificate bound to another institution"
            }
        }
    }
    /// Transient failures are retried; the others need someone to fix something.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            ConnectivityFailure::CarrierOutage | ConnectivityFailure::ImplementingBodyDown
        )
    }
}

/// Who started a connectivity check, so the answer goes back to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckPurpose {
    /// The system vendor's check on installation day (接続確認).
    Installation,
    /// The clinic's first confirmation on the day it goes online.
    GoLive,
}

/// Messages between actors. Each is delivered at a virtual time chosen by its sender.
/// Serde (the wire format of the live services) is in [`codec`], the one place
/// messages become JSON and back.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    /// The clinic's own plan timer.
    Step(Step),
    // clinic → bureau
    ReceptionRequest {
        fee: FeeTable,
    },
    DesignationApplication {
        complete: bool,
    },
    // bureau → clinic
    ReceptionAnswer {
        fee: FeeTable,
        number: ReceptionNumber,
    },
    RequestReturned {
        fee: FeeTable,
    },
    CorrectionRequest,
    DesignationApplicationAccepted,
    Designated {
        date: NaiveDate,
    },
    NotDesignated,
    // bureau internal timers
    CouncilDecision,
    // bureau → implementing body
    CodesSent,
    // clinic → implementing body
    TemporaryCodeRequest,
    ReaderApplication,
    ReceptionNumberSubmission {
        number: ReceptionNumber,
    },
    UsageApplication,
    CertificateApplication {
        fee: FeeTable,
    },
    /// 資格確認限定型: application on the portal or by post.
    LimitedTypeApplication {
        postal: bool,
    },
    // implementing body → clinic
    TemporaryCodeIssued {
        code: TemporaryCode,
    },
    AccountReady {
        registered_for: NaiveDate,
    },
    CertificateNotice {
        fee: FeeTable,
        delayed: bool,
    },
    LimitedTypeApproved,
    // clinic ↔ reader vendor
    ReaderOrder {
        replacement: bool,
    },
    ReaderDelivered {
        working: bool,
    },
    // clinic ↔ carrier
    LineOrder,
    LineReady,
    LineRejected,
    // clinic → system vendor
    SystemOrder {
        installation: NaiveDate,
    },
    PrerequisiteReady(Prerequisite),
    InstallationDay,
    // connectivity check: system vendor or clinic → carrier → implementing body → back
    ConnectivityCheck {
        purpose: CheckPurpose,
    },
    ConnectivityResult {
        purpose: CheckPurpose,
        failure: Option<ConnectivityFailure>,
    },
    // system vendor → clinic
    InstallationDone,
    InstallationPostponed,
}

impl Msg {
    /// The actors a message may be addressed to. Exhaustive on purpose: a new message
    /// does not compile until it says who takes it, and [`Outbox::send`] refuses (as a
    /// [`EventKind::MessageRefused`] trace event) a message sent to anyone else.
    pub fn addressees(&self) -> &'static [ActorId] {
        use ActorId::*;
        match self {
            Msg::Step(_)
            | Msg::ReceptionAnswer { .. }
            | Msg::RequestReturned { .. }
            | Msg::CorrectionRequest
            | Msg::DesignationApplicationAccepted
            | Msg::Designated { .. }
            | Msg::NotDesignated
            | Msg::TemporaryCodeIssued { .. }
            | Msg::AccountReady { .. }
            | Msg::CertificateNotice { .. }
            | Msg::LimitedTypeApproved
            | Msg::ReaderDelivered { .. }
            | Msg::LineReady
            | Msg::LineRejected
            | Msg::InstallationDone
            | Msg::InstallationPostponed => &[Clinic],
            Msg::ReceptionRequest { .. }
            | Msg::DesignationApplication { .. }
            | Msg::CouncilDecision => &[Bureau],
            Msg::CodesSent
            | Msg::TemporaryCodeRequest
            | Msg::ReaderApplication
            | Msg::ReceptionNumberSubmission { .. }
            | Msg::UsageApplication
            | Msg::CertificateApplication { .. }
            | Msg::LimitedTypeApplication { .. } => &[ImplementingBody],
            // A new reader from a vendor; under r2021 the implementing body replaces the
            // free reader it supplied.
            Msg::ReaderOrder { .. } => &[ReaderVendor, ImplementingBody],
            Msg::LineOrder => &[Carrier],
            Msg::SystemOrder { .. } | Msg::PrerequisiteReady(_) | Msg::InstallationDay => {
                &[SystemVendor]
            }
            // The check travels over the carrier's line to the implementing body; the
            // result goes back to whoever asked.
            Msg::ConnectivityCheck { .. } => &[Carrier, ImplementingBody],
            Msg::ConnectivityResult { .. } => &[SystemVendor, Clinic],
        }
    }
}

/// Something that happened, for the trace and for expectations. The ids are what
/// scenario files name in `[[expect]]`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    strum::EnumIter,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum EventKind {
    TemporaryCodeRequested,
    TemporaryCodeIssued,
    ReaderApplied,
    ReaderOrdered,
    ReaderShipped,
    ReaderDelivered,
    ReaderDeadOnArrival,
    LineOrdered,
    LineReady,
    LineRejected,
    SystemOrdered,
    ReceptionRequestSent,
    ReceptionRequestReceived,
    RequestReturned,
    BureauAnswerDispatched,
    BureauAnswerReceived,
    ReceptionNumberSubmitted,
    ReceptionNumberRegistered,
    ReceptionNumberLate,
    AccountReady,
    UsageApplicationSent,
    CertificateApplicationSent,
    CertificateIssued,
    CertificateNoticeReceived,
    CertificateNoticeLost,
    DesignationApplicationSent,
    CorrectionRequested,
    DesignationApplicationAccepted,
    DesignationApplicationLate,
    Designated,
    NotDesignated,
    NumberReuseHazard,
    CodesSent,
    InstallationPostponed,
    ConnectivityFailed,
    InstallationDone,
    OperationTestPassed,
    OnlineStartFailed,
    OnlineStart,
    FirstConfirmation,
    FaceAuthFailed,
    PinFallback,
    VisualCheckFallback,
    CardConfirmationRefused,
    ExemptPaperClaims,
    LimitedTypeApplied,
    LimitedTypeReady,
    /// r2024: the clinic files the 経過措置 届出 with its designation application
    /// (001 1(1)); it is not expected online on the designation day.
    TransitionalNoticeFiled,
    /// The bureau's handling ran past its answer date (the 10th): the answer goes out
    /// when handling is done, after the rule date.
    BureauAnswerLate,
    /// A reception number reached the implementing body after its deadline and is
    /// handled case by case (個別対応, 000 ※): registered for the month the scenario's
    /// `late_registration` says.
    ReceptionNumberIndividual,
    /// The clinic is designated under the April 2023 mandate (原則義務化, 001): online
    /// confirmation is obligatory from the designation day (not for paper claims or
    /// the 経過措置; `schedule::Obligation`).
    MandateApplies,
    /// r2021 2: the bureau's system handed out again the reception number of a deleted
    /// record that was the newest, because the next code was not entered by hand
    /// (`BureauParams::neighbour`).
    NumberReissued,
    /// At the first confirmation the reader asks the patient's consent to show their
    /// 薬剤情報 (seed 003: from 2021-10; every kind of institution).
    DrugInfoConsentAsked,
    /// …and to show their 特定健診情報 (seed 003: from 2021-03; not at a pharmacy).
    CheckupConsentAsked,
    /// A message its addressee does not take (sent to the wrong actor, or one the
    /// actor has no handling for in its state). Never expected: every scenario runs
    /// without one (`sim/tests/actor_inputs.rs`), and the driver's invariant check
    /// reports it.
    MessageRefused,
    /// 資格確認限定型: the clinic's user is registered on the portal (004: on the portal
    /// before applying there, or by post with 申請区分 1 on the application form).
    PortalUserRegistered,
    /// 資格確認限定型: the clinic applied for the device subsidy (004: 3/4 of the cost,
    /// at most ¥31,000, by 2025-01-15); the detail gives the amount.
    SubsidyApplied,
    /// 資格確認限定型: the subsidy application would be after its deadline (004
    /// "令和7年1月15日までを予定"): no subsidy.
    SubsidyDeadlineMissed,
    /// r2021 別紙3 ⑦: not designated, the clinic reports its reception number and name
    /// to the implementing body ("速やかに、受付番号や医療機関名をオンライン資格確認実施機関
    /// に報告"). What the body then does is not in the seed.
    NotDesignatedReported,
}

impl EventKind {
    /// The id scenario files use, e.g. `online-start`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Every event id, for validation messages and the JSON Schema.
    pub fn all() -> Vec<EventKind> {
        use strum::IntoEnumIterator;
        EventKind::iter().collect()
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        s.parse().ok()
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of the trace: when, who, what, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    pub at: VirtualTime,
    pub actor: ActorId,
    pub kind: EventKind,
    /// The rule or fault behind it.
    pub why: &'static str,
    /// Extra detail (numbers, dates); filled only when the run keeps a full trace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A message to deliver later.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub at: VirtualTime,
    pub from: ActorId,
    pub to: ActorId,
    pub msg: Msg,
}

/// What an actor produced while handling one input.
#[derive(Debug, Default)]
pub struct Outbox {
    pub sends: Vec<Envelope>,
    pub events: Vec<Event>,
    /// Fill [`Event::detail`]; off in sweeps, where only times and kinds matter.
    pub detailed: bool,
}

impl Outbox {
    pub fn new(detailed: bool) -> Self {
        Outbox {
            sends: Vec::with_capacity(8),
            events: Vec::with_capacity(8),
            detailed,
        }
    }

    /// Send `msg` to `to`, delivered at `at`. A message `to` does not take (see
    /// [`Msg::addressees`]) is not delivered: it becomes a
    /// [`EventKind::MessageRefused`] event of the sender.
    pub fn send(&mut self, at: VirtualTime, from: ActorId, to: ActorId, msg: Msg) {
        if !msg.addressees().contains(&to) {
            self.event(
                at,
                from,
                EventKind::MessageRefused,
                "misrouted: the addressee does not take this message",
                || format!("{msg:?} to {to:?}"),
            );
            return;
        }
        self.sends.push(Envelope { at, from, to, msg });
    }

    /// Record that actor `me` refused `msg` from `from`: an input it has no handling
    /// for. Never a silent drop (docs/ARCHITECTURE.md, typed inputs).
    pub fn refuse(&mut self, at: VirtualTime, me: ActorId, from: ActorId, msg: &Msg) {
        self.event(
            at,
            me,
            EventKind::MessageRefused,
            "refused: this actor does not handle this message",
            || format!("{msg:?} from {from:?}"),
        );
    }

    /// Record an event; `detail` is only evaluated when the run keeps details.
    pub fn event(
        &mut self,
        at: VirtualTime,
        actor: ActorId,
        kind: EventKind,
        why: &'static str,
        detail: impl FnOnce() -> String,
    ) {
        let detail = self.detailed.then(detail);
        self.events.push(Event {
            at,
            actor,
            kind,
            why,
            detail,
        });
    }
}

/// Office hours used for actions: offices act at 09:00 and mail arrives at 10:00.
pub const OFFICE_OPENS: u32 = 9;
pub const MAIL_ARRIVES: u32 = 10;

/// `n` business days after `from` at `hour`, on `cal`. Calendar errors (past 2099)
/// collapse to a far-future instant so a run never panics; the scenario validator
/// refuses such dates up front.
pub fn business_days_later(
    cal: &BusinessCalendar,
    from: NaiveDate,
    n: i32,
    hour: u32,
) -> VirtualTime {
    VirtualTime::at(
        cal.add_business_days(from, n).unwrap_or(far_future()),
        hour,
        0,
    )
}

/// The open day on or after `date`, at `hour`.
pub fn open_at(cal: &BusinessCalendar, date: NaiveDate, hour: u32) -> VirtualTime {
    VirtualTime::at(cal.open_on_or_after(date).unwrap_or(far_future()), hour, 0)
}

/// A date beyond every horizon, used when the calendar runs out.
pub fn far_future() -> NaiveDate {
    NaiveDate::from_ymd_opt(2099, 12, 31).expect("valid")
}

/// The interface the drivers use: every actor starts (scheduling its first timers)
/// and then handles one message at a time.
pub trait Actor {
    fn id(&self) -> ActorId;
    /// Schedule the actor's own first steps.
    fn start(&mut self, _out: &mut Outbox) {}
    /// Handle one message delivered at `now`.
    fn handle(&mut self, now: VirtualTime, from: ActorId, msg: Msg, out: &mut Outbox);
}
