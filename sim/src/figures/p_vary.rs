//! P(outcome) against each varied parameter, with its Wilson 95% interval as a band
//! (numbers, dates, shifts) or as error bars (names such as `r2021`, `r2024`).
//!
//! One chart per `--vary` key. With a grid (several keys), each combination of the
//! other keys' values is its own series, so nothing is averaged away.

use chrono::{Datelike, NaiveDate};
use plotters::coord::Shift;
use plotters::prelude::*;
use serde::Serialize;

use super::text::{self, Lang};
use super::{colour, draw_legend, err, percent, Chart, LABEL, TICK, TITLE};
use crate::sweep::SweepReport;

/// One point of a P chart (one CSV row): a variant's probability of the outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PRow {
    /// The varied key this chart is about.
    pub key: String,
    /// Its value in this variant, as written in `--vary`.
    pub value: String,
    /// Where the value sits on the x axis (a number, days since 0001-01-01 for a
    /// date, the value's position for a name).
    pub x: f64,
    /// The other varied keys' values (`k=v; …`), empty with one key.
    pub series: String,
    pub variant: String,
    pub outcome: String,
    pub count: u64,
    pub runs: u64,
    pub p: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

/// How a key's values sit on the x axis.
#[derive(Debug, Clone, PartialEq)]
pub enum Axis {
    /// Numbers, with a common unit suffix (`d`, `bd`, or none).
    Numeric {
        suffix: String,
    },
    Date,
    /// Names, at 0, 1, … in `--vary` order.
    Categorical(Vec<String>),
}

/// One P chart.
#[derive(Debug, Clone)]
pub struct PChart {
    pub key: String,
    pub outcome: String,
    pub axis: Axis,
    pub rows: Vec<PRow>,
}

/// `+10d` → (10, "d"), `-3bd` → (-3, "bd"), `0.5` → (0.5, "").
fn number(v: &str) -> Option<(f64, &'static str)> {
    let t = v.trim();
    let (t, suffix) = if let Some(n) = t.strip_suffix("bd") {
        (n, "bd")
    } else if let Some(n) = t.strip_suffix('d') {
        (n, "d")
    } else {
        (t, "")
    };
    let t = t.strip_prefix('+').unwrap_or(t);
    let x: f64 = t.parse().ok()?;
    x.is_finite().then_some((x, suffix))
}

fn axis_of(values: &[String]) -> Axis {
    let nums: Option<Vec<_>> = values.iter().map(|v| number(v)).collect();
    if let Some(n) = nums {
        if let Some((_, s)) = n.first() {
            if n.iter().all(|(_, t)| t == s) {
                return Axis::Numeric {
                    suffix: s.to_string(),
                };
            }
        }
    }
    if values.iter().all(|v| v.parse::<NaiveDate>().is_ok()) {
        return Axis::Date;
    }
    Axis::Categorical(values.to_vec())
}

fn x_of(axis: &Axis, v: &str) -> f64 {
    match axis {
        Axis::Numeric { .. } => number(v).map_or(0.0, |(x, _)| x),
        Axis::Date => v
            .parse::<NaiveDate>()
            .map_or(0.0, |d| f64::from(d.num_days_from_ce())),
        Axis::Categorical(names) => names.iter().position(|n| n == v).unwrap_or(0) as f64,
    }
}

/// The keys a sweep varied, in `--vary` order (`KEY=V1,V2` → `KEY`).
pub fn varied_keys(r: &SweepReport) -> Vec<String> {
    r.vary
        .iter()
        .filter_map(|v| v.split_once('=').map(|(k, _)| k.trim().to_string()))
        .collect()
}

/// One chart per varied key (none for a sweep without `--vary`).
pub fn charts(r: &SweepReport, outcome: &str) -> Result<Vec<PChart>, String> {
    let keys = varied_keys(r);
    let mut out = Vec::new();
    for key in &keys {
        let mut values: Vec<String> = Vec::new();
        for v in &r.variants {
            if let Some(val) = v.settings.get(key) {
                if !values.contains(val) {
                    values.push(val.clone());
                }
            }
        }
        if values.is_empty() {
            continue;
        }
        let axis = axis_of(&values);
        let mut rows = Vec::new();
        for v in &r.variants {
            let Some(val) = v.settings.get(key) else {
                continue;
            };
            let series = v
                .settings
                .iter()
                .filter(|(k, _)| *k != key)
                .map(|(k, x)| format!("{k}={x}"))
                .collect::<Vec<_>>()
                .join("; ");
            let o = v
                .outcomes
                .iter()
                .find(|o| o.outcome == outcome)
                .ok_or_else(|| {
                    format!(
                        "variant {:?} has no outcome {outcome:?} in the sweep JSON",
                        v.label
                    )
                })?;
            rows.push(PRow {
                key: key.clone(),
                value: val.clone(),
                x: x_of(&axis, val),
                series,
                variant: v.label.clone(),
                outcome: outcome.to_string(),
                count: o.count,
                runs: v.runs,
                p: o.p,
                ci_low: o.ci95[0],
                ci_high: o.ci95[1],
            });
        }
        out.push(PChart {
            key: key.clone(),
            outcome: outcome.to_string(),
            axis,
            rows,
        });
    }
    Ok(out)
}

impl PChart {
    /// The series in first-appearance order, each with its points sorted by x.
    fn series(&self) -> Vec<(String, Vec<&PRow>)> {
        let mut out: Vec<(String, Vec<&PRow>)> = Vec::new();
        for r in &self.rows {
            match out.iter_mut().find(|(s, _)| *s == r.series) {
                Some((_, pts)) => pts.push(r),
                None => out.push((r.series.clone(), vec![r])),
            }
        }
        for (_, pts) in &mut out {
            pts.sort_by(|a, b| a.x.total_cmp(&b.x));
        }
        out
    }

    fn x_range(&self) -> (f64, f64) {
        if let Axis::Categorical(names) = &self.axis {
            return (-0.5, names.len() as f64 - 0.5);
        }
        let lo = self.rows.iter().map(|r| r.x).fold(f64::INFINITY, f64::min);
        let hi = self
            .rows
            .iter()
            .map(|r| r.x)
            .fold(f64::NEG_INFINITY, f64::max);
        let pad = if hi > lo { (hi - lo) * 0.05 } else { 1.0 };
        (lo - pad, hi + pad)
    }

    fn y_range(&self) -> (f64, f64) {
        let lo = self.rows.iter().map(|r| r.ci_low).fold(1.0, f64::min);
        let hi = self.rows.iter().map(|r| r.ci_high).fold(0.0, f64::max);
        let pad = ((hi - lo) * 0.1).max(0.005);
        ((lo - pad).max(0.0), (hi + pad).min(1.0))
    }

    fn x_label(&self) -> String {
        match &self.axis {
            Axis::Numeric { suffix } if suffix == "d" => format!("{} (days)", self.key),
            Axis::Numeric { suffix } if suffix == "bd" => {
                format!("{} (business days)", self.key)
            }
            _ => self.key.clone(),
        }
    }
}

impl Chart for PChart {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        lang: Lang,
    ) -> Result<(), String> {
        let (x0, x1) = self.x_range();
        let (y0, y1) = self.y_range();
        let mut chart = ChartBuilder::on(root)
            .caption(
                text::p_title(lang, &self.outcome, &self.key),
                ("sans-serif", TITLE),
            )
            .margin(24)
            .x_label_area_size(70)
            .y_label_area_size(100)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(err)?;
        let axis = self.axis.clone();
        let x_fmt = move |x: &f64| match &axis {
            Axis::Categorical(names) => {
                let i = x.round();
                if (x - i).abs() < 1e-9 && i >= 0.0 && (i as usize) < names.len() {
                    names[i as usize].clone()
                } else {
                    String::new()
                }
            }
            Axis::Date => NaiveDate::from_num_days_from_ce_opt(x.round() as i32)
                .map_or(String::new(), |d| d.to_string()),
            Axis::Numeric { .. } => {
                if (x - x.round()).abs() < 1e-9 {
                    format!("{}", x.round() as i64)
                } else {
                    format!("{x:.2}")
                }
            }
        };
        let n_x = match &self.axis {
            Axis::Categorical(names) => names.len(),
            _ => 10,
        };
        let y_fmt = percent(y1 - y0);
        let x_desc = match lang {
            Lang::En => self.x_label(),
            Lang::Ja => self
                .x_label()
                .replace("(days)", "（日）")
                .replace("(business days)", "（開庁日）"),
        };
        chart
            .configure_mesh()
            .x_labels(n_x)
            .y_labels(10)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .x_desc(x_desc)
            .y_desc(text::p_axis(lang))
            .axis_desc_style(("sans-serif", LABEL))
            .label_style(("sans-serif", TICK))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(err)?;
        let series = self.series();
        let categorical = matches!(self.axis, Axis::Categorical(_));
        let m = series.len().max(1) as f64;
        for (i, (name, pts)) in series.iter().enumerate() {
            let c = colour(i);
            // Categorical: series side by side within each slot; numeric: a band.
            let off = if categorical && m > 1.0 {
                (i as f64 - (m - 1.0) / 2.0) * (0.5 / m)
            } else {
                0.0
            };
            if categorical {
                chart
                    .draw_series(pts.iter().map(|r| {
                        ErrorBar::new_vertical(
                            r.x + off,
                            r.ci_low,
                            r.p,
                            r.ci_high,
                            c.stroke_width(2),
                            14,
                        )
                    }))
                    .map_err(err)?;
            } else {
                let mut band: Vec<(f64, f64)> = pts.iter().map(|r| (r.x, r.ci_low)).collect();
                band.extend(pts.iter().rev().map(|r| (r.x, r.ci_high)));
                chart
                    .draw_series(std::iter::once(Polygon::new(band, c.mix(0.2).filled())))
                    .map_err(err)?;
            }
            let label = if name.is_empty() {
                text::outcome(lang, &self.outcome)
            } else {
                name.clone()
            };
            chart
                .draw_series(LineSeries::new(
                    pts.iter().map(|r| (r.x + off, r.p)),
                    c.stroke_width(2),
                ))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], c.stroke_width(3)));
            chart
                .draw_series(
                    pts.iter()
                        .map(|r| Circle::new((r.x + off, r.p), 5, c.filled())),
                )
                .map_err(err)?;
        }
        draw_legend(&mut chart, SeriesLabelPosition::LowerRight)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_by_value_kind() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            axis_of(&s(&["90", "120"])),
            Axis::Numeric { suffix: "".into() }
        );
        assert_eq!(
            axis_of(&s(&["+0d", "+10d", "-5d"])),
            Axis::Numeric { suffix: "d".into() }
        );
        assert_eq!(axis_of(&s(&["2025-03-01", "2025-04-01"])), Axis::Date);
        assert!(matches!(
            axis_of(&s(&["r2021", "r2024"])),
            Axis::Categorical(_)
        ));
        // Mixed units are names, not numbers on one axis.
        assert!(matches!(
            axis_of(&s(&["+10d", "+10bd"])),
            Axis::Categorical(_)
        ));
        assert_eq!(number("+10bd"), Some((10.0, "bd")));
        assert_eq!(number("-3d"), Some((-3.0, "d")));
        assert_eq!(number("nand"), None);
    }
}
