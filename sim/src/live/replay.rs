//! `onsim run --live`: a scenario's steps through the live services.
//!
//! The live world is started in-process on ephemeral loopback ports with the
//! scenario's own actors ([`crate::live::world::World::from_prepared`]: schedule,
//! bureau calendar, actor parameters, faults, seeds). The clinic is the **same**
//! [`Clinic`] state machine the timeline runs (one rule, one place); this module is
//! only its driver: every message the clinic sends becomes an HTTP call to the bureau,
//! portal, reader-vendor or carrier service (or `POST /clinic/messages` on the control
//! service for the messages no service route carries yet), at the message's virtual
//! date, after moving the virtual clock there with `POST /clock/advance`; every
//! message in the inbox (`GET /inbox`) is read back from its JSON and handed to the
//! clinic. The trace (the world's events plus the clinic's) is judged with the same
//! [`runner::judge_outcome`] and [`runner::evaluate`].
//!
//! Supported: every scenario whose clinic only sends messages the services carry and
//! only receives inbox kinds that read back (all of today's clinic messages). A
//! scenario that needs anything else is skipped with [`LiveError::Unsupported`],
//! never judged on a partial run. Scenarios refused before any step (e.g. a
//! retroactive designation) get the timeline's refusal verdict.

use serde_json::{json, Value};

use fakes::process::{codec, ActorId, Msg};
use fakes::time::VirtualTime;

use crate::driver::{Delivery, Driver};
use crate::live::client::{ClientError, ControlClient};
use crate::live::{self, LiveConfig};
use crate::runner::{self, Detail, RunResult};
use crate::scenario::Scenario;

/// Why a live run did not produce a verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveError {
    /// The scenario needs something the live services do not carry; skipped.
    Unsupported(String),
    /// The services failed (cannot listen, an HTTP call failed).
    Failed(String),
}

impl From<ClientError> for LiveError {
    fn from(e: ClientError) -> Self {
        LiveError::Failed(e.to_string())
    }
}

impl std::fmt::Display for LiveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LiveError::Unsupported(m) => write!(f, "not supported in --live: {m}"),
            LiveError::Failed(m) => write!(f, "live run failed: {m}"),
        }
    }
}

/// Most clinic-side steps of one live run (a runaway guard, like the runner's).
pub const STEP_LIMIT: usize = 20_000;

/// Run one scenario through the live services with its own seed.
pub fn run(s: &Scenario) -> Result<RunResult, LiveError> {
    let seed = s.spec.scenario.seed;
    let prepared = match runner::prepare(s) {
        Ok(p) => p,
        // Refused before any step: nothing to send; the verdict is the refusal's.
        Err(_) => return Ok(runner::run(s, Detail::Full)),
    };
    let driver = clinic_driver(&prepared, seed);
    let first = driver
        .next_due()
        .unwrap_or(VirtualTime::start_of(s.spec.clinic.designation));
    // Start the clock at 00:00 the day before the first step: the clock only runs
    // forward, and no actor acts before the clinic does.
    let start = first.date().pred_opt().unwrap_or(first.date());
    let designation = s.spec.clinic.designation;
    let cfg = LiveConfig {
        start,
        speed: 0.0,
        seed,
        rules: s.spec.scenario.rules,
        designation,
        port_base: 0,
        households: 1_000,
        terminal_dir: None,
        terminal_timeout: live::centre::DEFAULT_TIMEOUT,
        institution: live::clinic_institution(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| LiveError::Failed(format!("runtime: {e}")))?;
    let running = rt
        .block_on(live::start_with_world(
            &cfg,
            Some(Box::new(|clock, pki| {
                live::world::World::from_prepared(&prepared, seed, clock, pki)
            })),
        ))
        .map_err(LiveError::Failed)?;
    let client = ControlClient::new(running.addrs.control, rt.handle().clone());
    let result = drive(s, &running.addrs, &client, driver);
    let trace = running.app.first().world.trace().0;
    rt.block_on(running.stop());
    let (clinic_events, handled) = result?;
    let mut timeline = trace;
    timeline.extend(clinic_events);
    let horizon = runner::horizon(s);
    timeline.retain(|e| e.at <= horizon);
    timeline.sort_by_key(|e| e.at);
    let outcome = runner::judge_outcome(s, &timeline);
    let online_start = timeline
        .iter()
        .find(|e| {
            matches!(
                e.kind,
                fakes::process::EventKind::OnlineStart
                    | fakes::process::EventKind::LimitedTypeReady
            )
        })
        .map(|e| e.at.date());
    let checks = runner::evaluate(&s.checks, outcome, &timeline, None);
    let passed = checks.iter().all(|c| c.passed);
    Ok(RunResult {
        outcome,
        refused: None,
        online_start,
        passed,
        checks,
        schedule: Some(prepared.schedule.clone()),
        events_handled: handled,
        timeline,
    })
}

type Events = Vec<fakes::process::Event>;

/// The scenario's clinic on a driver of its own (the other parties are away).
fn clinic_driver(p: &runner::Prepared<'_>, seed: u64) -> Driver {
    let mut driver = Driver::new(Some(p.clinic(seed)), None, true);
    driver.start_clinic();
    driver
}

/// Play `s`'s clinic against a running `onsim serve` (its services at `addrs`, its
/// control API through `client`), from the clock's current instant to the horizon:
/// `onsim play`, a reference client for `onsim serve --scenario` that only talks
/// HTTP. Returns the clinic's own events and how many messages it handled.
pub fn play(
    s: &Scenario,
    addrs: &live::Addrs,
    client: &ControlClient,
) -> Result<(Events, usize), LiveError> {
    let mut all = play_many(&[(s, client.clone())], addrs)?;
    Ok(all.remove(0))
}

/// As [`play`], for several clinics of one serve at once (issue 17 item 2), each
/// scenario through its own client (naming its clinic: [`ControlClient::for_clinic`]).
/// They share the one virtual clock, so one loop moves it for all: to the earliest
/// step of any clinic or any world. Each clinic's world only meets its own clinic's
/// messages, so each plays as it would alone. Returns each clinic's events and
/// count, in the order given.
pub fn play_many(
    plays: &[(&Scenario, ControlClient)],
    addrs: &live::Addrs,
) -> Result<Vec<(Events, usize)>, LiveError> {
    let mut prepared = Vec::with_capacity(plays.len());
    for (s, _) in plays {
        prepared.push(runner::prepare(s).map_err(|why| {
            LiveError::Unsupported(format!("{}: refused before any step: {why}", s.file))
        })?);
    }
    let clinics = plays
        .iter()
        .zip(&prepared)
        .map(|((s, client), p)| Playing {
            s,
            client: client.clone(),
            driver: clinic_driver(p, s.spec.scenario.seed),
            since: 0,
        })
        .collect();
    drive_many(clinics, addrs)
}

/// One clinic being played: its scenario, its client, its driver, and the last
/// inbox item it read.
struct Playing<'a> {
    s: &'a Scenario,
    client: ControlClient,
    driver: Driver,
    since: u64,
}

/// The clinic's loop on the one [`Driver`] (the clinic runs here, the other parties
/// are the live services): the earliest of the clinic's own queue and the world's
/// next due message decides where the clock goes next.
fn drive(
    s: &Scenario,
    addrs: &live::Addrs,
    client: &ControlClient,
    driver: Driver,
) -> Result<(Events, usize), LiveError> {
    let one = Playing {
        s,
        client: client.clone(),
        driver,
        since: 0,
    };
    let mut all = drive_many(vec![one], addrs)?;
    Ok(all.remove(0))
}

/// [`drive`] for several clinics on one clock: each round moves the clock to the
/// earliest due step (any clinic's queue, any world's), then hands one inbox item to
/// its clinic, else takes one step of the first clinic that has one due. With one
/// clinic this is exactly the single clinic's loop.
fn drive_many(
    mut clinics: Vec<Playing<'_>>,
    addrs: &live::Addrs,
) -> Result<Vec<(Events, usize)>, LiveError> {
    let Some(first) = clinics.first() else {
        return Ok(Vec::new());
    };
    let clock = first.client.clone();
    let last = runner::horizon(first.s);
    let horizon = clinics
        .iter()
        .map(|c| runner::horizon(c.s))
        .max()
        .unwrap_or(last);
    let mut now = clock.clock()?.now;
    for c in &mut clinics {
        c.driver.advance_to(now);
    }
    'rounds: loop {
        if let Some(c) = clinics.iter().find(|c| c.driver.handled() >= STEP_LIMIT) {
            return Err(LiveError::Failed(format!(
                "{}: step limit {STEP_LIMIT} reached",
                c.s.file
            )));
        }
        let world_next = clock.clock()?.next_due;
        let Some(next) = clinics
            .iter()
            .filter_map(|c| c.driver.next_due())
            .chain(world_next)
            .min()
        else {
            break;
        };
        if next > horizon {
            break;
        }
        if next > now {
            clock.advance(next)?;
            now = next;
            for c in &mut clinics {
                c.driver.advance_to(now);
            }
        }
        // What the worlds delivered to their clinics up to now, in order.
        for c in &mut clinics {
            if let Some(item) = c.client.inbox(c.since)?.into_iter().next() {
                c.since = item.seq;
                let msg = item.msg().map_err(|e| {
                    LiveError::Unsupported(format!(
                        "inbox {} does not read back: {e}: {:?}",
                        item.kind, item.body
                    ))
                })?;
                c.driver.deliver(item.at, item.from, ActorId::Clinic, msg);
                continue 'rounds;
            }
        }
        // Then the clinics' own queues, one message at a time; a message for a
        // party away is an HTTP call to its service.
        for c in &mut clinics {
            match c.driver.step(now) {
                None => continue,
                Some(Delivery::Away { to, msg, .. }) => {
                    send(addrs, &c.s.spec.actors.carrier, &c.client, to, msg)?;
                }
                Some(_) => {}
            }
            continue 'rounds;
        }
    }
    Ok(clinics
        .into_iter()
        .map(|c| {
            let handled = c.driver.handled();
            let (trace, _) = c.driver.trace();
            (trace.to_vec(), handled)
        })
        .collect())
}

/// One clinic message as an HTTP call to the service that carries it, its body
/// written by the codec ([`fakes::process::codec`]); the line's service and type are
/// the scenario's carrier parameters.
fn send(
    a: &live::Addrs,
    carrier: &fakes::process::params::CarrierParams,
    client: &ControlClient,
    to: ActorId,
    msg: Msg,
) -> Result<(), LiveError> {
    let mut fields = codec::body(&msg);
    let (addr, path) = match (&to, &msg) {
        (ActorId::Bureau, Msg::ReceptionRequest { .. }) => (a.bureau, "/reception-requests"),
        (ActorId::ImplementingBody, Msg::TemporaryCodeRequest) => {
            (a.portal, "/temporary-code-requests")
        }
        (ActorId::ImplementingBody, Msg::ReceptionNumberSubmission { .. }) => {
            (a.portal, "/reception-numbers")
        }
        (ActorId::ImplementingBody, Msg::UsageApplication) => {
            fields.insert("line_type".into(), json!(carrier.line));
            (a.portal, "/usage-applications")
        }
        (ActorId::ImplementingBody, Msg::CertificateApplication { .. }) => {
            (a.portal, "/certificate-applications")
        }
        (ActorId::ReaderVendor, Msg::ReaderOrder { .. }) => (a.reader_vendor, "/orders"),
        (ActorId::Carrier, Msg::LineOrder) => {
            fields.insert("service".into(), json!(carrier.service));
            fields.insert("line_type".into(), json!(carrier.line));
            (a.carrier, "/line-orders")
        }
        (ActorId::Bureau, Msg::DesignationApplication { .. })
        | (
            ActorId::ImplementingBody,
            Msg::ReaderApplication | Msg::LimitedTypeApplication { .. },
        )
        | (
            ActorId::SystemVendor,
            Msg::SystemOrder { .. } | Msg::PrerequisiteReady(_) | Msg::InstallationDay,
        )
        | (ActorId::Carrier | ActorId::ImplementingBody, Msg::ConnectivityCheck { .. }) => {
            return check("/clinic/messages", &msg, client.clinic_message(to, &msg)?);
        }
        (to, msg) => {
            return Err(LiveError::Unsupported(format!(
                "the clinic sends {msg:?} to {to:?}, which no live service carries"
            )))
        }
    };
    let answer = client.post(addr, path, &Value::Object(fields))?;
    check(path, &msg, answer)
}

/// A service's answer to one clinic message: accepted, or why the scenario cannot
/// run live.
fn check(path: &str, msg: &Msg, (st, v): (u16, Value)) -> Result<(), LiveError> {
    if st == 202 || st == 200 {
        Ok(())
    } else {
        Err(LiveError::Unsupported(format!(
            "{path} refused the clinic's {msg:?} (HTTP {st}: {v})"
        )))
    }
}

/// `onsim run --live`: each scenario through the live services, and its verdict
/// next to the timeline's. Unsupported scenarios are skipped with the reason.
pub fn run_cli(scenarios: &[Scenario]) -> (Vec<String>, bool) {
    let mut lines = Vec::new();
    let mut all_passed = true;
    let (mut passed, mut failed, mut skipped) = (0usize, 0usize, 0usize);
    for s in scenarios {
        let timeline = runner::run(s, Detail::Lean);
        match run(s) {
            Ok(r) => {
                let same = r.outcome == timeline.outcome
                    && r.passed == timeline.passed
                    && r.checks
                        .iter()
                        .map(|c| c.passed)
                        .eq(timeline.checks.iter().map(|c| c.passed));
                // A live verdict that differs from timeline mode is a failure too:
                // both drive the same actors and must agree.
                all_passed &= r.passed && same;
                if r.passed && same {
                    passed += 1;
                } else {
                    failed += 1;
                }
                lines.push(format!(
                    "{} {}: live {} ({}), timeline {} ({}): {}",
                    if r.passed { "PASS" } else { "FAIL" },
                    s.file,
                    if r.passed { "passed" } else { "failed" },
                    r.outcome.as_str(),
                    if timeline.passed { "passed" } else { "failed" },
                    timeline.outcome.as_str(),
                    if same {
                        "same verdict"
                    } else {
                        "VERDICTS DIFFER"
                    },
                ));
                for c in r.checks.iter().filter(|c| !c.passed) {
                    lines.push(format!(
                        "  failed: {} — {}",
                        c.expectation,
                        c.explanation.as_deref().unwrap_or("")
                    ));
                }
            }
            Err(e @ LiveError::Unsupported(_)) => {
                skipped += 1;
                lines.push(format!("SKIP {}: {e}", s.file));
            }
            Err(e) => {
                all_passed = false;
                failed += 1;
                lines.push(format!("FAIL {}: {e}", s.file));
            }
        }
    }
    lines.push(format!(
        "\nlive scenarios: {passed} passed, {failed} failed, {skipped} skipped"
    ));
    (lines, all_passed)
}
