//! `onsim solve`: the value of a scenario variable at which an outcome's probability
//! reaches a target, by bisection on common random numbers ([`crate::solve`],
//! docs/solve.md).
//!
//! A subcommand of its own rather than `sweep --target`: its runs are adaptive (which
//! values it tries depends on what it saw), so it cannot be sharded and merged like a
//! sweep, and its answer (a value with an interval) is another document than a sweep
//! report; `onsim sweep`'s output and contract stay exactly as they were.

use std::path::PathBuf;

use clap::Args;

use crate::error::{CliError, CmdResult, Outcome};
use crate::output::write_result;
use crate::solve::{self, Domain, SolveSpec, Target};
use crate::sweep;

#[derive(Debug, Args)]
pub struct SolveArgs {
    /// The scenario file.
    pub scenario: PathBuf,
    /// The scenario key to vary, as in `onsim sweep --vary` (e.g. `plan.reader_order`,
    /// `actors.system_vendor.retry_after`).
    #[arg(long = "var", value_name = "KEY")]
    pub var: String,
    /// First value of the range: a date (YYYY-MM-DD, or relative to the scenario's
    /// designation: `designation-200d`, `designation-60bd`) or a number.
    #[arg(long, value_name = "VALUE", allow_hyphen_values = true)]
    pub from: String,
    /// Last value of the range (same kind as --from).
    #[arg(long, value_name = "VALUE", allow_hyphen_values = true)]
    pub to: String,
    /// Step between numbers (default 1); dates go day by day.
    #[arg(long, value_name = "X")]
    pub step: Option<f64>,
    /// The target: outcomes (joined by `+`) and a probability, e.g.
    /// `online-on-designation-day>=0.95` or `not-online<=1%`.
    #[arg(long, value_name = "OUTCOME>=P")]
    pub target: String,
    /// Replications per value tried (the same seeds for every value).
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub runs: u64,
    /// Master seed; default: the scenario's seed.
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Write the JSON result here (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Refuse a solve whose worst case (runs × the evaluations bisection may need)
    /// exceeds this.
    #[arg(long, value_name = "N", default_value_t = super::sweep::DEFAULT_MAX_RUNS)]
    pub max_runs: u64,
}

/// The most evaluations bisection can need on `values` values: both ends, then three
/// boundaries of at most ⌈log2(values)⌉ each.
pub fn max_evaluations(values: u64) -> u64 {
    2 + 3 * u64::from(64 - values.max(1).leading_zeros())
}

pub fn run(a: SolveArgs) -> CmdResult {
    if a.runs == 0 {
        return Err(CliError::new("--runs must be at least 1"));
    }
    if a.threads == Some(0) {
        return Err(CliError::new("--threads must be at least 1"));
    }
    let target = Target::parse(&a.target).map_err(CliError::new)?;
    let file = a.scenario.display().to_string();
    let text =
        super::input::read_text(&a.scenario, "the scenario", super::input::limits::SCENARIO)?;
    // `designation-200d` style ends, resolved against the scenario's designation.
    let base = crate::scenario::parse(&file, &text).map_err(|e| CliError::new(e.to_string()))?;
    let designation = base.spec.clinic.designation;
    let end = |flag: &str, w: &str| -> Result<String, CliError> {
        match sweep::relative_date(w, designation) {
            Some(d) => d
                .map(|d| d.to_string())
                .map_err(|e| CliError::new(format!("{flag} {e}"))),
            None => Ok(w.to_string()),
        }
    };
    let domain = Domain::parse(&end("--from", &a.from)?, &end("--to", &a.to)?, a.step)
        .map_err(CliError::new)?;
    let worst = a.runs.saturating_mul(max_evaluations(domain.last() + 1));
    if worst > a.max_runs {
        return Err(CliError::new(format!(
            "--runs {} may need up to {worst} replications ({} evaluations); the limit is --max-runs {}",
            a.runs,
            max_evaluations(domain.last() + 1),
            a.max_runs
        )));
    }
    let spec = SolveSpec {
        file,
        text,
        var: a.var.trim().to_string(),
        domain,
        target,
        runs: a.runs,
        seed: a.seed,
    };
    let pool = super::worker_pool(a.threads)?;
    let report = pool
        .install(|| {
            solve::solve(&spec, &|e| {
                tracing::info!(
                    value = %e.value.word(),
                    p = e.p,
                    lo = e.ci95[0],
                    hi = e.ci95[1],
                    "evaluated"
                );
            })
        })
        .map_err(CliError::new)?;
    let text = solve::to_json(&report);
    write_result(a.out.as_deref(), text.as_bytes())?;
    // No value in the range meets the target: the question has no answer here.
    Ok(if report.status == "unreachable" {
        Outcome::Failed
    } else {
        Outcome::Passed
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluation_bound_grows_with_the_log() {
        assert_eq!(max_evaluations(1), 5);
        assert_eq!(max_evaluations(122), 2 + 3 * 7);
        assert_eq!(max_evaluations(1 << 20), 2 + 3 * 21);
    }
}
