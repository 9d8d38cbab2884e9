//! The values a solve may give its variable: every day from one date to another, or
//! numbers from one value to another in steps.

use chrono::NaiveDate;
use serde::Serialize;

/// The searched values, indexed `0..=last`.
#[derive(Debug, Clone, PartialEq)]
pub enum Domain {
    /// Every calendar day of `from..=to`.
    Days { from: NaiveDate, to: NaiveDate },
    /// `from + i * step` for `i` in `0..=steps`.
    Numbers { from: f64, step: f64, steps: u64 },
}

/// At most this many values in a range *(our choice: a million; bisection needs about
/// 20 evaluations for it)*.
pub const MAX_VALUES: u64 = 1_000_000;

fn date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

impl Domain {
    /// `from` and `to` both dates (`YYYY-MM-DD`), or both numbers with `step`.
    pub fn parse(from: &str, to: &str, step: Option<f64>) -> Result<Domain, String> {
        match (date(from), date(to)) {
            (Some(a), Some(b)) => {
                if step.is_some() {
                    return Err("--step is for numbers; a date range goes day by day".into());
                }
                if a >= b {
                    return Err(format!("--from {a} must be before --to {b}"));
                }
                if !fakes::calendar::in_range(a) || !fakes::calendar::in_range(b) {
                    return Err(format!(
                        "--from {a} --to {b}: dates must lie within the calendar's years"
                    ));
                }
                let n = (b - a).num_days() as u64;
                if n > MAX_VALUES {
                    return Err(format!(
                        "--from {a} --to {b}: {n} days; at most {MAX_VALUES}"
                    ));
                }
                Ok(Domain::Days { from: a, to: b })
            }
            (Some(_), None) | (None, Some(_)) => Err(format!(
                "--from {from:?} --to {to:?}: both must be dates (YYYY-MM-DD) or both numbers"
            )),
            (None, None) => {
                let num = |flag: &str, s: &str| {
                    s.trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|x| x.is_finite())
                        .ok_or_else(|| {
                            format!("{flag} {s:?}: expected a date (YYYY-MM-DD) or a number")
                        })
                };
                let a = num("--from", from)?;
                let b = num("--to", to)?;
                let step = step.unwrap_or(1.0);
                if !(step.is_finite() && step > 0.0) {
                    return Err(format!("--step {step}: must be a positive number"));
                }
                if a >= b {
                    return Err(format!("--from {a} must be below --to {b}"));
                }
                let steps = ((b - a) / step + 1e-9).floor();
                if steps > MAX_VALUES as f64 {
                    return Err(format!(
                        "--from {a} --to {b} --step {step}: {steps} steps; at most {MAX_VALUES}"
                    ));
                }
                Ok(Domain::Numbers {
                    from: a,
                    step,
                    steps: steps as u64,
                })
            }
        }
    }

    /// The largest index.
    pub fn last(&self) -> u64 {
        match self {
            Domain::Days { from, to } => (*to - *from).num_days() as u64,
            Domain::Numbers { steps, .. } => *steps,
        }
    }

    /// The value of index `i`.
    pub fn value(&self, i: u64) -> Value {
        match self {
            Domain::Days { from, .. } => Value::Date(*from + chrono::Duration::days(i as i64)),
            Domain::Numbers { from, step, .. } => {
                // Rounded to 9 decimals so 0.1 steps do not print as 0.30000000000000004.
                let x = ((from + step * i as f64) * 1e9).round() / 1e9;
                Value::Number(x)
            }
        }
    }

    /// One step, as written in the report.
    pub fn step_text(&self) -> String {
        match self {
            Domain::Days { .. } => "1 day".into(),
            Domain::Numbers { step, .. } => format!("{step}"),
        }
    }
}

/// A value of the variable.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    Date(NaiveDate),
    Number(f64),
}

impl Value {
    /// The word handed to `--vary` (a date, an integer without `.0`, or a decimal).
    pub fn word(&self) -> String {
        match self {
            Value::Date(d) => d.to_string(),
            Value::Number(x) => format!("{x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_go_day_by_day() {
        let d = Domain::parse("2025-05-01", "2025-05-31", None).unwrap();
        assert_eq!(d.last(), 30);
        assert_eq!(d.value(29).word(), "2025-05-30");
    }

    #[test]
    fn numbers_go_in_steps() {
        let d = Domain::parse("1", "4", None).unwrap();
        assert_eq!(d.last(), 3);
        assert_eq!(d.value(2).word(), "3");
        let d = Domain::parse("0.1", "0.5", Some(0.1)).unwrap();
        assert_eq!(d.last(), 4);
        assert_eq!(d.value(2).word(), "0.3");
    }

    #[test]
    fn bad_ranges_say_why() {
        for (a, b, s, want) in [
            ("2025-05-01", "7", None, "both must be dates"),
            ("2025-05-02", "2025-05-01", None, "must be before"),
            (
                "2025-05-01",
                "2025-06-01",
                Some(2.0),
                "--step is for numbers",
            ),
            ("x", "3", None, "expected a date"),
            ("1", "3", Some(0.0), "positive"),
            ("3", "1", None, "must be below"),
            ("0", "1e9", Some(1.0), "at most"),
        ] {
            let e = Domain::parse(a, b, s).unwrap_err();
            assert!(e.contains(want), "{a} {b}: {e}");
        }
    }
}
