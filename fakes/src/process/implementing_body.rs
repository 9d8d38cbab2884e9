//! 医療保険情報提供等実施機関: registers reception numbers (due by the 15th), opens
//! portal accounts about 4 business days later, issues one client certificate per
//! terminal and institution code and mails its notice, answers connectivity checks.
//! Under r2021 it also issues temporary codes (仮コード) and ships the free readers.

use chrono::NaiveDate;
use rand_chacha::ChaCha8Rng;

use super::fault::{CertProblem, FaultKind, FaultStep, Faults};
use super::params::{ImplementingBodyParams, LateRegistration};
use super::{
    Actor, ActorId, CheckPurpose, ConnectivityFailure, EventKind, Msg, Outbox, MAIL_ARRIVES,
    OFFICE_OPENS,
};
use crate::calendar::BusinessCalendar;
use crate::codes::TemporaryCode;
use crate::schedule::{MilestoneId, RuleSet, Schedule};
use crate::time::VirtualTime;

const ME: ActorId = ActorId::ImplementingBody;

pub struct ImplementingBody {
    rules: RuleSet,
    params: ImplementingBodyParams,
    faults: Faults,
    rng: ChaCha8Rng,
    cal: BusinessCalendar,
    designation: NaiveDate,
    /// Reception numbers are due here by this date to be in the master for the
    /// designation month.
    deadline: NaiveDate,
    reader_applied: Option<NaiveDate>,
    /// The day the reception number was shown (r2021: the free reader ships once it
    /// was, 別紙3 5).
    number_shown: Option<NaiveDate>,
    reader_shipped: bool,
    temporary_serial: u32,
}

impl ImplementingBody {
    /// This actor on another calendar (a counterfactual, `[scenario] calendar`).
    pub fn with_calendar(mut self, cal: BusinessCalendar) -> Self {
        self.cal = cal;
        self
    }

    pub fn new(
        schedule: &Schedule,
        params: ImplementingBodyParams,
        faults: Faults,
        rng: ChaCha8Rng,
        temporary_serial: u32,
    ) -> Self {
        ImplementingBody {
            rules: schedule.rules,
            params,
            faults,
            rng,
            cal: BusinessCalendar::standard(),
            designation: schedule.designation,
            deadline: schedule
                .date(MilestoneId::ImplementingBodyDeadline)
                .expect("both rule sets have the implementing-body deadline"),
            reader_applied: None,
            number_shown: None,
            reader_shipped: false,
            temporary_serial,
        }
    }

    /// Extra business days when the body is slow, and the day work can resume when
    /// it is down.
    /// Work that would finish while the body is down finishes on the first open day
    /// after the outage.
    fn when_up(&self, at: VirtualTime) -> VirtualTime {
        let mut d = at.date();
        let mut moved = false;
        while self
            .faults
            .active(FaultKind::ImplementingBodyDown, d, None)
            .is_some()
            && d < super::far_future()
        {
            d = d.succ_opt().unwrap_or(d);
            moved = true;
        }
        if moved {
            super::open_at(&self.cal, d, OFFICE_OPENS)
        } else {
            at
        }
    }

    fn working_day(&mut self, today: NaiveDate) -> (NaiveDate, i32) {
        let slow = self
            .faults
            .fires(FaultKind::ImplementingBodySlow, today, None, &mut self.rng)
            .map_or(0, |f| f.business_days.unwrap_or(5) as i32);
        let mut d = today;
        while self
            .faults
            .active(FaultKind::ImplementingBodyDown, d, None)
            .is_some()
        {
            d = d.succ_opt().unwrap_or(d);
            if d >= super::far_future() {
                break;
            }
        }
        (d, slow)
    }

    fn ship_free_reader(&mut self, shown: NaiveDate, out: &mut Outbox) {
        if self.reader_shipped || !self.rules.implementing_body_supplies_reader() {
            return;
        }
        let Some(applied) = self.reader_applied else {
            return;
        };
        self.reader_shipped = true;
        let lead = self.params.free_reader_lead.sample_days(&mut self.rng);
        let ready = applied + chrono::Duration::days(i64::from(lead));
        let ship = ready.max(self.cal.next_open(shown).unwrap_or(super::far_future()));
        let working = self
            .faults
            .fires(FaultKind::ReaderDoa, ship, None, &mut self.rng)
            .is_none();
        let at = VirtualTime::at(ship, MAIL_ARRIVES, 0);
        out.event(at, ME, EventKind::ReaderShipped, "r2021: the free reader ships 4–5 months after the application, once the reception number was shown", || format!("applied {applied}, lead {lead} days"));
        out.send(at, ME, ActorId::Clinic, Msg::ReaderDelivered { working });
    }
}

impl Actor for ImplementingBody {
    fn id(&self) -> ActorId {
        ME
    }

    fn handle(&mut self, now: VirtualTime, from: ActorId, msg: Msg, out: &mut Outbox) {
        let today = now.date();
        match msg {
            Msg::TemporaryCodeRequest => {
                let lead = self.params.temporary_code_lead.sample_days(&mut self.rng) as i32;
                let (day, slow) = self.working_day(today);
                let at = self.when_up(super::business_days_later(
                    &self.cal,
                    day,
                    lead + slow,
                    OFFICE_OPENS,
                ));
                let code = TemporaryCode::new(self.temporary_serial).expect("serial in range");
                out.event(
                    at,
                    ME,
                    EventKind::TemporaryCodeIssued,
                    "r2021 別紙3 ①: temporary code (仮コード) for the portal",
                    || code.to_string(),
                );
                out.send(at, ME, ActorId::Clinic, Msg::TemporaryCodeIssued { code });
            }
            Msg::ReaderOrder { replacement: true } => {
                // r2021: a free reader dead on arrival is replaced by the body that
                // supplied it. *(our choice: 14 days)*
                let at = VirtualTime::at(today + chrono::Duration::days(14), MAIL_ARRIVES, 0);
                out.event(
                    at,
                    ME,
                    EventKind::ReaderShipped,
                    "r2021: replacement for a free reader dead on arrival",
                    String::new,
                );
                out.send(
                    at,
                    ME,
                    ActorId::Clinic,
                    Msg::ReaderDelivered { working: true },
                );
            }
            Msg::ReaderApplication => {
                self.reader_applied = Some(today);
                // Applied for only after the number was shown: it ships from then on.
                if let Some(shown) = self.number_shown {
                    self.ship_free_reader(shown, out);
                }
            }
            Msg::ReceptionNumberSubmission { number } => {
                let (day, slow) = self.working_day(today);
                // In time for the designation month only if received by the deadline (the
                // 15th, rolled to the next open day when closed: see `schedule::compute`).
                let mut extra = 0;
                let registered_for = if today <= self.deadline {
                    out.event(
                        now,
                        ME,
                        EventKind::ReceptionNumberRegistered,
                        "received by the deadline (the 15th, or the next open day if it is closed): in the institution master for the designation month",
                        || number.to_string(),
                    );
                    self.designation
                } else {
                    // 000 ※: "間に合わなかった医療機関・薬局については、実施機関において
                    // 個別対応する"; how is the scenario's choice (`late_registration`).
                    extra = self.params.individual_handling.sample_days(&mut self.rng) as i32;
                    match self.params.late_registration {
                        LateRegistration::NextMonth => {
                            out.event(now, ME, EventKind::ReceptionNumberLate, "received after the deadline (the 15th, or the next open day if it is closed); handled case by case (個別対応, 000 ※): here (late_registration = next-month) usable from the next month", || format!("{number}, deadline {}", self.deadline));
                            self.designation
                                .checked_add_months(chrono::Months::new(1))
                                .unwrap_or(super::far_future())
                        }
                        LateRegistration::DesignationMonth => {
                            out.event(now, ME, EventKind::ReceptionNumberIndividual, "received after the deadline; handled case by case (個別対応, 000 ※): here (late_registration = designation-month) still registered for the designation month", || format!("{number}, deadline {}, {extra} extra business days", self.deadline));
                            self.designation
                        }
                    }
                };
                let lead = self.params.account_lead.sample_days(&mut self.rng) as i32;
                let at = self.when_up(super::business_days_later(
                    &self.cal,
                    day,
                    lead + slow + extra,
                    OFFICE_OPENS,
                ));
                let why = if self.rules.has_temporary_code() {
                    // The account exists since the 仮コード (別紙3 ②); how long the swap
                    // takes is not in the seed: `account_lead` *(our choice)*.
                    "r2021 別紙3 ②⑥ / 別紙1: the reception number replaces the 仮コード in the portal account made with it (入替), account_lead business days after it arrives"
                } else {
                    "portal account usable about 4 business days after the reception number (guide ⑦ ※1)"
                };
                out.event(at, ME, EventKind::AccountReady, why, || {
                    format!("registered for {registered_for}")
                });
                out.send(
                    at,
                    ME,
                    ActorId::Clinic,
                    Msg::AccountReady { registered_for },
                );
                self.number_shown.get_or_insert(today);
                self.ship_free_reader(today, out);
            }
            Msg::UsageApplication => {}
            Msg::CertificateApplication { fee } => {
                let lead = self.params.certificate_lead.sample_days(&mut self.rng) as i32;
                let (day, slow) = self.working_day(today);
                let issued = self
                    .when_up(super::business_days_later(
                        &self.cal,
                        day,
                        lead + slow,
                        OFFICE_OPENS,
                    ))
                    .date();
                out.event(
                    VirtualTime::at(issued, OFFICE_OPENS, 0),
                    ME,
                    EventKind::CertificateIssued,
                    "client certificate issued for the terminal (one per terminal and code)",
                    || fee.name_ja().to_string(),
                );
                if self
                    .faults
                    .fires(
                        FaultKind::CertificateNoticeLost,
                        issued,
                        None,
                        &mut self.rng,
                    )
                    .is_some()
                {
                    out.event(
                        VirtualTime::at(issued, OFFICE_OPENS, 0),
                        ME,
                        EventKind::CertificateNoticeLost,
                        "fault certificate-notice-lost: the registered mail never arrives",
                        || fee.name_ja().to_string(),
                    );
                    return;
                }
                let mut days = self.params.mail.sample_days(&mut self.rng);
                let mut delayed = false;
                if let Some(f) = self.faults.fires(
                    FaultKind::CertificateNoticeDelay,
                    issued,
                    None,
                    &mut self.rng,
                ) {
                    days += f.days.unwrap_or(10);
                    delayed = true;
                }
                let at = VirtualTime::at(
                    issued + chrono::Duration::days(i64::from(days)),
                    MAIL_ARRIVES,
                    0,
                );
                out.send(
                    at,
                    ME,
                    ActorId::Clinic,
                    Msg::CertificateNotice { fee, delayed },
                );
            }
            Msg::LimitedTypeApplication { postal } => {
                // *(our choice)* 5 business days on the portal; by post, mail both
                // ways and 10 business days of handling.
                let (day, slow) = self.working_day(today);
                let at = if postal {
                    let there = day
                        + chrono::Duration::days(i64::from(
                            self.params.mail.sample_days(&mut self.rng),
                        ));
                    let done = self
                        .cal
                        .add_business_days(there, 10 + slow)
                        .unwrap_or(super::far_future());
                    VirtualTime::at(
                        done + chrono::Duration::days(i64::from(
                            self.params.mail.sample_days(&mut self.rng),
                        )),
                        MAIL_ARRIVES,
                        0,
                    )
                } else {
                    super::business_days_later(&self.cal, day, 5 + slow, OFFICE_OPENS)
                };
                let at = self.when_up(at);
                out.send(at, ME, ActorId::Clinic, Msg::LimitedTypeApproved);
            }
            Msg::CodesSent => {}
            Msg::ConnectivityCheck { purpose } => {
                let step = match purpose {
                    CheckPurpose::Installation => FaultStep::Installation,
                    CheckPurpose::GoLive => FaultStep::GoLive,
                };
                let failure = if self
                    .faults
                    .fires(
                        FaultKind::ImplementingBodyDown,
                        today,
                        Some(step),
                        &mut self.rng,
                    )
                    .is_some()
                {
                    Some(ConnectivityFailure::ImplementingBodyDown)
                } else {
                    self.faults
                        .fires(
                            FaultKind::ClientCertificate,
                            today,
                            Some(step),
                            &mut self.rng,
                        )
                        .and_then(|f| f.certificate)
                        .map(|p| match p {
                            CertProblem::Expired => ConnectivityFailure::CertificateExpired,
                            CertProblem::NotYetValid => ConnectivityFailure::CertificateNotYetValid,
                            CertProblem::Revoked => ConnectivityFailure::CertificateRevoked,
                            CertProblem::OtherInstitution => {
                                ConnectivityFailure::CertificateOtherInstitution
                            }
                        })
                };
                out.send(
                    now.plus_minutes(1),
                    ME,
                    from,
                    Msg::ConnectivityResult { purpose, failure },
                );
            }
            other => out.refuse(now, ME, from, &other),
        }
    }
}
