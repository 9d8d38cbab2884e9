//! One conformance run: set up the terminal folders and the tasks, start the SUT,
//! steer the faults, stop, collect the evidence bundle and judge each requirement.
//!
//! Timeline of a run (wall clock; the virtual clock stays at 09:00 on the
//! population's epoch, so every answer is reproducible):
//! 1. **Outage.** The file-drop driver is not running. The harness takes the first
//!    task's request files itself (moves them to `swallowed/`) and answers nothing:
//!    the terminal took the request but the line to the implementing body is down, so
//!    `res/` stays empty. The outage ends after two swallowed attempts, when a request
//!    of another task appears, or after 3 s.
//! 2. **Service.** The real driver ([`crate::terminal`]) starts on the folders and
//!    answers everything. The reader drops three card confirmations into `face/`,
//!    all through the driver's face writer ([`crate::terminal::FaceDrop`], real name
//!    form): a valid card, an expired card (C001) and a locked card (C002), the
//!    refusals by the terminal's own rule ([`fakes::eligibility::card_refusal`]).
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

use serde::Serialize;

use fakes::codes::InstitutionCode;
use fakes::eligibility::answer::{AnswerConfig, ReaderConsents, Service, VerifiedCardHolder};
use fakes::eligibility::card_refusal::{CardRefusal, Unconfirmed};
use fakes::eligibility::values::{fmt_date, QualificationValidity, SegmentOfResult};
use fakes::eligibility::{Population, PopulationConfig, SearchKey, Terminal};
use fakes::time::VirtualTime;

use super::judges::{self, BulkEvidence, CciTask, DrugEvidence};
use super::{env, DrugTask, ResultLine, Task, TasksFile, UnknownDownload, REQUIREMENTS};
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
    pub time_limit: Duration,
    pub seed: u64,
    pub answer_timeout: Duration,
    pub max_attempts: u32,
    pub retry_min_interval: Duration,
}

impl RunConfig {
    pub fn new(out_dir: PathBuf, client: ClientSpec) -> Self {
        RunConfig {
            out_dir,
            client,
            time_limit: Duration::from_secs(20),
            seed: 1,
            answer_timeout: Duration::from_millis(400),
            max_attempts: 5,
            retry_min_interval: Duration::from_millis(200),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub id: String,
    pub passed: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub client: String,
    pub passed: bool,
    /// checks_passed / checks_total.
    pub score: f64,
    pub checks_passed: usize,
    pub checks_total: usize,
    pub failed_requirements: Vec<String>,
    pub checks: Vec<CheckResult>,
    pub exit_status: Option<i32>,
    pub timed_out: bool,
    pub duration_ms: u128,
    pub evidence_dir: PathBuf,
}

/// What each task is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// Only counted (NO-LOSS, and RETRY for the first one).
    Plain,
    Validity(u8),
    Abnormal,
}

const OUTAGE_ATTEMPTS: usize = 2;
const OUTAGE_MAX: Duration = Duration::from_secs(3);
const FACE_FILES: usize = 3;

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

/// The tasks of a run and what each is for.
fn tasks(pop: &Population) -> Vec<(Task, Purpose)> {
    use QualificationValidity as V;
    let task = |id: &str, k: &SearchKey| Task {
        id: id.into(),
        insurer_number: k.insurer_number.to_string(),
        insured_card_symbol: k.symbol.clone(),
        insured_identification_number: k.number.clone(),
        insured_branch_number: k.branch.clone(),
        birthdate: fmt_date(k.birthdate),
        character_code: None,
    };
    let v1 = pop.example(V::Valid);
    let mut out = vec![(task("t01", &v1), Purpose::Plain)];
    for (i, v) in [
        V::Valid,
        V::Invalid,
        V::InvalidNewerExists,
        V::NoRecord,
        V::SeveralMatches,
    ]
    .into_iter()
    .enumerate()
    {
        let n = i as u8 + 1;
        out.push((
            task(&format!("t{:02}", i + 2), &pop.example(v)),
            Purpose::Validity(n),
        ));
    }
    // A mistyped insurer number (wrong check digit): the answer is SegmentOfResult 9.
    let mut bad = task("t07", &v1);
    let last = bad
        .insurer_number
        .pop()
        .and_then(|c| c.to_digit(10))
        .unwrap_or(0);
    bad.insurer_number
        .push(char::from_digit((last + 1) % 10, 10).unwrap_or('0'));
    out.push((bad, Purpose::Abnormal));
    out.push((task("t08", &v1), Purpose::Plain));
    // CharacterCodeIdentifier: t02 asks for UTF-8 (0), t04 for Shift_JIS (1)
    // (neither the outage task nor the last one, whose own broken clients lose them).
    out[1].0.character_code = Some(0);
    out[3].0.character_code = Some(1);
    out
}

/// The id in the bulk file names.
const BULK_ID: &str = "bulk01";

/// The refused download: a reception number in the form the answering core issues
/// (`YYYYMMDDHHmm` + 6 digits) stamped 1900, so it can never have been issued.
fn unknown_download() -> UnknownDownload {
    UnknownDownload {
        id: "e01".into(),
        reception_number: "190001010000000001".into(),
    }
}

/// The bulk group and each patient's expected QualificationValidity.
fn bulk_tasks(pop: &Population) -> Vec<(Task, u8)> {
    use QualificationValidity as V;
    [V::Valid, V::Invalid, V::NoRecord]
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let k = pop.example(v);
            (
                Task {
                    id: format!("b{:02}", i + 1),
                    insurer_number: k.insurer_number.to_string(),
                    insured_card_symbol: k.symbol.clone(),
                    insured_identification_number: k.number.clone(),
                    insured_branch_number: k.branch.clone(),
                    birthdate: fmt_date(k.birthdate),
                    character_code: None,
                },
                v.code().parse().unwrap_or(0),
            )
        })
        .collect()
}

/// The drug tasks: `d01` for a patient who consents to 薬剤情報, `d02` for one who
/// does not, each with whether they consent. Chosen by the answering core's own
/// consent rule ([`fakes::eligibility::health_info::standing_consents`] with the
/// service's [`fakes::eligibility::other::OtherConfig`]), among people with one
/// record on `date`, a branch number, and not the card the reader presents (whose
/// consent given at the reader would override the standing one). Period: the twelve
/// months up to `date`.
fn drug_tasks(
    pop: &Population,
    cfg: &fakes::eligibility::other::OtherConfig,
    date: chrono::NaiveDate,
    reader_card: &SearchKey,
) -> Vec<(DrugTask, bool)> {
    use fakes::eligibility::health_info::standing_consents;
    let month = |d: chrono::NaiveDate| d.format("%Y%m").to_string();
    let start = month(date - chrono::Months::new(11));
    let mut out: Vec<(DrugTask, bool)> = Vec::new();
    for want in [true, false] {
        let found = (0..2_000u64)
            .flat_map(|h| (0..2).map(move |i| (h, i)))
            .find_map(|(h, i)| {
                let k = pop.key_of(h, i)?;
                let branch = k.branch.clone()?;
                (k != *reader_card
                    && standing_consents(pop, h, i, cfg.p_drug_consent, cfg.p_checkup_consent).0
                        == want
                    && pop.lookup(&k, date).records.len() == 1)
                    .then(|| DrugTask {
                        id: format!("d{:02}", out.len() + 1),
                        insurer_number: k.insurer_number.to_string(),
                        insured_card_symbol: k.symbol.clone(),
                        insured_identification_number: k.number.clone(),
                        insured_branch_number: branch,
                        start_month: start.clone(),
                        end_month: month(date),
                    })
            });
        if let Some(t) = found {
            out.push((t, want));
        }
    }
    out
}

/// Keep a copy of every complete `YZKsiquc01res_*` answer in `res/` (a client may
/// consume its answers).
fn capture_drug_answers(res: &Path, into: &mut BTreeMap<String, Vec<u8>>) {
    let Ok(rd) = fs::read_dir(res) else {
        return;
    };
    for e in rd.flatten() {
        let Ok(n) = e.file_name().into_string() else {
            continue;
        };
        if !n.starts_with("YZKsiquc01res_") || into.contains_key(&n) {
            continue;
        }
        if let Ok(b) = fs::read(e.path()) {
            if b.windows(9).any(|w| w == b"</XmlMsg>") {
                into.insert(n, b);
            }
        }
    }
}

/// The population's InsurerName for a task (the first record), on `date`.
fn insurer_name(pop: &Population, t: &Task, date: chrono::NaiveDate) -> Option<String> {
    let key = SearchKey {
        insurer_number: t.insurer_number.parse().ok()?,
        symbol: t.insured_card_symbol.clone(),
        number: t.insured_identification_number.clone(),
        branch: t.insured_branch_number.clone(),
        birthdate: chrono::NaiveDate::parse_from_str(&t.birthdate, "%Y%m%d").ok()?,
    };
    pop.lookup(&key, date)
        .records
        .first()
        .map(|r| r.qualification.insurer_name.clone())
}

/// The task a request file belongs to: `OQSsiquc01req_<id>.xml` or `…_<id>_<n>.xml`.
fn task_of<'a>(name: &str, tasks: &'a [(Task, Purpose)]) -> Option<&'a str> {
    let mid = name.strip_prefix("OQSsiquc01req_")?.strip_suffix(".xml")?;
    tasks
        .iter()
        .map(|(t, _)| t.id.as_str())
        .find(|id| mid == *id || mid.strip_prefix(id).is_some_and(|r| r.starts_with('_')))
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

fn files_in(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
                .filter_map(|e| {
                    let n = e.file_name().into_string().ok()?;
                    if n.starts_with('.') {
                        return None;
                    }
                    Some((n, fs::read(e.path()).ok()?))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Run the suite once against `cfg.client`.
pub fn run(cfg: &RunConfig) -> Result<RunReport, String> {
    let t0 = Instant::now();
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
        seed: cfg.seed,
        households: 10_000,
        ..Default::default()
    });
    let institution: InstitutionCode = "1313120014".parse().map_err(|e| format!("{e:?}"))?;
    let date = pop.config().epoch;
    let now = VirtualTime::at(date, 9, 0);
    let clock = ManualClock::new(now);
    let tasks = tasks(&pop);
    let bulk = bulk_tasks(&pop);
    let cci: Vec<CciTask> = tasks
        .iter()
        .filter_map(|(t, _)| {
            Some(CciTask {
                id: t.id.clone(),
                code: t.character_code?,
                insurer_name: insurer_name(&pop, t, date),
            })
        })
        .collect();
    let answer_config = AnswerConfig::default();
    let reader_card = pop.example(QualificationValidity::Valid);
    let drug = drug_tasks(
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
        time_limit_ms: cfg.time_limit.as_millis() as u64,
        answer_timeout_ms: cfg.answer_timeout.as_millis() as u64,
        max_attempts: cfg.max_attempts,
        retry_min_interval_ms: cfg.retry_min_interval.as_millis() as u64,
        expected_face_files: FACE_FILES,
        tasks: tasks.iter().map(|(t, _)| t.clone()).collect(),
        bulk: bulk.iter().map(|(t, _)| t.clone()).collect(),
        bulk_id: BULK_ID.into(),
        unknown_download: Some(unknown_download()),
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
        (env::MAX_ATTEMPTS, cfg.max_attempts.to_string()),
        (
            env::RETRY_MIN_INTERVAL_MS,
            tasks_file.retry_min_interval_ms.to_string(),
        ),
        (env::EXPECTED_FACE_FILES, FACE_FILES.to_string()),
    ];
    log.say(format!(
        "start client {:?}; {} tasks; outage first",
        cfg.client.label(),
        tasks.len()
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
            let mut end = t0.elapsed() > OUTAGE_MAX;
            for (_, n) in &names {
                if end {
                    break;
                }
                let task = task_of(n, &tasks).map(str::to_string);
                if outage_task.is_none() {
                    outage_task = task.clone().or(Some(String::new()));
                }
                if task == outage_task && swallowed_n < OUTAGE_ATTEMPTS {
                    let _ = fs::rename(req.join(n), swallowed.join(n));
                    swallowed_n += 1;
                    log.say(format!("outage: took {n} and answered nothing"));
                } else {
                    end = true;
                }
            }
            if swallowed_n >= OUTAGE_ATTEMPTS {
                end = true;
            }
            if end {
                log.say("outage over: file-drop driver started");
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
                ] {
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
        if t0.elapsed() > cfg.time_limit {
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
    let unknown = unknown_download();
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
                if let Some(t) = task_of(&e.request, &tasks) {
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
    let judged = judge(&Judge {
        cfg,
        tasks: &tasks,
        institution: &institution.to_string(),
        date: &fmt_date(date),
        term: &term,
        swallowed: &swallowed,
        results_path: &results_path,
        first_seen: &first_seen,
        outage_task: outage_task.as_deref(),
        swallowed_n,
        answered: &answered,
        error_codes: &error_codes,
        faces: &faces,
        exit_status,
        timed_out,
        cci: &cci,
        bulk: &bulk,
        download_segments: &download_segments,
        unknown: &unknown,
        unknown_request: &unknown_request,
        unknown_error: unknown_error.as_ref().map(|c| c.as_deref()),
        drug: &drug,
        drug_answers: &drug_answers.into_iter().collect::<Vec<_>>(),
    });
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
    let passed_n = checks.iter().filter(|c| c.passed).count();
    let total = checks.len();
    for c in &checks {
        log.say(format!(
            "{} {}: {}",
            if c.passed { "PASS" } else { "FAIL" },
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
    let p = out.join("harness.log");
    fs::write(&p, text).map_err(|e| io_err(&p, e))?;
    let p = out.join("report.json");
    fs::write(
        &p,
        serde_json::to_vec_pretty(&report).map_err(|e| e.to_string())?,
    )
    .map_err(|e| io_err(&p, e))?;
    let p = out.join("junit.xml");
    fs::write(&p, junit(std::slice::from_ref(&report))).map_err(|e| io_err(&p, e))?;
    Ok(report)
}

/// JUnit XML: one suite per client, one case per requirement.
pub fn junit(reports: &[RunReport]) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("onsim-conformance");
    for r in reports {
        let mut suite = TestSuite::new(format!("conformance: {}", r.client));
        for c in &r.checks {
            let status = if c.passed {
                TestCaseStatus::success()
            } else {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                st.set_message(c.detail.clone());
                st
            };
            let mut case = TestCase::new(c.id.clone(), status);
            case.set_classname(format!("conformance.{}", r.client));
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report.to_string().unwrap_or_default()
}

struct Judge<'a> {
    cfg: &'a RunConfig,
    tasks: &'a [(Task, Purpose)],
    institution: &'a str,
    date: &'a str,
    term: &'a Path,
    swallowed: &'a Path,
    results_path: &'a Path,
    first_seen: &'a BTreeMap<String, u128>,
    outage_task: Option<&'a str>,
    swallowed_n: usize,
    answered: &'a BTreeMap<String, Vec<String>>,
    error_codes: &'a BTreeMap<String, Option<String>>,
    faces: &'a [(String, &'static str)],
    exit_status: Option<i32>,
    timed_out: bool,
    cci: &'a [CciTask],
    bulk: &'a [(Task, u8)],
    download_segments: &'a [SegmentOfResult],
    unknown: &'a UnknownDownload,
    unknown_request: &'a str,
    /// The ErrorCode of the terminal's answer to the refused download (outer
    /// `None`: never answered).
    unknown_error: Option<Option<&'a str>>,
    drug: &'a [(DrugTask, bool)],
    /// The terminal's `YZKsiquc01res_*` answers.
    drug_answers: &'a [(String, Vec<u8>)],
}

/// Whether a request file is one of the bulk group's.
fn is_bulk_file(n: &str) -> bool {
    n.starts_with("OQSmuquc01req_") || n.starts_with("OQSmuquc02req_")
}

fn valid_name(n: &str) -> bool {
    let Some(mid) = [
        "OQSsiquc01req_",
        "OQSmuquc01req_",
        "OQSmuquc02req_",
        "YZKsiquc01req_",
    ]
    .iter()
    .find_map(|p| n.strip_prefix(p))
    .and_then(|m| m.strip_suffix(".xml")) else {
        return false;
    };
    (1..=64).contains(&mid.len())
        && mid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn fields_ok(bytes: &[u8], task: &Task, institution: &str, date: &str) -> Result<(), String> {
    use fakes::eligibility::tree::{parse, TreeLimits};
    let (text, _) = fakes::eligibility::encoding::decode(bytes).map_err(|e| e.to_string())?;
    let doc = parse(&text, TreeLimits::default()).map_err(|e| e.to_string())?;
    let root = doc.root();
    if root.name() != "XmlMsg" {
        return Err(format!("root is {} not XmlMsg", root.name()));
    }
    let h = root.req_child("MessageHeader").map_err(|e| e.to_string())?;
    let b = root.req_child("MessageBody").map_err(|e| e.to_string())?;
    let s = b
        .req_child("QualificationConfirmSearchInfo")
        .map_err(|e| e.to_string())?;
    let want = [
        (h, "MedicalInstitutionCode", Some(institution.to_string())),
        (h, "QualificationConfirmationDate", Some(date.to_string())),
        (s, "InsurerNumber", Some(task.insurer_number.clone())),
        (s, "InsuredCardSymbol", task.insured_card_symbol.clone()),
        (
            s,
            "InsuredIdentificationNumber",
            Some(task.insured_identification_number.clone()),
        ),
        (s, "InsuredBranchNumber", task.insured_branch_number.clone()),
        (s, "Birthdate", Some(task.birthdate.clone())),
    ];
    for (e, name, want) in want {
        let got = e.opt_text(name).map_err(|e| e.to_string())?;
        if got.map(str::trim) != want.as_deref() {
            return Err(format!("{name}: expected {want:?}, got {got:?}"));
        }
    }
    Ok(())
}

pub(super) fn check(id: &str, problems: Vec<String>, ok_detail: impl Into<String>) -> CheckResult {
    CheckResult {
        id: id.into(),
        passed: problems.is_empty(),
        detail: if problems.is_empty() {
            ok_detail.into()
        } else {
            let n = problems.len();
            let mut d: Vec<String> = problems.into_iter().take(5).collect();
            if n > 5 {
                d.push(format!("… {} more", n - 5));
            }
            d.join("; ")
        },
    }
}

fn judge(j: &Judge<'_>) -> Vec<CheckResult> {
    // Every request the terminal took: answered (req/processed/) or swallowed.
    let mut taken = files_in(&j.term.join("req").join("processed"));
    taken.extend(files_in(j.swallowed));
    // `.err` files are the terminal's own (failed bulk requests), not requests.
    let leftover: Vec<_> = files_in(&j.term.join("req"))
        .into_iter()
        .filter(|(n, _)| !n.ends_with(".err"))
        .collect();
    let results_text = fs::read_to_string(j.results_path).unwrap_or_default();
    let mut results: Vec<ResultLine> = Vec::new();
    let mut bad_lines = Vec::new();
    for (i, l) in results_text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<ResultLine>(l) {
            Ok(r) => results.push(r),
            Err(e) => bad_lines.push(format!("ONSIM_RESULTS line {}: {e}", i + 1)),
        }
    }
    let task_lines = |id: &str| -> Vec<&ResultLine> {
        results
            .iter()
            .filter(|r| r.task.as_deref() == Some(id))
            .collect()
    };
    let mut out = Vec::new();

    // REQ-FILE-NAME
    let mut p = Vec::new();
    for (n, _) in taken.iter().chain(leftover.iter()) {
        if !valid_name(n) {
            p.push(format!("{n}: not OQSsiquc01req_<id>.xml"));
        } else if n.starts_with("YZKsiquc01req_") {
            if !j
                .drug
                .iter()
                .any(|(t, _)| judges::is_drug_request_of(n, &t.id))
            {
                p.push(format!("{n}: names no drug task"));
            }
        } else if is_bulk_file(n) {
            let mid = &n["OQSmuquc01req_".len()..n.len() - ".xml".len()];
            if mid != BULK_ID && !mid.starts_with(&format!("{BULK_ID}_")) {
                p.push(format!("{n}: names no bulk group"));
            }
        } else if task_of(n, j.tasks).is_none() {
            p.push(format!("{n}: names no task"));
        }
    }
    if taken.is_empty() {
        p.push("no request file was written".into());
    }
    out.push(check(
        "REQ-FILE-NAME",
        p,
        format!("{} request files, all well named", taken.len()),
    ));

    out.push(judges::encoding(&taken));
    let task_results: Vec<ResultLine> = results
        .iter()
        .filter(|r| r.task.is_some())
        .cloned()
        .collect();
    out.push(judges::encoding_cci(j.cci, &taken, &task_results));
    out.push(judges::face_name(j.faces, &results));
    let err_files: Vec<String> = files_in(&j.term.join("req"))
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| n.ends_with(".err"))
        .collect();
    out.push(judges::err_file(&judges::ErrEvidence {
        id: &j.unknown.id,
        request: j.unknown_request,
        taken: taken.iter().any(|(n, _)| n == j.unknown_request),
        answer_error: j.unknown_error,
        err_files: &err_files,
        results: &task_results,
    }));
    let drug_evidence = DrugEvidence {
        institution: j.institution,
        tasks: j.drug,
        taken: &taken,
        answers: j.drug_answers,
        results: &task_results,
    };
    out.push(judges::drug_info(&drug_evidence));
    out.push(judges::consent(&drug_evidence));
    let bulk_taken: Vec<_> = taken
        .iter()
        .filter(|(n, _)| n != j.unknown_request && !n.starts_with("YZKsiquc01req_"))
        .cloned()
        .collect();
    out.push(judges::bulk(&BulkEvidence {
        institution: j.institution,
        tasks: j.bulk,
        taken: &bulk_taken,
        download_segments: j.download_segments,
        results: &task_results,
    }));

    // REQ-FIELDS
    let mut p = Vec::new();
    for (n, b) in &taken {
        let Some(t) = task_of(n, j.tasks) else {
            continue;
        };
        let Some((task, _)) = j.tasks.iter().find(|(x, _)| x.id == t) else {
            continue;
        };
        if let Err(e) = fields_ok(b, task, j.institution, j.date) {
            p.push(format!("{n}: {e}"));
        }
    }
    if taken.is_empty() {
        p.push("no request file was written".into());
    }
    out.push(check(
        "REQ-FIELDS",
        p,
        "every request carries its task's fields",
    ));

    // REQ-VALIDITY-n and REQ-ABNORMAL
    for (task, purpose) in j.tasks {
        match purpose {
            Purpose::Validity(n) => {
                let lines = task_lines(&task.id);
                let p = match lines.as_slice() {
                    [l] if l.outcome.as_deref() == Some("answered") && l.validity == Some(*n) => {
                        vec![]
                    }
                    [l] => vec![format!(
                        "task {}: expected outcome answered, validity {n}; reported {:?}, validity {:?}",
                        task.id, l.outcome, l.validity
                    )],
                    v => vec![format!("task {}: {} result lines, expected 1", task.id, v.len())],
                };
                out.push(check(
                    &format!("REQ-VALIDITY-{n}"),
                    p,
                    format!("task {} reported as validity {n}", task.id),
                ));
            }
            Purpose::Abnormal => {
                let want = j.error_codes.get(&task.id).cloned().flatten();
                let lines = task_lines(&task.id);
                let p = match lines.as_slice() {
                    [l] if l.outcome.as_deref() == Some("abnormal")
                        && l.validity.is_none()
                        && (l.error_code == want || want.is_none()) => vec![],
                    [l] => vec![format!(
                        "task {}: the answer was SegmentOfResult 9 (ErrorCode {want:?}); reported outcome {:?}, validity {:?}, error_code {:?}",
                        task.id, l.outcome, l.validity, l.error_code
                    )],
                    v => vec![format!("task {}: {} result lines, expected 1", task.id, v.len())],
                };
                out.push(check(
                    "REQ-ABNORMAL",
                    p,
                    format!("task {} reported abnormal with ErrorCode {want:?}", task.id),
                ));
            }
            Purpose::Plain => {}
        }
    }

    // REQ-RETRY
    let mut p = Vec::new();
    match j.outage_task.filter(|t| !t.is_empty()) {
        None => p.push("no request for a task arrived during the outage".into()),
        Some(t) => {
            let mut attempts: Vec<(u128, &String)> = j
                .first_seen
                .iter()
                .filter(|(n, _)| task_of(n, j.tasks) == Some(t))
                .map(|(n, at)| (*at, n))
                .collect();
            attempts.sort();
            if attempts.len() <= j.swallowed_n {
                p.push(format!(
                    "task {t}: {} attempt(s) for {} swallowed by the outage: not retried",
                    attempts.len(),
                    j.swallowed_n
                ));
            }
            if attempts.len() > j.cfg.max_attempts as usize {
                p.push(format!(
                    "task {t}: {} attempts, more than ONSIM_MAX_ATTEMPTS {}",
                    attempts.len(),
                    j.cfg.max_attempts
                ));
            }
            let min = j.cfg.retry_min_interval.as_millis();
            // 20 ms tolerance for the harness's own polling.
            if let Some(w) = attempts
                .windows(2)
                .find(|w| w[1].0.saturating_sub(w[0].0) + 20 < min)
            {
                p.push(format!(
                    "task {t}: {} and {} only {} ms apart (ONSIM_RETRY_MIN_INTERVAL_MS {min})",
                    w[0].1,
                    w[1].1,
                    w[1].0.saturating_sub(w[0].0)
                ));
            }
            if !task_lines(t)
                .iter()
                .any(|l| l.outcome.as_deref() == Some("answered"))
            {
                p.push(format!(
                    "task {t}: never reported answered after the outage"
                ));
            }
        }
    }
    out.push(check(
        "REQ-RETRY",
        p,
        format!(
            "{} attempt(s) swallowed by the outage, retried within limits and answered",
            j.swallowed_n
        ),
    ));

    // REQ-CARD-*
    for (name, want, id) in [
        ("valid", "valid", "REQ-CARD-VALID"),
        ("card-expired", "card-expired", "REQ-CARD-EXPIRED"),
        ("card-locked", "card-locked", "REQ-CARD-LOCKED"),
    ] {
        let p = match j.faces.iter().find(|(_, s)| *s == name) {
            None => vec![
                "the card confirmation was never dropped (client ended during the outage)".into(),
            ],
            Some((file, _)) => {
                let lines: Vec<_> = results
                    .iter()
                    .filter(|r| r.face.as_deref() == Some(file.as_str()))
                    .collect();
                // A face file not found or reported more than once is
                // REQ-FACE-NAME's failure; here: what a reported line says.
                lines
                    .iter()
                    .filter(|l| {
                        !(l.status.as_deref() == Some(want)
                            && (want != "valid" || l.validity == Some(1)))
                    })
                    .map(|l| {
                        format!(
                            "face/{file}: expected status {want:?}; reported {:?} (validity {:?})",
                            l.status, l.validity
                        )
                    })
                    .collect()
            }
        };
        out.push(check(
            id,
            p,
            format!("{name} card confirmation reported as {want}"),
        ));
    }

    // REQ-NO-LOSS
    let mut p = bad_lines;
    for (task, _) in j.tasks {
        let n_taken = taken
            .iter()
            .filter(|(n, _)| task_of(n, j.tasks) == Some(task.id.as_str()))
            .count();
        if n_taken == 0 {
            p.push(format!(
                "task {}: no request ever reached the terminal",
                task.id
            ));
        }
        if let Some(a) = j.answered.get(&task.id).filter(|a| a.len() > 1) {
            p.push(format!(
                "task {}: answered {} times ({})",
                task.id,
                a.len(),
                a.join(", ")
            ));
        }
        let k = task_lines(&task.id).len();
        if k != 1 {
            p.push(format!("task {}: {k} result lines, expected 1", task.id));
        }
    }
    for (n, _) in &leftover {
        p.push(format!("{n}: left unanswered in req/"));
    }
    out.push(check(
        "REQ-NO-LOSS",
        p,
        "every task reached the terminal once-answered and was reported once",
    ));

    // REQ-EXIT
    let p = if j.timed_out {
        vec![format!(
            "killed after the time limit of {} ms",
            j.cfg.time_limit.as_millis()
        )]
    } else if j.exit_status != Some(0) {
        vec![format!("exit status {:?}", j.exit_status)]
    } else {
        vec![]
    };
    out.push(check("REQ-EXIT", p, "exited 0 within the time limit"));

    // Report order: as in REQUIREMENTS.
    out.sort_by_key(|c| {
        REQUIREMENTS
            .iter()
            .position(|(id, _)| *id == c.id)
            .unwrap_or(usize::MAX)
    });
    out
}
