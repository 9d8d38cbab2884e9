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
//! # Sharding, e.g. as a Slurm job array or a Kubernetes indexed Job
//!
//! docs/sweep-cluster.md has both (scripts/slurm-sweep submits the Slurm one).
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

//!
//! # Layout
//!
//! One concern a file: [`hist`] (exact histograms), [`measure`] (slacks, events seen,
//! business days, the [`Accum`] counts), [`cause`] (the critical path), [`vary`]
//! (`--vary` variants), [`run`] (replications, threads, shards), [`report`] (the
//! report and its statistics), [`merge`](mod@merge) (shards), [`export`] (CSV),
//! [`rows`] and [`per_run`] (one row a replication, `--per-run` as Parquet or CSV;
//! docs/per-run-schema.md), [`paired`] (`--paired`: variants against the first, run by
//! run; docs/solve.md).

pub mod cause;
pub mod export;
pub mod hist;
pub mod measure;
pub mod merge;
pub mod paired;
pub mod per_run;
pub mod report;
pub mod rows;
pub mod run;
pub mod vary;

pub use cause::{Cause, CAUSES};
pub use export::to_csv;
pub use hist::{Hist, HIST_RANGE};
pub use measure::{Accum, Reference, SlackDef, Unit, SLACKS};
pub use merge::{accum_from_report, merge};
pub use report::{
    to_json, variant_report, wilson, CauseStat, CriticalPath, DelayStat, OutcomeStat, Percentiles,
    ScenarioInfo, SlackStat, SweepReport, VariantMeta, VariantReport,
};
pub use rows::{RowSink, RunRow, FLAGS};
pub use run::{replication_seed, run_variant, run_variant_rows, Shard, VariantRun};
pub use vary::{relative_date, variants, variants_lenient, InvalidVariant, Variant, Vary};

use crate::scenario::Outcome;

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
    /// Bureaus' published tables (`--published BUREAU=FILE`): a variant of such a
    /// bureau uses its dates, and its report lists the differences (`deviations`).
    pub published: crate::commands::schedule::PublishedTables,
}

/// Run a whole sweep. `progress` gets the number of runs finished after each chunk,
/// and the total first via `start`.
pub fn sweep(
    spec: &SweepSpec,
    start: &dyn Fn(u64),
    progress: &(dyn Fn(u64) + Sync),
) -> Result<SweepReport, String> {
    sweep_inner(spec, start, progress, None)
}

/// [`sweep`], and every replication's row to `rows` as well (`--per-run`), in variant
/// then replication order whatever the thread count.
pub fn sweep_with_rows(
    spec: &SweepSpec,
    start: &dyn Fn(u64),
    progress: &(dyn Fn(u64) + Sync),
    rows: &mut dyn RowSink,
) -> Result<SweepReport, String> {
    sweep_inner(spec, start, progress, Some(rows))
}

fn sweep_inner(
    spec: &SweepSpec,
    start: &dyn Fn(u64),
    progress: &(dyn Fn(u64) + Sync),
    mut rows: Option<&mut dyn RowSink>,
) -> Result<SweepReport, String> {
    if spec.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    let (mut variants, invalid_variants) = variants_lenient(&spec.file, &spec.text, &spec.vary)?;
    for v in &mut variants {
        crate::commands::schedule::apply_published(&mut v.scenario, &spec.published);
    }
    let seed = spec.seed.unwrap_or(variants[0].scenario.spec.scenario.seed);
    let shard = spec.shard.unwrap_or(Shard::all());
    if let Some(sink) = rows.as_deref_mut() {
        sink.begin(&variants)?;
    }
    start(shard.len(spec.runs) * variants.len() as u64);
    let mut reports = Vec::new();
    for (vi, v) in variants.iter().enumerate() {
        let run = VariantRun::new(&v.scenario);
        let acc = match rows.as_deref_mut() {
            None => run_variant(&run, seed, spec.runs, shard, progress),
            Some(sink) => run_variant_rows(&run, seed, spec.runs, shard, progress, &mut |r| {
                sink.rows(vi, r)
            })?,
        };
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
        invalid_variants,
        paired: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TEXT: &str = include_str!("../../../scenarios/sweeps/r2024-standard.toml");

    fn spec(runs: u64, shard: Option<Shard>) -> SweepSpec {
        SweepSpec {
            published: Vec::new(),
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
        s.vary = vec![Vary::parse("scenario.name.x=1").unwrap()];
        assert!(sweep(&s, &|_| {}, &|_| {}).is_err());
    }

    proptest! {
        #[test]
        fn shard_sizes_add_up(runs in 0u64..10_000, n in 1u64..17) {
            let total: u64 = (0..n).map(|i| Shard { index: i, count: n }.len(runs)).sum();
            prop_assert_eq!(total, runs);
        }
    }
}
