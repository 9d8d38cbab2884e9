//! 医療機関・薬局: the party being onboarded. It follows its plan (by default the
//! guide's recommended schedule), reacts to answers, hands prerequisites to its system
//! vendor, and goes online on the designation day if everything is in place.

use chrono::NaiveDate;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::fault::{FaultKind, FaultStep, Faults};
use super::first_patient;
use super::go_live::{Attempt, GoLive, Readiness};
use super::limited_type::LimitedTypeSetup;
use super::plan::{self, PlanItem};
use super::{
    Actor, ActorId, CheckPurpose, EventKind, Msg, Outbox, Prerequisite, Step, OFFICE_OPENS,
};
use crate::calendar::{BusinessCalendar, CalendarError};
use crate::codes::{FeeTable, ReceptionNumber, TemporaryCode};
use crate::schedule::{ClinicKind, MilestoneId, Obligation, RuleSet, Schedule};
use crate::time::VirtualTime;

const ME: ActorId = ActorId::Clinic;

/// The clinic's plan as a scenario writes it: every field optional, defaulting to
/// the recommended schedule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// r2021: request the temporary code and apply for the free reader.
    #[serde(default, deserialize_with = "crate::serde_date::opt_date")]
    pub temporary_code_request: Option<NaiveDate>,
    #[serde(default, deserialize_with = "crate::serde_date::opt_date")]
    pub reader_order: Option<NaiveDate>,
    #[serde(default, deserialize_with = "crate::serde_date::opt_date")]
    pub network_order: Option<NaiveDate>,
    #[serde(default, deserialize_with = "crate::serde_date::opt_date")]
    pub system_vendor_order: Option<NaiveDate>,
    #[serde(default, deserialize_with = "crate::serde_date::opt_date")]
    pub reception_request: Option<NaiveDate>,
    /// How many reception-number requests are filed (a medical+dental clinic needs 2).
    pub reception_requests: Option<u8>,
    /// Business days between receiving the bureau's answer and submitting the number.
    pub submit_after: Option<u32>,
    /// Usage and certificate applications (default: the business day after the
    /// portal account opens).
    #[serde(default, deserialize_with = "crate::serde_date::opt_date")]
    pub applications: Option<NaiveDate>,
    #[serde(default, deserialize_with = "crate::serde_date::opt_date")]
    pub installation: Option<NaiveDate>,
    /// r2024: designation application with the onboarding plan.
    #[serde(default, deserialize_with = "crate::serde_date::opt_date")]
    pub designation_application: Option<NaiveDate>,
    /// r2024: the clinic files the 経過措置 届出 with its designation application (001
    /// 1(1) and 第2: a clinic with やむを得ない事情 from the day it is designated). The
    /// onboarding plan is then waived ("この限りでない"), the clinic is not expected
    /// online on the designation day, and it still files the reception-number request
    /// because the portal account needs the number "当面の間".
    #[serde(default)]
    pub transitional_notice: bool,
    /// 資格確認限定型: the day the clinic applies for the device subsidy (default: the day
    /// it is ready). After 2025-01-15 (004) it gets none (`subsidy-deadline-missed`).
    #[serde(default, deserialize_with = "crate::serde_date::opt_date")]
    pub subsidy_application: Option<NaiveDate>,
}

/// The plan with every date decided.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResolvedPlan {
    pub temporary_code_request: Option<NaiveDate>,
    pub reader_order: NaiveDate,
    pub network_order: NaiveDate,
    pub system_vendor_order: NaiveDate,
    pub reception_request: NaiveDate,
    pub reception_requests: u8,
    pub submit_after: u32,
    pub applications: Option<NaiveDate>,
    pub installation: NaiveDate,
    pub designation_application: Option<NaiveDate>,
    /// See [`Plan::transitional_notice`].
    pub transitional_notice: bool,
    /// See [`Plan::subsidy_application`].
    pub subsidy_application: Option<NaiveDate>,
}

/// Days before installation by which the recommended plan orders the reader:
/// *(our choice)* the longest default lead time (120 days) plus a week. The guide's
/// "by about 3 months before designation" is the latest date, and with a 3–4 month
/// lead time it is already too late for an installation in M−1.
pub const READER_ORDER_MARGIN_DAYS: i64 = 127;

impl Plan {
    /// Fill every unset date from the recommended schedule.
    pub fn resolve(
        &self,
        s: &Schedule,
        cal: &BusinessCalendar,
        kind: ClinicKind,
    ) -> Result<ResolvedPlan, CalendarError> {
        let installation = self
            .installation
            .or(s.date(MilestoneId::SystemInstallation))
            .expect("both rule sets have an installation date");
        let order_open =
            cal.open_on_or_after(installation - chrono::Duration::days(READER_ORDER_MARGIN_DAYS))?;
        let request_deadline = s
            .date(MilestoneId::ReceptionRequestDeadline)
            .expect("always present");
        let reception_request = match self.reception_request {
            Some(d) => d,
            // 5 business days before the deadline, but not before the procedure
            // applies (its first month: `schedule::rules::FIRST_MONTH_DEADLINE_LEAD`).
            None => cal
                .add_business_days(request_deadline, -5)?
                .max(cal.open_on_or_after(s.rules.rules().procedure_start())?),
        };
        // Where the request travels with the designation application (r2021) there is
        // no separate designation-application step unless the plan names one.
        let designation_application = match (
            self.designation_application,
            s.date(MilestoneId::DesignationApplicationDeadline),
        ) {
            (Some(d), _) => Some(d),
            (None, Some(deadline)) if !s.rules.request_travels_with_application() => {
                Some(cal.add_business_days(deadline, -5)?)
            }
            (None, _) => None,
        };
        Ok(ResolvedPlan {
            temporary_code_request: if s.rules.has_temporary_code() {
                self.temporary_code_request
                    .or(s.date(MilestoneId::TemporaryCodeRequest))
            } else {
                None
            },
            reader_order: self.reader_order.unwrap_or(order_open),
            network_order: self.network_order.unwrap_or(order_open),
            system_vendor_order: self.system_vendor_order.unwrap_or(order_open),
            reception_request,
            reception_requests: self.reception_requests.unwrap_or(kind.codes_needed()),
            submit_after: self.submit_after.unwrap_or(1),
            applications: self.applications,
            installation,
            designation_application,
            transitional_notice: self.transitional_notice,
            subsidy_application: self.subsidy_application,
        })
    }
}

impl ResolvedPlan {
    /// A 資格確認限定型 clinic's plan ([`super::limited_type`]): an existing institution files
    /// no request and no designation application; it applies for the limited type on
    /// `plan.applications`, by default the first open day on or after the 1st of the
    /// month before the month it plans to start (`designation`) *(our choice)*, and buys
    /// its device (`plan.reader_order`) the same day unless the plan says otherwise
    /// *(our choice)*.
    pub fn for_limited_type(
        &mut self,
        plan: &Plan,
        designation: NaiveDate,
        cal: &BusinessCalendar,
    ) -> Result<(), CalendarError> {
        let month_before = designation
            .checked_sub_months(chrono::Months::new(1))
            .unwrap_or(designation);
        let applications = match plan.applications {
            Some(d) => d,
            None => cal.open_on_or_after(month_before)?,
        };
        self.applications = Some(applications);
        self.reader_order = plan.reader_order.unwrap_or(applications);
        Ok(())
    }
}

/// The items a `plan-incomplete` fault leaves out: those its `missing` names
/// ([`PlanItem::parse`]; the validator refuses names it does not know), or ⑥ the
/// reader maker when it names none *(our choice)*.
pub fn plan_items_left_out(missing: Option<&[String]>) -> Vec<PlanItem> {
    let items: Vec<PlanItem> = missing
        .unwrap_or_default()
        .iter()
        .filter_map(|m| PlanItem::parse(m))
        .collect();
    if items.is_empty() {
        vec![PlanItem::ReaderMaker]
    } else {
        items
    }
}

/// How the clinic is set up.
#[derive(Debug, Clone)]
pub struct ClinicSetup {
    pub rules: RuleSet,
    pub kind: ClinicKind,
    pub designation: NaiveDate,
    pub paper_claims: bool,
    /// 資格確認限定型: an existing institution outside the mandate ([`super::limited_type`]).
    pub limited_type: bool,
    pub postal_application: bool,
    /// The limited type's device and its cost (ignored otherwise).
    pub limited: LimitedTypeSetup,
    pub plan: ResolvedPlan,
    /// The implementing body's deadline for the reception number (the 15th), from
    /// the schedule: a late submission is counted from it.
    pub implementing_body_deadline: NaiveDate,
    /// Business days the clinic needs to answer a correction request (補正).
    pub correction_turnaround: crate::dist::Dist,
}

impl ClinicSetup {
    /// The institution codes the clinic needs.
    pub fn fees(&self) -> Vec<FeeTable> {
        match self.kind {
            ClinicKind::Medical => vec![FeeTable::Medical],
            ClinicKind::Dental => vec![FeeTable::Dental],
            ClinicKind::Pharmacy => vec![FeeTable::Pharmacy],
            ClinicKind::MedicalDental => vec![FeeTable::Medical, FeeTable::Dental],
        }
    }
    /// Does it need the full installation (reader, line, terminal)? Not for paper
    /// claims, the limited type, or a clinic under the 経過措置.
    pub fn full_installation(&self) -> bool {
        !self.paper_claims && !self.limited_type && !self.plan.transitional_notice
    }
}

#[derive(Debug, Clone, Default)]
struct CodeState {
    fee: Option<FeeTable>,
    number: Option<ReceptionNumber>,
    returned: bool,
    applied: bool,
    notice: bool,
}

pub struct Clinic {
    setup: ClinicSetup,
    faults: Faults,
    rng: ChaCha8Rng,
    cal: BusinessCalendar,
    installation_day: NaiveDate,
    codes: Vec<CodeState>,
    account: Option<NaiveDate>,
    /// r2021: the 仮コード once issued (the reception-number request carries it, 別紙1).
    temporary_code: Option<TemporaryCode>,
    /// What counts towards going live ([`Readiness`], the rule the live verdict uses
    /// too).
    ready: Readiness,
    /// Where going live stands ([`GoLive`], the guard the live verdict uses too).
    go_live: GoLive,
}

impl Clinic {
    /// This actor on another calendar (a counterfactual, `[scenario] calendar`).
    pub fn with_calendar(mut self, cal: BusinessCalendar) -> Self {
        self.cal = cal;
        self
    }

    pub fn new(setup: ClinicSetup, faults: Faults, rng: ChaCha8Rng) -> Self {
        let codes = setup
            .fees()
            .into_iter()
            .map(|f| CodeState {
                fee: Some(f),
                ..CodeState::default()
            })
            .collect();
        let installation_day = setup.plan.installation;
        let ready = Readiness::new(setup.limited_type);
        Clinic {
            setup,
            faults,
            rng,
            cal: BusinessCalendar::standard(),
            installation_day,
            codes,
            account: None,
            temporary_code: None,
            ready,
            go_live: GoLive::default(),
        }
    }

    /// Where the clinic designated on `designation` stands towards the April 2023
    /// mandate (`schedule::Obligation`).
    fn obligation(&self, designation: NaiveDate) -> Obligation {
        self.setup.rules.rules().obligation(
            designation,
            self.setup.paper_claims,
            self.setup.plan.transitional_notice,
        )
    }

    fn at(&self, d: NaiveDate) -> VirtualTime {
        VirtualTime::at(d, OFFICE_OPENS, 0)
    }

    fn step(&self, out: &mut Outbox, d: NaiveDate, s: Step) {
        out.send(self.at(d), ME, ME, Msg::Step(s));
    }

    /// Try to go online if the designation day has come.
    fn try_go_live(&mut self, now: VirtualTime, out: &mut Outbox) {
        let attempt = self.go_live.attempt(
            &self.ready,
            now.date(),
            self.setup.paper_claims,
            self.setup.plan.transitional_notice,
        );
        match attempt {
            Attempt::Skip => {}
            Attempt::LimitedTypeReady => {
                let device = self.setup.limited.device;
                out.event(
                    now,
                    ME,
                    EventKind::LimitedTypeReady,
                    super::limited_type::READY_WHY,
                    || device.name_ja().to_string(),
                );
                self.apply_for_subsidy(now, out);
            }
            Attempt::Check => {
                self.go_live.pending = true;
                out.send(
                    now,
                    ME,
                    ActorId::Carrier,
                    Msg::ConnectivityCheck {
                        purpose: CheckPurpose::GoLive,
                    },
                );
            }
            Attempt::Missing { why, retry } => {
                out.event(
                    now,
                    ME,
                    EventKind::OnlineStartFailed,
                    "not everything is in place to start online confirmation",
                    || why,
                );
                // Waiting on something in the future? Try again when it comes.
                if let Some(d) = retry {
                    self.step(out, d, Step::GoLive);
                }
            }
        }
    }

    /// 資格確認限定型: apply for the device subsidy once ready (004: "補助額は最大3.1万円
    /// です。（事業費に対し3/4の補助）補助金の申請期限は、令和7年1月15日までを予定"), on the
    /// plan's `subsidy_application` day if later.
    fn apply_for_subsidy(&mut self, now: VirtualTime, out: &mut Outbox) {
        let a = self
            .setup
            .limited
            .subsidy_application(now.date(), self.setup.plan.subsidy_application);
        let at = if a.day == now.date() {
            now
        } else {
            self.at(a.day)
        };
        let detail = a.detail;
        out.event(at, ME, a.kind, a.why, || detail);
    }

    /// The first patient, 30 minutes after going online: the events of
    /// [`super::first_patient`] (the rule the live verdict uses too), with the card
    /// problem of a `card` fault when one fires.
    fn first_confirmation(&mut self, now: VirtualTime, out: &mut Outbox) {
        let problem = self
            .faults
            .fires(
                FaultKind::Card,
                now.date(),
                Some(FaultStep::GoLive),
                &mut self.rng,
            )
            .and_then(|f| f.card);
        let fees = self.setup.fees();
        for e in first_patient::events(&fees, now.date(), now.plus_minutes(30), problem) {
            out.event(e.at, ME, e.kind, e.why, || e.detail());
        }
    }

    /// The day of the usage and certificate applications decided on `today`: the plan's
    /// day if it is not past, else `default`; a `late-certificate-application` fault
    /// moves it to `business_days` before installation.
    fn applications_day(&mut self, today: NaiveDate, default: NaiveDate) -> NaiveDate {
        let mut day = match self.setup.plan.applications {
            Some(d) if d >= today => d,
            _ => default,
        };
        if let Some(f) = self.faults.fires(
            FaultKind::LateCertificateApplication,
            today,
            None,
            &mut self.rng,
        ) {
            let before = f.business_days.unwrap_or(2) as i32;
            day = self
                .cal
                .add_business_days(self.installation_day, -before)
                .unwrap_or(day)
                .max(today);
        }
        day
    }

    /// The reception numbers received so far, for the trace.
    fn reception_numbers(&self) -> String {
        self.codes
            .iter()
            .filter_map(|c| c.number)
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn code_mut(&mut self, fee: FeeTable) -> Option<&mut CodeState> {
        self.codes.iter_mut().find(|c| c.fee == Some(fee))
    }

    fn send_applications(&mut self, now: VirtualTime, out: &mut Outbox) {
        if self.setup.limited_type {
            let postal = self.setup.postal_application;
            if !postal {
                out.event(
                    now,
                    ME,
                    EventKind::PortalUserRegistered,
                    "004: \"ポータルサイトから各種申請を行う場合は、事前にアカウント登録が必要です\": the user registers on the portal with the institution's 医療機関等コード",
                    String::new,
                );
            }
            out.event(
                now,
                ME,
                EventKind::LimitedTypeApplied,
                if postal {
                    "資格確認限定型 application by post (004 form: 申請区分 1 ポータルサイトユーザー登録申請 and 2 利用開始申請 on one form)"
                } else {
                    "資格確認限定型 application on the portal"
                },
                String::new,
            );
            out.send(
                now,
                ME,
                ActorId::ImplementingBody,
                Msg::LimitedTypeApplication { postal },
            );
            return;
        }
        if self.setup.paper_claims {
            return;
        }
        let pending: Vec<usize> = (0..self.codes.len())
            .filter(|&i| !self.codes[i].applied && self.codes[i].number.is_some())
            .collect();
        if pending.is_empty() {
            return;
        }
        // Guide 3-4: "「オンライン資格確認利用申請」完了後に電子証明書の発行画面へ進みます":
        // the usage application first, then one certificate application per code.
        out.event(
            now,
            ME,
            EventKind::UsageApplicationSent,
            "usage application (利用申請): line type, NTT customer ID for an NTT IP-VPN line, planned start and test months",
            String::new,
        );
        out.send(now, ME, ActorId::ImplementingBody, Msg::UsageApplication);
        for i in pending {
            let fee = self.codes[i].fee.expect("set");
            self.codes[i].applied = true;
            let installation = self.installation_day;
            let why = match self.cal.business_days_between(now.date(), installation) {
                Ok(n) if n >= 5 => "certificate application (電子証明書発行申請), ≥5 business days before installation",
                _ => "certificate application (電子証明書発行申請) fewer than 5 business days before installation: the notice may not arrive in time",
            };
            out.event(now, ME, EventKind::CertificateApplicationSent, why, || {
                format!("{} (installation {installation})", fee.name_ja())
            });
            out.send(
                now,
                ME,
                ActorId::ImplementingBody,
                Msg::CertificateApplication { fee },
            );
        }
    }
}

impl Actor for Clinic {
    fn id(&self) -> ActorId {
        ME
    }

    fn start(&mut self, out: &mut Outbox) {
        let p = self.setup.plan.clone();
        if self.setup.paper_claims && !self.setup.limited_type {
            // 001 ※3; before April 2023 there is no mandate to be outside of.
            let why = match self.obligation(self.setup.designation) {
                Obligation::ExemptPaperClaims => "paper-claims clinic: an exception to the April 2023 mandate (001 ※3 \"原則義務化の例外\"); no online confirmation planned",
                _ => "paper-claims clinic designated before the April 2023 mandate: no online confirmation planned",
            };
            out.event(
                self.at(p.reception_request),
                ME,
                EventKind::ExemptPaperClaims,
                why,
                String::new,
            );
        }
        if self.setup.limited_type {
            // 004: an existing institution — already designated, holding its code —
            // buys its device and applies; nothing goes to the bureau, and operation
            // starts on the day the implementing body registers it, not on a 1st.
            self.step(out, p.reader_order, Step::ReaderOrder);
            let applications = p.applications.unwrap_or(p.reader_order);
            self.step(out, applications, Step::Applications);
            return;
        }
        if let Some(d) = p.temporary_code_request {
            self.step(out, d, Step::TemporaryCodeRequest);
        }
        if self.setup.full_installation() {
            self.step(out, p.reader_order, Step::ReaderOrder);
        }
        if self.setup.full_installation() {
            self.step(out, p.network_order, Step::NetworkOrder);
            self.step(out, p.system_vendor_order, Step::SystemVendorOrder);
        }
        // A late-request fault moves the request past the bureau's deadline.
        let mut request_day = p.reception_request;
        if let Some(f) = self
            .faults
            .fires(FaultKind::LateRequest, request_day, None, &mut self.rng)
        {
            let n = f.business_days.unwrap_or(3) as i32;
            request_day = self
                .cal
                .add_business_days(request_day, 5 + n)
                .unwrap_or(request_day);
        }
        self.step(out, request_day, Step::ReceptionRequest);
        if let Some(d) = p.designation_application {
            self.step(out, d, Step::DesignationApplication);
        }
        if let Some(d) = p.applications {
            self.step(out, d, Step::Applications);
        }
        self.step(out, self.setup.designation, Step::GoLive);
    }

    fn handle(&mut self, now: VirtualTime, from: ActorId, msg: Msg, out: &mut Outbox) {
        let today = now.date();
        // The go-live conditions first, from the message itself (one rule, shared
        // with the live verdict); the arms below do the rest.
        self.ready.observe(&msg);
        match msg {
            Msg::Step(Step::TemporaryCodeRequest) => {
                out.event(
                    now,
                    ME,
                    EventKind::TemporaryCodeRequested,
                    "r2021 別紙3 ①: temporary code (仮コード) requested",
                    String::new,
                );
                out.send(
                    now,
                    ME,
                    ActorId::ImplementingBody,
                    Msg::TemporaryCodeRequest,
                );
            }
            Msg::Step(Step::ReaderOrder) => {
                if self.setup.rules.implementing_body_supplies_reader() && !self.setup.limited_type
                {
                    return; // r2021: the implementing body provides the reader.
                }
                if self.setup.limited_type {
                    let device = self.setup.limited.device;
                    out.event(
                        now,
                        ME,
                        EventKind::ReaderOrdered,
                        "資格確認限定型: the device bought (004 補助対象の機器)",
                        || device.name_ja().to_string(),
                    );
                } else {
                    out.event(
                        now,
                        ME,
                        EventKind::ReaderOrdered,
                        "r2024 guide ①: reader ordered from a vendor",
                        String::new,
                    );
                }
                out.send(
                    now,
                    ME,
                    ActorId::ReaderVendor,
                    Msg::ReaderOrder { replacement: false },
                );
            }
            Msg::Step(Step::NetworkOrder) => {
                out.event(
                    now,
                    ME,
                    EventKind::LineOrdered,
                    if self.setup.rules.has_temporary_code() {
                        "network line ordered (000 names no network step: the r2024 guide's ② timing, our choice)"
                    } else {
                        "r2024 guide ②: network line ordered"
                    },
                    String::new,
                );
                out.send(now, ME, ActorId::Carrier, Msg::LineOrder);
            }
            Msg::Step(Step::SystemVendorOrder) => {
                let installation = self.installation_day;
                out.send(
                    now,
                    ME,
                    ActorId::SystemVendor,
                    Msg::SystemOrder { installation },
                );
            }
            Msg::Step(Step::ReceptionRequest) => {
                let mut n = usize::from(self.setup.plan.reception_requests).min(self.codes.len());
                if n > 1
                    && self
                        .faults
                        .fires(FaultKind::SingleRequest, today, None, &mut self.rng)
                        .is_some()
                {
                    n = 1;
                }
                let why = if self.setup.plan.transitional_notice {
                    "受付番号情報提供依頼書 sent to the bureau: not needed under the 経過措置 in principle, but asked for 当面の間 because the portal account is made with the number (001 1(1))"
                } else {
                    "受付番号情報提供依頼書 sent to the bureau"
                };
                // r2021 別紙1: the form carries the 仮コード "仮コードと受付番号の入替にあたり
                // 必要" ("忘れてしまった場合は、空欄のまま").
                let temporary = self
                    .setup
                    .rules
                    .has_temporary_code()
                    .then_some(self.temporary_code);
                for c in self.codes.iter().take(n) {
                    let fee = c.fee.expect("set");
                    out.event(
                        now,
                        ME,
                        EventKind::ReceptionRequestSent,
                        why,
                        || match temporary {
                            Some(Some(code)) => format!(
                                "{} (仮コード {code} on the form, for the 入替)",
                                fee.name_ja()
                            ),
                            Some(None) => {
                                format!("{} (仮コード left blank on the form)", fee.name_ja())
                            }
                            None => fee.name_ja().to_string(),
                        },
                    );
                    out.send(now, ME, ActorId::Bureau, Msg::ReceptionRequest { fee });
                }
            }
            Msg::ReceptionAnswer { fee, number } => {
                out.event(
                    now,
                    ME,
                    EventKind::BureauAnswerReceived,
                    "the bureau's answer with the reception number arrived by post",
                    || format!("{number} ({})", fee.name_ja()),
                );
                if let Some(c) = self.code_mut(fee) {
                    c.number = Some(number);
                }
                let mut day = self
                    .cal
                    .add_business_days(today, self.setup.plan.submit_after as i32)
                    .unwrap_or(today);
                if let Some(f) = self.faults.fires(
                    FaultKind::LateReceptionSubmission,
                    today,
                    None,
                    &mut self.rng,
                ) {
                    // Business days past the implementing body's deadline (the 15th).
                    day = self
                        .cal
                        .add_business_days(
                            self.setup.implementing_body_deadline.max(today),
                            f.business_days.unwrap_or(2) as i32,
                        )
                        .unwrap_or(day);
                }
                self.step(out, day, Step::SubmitReceptionNumber(number));
            }
            Msg::RequestReturned { fee } => {
                if let Some(c) = self.code_mut(fee) {
                    c.returned = true;
                }
            }
            Msg::Step(Step::SubmitReceptionNumber(number)) => {
                out.event(
                    now,
                    ME,
                    EventKind::ReceptionNumberSubmitted,
                    "reception number presented to the implementing body (due by the 15th)",
                    || number.to_string(),
                );
                out.send(
                    now,
                    ME,
                    ActorId::ImplementingBody,
                    Msg::ReceptionNumberSubmission { number },
                );
                // r2021 別紙3 ⑥, under 【15日までに】 with ④: the usage and certificate
                // applications go with the reception number (the account exists since
                // the 仮コード), not after an account opens.
                if self.setup.rules.has_temporary_code() && self.setup.full_installation() {
                    let day = self.applications_day(today, today);
                    self.step(out, day, Step::Applications);
                }
            }
            Msg::AccountReady { .. } => {
                if self.account.is_none() {
                    self.account = Some(today);
                    out.send(
                        now,
                        ME,
                        ActorId::SystemVendor,
                        Msg::PrerequisiteReady(Prerequisite::PortalAccount),
                    );
                }
                // r2024: the business day after the account opens (r2021 applied
                // with the number already).
                if !self.setup.rules.has_temporary_code() {
                    let next = self.cal.add_business_days(today, 1).unwrap_or(today);
                    let day = self.applications_day(today, next);
                    self.step(out, day, Step::Applications);
                }
                self.try_go_live(now, out);
            }
            Msg::Step(Step::Applications) => self.send_applications(now, out),
            Msg::CertificateNotice { fee, delayed } => {
                out.event(
                    now,
                    ME,
                    EventKind::CertificateNoticeReceived,
                    if delayed {
                        "fault certificate-notice-delay: the certificate notice arrived late"
                    } else {
                        "certificate notice (電子証明書通知書) arrived by registered mail"
                    },
                    || fee.name_ja().to_string(),
                );
                if let Some(c) = self.code_mut(fee) {
                    c.notice = true;
                }
                out.send(
                    now,
                    ME,
                    ActorId::SystemVendor,
                    Msg::PrerequisiteReady(Prerequisite::CertificateNotice(fee)),
                );
            }
            // r2021 別紙3 ② "医療機関等向けポータルサイトに仮コードでアカウント登録", then ③
            // "仮コードで顔認証付きカードリーダーの提供申請" (002: "顔認証付きカードリーダーの
            // 申込等にあたっては…アカウント登録が必要"): the account and the reader
            // application come after the code, not with its request.
            Msg::TemporaryCodeIssued { code } => {
                self.temporary_code = Some(code);
                out.event(
                    now,
                    ME,
                    EventKind::PortalUserRegistered,
                    "r2021 別紙3 ②: portal account registered with the temporary code (仮コード)",
                    || code.to_string(),
                );
                if self.setup.full_installation() {
                    out.event(
                        now,
                        ME,
                        EventKind::ReaderApplied,
                        "r2021 別紙3 ③: free face-auth reader requested from the implementing body with the 仮コード",
                        String::new,
                    );
                    out.send(now, ME, ActorId::ImplementingBody, Msg::ReaderApplication);
                }
            }
            Msg::ReaderDelivered { working } => {
                if working {
                    let device = self.setup.limited.device;
                    out.event(
                        now,
                        ME,
                        EventKind::ReaderDelivered,
                        if self.setup.limited_type {
                            "資格確認限定型: the device delivered"
                        } else {
                            "face-auth reader delivered"
                        },
                        || {
                            if self.setup.limited_type {
                                device.name_ja().to_string()
                            } else {
                                String::new()
                            }
                        },
                    );
                    out.send(
                        now,
                        ME,
                        ActorId::SystemVendor,
                        Msg::PrerequisiteReady(Prerequisite::Reader),
                    );
                    self.try_go_live(now, out);
                } else {
                    out.event(
                        now,
                        ME,
                        EventKind::ReaderDeadOnArrival,
                        "fault reader-doa: the reader is dead on arrival; a replacement is ordered",
                        String::new,
                    );
                    // Under r2021 the implementing body supplied the free reader and
                    // replaces it; otherwise the vendor does.
                    let supplier = if self.setup.rules.implementing_body_supplies_reader()
                        && !self.setup.limited_type
                    {
                        ActorId::ImplementingBody
                    } else {
                        ActorId::ReaderVendor
                    };
                    out.send(now, ME, supplier, Msg::ReaderOrder { replacement: true });
                }
            }
            Msg::LineReady => {
                out.send(
                    now,
                    ME,
                    ActorId::SystemVendor,
                    Msg::PrerequisiteReady(Prerequisite::Line),
                );
            }
            Msg::LineRejected => {}
            Msg::Step(Step::DesignationApplication) if self.setup.plan.transitional_notice => {
                // 001 第2: no onboarding plan for a clinic that files the 経過措置 届出
                // with its designation application ("この限りでない").
                out.event(
                    now,
                    ME,
                    EventKind::TransitionalNoticeFiled,
                    "001 1(1): 経過措置 届出 filed with the designation application; the onboarding plan is waived (001 第2)",
                    String::new,
                );
                out.send(
                    now,
                    ME,
                    ActorId::Bureau,
                    Msg::DesignationApplication { complete: true },
                );
            }
            Msg::Step(Step::DesignationApplication) => {
                // 001 別紙2 ①–⑬, validated as the bureau would; the fault leaves items out.
                let left_out: Vec<PlanItem> = self
                    .faults
                    .fires(FaultKind::PlanIncomplete, today, None, &mut self.rng)
                    .map(|f| plan_items_left_out(f.missing.as_deref()))
                    .unwrap_or_default();
                let problems = plan::timeline_plan_problems(
                    self.installation_day,
                    self.setup.designation,
                    plan::NetworkKind::IpVpn,
                    &left_out,
                );
                let complete = problems.is_empty();
                out.event(now, ME, EventKind::DesignationApplicationSent, "r2024 guide ⑨: designation application with the onboarding plan (導入計画書, 001 別紙2 ①–⑬)", || if complete { "plan complete".into() } else { format!("plan incomplete: {}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")) });
                out.send(
                    now,
                    ME,
                    ActorId::Bureau,
                    Msg::DesignationApplication { complete },
                );
            }
            Msg::CorrectionRequest => {
                let turnaround = self.setup.correction_turnaround.sample_days(&mut self.rng) as i32;
                let day = self
                    .cal
                    .add_business_days(today, turnaround)
                    .unwrap_or(today);
                out.event(
                    VirtualTime::at(day, OFFICE_OPENS, 0),
                    ME,
                    EventKind::DesignationApplicationSent,
                    "corrected onboarding plan resubmitted (補正)",
                    || "plan complete".into(),
                );
                out.send(
                    VirtualTime::at(day, OFFICE_OPENS, 0),
                    ME,
                    ActorId::Bureau,
                    Msg::DesignationApplication { complete: true },
                );
            }
            Msg::Designated { date } => {
                if self.obligation(date) == Obligation::Obligated {
                    out.event(
                        now,
                        ME,
                        EventKind::MandateApplies,
                        Obligation::Obligated.text(),
                        || date.to_string(),
                    );
                }
                if date > self.setup.designation {
                    self.step(out, date, Step::GoLive);
                }
                self.try_go_live(now, out);
            }
            // Kept by `ready`; the go-live attempt names it.
            Msg::NotDesignated => {
                if self.setup.rules.not_designated_deletes_record() {
                    let numbers = self.reception_numbers();
                    out.event(
                        now,
                        ME,
                        EventKind::NotDesignatedReported,
                        "r2021 別紙3 ⑦: not designated; reception number and name reported to the implementing body (速やかに…報告)",
                        || numbers,
                    );
                }
            }
            Msg::InstallationDone => {
                self.try_go_live(now, out);
            }
            Msg::InstallationPostponed => {}
            Msg::LimitedTypeApproved => {
                if self.setup.postal_application {
                    out.event(
                        now,
                        ME,
                        EventKind::PortalUserRegistered,
                        "004 form 申請区分 1 (ポータルサイトユーザー登録申請) by post: the portal user is registered with the approval",
                        String::new,
                    );
                }
                self.try_go_live(now, out);
            }
            Msg::Step(Step::GoLive) => {
                self.go_live.due = true;
                self.try_go_live(now, out);
            }
            Msg::ConnectivityResult {
                purpose: CheckPurpose::GoLive,
                failure,
            } => {
                self.go_live.pending = false;
                match failure {
                    None => {
                        self.go_live.online = true;
                        out.event(now, ME, EventKind::OnlineStart, "online eligibility confirmation works: operation start date entered on the portal", String::new);
                        self.first_confirmation(now, out);
                    }
                    Some(f) => {
                        out.event(
                            now,
                            ME,
                            EventKind::OnlineStartFailed,
                            "the go-live connectivity check failed",
                            || f.as_str().to_string(),
                        );
                        if f.is_transient() {
                            let next = today.succ_opt().unwrap_or(today);
                            self.step(out, next, Step::GoLive);
                        } else {
                            self.go_live.gave_up = true;
                        }
                    }
                }
            }
            other => out.refuse(now, ME, from, &other),
        }
    }
}
