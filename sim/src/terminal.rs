//! The qualification terminal's file drop (資格確認端末の連携フォルダ), live: a thin
//! driver around the pure [`fakes::eligibility::Terminal`].
//!
//! Layout under the root folder (created at start):
//!
//! ```text
//! req/             the clinic system drops requests here (OQSsiquc01req_*.xml, …)
//! req/processed/   answered requests are moved here (or deleted, see Processed)
//! res/             answers: same name with `req` replaced by `res`
//! face/            unsolicited card confirmations OQSsiquc01res_face_<time>_<n>.xml
//! ```
//!
//! Guarantees:
//! - **Polling**, every 50 ms by default: portable (no inotify/FSEvents differences,
//!   works on network shares the way clinic PCs use them) and cheap at this rate.
//! - A request is taken only once its size and modification time are unchanged over
//!   two consecutive polls *(our choice)*, so a file still being written is not read
//!   half-way. Names starting with `.` or ending in `.tmp` are ignored.
//! - Answers are written **atomically**: a hidden temp file in the same folder, then
//!   a hard link to the final name, which fails instead of replacing an existing
//!   file. An existing answer is **never overwritten**; the clinic deletes answers it
//!   has read.
//! - Each request is **answered once**: after the answer exists it is moved to
//!   `req/processed/` (or deleted); a request whose answer already exists (a re-used
//!   name, or a crash between the two steps) is moved without a second answer.
//! - Every request gets an answer file, malformed ones and unknown prefixes included.
//! - A bounded log (default 1,000 entries) records file names and result codes only,
//!   never patient data.
//!
//! Time comes from a [`Clock`], the shared virtual clock of the live mode; the driver
//! never puts wall-clock time into an answer.
//!
//! Where answers come from is a [`Backend`]: [`InProcess`] (the answering core in this
//! process; tests and conformance use it, and [`start`] picks it) or
//! [`crate::live::centre::HttpBackend`] (the implementing body's eligibility API over
//! mutual TLS, through the carrier proxy; `onsim serve` uses it). The terminal itself
//! answers what never needs the centre (unknown prefix, malformed request, another
//! institution's code, too large), and when the backend fails — connection refused or
//! reset, timeout, TLS alert, HTTP error, a body that is not an XmlMsg response — it
//! writes an abnormal answer (`SegmentOfResult` 9, ErrorCode 5001 centre unreachable
//! or 5002 centre error). Requests are answered one at a time in name order, so a
//! slow centre delays the ones behind it (bounded by the backend's timeout).

use std::collections::{BTreeMap, VecDeque};
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use fakes::eligibility::answer::{ReaderConsents, VerifiedCardHolder};
use fakes::eligibility::terminal::{OutFile, Summary};
use fakes::eligibility::xml::MessageKind;
use fakes::eligibility::{EligibilityError, Service, Terminal};
use fakes::time::VirtualTime;

/// Where the terminal gets its answers: the implementing body.
///
/// `answer` is called only for requests the terminal has already checked (known
/// kind, parses, the terminal's own institution). `Ok` is the body the centre sent
/// (checked by the terminal to be an XmlMsg response); `Err` carries
/// [`fakes::eligibility::ErrorCode::CentreUnreachable`] or
/// [`fakes::eligibility::ErrorCode::CentreError`] and a detail without personal data.
pub trait Backend: Send + Sync {
    fn answer(
        &self,
        kind: MessageKind,
        bytes: &[u8],
        now: VirtualTime,
    ) -> Result<Vec<u8>, EligibilityError>;
    /// For logs: where the answers come from.
    fn describe(&self) -> String;
}

/// The answering core in this process (the behaviour before backends existed).
#[derive(Debug)]
pub struct InProcess(Mutex<Service>);

impl InProcess {
    pub fn new(service: Service) -> Self {
        InProcess(Mutex::new(service))
    }
}

impl Backend for InProcess {
    fn answer(
        &self,
        kind: MessageKind,
        bytes: &[u8],
        now: VirtualTime,
    ) -> Result<Vec<u8>, EligibilityError> {
        Ok(lock(&self.0).handle(Some(kind), bytes, now).render())
    }
    fn describe(&self) -> String {
        "in-process".into()
    }
}

/// Where the driver reads the virtual time from.
pub type Clock = Arc<dyn Fn() -> VirtualTime + Send + Sync>;

/// A virtual clock that tests and scenarios advance by hand.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn new(t: VirtualTime) -> Self {
        ManualClock(Arc::new(AtomicI64::new(t.0)))
    }
    pub fn now(&self) -> VirtualTime {
        VirtualTime(self.0.load(Ordering::SeqCst))
    }
    pub fn advance_minutes(&self, m: i64) {
        self.0.fetch_add(m, Ordering::SeqCst);
    }
    pub fn clock(&self) -> Clock {
        let c = self.clone();
        Arc::new(move || c.now())
    }
}

/// What happens to a request after it has been answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Processed {
    /// Move to `req/processed/` (default: keeps evidence for tests and audits).
    Move,
    /// Delete it, as the real terminal software does.
    Delete,
}

#[derive(Debug, Clone)]
pub struct DriverConfig {
    pub poll_interval: Duration,
    pub log_capacity: usize,
    pub processed: Processed,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            poll_interval: Duration::from_millis(50),
            log_capacity: 1_000,
            processed: Processed::Move,
        }
    }
}

/// One log line: which file, which answer, how it went. No personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub at: VirtualTime,
    pub request: String,
    pub response: String,
    pub outcome: LogOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogOutcome {
    Answered(Summary),
    /// An answer of that name existed already; the request was set aside unanswered.
    AlreadyAnswered,
    /// A card confirmation written to `face/`.
    Face(Summary),
    /// The file system refused (message of the I/O error).
    Failed(String),
}

struct Shared {
    req: PathBuf,
    res: PathBuf,
    face: PathBuf,
    processed_dir: PathBuf,
    cfg: DriverConfig,
    clock: Clock,
    terminal: Mutex<Terminal>,
    backend: Arc<dyn Backend>,
    log: Mutex<VecDeque<LogEntry>>,
    /// (size, mtime) of each request at the previous poll.
    seen: Mutex<BTreeMap<String, (u64, Option<SystemTime>)>>,
}

/// A running file-drop driver. Dropping it stops the thread.
pub struct TerminalDriver {
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not take the file drop down with it.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Start the driver on `root` (folders are created) in a background thread,
/// answering in-process (a copy of the terminal's own [`Service`]).
pub fn start(
    root: &Path,
    terminal: Terminal,
    clock: Clock,
    cfg: DriverConfig,
) -> io::Result<TerminalDriver> {
    let backend = Arc::new(InProcess::new(terminal.service.clone()));
    start_with(root, terminal, backend, clock, cfg)
}

/// Start the driver with answers from `backend`.
pub fn start_with(
    root: &Path,
    terminal: Terminal,
    backend: Arc<dyn Backend>,
    clock: Clock,
    cfg: DriverConfig,
) -> io::Result<TerminalDriver> {
    let shared = Arc::new(Shared {
        req: root.join("req"),
        res: root.join("res"),
        face: root.join("face"),
        processed_dir: root.join("req").join("processed"),
        cfg,
        clock,
        terminal: Mutex::new(terminal),
        backend,
        log: Mutex::new(VecDeque::new()),
        seen: Mutex::new(BTreeMap::new()),
    });
    for d in [&shared.req, &shared.res, &shared.face] {
        fs::create_dir_all(d)?;
    }
    if shared.cfg.processed == Processed::Move {
        fs::create_dir_all(&shared.processed_dir)?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let (shared, stop) = (shared.clone(), stop.clone());
        std::thread::Builder::new()
            .name("terminal-file-drop".into())
            .spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    if let Err(e) = shared.poll() {
                        shared.record(LogEntry {
                            at: (shared.clock)(),
                            request: String::new(),
                            response: String::new(),
                            outcome: LogOutcome::Failed(format!("polling req/: {e}")),
                        });
                    }
                    std::thread::park_timeout(shared.cfg.poll_interval);
                }
            })?
    };
    Ok(TerminalDriver {
        shared,
        stop,
        thread: Some(thread),
    })
}

impl TerminalDriver {
    /// A card confirmation at the reader: the answer is written to `face/`.
    /// Returns its path. The reader simulation calls this.
    pub fn card_confirmation(
        &self,
        holder: &VerifiedCardHolder,
        consents: ReaderConsents,
    ) -> io::Result<PathBuf> {
        let s = &self.shared;
        let now = (s.clock)();
        // A restart reuses serials: on a name clash take the next one.
        for _ in 0..10_000 {
            let out = lock(&s.terminal).face(holder, consents, now);
            if write_new(&s.face, &out)? {
                s.record(LogEntry {
                    at: now,
                    request: String::new(),
                    response: out.name.clone(),
                    outcome: LogOutcome::Face(out.summary),
                });
                return Ok(s.face.join(out.name));
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "no free face/ file name",
        ))
    }

    /// The log, oldest first.
    pub fn log(&self) -> Vec<LogEntry> {
        lock(&self.shared.log).iter().cloned().collect()
    }

    pub fn root_folders(&self) -> (&Path, &Path, &Path) {
        (&self.shared.req, &self.shared.res, &self.shared.face)
    }

    /// Stop the thread and wait for it (an answer being written is finished first).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

impl Drop for TerminalDriver {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Shared {
    fn record(&self, e: LogEntry) {
        let mut log = lock(&self.log);
        if log.len() >= self.cfg.log_capacity {
            log.pop_front();
        }
        log.push_back(e);
    }

    /// One pass over `req/`: answer every settled request, in name order.
    fn poll(&self) -> io::Result<()> {
        let mut now_seen = BTreeMap::new();
        for entry in fs::read_dir(&self.req)? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                continue; // not UTF-8: cannot be one of ours, and cannot be named back
            };
            if name.starts_with('.') || name.ends_with(".tmp") {
                continue;
            }
            let meta = entry.metadata()?;
            if !meta.is_file() {
                continue;
            }
            now_seen.insert(name, (meta.len(), meta.modified().ok()));
        }
        let settled: Vec<(String, u64)> = {
            let mut seen = lock(&self.seen);
            let out = now_seen
                .iter()
                .filter(|(n, v)| seen.get(*n) == Some(v))
                .map(|(n, v)| (n.clone(), v.0))
                .collect();
            *seen = now_seen;
            out
        };
        for (name, _) in settled {
            self.answer(&name);
            lock(&self.seen).remove(&name);
        }
        Ok(())
    }

    fn answer(&self, name: &str) {
        let path = self.req.join(name);
        let at = (self.clock)();
        let response = fakes::eligibility::terminal::response_name(name);
        let outcome = match self.answer_inner(name, &path) {
            Ok(Some(summary)) => LogOutcome::Answered(summary),
            Ok(None) => LogOutcome::AlreadyAnswered,
            Err(e) => LogOutcome::Failed(e.to_string()),
        };
        self.record(LogEntry {
            at,
            request: name.to_string(),
            response,
            outcome,
        });
    }

    fn answer_inner(&self, name: &str, path: &Path) -> io::Result<Option<Summary>> {
        let response = fakes::eligibility::terminal::response_name(name);
        if self.res.join(&response).exists() {
            self.set_aside(name, path)?;
            return Ok(None);
        }
        let limit = lock(&self.terminal).service.config.limits.max_file_bytes;
        let mut bytes = Vec::new();
        // Read one byte past the limit: enough for the answer to say "too large".
        fs::File::open(path)?
            .take(limit as u64 + 1)
            .read_to_end(&mut bytes)?;
        let now = (self.clock)();
        let local = lock(&self.terminal).local_refusal(name, &bytes, now);
        let out = match local {
            Some(out) => out,
            None => {
                let kind = MessageKind::of_request_file(name).expect("checked by local_refusal");
                // Not under the terminal lock: a slow centre must not block face/.
                let answer = self.backend.answer(kind, &bytes, now);
                if let Err(e) = &answer {
                    tracing::warn!(request = name, backend = %self.backend.describe(), code = %e.code, detail = %e.detail, "terminal: centre failed, answering abnormal");
                }
                lock(&self.terminal).remote_answer(name, &bytes, answer, now)
            }
        };
        let written = write_new(&self.res, &out)?;
        self.set_aside(name, path)?;
        Ok(written.then_some(out.summary))
    }

    fn set_aside(&self, name: &str, path: &Path) -> io::Result<()> {
        match self.cfg.processed {
            Processed::Delete => fs::remove_file(path),
            Processed::Move => {
                let mut target = self.processed_dir.join(name);
                let mut n = 1;
                while target.exists() {
                    target = self.processed_dir.join(format!("{name}.{n}"));
                    n += 1;
                }
                fs::rename(path, target)
            }
        }
    }
}

/// Write `out` into `dir` under its name, atomically and without replacing an
/// existing file. `Ok(false)` if the name is taken.
fn write_new(dir: &Path, out: &OutFile) -> io::Result<bool> {
    let target = dir.join(&out.name);
    if target.exists() {
        return Ok(false);
    }
    let tmp = dir.join(format!(".{}.{}.tmp", out.name, std::process::id()));
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&out.bytes)?;
        f.sync_all()?;
    }
    let linked = fs::hard_link(&tmp, &target);
    let result = match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        // File systems without hard links: rename (checked above; the driver is the
        // only writer of this folder).
        Err(_) => return fs::rename(&tmp, &target).map(|()| true),
    };
    let _ = fs::remove_file(&tmp);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use fakes::eligibility::terminal::Summary;
    use fakes::eligibility::values::SegmentOfResult;

    #[test]
    fn write_new_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let out = |b: &[u8]| OutFile {
            name: "a.xml".into(),
            bytes: b.to_vec(),
            summary: Summary {
                kind: None,
                segment: SegmentOfResult::Abnormal,
                error_code: None,
                validities: vec![],
                reception_number: None,
            },
            err: None,
        };
        assert!(write_new(dir.path(), &out(b"one")).unwrap());
        assert!(!write_new(dir.path(), &out(b"two")).unwrap());
        assert_eq!(fs::read(dir.path().join("a.xml")).unwrap(), b"one");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "temp file left behind");
    }
}
