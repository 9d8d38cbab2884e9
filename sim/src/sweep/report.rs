//! The sweep's result as data: the report structs (serialized as the sweep JSON), the
//! statistics made from the integer counts (percentiles, Wilson intervals), and the
//! JSON text.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::cause::CAUSES;
use super::hist::Hist;
use super::measure::{slack_def, Accum, Unit};
use super::paired::Paired;
use super::run::{Shard, VariantRun};
use super::vary::{InvalidVariant, Variant};
use super::OUTCOMES;

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
    /// Where a published table (`--published`) gave other dates than the rule: the
    /// dates this variant ran on. Absent without one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deviations: Vec<fakes::schedule::Deviation>,
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
    /// Variants `--vary` could not build, each with the reason; the sweep ran the
    /// others. Absent when there are none (so sweeps without them are unchanged).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invalid_variants: Vec<InvalidVariant>,
    /// `--paired`: every variant against the first, run by run (absent without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paired: Option<Paired>,
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

/// `k / n` rounded to 6 decimals (0 when `n` is 0), as every share in a report.
pub fn ratio(k: u64, n: u64) -> f64 {
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
    pub deviations: Vec<fakes::schedule::Deviation>,
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
            deviations: run.deviations(),
        }
    }
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
        deviations: meta.deviations.clone(),
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

/// The report as pretty JSON with a final newline.
pub fn to_json(r: &SweepReport) -> String {
    let mut s = serde_json::to_string_pretty(r).expect("sweep report serializes");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_known_values() {
        // 50/100: 0.4038–0.5962 (textbook).
        let [lo, hi] = wilson(50, 100);
        assert!((lo - 0.403_832).abs() < 1e-5 && (hi - 0.596_168).abs() < 1e-5);
        let [lo, hi] = wilson(0, 10);
        assert_eq!(lo, 0.0);
        assert!((hi - 0.277_533).abs() < 1e-5);
    }
}
