//! Monte Carlo sweeps: many replications of one scenario (and of variants of it), reduced
//! to integer counts that merge exactly.
//!
//! Replication `i` runs with master seed `derive_seed(S, "run-{i}")`, whatever the
//! thread count or sharding, and every variant uses the same replication seeds (common
//! random numbers: differences between variants are not sampling noise of different
//! streams). Runs are grouped into fixed-size chunks, run in parallel with rayon, and
//! each chunk is reduced into an [`Accum`] of integer counts and histograms; the chunk
//! accumulators are summed in chunk order. No float is ever summed, so the result is
//! byte-identical for any `--threads`, and a set of shards merged with [`merge`] is
//! byte-identical to the unsharded run.
//!
//! # Sharding, e.g. as a Kubernetes indexed Job
//!
//! `--shard I/N` runs only the replications with `i % N == I`; its JSON output carries
//! the raw counts. `onsim merge` sums the shard files and prints exactly what the
//! unsharded sweep prints. As an indexed Job (`completionMode: Indexed`), Kubernetes
//! sets `JOB_COMPLETION_INDEX` in each pod:
//!
//! ```yaml
//! apiVersion: batch/v1
//! kind: Job
//! metadata: { name: onsim-sweep }
//! spec:
//!   completions: 8
//!   parallelism: 8
//!   completionMode: Indexed
//!   template:
//!     spec:
//!       restartPolicy: Never
//!       containers:
//!         - name: sweep
//!           image: onsim:latest
//!           command: ["sh", "-c"]
//!           args:
//!             - onsim sweep scenarios/sweeps/r2024-standard.toml --runs 10000000
//!               --seed 7 --shard "$JOB_COMPLETION_INDEX/8"
//!               --out "/results/shard-$JOB_COMPLETION_INDEX.json"
//!           volumeMounts: [{ name: results, mountPath: /results }]
//!       volumes: [{ name: results, persistentVolumeClaim: { claimName: onsim-results } }]
//! ```
//!
//! then `onsim merge /results/shard-*.json --out sweep.json` (it refuses a missing or
//! duplicated shard, and shards of different scenarios, seeds, run counts or `--vary`).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use fakes::calendar::BusinessCalendar;
use fakes::process::EventKind;
use fakes::schedule::MilestoneId;
use fakes::time::VirtualTime;

use crate::engine::derive_seed;
use crate::runner::{self, Detail, Prepared, RunResult};
use crate::scenario::{self, Outcome, Scenario};

/// Replications per parallel work item. Fixed, so the reduction tree does not depend
/// on the thread count.
pub const CHUNK: u64 = 4096;
/// Format marker of sweep files.
pub const FORMAT: &str = "onsim-sweep/1";

/// Every outcome, in report order.
pub const OUTCOMES: [Outcome; 8] = [
    Outcome::OnlineOnDesignationDay,
    Outcome::OnlineLate,
    Outcome::NotOnline,
    Outcome::RequestReturned,
    Outcome::NotDesignated,
    Outcome::Exempt,
    Outcome::LimitedTypeReady,
    Outcome::Refused,
];

fn outcome_index(o: Outcome) -> usize {
    OUTCOMES.iter().position(|x| *x == o).unwrap_or(0)
}

// ---------------------------------------------------------------------------
// Histograms
// ---------------------------------------------------------------------------

/// Slack and delays are clamped into this many days either side of zero.
pub const HIST_RANGE: i32 = 400;

/// A dense integer histogram over `-HIST_RANGE..=HIST_RANGE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hist {
    counts: Vec<u64>,
}

impl Default for Hist {
    fn default() -> Self {
        Hist {
            counts: vec![0; (2 * HIST_RANGE + 1) as usize],
        }
    }
}

impl Hist {
    pub fn add(&mut self, v: i32) {
        self.add_n(v, 1);
    }
    pub fn add_n(&mut self, v: i32, n: u64) {
        let i = (v.clamp(-HIST_RANGE, HIST_RANGE) + HIST_RANGE) as usize;
        self.counts[i] += n;
    }
    pub fn merge(&mut self, o: &Hist) {
        for (a, b) in self.counts.iter_mut().zip(&o.counts) {
            *a += b;
        }
    }
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
    /// Non-zero bins as `[value, count]`, ascending.
    pub fn sparse(&self) -> Vec<[i64; 2]> {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, c)| [i as i64 - i64::from(HIST_RANGE), *c as i64])
            .collect()
    }
    pub fn from_sparse(bins: &[[i64; 2]]) -> Result<Hist, String> {
        let mut h = Hist::default();
        for [v, c] in bins {
            if *v < -i64::from(HIST_RANGE) || *v > i64::from(HIST_RANGE) || *c < 0 {
                return Err(format!("histogram bin [{v}, {c}] out of range"));
            }
            h.add_n(*v as i32, *c as u64);
        }
        Ok(h)
    }
    /// Nearest-rank percentile (`q` in 0..=1): the smallest value with at least
    /// `ceil(q·n)` observations at or below it.
    pub fn percentile(&self, q: f64) -> Option<i64> {
        let n = self.total();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let mut acc = 0;
        for (i, c) in self.counts.iter().enumerate() {
            acc += c;
            if acc >= rank {
                return Some(i as i64 - i64::from(HIST_RANGE));
            }
        }
        None
    }
    /// Sum of values (exact, integer).
    pub fn sum(&self) -> i128 {
        self.counts
            .iter()
            .enumerate()
            .map(|(i, c)| (i as i128 - i128::from(HIST_RANGE)) * i128::from(*c))
            .sum()
    }
    /// Observations strictly below `v`.
    pub fn below(&self, v: i32) -> u64 {
        let end = (v.clamp(-HIST_RANGE, HIST_RANGE + 1) + HIST_RANGE) as usize;
        self.counts[..end.min(self.counts.len())].iter().sum()
    }
}

// ---------------------------------------------------------------------------
// What is measured
// ---------------------------------------------------------------------------

/// Units of a slack distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unit {
    BusinessDays,
    CalendarDays,
}

/// The reference date a slack is measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference {
    Milestone(MilestoneId),
    /// The planned installation day (the plan's, which may differ from the rule's).
    PlannedInstallation,
}

/// One slack: how far ahead of its deadline a key event happened (negative: late).
#[derive(Debug, Clone, Copy)]
pub struct SlackDef {
    pub id: &'static str,
    pub event: EventKind,
    pub reference: Reference,
    pub reference_name: &'static str,
    pub unit: Unit,
    /// Business days on the bureau's own calendar (its closures) rather than the
    /// standard government calendar.
    pub bureau_calendar: bool,
}

/// The slacks every sweep reports (those whose reference exists under the rule set).
pub const SLACKS: [SlackDef; 10] = [
    SlackDef {
        id: "reception-request",
        event: EventKind::ReceptionRequestSent,
        reference: Reference::Milestone(MilestoneId::ReceptionRequestDeadline),
        reference_name: "reception-request-deadline",
        unit: Unit::BusinessDays,
        bureau_calendar: true,
    },
    SlackDef {
        id: "bureau-answer",
        event: EventKind::BureauAnswerDispatched,
        reference: Reference::Milestone(MilestoneId::BureauAnswerDispatch),
        reference_name: "bureau-answer-dispatch",
        unit: Unit::BusinessDays,
        bureau_calendar: true,
    },
    SlackDef {
        id: "reception-number",
        event: EventKind::ReceptionNumberSubmitted,
        reference: Reference::Milestone(MilestoneId::ImplementingBodyDeadline),
        reference_name: "implementing-body-deadline",
        unit: Unit::BusinessDays,
        bureau_calendar: false,
    },
    SlackDef {
        id: "certificate-application",
        event: EventKind::CertificateApplicationSent,
        reference: Reference::Milestone(MilestoneId::CertificateApplicationDeadline),
        reference_name: "certificate-application-deadline",
        unit: Unit::BusinessDays,
        bureau_calendar: false,
    },
    SlackDef {
        id: "designation-application",
        event: EventKind::DesignationApplicationSent,
        reference: Reference::Milestone(MilestoneId::DesignationApplicationDeadline),
        reference_name: "designation-application-deadline",
        unit: Unit::BusinessDays,
        bureau_calendar: true,
    },
    SlackDef {
        id: "certificate-notice",
        event: EventKind::CertificateNoticeReceived,
        reference: Reference::PlannedInstallation,
        reference_name: "planned installation",
        unit: Unit::CalendarDays,
        bureau_calendar: false,
    },
    SlackDef {
        id: "reader",
        event: EventKind::ReaderDelivered,
        reference: Reference::PlannedInstallation,
        reference_name: "planned installation",
        unit: Unit::CalendarDays,
        bureau_calendar: false,
    },
    SlackDef {
        id: "line",
        event: EventKind::LineReady,
        reference: Reference::PlannedInstallation,
        reference_name: "planned installation",
        unit: Unit::CalendarDays,
        bureau_calendar: false,
    },
    SlackDef {
        id: "portal-account",
        event: EventKind::AccountReady,
        reference: Reference::PlannedInstallation,
        reference_name: "planned installation",
        unit: Unit::CalendarDays,
        bureau_calendar: false,
    },
    SlackDef {
        id: "installation",
        event: EventKind::InstallationDone,
        reference: Reference::Milestone(MilestoneId::Designation),
        reference_name: "designation",
        unit: Unit::BusinessDays,
        bureau_calendar: false,
    },
];

/// Why a run was not online on day 1: the step that made the clinic late.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    RequestReturned,
    BureauAnswerLate,
    ReceptionNumberLate,
    PlanCorrection,
    DesignationApplicationLate,
    DesignationRefused,
    ReaderDeadOnArrival,
    ReaderLate,
    LineNotConnectable,
    LineLate,
    PortalAccountLate,
    CertificateNoticeLost,
    CertificateNoticeLate,
    InstallationConnectivity,
    GoLiveConnectivity,
    Other,
}

pub const CAUSES: [Cause; 16] = [
    Cause::RequestReturned,
    Cause::BureauAnswerLate,
    Cause::ReceptionNumberLate,
    Cause::PlanCorrection,
    Cause::DesignationApplicationLate,
    Cause::DesignationRefused,
    Cause::ReaderDeadOnArrival,
    Cause::ReaderLate,
    Cause::LineNotConnectable,
    Cause::LineLate,
    Cause::PortalAccountLate,
    Cause::CertificateNoticeLost,
    Cause::CertificateNoticeLate,
    Cause::InstallationConnectivity,
    Cause::GoLiveConnectivity,
    Cause::Other,
];

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::RequestReturned => "request-returned",
            Cause::BureauAnswerLate => "bureau-answer-late",
            Cause::ReceptionNumberLate => "reception-number-late",
            Cause::PlanCorrection => "onboarding-plan-correction",
            Cause::DesignationApplicationLate => "designation-application-late",
            Cause::DesignationRefused => "designation-refused",
            Cause::ReaderDeadOnArrival => "reader-dead-on-arrival",
            Cause::ReaderLate => "reader-late",
            Cause::LineNotConnectable => "line-not-connectable",
            Cause::LineLate => "line-late",
            Cause::PortalAccountLate => "portal-account-late",
            Cause::CertificateNoticeLost => "certificate-notice-lost",
            Cause::CertificateNoticeLate => "certificate-notice-late",
            Cause::InstallationConnectivity => "installation-connectivity",
            Cause::GoLiveConnectivity => "go-live-connectivity",
            Cause::Other => "other",
        }
    }
    /// What the cause means, for reports.
    pub fn explain(self) -> &'static str {
        match self {
            Cause::RequestReturned => {
                "the reception-number request reached the bureau after its deadline (返戻)"
            }
            Cause::BureauAnswerLate => {
                "the bureau's answer went out late, so the number missed the 15th"
            }
            Cause::ReceptionNumberLate => {
                "the clinic submitted the reception number after the 15th"
            }
            Cause::PlanCorrection => {
                "the onboarding plan needed a correction (補正) and the designation moved"
            }
            Cause::DesignationApplicationLate => {
                "the designation application was late and the designation moved"
            }
            Cause::DesignationRefused => "not designated (未指定)",
            Cause::ReaderDeadOnArrival => {
                "the reader was dead on arrival; its replacement was the last prerequisite"
            }
            Cause::ReaderLate => {
                "the reader was the last prerequisite, after the planned installation"
            }
            Cause::LineNotConnectable => "the line is not on the connectable list",
            Cause::LineLate => "the line was the last prerequisite, after the planned installation",
            Cause::PortalAccountLate => {
                "the portal account was the last prerequisite, after the planned installation"
            }
            Cause::CertificateNoticeLost => "the certificate notice was lost in the mail",
            Cause::CertificateNoticeLate => {
                "the certificate notice was the last prerequisite, after the planned installation"
            }
            Cause::InstallationConnectivity => "the connectivity check failed on installation day",
            Cause::GoLiveConnectivity => {
                "everything was installed, but the go-live connectivity check failed"
            }
            Cause::Other => "none of the above",
        }
    }
    pub fn parse(s: &str) -> Option<Cause> {
        CAUSES.iter().copied().find(|c| c.as_str() == s)
    }
}

const KINDS: usize = 64;

/// First and last time of each event kind in one run.
struct Seen {
    first: [Option<VirtualTime>; KINDS],
    last: [Option<VirtualTime>; KINDS],
}

impl Seen {
    fn of(r: &RunResult) -> Seen {
        let mut s = Seen {
            first: [None; KINDS],
            last: [None; KINDS],
        };
        for e in &r.timeline {
            let k = e.kind as usize;
            if k < KINDS {
                if s.first[k].is_none() {
                    s.first[k] = Some(e.at);
                }
                s.last[k] = Some(e.at);
            }
        }
        s
    }
    fn has(&self, k: EventKind) -> bool {
        self.first[k as usize].is_some()
    }
    fn last(&self, k: EventKind) -> Option<VirtualTime> {
        self.last[k as usize]
    }
    fn first(&self, k: EventKind) -> Option<VirtualTime> {
        self.first[k as usize]
    }
}

/// Open days as prefix sums, so "business days between" is one subtraction.
struct OpenDays {
    base: NaiveDate,
    prefix: Vec<i32>,
}

impl OpenDays {
    const SPAN: i64 = 2 * HIST_RANGE as i64 + 400;

    fn new(cal: &BusinessCalendar, around: NaiveDate) -> OpenDays {
        let base = around - chrono::Duration::days(Self::SPAN / 2);
        let mut prefix = Vec::with_capacity(Self::SPAN as usize);
        let mut n = 0;
        for i in 0..Self::SPAN {
            let d = base + chrono::Duration::days(i);
            if cal.is_open(d).unwrap_or(false) {
                n += 1;
            }
            prefix.push(n);
        }
        OpenDays { base, prefix }
    }

    fn idx(&self, d: NaiveDate) -> usize {
        (d - self.base).num_days().clamp(0, Self::SPAN - 1) as usize
    }

    /// Open days in (`from`, `to`]; negative when `to` is earlier.
    fn between(&self, from: NaiveDate, to: NaiveDate) -> i32 {
        self.prefix[self.idx(to)] - self.prefix[self.idx(from)]
    }
}

/// One variant, ready to run many seeds.
pub struct VariantRun<'a> {
    prepared: Result<Prepared<'a>, String>,
    designation: NaiveDate,
    installation: Option<NaiveDate>,
    /// Active slacks and their reference dates.
    slacks: Vec<(SlackDef, NaiveDate)>,
    standard: OpenDays,
    bureau: OpenDays,
}

impl<'a> VariantRun<'a> {
    pub fn new(s: &'a Scenario) -> VariantRun<'a> {
        let prepared = runner::prepare(s);
        let designation = s.spec.clinic.designation;
        let bureau_cal =
            BusinessCalendar::with_closures(s.spec.actors.bureau.closures.iter().copied());
        let (installation, slacks) = match &prepared {
            Ok(p) => {
                let inst = p.setup.plan.installation;
                let slacks = SLACKS
                    .iter()
                    .filter_map(|d| {
                        let r = match d.reference {
                            Reference::Milestone(m) => p.schedule.date(m)?,
                            Reference::PlannedInstallation => inst,
                        };
                        Some((*d, r))
                    })
                    .collect();
                (Some(inst), slacks)
            }
            Err(_) => (None, Vec::new()),
        };
        VariantRun {
            prepared,
            designation,
            installation,
            slacks,
            standard: OpenDays::new(&BusinessCalendar::standard(), designation),
            bureau: OpenDays::new(&bureau_cal, designation),
        }
    }

    /// The ids of the slacks this variant reports, in order.
    pub fn slack_ids(&self) -> Vec<&'static str> {
        self.slacks.iter().map(|(d, _)| d.id).collect()
    }

    fn empty(&self) -> Accum {
        Accum::new(self.slacks.len())
    }

    /// Run replication seeds and add them to `acc`.
    pub fn run_one(&self, seed: u64, acc: &mut Accum) {
        acc.runs += 1;
        let p = match &self.prepared {
            Ok(p) => p,
            Err(_) => {
                acc.outcomes[outcome_index(Outcome::Refused)] += 1;
                return;
            }
        };
        let r = runner::run_prepared(p, seed, Detail::Lean);
        self.observe(&r, acc);
    }

    fn observe(&self, r: &RunResult, acc: &mut Accum) {
        acc.outcomes[outcome_index(r.outcome)] += 1;
        match r.online_start {
            Some(d) => acc.delay.add((d - self.designation).num_days() as i32),
            None => acc.never_online += 1,
        }
        let seen = Seen::of(r);
        for (i, (def, reference)) in self.slacks.iter().enumerate() {
            let at = if def.event == EventKind::InstallationDone {
                seen.first(def.event)
            } else {
                seen.last(def.event)
            };
            match at {
                None => acc.slack_missing[i] += 1,
                Some(t) => {
                    let d = t.date();
                    let v = match def.unit {
                        Unit::CalendarDays => (*reference - d).num_days() as i32,
                        Unit::BusinessDays => {
                            if def.bureau_calendar {
                                self.bureau.between(d, *reference)
                            } else {
                                self.standard.between(d, *reference)
                            }
                        }
                    };
                    acc.slack[i].add(v);
                }
            }
        }
        if let Some(c) = self.attribute(r.outcome, &seen) {
            acc.causes[CAUSES
                .iter()
                .position(|x| *x == c)
                .unwrap_or(CAUSES.len() - 1)] += 1;
        }
    }

    /// For a run not online on day 1, the step that most plausibly made it late: the
    /// first deadline missed in process order, else the last prerequisite to arrive
    /// before installation, else the go-live check.
    fn attribute(&self, outcome: Outcome, seen: &Seen) -> Option<Cause> {
        use EventKind as K;
        if matches!(
            outcome,
            Outcome::OnlineOnDesignationDay
                | Outcome::Exempt
                | Outcome::Refused
                | Outcome::LimitedTypeReady
        ) {
            return None;
        }
        if seen.has(K::RequestReturned) {
            return Some(Cause::RequestReturned);
        }
        if seen.has(K::NotDesignated) {
            return Some(Cause::DesignationRefused);
        }
        if seen.has(K::ReceptionNumberLate) {
            let answer_late = match (&self.prepared, seen.last(K::BureauAnswerDispatched)) {
                (Ok(p), Some(t)) => p
                    .schedule
                    .date(MilestoneId::BureauAnswerDispatch)
                    .is_some_and(|d| t.date() > d),
                _ => false,
            };
            return Some(if answer_late {
                Cause::BureauAnswerLate
            } else {
                Cause::ReceptionNumberLate
            });
        }
        if seen.has(K::DesignationApplicationLate) {
            return Some(if seen.has(K::CorrectionRequested) {
                Cause::PlanCorrection
            } else {
                Cause::DesignationApplicationLate
            });
        }
        let designation_day = VirtualTime::start_of(self.designation).plus_days(1);
        let installed = seen.first(K::InstallationDone);
        if installed.is_none_or(|t| t >= designation_day) {
            let planned = self
                .installation
                .map(|d| VirtualTime::start_of(d).plus_days(1));
            // The prerequisite that arrived last (never = latest of all).
            let prereqs = [
                (K::ReaderDelivered, 0u8),
                (K::LineReady, 1),
                (K::AccountReady, 2),
                (K::CertificateNoticeReceived, 3),
            ];
            let mut worst: Option<(Option<VirtualTime>, u8)> = None;
            for (k, tag) in prereqs {
                let t = seen.first(k);
                let later = match (&worst, t) {
                    (None, _) => true,
                    (Some((Some(_), _)), None) => true,
                    (Some((Some(w), _)), Some(t)) => t > *w,
                    (Some((None, _)), _) => false,
                };
                if later {
                    worst = Some((t, tag));
                }
            }
            if let Some((t, tag)) = worst {
                let after_plan = match (t, planned) {
                    (None, _) => true,
                    (Some(t), Some(p)) => t >= p,
                    (Some(_), None) => false,
                };
                if after_plan {
                    return Some(match tag {
                        0 if seen.has(K::ReaderDeadOnArrival) => Cause::ReaderDeadOnArrival,
                        0 => Cause::ReaderLate,
                        1 if seen.has(K::LineRejected) => Cause::LineNotConnectable,
                        1 => Cause::LineLate,
                        2 => Cause::PortalAccountLate,
                        _ if t.is_none() && seen.has(K::CertificateNoticeLost) => {
                            Cause::CertificateNoticeLost
                        }
                        _ => Cause::CertificateNoticeLate,
                    });
                }
            }
            if seen.has(K::ConnectivityFailed) {
                return Some(Cause::InstallationConnectivity);
            }
            return Some(Cause::Other);
        }
        if seen.has(K::OnlineStartFailed) {
            return Some(Cause::GoLiveConnectivity);
        }
        Some(Cause::Other)
    }
}

/// Integer counts of a set of runs: everything a report needs, and exactly mergeable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accum {
    pub runs: u64,
    pub outcomes: [u64; OUTCOMES.len()],
    /// Calendar days from designation to online start.
    pub delay: Hist,
    pub never_online: u64,
    pub slack: Vec<Hist>,
    pub slack_missing: Vec<u64>,
    pub causes: [u64; CAUSES.len()],
}

impl Accum {
    pub fn new(slacks: usize) -> Accum {
        Accum {
            runs: 0,
            outcomes: [0; OUTCOMES.len()],
            delay: Hist::default(),
            never_online: 0,
            slack: vec![Hist::default(); slacks],
            slack_missing: vec![0; slacks],
            causes: [0; CAUSES.len()],
        }
    }

    pub fn merge(&mut self, o: &Accum) {
        self.runs += o.runs;
        for (a, b) in self.outcomes.iter_mut().zip(&o.outcomes) {
            *a += b;
        }
        self.delay.merge(&o.delay);
        self.never_online += o.never_online;
        for (a, b) in self.slack.iter_mut().zip(&o.slack) {
            a.merge(b);
        }
        for (a, b) in self.slack_missing.iter_mut().zip(&o.slack_missing) {
            *a += b;
        }
        for (a, b) in self.causes.iter_mut().zip(&o.causes) {
            *a += b;
        }
    }
}

// ---------------------------------------------------------------------------
// Variants (--vary)
// ---------------------------------------------------------------------------

/// One `--vary KEY=V1,V2,...`.
#[derive(Debug, Clone, PartialEq)]
pub struct Vary {
    pub key: String,
    pub values: Vec<String>,
}

impl Vary {
    pub fn parse(s: &str) -> Result<Vary, String> {
        let (key, values) = s.split_once('=').ok_or_else(|| {
            format!("--vary {s:?}: expected KEY=V1,V2,... (e.g. scenario.rules=r2021,r2024)")
        })?;
        let key = key.trim();
        if key.is_empty() || key.split('.').any(|p| p.trim().is_empty()) {
            return Err(format!(
                "--vary {s:?}: the key must be a dotted path like actors.reader_vendor.lead.mode"
            ));
        }
        let values: Vec<String> = values.split(',').map(|v| v.trim().to_string()).collect();
        if values.iter().any(String::is_empty) {
            return Err(format!("--vary {s:?}: empty value in the list"));
        }
        Ok(Vary {
            key: key.to_string(),
            values,
        })
    }

    pub fn spec(&self) -> String {
        format!("{}={}", self.key, self.values.join(","))
    }
}

/// A TOML value from a command-line word: a number, boolean or date when it reads as
/// one, otherwise a string.
fn toml_value(word: &str) -> toml::Value {
    match format!("v = {word}").parse::<toml::Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(word.into())),
        Err(_) => toml::Value::String(word.to_string()),
    }
}

fn set_path(root: &mut toml::Value, key: &str, value: toml::Value) -> Result<(), String> {
    let parts: Vec<&str> = key.split('.').collect();
    let mut cur = root;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let here = parts[..=i].join(".");
        cur = match cur {
            toml::Value::Table(t) => {
                if last {
                    t.insert(part.to_string(), value);
                    return Ok(());
                }
                t.entry(part.to_string())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            }
            toml::Value::Array(a) => {
                let idx: usize = part.parse().map_err(|_| {
                    format!(
                        "{here}: {} is a list; index it with a number (e.g. faults.0.probability)",
                        parts[..i].join(".")
                    )
                })?;
                let len = a.len();
                let slot = a
                    .get_mut(idx)
                    .ok_or_else(|| format!("{here}: the list has {len} entries"))?;
                if last {
                    *slot = value;
                    return Ok(());
                }
                slot
            }
            _ => {
                return Err(format!(
                    "{here}: {} is a value, not a table",
                    parts[..i].join(".")
                ))
            }
        };
    }
    Ok(())
}

/// One variant of the scenario.
#[derive(Debug, Clone)]
pub struct Variant {
    /// `key=value` pairs, in `--vary` order; empty for the scenario as written.
    pub settings: Vec<(String, String)>,
    pub scenario: Scenario,
}

impl Variant {
    pub fn label(&self) -> String {
        if self.settings.is_empty() {
            "base".to_string()
        } else {
            self.settings
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        }
    }
}

/// Expand the scenario into its variants: the cartesian product of every `--vary`, in
/// the order given. Each is applied to the TOML and re-checked by [`scenario::parse`].
pub fn variants(file: &str, text: &str, vary: &[Vary]) -> Result<Vec<Variant>, String> {
    let base = scenario::parse(file, text).map_err(|e| e.to_string())?;
    if vary.is_empty() {
        return Ok(vec![Variant {
            settings: Vec::new(),
            scenario: base,
        }]);
    }
    let root: toml::Value = toml::from_str(text).map_err(|e| format!("{file}: {e}"))?;
    let mut combos: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for v in vary {
        let mut next = Vec::new();
        for c in &combos {
            for val in &v.values {
                let mut c = c.clone();
                c.push((v.key.clone(), val.clone()));
                next.push(c);
            }
        }
        combos = next;
    }
    if combos.len() > 10_000 {
        return Err(format!(
            "--vary gives {} variants; at most 10000",
            combos.len()
        ));
    }
    let mut out = Vec::new();
    for settings in combos {
        let mut doc = root.clone();
        for (k, v) in &settings {
            set_path(&mut doc, k, toml_value(v)).map_err(|e| format!("--vary {k}={v}: {e}"))?;
        }
        let edited = toml::to_string(&doc).map_err(|e| format!("--vary: {e}"))?;
        let label = settings
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        let s = scenario::parse(file, &edited).map_err(|e| {
            format!(
                "--vary {label}: the scenario no longer checks: {}{}",
                e.message,
                e.hint.map(|h| format!("\n  hint: {h}")).unwrap_or_default()
            )
        })?;
        out.push(Variant {
            settings,
            scenario: s,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------

/// Which replications to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub fn parse(s: &str) -> Result<Shard, String> {
        let err = || format!("--shard {s:?}: expected I/N with 0 <= I < N (e.g. 0/8)");
        let (i, n) = s.split_once('/').ok_or_else(err)?;
        let index: u64 = i.trim().parse().map_err(|_| err())?;
        let count: u64 = n.trim().parse().map_err(|_| err())?;
        if count == 0 || index >= count {
            return Err(err());
        }
        Ok(Shard { index, count })
    }
    pub fn all() -> Shard {
        Shard { index: 0, count: 1 }
    }
    /// How many of `runs` replications this shard runs.
    pub fn len(&self, runs: u64) -> u64 {
        if self.index >= runs {
            0
        } else {
            (runs - self.index).div_ceil(self.count)
        }
    }
    pub fn is_empty(&self, runs: u64) -> bool {
        self.len(runs) == 0
    }
}

/// The master seed of replication `i`.
pub fn replication_seed(seed: u64, i: u64) -> u64 {
    derive_seed(seed, &format!("run-{i}"))
}

/// Run the replications of `shard` for one variant. `progress` is called after each
/// chunk with the number of runs it did.
pub fn run_variant(
    v: &VariantRun,
    seed: u64,
    runs: u64,
    shard: Shard,
    progress: &(dyn Fn(u64) + Sync),
) -> Accum {
    use rayon::prelude::*;
    let n = shard.len(runs);
    let chunks = n.div_ceil(CHUNK);
    let parts: Vec<Accum> = (0..chunks)
        .into_par_iter()
        .map(|c| {
            let mut acc = v.empty();
            let lo = c * CHUNK;
            let hi = (lo + CHUNK).min(n);
            for k in lo..hi {
                let i = shard.index + k * shard.count;
                v.run_one(replication_seed(seed, i), &mut acc);
            }
            progress(hi - lo);
            acc
        })
        .collect();
    let mut total = v.empty();
    for p in &parts {
        total.merge(p);
    }
    total
}

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

/// The scenario a sweep ran, as recorded in its output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioInfo {
    pub file: String,
    pub name: String,
    /// FNV-1a of the scenario file's bytes: shards of different files never merge.
    pub fingerprint: String,
}

/// An outcome's count and probability with its Wilson 95% interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeStat {
    pub outcome: String,
    pub count: u64,
    pub p: f64,
    pub ci95: [f64; 2],
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p5: Option<i64>,
    pub p25: Option<i64>,
    pub p50: Option<i64>,
    pub p75: Option<i64>,
    pub p90: Option<i64>,
    pub p95: Option<i64>,
    pub p99: Option<i64>,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub mean: Option<f64>,
}

impl Percentiles {
    fn of(h: &Hist) -> Percentiles {
        let n = h.total();
        Percentiles {
            p5: h.percentile(0.05),
            p25: h.percentile(0.25),
            p50: h.percentile(0.50),
            p75: h.percentile(0.75),
            p90: h.percentile(0.90),
            p95: h.percentile(0.95),
            p99: h.percentile(0.99),
            min: h.percentile(0.0),
            max: h.percentile(1.0),
            mean: (n > 0).then(|| round6(h.sum() as f64 / n as f64)),
        }
    }
}

/// Days from designation to online start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DelayStat {
    pub unit: Unit,
    /// Runs that went online (within the horizon).
    pub online: u64,
    /// Runs never online within the horizon.
    pub never: u64,
    pub percentiles: Percentiles,
    /// `[days, runs]`, ascending; raw counts (merge sums them).
    pub histogram: Vec<[i64; 2]>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlackStat {
    pub id: String,
    pub event: String,
    pub deadline: String,
    pub unit: Unit,
    /// Runs where the event happened.
    pub happened: u64,
    /// Runs where it never happened.
    pub missing: u64,
    /// Runs where it happened after the deadline (slack < 0).
    pub late: u64,
    pub p_late: f64,
    pub percentiles: Percentiles,
    /// `[slack, runs]`, ascending; positive = ahead of the deadline.
    pub histogram: Vec<[i64; 2]>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CauseStat {
    pub cause: String,
    pub count: u64,
    /// Share of the runs not online on day 1.
    pub share: f64,
    pub meaning: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CriticalPath {
    pub runs_not_online_on_day_one: u64,
    pub causes: Vec<CauseStat>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantReport {
    pub label: String,
    pub settings: BTreeMap<String, String>,
    pub rules: String,
    pub bureau: String,
    pub designation: NaiveDate,
    pub runs: u64,
    pub outcomes: Vec<OutcomeStat>,
    pub start_delay: DelayStat,
    pub slack: Vec<SlackStat>,
    pub critical_path: CriticalPath,
}

/// A sweep's result (or one shard's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepReport {
    pub format: String,
    pub onsim_version: String,
    pub scenario: ScenarioInfo,
    pub seed: u64,
    /// Replications of the whole sweep (all shards).
    pub runs: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vary: Vec<String>,
    /// Present only in a shard's output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    pub variants: Vec<VariantReport>,
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Wilson score interval at 95%.
pub fn wilson(k: u64, n: u64) -> [f64; 2] {
    if n == 0 {
        return [0.0, 1.0];
    }
    let z = 1.959_963_984_540_054_f64;
    let n = n as f64;
    let p = k as f64 / n;
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    [
        round6((centre - half).max(0.0)),
        round6((centre + half).min(1.0)),
    ]
}

fn ratio(k: u64, n: u64) -> f64 {
    if n == 0 {
        0.0
    } else {
        round6(k as f64 / n as f64)
    }
}

/// Everything about a variant that is not counts.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantMeta {
    pub label: String,
    pub settings: BTreeMap<String, String>,
    pub rules: String,
    pub bureau: String,
    pub designation: NaiveDate,
    pub slack_ids: Vec<&'static str>,
}

impl VariantMeta {
    pub fn of(v: &Variant, run: &VariantRun) -> VariantMeta {
        VariantMeta {
            label: v.label(),
            settings: v.settings.iter().cloned().collect(),
            rules: v.scenario.spec.scenario.rules.id().to_string(),
            bureau: v.scenario.bureau.id().to_string(),
            designation: v.scenario.spec.clinic.designation,
            slack_ids: run.slack_ids(),
        }
    }
}

fn slack_def(id: &str) -> Option<&'static SlackDef> {
    SLACKS.iter().find(|d| d.id == id)
}

/// Turn counts into the report of one variant.
pub fn variant_report(meta: &VariantMeta, a: &Accum) -> VariantReport {
    let n = a.runs;
    let outcomes = OUTCOMES
        .iter()
        .zip(&a.outcomes)
        .map(|(o, c)| OutcomeStat {
            outcome: o.as_str().to_string(),
            count: *c,
            p: ratio(*c, n),
            ci95: wilson(*c, n),
        })
        .collect();
    let slack = meta
        .slack_ids
        .iter()
        .zip(a.slack.iter().zip(&a.slack_missing))
        .filter_map(|(id, (h, missing))| {
            let def = slack_def(id)?;
            let happened = h.total();
            let late = h.below(0);
            Some(SlackStat {
                id: def.id.to_string(),
                event: def.event.as_str().to_string(),
                deadline: def.reference_name.to_string(),
                unit: def.unit,
                happened,
                missing: *missing,
                late,
                p_late: ratio(late, happened),
                percentiles: Percentiles::of(h),
                histogram: h.sparse(),
            })
        })
        .collect();
    let late_runs: u64 = a.causes.iter().sum();
    let mut causes: Vec<CauseStat> = CAUSES
        .iter()
        .zip(&a.causes)
        .filter(|(_, c)| **c > 0)
        .map(|(cause, c)| CauseStat {
            cause: cause.as_str().to_string(),
            count: *c,
            share: ratio(*c, late_runs),
            meaning: cause.explain().to_string(),
        })
        .collect();
    // Most frequent first; ties in the fixed cause order (the sort is stable).
    causes.sort_by_key(|c| std::cmp::Reverse(c.count));
    VariantReport {
        label: meta.label.clone(),
        settings: meta.settings.clone(),
        rules: meta.rules.clone(),
        bureau: meta.bureau.clone(),
        designation: meta.designation,
        runs: n,
        outcomes,
        start_delay: DelayStat {
            unit: Unit::CalendarDays,
            online: a.delay.total(),
            never: a.never_online,
            percentiles: Percentiles::of(&a.delay),
            histogram: a.delay.sparse(),
        },
        slack,
        critical_path: CriticalPath {
            runs_not_online_on_day_one: late_runs,
            causes,
        },
    }
}

/// Rebuild the counts of a variant from its report (for merging shards).
pub fn accum_from_report(v: &VariantReport) -> Result<(VariantMeta, Accum), String> {
    let mut slack_ids = Vec::new();
    for s in &v.slack {
        slack_ids.push(
            slack_def(&s.id)
                .ok_or_else(|| format!("unknown slack id {:?}", s.id))?
                .id,
        );
    }
    let mut a = Accum::new(slack_ids.len());
    a.runs = v.runs;
    for o in &v.outcomes {
        let i = OUTCOMES
            .iter()
            .position(|x| x.as_str() == o.outcome)
            .ok_or_else(|| format!("unknown outcome {:?}", o.outcome))?;
        a.outcomes[i] += o.count;
    }
    a.delay = Hist::from_sparse(&v.start_delay.histogram)?;
    a.never_online = v.start_delay.never;
    for (i, s) in v.slack.iter().enumerate() {
        a.slack[i] = Hist::from_sparse(&s.histogram)?;
        a.slack_missing[i] = s.missing;
    }
    for c in &v.critical_path.causes {
        let cause = Cause::parse(&c.cause).ok_or_else(|| format!("unknown cause {:?}", c.cause))?;
        let i = CAUSES.iter().position(|x| *x == cause).unwrap_or(0);
        a.causes[i] += c.count;
    }
    if a.outcomes.iter().sum::<u64>() != a.runs {
        return Err(format!(
            "variant {:?}: outcome counts do not add up to its runs",
            v.label
        ));
    }
    Ok((
        VariantMeta {
            label: v.label.clone(),
            settings: v.settings.clone(),
            rules: v.rules.clone(),
            bureau: v.bureau.clone(),
            designation: v.designation,
            slack_ids,
        },
        a,
    ))
}

/// FNV-1a, 64 bits, as hex.
pub fn fingerprint(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// What a sweep is asked to do.
#[derive(Debug, Clone)]
pub struct SweepSpec {
    pub file: String,
    pub text: String,
    pub runs: u64,
    pub seed: Option<u64>,
    pub vary: Vec<Vary>,
    pub shard: Option<Shard>,
}

/// Run a whole sweep. `progress` gets the number of runs finished after each chunk,
/// and the total first via `start`.
pub fn sweep(
    spec: &SweepSpec,
    start: &dyn Fn(u64),
    progress: &(dyn Fn(u64) + Sync),
) -> Result<SweepReport, String> {
    if spec.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    let variants = variants(&spec.file, &spec.text, &spec.vary)?;
    let seed = spec.seed.unwrap_or(variants[0].scenario.spec.scenario.seed);
    let shard = spec.shard.unwrap_or(Shard::all());
    start(shard.len(spec.runs) * variants.len() as u64);
    let mut reports = Vec::new();
    for v in &variants {
        let run = VariantRun::new(&v.scenario);
        let acc = run_variant(&run, seed, spec.runs, shard, progress);
        reports.push(variant_report(&VariantMeta::of(v, &run), &acc));
    }
    Ok(SweepReport {
        format: FORMAT.to_string(),
        onsim_version: env!("CARGO_PKG_VERSION").to_string(),
        scenario: ScenarioInfo {
            file: spec.file.clone(),
            name: variants[0].scenario.spec.scenario.name.clone(),
            fingerprint: fingerprint(spec.text.as_bytes()),
        },
        seed,
        runs: spec.runs,
        vary: spec.vary.iter().map(Vary::spec).collect(),
        shard: spec.shard.filter(|s| s.count > 1),
        variants: reports,
    })
}

/// Merge shard reports into the report of the unsharded sweep. Refuses shards of
/// different sweeps, and missing or duplicated shards.
pub fn merge(files: &[(String, SweepReport)]) -> Result<SweepReport, String> {
    let Some((first_name, first)) = files.first() else {
        return Err("no shard files given".into());
    };
    if first.format != FORMAT {
        return Err(format!(
            "{first_name}: not an onsim sweep file (format {:?}, expected {FORMAT:?})",
            first.format
        ));
    }
    let Some(count) = first.shard.map(|s| s.count) else {
        return Err(format!(
            "{first_name}: not a shard (it has no \"shard\"); it is already a whole sweep"
        ));
    };
    let mut seen: Vec<Option<&str>> = vec![None; count as usize];
    for (name, r) in files {
        let same = |what: &str, a: String, b: String| {
            if a == b {
                Ok(())
            } else {
                Err(format!(
                    "{name}: {what} {b} differs from {first_name}'s {a}; shards of different sweeps do not merge"
                ))
            }
        };
        same("format", first.format.clone(), r.format.clone())?;
        same(
            "onsim version",
            first.onsim_version.clone(),
            r.onsim_version.clone(),
        )?;
        same(
            "scenario fingerprint",
            first.scenario.fingerprint.clone(),
            r.scenario.fingerprint.clone(),
        )?;
        same(
            "scenario file",
            first.scenario.file.clone(),
            r.scenario.file.clone(),
        )?;
        same("seed", first.seed.to_string(), r.seed.to_string())?;
        same("run count", first.runs.to_string(), r.runs.to_string())?;
        same("--vary", first.vary.join(" "), r.vary.join(" "))?;
        let s = r
            .shard
            .ok_or_else(|| format!("{name}: not a shard (it has no \"shard\")"))?;
        same("shard count", count.to_string(), s.count.to_string())?;
        if s.index >= count {
            return Err(format!(
                "{name}: shard {}/{} is out of range",
                s.index, s.count
            ));
        }
        if let Some(other) = seen[s.index as usize] {
            return Err(format!(
                "{name}: shard {}/{count} is also in {other}; each shard must be given once",
                s.index
            ));
        }
        seen[s.index as usize] = Some(name.as_str());
        if r.variants.len() != first.variants.len() {
            return Err(format!("{name}: different variants than {first_name}"));
        }
        if s.len(r.runs) != r.variants.first().map_or(0, |v| v.runs) {
            return Err(format!(
                "{name}: shard {}/{count} should hold {} runs, it holds {}",
                s.index,
                s.len(r.runs),
                r.variants.first().map_or(0, |v| v.runs)
            ));
        }
    }
    let missing: Vec<String> = seen
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_none())
        .map(|(i, _)| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "missing shard(s) {}: all {count} shards are needed for an exact merge",
            missing.join(", ")
        ));
    }
    let mut variants = Vec::new();
    for (vi, v0) in first.variants.iter().enumerate() {
        let (meta, mut total) = accum_from_report(v0).map_err(|e| format!("{first_name}: {e}"))?;
        for (name, r) in &files[1..] {
            let (m, a) = accum_from_report(&r.variants[vi]).map_err(|e| format!("{name}: {e}"))?;
            if m != meta {
                return Err(format!(
                    "{name}: variant {} differs from {first_name}'s {}",
                    m.label, meta.label
                ));
            }
            total.merge(&a);
        }
        variants.push(variant_report(&meta, &total));
    }
    Ok(SweepReport {
        shard: None,
        variants,
        ..first.clone()
    })
}

/// The report as pretty JSON with a final newline.
pub fn to_json(r: &SweepReport) -> String {
    let mut s = serde_json::to_string_pretty(r).expect("sweep report serializes");
    s.push('\n');
    s
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn opt<T: ToString>(x: Option<T>) -> String {
    x.map(|v| v.to_string()).unwrap_or_default()
}

/// The report as long-format CSV: `variant,section,item,stat,value`.
pub fn to_csv(r: &SweepReport) -> String {
    let mut out = String::from("variant,section,item,stat,value\n");
    let mut row = |v: &str, section: &str, item: &str, stat: &str, value: String| {
        out.push_str(&format!(
            "{},{},{},{},{}\n",
            csv_field(v),
            section,
            csv_field(item),
            stat,
            csv_field(&value)
        ));
    };
    for v in &r.variants {
        let l = v.label.as_str();
        row(l, "meta", "", "runs", v.runs.to_string());
        row(l, "meta", "", "rules", v.rules.clone());
        row(l, "meta", "", "bureau", v.bureau.clone());
        row(l, "meta", "", "designation", v.designation.to_string());
        for o in &v.outcomes {
            row(l, "outcome", &o.outcome, "count", o.count.to_string());
            row(l, "outcome", &o.outcome, "p", o.p.to_string());
            row(l, "outcome", &o.outcome, "ci95_low", o.ci95[0].to_string());
            row(l, "outcome", &o.outcome, "ci95_high", o.ci95[1].to_string());
        }
        let pct = |p: &Percentiles| {
            [
                ("p5", opt(p.p5)),
                ("p25", opt(p.p25)),
                ("p50", opt(p.p50)),
                ("p75", opt(p.p75)),
                ("p90", opt(p.p90)),
                ("p95", opt(p.p95)),
                ("p99", opt(p.p99)),
                ("min", opt(p.min)),
                ("max", opt(p.max)),
                ("mean", opt(p.mean)),
            ]
        };
        let d = &v.start_delay;
        row(
            l,
            "start-delay",
            "calendar-days",
            "online",
            d.online.to_string(),
        );
        row(
            l,
            "start-delay",
            "calendar-days",
            "never",
            d.never.to_string(),
        );
        for (k, x) in pct(&d.percentiles) {
            row(l, "start-delay", "calendar-days", k, x);
        }
        for [x, c] in &d.histogram {
            row(
                l,
                "start-delay-hist",
                &x.to_string(),
                "count",
                c.to_string(),
            );
        }
        for s in &v.slack {
            let unit = match s.unit {
                Unit::BusinessDays => "business-days",
                Unit::CalendarDays => "calendar-days",
            };
            row(l, "slack", &s.id, "unit", unit.to_string());
            row(l, "slack", &s.id, "deadline", s.deadline.clone());
            row(l, "slack", &s.id, "happened", s.happened.to_string());
            row(l, "slack", &s.id, "missing", s.missing.to_string());
            row(l, "slack", &s.id, "late", s.late.to_string());
            row(l, "slack", &s.id, "p_late", s.p_late.to_string());
            for (k, x) in pct(&s.percentiles) {
                row(l, "slack", &s.id, k, x);
            }
            for [x, c] in &s.histogram {
                row(
                    l,
                    "slack-hist",
                    &format!("{}:{x}", s.id),
                    "count",
                    c.to_string(),
                );
            }
        }
        row(
            l,
            "critical-path",
            "",
            "runs_not_online_on_day_one",
            v.critical_path.runs_not_online_on_day_one.to_string(),
        );
        for c in &v.critical_path.causes {
            row(l, "critical-path", &c.cause, "count", c.count.to_string());
            row(l, "critical-path", &c.cause, "share", c.share.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TEXT: &str = include_str!("../../scenarios/sweeps/r2024-standard.toml");

    fn spec(runs: u64, shard: Option<Shard>) -> SweepSpec {
        SweepSpec {
            file: "std.toml".into(),
            text: TEXT.into(),
            runs,
            seed: Some(7),
            vary: Vec::new(),
            shard,
        }
    }

    fn run(s: &SweepSpec) -> SweepReport {
        sweep(s, &|_| {}, &|_| {}).unwrap()
    }

    #[test]
    fn wilson_matches_known_values() {
        // 50/100: 0.4038–0.5962 (textbook).
        let [lo, hi] = wilson(50, 100);
        assert!((lo - 0.403_832).abs() < 1e-5 && (hi - 0.596_168).abs() < 1e-5);
        let [lo, hi] = wilson(0, 10);
        assert_eq!(lo, 0.0);
        assert!((hi - 0.277_533).abs() < 1e-5);
    }

    #[test]
    fn shards_merge_to_the_whole() {
        let whole = run(&spec(300, None));
        let parts: Vec<(String, SweepReport)> = (0..3)
            .map(|i| {
                (
                    format!("s{i}"),
                    run(&spec(300, Some(Shard { index: i, count: 3 }))),
                )
            })
            .collect();
        let merged = merge(&parts).unwrap();
        assert_eq!(to_json(&merged), to_json(&whole));
        assert!(merge(&parts[..2]).unwrap_err().contains("missing shard"));
    }

    #[test]
    fn bad_vary_key_is_refused() {
        let mut s = spec(10, None);
        s.vary = vec![Vary::parse("clinic.colour=red,blue").unwrap()];
        let e = sweep(&s, &|_| {}, &|_| {}).unwrap_err();
        assert!(e.contains("clinic.colour"), "{e}");
        assert!(Vary::parse("noequals").is_err());
        s.vary = vec![Vary::parse("scenario.name.x=1").unwrap()];
        assert!(sweep(&s, &|_| {}, &|_| {}).is_err());
    }

    #[test]
    fn vary_applies_values() {
        let v = variants(
            "t",
            TEXT,
            &[
                Vary::parse("scenario.rules=r2021,r2024").unwrap(),
                Vary::parse("clinic.prefecture=東京都,大阪府").unwrap(),
            ],
        )
        .unwrap();
        assert_eq!(v.len(), 4);
        assert_eq!(v[3].scenario.bureau.id(), "kinki");
        assert_eq!(
            v[0].label(),
            "scenario.rules=r2021 clinic.prefecture=東京都"
        );
    }

    proptest! {
        #[test]
        fn hist_round_trips_and_merges(xs in proptest::collection::vec(-500i32..500, 0..200),
                                       ys in proptest::collection::vec(-500i32..500, 0..200)) {
            let mut a = Hist::default();
            xs.iter().for_each(|x| a.add(*x));
            let mut b = Hist::default();
            ys.iter().for_each(|y| b.add(*y));
            prop_assert_eq!(Hist::from_sparse(&a.sparse()).unwrap(), a.clone());
            let mut ab = a.clone();
            ab.merge(&b);
            let mut ba = b.clone();
            ba.merge(&a);
            prop_assert_eq!(&ab, &ba);
            prop_assert_eq!(ab.total(), (xs.len() + ys.len()) as u64);
        }

        #[test]
        fn shard_sizes_add_up(runs in 0u64..10_000, n in 1u64..17) {
            let total: u64 = (0..n).map(|i| Shard { index: i, count: n }.len(runs)).sum();
            prop_assert_eq!(total, runs);
        }
    }
}
