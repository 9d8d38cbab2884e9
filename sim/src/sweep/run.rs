//! Running replications: one variant prepared once and run for many seeds
//! ([`VariantRun`]), which replications a shard runs ([`Shard`]), and the parallel,
//! thread-count-independent reduction of chunks of runs ([`run_variant`]).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use fakes::calendar::BusinessCalendar;
use fakes::process::EventKind;
use fakes::schedule::MilestoneId;

use super::cause::{self, Dates, CAUSES};
use super::measure::{Accum, OpenDays, Reference, Seen, SlackDef, Unit, SLACKS};
use super::rows::{self, RunRow};
use super::{outcome_index, CHUNK};
use crate::engine::derive_seed;
use crate::runner::{self, Detail, Prepared, RunResult};
use crate::scenario::{Outcome, Scenario};

/// One variant, ready to run many seeds.
pub struct VariantRun<'a> {
    prepared: Result<Prepared<'a>, String>,
    designation: NaiveDate,
    dates: Dates,
    /// Active slacks, their reference dates and their index in [`SLACKS`].
    slacks: Vec<(SlackDef, NaiveDate, usize)>,
    standard: OpenDays,
    bureau: OpenDays,
}

impl<'a> VariantRun<'a> {
    pub fn new(s: &'a Scenario) -> VariantRun<'a> {
        let prepared = runner::prepare(s);
        let designation = s.spec.clinic.designation;
        let kind = s.spec.scenario.calendar;
        let bureau_cal =
            BusinessCalendar::with_closures(s.spec.actors.bureau.closures.iter().copied())
                .with_kind(kind);
        let (installation, bureau_answer_dispatch, slacks) = match &prepared {
            Ok(p) => {
                let inst = p.setup.plan.installation;
                let slacks = SLACKS
                    .iter()
                    .enumerate()
                    .filter_map(|(g, d)| {
                        let r = match d.reference {
                            Reference::Milestone(m) => p.schedule.date(m)?,
                            Reference::PlannedInstallation => inst,
                        };
                        Some((*d, r, g))
                    })
                    .collect();
                (
                    Some(inst),
                    p.schedule.date(MilestoneId::BureauAnswerDispatch),
                    slacks,
                )
            }
            Err(_) => (None, None, Vec::new()),
        };
        VariantRun {
            prepared,
            designation,
            dates: Dates {
                designation,
                installation,
                bureau_answer_dispatch,
            },
            slacks,
            standard: OpenDays::new(&BusinessCalendar::of_kind(kind), designation),
            bureau: OpenDays::new(&bureau_cal, designation),
        }
    }

    /// The published dates that differ from the rule (none without a table).
    pub fn deviations(&self) -> Vec<fakes::schedule::Deviation> {
        self.prepared
            .as_ref()
            .map(|p| p.schedule.deviations.clone())
            .unwrap_or_default()
    }

    /// The ids of the slacks this variant reports, in order.
    pub fn slack_ids(&self) -> Vec<&'static str> {
        self.slacks.iter().map(|(d, _, _)| d.id).collect()
    }

    fn empty(&self) -> Accum {
        Accum::new(self.slacks.len())
    }

    /// Run replication seeds and add them to `acc`.
    pub fn run_one(&self, seed: u64, acc: &mut Accum) {
        self.run_one_row(seed, acc, None);
    }

    /// [`Self::run_one`], and fill `row` with what the run recorded.
    fn run_one_row(&self, seed: u64, acc: &mut Accum, row: Option<&mut RunRow>) {
        acc.runs += 1;
        let p = match &self.prepared {
            Ok(p) => p,
            Err(_) => {
                acc.outcomes[outcome_index(Outcome::Refused)] += 1;
                return;
            }
        };
        let r = runner::run_prepared(p, seed, Detail::Lean);
        self.observe(&r, acc, row);
    }

    fn observe(&self, r: &RunResult, acc: &mut Accum, mut row: Option<&mut RunRow>) {
        acc.outcomes[outcome_index(r.outcome)] += 1;
        let delay = r
            .online_start
            .map(|d| (d - self.designation).num_days() as i32);
        match delay {
            Some(d) => acc.delay.add(d),
            None => acc.never_online += 1,
        }
        let seen = Seen::of(&r.timeline);
        for (i, (def, reference, global)) in self.slacks.iter().enumerate() {
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
                    if let Some(row) = row.as_deref_mut() {
                        row.slack[*global] = Some(v);
                    }
                }
            }
        }
        let cause = cause::attribute(r.outcome, &seen, &self.dates);
        if let Some(row) = row {
            row.outcome = r.outcome;
            row.online_start = r.online_start;
            row.start_delay = delay;
            row.cause = cause;
            row.flags = rows::flags_of(&seen, &r.timeline);
        }
        if let Some(c) = cause {
            acc.causes[CAUSES
                .iter()
                .position(|x| *x == c)
                .unwrap_or(CAUSES.len() - 1)] += 1;
        }
    }
}

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
    run_chunks(v, seed, runs, shard, progress, None).unwrap_or_else(|_| v.empty())
}

/// Chunks run in parallel per window when rows are kept, so at most this many runs'
/// rows are held at once *(our choice: 64 chunks, 262,144 rows)*. The window is fixed,
/// so the rows handed on, and their order, do not depend on the thread count.
pub const ROW_WINDOW_CHUNKS: u64 = 64;

/// Where a chunk's rows go, in replication order.
pub type RowFn<'s> = dyn FnMut(&[RunRow]) -> Result<(), String> + 's;

/// [`run_variant`], and each chunk's rows, in replication order, to `sink`.
pub fn run_variant_rows(
    v: &VariantRun,
    seed: u64,
    runs: u64,
    shard: Shard,
    progress: &(dyn Fn(u64) + Sync),
    sink: &mut RowFn,
) -> Result<Accum, String> {
    run_chunks(v, seed, runs, shard, progress, Some(sink))
}

fn run_chunks(
    v: &VariantRun,
    seed: u64,
    runs: u64,
    shard: Shard,
    progress: &(dyn Fn(u64) + Sync),
    mut sink: Option<&mut RowFn>,
) -> Result<Accum, String> {
    use rayon::prelude::*;
    let n = shard.len(runs);
    let chunks = n.div_ceil(CHUNK);
    let keep = sink.is_some();
    let window = if keep {
        ROW_WINDOW_CHUNKS
    } else {
        chunks.max(1)
    };
    let mut total = v.empty();
    let mut c0 = 0;
    while c0 < chunks {
        let c1 = (c0 + window).min(chunks);
        let parts: Vec<(Accum, Vec<RunRow>)> = (c0..c1)
            .into_par_iter()
            .map(|c| {
                let mut acc = v.empty();
                let lo = c * CHUNK;
                let hi = (lo + CHUNK).min(n);
                let mut rows = Vec::with_capacity(if keep { (hi - lo) as usize } else { 0 });
                for k in lo..hi {
                    let i = shard.index + k * shard.count;
                    let s = replication_seed(seed, i);
                    if keep {
                        let mut row = RunRow::new(i, s);
                        v.run_one_row(s, &mut acc, Some(&mut row));
                        rows.push(row);
                    } else {
                        v.run_one(s, &mut acc);
                    }
                }
                progress(hi - lo);
                (acc, rows)
            })
            .collect();
        for (acc, rows) in &parts {
            total.merge(acc);
            if let Some(sink) = sink.as_deref_mut() {
                sink(rows)?;
            }
        }
        c0 = c1;
    }
    Ok(total)
}
