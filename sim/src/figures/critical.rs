//! Critical-path shares with intervals: for the runs not online on the designation
//! day, the share each cause ([`crate::sweep::Cause`]) made late, as horizontal bars
//! with Wilson 95% intervals (count out of the runs not online on day 1), one bar per
//! variant side by side. Causes no variant saw are left out.

use plotters::coord::Shift;
use plotters::prelude::*;
use serde::Serialize;

use super::text::{self, Lang};
use super::{colour, draw_legend, err, percent, variant_name, Chart, LABEL, TICK, TITLE};
use crate::sweep::{wilson, SweepReport, CAUSES};

/// One bar (one CSV row).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CauseRow {
    pub variant: String,
    pub cause: String,
    pub count: u64,
    /// Runs not online on the designation day (the share's denominator).
    pub runs_not_online_on_day_one: u64,
    pub share: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

#[derive(Debug, Clone)]
pub struct Critical {
    pub rows: Vec<CauseRow>,
    /// Causes shown, in [`CAUSES`] order.
    pub causes: Vec<String>,
    pub variants: Vec<String>,
}

impl Critical {
    pub fn of(r: &SweepReport) -> Critical {
        let seen = |c: &str| {
            r.variants.iter().any(|v| {
                v.critical_path
                    .causes
                    .iter()
                    .any(|s| s.cause == c && s.count > 0)
            })
        };
        let causes: Vec<String> = CAUSES
            .iter()
            .map(|c| c.as_str().to_string())
            .filter(|c| seen(c))
            .collect();
        let mut rows = Vec::new();
        let mut variants = Vec::new();
        for v in &r.variants {
            let label = variant_name(v);
            variants.push(label.clone());
            let n = v.critical_path.runs_not_online_on_day_one;
            for c in &causes {
                let (count, share) = v
                    .critical_path
                    .causes
                    .iter()
                    .find(|s| s.cause == *c)
                    .map_or((0, 0.0), |s| (s.count, s.share));
                let [lo, hi] = wilson(count, n);
                rows.push(CauseRow {
                    variant: label.clone(),
                    cause: c.clone(),
                    count,
                    runs_not_online_on_day_one: n,
                    share,
                    ci_low: lo,
                    ci_high: hi,
                });
            }
        }
        Critical {
            rows,
            causes,
            variants,
        }
    }
}

impl Chart for Critical {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        lang: Lang,
    ) -> Result<(), String> {
        let n = self.causes.len();
        let x1 = self
            .rows
            .iter()
            .map(|r| r.ci_high)
            .fold(0.0f64, f64::max)
            .clamp(0.05, 1.0)
            * 1.05;
        let names: Vec<String> = self.causes.iter().map(|c| text::cause(lang, c)).collect();
        // Room for the longest cause name: Latin about 0.55 em, kana and kanji 1 em.
        let width = |s: &str| -> u32 {
            s.chars()
                .map(|c| if c.is_ascii() { TICK * 11 / 20 } else { TICK })
                .sum()
        };
        let label_area = 30 + names.iter().map(|s| width(s)).max().unwrap_or(100);
        let mut chart = ChartBuilder::on(root)
            .caption(text::critical_title(lang), ("sans-serif", TITLE))
            .margin(24)
            .x_label_area_size(70)
            .y_label_area_size(label_area.min(520))
            .build_cartesian_2d(0.0..x1, -0.5..(n.max(1) as f64 - 0.5))
            .map_err(err)?;
        // The first cause at the top.
        let y_of = |i: usize| (n - 1 - i) as f64;
        let y_fmt = {
            let names = names.clone();
            move |y: &f64| {
                let r = y.round();
                if (y - r).abs() > 1e-9 || r < 0.0 || r as usize >= n {
                    return String::new();
                }
                names[n - 1 - r as usize].clone()
            }
        };
        let x_fmt = percent(x1);
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_labels(10)
            .y_labels(n.max(1))
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .x_desc(text::critical_axis(lang))
            .axis_desc_style(("sans-serif", LABEL))
            .label_style(("sans-serif", TICK))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(err)?;
        let m = self.variants.len().max(1) as f64;
        let h = 0.8 / m;
        for (j, v) in self.variants.iter().enumerate() {
            let c = colour(j);
            let bars: Vec<(f64, &CauseRow)> = self
                .rows
                .iter()
                .filter(|r| r.variant == *v)
                .filter_map(|r| {
                    let i = self.causes.iter().position(|x| *x == r.cause)?;
                    Some((y_of(i) + 0.4 - h * (j as f64 + 0.5), r))
                })
                .collect();
            let label = if self.variants.len() == 1 && v == "base" {
                text::base(lang).to_string()
            } else {
                v.clone()
            };
            chart
                .draw_series(bars.iter().map(|(y, r)| {
                    Rectangle::new(
                        [(0.0, y - h * 0.45), (r.share, y + h * 0.45)],
                        c.mix(0.75).filled(),
                    )
                }))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 7), (x + 20, y + 7)], c.mix(0.75).filled())
                });
            chart
                .draw_series(bars.iter().map(|(y, r)| {
                    ErrorBar::new_horizontal(
                        *y,
                        r.ci_low,
                        r.share,
                        r.ci_high,
                        BLACK.stroke_width(2),
                        10,
                    )
                }))
                .map_err(err)?;
        }
        draw_legend(&mut chart, SeriesLabelPosition::LowerRight)
    }
}
