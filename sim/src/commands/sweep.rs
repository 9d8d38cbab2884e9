//! `onsim sweep` and `onsim merge`: Monte Carlo over a scenario's distributions, and
//! the exact merge of sharded sweeps. See [`crate::sweep`] for what is measured and
//! for running shards as a Kubernetes indexed Job.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::error::{CliError, CmdResult, Outcome};
use crate::html;
use crate::output::{write_atomic, write_result};
use crate::sweep::paired::PairSink;
use crate::sweep::per_run::{PerRunFile, PerRunFormat};
use crate::sweep::RowSink;
use crate::sweep::{self, Shard, SweepReport, SweepSpec, Vary};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Json,
    Csv,
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The scenario file.
    pub scenario: PathBuf,
    /// Replications (per variant).
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub runs: u64,
    /// Master seed; replication i uses derive_seed(S, "run-{i}"). Default: the
    /// scenario's seed.
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Vary a scenario key over values, e.g. `scenario.rules=r2021,r2024` or
    /// `actors.reader_vendor.lead.mode=90,120`. Repeat for a grid (all combinations).
    #[arg(long, value_name = "KEY=V1,V2,...")]
    pub vary: Vec<String>,
    /// Run only replications i with i % N == I; merge the shard files with `onsim merge`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
    /// Write the result here (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Also write sweep.json, sweep.html (histograms, CDFs) and figures/ (SVG, PNG,
    /// CSV; docs/figures.md) into this folder.
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    /// Also write one row per replication (outcome, go-live, slacks, cause, flags;
    /// docs/per-run-schema.md) to FILE, as Parquet or CSV by its extension
    /// (`.parquet`, `.csv`). With --shard, this shard's rows.
    #[arg(long, value_name = "FILE")]
    pub per_run: Option<PathBuf>,
    /// Compare every variant with the first, run by run on the same seeds: the paired
    /// difference of the outcomes' probability (Newcombe interval, McNemar exact test)
    /// and the mean start-delay difference (docs/solve.md). OUTCOMES joined by `+`;
    /// without a value, online-on-designation-day.
    #[arg(long, value_name = "OUTCOMES", num_args = 0..=1, default_missing_value = "online-on-designation-day")]
    pub paired: Option<String>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Refuse sweeps of more replications than this (runs × variants; issue 14 #8):
    /// a sweep that cannot finish is an error, not a run that never ends.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_RUNS)]
    pub max_runs: u64,
    /// A bureau's published deadline table for the variants of that bureau (as
    /// `onsim run --published`): its dates win, and each variant's report lists the
    /// differences (`deviations`). Repeat for several bureaus.
    #[arg(long, value_name = "BUREAU=FILE")]
    pub published: Vec<String>,
}

/// Default of `--max-runs` *(our choice: 10⁹ replications, hours on a laptop; larger
/// sweeps are sharded, `--shard I/N` on each machine with its own `--max-runs`)*.
pub const DEFAULT_MAX_RUNS: u64 = 1_000_000_000;

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard outputs of `onsim sweep --shard I/N` (JSON), all N of them.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
    /// Write the result here (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Also write sweep.json, sweep.html and figures/ into this folder.
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
}

fn emit(
    r: &SweepReport,
    format: Format,
    out: Option<&PathBuf>,
    report_dir: Option<&PathBuf>,
) -> CmdResult {
    let text = match format {
        Format::Json => sweep::to_json(r),
        Format::Csv => sweep::to_csv(r),
    };
    write_result(out.map(PathBuf::as_path), text.as_bytes())?;
    if let Some(dir) = report_dir {
        write_atomic(&dir.join("sweep.json"), sweep::to_json(r).as_bytes())?;
        write_atomic(&dir.join("sweep.html"), html::sweep_report(r).as_bytes())?;
        crate::figures::write_report_figures(r, &dir.join("figures"))?;
    }
    Ok(Outcome::Passed)
}

pub fn run(a: SweepArgs) -> CmdResult {
    if a.runs == 0 {
        return Err(CliError::new("--runs must be at least 1"));
    }
    if a.threads == Some(0) {
        return Err(CliError::new("--threads must be at least 1"));
    }
    let shard = a
        .shard
        .as_deref()
        .map(Shard::parse)
        .transpose()
        .map_err(CliError::new)?;
    if shard.is_some_and(|s| s.count > 1) && a.format != Format::Json {
        return Err(CliError::new(
            "--shard writes JSON (the raw counts `onsim merge` needs); drop --format csv",
        ));
    }
    // Checked before any run: a bad --per-run name is a usage error, not lost work.
    if let Some(p) = &a.per_run {
        PerRunFormat::of_path(p).map_err(CliError::new)?;
    }
    let paired = a
        .paired
        .as_deref()
        .map(crate::solve::target::parse_outcomes)
        .transpose()
        .map_err(|e| CliError::new(format!("--paired: {e}")))?;
    let vary = a
        .vary
        .iter()
        .map(|v| Vary::parse(v))
        .collect::<Result<Vec<_>, _>>()
        .map_err(CliError::new)?;
    let published = super::schedule::published_tables(&a.published)?;
    let file = a.scenario.display().to_string();
    let text =
        super::input::read_text(&a.scenario, "the scenario", super::input::limits::SCENARIO)?;
    let (variants, invalid) =
        sweep::variants_lenient(&file, &text, &vary).map_err(CliError::new)?;
    // Not fatal: the report lists them (`invalid_variants`) and the others run.
    for bad in &invalid {
        eprintln!("warning: variant {} skipped: {}", bad.label, bad.error);
    }
    for v in &variants {
        for d in &v.dropped {
            eprintln!("warning: variant {}: {d}", v.label());
        }
    }
    // What this process would run: its shard's share of the runs, for every variant.
    let mine = shard.map_or(a.runs, |s| s.len(a.runs));
    let n_variants = variants.len().max(1) as u64;
    if paired.is_some() && variants.len() < 2 {
        return Err(CliError::new(
            "--paired compares variants with the first: give --vary with at least two values",
        ));
    }
    let total = mine.saturating_mul(n_variants);
    if total > a.max_runs {
        return Err(CliError::new(format!(
            "--runs {} gives {total} replications here ({mine} × {n_variants} variant(s)); the limit is --max-runs {} (raise it for a sweep that can finish, or split it with --shard I/N)",
            a.runs, a.max_runs
        )));
    }
    let mut per_run = a
        .per_run
        .as_deref()
        .map(|p| PerRunFile::new(p, vary.iter().map(|v| v.key.clone()).collect()))
        .transpose()
        .map_err(CliError::new)?;
    let spec = SweepSpec {
        published: published.clone(),
        file,
        text,
        runs: a.runs,
        seed: a.seed,
        vary,
        shard,
    };
    let pool = super::worker_pool(a.threads)?;
    // A progress bar only for a person watching: never in pipes, logs or CI.
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} runs ({per_sec}, eta {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let start = |n: u64| {
        if let Some(b) = &bar {
            b.set_length(n);
        }
    };
    let progress = |n: u64| {
        if let Some(b) = &bar {
            b.inc(n);
        }
    };
    let report = pool.install(|| match (paired, per_run.as_mut()) {
        (None, None) => sweep::sweep(&spec, &start, &progress),
        (None, Some(rows)) => sweep::sweep_with_rows(&spec, &start, &progress, rows),
        (Some(outcomes), rows) => {
            let mut pairs = PairSink::new(outcomes, rows.map(|r| r as &mut dyn RowSink));
            let mut r = sweep::sweep_with_rows(&spec, &start, &progress, &mut pairs)?;
            r.paired = Some(pairs.report());
            Ok(r)
        }
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let report = report.map_err(CliError::new)?;
    if let Some(rows) = per_run {
        rows.finish().map_err(CliError::new)?;
    }
    emit(&report, a.format, a.out.as_ref(), a.report_dir.as_ref())
}

pub fn merge(a: MergeArgs) -> CmdResult {
    let mut files = Vec::new();
    for p in &a.files {
        let name = p.display().to_string();
        let text = super::input::read_text(p, "the shard", super::input::limits::SHARD)?;
        let r: SweepReport = serde_json::from_str(&text).map_err(|e| {
            CliError::new(format!(
                "{name}:{}:{}: not an onsim sweep shard: {e}",
                e.line(),
                e.column()
            ))
        })?;
        files.push((name, r));
    }
    let merged = sweep::merge(&files).map_err(CliError::new)?;
    emit(&merged, a.format, a.out.as_ref(), a.report_dir.as_ref())
}
