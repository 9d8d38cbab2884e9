//! The start-delay distribution as a survival curve: P(delay > d) against d on a log
//! axis, one step curve per variant with its Wilson 95% band. A linear histogram
//! shows the bulk at day 0 and hides the tail; the survival curve on a log axis shows
//! how likely a month's or a quarter's delay is, down to 1/runs.
//!
//! Runs never online within the horizon (`start_delay.never`) are beyond every d, so
//! the curve levels off at never/runs instead of reaching 0.

use plotters::coord::Shift;
use plotters::prelude::*;
use serde::Serialize;

use super::text::{self, Lang};
use super::{colour, draw_legend, err, variant_name, Chart, LABEL, TICK, TITLE};
use crate::sweep::report::ratio;
use crate::sweep::{wilson, SweepReport, Unit};

/// One point of a survival curve (one CSV row).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DelayRow {
    pub variant: String,
    /// Days after the designation day (the sweep's unit).
    pub d: i64,
    /// Runs with a start delay greater than d, never-online runs included.
    pub exceed: u64,
    /// Runs measured: online + never online.
    pub runs: u64,
    pub p_exceed: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

/// The survival curves of a sweep.
#[derive(Debug, Clone)]
pub struct Delay {
    pub business_days: bool,
    pub rows: Vec<DelayRow>,
    /// Variant labels in report order.
    pub variants: Vec<String>,
}

impl Delay {
    pub fn of(r: &SweepReport) -> Delay {
        let mut rows = Vec::new();
        let mut variants = Vec::new();
        for v in &r.variants {
            let label = variant_name(v);
            variants.push(label.clone());
            let s = &v.start_delay;
            let n = s.online + s.never;
            let mut bins: Vec<[i64; 2]> = s.histogram.clone();
            bins.sort_by_key(|b| b[0]);
            let Some(first) = bins.first() else {
                continue;
            };
            let mut above: u64 = bins.iter().map(|b| b[1].max(0) as u64).sum::<u64>() + s.never;
            let mut push = |d: i64, k: u64| {
                let [lo, hi] = wilson(k, n);
                rows.push(DelayRow {
                    variant: label.clone(),
                    d,
                    exceed: k,
                    runs: n,
                    p_exceed: ratio(k, n),
                    ci_low: lo,
                    ci_high: hi,
                });
            };
            push(first[0] - 1, above);
            for [d, c] in &bins {
                above -= (*c).max(0) as u64;
                push(*d, above);
            }
        }
        Delay {
            business_days: r
                .variants
                .first()
                .is_some_and(|v| v.start_delay.unit == Unit::BusinessDays),
            rows,
            variants,
        }
    }

    fn of_variant<'a>(&'a self, v: &'a str) -> impl Iterator<Item = &'a DelayRow> + 'a {
        self.rows.iter().filter(move |r| r.variant == v)
    }
}

/// A right-continuous step through `(d, y)` points: flat from each d to the next.
fn steps(pts: &[(i64, f64)], end: i64) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(pts.len() * 2);
    for (i, (d, y)) in pts.iter().enumerate() {
        let next = pts.get(i + 1).map_or(end, |p| p.0);
        out.push((*d as f64, *y));
        out.push((next as f64, *y));
    }
    out
}

impl Chart for Delay {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        lang: Lang,
    ) -> Result<(), String> {
        let x0 = self.rows.iter().map(|r| r.d).min().unwrap_or(-1);
        let x1 = self.rows.iter().map(|r| r.d).max().unwrap_or(0) + 1;
        let floor = self
            .rows
            .iter()
            .filter(|r| r.exceed > 0)
            .map(|r| r.ci_low)
            .fold(1.0f64, f64::min)
            .clamp(1e-7, 0.5)
            * 0.7;
        let mut chart = ChartBuilder::on(root)
            .caption(text::delay_title(lang), ("sans-serif", TITLE))
            .margin(24)
            .x_label_area_size(70)
            .y_label_area_size(110)
            .build_cartesian_2d(x0 as f64..x1 as f64, (floor..1.05f64).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_labels(12)
            .y_labels(12)
            .x_label_formatter(&|x: &f64| format!("{}", x.round() as i64))
            .y_label_formatter(&|y: &f64| {
                if *y >= 0.01 {
                    format!("{:.0}%", y * 100.0)
                } else {
                    format!("{y:.0e}")
                }
            })
            .x_desc(text::delay_axis(lang, self.business_days))
            .y_desc(text::delay_y(lang))
            .axis_desc_style(("sans-serif", LABEL))
            .label_style(("sans-serif", TICK))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(err)?;
        for (i, v) in self.variants.iter().enumerate() {
            let c = colour(i);
            // Points with exceed = 0 have no place on a log axis: the curve ends there.
            let pts: Vec<&DelayRow> = self.of_variant(v).filter(|r| r.exceed > 0).collect();
            if pts.is_empty() {
                continue;
            }
            let end = pts.last().map_or(x1, |r| r.d + 1);
            let lo = steps(
                &pts.iter()
                    .map(|r| (r.d, r.ci_low.max(floor)))
                    .collect::<Vec<_>>(),
                end,
            );
            let hi = steps(
                &pts.iter().map(|r| (r.d, r.ci_high)).collect::<Vec<_>>(),
                end,
            );
            let mut band = lo;
            band.extend(hi.into_iter().rev());
            chart
                .draw_series(std::iter::once(Polygon::new(band, c.mix(0.18).filled())))
                .map_err(err)?;
            let line = steps(
                &pts.iter().map(|r| (r.d, r.p_exceed)).collect::<Vec<_>>(),
                end,
            );
            let label = if self.variants.len() == 1 && (v == "base" || v.is_empty()) {
                text::base(lang).to_string()
            } else {
                v.clone()
            };
            chart
                .draw_series(LineSeries::new(line, c.stroke_width(2)))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], c.stroke_width(3)));
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_flat_between_points() {
        let s = steps(&[(0, 1.0), (3, 0.5)], 5);
        assert_eq!(s, vec![(0.0, 1.0), (3.0, 1.0), (3.0, 0.5), (5.0, 0.5)]);
    }
}
