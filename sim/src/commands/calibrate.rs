//! `onsim calibrate FILE --dist KIND`: fit a lead-time distribution to observed
//! durations ([`crate::calibrate`]) and print it in scenario syntax with its fit.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::calibrate::{self, FitKind};
use crate::error::{CliError, CmdResult, Outcome};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A TOML line for the scenario, then the fit as comments.
    Toml,
    Json,
}

#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// CSV of observed durations in days, with a header line.
    pub file: PathBuf,
    /// The family to fit by maximum likelihood.
    #[arg(long, value_enum)]
    pub dist: FitKind,
    /// The column of durations (default: `days` if present, else the first).
    #[arg(long, value_name = "NAME")]
    pub column: Option<String>,
    /// The scenario key to print the line for.
    #[arg(long, value_name = "KEY", default_value = "lead")]
    pub key: String,
    #[arg(long, value_enum, default_value_t = Format::Toml)]
    pub format: Format,
}

pub fn run(a: CalibrateArgs) -> CmdResult {
    let name = a.file.display().to_string();
    let text = super::input::read_text(&a.file, "the durations", super::input::limits::SCENARIO)?;
    let xs = calibrate::read_durations(&name, &text, a.column.as_deref()).map_err(CliError::new)?;
    let f = calibrate::fit(a.dist, &xs).map_err(|e| CliError::new(format!("{name}: {e}")))?;
    let out = match a.format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&serde_json::json!({
                "file": name,
                "fit": a.dist,
                "dist": f.dist,
                "n": f.n,
                "log_likelihood": f.log_likelihood,
                "ks_d": f.ks_d,
                "ks_p": f.ks_p,
            }))
            .map_err(|e| CliError::new(e.to_string()))?;
            s.push('\n');
            s
        }
        Format::Toml => {
            let s = format!("{} = {}", a.key, inline(&f.dist));
            format!(
                "{s}\n# fitted by maximum likelihood to {} durations in {name}\n# Kolmogorov-Smirnov on whole days: D = {}, p = {} (conservative: parameters estimated from the data)\n{}",
                f.n,
                f.ks_d,
                f.ks_p,
                f.log_likelihood
                    .map(|l| format!("# log-likelihood {l}\n"))
                    .unwrap_or_default()
            )
        }
    };
    crate::output::write_stdout(out.as_bytes())?;
    Ok(Outcome::Passed)
}

/// `{ kind = "lognormal", mu = 4.6, sigma = 0.12 }`.
fn inline(d: &fakes::dist::Dist) -> String {
    let v = serde_json::to_value(d).unwrap_or_default();
    let Some(obj) = v.as_object() else {
        return String::new();
    };
    let mut parts = vec![format!(
        "kind = {}",
        obj.get("kind").cloned().unwrap_or_default()
    )];
    for (k, x) in obj {
        if k != "kind" {
            parts.push(format!("{k} = {x}"));
        }
    }
    format!("{{ {} }}", parts.join(", "))
}
