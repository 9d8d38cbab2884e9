//! The qualification terminal's file drop (資格確認端末の連携フォルダ), live: a thin
//! driver around the pure [`fakes::eligibility::Terminal`].
//!
//! Layout under the root folder (created at start; docs/INTERFACE.md §1):
//!
//! ```text
//! req/             the clinic system drops requests here (OQSsiquc01req_*.xml, …)
//! req/processed/   answered requests, only with Processed::Move (--terminal-keep-processed)
//! res/             answers: see answer_name
//! face/            unsolicited card confirmations
//!                  OQSsiquc01res_face_<institution code><20 hex>_<yyyyMMddHHmmss>.xml
//! ```
//!
//! What the driver promises (each has a test, see `reports/notes/file-drop.md`):
//! - **Polling**, every 50 ms by default ([`DriverConfig::poll_interval`]): portable
//!   (no inotify/FSEvents differences, works on network shares the way clinic PCs use
//!   them) and cheap at this rate.
//! - **Settling** *(our choice)*: a request is taken once its size, modification time
//!   (and, on Unix, inode) have not changed for the quiet period
//!   ([`DriverConfig::quiet_period`], default 1 s), measured on the driver's own
//!   monotonic clock from the first poll that saw that state (so a share whose
//!   clock is off does not matter). Short-cut ([`DriverConfig::end_tag_shortcut`],
//!   on by default): a file that was unchanged over two polls and whose last
//!   non-blank bytes are the `</XmlMsg>` end tag is taken at once — a writer
//!   that pauses cannot have written the end tag yet, as the end tag is the last
//!   thing an XmlMsg writer writes. What neither rule catches: a writer that
//!   writes the end tag first (out-of-order chunk writers) or pauses longer than
//!   the quiet period. **The safe way** is the one docs/INTERFACE.md's clients use:
//!   write under a hidden name (`.x.xml`, or ending `.tmp`) and rename into `req/`;
//!   such names are never read.
//! - **Answers are written atomically** by default ([`WriteMode::Rename`]): a short
//!   hidden temp file (`.onsim-tmp-<pid>-<n>`, whatever the answer's name length) in
//!   the same folder, then a hard link to the final name, which fails instead of
//!   replacing an existing file. [`WriteMode::InPlace`] writes at the final name
//!   instead (see there for the trade-off). An existing answer is **never
//!   overwritten**; the clinic deletes answers it has read. Temp files a killed run
//!   left behind are removed at start.
//! - **Answered once**: after the answer exists the request is consumed — deleted,
//!   as the real terminal does (docs/INTERFACE.md §1, MR tests), or moved to
//!   `req/processed/` with [`Processed::Move`]. A request whose answer already exists
//!   (a crash between the two steps, or a re-used name) is consumed without a second
//!   answer. An answer obtained from the centre is kept until it is written: a
//!   failing write never asks the centre again.
//! - **No answer takes another's name** ([`answer_name`]).
//! - **Every failure is reported once**, on the log (`tracing` warn) and in the
//!   bounded [`LogEntry`] log, with the file and the reason, then retried with
//!   exponential back-off ([`DriverConfig::retry_base`] doubling up to
//!   [`DriverConfig::retry_cap`]). While an answer cannot be written, no further
//!   request is sent to the centre (they wait in `req/`). Entries of `req/` that cannot be requests — a
//!   symbolic link (never followed), a directory, a FIFO, socket or device, a name
//!   that is not UTF-8 — are reported once and left alone. Names starting with `.`
//!   or ending in `.tmp` (writers' temp files) and `.err` (the terminal's own error
//!   files) are not requests and are ignored silently.
//! - **Clean shutdown** ([`TerminalDriver::stop`]): no new file is taken; the request
//!   in flight is finished (bounded by the backend's timeout), or, if the centre
//!   fails while stopping, left untouched in `req/` for the next start. Stop the
//!   driver before the services it asks (`crate::live::Running::stop` does).
//! - A bounded log (default 1,000 entries) records file names and result codes only,
//!   never patient data.
//!
//! Time in answers comes from a [`Clock`], the shared virtual clock of the live
//! mode; face file names take wall-clock or virtual time ([`FaceStamp`]).
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

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use fakes::eligibility::answer::{ReaderConsents, VerifiedCardHolder};
use fakes::eligibility::card_refusal::Unconfirmed;
use fakes::eligibility::terminal::{OutFile, Summary};
use fakes::eligibility::xml::MessageKind;
use fakes::eligibility::{CharacterCode, EligibilityError, Service, Terminal};
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
    /// Move to `req/processed/` (keeps evidence for tests and audits).
    Move,
    /// Delete it, as the real terminal does (default; docs/INTERFACE.md §1).
    Delete,
}

/// How an answer file comes into being.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WriteMode {
    /// A hidden temp file, then a hard link (or rename) to the final name: the
    /// answer appears complete or not at all. Watchers that wait for a *change*
    /// event (chokidar `'change'`, docs/INTERFACE.md §1) see none: a file that
    /// appears by link or rename is only *created*.
    Rename,
    /// Create the final name (never replacing a file), then write the whole answer
    /// into it in one write and flush: change-watchers fire. The trade-off, honestly:
    /// between the create and the end of the write the file exists empty or partly
    /// written, so a client that reads as soon as the name *appears* can read a half
    /// answer (on a local disk the window is one system call; on a network share it
    /// can be longer). Clients that wait for the change event, or poll until the
    /// `</XmlMsg>` end tag is present, are safe. A failed write removes the file;
    /// a process killed in the middle of the write leaves the partial answer, which
    /// the next start counts as answered (never overwritten).
    InPlace,
}

/// Which clock stamps face file names (`…_<yyyyMMddHHmmss>.xml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaceStamp {
    /// The machine's local wall clock: MR accepts only face files stamped with
    /// today's (wall-clock) date (docs/INTERFACE.md §1). `onsim serve`'s default.
    Wall,
    /// The virtual clock: deterministic, for conformance runs and replays (the
    /// library default).
    Virtual,
}

/// The terminal's output encoding, as a setting (docs/INTERFACE.md §2: some clients
/// read answers as UTF-8, others as Shift_JIS). A request's own
/// `CharacterCodeIdentifier` still wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
pub enum OutputEncoding {
    #[value(name = "utf-8")]
    #[serde(rename = "utf-8")]
    Utf8,
    #[value(name = "shift_jis")]
    #[serde(rename = "shift_jis")]
    ShiftJis,
}

impl From<OutputEncoding> for CharacterCode {
    fn from(e: OutputEncoding) -> Self {
        match e {
            OutputEncoding::Utf8 => CharacterCode::Utf8,
            OutputEncoding::ShiftJis => CharacterCode::ShiftJis,
        }
    }
}

#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// How often `req/` is listed. Default 50 ms *(our choice)*.
    pub poll_interval: Duration,
    /// How long a request must stay unchanged before it is taken. Default 1 s
    /// *(our choice)*.
    pub quiet_period: Duration,
    /// Take a file that ends in `</XmlMsg>` after two unchanged polls, without
    /// waiting for the quiet period. Default on *(our choice)*.
    pub end_tag_shortcut: bool,
    /// A settled request is answered no sooner than this. Default 0.
    pub answer_delay: Duration,
    pub write_mode: WriteMode,
    pub processed: Processed,
    /// The terminal's output encoding; `None`: the service's own default.
    pub encoding: Option<CharacterCode>,
    pub face_stamp: FaceStamp,
    pub log_capacity: usize,
    /// First retry after a failure; doubles per failure. Default 100 ms.
    pub retry_base: Duration,
    /// Longest wait between retries. Default 30 s *(our choice)*.
    pub retry_cap: Duration,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            poll_interval: Duration::from_millis(50),
            quiet_period: Duration::from_secs(1),
            end_tag_shortcut: true,
            answer_delay: Duration::ZERO,
            write_mode: WriteMode::Rename,
            processed: Processed::Delete,
            encoding: None,
            face_stamp: FaceStamp::Virtual,
            log_capacity: 1_000,
            retry_base: Duration::from_millis(100),
            retry_cap: Duration::from_secs(30),
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
    /// An answer of that name existed already; the request was consumed unanswered.
    AlreadyAnswered,
    /// A card confirmation written to `face/`.
    Face(Summary),
    /// Something went wrong (the step and the reason); reported once per file and
    /// reason, then retried with back-off. Also: an entry of `req/` that cannot be
    /// a request (link, directory, FIFO, non-UTF-8 name), reported once.
    Failed(String),
}

pub use fakes::eligibility::terminal::{
    err_name as err_file_name, long_response_name as long_answer_name,
    response_name as answer_name, LONG_NAME_PREFIX, MAX_NAME_BYTES, UNKNOWN_PREFIX,
};

/// Prefix of every temp file the driver writes (the state directory's too).
pub const TEMP_PREFIX: &str = ".onsim-tmp-";

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
    /// Set when stopping: no new file is taken.
    stop: AtomicBool,
    temp_serial: AtomicU64,
    face_serial: AtomicU64,
}

/// A running file-drop driver. Dropping it stops the thread.
pub struct TerminalDriver {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// A handle that writes card confirmations into `face/` (cheap to clone; for the
/// reader simulation, e.g. `POST /reader/present`). Works while the driver runs and
/// after it stopped.
#[derive(Clone)]
pub struct FaceDrop(Arc<Shared>);

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
    let mut service = terminal.service.clone();
    if let Some(c) = cfg.encoding {
        service.config.default_character_code = c;
    }
    let backend = Arc::new(InProcess::new(service));
    start_with(root, terminal, backend, clock, cfg)
}

/// Start the driver with answers from `backend`.
pub fn start_with(
    root: &Path,
    mut terminal: Terminal,
    backend: Arc<dyn Backend>,
    clock: Clock,
    cfg: DriverConfig,
) -> io::Result<TerminalDriver> {
    if let Some(c) = cfg.encoding {
        // Local answers (unknown kind, malformed, another institution) and abnormal
        // ones. Answers from a remote centre are written as they came: `onsim serve`
        // gives the centre the same default (sim::live::start_with_terminal).
        terminal.service.config.default_character_code = c;
    }
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
        stop: AtomicBool::new(false),
        temp_serial: AtomicU64::new(0),
        face_serial: AtomicU64::new(0),
    });
    for d in [&shared.req, &shared.res, &shared.face] {
        // Never follow a link out of the folder: `req/`, `res/`, `face/` must be
        // real directories (the root itself may be a link, e.g. to a share).
        if let Ok(m) = fs::symlink_metadata(d) {
            if !m.is_dir() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "{} is {}, not a directory; onsim writes only into its own folders",
                        d.display(),
                        if m.file_type().is_symlink() {
                            "a symbolic link"
                        } else {
                            "a file"
                        }
                    ),
                ));
            }
        }
        fs::create_dir_all(d)?;
    }
    if shared.cfg.processed == Processed::Move {
        fs::create_dir_all(&shared.processed_dir)?;
    }
    shared.remove_stale_temps();
    let thread = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("terminal-file-drop".into())
            .spawn(move || {
                let mut st = PollState::default();
                while !shared.stop.load(Ordering::SeqCst) {
                    shared.poll(&mut st);
                    std::thread::park_timeout(shared.cfg.poll_interval);
                }
            })?
    };
    Ok(TerminalDriver {
        shared,
        thread: Some(thread),
    })
}

impl TerminalDriver {
    /// A card confirmation at the reader: the answer is written to `face/`.
    /// Returns its path. See [`FaceDrop::present_card`].
    pub fn present_card(
        &self,
        holder: &VerifiedCardHolder,
        consents: ReaderConsents,
    ) -> io::Result<PathBuf> {
        self.shared.present_card(holder, consents)
    }

    /// The same as [`TerminalDriver::present_card`] (the older name).
    pub fn card_confirmation(
        &self,
        holder: &VerifiedCardHolder,
        consents: ReaderConsents,
    ) -> io::Result<PathBuf> {
        self.shared.present_card(holder, consents)
    }

    /// A handle for writing face files from elsewhere (the reader simulation).
    pub fn face_drop(&self) -> FaceDrop {
        FaceDrop(self.shared.clone())
    }

    /// Write the `.err` file of a failed bulk request into `req/`, atomically and
    /// never over an existing file ([`err_file_name`]). `Ok(None)`: one exists.
    pub fn write_err_file(&self, request: &str, bytes: &[u8]) -> io::Result<Option<PathBuf>> {
        self.shared.write_err_file(request, bytes)
    }

    /// The log, oldest first.
    pub fn log(&self) -> Vec<LogEntry> {
        lock(&self.shared.log).iter().cloned().collect()
    }

    pub fn root_folders(&self) -> (&Path, &Path, &Path) {
        (&self.shared.req, &self.shared.res, &self.shared.face)
    }

    /// Stop taking files and wait for the thread: the request in flight is finished
    /// (bounded by the backend's timeout) or left untouched in `req/`.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
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

impl FaceDrop {
    /// A patient presented a card at the reader and was verified: the terminal's
    /// unsolicited answer is written to `face/` under [`fakes::eligibility::terminal::face_file_name`] (stamped
    /// per [`DriverConfig::face_stamp`]), atomically and never over an existing file
    /// (a clash takes the next serial). Returns the path.
    pub fn present_card(
        &self,
        holder: &VerifiedCardHolder,
        consents: ReaderConsents,
    ) -> io::Result<PathBuf> {
        self.0.present_card(holder, consents)
    }

    /// A card presentation that confirmed nothing (certificate expired or revoked,
    /// PIN locked, centre unreachable): the terminal's answer for it
    /// ([`fakes::eligibility::card_refusal`]) is written to `face/` as
    /// [`FaceDrop::present_card`] writes a confirmed one.
    pub fn unconfirmed_card(&self, what: Unconfirmed) -> io::Result<PathBuf> {
        let now = (self.0.clock)();
        let out = lock(&self.0.terminal).unconfirmed_face(what, now);
        self.0.write_face(out, now)
    }
}

/// Per-file state of the poll loop.
struct FileState {
    stat: Stat,
    /// When this state was first seen.
    since: Instant,
    /// Ends in `</XmlMsg>` (checked once per state, after one unchanged poll).
    complete: Option<bool>,
    settled_at: Option<Instant>,
    /// The answer obtained, not yet written.
    answer: Option<OutFile>,
    /// The answer exists; the request is still to be consumed.
    written: bool,
    failures: u32,
    retry_at: Option<Instant>,
    /// The failure last reported (step and error kind), so each is reported once.
    reported: Option<String>,
}

#[derive(Default)]
struct PollState {
    files: BTreeMap<String, FileState>,
    /// Entries of `req/` reported as not requests (once each while they stay).
    skipped: BTreeSet<String>,
    /// Why `req/` could not be listed, once reported.
    req_error: Option<String>,
}

/// What identifies one version of a file between polls.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stat {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl Stat {
    fn of(m: &fs::Metadata) -> Stat {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(m);
        #[cfg(not(unix))]
        let inode = 0;
        Stat {
            len: m.len(),
            modified: m.modified().ok(),
            inode,
        }
    }
}

enum Listed {
    File(String, Stat),
    NotARequest(String, &'static str),
}

enum Step {
    Done,
    Retry,
    /// Left untouched (stopping).
    Left,
}

fn name_too_long(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::InvalidFilename
}

impl Shared {
    fn record(&self, e: LogEntry) {
        let mut log = lock(&self.log);
        if log.len() >= self.cfg.log_capacity {
            log.pop_front();
        }
        log.push_back(e);
    }

    fn record_failure(&self, request: &str, response: &str, what: String) {
        self.record(LogEntry {
            at: (self.clock)(),
            request: request.to_string(),
            response: response.to_string(),
            outcome: LogOutcome::Failed(what),
        });
    }

    fn temp_name(&self) -> String {
        let n = self.temp_serial.fetch_add(1, Ordering::Relaxed);
        format!("{TEMP_PREFIX}{}-{n}", std::process::id())
    }

    /// Remove temp files a killed run left in `res/`, `face/` and `req/`: ours
    /// (`.onsim-tmp-<pid>-<n>`) and those of older versions in `res/` and `face/`
    /// (`.<name>.<pid>.tmp`), unless their process still runs.
    fn remove_stale_temps(&self) {
        let own = std::process::id();
        let mut removed = 0usize;
        for (dir, legacy) in [(&self.res, true), (&self.face, true), (&self.req, false)] {
            let Ok(entries) = fs::read_dir(dir) else {
                continue;
            };
            for e in entries.flatten() {
                let Ok(name) = e.file_name().into_string() else {
                    continue;
                };
                let pid = if let Some(rest) = name.strip_prefix(TEMP_PREFIX) {
                    rest.split('-').next().and_then(|p| p.parse::<u32>().ok())
                } else if legacy && name.starts_with('.') && name.ends_with(".tmp") {
                    name[..name.len() - 4]
                        .rsplit('.')
                        .next()
                        .and_then(|p| p.parse::<u32>().ok())
                } else {
                    None
                };
                let Some(pid) = pid else { continue };
                if pid == own || process_alive(pid) {
                    continue;
                }
                match e.file_type() {
                    Ok(t) if t.is_file() => {}
                    _ => continue,
                }
                match fs::remove_file(e.path()) {
                    Ok(()) => removed += 1,
                    Err(err) => tracing::warn!(
                        file = %e.path().display(),
                        error = %err,
                        "terminal: cannot remove a temp file left by an earlier run"
                    ),
                }
            }
        }
        if removed > 0 {
            tracing::info!(
                removed,
                "terminal: removed temp files left by an earlier run"
            );
        }
    }

    fn list(&self) -> io::Result<Vec<Listed>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.req)? {
            let entry = entry?;
            let name = match entry.file_name().into_string() {
                Ok(n) => n,
                Err(os) => {
                    out.push(Listed::NotARequest(
                        os.to_string_lossy().into_owned(),
                        "its name is not UTF-8 and cannot be answered by name",
                    ));
                    continue;
                }
            };
            if name.starts_with('.') || name.ends_with(".tmp") || name.ends_with(".err") {
                continue;
            }
            let t = entry.file_type()?; // never follows a symbolic link
            if t.is_symlink() {
                out.push(Listed::NotARequest(
                    name,
                    "a symbolic link (never followed); drop the file itself",
                ));
            } else if t.is_dir() {
                if name != "processed" {
                    out.push(Listed::NotARequest(name, "a directory"));
                }
            } else if t.is_file() {
                let m = entry.metadata()?;
                out.push(Listed::File(name, Stat::of(&m)));
            } else {
                out.push(Listed::NotARequest(
                    name,
                    "not a regular file (a FIFO, socket or device)",
                ));
            }
        }
        Ok(out)
    }

    /// One pass over `req/`: take every settled request, in name order.
    fn poll(&self, st: &mut PollState) {
        let listing = match self.list() {
            Ok(l) => {
                if st.req_error.take().is_some() {
                    tracing::info!(folder = %self.req.display(), "terminal: req/ readable again");
                }
                l
            }
            Err(e) => {
                let why = e.to_string();
                if st.req_error.as_deref() != Some(why.as_str()) {
                    tracing::error!(folder = %self.req.display(), error = %e, "terminal: cannot list req/; retrying");
                    self.record_failure("", "", format!("listing req/: {e}"));
                    st.req_error = Some(why);
                }
                return;
            }
        };
        let now = Instant::now();
        let mut present = BTreeSet::new();
        let mut odd = BTreeSet::new();
        for item in listing {
            match item {
                Listed::NotARequest(name, why) => {
                    if !st.skipped.contains(&name) {
                        tracing::warn!(file = %name, "terminal: req/{name}: {why}; not answered");
                        self.record_failure(&name, "", format!("not a request: {why}"));
                        st.skipped.insert(name.clone());
                    }
                    odd.insert(name);
                }
                Listed::File(name, stat) => {
                    match st.files.get_mut(&name) {
                        Some(f) if f.stat == stat => {
                            if f.complete.is_none() && self.cfg.end_tag_shortcut {
                                f.complete = Some(ends_with_end_tag(&self.req.join(&name)));
                            }
                        }
                        Some(f) => {
                            // A new version: start settling again; an answer obtained
                            // for the old content is for another request.
                            *f = FileState::new(stat, now);
                        }
                        None => {
                            st.files.insert(name.clone(), FileState::new(stat, now));
                        }
                    }
                    present.insert(name);
                }
            }
        }
        st.skipped.retain(|n| odd.contains(n));
        st.files.retain(|name, f| {
            let keep = present.contains(name);
            if !keep && f.answer.is_some() {
                tracing::info!(file = %name, "terminal: req/{name} was removed before its answer could be written; answer dropped");
            }
            keep
        });
        // While an obtained answer cannot be written (res/ full, read-only, gone),
        // the centre is not asked about further requests: they wait in req/, and
        // memory holds at most the answers already obtained.
        let res_failing = st
            .files
            .values()
            .any(|f| f.answer.is_some() && f.failures > 0);
        let mut ready = Vec::new();
        for (name, f) in st.files.iter_mut() {
            if f.retry_at.is_some_and(|r| now < r) {
                continue;
            }
            if f.answer.is_none() && !f.written {
                if res_failing {
                    continue;
                }
                let quiet = now.duration_since(f.since) >= self.cfg.quiet_period;
                if !(quiet || f.complete == Some(true)) {
                    continue;
                }
                let at = *f.settled_at.get_or_insert(now);
                if now.duration_since(at) < self.cfg.answer_delay {
                    continue;
                }
            }
            ready.push(name.clone());
        }
        for name in ready {
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            let Some(f) = st.files.get_mut(&name) else {
                continue;
            };
            match self.process(&name, f) {
                Step::Done => {
                    st.files.remove(&name);
                }
                Step::Retry | Step::Left => {}
            }
        }
    }

    /// Take one request: answer (once), write the answer, consume the request.
    fn process(&self, name: &str, f: &mut FileState) -> Step {
        let path = self.req.join(name);
        let primary = answer_name(name);
        let fallback = long_answer_name(name);
        if !f.written && f.answer.is_none() {
            if self.answer_exists(&primary, &fallback) {
                tracing::warn!(file = %name, answer = %primary, "terminal: an answer of that name exists already; request consumed without a second answer");
                self.record(LogEntry {
                    at: (self.clock)(),
                    request: name.to_string(),
                    response: primary.clone(),
                    outcome: LogOutcome::AlreadyAnswered,
                });
                f.written = true;
            } else {
                // Changed since it settled (rewritten while earlier requests were
                // answered): settle again.
                match fs::symlink_metadata(&path) {
                    Ok(m) if Stat::of(&m) != f.stat => {
                        *f = FileState::new(Stat::of(&m), Instant::now());
                        return Step::Retry;
                    }
                    _ => {}
                }
                let bytes = match self.read_request(&path) {
                    Ok(b) => b,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Step::Done,
                    Err(e) => return self.failed(name, &primary, f, "reading the request", e),
                };
                let now = (self.clock)();
                let local = lock(&self.terminal).local_refusal(name, &bytes, now);
                let out = match local {
                    Some(out) => out,
                    None => {
                        let kind =
                            MessageKind::of_request_file(name).expect("checked by local_refusal");
                        // Not under the terminal lock: a slow centre must not block face/.
                        let answer = self.backend.answer(kind, &bytes, now);
                        if let Err(e) = &answer {
                            if self.stop.load(Ordering::SeqCst) {
                                tracing::info!(file = %name, code = %e.code, "terminal: stopping; the centre failed, request left in req/ for the next start");
                                return Step::Left;
                            }
                            tracing::warn!(file = %name, backend = %self.backend.describe(), code = %e.code, detail = %e.detail, "terminal: centre failed, answering abnormal");
                        }
                        lock(&self.terminal).remote_answer(name, &bytes, answer, now)
                    }
                };
                let name_fits = primary.len() <= MAX_NAME_BYTES;
                f.answer = Some(OutFile {
                    name: if name_fits {
                        primary.clone()
                    } else {
                        fallback.clone()
                    },
                    ..out
                });
                if !name_fits {
                    self.report_long_name(name, &primary, &fallback);
                }
            }
        }
        if let Some(out) = f.answer.as_mut() {
            let mut result = write_new(&self.res, out, self.cfg.write_mode, &self.temp_name());
            if matches!(&result, Err(e) if name_too_long(e)) && out.name != fallback {
                self.report_long_name(name, &out.name, &fallback);
                out.name = fallback.clone();
                result = write_new(&self.res, out, self.cfg.write_mode, &self.temp_name());
            }
            match result {
                Ok(written) => {
                    let out = f.answer.take().expect("checked");
                    // A failed bulk request is also reported beside it in req/ (the
                    // request itself is consumed below; `.err` names are never taken).
                    // A failure here is logged once by write_err_file and does not hold
                    // the answer back.
                    if let (true, Some(err)) = (written, &out.err) {
                        let _ = self.write_err_file(name, &err.bytes);
                    }
                    self.record(LogEntry {
                        at: (self.clock)(),
                        request: name.to_string(),
                        response: out.name.clone(),
                        outcome: if written {
                            LogOutcome::Answered(out.summary)
                        } else {
                            tracing::warn!(file = %name, answer = %out.name, "terminal: an answer of that name appeared meanwhile; not overwritten");
                            LogOutcome::AlreadyAnswered
                        },
                    });
                    f.written = true;
                }
                Err(e) => {
                    let what = format!("writing res/{}", out.name);
                    let response = out.name.clone();
                    return self.failed(name, &response, f, &what, e);
                }
            }
        }
        match self.consume(name, &path) {
            Ok(()) => {
                if f.failures > 0 {
                    tracing::info!(file = %name, failures = f.failures, "terminal: req/{name} done after earlier failures");
                }
                Step::Done
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Step::Done,
            Err(e) => self.failed(name, &primary, f, "consuming the request", e),
        }
    }

    fn report_long_name(&self, name: &str, long: &str, fallback: &str) {
        tracing::warn!(file = %name, answer = %fallback, "terminal: the answer name would be too long ({} bytes); written as res/{fallback}", long.len());
        self.record_failure(
            name,
            fallback,
            format!(
                "answer name too long ({} bytes): written as {fallback}",
                long.len()
            ),
        );
    }

    /// A step failed: report it (once per step and kind of error), back off.
    fn failed(
        &self,
        name: &str,
        response: &str,
        f: &mut FileState,
        what: &str,
        e: io::Error,
    ) -> Step {
        f.failures = f.failures.saturating_add(1);
        let factor = 1u32 << (f.failures - 1).min(20);
        let delay = self
            .cfg
            .retry_base
            .saturating_mul(factor)
            .min(self.cfg.retry_cap);
        f.retry_at = Some(Instant::now() + delay);
        let key = format!("{what}: {:?}", e.kind());
        if f.reported.as_deref() != Some(key.as_str()) {
            tracing::warn!(file = %name, error = %e, retry_ms = delay.as_millis() as u64, "terminal: req/{name}: {what} failed: {e}; retrying with back-off");
            self.record_failure(name, response, format!("{what}: {e}"));
            f.reported = Some(key);
        }
        Step::Retry
    }

    fn answer_exists(&self, primary: &str, fallback: &str) -> bool {
        let exists = |n: &str| fs::symlink_metadata(self.res.join(n));
        if primary.len() > MAX_NAME_BYTES {
            return exists(fallback).is_ok();
        }
        match exists(primary) {
            Ok(_) => true,
            Err(e) if name_too_long(&e) => exists(fallback).is_ok(),
            Err(_) => false,
        }
    }

    /// Read a request without following a link: the file opened must be the one
    /// listed (same device and inode), a regular file; one byte past the size limit
    /// is read (enough for the answer to say "too large").
    fn read_request(&self, path: &Path) -> io::Result<Vec<u8>> {
        let listed = fs::symlink_metadata(path)?;
        if !listed.file_type().is_file() {
            return Err(io::Error::other("no longer a regular file"));
        }
        let f = fs::File::open(path)?;
        let opened = f.metadata()?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            if (opened.dev(), opened.ino()) != (listed.dev(), listed.ino()) {
                return Err(io::Error::other("replaced while being opened"));
            }
        }
        if !opened.is_file() {
            return Err(io::Error::other("not a regular file"));
        }
        let limit = lock(&self.terminal).service.config.limits.max_file_bytes;
        let mut bytes = Vec::new();
        f.take(limit as u64 + 1).read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    fn consume(&self, name: &str, path: &Path) -> io::Result<()> {
        match self.cfg.processed {
            Processed::Delete => fs::remove_file(path),
            Processed::Move => {
                fs::create_dir_all(&self.processed_dir)?;
                let mut target = self.processed_dir.join(name);
                let mut n = 1;
                while fs::symlink_metadata(&target).is_ok() {
                    target = self.processed_dir.join(format!("{name}.{n}"));
                    n += 1;
                }
                fs::rename(path, target)
            }
        }
    }

    fn write_err_file(&self, request: &str, bytes: &[u8]) -> io::Result<Option<PathBuf>> {
        let name = err_file_name(request);
        let out = OutFile {
            name: name.clone(),
            bytes: bytes.to_vec(),
            summary: Summary {
                kind: MessageKind::of_request_file(request),
                segment: fakes::eligibility::values::SegmentOfResult::Abnormal,
                error_code: None,
                validities: Vec::new(),
                reception_number: None,
            },
            err: None,
        };
        match write_new(&self.req, &out, WriteMode::Rename, &self.temp_name()) {
            Ok(true) => Ok(Some(self.req.join(name))),
            Ok(false) => Ok(None),
            Err(e) => {
                tracing::warn!(file = %request, error = %e, "terminal: cannot write req/{name}");
                self.record_failure(request, &name, format!("writing req/{name}: {e}"));
                Err(e)
            }
        }
    }

    fn present_card(
        &self,
        holder: &VerifiedCardHolder,
        consents: ReaderConsents,
    ) -> io::Result<PathBuf> {
        let now = (self.clock)();
        let out = lock(&self.terminal).face(holder, consents, now);
        self.write_face(out, now)
    }

    fn write_face(&self, mut out: OutFile, now: VirtualTime) -> io::Result<PathBuf> {
        let stamp = match self.cfg.face_stamp {
            FaceStamp::Wall => chrono::Local::now().naive_local(),
            FaceStamp::Virtual => fakes::eligibility::values::naive(now),
        };
        // A restart reuses serials: on a name clash take the next one.
        for _ in 0..10_000 {
            let serial = self.face_serial.fetch_add(1, Ordering::SeqCst) + 1;
            out.name = lock(&self.terminal).face_name(serial, stamp);
            match write_new(&self.face, &out, self.cfg.write_mode, &self.temp_name()) {
                Ok(true) => {
                    self.record(LogEntry {
                        at: now,
                        request: String::new(),
                        response: out.name.clone(),
                        outcome: LogOutcome::Face(out.summary.clone()),
                    });
                    return Ok(self.face.join(&out.name));
                }
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(file = %out.name, error = %e, "terminal: cannot write face/{}", out.name);
                    self.record_failure("", &out.name, format!("writing face/{}: {e}", out.name));
                    return Err(e);
                }
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "no free face/ file name",
        ))
    }
}

impl FileState {
    fn new(stat: Stat, now: Instant) -> Self {
        FileState {
            stat,
            since: now,
            complete: None,
            settled_at: None,
            answer: None,
            written: false,
            failures: 0,
            retry_at: None,
            reported: None,
        }
    }
}

/// Whether a process with that id runs (Linux: `/proc/<pid>`; elsewhere unknown,
/// so assumed gone — the state directory's lock keeps a second onsim out).
fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        false
    }
}

/// Whether the file's last non-blank bytes are `</XmlMsg>` (the last 64 bytes are
/// read; any error counts as "no").
fn ends_with_end_tag(path: &Path) -> bool {
    const TAG: &[u8] = b"</XmlMsg>";
    let read = || -> io::Result<bool> {
        let listed = fs::symlink_metadata(path)?;
        if !listed.file_type().is_file() {
            return Ok(false);
        }
        let mut f = fs::File::open(path)?;
        let len = f.metadata()?.len();
        let tail = len.min(64);
        f.seek(SeekFrom::Start(len - tail))?;
        let mut buf = Vec::with_capacity(tail as usize);
        f.take(tail).read_to_end(&mut buf)?;
        let end = buf
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .map_or(0, |i| i + 1);
        Ok(buf[..end].ends_with(TAG))
    };
    read().unwrap_or(false)
}

/// Write `out` into `dir` under its name, never replacing an existing file, using
/// `tmp` (a short hidden name) as the temp file in [`WriteMode::Rename`].
/// `Ok(false)` if the name is taken.
fn write_new(dir: &Path, out: &OutFile, mode: WriteMode, tmp: &str) -> io::Result<bool> {
    let target = dir.join(&out.name);
    match fs::symlink_metadata(&target) {
        Ok(_) => return Ok(false),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    match mode {
        WriteMode::InPlace => {
            let mut f = match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&target)
            {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
                Err(e) => return Err(e),
            };
            let written = f.write_all(&out.bytes).and_then(|()| f.sync_all());
            if let Err(e) = written {
                drop(f);
                let _ = fs::remove_file(&target);
                return Err(e);
            }
            Ok(true)
        }
        WriteMode::Rename => {
            let tmp = dir.join(tmp);
            let created = (|| {
                let mut f = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&tmp)?;
                f.write_all(&out.bytes)?;
                f.sync_all()
            })();
            if let Err(e) = created {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
            let result = match fs::hard_link(&tmp, &target) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
                Err(e) if name_too_long(&e) || e.kind() == io::ErrorKind::NotFound => Err(e),
                // File systems without hard links: rename (checked above; the driver
                // is the only writer of this folder).
                Err(_) => match fs::symlink_metadata(&target) {
                    Ok(_) => Ok(false),
                    Err(_) => match fs::rename(&tmp, &target) {
                        Ok(()) => return Ok(true),
                        Err(e) => Err(e),
                    },
                },
            };
            let _ = fs::remove_file(&tmp);
            result
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fakes::eligibility::terminal::Summary;
    use fakes::eligibility::values::SegmentOfResult;
    use proptest::prelude::*;

    fn out(name: &str, b: &[u8]) -> OutFile {
        OutFile {
            name: name.into(),
            bytes: b.to_vec(),
            summary: Summary {
                kind: None,
                segment: SegmentOfResult::Abnormal,
                error_code: None,
                validities: vec![],
                reception_number: None,
            },
            err: None,
        }
    }

    #[test]
    fn write_new_never_replaces() {
        for mode in [WriteMode::Rename, WriteMode::InPlace] {
            let dir = tempfile::tempdir().unwrap();
            assert!(write_new(dir.path(), &out("a.xml", b"one"), mode, ".onsim-tmp-1-1").unwrap());
            assert!(!write_new(dir.path(), &out("a.xml", b"two"), mode, ".onsim-tmp-1-2").unwrap());
            assert_eq!(fs::read(dir.path().join("a.xml")).unwrap(), b"one");
            let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
            assert_eq!(names.len(), 1, "temp file left behind ({mode:?})");
        }
    }

    #[test]
    fn answer_names() {
        assert_eq!(answer_name("OQSsiquc01req_A.xml"), "OQSsiquc01res_A.xml");
        assert_eq!(answer_name("OQSmutic01req_1.xml"), "OQSmutic01res_1.xml");
        assert_eq!(
            answer_name("OQSsiquc01res_A.xml"),
            "onsim_unknown_OQSsiquc01res_A.xml"
        );
        assert_eq!(answer_name("req_x.xml"), "onsim_unknown_req_x.xml");
        assert_eq!(answer_name("foo_req.xml"), "onsim_unknown_foo_req.xml");
        assert_eq!(answer_name("ＯＱＳreq_x"), "onsim_unknown_ＯＱＳreq_x");
        assert_eq!(err_file_name("OQSmuquc01req_7.xml"), "OQSmuquc01req_7.err");
        assert_eq!(err_file_name("OQSmuquc01req_7"), "OQSmuquc01req_7.err");
        let long = long_answer_name(&"x".repeat(300));
        assert!(
            long.starts_with(LONG_NAME_PREFIX) && long.len() == 35,
            "{long}"
        );
    }

    proptest! {
        /// No two request names share an answer name, and no answer name is hidden
        /// or one of the driver's temp names.
        #[test]
        fn answer_names_are_one_to_one(a in "[A-Za-z0-9_.ｱ]{0,12}(req|res)?[_A-Za-z0-9.]{0,8}",
                                        b in "[A-Za-z0-9_.ｱ]{0,12}(req|res)?[_A-Za-z0-9.]{0,8}") {
            let (na, nb) = (answer_name(&a), answer_name(&b));
            prop_assert!(!na.starts_with('.'));
            if a != b {
                prop_assert_ne!(na, nb);
            }
        }

        #[test]
        fn known_and_mis_named_never_meet(id in "[A-Za-z0-9]{1,12}", rest in "[A-Za-z0-9_.]{0,12}") {
            let real = format!("{id}req_{rest}");
            let mis = format!("{id}res_{rest}");
            prop_assert_ne!(answer_name(&real), answer_name(&mis));
            prop_assert_eq!(answer_name(&real), mis);
        }
    }
}
