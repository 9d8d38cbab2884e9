//! `onsim holidays`: national holidays as CSV (`date,name`).

use clap::Args;

use fakes::calendar::{holidays_between, FIRST_YEAR, LAST_ANNOUNCED_YEAR, LAST_YEAR};

use crate::error::{CliError, CmdResult, Outcome};

#[derive(Debug, Args)]
pub struct HolidaysArgs {
    /// First year (1955 or later).
    #[arg(long, value_name = "YYYY")]
    pub from: i32,
    /// Last year (inclusive; 2099 at most). Years after the last announced one are
    /// computed and flagged on stderr.
    #[arg(long, value_name = "YYYY")]
    pub to: i32,
    /// Refuse years whose equinox days have not been officially announced yet.
    #[arg(long)]
    pub announced_only: bool,
}

pub fn run(a: HolidaysArgs) -> CmdResult {
    if a.from > a.to {
        return Err(CliError::new(format!(
            "--from {} is after --to {}: give the earlier year first",
            a.from, a.to
        )));
    }
    if a.from < FIRST_YEAR || a.to > LAST_YEAR {
        return Err(CliError::new(format!(
            "years must be within {FIRST_YEAR}..{LAST_YEAR} (asked for {}..{})",
            a.from, a.to
        )));
    }
    if a.to > LAST_ANNOUNCED_YEAR {
        if a.announced_only {
            return Err(CliError::new(format!(
                "holidays after {LAST_ANNOUNCED_YEAR} are not announced yet (drop --announced-only to get computed ones)"
            )));
        }
        eprintln!(
            "warning: years after {LAST_ANNOUNCED_YEAR} are computed (equinox formula), not officially announced"
        );
    }
    let list = holidays_between(a.from, a.to)?;
    let mut out = String::with_capacity(list.len() * 24);
    out.push_str("date,name\n");
    for h in list {
        out.push_str(&format!("{},{}\n", h.date, h.name));
    }
    crate::output::write_stdout(out.as_bytes())?;
    Ok(Outcome::Passed)
}
