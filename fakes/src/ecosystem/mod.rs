//! Ecosystem mode's shared resources (docs/ecosystem.md): the capacity that many
//! clinics compete for, each a sans-IO state machine like the actors of
//! [`crate::process`]. They own no queue of messages and no clock: the ecosystem
//! driver (`sim::ecosystem`) asks them, at the virtual time a request reaches them,
//! when it will be served, and holds the clinic's message until then.
//!
//! - [`reader_stock`]: a reader maker's stock and monthly production
//!   (顔認証付きカードリーダーの在庫・生産); orders are served first come, first served.
//! - [`capacity`]: a daily capacity on open days, booked first come, first served:
//!   installer crews of a system vendor in a region (導入作業員), a bureau's answers
//!   (地方厚生局の事務処理), the implementing body's account openings, a carrier's line
//!   openings (開通工事).
//!
//! Both take [`Window`]s: a date range in which capacity or production is multiplied
//! by a factor (a shortage lowers it, extra shifts before a mandate raise it).
//! Every figure they are given is *(our choice)* unless the ecosystem file cites it.

pub mod capacity;
pub mod reader_stock;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// A time-varying parameter: from `from` to `until` (both inclusive) a capacity or a
/// production figure is multiplied by `factor` (0 stops it; 0.5 halves it; 1.5 adds
/// half). Where windows overlap their factors multiply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    #[serde(deserialize_with = "crate::serde_date::date")]
    pub from: NaiveDate,
    #[serde(deserialize_with = "crate::serde_date::date")]
    pub until: NaiveDate,
    pub factor: f64,
}

impl Window {
    /// Why the window cannot be used, if it cannot.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.factor.is_finite() && self.factor >= 0.0) {
            return Err(format!(
                "factor must be a finite number ≥ 0 (got {})",
                self.factor
            ));
        }
        if self.until < self.from {
            return Err(format!(
                "until ({}) is before from ({})",
                self.until, self.from
            ));
        }
        Ok(())
    }
}

/// The product of the factors of the windows covering `day` (1 when none does).
pub fn factor_on(windows: &[Window], day: NaiveDate) -> f64 {
    windows
        .iter()
        .filter(|w| w.from <= day && day <= w.until)
        .map(|w| w.factor)
        .product()
}

/// One request served by a resource: when it reached it and when it was served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    pub requested: NaiveDate,
    pub served: NaiveDate,
}

impl Service {
    /// Days waited for the resource.
    pub fn wait_days(&self) -> i64 {
        (self.served - self.requested).num_days()
    }
}

/// How many requests were waiting at the end of each day from `origin` for `days`
/// days: requested on or before the day and served after it.
pub fn queue_lengths(services: &[Service], origin: NaiveDate, days: usize) -> Vec<u32> {
    let mut delta = vec![0i64; days + 1];
    let index = |d: NaiveDate| -> Option<usize> {
        let i = (d - origin).num_days();
        (i >= 0).then_some(i as usize)
    };
    for s in services {
        if s.served <= s.requested {
            continue;
        }
        // Waiting at the end of days requested ..= served - 1.
        let a = index(s.requested).unwrap_or(0).min(days);
        let b = index(s.served).unwrap_or(0).min(days);
        if a < b {
            delta[a] += 1;
            delta[b] -= 1;
        }
    }
    let mut out = Vec::with_capacity(days);
    let mut run = 0i64;
    for d in delta.iter().take(days) {
        run += d;
        out.push(run.max(0) as u32);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn windows_multiply_where_they_overlap() {
        let w = vec![
            Window {
                from: d("2023-01-01"),
                until: d("2023-03-31"),
                factor: 0.5,
            },
            Window {
                from: d("2023-03-01"),
                until: d("2023-04-30"),
                factor: 0.5,
            },
        ];
        assert_eq!(factor_on(&w, d("2022-12-31")), 1.0);
        assert_eq!(factor_on(&w, d("2023-02-01")), 0.5);
        assert_eq!(factor_on(&w, d("2023-03-15")), 0.25);
        assert_eq!(factor_on(&w, d("2023-04-15")), 0.5);
    }

    #[test]
    fn bad_windows_are_named() {
        let mut w = Window {
            from: d("2023-02-01"),
            until: d("2023-01-01"),
            factor: 1.0,
        };
        assert!(w.validate().unwrap_err().contains("before"));
        w.until = d("2023-03-01");
        w.factor = -1.0;
        assert!(w.validate().unwrap_err().contains("factor"));
    }

    #[test]
    fn queue_lengths_count_waiting_requests() {
        let o = d("2023-01-01");
        let s = [
            Service {
                requested: d("2023-01-01"),
                served: d("2023-01-03"),
            },
            Service {
                requested: d("2023-01-02"),
                served: d("2023-01-02"),
            },
            Service {
                requested: d("2023-01-02"),
                served: d("2023-01-04"),
            },
        ];
        assert_eq!(queue_lengths(&s, o, 5), vec![1, 2, 1, 0, 0]);
    }
}
