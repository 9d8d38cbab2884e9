//! Runs one scenario through virtual time: builds the actors from the scenario, drives
//! them with the event engine, and judges the expectations against the trace.
//!
//! The loop is [`crate::driver::Driver`], the one driver of timeline, live and
//! replay: pop the next envelope, hand it to its actor, push what the actor sent.
//! Actors never see the queue.

use chrono::NaiveDate;
use serde::Serialize;

use fakes::calendar::BusinessCalendar;
use fakes::codes::{FeeTable, Prefecture};
use fakes::process::bureau::Bureau;
use fakes::process::carrier::Carrier;
use fakes::process::clinic::{Clinic, ClinicSetup};
use fakes::process::fault::Faults;
use fakes::process::implementing_body::ImplementingBody;
use fakes::process::limited_type::LimitedTypeSetup;
use fakes::process::reader_vendor::ReaderVendor;
use fakes::process::system_vendor::SystemVendor;
use fakes::process::{Event, EventKind};
use fakes::schedule::{self, MilestoneId, Schedule, ScheduleRequest};
use fakes::time::VirtualTime;

use crate::driver::{Driver, Finished};
use crate::engine::rng_for;
use crate::scenario::{Check, Claims, Outcome, Scenario};

/// A run never handles more messages than this; reaching it is reported, not hidden.
pub const EVENT_LIMIT: usize = 100_000;
/// Months simulated after the designation date.
pub const HORIZON_MONTHS: u32 = 6;

/// The end of a scenario's run: the start of the day [`HORIZON_MONTHS`] after its
/// designation. What happens later is not judged (timeline, replay and live verdict).
pub fn horizon(s: &Scenario) -> VirtualTime {
    horizon_after(s.spec.clinic.designation)
}

/// [`horizon`] of a clinic designated on `designation` (also a live world without a
/// scenario).
pub fn horizon_after(designation: NaiveDate) -> VirtualTime {
    VirtualTime::start_of(
        designation
            .checked_add_months(chrono::Months::new(HORIZON_MONTHS))
            .unwrap_or(designation),
    )
}

/// How much of the trace to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Events with their details (single runs, reports).
    Full,
    /// Event kinds and times only (sweeps).
    Lean,
}

/// The verdict on one expectation.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub expectation: String,
    pub passed: bool,
    /// Why it failed, with the part of the trace that decided it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
}

/// Everything one run produced.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    pub outcome: Outcome,
    /// Why the scenario was refused, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// The day online confirmation started, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online_start: Option<NaiveDate>,
    pub checks: Vec<CheckResult>,
    pub passed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    pub events_handled: usize,
    pub timeline: Vec<Event>,
}

/// Run a scenario with its own seed.
pub fn run(s: &Scenario, detail: Detail) -> RunResult {
    run_with_seed(s, s.spec.scenario.seed, detail)
}

/// Run a scenario with a given master seed.
pub fn run_with_seed(s: &Scenario, seed: u64, detail: Detail) -> RunResult {
    match prepare(s) {
        Ok(p) => run_prepared(&p, seed, detail),
        Err(reason) => refused(s, reason),
    }
}

/// What does not depend on the seed: the schedule, the resolved plan and the faults.
/// Sweeps prepare once and run many seeds.
#[derive(Debug, Clone)]
pub struct Prepared<'a> {
    pub scenario: &'a Scenario,
    pub schedule: Schedule,
    pub setup: ClinicSetup,
    pub faults: Faults,
    pub bureau_calendar: BusinessCalendar,
}

/// Compute the seed-independent parts; `Err` carries why the scenario is refused
/// (e.g. a retroactive designation).
pub fn prepare(s: &Scenario) -> Result<Prepared<'_>, String> {
    let spec = &s.spec;
    let bureau_calendar =
        BusinessCalendar::with_closures(spec.actors.bureau.closures.iter().copied())
            .with_kind(spec.scenario.calendar);
    let mut req = ScheduleRequest::new(spec.clinic.designation, spec.scenario.rules);
    req.bureau = Some(s.bureau);
    req.clinic = spec.clinic.kind;
    req.paper_claims = spec.clinic.claims == Claims::Paper;
    req.allow_projected = true;
    req.as_of = spec.clinic.as_of;
    req.calendar = bureau_calendar.clone();
    req.policy.request_deadline_shift = spec.actors.bureau.request_deadline_shift;
    req.installation = spec.plan.installation;
    let schedule = schedule::compute(&req, s.published.as_deref()).map_err(|e| e.to_string())?;
    let plan = spec
        .plan
        .resolve(
            &schedule,
            &BusinessCalendar::of_kind(spec.scenario.calendar),
            spec.clinic.kind,
        )
        .map_err(|e| e.to_string())?;
    let mut plan = plan;
    if spec.clinic.limited_type {
        plan.for_limited_type(
            &spec.plan,
            spec.clinic.designation,
            &BusinessCalendar::of_kind(spec.scenario.calendar),
        )
        .map_err(|e| e.to_string())?;
    }
    let device = spec.clinic.device.unwrap_or_default();
    // Step-bound faults are resolved by the actors on the step's actual day
    // (`fakes::process::fault::FaultStep`), not pinned to the planned day here.
    let faults = Faults::new(spec.faults.clone());
    let setup = ClinicSetup {
        rules: spec.scenario.rules,
        kind: spec.clinic.kind,
        designation: spec.clinic.designation,
        paper_claims: spec.clinic.claims == Claims::Paper,
        limited_type: spec.clinic.limited_type,
        postal_application: spec.clinic.postal_application,
        limited: LimitedTypeSetup {
            device,
            device_cost_yen: spec.clinic.device_cost.unwrap_or(device.default_cost_yen()),
        },
        plan,
        implementing_body_deadline: schedule
            .date(MilestoneId::ImplementingBodyDeadline)
            .expect("both rule sets have it"),
        correction_turnaround: spec.actors.bureau.correction_turnaround.clone(),
    };
    Ok(Prepared {
        scenario: s,
        schedule,
        setup,
        faults,
        bureau_calendar,
    })
}

/// What the non-clinic actors are built from: one run's schedule, calendars,
/// parameters and faults.
pub struct PartySetup<'a> {
    pub schedule: &'a Schedule,
    pub bureau_calendar: BusinessCalendar,
    pub params: &'a crate::scenario::Actors,
    pub faults: &'a Faults,
    pub prefecture: Prefecture,
    pub county: u8,
    /// The institution codes the clinic needs (one certificate notice each).
    pub fees: Vec<FeeTable>,
    /// Reader, line and installation (false for the limited type and paper claims).
    pub full_installation: bool,
}

/// The actors other than the clinic, built one way for timeline mode
/// ([`run_prepared`]) and live mode (`live::world`), each seeded from the master seed
/// and its name.
pub struct Parties {
    pub bureau: Bureau,
    pub implementing_body: ImplementingBody,
    pub reader_vendor: ReaderVendor,
    pub carrier: Carrier,
    pub system_vendor: SystemVendor,
}

impl Parties {
    pub fn build(setup: PartySetup<'_>, seed: u64) -> Parties {
        let PartySetup {
            schedule,
            bureau_calendar,
            params,
            faults,
            prefecture,
            county,
            fees,
            full_installation,
        } = setup;
        // Every party keeps the scenario's calendar kind (`[scenario] calendar`); only
        // the bureau has closures of its own.
        let cal = BusinessCalendar::of_kind(bureau_calendar.kind());
        Parties {
            bureau: Bureau::new(
                schedule,
                bureau_calendar,
                params.bureau.clone(),
                faults.clone(),
                rng_for(seed, "bureau"),
                prefecture,
                county,
            ),
            implementing_body: ImplementingBody::new(
                schedule,
                params.implementing_body.clone(),
                faults.clone(),
                rng_for(seed, "implementing-body"),
                // The temporary code's 5-digit serial (000 別紙1 "0 0 X X X X X"),
                // derived from the seed.
                (seed % 90_000) as u32 + 10_000,
            )
            .with_calendar(cal.clone()),
            reader_vendor: ReaderVendor::new(
                params.reader_vendor.clone(),
                faults.clone(),
                rng_for(seed, "reader-vendor"),
            ),
            carrier: Carrier::new(
                params.carrier.clone(),
                faults.clone(),
                rng_for(seed, "carrier"),
            )
            .with_calendar(cal.clone()),
            system_vendor: SystemVendor::new(params.system_vendor.clone(), fees, full_installation)
                .with_calendar(cal),
        }
    }
}

impl Prepared<'_> {
    /// The inputs of [`Parties::build`] for this scenario.
    /// The scenario's clinic with its random stream from `seed`, on the scenario's
    /// calendar: the one the timeline runs, the replay drives and `onsim serve
    /// --scenario` plays when `[live] clinic = "onsim"`.
    pub fn clinic(&self, seed: u64) -> Clinic {
        Clinic::new(
            self.setup.clone(),
            self.faults.clone(),
            rng_for(seed, "clinic"),
        )
        .with_calendar(BusinessCalendar::of_kind(self.bureau_calendar.kind()))
    }

    pub fn party_setup(&self) -> PartySetup<'_> {
        let spec = &self.scenario.spec;
        PartySetup {
            schedule: &self.schedule,
            bureau_calendar: self.bureau_calendar.clone(),
            params: &spec.actors,
            faults: &self.faults,
            prefecture: self.scenario.prefecture,
            county: spec.clinic.county,
            fees: self.setup.fees(),
            full_installation: self.setup.full_installation(),
        }
    }
}

/// Run a prepared scenario with one master seed.
pub fn run_prepared(p: &Prepared, seed: u64, detail: Detail) -> RunResult {
    let s = p.scenario;
    let clinic = p.clinic(seed);
    let parties = Parties::build(p.party_setup(), seed);
    let horizon = horizon(s);
    // Everyone runs here: nothing is ever away.
    let mut driver = Driver::new(Some(clinic), Some(parties), detail == Detail::Full);
    driver.start_clinic();
    driver.run(horizon, EVENT_LIMIT, |_, _, _, _, _| {});
    let Finished {
        timeline,
        broken,
        handled,
    } = driver.finish(horizon);
    let outcome = judge_outcome(s, &timeline);
    let online_start = timeline
        .iter()
        .find(|e| matches!(e.kind, EventKind::OnlineStart | EventKind::LimitedTypeReady))
        .map(|e| e.at.date());
    let mut checks = evaluate(&s.checks, outcome, &timeline, None);
    // A broken invariant is a bug in onsim: the run fails and says which.
    for broken in broken {
        tracing::error!(scenario = %s.file, seed, "invariant broken: {broken}");
        checks.push(CheckResult {
            expectation: "onsim's invariants hold (src/invariants.rs)".into(),
            passed: false,
            explanation: Some(broken),
        });
    }
    let passed = checks.iter().all(|c| c.passed) && handled < EVENT_LIMIT;
    RunResult {
        outcome,
        refused: None,
        online_start,
        passed,
        checks,
        schedule: (detail == Detail::Full).then(|| p.schedule.clone()),
        events_handled: handled,
        timeline,
    }
}

fn refused(s: &Scenario, reason: String) -> RunResult {
    let checks = evaluate(&s.checks, Outcome::Refused, &[], Some(&reason));
    RunResult {
        outcome: Outcome::Refused,
        passed: checks.iter().all(|c| c.passed),
        refused: Some(reason),
        online_start: None,
        checks,
        schedule: None,
        events_handled: 0,
        timeline: Vec::new(),
    }
}

/// The final outcome, from the trace alone.
pub fn judge_outcome(s: &Scenario, timeline: &[Event]) -> Outcome {
    let has = |k: EventKind| timeline.iter().any(|e| e.kind == k);
    let spec = &s.spec;
    if spec.clinic.claims == Claims::Paper && !spec.clinic.limited_type {
        return Outcome::Exempt;
    }
    // 001 1(1): a clinic with やむを得ない事情 that files the 経過措置 届出 with its
    // designation application falls under the 経過措置 of the mandate ("経過措置に該当する
    // …医療機関等"): like a paper-claims clinic it is not expected online on the
    // designation day, so it is exempt once designated.
    if spec.plan.transitional_notice {
        return if has(EventKind::NotDesignated) {
            Outcome::NotDesignated
        } else {
            Outcome::Exempt
        };
    }
    if spec.clinic.limited_type {
        return if has(EventKind::LimitedTypeReady) {
            Outcome::LimitedTypeReady
        } else {
            Outcome::NotOnline
        };
    }
    if has(EventKind::NotDesignated) {
        return Outcome::NotDesignated;
    }
    if has(EventKind::RequestReturned) {
        return Outcome::RequestReturned;
    }
    match timeline.iter().find(|e| e.kind == EventKind::OnlineStart) {
        Some(e) if e.at.date() <= spec.clinic.designation => Outcome::OnlineOnDesignationDay,
        Some(_) => Outcome::OnlineLate,
        None => Outcome::NotOnline,
    }
}

fn show(e: &Event) -> String {
    format!(
        "    {} {:<17} {:<30} {}{}",
        e.at,
        e.actor.as_str(),
        e.kind.as_str(),
        e.why,
        e.detail
            .as_ref()
            .filter(|d| !d.is_empty())
            .map(|d| format!(" [{d}]"))
            .unwrap_or_default()
    )
}

/// The trace lines that explain a verdict: every event of the kind, or if none, the
/// last few events.
fn excerpt(timeline: &[Event], kind: Option<EventKind>) -> String {
    let picked: Vec<&Event> = match kind {
        Some(k) if timeline.iter().any(|e| e.kind == k) => {
            timeline.iter().filter(|e| e.kind == k).collect()
        }
        _ => timeline
            .iter()
            .rev()
            .take(6)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect(),
    };
    picked
        .iter()
        .map(|e| show(e))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Judge each expectation against the trace.
pub fn evaluate(
    checks: &[Check],
    outcome: Outcome,
    timeline: &[Event],
    refused: Option<&str>,
) -> Vec<CheckResult> {
    checks
        .iter()
        .map(|c| {
            let failure: Option<String> = match c {
                Check::Outcome { outcome: want } => (*want != outcome).then(|| {
                    let why = match refused {
                        Some(r) => format!("refused: {r}"),
                        None => format!(
                            "decided by:\n{}",
                            excerpt(
                                timeline,
                                Some(match outcome {
                                    Outcome::RequestReturned => EventKind::RequestReturned,
                                    Outcome::NotDesignated => EventKind::NotDesignated,
                                    Outcome::OnlineOnDesignationDay | Outcome::OnlineLate =>
                                        EventKind::OnlineStart,
                                    _ => EventKind::OnlineStartFailed,
                                })
                            )
                        ),
                    };
                    format!(
                        "expected outcome {}, got {}; {why}",
                        want.as_str(),
                        outcome.as_str()
                    )
                }),
                Check::Happens { event, by, after } => {
                    let hits: Vec<&Event> = timeline.iter().filter(|e| e.kind == *event).collect();
                    let ok = hits.iter().any(|e| {
                        by.is_none_or(|b| e.at.date() <= b)
                            && after.is_none_or(|a| e.at.date() >= a)
                    });
                    (!ok).then(|| {
                        if hits.is_empty() {
                            format!(
                                "{event} never happened; the run ended with:\n{}",
                                excerpt(timeline, None)
                            )
                        } else {
                            format!(
                                "{event} happened, but not in the window:\n{}",
                                excerpt(timeline, Some(*event))
                            )
                        }
                    })
                }
                Check::Never { event } => timeline
                    .iter()
                    .any(|e| e.kind == *event)
                    .then(|| format!("{event} happened:\n{}", excerpt(timeline, Some(*event)))),
            };
            CheckResult {
                expectation: c.to_string(),
                passed: failure.is_none(),
                explanation: failure,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fakes::process::ActorId;

    /// 004: the subsidy is 3/4 of the device's cost, at most ¥31,000; a limited-type
    /// clinic sends nothing to the bureau.
    #[test]
    fn limited_type_subsidy_is_three_quarters_of_the_device() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios/limited-type/subsidy-before-deadline.toml");
        let s = crate::scenario::load(&path).unwrap();
        let r = run(&s, Detail::Full);
        assert!(r.passed, "{:?}", r.checks);
        let subsidy = r
            .timeline
            .iter()
            .find(|e| e.kind == EventKind::SubsidyApplied)
            .expect("a subsidy application");
        assert_eq!(
            subsidy.detail.as_deref(),
            Some("¥30000 for a device of ¥40000")
        );
        assert!(r.timeline.iter().all(|e| e.actor != ActorId::Bureau));
        // A dearer device meets the cap.
        let mut dear = s.clone();
        dear.spec.clinic.device_cost = Some(100_000);
        let r = run(&dear, Detail::Full);
        let subsidy = r
            .timeline
            .iter()
            .find(|e| e.kind == EventKind::SubsidyApplied)
            .unwrap();
        assert_eq!(
            subsidy.detail.as_deref(),
            Some("¥31000 for a device of ¥100000")
        );
    }
}
