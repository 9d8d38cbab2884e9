//! Per-run rows (`onsim sweep --per-run FILE`): what one replication records, one row
//! each, in the columns docs/per-run-schema.md lists. The columns are fixed (every
//! slack and flag, whatever the rule set) so files of different sweeps stack;
//! [`columns`] is their one definition.

use chrono::NaiveDate;

use fakes::process::{Event, EventKind};

use super::cause::Cause;
use super::measure::{Seen, SLACKS};
use super::vary::Variant;
use crate::scenario::Outcome;

/// How a flag is read off a run's events.
#[derive(Debug, Clone, Copy)]
pub enum FlagTest {
    /// The run has an event of this kind.
    Event(EventKind),
    /// An event's reason starts with this text: the actors of `fakes` tag what a fault
    /// did with `fault <kind>:` (e.g. fakes/src/process/reader_vendor.rs).
    Why(&'static str),
}

/// One boolean column: a fault that bit, or a step that went wrong.
#[derive(Debug, Clone, Copy)]
pub struct Flag {
    pub column: &'static str,
    pub test: FlagTest,
    pub meaning: &'static str,
}

/// The flag columns, in process order *(our choice: every fault kind that leaves a
/// trace in the events, and the late steps the critical path reads)*.
pub const FLAGS: [Flag; 14] = [
    Flag {
        column: "flag_request_returned",
        test: FlagTest::Event(EventKind::RequestReturned),
        meaning: "the reception-number request was returned (返戻)",
    },
    Flag {
        column: "flag_bureau_answer_delay",
        test: FlagTest::Why("fault bureau-answer-delay"),
        meaning: "fault bureau-answer-delay: the bureau's answer went out late",
    },
    Flag {
        column: "flag_reception_number_late",
        test: FlagTest::Event(EventKind::ReceptionNumberLate),
        meaning: "the reception number was submitted after the 15th",
    },
    Flag {
        column: "flag_plan_correction",
        test: FlagTest::Event(EventKind::CorrectionRequested),
        meaning: "the bureau asked for a correction (補正) of the onboarding plan",
    },
    Flag {
        column: "flag_designation_application_late",
        test: FlagTest::Event(EventKind::DesignationApplicationLate),
        meaning: "the designation application was late",
    },
    Flag {
        column: "flag_not_designated",
        test: FlagTest::Event(EventKind::NotDesignated),
        meaning: "not designated (未指定)",
    },
    Flag {
        column: "flag_reader_delay",
        test: FlagTest::Why("fault reader-delay"),
        meaning: "fault reader-delay: the vendor's delivery slipped",
    },
    Flag {
        column: "flag_reader_doa",
        test: FlagTest::Event(EventKind::ReaderDeadOnArrival),
        meaning: "the reader was dead on arrival and replaced",
    },
    Flag {
        column: "flag_line_rejected",
        test: FlagTest::Event(EventKind::LineRejected),
        meaning: "the line is not on the connectable list",
    },
    Flag {
        column: "flag_certificate_notice_delay",
        test: FlagTest::Why("fault certificate-notice-delay"),
        meaning: "fault certificate-notice-delay: the certificate notice arrived late",
    },
    Flag {
        column: "flag_certificate_notice_lost",
        test: FlagTest::Event(EventKind::CertificateNoticeLost),
        meaning: "the certificate notice was lost in the mail",
    },
    Flag {
        column: "flag_installation_postponed",
        test: FlagTest::Event(EventKind::InstallationPostponed),
        meaning: "the installation was postponed",
    },
    Flag {
        column: "flag_installation_connectivity",
        test: FlagTest::Event(EventKind::ConnectivityFailed),
        meaning: "a connectivity check failed on installation day",
    },
    Flag {
        column: "flag_go_live_connectivity",
        test: FlagTest::Event(EventKind::OnlineStartFailed),
        meaning: "the go-live connectivity check failed",
    },
];

/// The flags of a run, bit `i` for `FLAGS[i]`.
pub fn flags_of(seen: &Seen, timeline: &[Event]) -> u32 {
    let mut bits = 0u32;
    for (i, f) in FLAGS.iter().enumerate() {
        let on = match f.test {
            FlagTest::Event(k) => seen.has(k),
            FlagTest::Why(prefix) => timeline.iter().any(|e| e.why.starts_with(prefix)),
        };
        if on {
            bits |= 1 << i;
        }
    }
    bits
}

/// What one replication records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRow {
    /// Replication index `i` (its seed is `derive_seed(S, "run-{i}")`).
    pub run: u64,
    pub seed: u64,
    pub outcome: Outcome,
    pub online_start: Option<NaiveDate>,
    /// Calendar days from designation to online start (not clamped).
    pub start_delay: Option<i32>,
    /// Slack per [`SLACKS`] entry (not clamped); `None` when the event never happened
    /// or the rule set has no such deadline.
    pub slack: [Option<i32>; SLACKS.len()],
    pub cause: Option<Cause>,
    /// Bit `i` for `FLAGS[i]`.
    pub flags: u32,
}

impl RunRow {
    pub fn new(run: u64, seed: u64) -> RunRow {
        RunRow {
            run,
            seed,
            outcome: Outcome::Refused,
            online_start: None,
            start_delay: None,
            slack: [None; SLACKS.len()],
            cause: None,
            flags: 0,
        }
    }
    pub fn flag(&self, i: usize) -> bool {
        self.flags & (1 << i) != 0
    }
}

/// Where per-run rows go. [`crate::sweep::sweep_with_rows`] calls `begin` once with
/// every variant, then `rows` with each variant's rows in replication order.
pub trait RowSink {
    fn begin(&mut self, variants: &[Variant]) -> Result<(), String>;
    fn rows(&mut self, variant: usize, rows: &[RunRow]) -> Result<(), String>;
}

/// The slack column of a slack id, e.g. `slack_reception_request`.
pub fn slack_column(id: &str) -> String {
    format!("slack_{}", id.replace('-', "_"))
}

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Col {
    Variant,
    Label,
    /// The value of the `i`-th `--vary` key.
    Vary(usize),
    Rules,
    Bureau,
    Designation,
    Run,
    Seed,
    Outcome,
    OnlineStart,
    StartDelay,
    /// Slack of `SLACKS[i]`.
    Slack(usize),
    Cause,
    /// `FLAGS[i]`.
    Flag(usize),
}

/// A column's logical type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    I32,
    U64,
    Str,
    Date,
    Bool,
}

impl Col {
    pub fn kind(self) -> Kind {
        match self {
            Col::Variant | Col::StartDelay | Col::Slack(_) => Kind::I32,
            Col::Run | Col::Seed => Kind::U64,
            Col::Label | Col::Vary(_) | Col::Rules | Col::Bureau | Col::Outcome | Col::Cause => {
                Kind::Str
            }
            Col::Designation | Col::OnlineStart => Kind::Date,
            Col::Flag(_) => Kind::Bool,
        }
    }
    /// Whether the column can be null.
    pub fn nullable(self) -> bool {
        matches!(
            self,
            Col::OnlineStart | Col::StartDelay | Col::Slack(_) | Col::Cause
        )
    }
}

/// Every column, in file order: the `--vary` keys (as written) after the variant's
/// label.
pub fn columns(vary_keys: &[String]) -> Vec<(String, Col)> {
    let mut c = vec![
        ("variant".to_string(), Col::Variant),
        ("variant_label".to_string(), Col::Label),
    ];
    for (i, k) in vary_keys.iter().enumerate() {
        c.push((k.clone(), Col::Vary(i)));
    }
    for (n, col) in [
        ("rules", Col::Rules),
        ("bureau", Col::Bureau),
        ("designation", Col::Designation),
        ("run", Col::Run),
        ("seed", Col::Seed),
        ("outcome", Col::Outcome),
        ("online_start", Col::OnlineStart),
        ("start_delay_days", Col::StartDelay),
    ] {
        c.push((n.to_string(), col));
    }
    for (i, s) in SLACKS.iter().enumerate() {
        c.push((slack_column(s.id), Col::Slack(i)));
    }
    c.push(("cause".to_string(), Col::Cause));
    for (i, f) in FLAGS.iter().enumerate() {
        c.push((f.column.to_string(), Col::Flag(i)));
    }
    c
}

/// The columns that stay the same within a variant.
#[derive(Debug, Clone)]
pub struct VariantCols {
    pub label: String,
    /// The value of each `--vary` key, in key order.
    pub values: Vec<String>,
    pub rules: String,
    pub bureau: String,
    pub designation: NaiveDate,
}

/// One cell.
pub enum Cell<'a> {
    I32(Option<i32>),
    U64(u64),
    Str(Option<&'a str>),
    Date(Option<NaiveDate>),
    Bool(bool),
}

pub fn days_since_epoch(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("the epoch is a date")).num_days() as i32
}

pub fn cell<'a>(col: Col, vi: usize, v: &'a VariantCols, row: &RunRow) -> Cell<'a> {
    match col {
        Col::Variant => Cell::I32(Some(vi as i32)),
        Col::Label => Cell::Str(Some(&v.label)),
        Col::Vary(i) => Cell::Str(Some(&v.values[i])),
        Col::Rules => Cell::Str(Some(&v.rules)),
        Col::Bureau => Cell::Str(Some(&v.bureau)),
        Col::Designation => Cell::Date(Some(v.designation)),
        Col::Run => Cell::U64(row.run),
        Col::Seed => Cell::U64(row.seed),
        Col::Outcome => Cell::Str(Some(row.outcome.as_str())),
        Col::OnlineStart => Cell::Date(row.online_start),
        Col::StartDelay => Cell::I32(row.start_delay),
        Col::Slack(i) => Cell::I32(row.slack[i]),
        Col::Cause => Cell::Str(row.cause.map(|c| c.as_str())),
        Col::Flag(i) => Cell::Bool(row.flag(i)),
    }
}
