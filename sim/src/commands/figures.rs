//! `onsim figures`: figures for a paper from a sweep's JSON (one sweep or `onsim
//! merge`'s result): SVG, PNG and the CSV of each chart (docs/figures.md).

use std::path::PathBuf;

use clap::Args;

use crate::error::{CliError, CmdResult, Outcome};
use crate::figures::{self, Lang, Options};
use crate::sweep::SweepReport;

#[derive(Debug, Args)]
pub struct FiguresArgs {
    /// A sweep's JSON (`onsim sweep --out`, `--report-dir`'s sweep.json, or `onsim merge`).
    pub sweep: PathBuf,
    /// The folder to write NAME.svg, NAME.png and NAME.csv into.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Language of titles, axes and legends.
    #[arg(long, value_enum, default_value_t = Lang::En)]
    pub lang: Lang,
    /// The outcome the P-against-parameter charts show.
    #[arg(
        long,
        value_name = "OUTCOME",
        default_value = "online-on-designation-day"
    )]
    pub outcome: String,
    /// Font file for the labels (.ttf/.otf/.ttc; Japanese glyphs for --lang ja).
    /// Default: IPAGothic (fonts-ipafont-gothic), then Noto Sans CJK, then DejaVu Sans
    /// for English.
    #[arg(long, value_name = "FILE")]
    pub font: Option<PathBuf>,
    /// Write SVG and CSV only.
    #[arg(long)]
    pub no_png: bool,
}

pub fn run(a: FiguresArgs) -> CmdResult {
    let name = a.sweep.display().to_string();
    let text = super::input::read_text(&a.sweep, "the sweep", super::input::limits::SHARD)?;
    let r: SweepReport = serde_json::from_str(&text).map_err(|e| {
        CliError::new(format!(
            "{name}:{}:{}: not an onsim sweep result: {e}",
            e.line(),
            e.column()
        ))
    })?;
    if r.shard.is_some_and(|s| s.count > 1) {
        return Err(CliError::new(format!(
            "{name}: one shard of a sweep; merge all shards first (`onsim merge s*.json --out sweep.json`)"
        )));
    }
    let o = Options {
        lang: a.lang,
        outcome: a.outcome,
        font: a.font,
        png: !a.no_png,
    };
    let figs = figures::figures(&r, &o).map_err(|e| CliError::new(format!("{name}: {e}")))?;
    for p in figures::write(&a.out, &figs)? {
        println!("{}", p.display());
    }
    Ok(Outcome::Passed)
}
