//! Figures for a paper from a sweep's result (issue 18 #4; docs/figures.md).
//!
//! Three kinds of chart, one module each, each drawn by plotters into SVG and PNG
//! and its numbers written as CSV:
//! - [`p_vary`]: P(outcome) against each varied parameter, with Wilson 95% bands;
//! - [`delay`]: the start-delay distribution as a survival curve P(delay > d) on a
//!   log axis, so the tail the linear HTML histogram hides is visible;
//! - [`critical`]: critical-path shares with Wilson 95% intervals.
//!
//! Everything is read from a [`SweepReport`] (the sweep JSON), so figures work on
//! merged shards as well as on one sweep. The CSVs carry the JSON's numbers
//! unchanged (probabilities and intervals as the report rounds them); intervals the
//! JSON does not carry are Wilson's from the counts ([`crate::sweep::wilson`]).

pub mod critical;
pub mod delay;
pub mod font;
pub mod p_vary;
pub mod text;

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::CliError;
use crate::output::write_atomic;
use crate::sweep::{SweepReport, OUTCOMES};

pub use text::Lang;

/// Pixel size of every chart (SVG user units, PNG pixels) *(our choice)*.
pub const SIZE: (u32, u32) = (1200, 750);

/// What to draw, and how.
#[derive(Debug, Clone)]
pub struct Options {
    pub lang: Lang,
    /// The outcome the P charts show.
    pub outcome: String,
    /// A font file instead of the search in [`font::CANDIDATES`].
    pub font: Option<PathBuf>,
    /// Draw PNGs too (SVG and CSV always).
    pub png: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            lang: Lang::En,
            outcome: "online-on-designation-day".into(),
            font: None,
            png: true,
        }
    }
}

/// One chart: its file stem and its three forms.
#[derive(Debug, Clone)]
pub struct Figure {
    pub name: String,
    pub svg: String,
    pub png: Option<Vec<u8>>,
    pub csv: String,
}

/// A chart kind: draws itself on any plotters backend.
pub trait Chart {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        lang: Lang,
    ) -> Result<(), String>;
}

/// A variant's name in charts and their CSV: its label, `base` for the scenario as
/// written.
pub(crate) fn variant_name(v: &crate::sweep::VariantReport) -> String {
    if v.label.is_empty() {
        String::from("base")
    } else {
        v.label.clone()
    }
}

/// The series legend every chart draws, at `position`.
pub(crate) fn draw_legend<'a, DB, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<(), String>
where
    DB: DrawingBackend + 'a,
    CT: CoordTranslate,
{
    chart
        .configure_series_labels()
        .position(position)
        .label_font(("sans-serif", TICK))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(160, 160, 160))
        .draw()
        .map_err(err)
}

/// Turn a plotters error into text.
pub(crate) fn err<E: std::fmt::Display>(e: E) -> String {
    format!("drawing failed: {e}")
}

/// Draw `chart` as SVG and (with `png`) as PNG.
pub fn render<C: Chart>(
    chart: &C,
    lang: Lang,
    png: bool,
) -> Result<(String, Option<Vec<u8>>), String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        chart.draw(&root, lang)?;
        root.present().map_err(err)?;
    }
    let png = if png {
        let (w, h) = SIZE;
        let mut buf = vec![0u8; (w * h * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut buf, SIZE).into_drawing_area();
            root.fill(&WHITE).map_err(err)?;
            chart.draw(&root, lang)?;
            root.present().map_err(err)?;
        }
        Some(encode_png(&buf, SIZE)?)
    } else {
        None
    };
    Ok((svg, png))
}

/// An RGB buffer as PNG bytes (deterministic: fixed compression, no timestamps).
pub fn encode_png(rgb: &[u8], (w, h): (u32, u32)) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Default);
        let mut wr = enc.write_header().map_err(|e| format!("PNG: {e}"))?;
        wr.write_image_data(rgb).map_err(|e| format!("PNG: {e}"))?;
    }
    Ok(out)
}

/// Rows as CSV text (header from the row type).
pub fn to_csv<T: serde::Serialize>(rows: &[T]) -> Result<String, String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r).map_err(|e| format!("CSV: {e}"))?;
    }
    let bytes = w.into_inner().map_err(|e| format!("CSV: {e}"))?;
    String::from_utf8(bytes).map_err(|e| format!("CSV: {e}"))
}

/// Series colours (colour-blind safe, Okabe–Ito) *(our choice)*.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
];

pub fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Font sizes (px) *(our choice)*.
pub(crate) const TITLE: u32 = 30;
pub(crate) const LABEL: u32 = 22;
pub(crate) const TICK: u32 = 18;

/// Every figure a report supports. A sweep without `--vary` has no P chart; one
/// without runs that missed day 1 has an empty critical path (drawn, with its axis).
pub fn figures(r: &SweepReport, o: &Options) -> Result<Vec<Figure>, String> {
    if !OUTCOMES.iter().any(|x| x.as_str() == o.outcome) {
        return Err(format!(
            "--outcome {:?}: not an outcome (one of {})",
            o.outcome,
            OUTCOMES.map(|x| x.as_str()).join(", ")
        ));
    }
    if r.variants.is_empty() {
        return Err("the sweep has no variants to draw".into());
    }
    font::ensure(o.font.as_deref(), o.lang)?;
    let mut out = Vec::new();
    for chart in p_vary::charts(r, &o.outcome)? {
        let (svg, png) = render(&chart, o.lang, o.png)?;
        out.push(Figure {
            name: format!("p-{}", file_safe(&chart.key)),
            svg,
            png,
            csv: to_csv(&chart.rows)?,
        });
    }
    let d = delay::Delay::of(r);
    let (svg, png) = render(&d, o.lang, o.png)?;
    out.push(Figure {
        name: "start-delay-ccdf".into(),
        svg,
        png,
        csv: to_csv(&d.rows)?,
    });
    let c = critical::Critical::of(r);
    let (svg, png) = render(&c, o.lang, o.png)?;
    out.push(Figure {
        name: "critical-path".into(),
        svg,
        png,
        csv: to_csv(&c.rows)?,
    });
    Ok(out)
}

/// A key as a file name part: `[A-Za-z0-9._-]` kept, anything else `_`.
pub fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Write each figure as `NAME.svg`, `NAME.png`, `NAME.csv` into `dir` (atomically);
/// returns the paths written.
pub fn write(dir: &Path, figs: &[Figure]) -> Result<Vec<PathBuf>, CliError> {
    let mut written = Vec::new();
    for f in figs {
        let mut put = |ext: &str, bytes: &[u8]| -> Result<(), CliError> {
            let p = dir.join(format!("{}.{ext}", f.name));
            write_atomic(&p, bytes)?;
            written.push(p);
            Ok(())
        };
        put("svg", f.svg.as_bytes())?;
        if let Some(png) = &f.png {
            put("png", png)?;
        }
        put("csv", f.csv.as_bytes())?;
    }
    Ok(written)
}

/// `--report-dir`'s figures: into `dir`, English labels; without a font a warning
/// says why and the rest of the report stands (figures are an extra there).
pub fn write_report_figures(r: &SweepReport, dir: &Path) -> Result<(), CliError> {
    match figures(r, &Options::default()) {
        Ok(figs) => write(dir, &figs).map(|_| ()),
        Err(e) => {
            eprintln!("warning: figures not written to {}: {e}", dir.display());
            Ok(())
        }
    }
}

/// Tick labels for probabilities: percentages with as many decimals as the axis
/// span needs.
pub(crate) fn percent(span: f64) -> impl Fn(&f64) -> String {
    let decimals = if span >= 0.2 {
        0
    } else if span >= 0.02 {
        1
    } else {
        2
    };
    move |v: &f64| format!("{:.*}%", decimals, v * 100.0)
}
