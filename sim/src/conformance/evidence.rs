//! What a conformance run leaves behind, gathered into one owned struct: the run's
//! set-up, every request the terminal took, what the SUT reported, what the
//! terminal answered. [`super::session`] fills it (the only part that reads the
//! folders); [`super::judge`] judges it without I/O, so a judgement can be tested on
//! evidence written by hand.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use fakes::eligibility::values::SegmentOfResult;

use super::judge::requirements::CciTask;
use super::plan::Purpose;
use super::{DrugTask, Task, UnknownDownload};

/// A file's name and bytes.
pub type File = (String, Vec<u8>);

/// Everything the judge looks at.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    // --- the set-up
    pub institution: String,
    /// `YYYYMMDD`.
    pub date: String,
    pub tasks: Vec<(Task, Purpose)>,
    pub cci: Vec<CciTask>,
    pub bulk: Vec<(Task, u8)>,
    pub unknown: UnknownDownload,
    /// The request file name of the refused download.
    pub unknown_request: String,
    /// The drug tasks and whether the patient consents.
    pub drug: Vec<(DrugTask, bool)>,
    pub max_attempts: u32,
    pub retry_min_interval_ms: u128,
    pub time_limit_ms: u128,
    // --- what happened
    /// Every request the terminal took: answered (`req/processed/`) or swallowed by
    /// the outage.
    pub taken: Vec<File>,
    /// Requests still in `req/` at the end (not the terminal's own `.err` files).
    pub leftover: Vec<File>,
    /// The terminal's `.err` files in `req/`.
    pub err_files: Vec<String>,
    /// The SUT's `ONSIM_RESULTS` file as written.
    pub results_text: String,
    /// First time each request name was seen in `req/` (ms since start).
    pub first_seen: BTreeMap<String, u128>,
    /// The task whose requests the outage swallowed (`Some("")`: a request of no task).
    pub outage_task: Option<String>,
    /// Whether the gate has an outage (else REQ-RETRY is skipped).
    pub outage_planned: bool,
    /// The card confirmations the gate drops (`valid`, `card-expired`,
    /// `card-locked`); a refusal it leaves out skips its requirement.
    pub faces_planned: Vec<&'static str>,
    pub swallowed_n: usize,
    /// Per task, the request files the terminal answered.
    pub answered: BTreeMap<String, Vec<String>>,
    /// Per task, the ErrorCode of the terminal's last answer.
    pub error_codes: BTreeMap<String, Option<String>>,
    /// Face files the reader dropped and what each stands for (`valid`,
    /// `card-expired`, `card-locked`).
    pub faces: Vec<(String, &'static str)>,
    pub exit_status: Option<i32>,
    pub timed_out: bool,
    /// SegmentOfResult of each bulk download answer, in order.
    pub download_segments: Vec<SegmentOfResult>,
    /// The ErrorCode of the terminal's answer to the refused download (outer
    /// `None`: never answered).
    pub unknown_error: Option<Option<String>>,
    /// The terminal's `YZKsiquc01res_*` answers.
    pub drug_answers: Vec<File>,
}

impl Evidence {
    /// Read what the terminal folders hold at the end of a run: requests taken
    /// (answered or swallowed), left over, the `.err` files, and the SUT's results.
    pub fn read_folders(&mut self, term: &Path, swallowed: &Path, results: &Path) {
        let mut taken = files_in(&term.join("req").join("processed"));
        taken.extend(files_in(swallowed));
        self.taken = taken;
        let (err, leftover): (Vec<File>, Vec<File>) = files_in(&term.join("req"))
            .into_iter()
            .partition(|(n, _)| n.ends_with(".err"));
        self.leftover = leftover;
        self.err_files = err.into_iter().map(|(n, _)| n).collect();
        self.results_text = fs::read_to_string(results).unwrap_or_default();
    }
}

/// Keep a copy of every complete `YZKsiquc01res_*` answer in `res/` (a client may
/// consume its answers).
pub fn capture_drug_answers(res: &Path, into: &mut BTreeMap<String, Vec<u8>>) {
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

/// The files of a folder (not hidden ones), sorted by name.
pub fn files_in(dir: &Path) -> Vec<(String, Vec<u8>)> {
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
