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

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::{json, Value};

use fakes::process::clinic::Clinic;
use fakes::process::{codec, ActorId, Msg};
use fakes::time::VirtualTime;

use crate::driver::{Delivery, Driver};
use crate::engine::rng_for;
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
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Run one scenario through the live services with its own seed.
pub fn run(s: &Scenario) -> Result<RunResult, LiveError> {
    let seed = s.spec.scenario.seed;
    let prepared = match runner::prepare(s) {
        Ok(p) => p,
        // Refused before any step: nothing to send; the verdict is the refusal's.
        Err(_) => return Ok(runner::run(s, Detail::Full)),
    };
    let clinic = Clinic::new(
        prepared.setup.clone(),
        prepared.faults.clone(),
        rng_for(seed, "clinic"),
    );
    // The clinic runs here; the other parties are the live services.
    let mut driver = Driver::new(Some(clinic), None, true);
    driver.start_clinic();
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
    let result = drive(s, &running, driver);
    let trace = running.app.world.trace().0;
    rt.block_on(running.stop());
    let (clinic_events, handled) = result?;
    let mut timeline = trace;
    timeline.extend(clinic_events);
    let horizon = VirtualTime::start_of(
        designation
            .checked_add_months(chrono::Months::new(runner::HORIZON_MONTHS))
            .unwrap_or(designation),
    );
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

/// The clinic's loop on the one [`Driver`] (the clinic runs here, the other parties
/// are the live services): the earliest of the clinic's own queue and the world's
/// next due message decides where the clock goes next.
fn drive(
    s: &Scenario,
    running: &live::Running,
    mut driver: Driver,
) -> Result<(Events, usize), LiveError> {
    let a = &running.addrs;
    let designation = s.spec.clinic.designation;
    let horizon = VirtualTime::start_of(
        designation
            .checked_add_months(chrono::Months::new(runner::HORIZON_MONTHS))
            .unwrap_or(designation),
    );
    let mut since = 0u64;
    let mut now = running.app.clock.now();
    driver.advance_to(now);
    loop {
        if driver.handled() >= STEP_LIMIT {
            return Err(LiveError::Failed(format!(
                "step limit {STEP_LIMIT} reached"
            )));
        }
        let (_, clock) = http(a.control, "GET", "/clock", None)?;
        let world_next = clock["next_due"]
            .as_str()
            .and_then(|t| serde_json::from_value::<VirtualTime>(json!(t)).ok());
        let next = match (driver.next_due(), world_next) {
            (Some(x), Some(y)) => x.min(y),
            (Some(x), None) | (None, Some(x)) => x,
            (None, None) => break,
        };
        if next > horizon {
            break;
        }
        if next > now {
            let (st, v) = http(
                a.control,
                "POST",
                "/clock/advance",
                Some(json!({"to": next})),
            )?;
            if st != 200 {
                return Err(LiveError::Failed(format!("advance to {next}: {v}")));
            }
            now = next;
            driver.advance_to(now);
        }
        // What the world delivered to the clinic up to now, in order.
        let (_, inbox) = http(a.control, "GET", &format!("/inbox?since={since}"), None)?;
        let items = inbox["messages"].as_array().cloned().unwrap_or_default();
        if let Some(item) = items.first() {
            since = item["seq"].as_u64().unwrap_or(since + 1);
            let at: VirtualTime = serde_json::from_value(item["at"].clone())
                .map_err(|e| LiveError::Failed(format!("inbox time: {e}")))?;
            let from = actor_of(&item["from"])?;
            let msg = msg_of(item)?;
            driver.deliver(at, from, ActorId::Clinic, msg);
            continue;
        }
        // Then the clinic's own queue, one message at a time; a message for a
        // party away is an HTTP call to its service.
        if let Some(Delivery::Away { to, msg, .. }) = driver.step(now) {
            send(running, to, msg)?;
        }
    }
    let handled = driver.handled();
    let (trace, _) = driver.trace();
    Ok((trace.to_vec(), handled))
}

/// One clinic message as an HTTP call to the service that carries it, its body
/// written by the codec ([`fakes::process::codec`]).
fn send(running: &live::Running, to: ActorId, msg: Msg) -> Result<(), LiveError> {
    let a = &running.addrs;
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
            let line = running.app.world.carrier_params().line;
            fields.insert("line_type".into(), json!(line));
            (a.portal, "/usage-applications")
        }
        (ActorId::ImplementingBody, Msg::CertificateApplication { .. }) => {
            (a.portal, "/certificate-applications")
        }
        (ActorId::ReaderVendor, Msg::ReaderOrder { .. }) => (a.reader_vendor, "/orders"),
        (ActorId::Carrier, Msg::LineOrder) => {
            let p = running.app.world.carrier_params();
            fields.insert("service".into(), json!(p.service));
            fields.insert("line_type".into(), json!(p.line));
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
            fields = codec::to_json(&msg);
            if matches!(msg, Msg::ConnectivityCheck { .. }) {
                fields.insert("to".into(), json!(to));
            }
            (a.control, "/clinic/messages")
        }
        (to, msg) => {
            return Err(LiveError::Unsupported(format!(
                "the clinic sends {msg:?} to {to:?}, which no live service carries"
            )))
        }
    };
    let (st, v) = http(addr, "POST", path, Some(Value::Object(fields)))?;
    if st == 202 || st == 200 {
        Ok(())
    } else {
        Err(LiveError::Unsupported(format!(
            "{path} refused the clinic's {msg:?} (HTTP {st}: {v})"
        )))
    }
}

fn actor_of(v: &Value) -> Result<ActorId, LiveError> {
    serde_json::from_value(v.clone())
        .map_err(|_| LiveError::Failed(format!("inbox: unknown sender {v}")))
}

/// An inbox item read back, by the codec, into the message the clinic state machine
/// takes.
fn msg_of(item: &Value) -> Result<Msg, LiveError> {
    let kind = item["kind"].as_str().unwrap_or("");
    let b = &item["body"];
    let empty = serde_json::Map::new();
    codec::from_body(kind, b.as_object().unwrap_or(&empty))
        .map_err(|e| LiveError::Unsupported(format!("inbox {kind} does not read back: {e}: {b}")))
}

/// A blocking JSON call on loopback: (status, body as JSON or as a string).
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<(u16, Value), LiveError> {
    let fail = |e: std::io::Error| LiveError::Failed(format!("{method} {path}: {e}"));
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut s = TcpStream::connect_timeout(&addr, HTTP_TIMEOUT).map_err(fail)?;
    s.set_read_timeout(Some(HTTP_TIMEOUT)).map_err(fail)?;
    s.set_write_timeout(Some(HTTP_TIMEOUT)).map_err(fail)?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(fail)?;
    let mut raw = Vec::new();
    s.take(64 << 20).read_to_end(&mut raw).map_err(fail)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| LiveError::Failed(format!("{method} {path}: not HTTP")))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| LiveError::Failed(format!("{method} {path}: no status")))?;
    let v = serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_string()));
    Ok((status, v))
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
