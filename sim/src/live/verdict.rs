//! The verdict of `onsim serve --scenario` (issue 17 item 1): the scenario's
//! `[[expect]]` judged against what happened in the live world, at any time
//! (`GET {control_url}/verdict`) and once more on shutdown (`verdict.json` and
//! `verdict.junit.xml` in the state directory; exit code 0 passed, 1 failed, as
//! `onsim run`).
//!
//! Who plays the clinic is the scenario's `[live] clinic` ([`ClinicPlayer`]):
//!
//! - `system-under-test` (the default): the vendor's software sends the clinic's
//!   messages through the services. The clinic's own events are then recorded by a
//!   [`ClinicObserver`] from the messages it sends and receives, and its go-live by
//!   the same rule the timeline's clinic uses ([`fakes::process::go_live::Readiness`]):
//!   a successful go-live connectivity check (`POST /clinic/messages
//!   {"message": "connectivity-check", "purpose": "go-live"}`) on a day the clinic is
//!   designated, registered and installed is its online start. What only the
//!   clinic's first patient shows (the card at the reader, consent screens,
//!   [`NOT_OBSERVED`]) is judged once the first patient after going online was
//!   presented at the simulated reader (`POST /reader/present`, with the timeline
//!   clinic's events: [`fakes::process::first_patient`]); until then such a check is
//!   reported `not-judged`, never passed.
//! - `onsim`: onsim's own clinic plays the scenario's plan inside the live world (the
//!   system under test only uses the terminal and the eligibility API), so every
//!   check is judged from the clinic's own events.
//!
//! The judging itself is the timeline's ([`runner::judge_outcome`],
//! [`runner::evaluate`]): one rule, one place.

use chrono::NaiveDate;
use serde::Serialize;

use fakes::process::clinic::ClinicSetup;
use fakes::process::fault::CardProblem;
use fakes::process::first_patient;
use fakes::process::go_live::{Attempt, GoLive, Readiness};
use fakes::process::{ActorId, CheckPurpose, Event, EventKind, Msg};
use fakes::schedule::Obligation;
use fakes::time::VirtualTime;

use crate::runner;
use crate::scenario::{Check, ClinicPlayer, Scenario};

const ME: ActorId = ActorId::Clinic;

/// The clinic's event kinds that only its first patient shows (the card at the
/// reader, the consent screens): not recorded when a system under test plays the clinic.
pub const NOT_OBSERVED: &[EventKind] = &[
    EventKind::FirstConfirmation,
    EventKind::CardConfirmationRefused,
    EventKind::FaceAuthFailed,
    EventKind::PinFallback,
    EventKind::VisualCheckFallback,
    EventKind::DrugInfoConsentAsked,
    EventKind::CheckupConsentAsked,
];

/// The clinic seen from outside: the events the timeline's clinic records, derived
/// from the messages a system under test sends and receives. Pure (no I/O): the live
/// world feeds it.
#[derive(Debug, Clone)]
pub struct ClinicObserver {
    setup: ClinicSetup,
    ready: Readiness,
    /// Where going live stands: the timeline clinic's own guard
    /// ([`fakes::process::go_live::GoLive`]); `pending` is the system under test's
    /// go-live check awaiting its result.
    go_live: GoLive,
    /// The days the timeline's clinic would check whether it can go live (the
    /// designation day, a later designation date, the day after a transient
    /// failure): a check that finds something missing is an `online-start-failed`.
    attempts: std::collections::BTreeSet<NaiveDate>,
    /// The clinic's first patient was presented at the reader (after going online).
    first_patient_seen: bool,
}

impl ClinicObserver {
    pub fn new(setup: &ClinicSetup) -> Self {
        ClinicObserver {
            ready: Readiness::new(setup.limited_type),
            // A limited-type clinic (an existing institution, seed 004) has no due day:
            // it starts when it is registered and its device is there.
            attempts: if setup.limited_type {
                Default::default()
            } else {
                [setup.designation].into_iter().collect()
            },
            setup: setup.clone(),
            go_live: GoLive::default(),
            first_patient_seen: false,
        }
    }

    /// The go-live checks due by `now` (the clinic's own, as the timeline's clinic
    /// makes them): call with the current instant; [`ClinicObserver::sent`] and
    /// [`ClinicObserver::received`] call it first.
    pub fn due(&mut self, now: VirtualTime) -> Vec<Event> {
        let mut events = Vec::new();
        while let Some(&d) = self.attempts.first() {
            let at = Self::at(d);
            if at > now {
                break;
            }
            self.attempts.remove(&d);
            self.go_live.due = true;
            events.extend(self.attempt(at));
        }
        events
    }

    /// Can the clinic go live at `at`? The timeline clinic's `try_go_live` without
    /// its sending: when everything is in place the system under test's go-live check
    /// decides; when something is missing, that is recorded (and retried on the day
    /// that would change it); a limited-type clinic is ready without a check.
    fn attempt(&mut self, at: VirtualTime) -> Vec<Event> {
        let attempt = self.go_live.attempt(
            &self.ready,
            at.date(),
            self.setup.paper_claims,
            self.setup.plan.transitional_notice,
        );
        match attempt {
            Attempt::Skip | Attempt::Check => Vec::new(),
            Attempt::LimitedTypeReady => {
                // The subsidy application is onsim's model of the clinic (no message
                // shows it): the timeline clinic's rule.
                let a = self
                    .setup
                    .limited
                    .subsidy_application(at.date(), self.setup.plan.subsidy_application);
                let subsidy_at = if a.day == at.date() {
                    at
                } else {
                    Self::at(a.day)
                };
                vec![
                    event(
                        at,
                        EventKind::LimitedTypeReady,
                        fakes::process::limited_type::READY_WHY,
                        self.setup.limited.device.name_ja().to_string(),
                    ),
                    event(subsidy_at, a.kind, a.why, a.detail),
                ]
            }
            Attempt::Missing { why, retry } => {
                if let Some(d) = retry {
                    self.attempts.insert(d);
                }
                vec![event(
                    at,
                    EventKind::OnlineStartFailed,
                    "not everything is in place to start online confirmation",
                    why,
                )]
            }
        }
    }

    /// A patient presented at the simulated reader at `at` with the card's `problem`
    /// (`POST /reader/present`): the first one once the clinic is online is its first
    /// patient, with the timeline clinic's events ([`first_patient::events`]); any
    /// other presentation records nothing.
    pub fn first_patient(&mut self, at: VirtualTime, problem: Option<CardProblem>) -> Vec<Event> {
        if !self.go_live.online || self.first_patient_seen {
            return Vec::new();
        }
        self.first_patient_seen = true;
        first_patient::events(&self.setup.fees(), at.date(), at, problem)
            .into_iter()
            // The reader answered at `at`: everything it did (the PIN a minute after
            // the face, in the timeline) has happened by then.
            .map(|e| {
                let detail = e.detail();
                event(e.at.min(at), e.kind, e.why, detail)
            })
            .collect()
    }

    fn at(d: NaiveDate) -> VirtualTime {
        VirtualTime::at(d, fakes::process::OFFICE_OPENS, 0)
    }

    fn obligation(&self, designation: NaiveDate) -> Obligation {
        self.setup.rules.rules().obligation(
            designation,
            self.setup.paper_claims,
            self.setup.plan.transitional_notice,
        )
    }

    /// What is known before anything is sent: a paper-claims clinic is outside the
    /// mandate (the clinic's own start event).
    pub fn start(&self) -> Vec<Event> {
        if self.setup.paper_claims && !self.setup.limited_type {
            vec![event(
                Self::at(self.setup.plan.reception_request),
                EventKind::ExemptPaperClaims,
                "paper-claims clinic: no online confirmation planned (001 ※3)",
                String::new(),
            )]
        } else {
            Vec::new()
        }
    }

    /// The system under test sent `msg` to `to` at `at`.
    pub fn sent(&mut self, at: VirtualTime, to: ActorId, msg: &Msg) -> Vec<Event> {
        let mut events = self.due(at);
        events.extend(self.sent_now(at, to, msg));
        events
    }

    fn sent_now(&mut self, at: VirtualTime, to: ActorId, msg: &Msg) -> Vec<Event> {
        let e = |kind, why| vec![event(at, kind, why, String::new())];
        match (to, msg) {
            (
                _,
                Msg::ConnectivityCheck {
                    purpose: CheckPurpose::GoLive,
                },
            ) => {
                self.go_live.pending = true;
                Vec::new()
            }
            (_, Msg::ReceptionRequest { fee }) => vec![event(
                at,
                EventKind::ReceptionRequestSent,
                "system under test: 受付番号情報提供依頼書 sent to the bureau",
                fee.name_ja().to_string(),
            )],
            (_, Msg::TemporaryCodeRequest) => e(
                EventKind::TemporaryCodeRequested,
                "system under test: temporary code (仮コード) requested",
            ),
            (_, Msg::ReaderApplication) => e(
                EventKind::ReaderApplied,
                "system under test: free reader requested from the implementing body",
            ),
            // A replacement after a dead-on-arrival reader is not a new order event.
            (_, Msg::ReaderOrder { replacement: false }) => e(
                EventKind::ReaderOrdered,
                "system under test: reader ordered from a vendor",
            ),
            (_, Msg::LineOrder) => e(
                EventKind::LineOrdered,
                "system under test: network line ordered",
            ),
            (_, Msg::ReceptionNumberSubmission { number }) => vec![event(
                at,
                EventKind::ReceptionNumberSubmitted,
                "system under test: reception number presented to the implementing body",
                number.to_string(),
            )],
            (_, Msg::UsageApplication) => e(
                EventKind::UsageApplicationSent,
                "system under test: usage application (利用申請) on the portal",
            ),
            (_, Msg::CertificateApplication { fee }) => vec![event(
                at,
                EventKind::CertificateApplicationSent,
                "system under test: certificate application (電子証明書発行申請)",
                fee.name_ja().to_string(),
            )],
            // The scenario says the clinic files the 経過措置 届出 with it (001 1(1)).
            (_, Msg::DesignationApplication { .. }) if self.setup.plan.transitional_notice => e(
                EventKind::TransitionalNoticeFiled,
                "system under test: designation application with the 経過措置 届出 (the scenario's plan)",
            ),
            (_, Msg::DesignationApplication { complete }) => vec![event(
                at,
                EventKind::DesignationApplicationSent,
                "system under test: designation application with the onboarding plan",
                if *complete {
                    "plan complete".to_string()
                } else {
                    "plan incomplete".to_string()
                },
            )],
            (_, Msg::LimitedTypeApplication { postal: false }) => vec![
                event(
                    at,
                    EventKind::PortalUserRegistered,
                    "system under test: registered on the portal before applying there (004)",
                    String::new(),
                ),
                event(
                    at,
                    EventKind::LimitedTypeApplied,
                    "system under test: limited-type application (資格確認限定型) on the portal",
                    String::new(),
                ),
            ],
            (_, Msg::LimitedTypeApplication { postal: true }) => e(
                EventKind::LimitedTypeApplied,
                "system under test: limited-type application (資格確認限定型) by post",
            ),
            // Orders to the system vendor and connectivity checks: the clinic records
            // no event of its own for them (the vendor and the carrier do).
            _ => Vec::new(),
        }
    }

    /// The world delivered `msg` from `from` to the clinic at `at`.
    pub fn received(&mut self, at: VirtualTime, _from: ActorId, msg: &Msg) -> Vec<Event> {
        let mut events = self.due(at);
        self.ready.observe(msg);
        events.extend(self.received_now(at, msg));
        // The messages after which the timeline's clinic tries again to go live.
        if let Msg::Designated { date } = msg {
            if *date > self.setup.designation {
                self.attempts.insert(*date);
            }
        }
        if matches!(
            msg,
            Msg::AccountReady { .. }
                | Msg::ReaderDelivered { working: true }
                | Msg::Designated { .. }
                | Msg::InstallationDone
                | Msg::LimitedTypeApproved
        ) {
            events.extend(self.attempt(at));
        }
        events
    }

    fn received_now(&mut self, at: VirtualTime, msg: &Msg) -> Vec<Event> {
        match msg {
            Msg::ReceptionAnswer { fee, number } => vec![event(
                at,
                EventKind::BureauAnswerReceived,
                "the bureau's answer with the reception number arrived by post",
                format!("{number} ({})", fee.name_ja()),
            )],
            Msg::NotDesignated if self.setup.rules.not_designated_deletes_record() => {
                vec![event(
                    at,
                    EventKind::NotDesignatedReported,
                    "r2021 別紙3 ⑦: not designated; the clinic reports to the implementing body (onsim's model: no message shows it)",
                    String::new(),
                )]
            }
            Msg::TemporaryCodeIssued { code } => vec![event(
                at,
                EventKind::PortalUserRegistered,
                "r2021 別紙3 ②: portal account registered with the temporary code (仮コード)",
                code.to_string(),
            )],
            Msg::CertificateNotice { fee, .. } => vec![event(
                at,
                EventKind::CertificateNoticeReceived,
                "certificate notice (電子証明書通知書) arrived by registered mail",
                fee.name_ja().to_string(),
            )],
            Msg::ReaderDelivered { working: true } => vec![event(
                at,
                EventKind::ReaderDelivered,
                if self.setup.limited_type {
                    "資格確認限定型: the device delivered"
                } else {
                    "face-auth reader delivered"
                },
                String::new(),
            )],
            Msg::LimitedTypeApproved if self.setup.postal_application => vec![event(
                at,
                EventKind::PortalUserRegistered,
                "004 form 申請区分 1 by post: the portal user is registered with the approval",
                String::new(),
            )],
            Msg::ReaderDelivered { working: false } => vec![event(
                at,
                EventKind::ReaderDeadOnArrival,
                "the reader is dead on arrival",
                String::new(),
            )],
            Msg::Designated { date } if self.obligation(*date) == Obligation::Obligated => {
                vec![event(
                    at,
                    EventKind::MandateApplies,
                    Obligation::Obligated.text(),
                    date.to_string(),
                )]
            }
            Msg::ConnectivityResult {
                purpose: CheckPurpose::GoLive,
                failure,
            } if !self.go_live.online => {
                self.go_live.pending = false;
                self.go_live_result(at, failure.as_ref())
            }
            _ => Vec::new(),
        }
    }

    /// The result of the system under test's go-live check.
    fn go_live_result(
        &mut self,
        at: VirtualTime,
        failure: Option<&fakes::process::ConnectivityFailure>,
    ) -> Vec<Event> {
        match (failure, self.ready.check(at.date())) {
            (None, Ok(())) => {
                self.go_live.online = true;
                let kind = if self.setup.limited_type {
                    EventKind::LimitedTypeReady
                } else {
                    EventKind::OnlineStart
                };
                vec![event(
                    at,
                    kind,
                    "system under test: go-live connectivity check passed with everything in place",
                    String::new(),
                )]
            }
            (None, Err(missing)) => vec![event(
                at,
                EventKind::OnlineStartFailed,
                "system under test went live before everything was in place",
                missing,
            )],
            (Some(f), _) => {
                if f.is_transient() {
                    if let Some(next) = at.date().succ_opt() {
                        self.attempts.insert(next);
                    }
                } else {
                    self.go_live.gave_up = true;
                }
                vec![event(
                    at,
                    EventKind::OnlineStartFailed,
                    "system under test: the go-live connectivity check failed",
                    f.as_str().to_string(),
                )]
            }
        }
    }
}

fn event(at: VirtualTime, kind: EventKind, why: &'static str, detail: String) -> Event {
    Event {
        at,
        actor: ME,
        kind,
        why,
        detail: (!detail.is_empty()).then_some(detail),
    }
}

/// How one `[[expect]]` fared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckStatus {
    Passed,
    Failed,
    /// Not judged: the check names what only the clinic's first patient shows, and a
    /// system under test plays the clinic ([`NOT_OBSERVED`]).
    NotJudged,
}

#[derive(Debug, Clone, Serialize)]
pub struct LiveCheck {
    pub expectation: String,
    pub status: CheckStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
}

/// The verdict at one virtual instant.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub onsim_version: &'static str,
    pub scenario: String,
    pub name: String,
    pub clinic: ClinicPlayer,
    /// The virtual instant judged.
    pub now: VirtualTime,
    /// No later event can change the verdict: the clock is past the horizon (the
    /// designation plus [`runner::HORIZON_MONTHS`]), or the clinic is online (or
    /// returned, or refused) and every date a check names has passed *(our choice)*.
    pub settled: bool,
    /// Every judged check passed and at least one was judged.
    pub passed: bool,
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online_start: Option<NaiveDate>,
    pub checks: Vec<LiveCheck>,
    /// What happened up to `now` (the world's events and the clinic's), in time order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<Event>,
}

/// Is this check observed when `player` plays the clinic? What only the first
/// patient shows is, once the first patient was presented at the simulated reader
/// (`first_patient`: the timeline holds a `first-confirmation`).
fn observed(c: &Check, player: ClinicPlayer, first_patient: bool) -> bool {
    match (player, c) {
        (ClinicPlayer::Onsim, _) | (_, Check::Outcome { .. }) => true,
        (_, Check::Happens { event, .. } | Check::Never { event }) => {
            first_patient || !NOT_OBSERVED.contains(event)
        }
    }
}

/// The horizon of a scenario: what happens after it is not judged (as timeline mode).
pub use runner::horizon;

/// Judge `s`'s checks against `timeline` (every event up to `now`, any order).
pub fn judge(
    s: &Scenario,
    mut timeline: Vec<Event>,
    now: VirtualTime,
    player: ClinicPlayer,
    with_timeline: bool,
) -> Verdict {
    let horizon = horizon(s);
    timeline.retain(|e| e.at <= now && e.at <= horizon);
    timeline.sort_by_key(|e| e.at);
    let outcome = runner::judge_outcome(s, &timeline);
    let online_start = timeline
        .iter()
        .find(|e| matches!(e.kind, EventKind::OnlineStart | EventKind::LimitedTypeReady))
        .map(|e| e.at.date());
    let first_patient = timeline
        .iter()
        .any(|e| e.kind == EventKind::FirstConfirmation);
    let judged: Vec<Check> = s
        .checks
        .iter()
        .filter(|c| observed(c, player, first_patient))
        .cloned()
        .collect();
    let mut results = runner::evaluate(&judged, outcome, &timeline, None).into_iter();
    let checks: Vec<LiveCheck> = s
        .checks
        .iter()
        .map(|c| {
            if observed(c, player, first_patient) {
                let r = results.next().expect("one result per judged check");
                LiveCheck {
                    expectation: r.expectation,
                    status: if r.passed {
                        CheckStatus::Passed
                    } else {
                        CheckStatus::Failed
                    },
                    explanation: r.explanation,
                }
            } else {
                LiveCheck {
                    expectation: c.to_string(),
                    status: CheckStatus::NotJudged,
                    explanation: Some(
                        "only the clinic's first patient shows this, and the system under test plays the clinic ([live] clinic = \"onsim\" judges it)".into(),
                    ),
                }
            }
        })
        .collect();
    let passed = checks.iter().any(|c| c.status == CheckStatus::Passed)
        && !checks.iter().any(|c| c.status == CheckStatus::Failed);
    let last_named = s
        .checks
        .iter()
        .filter_map(|c| match c {
            Check::Happens { by, after, .. } => by.or(*after),
            _ => None,
        })
        .max()
        .unwrap_or(s.spec.clinic.designation)
        .max(s.spec.clinic.designation);
    let decided = !matches!(outcome, crate::scenario::Outcome::NotOnline);
    let settled = now >= horizon || (decided && now.date() > last_named);
    Verdict {
        onsim_version: env!("CARGO_PKG_VERSION"),
        scenario: s.file.clone(),
        name: s.spec.scenario.name.clone(),
        clinic: player,
        now,
        settled,
        passed,
        outcome: outcome.as_str(),
        online_start,
        checks,
        timeline: if with_timeline { timeline } else { Vec::new() },
    }
}

/// The verdict of a serve of several clinics (issue 17 item 2): `passed` only if
/// every clinic passed, `settled` only if every clinic's verdict is, and each
/// clinic's own verdict with its id and institution code.
#[derive(Debug, Clone, Serialize)]
pub struct Overall {
    pub onsim_version: &'static str,
    /// The virtual instant judged.
    pub now: VirtualTime,
    pub passed: bool,
    pub settled: bool,
    pub clinics: Vec<ClinicVerdict>,
}

/// One clinic's verdict in an [`Overall`].
#[derive(Debug, Clone, Serialize)]
pub struct ClinicVerdict {
    /// The clinic's id (the `Onsim-Clinic` header's value).
    pub id: String,
    pub institution_code: String,
    #[serde(flatten)]
    pub verdict: Verdict,
}

impl Overall {
    /// The overall verdict of `clinics` (in serve order) at `now`.
    pub fn of(now: VirtualTime, clinics: Vec<ClinicVerdict>) -> Self {
        Overall {
            onsim_version: env!("CARGO_PKG_VERSION"),
            now,
            passed: !clinics.is_empty() && clinics.iter().all(|c| c.verdict.passed),
            settled: clinics.iter().all(|c| c.verdict.settled),
            clinics,
        }
    }
}

/// Every clinic's verdict at the current virtual instant, when the serve judges
/// scenarios (`GET /verdict` without a clinic named, with several).
pub fn overall(app: &crate::live::App, with_timeline: bool) -> Option<Overall> {
    let clinics = app
        .clinics
        .iter()
        .map(|c| {
            c.world.verdict(with_timeline).map(|verdict| ClinicVerdict {
                id: c.id.clone(),
                institution_code: c.institution.to_string(),
                verdict,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Overall::of(app.clock.now(), clinics))
}

/// An overall verdict as JUnit XML: one test suite per clinic (named `ID: SCENARIO`),
/// one test case per check.
pub fn junit_all(o: &Overall) -> String {
    let mut report = quick_junit::Report::new("onsim serve");
    for c in &o.clinics {
        report.add_test_suite(suite(
            &c.verdict,
            format!("{}: {}", c.id, c.verdict.scenario),
        ));
    }
    report.to_string().unwrap_or_default()
}

/// The verdict as JUnit XML: one test case per check (`not-judged` ones skipped).
pub fn junit(v: &Verdict) -> String {
    let mut report = quick_junit::Report::new("onsim serve");
    report.add_test_suite(suite(v, v.scenario.clone()));
    report.to_string().unwrap_or_default()
}

/// One verdict's test suite, named `name`.
fn suite(v: &Verdict, name: String) -> quick_junit::TestSuite {
    use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
    let mut suite = TestSuite::new(name);
    for c in &v.checks {
        let status = match c.status {
            CheckStatus::Passed => TestCaseStatus::success(),
            CheckStatus::Failed => {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                st.set_message(format!("outcome {}", v.outcome));
                st.set_description(c.explanation.clone().unwrap_or_default());
                st
            }
            CheckStatus::NotJudged => {
                let mut st = TestCaseStatus::skipped();
                st.set_message(c.explanation.clone().unwrap_or_default());
                st
            }
        };
        let mut case = TestCase::new(c.expectation.clone(), status);
        case.set_classname(v.name.clone());
        suite.add_test_case(case);
    }
    suite
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::{Delivery, Driver};
    use crate::runner::Parties;
    use fakes::codes::FeeTable;

    fn scenario(file: &str) -> Scenario {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios")
            .join(file);
        crate::scenario::load(&path).expect("scenario loads")
    }

    /// The observer replays the timeline clinic's story from its messages: fed
    /// every message the timeline's clinic sent and received, it records the same
    /// kinds of events (first-patient ones aside) and the same online start.
    #[test]
    fn the_observer_agrees_with_the_timeline_clinic() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let mut checked = 0;
        let files = crate::scenario::discover(std::slice::from_ref(&root)).expect("scenarios");
        assert!(files.len() > 90, "every scenario: {}", files.len());
        for path in files {
            let file = path.strip_prefix(&root).unwrap().display().to_string();
            let s = scenario(&file);
            let Ok(p) = runner::prepare(&s) else {
                continue; // refused before any step: nothing to observe
            };
            let r = runner::run(&s, runner::Detail::Full);
            let mut o = ClinicObserver::new(&p.setup);
            let mut seen: Vec<Event> = o.start();
            // The clinic away from the other parties, as in the live world: two
            // drivers, every message between them seen by the observer.
            let seed = s.spec.scenario.seed;
            let mut clinic = Driver::new(Some(p.clinic(seed)), None, true);
            clinic.start_clinic();
            let mut world = Driver::new(None, Some(Parties::build(p.party_setup(), seed)), true);
            let end = horizon(&s);
            loop {
                let (c, w) = (clinic.next_due(), world.next_due());
                let world_first = match (c, w) {
                    (_, None) => false,
                    (None, Some(_)) => true,
                    (Some(c), Some(w)) => w < c,
                };
                let next = if world_first { w } else { c };
                match next {
                    Some(t) if t <= end => {}
                    _ => break,
                }
                if world_first {
                    if let Some(Delivery::Away { at, from, msg, .. }) = world.step(end) {
                        seen.extend(o.received(at, from, &msg));
                        clinic.deliver(at, from, ActorId::Clinic, msg);
                    }
                } else if let Some(Delivery::Away { at, to, msg, .. }) = clinic.step(end) {
                    seen.extend(o.sent(at, to, &msg));
                    if let Delivery::Away { at, from, msg, .. } =
                        world.deliver(at, ActorId::Clinic, to, msg)
                    {
                        seen.extend(o.received(at, from, &msg));
                        clinic.deliver(at, from, ActorId::Clinic, msg);
                    }
                }
            }
            seen.extend(o.due(end));
            let kinds = |evs: &[Event]| -> Vec<(VirtualTime, EventKind)> {
                let mut k: Vec<_> = evs
                    .iter()
                    .filter(|e| e.actor == ActorId::Clinic && !NOT_OBSERVED.contains(&e.kind))
                    .map(|e| (e.at, e.kind))
                    .collect();
                k.sort();
                k
            };
            assert_eq!(kinds(&seen), kinds(&r.timeline), "{file}");
            checked += 1;
            let mut world: Vec<Event> = r
                .timeline
                .iter()
                .filter(|e| e.actor != ActorId::Clinic)
                .cloned()
                .collect();
            world.extend(seen);
            let v = judge(&s, world, horizon(&s), ClinicPlayer::SystemUnderTest, false);
            assert_eq!(v.outcome, r.outcome.as_str(), "{file}");
            assert!(v.settled, "{file}");
        }
        assert!(checked > 90, "{checked}");
    }

    #[test]
    fn going_live_too_early_is_a_failed_start_naming_what_is_missing() {
        let s = scenario("happy/r2024-medical-tokyo.toml");
        let p = runner::prepare(&s).expect("prepares");
        let mut o = ClinicObserver::new(&p.setup);
        let at = VirtualTime::start_of(s.spec.clinic.designation);
        let ok = Msg::ConnectivityResult {
            purpose: CheckPurpose::GoLive,
            failure: None,
        };
        let e = o.received(at, ActorId::Carrier, &ok);
        assert_eq!(e[0].kind, EventKind::OnlineStartFailed);
        assert!(e[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("not designated yet"));
        o.received(at, ActorId::Bureau, &Msg::Designated { date: at.date() });
        o.received(
            at,
            ActorId::ImplementingBody,
            &Msg::AccountReady {
                registered_for: at.date(),
            },
        );
        o.received(at, ActorId::SystemVendor, &Msg::InstallationDone);
        assert_eq!(
            o.received(at, ActorId::Carrier, &ok)[0].kind,
            EventKind::OnlineStart
        );
        // Once online, a later check records nothing more.
        assert!(o.received(at, ActorId::Carrier, &ok).is_empty());
        let sent = o.sent(
            at,
            ActorId::ImplementingBody,
            &Msg::CertificateApplication {
                fee: FeeTable::Medical,
            },
        );
        assert_eq!(sent[0].kind, EventKind::CertificateApplicationSent);
    }

    #[test]
    fn a_first_patient_check_is_not_judged_never_passed() {
        let mut s = scenario("happy/r2024-medical-tokyo.toml");
        s.checks = vec![Check::Happens {
            event: EventKind::FirstConfirmation,
            by: None,
            after: None,
        }];
        let v = judge(
            &s,
            Vec::new(),
            horizon(&s),
            ClinicPlayer::SystemUnderTest,
            false,
        );
        assert_eq!(v.checks[0].status, CheckStatus::NotJudged);
        assert!(!v.passed, "nothing judged is not a pass");
        let x = junit(&v);
        assert!(x.contains("<skipped"), "{x}");
        let v = judge(&s, Vec::new(), horizon(&s), ClinicPlayer::Onsim, false);
        assert_eq!(v.checks[0].status, CheckStatus::Failed);
    }
}
