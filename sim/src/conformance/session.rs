//! One conformance run: set up the terminal folders and the tasks, start the SUT,
//! steer the faults, stop, gather the [`Evidence`] and hand it to the judge
//! ([`super::judge`]). This is the only part of the gate that does I/O.
//!
//! Timeline of a run (wall clock; the virtual clock stays at 09:00 on the
//! population's epoch, so every answer is reproducible). The faults and limits are
//! the gate's ([`super::gate`]); the built-in gate has all of them:
//! 1. **Outage** (fault `outage`). The file-drop driver is not running. The harness
//!    takes the first task's request files itself (moves them to `swallowed/`) and
//!    answers nothing: the terminal took the request but the line to the implementing
//!    body is down, so `res/` stays empty. The outage ends after `attempts` swallowed
//!    attempts (built-in: two), when a request of another task appears, or after
//!    `max_ms` (built-in: 3 s).
//! 2. **Service.** The real driver ([`crate::terminal`]) starts on the folders and
//!    answers everything (no sooner than the `slow-answers` delay, if any). The reader
//!    drops card confirmations into `face/`, all through the driver's face writer
//!    ([`crate::terminal::FaceDrop`], real name form): a valid card, then an expired
//!    card (C001, fault `card-expired`) and a locked card (C002, fault `card-locked`),
//!    the refusals by the terminal's own rule ([`fakes::eligibility::card_refusal`]).
//!    The bulk job keeps the answering core's delay (`AnswerConfig::bulk_delay_minutes`):
//!    the first download is answered `SegmentOfResult` 2 (processing); the harness
//!    then advances the virtual clock past the delay, so the client's next download
//!    gets the results. The driver answers the drug tasks' `YZKsiquc01req_*` files
//!    too (薬剤情報, `fakes::eligibility::health_info`); the harness keeps a copy of
//!    each answer as it appears in `res/`, to judge the client's report on.
//! 3. **End.** When the SUT exits (or its time limit passes and it is killed), the
//!    driver gets a moment to answer what is left and stops.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fakes::codes::InstitutionCode;
use fakes::eligibility::answer::{AnswerConfig, ReaderConsents, Service, VerifiedCardHolder};
use fakes::eligibility::card_refusal::{CardRefusal, Unconfirmed};
use fakes::eligibility::values::{fmt_date, QualificationValidity, SegmentOfResult};
use fakes::eligibility::{Population, PopulationConfig, Terminal};
use fakes::time::VirtualTime;

use super::evidence::{capture_drug_answers, files_in, Evidence};
use super::gate::GateSpec;
use super::judge::{self, requirements::CciTask, CheckResult};
use super::plan::{self, BULK_ID};
use super::report::{self, RunReport};
use super::{env, TasksFile};
use crate::terminal::{self, DriverConfig, LogOutcome, ManualClock, Processed};

/// How the SUT is started.
#[derive(Debug, Clone)]
pub enum ClientSpec {
    /// A shell command line (`sh -c`), the vendor's software.
    Command(String),
    /// A built-in client, run as `EXE conformance --run-client NAME`.
    Builtin { exe: PathBuf, name: String },
}

impl ClientSpec {
    pub fn label(&self) -> String {
        match self {
            ClientSpec::Command(c) => c.clone(),
            ClientSpec::Builtin { name, .. } => name.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The evidence bundle goes here (must be missing or empty).
    pub out_dir: PathBuf,
    pub client: ClientSpec,
    /// The limits and faults of the run ([`GateSpec::builtin`] unless a gate file is
    /// given).
    pub gate: GateSpec,
}

impl RunConfig {
    /// A run of the built-in gate.
    pub fn new(out_dir: PathBuf, client: ClientSpec) -> Self {
        RunConfig {
            out_dir,
            client,
            gate: GateSpec::builtin(),
        }
    }
}

struct Log {
    t0: Instant,
    lines: Vec<String>,
}

impl Log {
    fn say(&mut self, s: impl AsRef<str>) {
        self.lines.push(format!(
            "{:>6} ms  {}",
            self.t0.elapsed().as_millis(),
            s.as_ref()
        ));
    }
}

fn io_err(p: &Path, e: impl std::fmt::Display) -> String {
    format!("{}: {e}", p.display())
}

fn spawn(cfg: &RunConfig, vars: &[(&str, String)]) -> Result<Child, String> {
    let out = &cfg.out_dir;
    let stdout = fs::File::create(out.join("client.stdout")).map_err(|e| io_err(out, e))?;
    let stderr = fs::File::create(out.join("client.stderr")).map_err(|e| io_err(out, e))?;
    let mut cmd = match &cfg.client {
        ClientSpec::Command(c) => {
            let mut cmd = Command::new("sh");
            cmd.arg("-c").arg(c);
            cmd
        }
        ClientSpec::Builtin { exe, name } => {
            let mut cmd = Command::new(exe);
            cmd.args(["conformance", "--run-client", name]);
            cmd
        }
    };
    cmd.current_dir(out)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.spawn()
        .map_err(|e| format!("cannot start the client {:?}: {e}", cfg.client.label()))
}

/// Run the suite once against `cfg.client`.
pub fn run(cfg: &RunConfig) -> Result<RunReport, String> {
    let t0 = Instant::now();
    let gate = &cfg.gate;
    let out = cfg.out_dir.clone();
    if out.exists()
        && fs::read_dir(&out)
            .map_err(|e| io_err(&out, e))?
            .next()
            .is_some()
    {
        return Err(format!(
            "{}: the evidence folder must be missing or empty",
            out.display()
        ));
    }
    let term = out.join("terminal");
    let (req, res, face) = (term.join("req"), term.join("res"), term.join("face"));
    let swallowed = out.join("swallowed");
    for d in [&req, &res, &face, &swallowed] {
        fs::create_dir_all(d).map_err(|e| io_err(d, e))?;
    }
    let out = out.canonicalize().map_err(|e| io_err(&out, e))?;
    let term = out.join("terminal");
    let (req, face, swallowed) = (term.join("req"), term.join("face"), out.join("swallowed"));
    let mut log = Log {
        t0,
        lines: Vec::new(),
    };

    let pop = Population::new(PopulationConfig {
        seed: cfg.gate.seed,
        households: 10_000,
        ..Default::default()
    });
    let institution: InstitutionCode = "1313120014".parse().map_err(|e| format!("{e:?}"))?;
    let date = pop.config().epoch;
    let now = VirtualTime::at(date, 9, 0);
    let clock = ManualClock::new(now);
    let tasks = plan::tasks(&pop);
    let bulk = plan::bulk_tasks(&pop);
    let cci: Vec<CciTask> = tasks
        .iter()
        .filter_map(|(t, _)| {
            Some(CciTask {
                id: t.id.clone(),
                code: t.character_code?,
                insurer_name: plan::insurer_name(&pop, t, date),
            })
        })
        .collect();
    let answer_config = AnswerConfig::default();
    let reader_card = pop.example(QualificationValidity::Valid);
    let drug = plan::drug_tasks(
        &pop,
        &Service::new(pop.clone(), institution, answer_config.clone())
            .others
            .config,
        date,
        &reader_card,
    );
    let tasks_file = TasksFile {
        version: 1,
        institution_code: institution.to_string(),
        confirmation_date: fmt_date(date),
        time_limit_ms: gate.time_limit.as_millis() as u64,
        answer_timeout_ms: gate.answer_timeout.as_millis() as u64,
        max_attempts: gate.max_attempts,
        retry_min_interval_ms: gate.retry_min_interval.as_millis() as u64,
        expected_face_files: gate.face_statuses().len(),
        tasks: tasks.iter().map(|(t, _)| t.clone()).collect(),
        bulk: bulk.iter().map(|(t, _)| t.clone()).collect(),
        bulk_id: BULK_ID.into(),
        unknown_download: Some(plan::unknown_download()),
        drug: drug.iter().map(|(t, _)| t.clone()).collect(),
    };
    let tasks_path = out.join("tasks.json");
    let results_path = out.join("results.jsonl");
    fs::write(
        &tasks_path,
        serde_json::to_vec_pretty(&tasks_file).map_err(|e| e.to_string())?,
    )
    .map_err(|e| io_err(&tasks_path, e))?;
    fs::write(&results_path, b"").map_err(|e| io_err(&results_path, e))?;
    let vars = [
        (env::TERMINAL_DIR, term.display().to_string()),
        (env::INSTITUTION_CODE, institution.to_string()),
        (env::TASKS, tasks_path.display().to_string()),
        (env::RESULTS, results_path.display().to_string()),
        (env::CONFIRMATION_DATE, fmt_date(date)),
        (env::TIME_LIMIT_MS, tasks_file.time_limit_ms.to_string()),
        (
            env::ANSWER_TIMEOUT_MS,
            tasks_file.answer_timeout_ms.to_string(),
        ),
        (env::MAX_ATTEMPTS, gate.max_attempts.to_string()),
        (
            env::RETRY_MIN_INTERVAL_MS,
            tasks_file.retry_min_interval_ms.to_string(),
        ),
        (
            env::EXPECTED_FACE_FILES,
            tasks_file.expected_face_files.to_string(),
        ),
    ];
    log.say(format!(
        "start client {:?}; gate {:?}; {} tasks; {}",
        cfg.client.label(),
        gate.name,
        tasks.len(),
        match gate.outage {
            Some((n, _)) => format!("outage first ({n} attempts)"),
            None => "no outage".into(),
        }
    ));
    let mut child = spawn(cfg, &vars)?;

    // First time each request name was seen in req/ (ms since start).
    let mut first_seen: BTreeMap<String, u128> = BTreeMap::new();
    let mut outage_task: Option<String> = None;
    let mut swallowed_n = 0usize;
    let mut driver: Option<terminal::TerminalDriver> = None;
    let mut faces: Vec<(String, &'static str)> = Vec::new();
    let mut clock_advanced = false;
    let res = term.join("res");
    let mut drug_answers: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut timed_out = false;
    let exit_status;
    loop {
        let mut names: Vec<(u128, String)> = Vec::new();
        if let Ok(rd) = fs::read_dir(&req) {
            for e in rd.flatten() {
                let Ok(n) = e.file_name().into_string() else {
                    continue;
                };
                if n.starts_with('.') || n.ends_with(".tmp") || !e.path().is_file() {
                    continue;
                }
                let at = *first_seen
                    .entry(n.clone())
                    .or_insert_with(|| t0.elapsed().as_millis());
                names.push((at, n));
            }
        }
        names.sort();
        if driver.is_none() {
            let (outage_attempts, outage_max) = gate.outage.unwrap_or((0, Duration::ZERO));
            let mut end = outage_attempts == 0 || t0.elapsed() > outage_max;
            for (_, n) in &names {
                if end {
                    break;
                }
                let task = plan::task_of(n, &tasks).map(str::to_string);
                if outage_task.is_none() {
                    outage_task = task.clone().or(Some(String::new()));
                }
                if task == outage_task && swallowed_n < outage_attempts {
                    let _ = fs::rename(req.join(n), swallowed.join(n));
                    swallowed_n += 1;
                    log.say(format!("outage: took {n} and answered nothing"));
                } else {
                    end = true;
                }
            }
            if swallowed_n >= outage_attempts {
                end = true;
            }
            if end {
                log.say(if gate.outage.is_some() {
                    "outage over: file-drop driver started"
                } else {
                    "file-drop driver started"
                });
                let d = terminal::start(
                    &term,
                    Terminal::new(Service::new(
                        pop.clone(),
                        institution,
                        answer_config.clone(),
                    )),
                    clock.clock(),
                    DriverConfig {
                        poll_interval: Duration::from_millis(20),
                        processed: Processed::Move,
                        answer_delay: gate.answer_delay,
                        ..Default::default()
                    },
                )
                .map_err(|e| io_err(&term, e))?;
                let holder = VerifiedCardHolder::from(reader_card.clone());
                let p = d
                    .card_confirmation(&holder, ReaderConsents::default())
                    .map_err(|e| io_err(&face, e))?;
                let n = p
                    .file_name()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                log.say(format!("reader: valid card → face/{n}"));
                faces.push((n, "valid"));
                for (reason, status) in [
                    (CardRefusal::CertificateExpired, "card-expired"),
                    (CardRefusal::PinLocked, "card-locked"),
                ]
                .into_iter()
                .filter(|(_, st)| gate.face_statuses().contains(st))
                {
                    let p = d
                        .face_drop()
                        .unconfirmed_card(Unconfirmed::Refused(reason))
                        .map_err(|e| io_err(&face, e))?;
                    let n = p
                        .file_name()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    log.say(format!("reader: {status} card → face/{n}"));
                    faces.push((n, status));
                }
                driver = Some(d);
            }
        }
        if driver.is_some() {
            capture_drug_answers(&res, &mut drug_answers);
        }
        // The first bulk download answered "processing": the virtual time moves past
        // the bulk delay, so the next download finds the job done.
        if let (Some(d), false) = (&driver, clock_advanced) {
            if d.log().iter().any(|e| {
                e.request.starts_with("OQSmuquc02req_")
                    && matches!(&e.outcome, LogOutcome::Answered(s) if s.segment == SegmentOfResult::Processing)
            }) {
                clock.advance_minutes(answer_config.bulk_delay_minutes + 1);
                clock_advanced = true;
                log.say(format!(
                    "bulk download answered processing: virtual clock advanced {} min",
                    answer_config.bulk_delay_minutes + 1
                ));
            }
        }
        match child.try_wait() {
            Ok(Some(st)) => {
                exit_status = st.code();
                log.say(format!("client exited: {st}"));
                break;
            }
            Ok(None) => {}
            Err(e) => return Err(format!("waiting for the client: {e}")),
        }
        if t0.elapsed() > gate.time_limit {
            let _ = child.kill();
            let _ = child.wait();
            timed_out = true;
            exit_status = None;
            log.say("time limit reached: client killed");
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // Let the driver answer what is still in req/ (bounded), then stop it. A client
    // that ended during the outage leaves no driver, so nothing was answered.
    let mut answered: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut error_codes: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut download_segments: Vec<SegmentOfResult> = Vec::new();
    let unknown = plan::unknown_download();
    let unknown_request = format!("OQSmuquc02req_{BULK_ID}_{}.xml", unknown.id);
    let mut unknown_error: Option<Option<String>> = None;
    if let Some(d) = driver {
        let until = Instant::now() + Duration::from_millis(600);
        // `.err` files are the terminal's own and stay.
        while Instant::now() < until && files_in(&req).iter().any(|(n, _)| !n.ends_with(".err")) {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(60));
        let dlog = d.log();
        d.stop();
        capture_drug_answers(&res, &mut drug_answers);
        for e in &dlog {
            log.say(format!(
                "terminal: {} → {} {}",
                e.request,
                e.response,
                match &e.outcome {
                    LogOutcome::Answered(s) | LogOutcome::Face(s) => format!(
                        "segment {} error {:?} validity {:?}",
                        s.segment.code(),
                        s.error_code.map(|c| c.code()),
                        s.validities.iter().map(|v| v.code()).collect::<Vec<_>>()
                    ),
                    LogOutcome::AlreadyAnswered => "already answered".into(),
                    LogOutcome::Failed(m) => format!("failed: {m}"),
                }
            ));
            if let LogOutcome::Answered(s) = &e.outcome {
                if e.request == unknown_request {
                    unknown_error = Some(s.error_code.map(|c| c.code().into()));
                } else if e.request.starts_with("OQSmuquc02req_") {
                    download_segments.push(s.segment);
                }
                if let Some(t) = plan::task_of(&e.request, &tasks) {
                    answered
                        .entry(t.to_string())
                        .or_default()
                        .push(e.request.clone());
                    error_codes.insert(t.to_string(), s.error_code.map(|c| c.code().into()));
                }
            }
        }
    } else {
        log.say("the client ended during the outage");
    }
    let mut evidence = Evidence {
        institution: institution.to_string(),
        date: fmt_date(date),
        tasks,
        cci,
        bulk,
        unknown,
        unknown_request,
        drug,
        max_attempts: gate.max_attempts,
        retry_min_interval_ms: gate.retry_min_interval.as_millis(),
        time_limit_ms: gate.time_limit.as_millis(),
        outage_planned: gate.outage.is_some(),
        faces_planned: gate.face_statuses(),
        first_seen,
        outage_task,
        swallowed_n,
        answered,
        error_codes,
        faces,
        exit_status,
        timed_out,
        download_segments,
        unknown_error,
        drug_answers: drug_answers.into_iter().collect(),
        ..Evidence::default()
    };
    evidence.read_folders(&term, &swallowed, &results_path);
    let judged = judge::judge(&evidence);
    finish(cfg, &out, log, judged, exit_status, timed_out, t0)
}

fn finish(
    cfg: &RunConfig,
    out: &Path,
    mut log: Log,
    checks: Vec<CheckResult>,
    exit_status: Option<i32>,
    timed_out: bool,
    t0: Instant,
) -> Result<RunReport, String> {
    let judged = || checks.iter().filter(|c| !c.skipped);
    let passed_n = judged().filter(|c| c.passed).count();
    let total = judged().count();
    let skipped_n = checks.len() - total;
    for c in &checks {
        log.say(format!(
            "{} {}: {}",
            match (c.skipped, c.passed) {
                (true, _) => "SKIP",
                (false, true) => "PASS",
                (false, false) => "FAIL",
            },
            c.id,
            c.detail
        ));
    }
    let report = RunReport {
        client: cfg.client.label(),
        passed: passed_n == total,
        score: if total == 0 {
            0.0
        } else {
            (passed_n as f64 / total as f64 * 1000.0).round() / 1000.0
        },
        checks_passed: passed_n,
        checks_total: total,
        checks_skipped: skipped_n,
        gate: cfg.gate.name.clone(),
        failed_requirements: checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.id.clone())
            .collect(),
        checks,
        exit_status,
        timed_out,
        duration_ms: t0.elapsed().as_millis(),
        evidence_dir: out.to_path_buf(),
    };
    let mut text = log.lines.join("\n");
    text.push('\n');
    report::write(out, &text, &report)?;
    Ok(report)
}
