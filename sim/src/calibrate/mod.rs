//! `onsim calibrate`: fit a lead-time distribution to observed durations by maximum
//! likelihood, and say how well it fits.
//!
//! Fits (all closed-form maximum-likelihood estimates):
//! - `lognormal`: `mu` = mean of ln x, `sigma` = root mean square of (ln x − mu) (the
//!   MLE, divisor n); every duration must be positive;
//! - `uniform`: `min`, `max` = the smallest and largest duration;
//! - `empirical`: the distinct durations weighted by how often each was seen (the
//!   nonparametric MLE).
//!
//! Goodness of fit: onsim draws a duration and rounds it to whole days
//! ([`fakes::dist::Dist::sample_days`]), so the fitted model is compared with the data
//! as the distribution of whole days it produces, `P(round X ≤ k) = F(k + ½)`: the
//! Kolmogorov–Smirnov distance `D = max_k |F_n(k) − F(k + ½)|` over the observed days,
//! with the asymptotic Kolmogorov p-value `Q((√n + 0.12 + 0.11/√n)·D)` (M. A. Stephens,
//! JRSS B 32 (1970) 115–122). With parameters estimated from the same data and whole
//! days, that p-value is conservative (too large): read a small one as a poor fit, a
//! large one as "no evidence against".

pub mod fit;

pub use fit::{fit, ks, Fit, FitKind};

/// Read durations (days) from CSV text with a header line: the column named `column`,
/// or `days` when there is one, or else the first column. Blank cells are an error,
/// as are negative or non-numeric values, each named by line and column.
pub fn read_durations(file: &str, text: &str, column: Option<&str>) -> Result<Vec<f64>, String> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = r
        .headers()
        .map_err(|e| format!("{file}: {e}"))?
        .iter()
        .map(str::to_string)
        .collect::<Vec<_>>();
    let idx = match column {
        Some(c) => headers.iter().position(|h| h == c).ok_or_else(|| {
            format!(
                "{file}: no column {c:?} (the header has {})",
                headers.join(", ")
            )
        })?,
        None => headers.iter().position(|h| h == "days").unwrap_or(0),
    };
    let name = headers.get(idx).cloned().unwrap_or_default();
    let mut out = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| format!("{file}:{line}: {e}"))?;
        let cell = rec.get(idx).unwrap_or("");
        let x: f64 = cell.parse().map_err(|_| {
            format!("{file}:{line}: column {name:?}: {cell:?} is not a number of days")
        })?;
        if !x.is_finite() || x < 0.0 {
            return Err(format!(
                "{file}:{line}: column {name:?}: {cell} is not a non-negative number of days"
            ));
        }
        out.push(x);
    }
    if out.len() < 2 {
        return Err(format!(
            "{file}: {} duration(s) in column {name:?}; at least 2 are needed to fit",
            out.len()
        ));
    }
    Ok(out)
}
