//! 地方厚生（支）局: sets the request deadline, answers reception-number requests
//! (受付番号) by the 10th, returns late ones (返戻), takes the designation application
//! with its onboarding plan (導入計画書, r2024) and asks for corrections (補正),
//! designates after the regional council (地医協) or marks the clinic 未指定.
//!
//! All its dates come from the [`Schedule`] computed on its own calendar (its extra
//! closures included), so "by the 10th, or the next open day" is the schedule's rule.

use chrono::NaiveDate;
use rand_chacha::ChaCha8Rng;

use super::fault::{FaultKind, Faults};
use super::params::{BureauParams, Neighbour};
use super::{Actor, ActorId, EventKind, Msg, Outbox, MAIL_ARRIVES, OFFICE_OPENS};
use crate::calendar::BusinessCalendar;
use crate::codes::{FeeTable, InstitutionCode, Prefecture, ReceptionNumber};
use crate::schedule::{MilestoneId, RuleSet, Schedule};
use crate::time::VirtualTime;

const ME: ActorId = ActorId::Bureau;

pub struct Bureau {
    rules: RuleSet,
    params: BureauParams,
    faults: Faults,
    rng: ChaCha8Rng,
    cal: BusinessCalendar,
    prefecture: Prefecture,
    county: u8,
    designation: NaiveDate,
    request_deadline: NaiveDate,
    answer_deadline: NaiveDate,
    application_deadline: Option<NaiveDate>,
    next_number: u16,
    issued: Vec<ReceptionNumber>,
    application_accepted: bool,
    decided: bool,
    /// r2021 2: the neighbour clinic's number once it took one, and whether its
    /// deletion has been handled.
    neighbour_number: Option<ReceptionNumber>,
    neighbour_deleted: bool,
    /// Whether the newest number the bureau issued is this clinic's (else the
    /// neighbour's).
    newest_is_ours: bool,
}

impl Bureau {
    pub fn new(
        schedule: &Schedule,
        cal: BusinessCalendar,
        params: BureauParams,
        faults: Faults,
        rng: ChaCha8Rng,
        prefecture: Prefecture,
        county: u8,
    ) -> Self {
        let next_number = params.next_number;
        Bureau {
            rules: schedule.rules,
            faults,
            rng,
            cal,
            prefecture,
            county,
            designation: schedule.designation,
            request_deadline: schedule
                .date(MilestoneId::ReceptionRequestDeadline)
                .expect("both rule sets have a request deadline"),
            answer_deadline: schedule
                .date(MilestoneId::BureauAnswerDispatch)
                .expect("both rule sets have an answer date"),
            application_deadline: schedule.date(MilestoneId::DesignationApplicationDeadline),
            next_number,
            issued: Vec::new(),
            application_accepted: false,
            decided: false,
            neighbour_number: None,
            neighbour_deleted: false,
            newest_is_ours: false,
            params,
        }
    }

    fn mail(&mut self, dispatch: NaiveDate) -> VirtualTime {
        let days = self.params.postal.sample_days(&mut self.rng);
        VirtualTime::at(
            dispatch + chrono::Duration::days(i64::from(days)),
            MAIL_ARRIVES,
            0,
        )
    }

    fn accept_application(&mut self, now: VirtualTime, out: &mut Outbox) {
        if self.application_accepted {
            return;
        }
        self.application_accepted = true;
        out.event(
            now,
            ME,
            EventKind::DesignationApplicationAccepted,
            "designation application accepted; goes to the regional council (地医協)",
            String::new,
        );
        let at = VirtualTime::at(self.designation, OFFICE_OPENS - 1, 0);
        out.send(at, ME, ME, Msg::CouncilDecision);
    }

    /// The next number of the bureau's counter.
    fn take_number(&mut self, fee: FeeTable) -> ReceptionNumber {
        let code = InstitutionCode::new(self.prefecture, fee, self.county, self.next_number)
            .expect("number in range");
        self.next_number = self.next_number.saturating_add(1).min(9999);
        ReceptionNumber(code)
    }

    /// The neighbour clinic's steps up to `day` (r2021 2): it takes a number when its
    /// request arrives; when its record is deleted and its number is still the newest,
    /// the system would hand that number out again, unless the bureau enters the next
    /// code by hand (`manual_entry`). `fee` is this clinic's (the neighbour shares it).
    fn neighbour_until(&mut self, day: NaiveDate, fee: FeeTable, out: &mut Outbox) {
        let Some(nb): Option<Neighbour> = self.params.neighbour else {
            return;
        };
        if !self.rules.not_designated_deletes_record() {
            return;
        }
        if self.neighbour_number.is_none() && nb.request <= day {
            self.neighbour_number = Some(self.take_number(fee));
            self.newest_is_ours = false;
        }
        let Some(theirs) = self.neighbour_number else {
            return;
        };
        if self.neighbour_deleted || nb.deleted > day {
            return;
        }
        self.neighbour_deleted = true;
        let at = VirtualTime::at(nb.deleted, OFFICE_OPENS, 0);
        if self.newest_is_ours {
            // A number was issued after the neighbour's: deleting it leaves no hazard.
            return;
        }
        let why = if nb.manual_entry {
            "r2021 2: a neighbour clinic is not designated and its record deleted; its number was the newest and may be issued again, so the bureau enters the next code by hand after asking the helpdesk (手動で入力)"
        } else {
            // The system's counter falls back to the deleted number.
            self.next_number = self.next_number.saturating_sub(1);
            "r2021 2: a neighbour clinic is not designated and its record deleted; its number was the newest and the next code is not entered by hand: the system will hand it out again"
        };
        out.event(at, ME, EventKind::NumberReuseHazard, why, || {
            format!("neighbour's number {theirs}")
        });
    }

    fn on_request(&mut self, now: VirtualTime, fee: FeeTable, out: &mut Outbox) {
        let received = self
            .cal
            .open_on_or_after(now.date())
            .unwrap_or(super::far_future());
        // Post that arrives on a closed day is handled on the next open day.
        let now = VirtualTime::at(received, OFFICE_OPENS, 0).max(now);
        out.event(
            now,
            ME,
            EventKind::ReceptionRequestReceived,
            "受付番号情報提供依頼書 received",
            || fee.name_ja().to_string(),
        );
        if received > self.request_deadline {
            let processing = self.params.processing.sample_days(&mut self.rng) as i32;
            let dispatch = self
                .cal
                .add_business_days(received, processing.max(1))
                .unwrap_or(super::far_future());
            let at = self.mail(dispatch);
            let deadline = self.request_deadline;
            out.event(VirtualTime::at(dispatch, OFFICE_OPENS, 0), ME, EventKind::RequestReturned, "received after the bureau's deadline: returned (返戻); online confirmation cannot start on day 1", || format!("received {received}, deadline {deadline}"));
            out.send(at, ME, ActorId::Clinic, Msg::RequestReturned { fee });
            return;
        }
        self.neighbour_until(received, fee, out);
        let number = self.take_number(fee);
        self.newest_is_ours = true;
        if Some(number) == self.neighbour_number {
            out.event(now, ME, EventKind::NumberReissued, "r2021 2: the deleted neighbour clinic's number was the newest and was not entered by hand: the system hands it out again, to this clinic", || format!("{number}, already told to the neighbour clinic"));
        }
        self.issued.push(number);
        // Processed after the bureau's handling time, but never later than its
        // deadline, which it keeps in priority; a delay fault comes on top.
        let processing = self.params.processing.sample_days(&mut self.rng) as i32;
        let ready = self
            .cal
            .add_business_days(received, processing)
            .unwrap_or(super::far_future());
        let mut why = self.rules.rules().answer_text();
        let mut dispatch = ready.min(self.answer_deadline);
        if ready > self.answer_deadline {
            let deadline = self.answer_deadline;
            if self.params.keeps_answer_date {
                why = "the bureau's handling would run past its answer date; it keeps the date in priority (keeps_answer_date, our choice)";
            } else {
                dispatch = ready;
                out.event(
                    VirtualTime::at(ready, OFFICE_OPENS, 0),
                    ME,
                    EventKind::BureauAnswerLate,
                    "the bureau's handling ran past its answer date (原則として10日まで): the answer goes out when handling ends",
                    || format!("answer date {deadline}, handling done {ready}"),
                );
                why = "the answer goes out after the answer date: handling took longer (keeps_answer_date = false)";
            }
        }
        if let Some(f) =
            self.faults
                .fires(FaultKind::BureauAnswerDelay, dispatch, None, &mut self.rng)
        {
            let n = f.business_days.unwrap_or(3) as i32;
            dispatch = self
                .cal
                .add_business_days(dispatch, n)
                .unwrap_or(super::far_future());
            why = "fault bureau-answer-delay: the answer goes out late";
        }
        let answer_deadline = self.answer_deadline;
        out.event(
            VirtualTime::at(dispatch, OFFICE_OPENS, 0),
            ME,
            EventKind::BureauAnswerDispatched,
            why,
            || format!("{number} ({}), deadline {answer_deadline}", fee.name_ja()),
        );
        let at = self.mail(dispatch);
        out.send(
            at,
            ME,
            ActorId::Clinic,
            Msg::ReceptionAnswer { fee, number },
        );
        if self.rules.request_travels_with_application() {
            // r2021: the request travels with the designation application.
            self.accept_application(VirtualTime::at(received, OFFICE_OPENS, 0), out);
        }
    }
}

impl Actor for Bureau {
    fn id(&self) -> ActorId {
        ME
    }

    fn handle(&mut self, now: VirtualTime, from: ActorId, msg: Msg, out: &mut Outbox) {
        match msg {
            Msg::ReceptionRequest { fee } => self.on_request(now, fee, out),
            Msg::DesignationApplication { complete } => {
                let received = self
                    .cal
                    .open_on_or_after(now.date())
                    .unwrap_or(super::far_future());
                let now = VirtualTime::at(received, OFFICE_OPENS, 0).max(now);
                if let Some(deadline) = self.application_deadline {
                    if received > deadline && !self.application_accepted {
                        out.event(now, ME, EventKind::DesignationApplicationLate, "designation application after the bureau's deadline: designation moves to the next month", || format!("deadline {deadline}"));
                        self.designation = self
                            .designation
                            .checked_add_months(chrono::Months::new(1))
                            .unwrap_or(super::far_future());
                    }
                }
                if !complete {
                    let at = self.mail(
                        self.cal
                            .add_business_days(received, 2)
                            .unwrap_or(super::far_future()),
                    );
                    out.event(
                        now,
                        ME,
                        EventKind::CorrectionRequested,
                        "onboarding plan (導入計画書) incomplete: correction requested (補正)",
                        String::new,
                    );
                    out.send(at, ME, ActorId::Clinic, Msg::CorrectionRequest);
                    return;
                }
                self.accept_application(now, out);
            }
            Msg::CouncilDecision => {
                if self.decided {
                    return;
                }
                self.decided = true;
                let today = now.date();
                if self
                    .faults
                    .fires(FaultKind::DesignationRefused, today, None, &mut self.rng)
                    .is_some()
                {
                    let why = self.rules.rules().not_designated_text();
                    out.event(now, ME, EventKind::NotDesignated, why, String::new);
                    out.send(now, ME, ActorId::Clinic, Msg::NotDesignated);
                    if self.rules.not_designated_deletes_record() {
                        // If the deleted number was the newest, the system may hand it
                        // out again: the next entry must be typed in by hand. A
                        // neighbour's number taken since makes ours not the newest.
                        if let Some(fee) = self.issued.last().map(|n| n.0.fee_table()) {
                            self.neighbour_until(today, fee, out);
                        }
                        if let Some(last) =
                            self.issued.last().copied().filter(|_| self.newest_is_ours)
                        {
                            out.event(now, ME, EventKind::NumberReuseHazard, "r2021 2: the deleted reception number was the newest and may be issued again; the next code must be entered by hand after asking the helpdesk", || last.to_string());
                        }
                    }
                    return;
                }
                let date = self.designation;
                out.event(
                    now,
                    ME,
                    EventKind::Designated,
                    "designated (指定) after the regional council's approval",
                    || date.to_string(),
                );
                out.send(now, ME, ActorId::Clinic, Msg::Designated { date });
                let sent = VirtualTime::at(
                    self.cal
                        .open_on_or_after(date)
                        .unwrap_or(super::far_future()),
                    OFFICE_OPENS + 1,
                    0,
                );
                out.event(
                    sent,
                    ME,
                    EventKind::CodesSent,
                    "new codes sent to the implementing body (新規指定医療機関一覧表)",
                    String::new,
                );
                out.send(sent, ME, ActorId::ImplementingBody, Msg::CodesSent);
            }
            other => out.refuse(now, ME, from, &other),
        }
    }
}
