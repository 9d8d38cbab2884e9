//! Virtual time: a calendar date plus a time of day, as minutes since 1955-01-01 00:00.
//!
//! Both drivers use it: the event engine jumps from one instant to the next, and the
//! live services read it from a shared virtual clock. Nothing in `fakes` reads the
//! wall clock.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

const MINUTES_PER_DAY: i64 = 24 * 60;

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1955, 1, 1).expect("valid")
}

/// A virtual instant (minutes since 1955-01-01T00:00, Japan time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct VirtualTime(pub i64);

impl VirtualTime {
    /// `date` at `hour:minute`.
    pub fn at(date: NaiveDate, hour: u32, minute: u32) -> Self {
        let days = (date - epoch()).num_days();
        VirtualTime(days * MINUTES_PER_DAY + i64::from(hour) * 60 + i64::from(minute))
    }

    /// Midnight at the start of `date`.
    pub fn start_of(date: NaiveDate) -> Self {
        Self::at(date, 0, 0)
    }

    pub fn date(self) -> NaiveDate {
        epoch() + chrono::Duration::days(self.0.div_euclid(MINUTES_PER_DAY))
    }

    pub fn hour_minute(self) -> (u32, u32) {
        let m = self.0.rem_euclid(MINUTES_PER_DAY) as u32;
        (m / 60, m % 60)
    }

    pub fn plus_minutes(self, m: i64) -> Self {
        VirtualTime(self.0 + m)
    }

    pub fn plus_days(self, d: i64) -> Self {
        VirtualTime(self.0 + d * MINUTES_PER_DAY)
    }
}

impl fmt::Display for VirtualTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.date();
        let (h, m) = self.hour_minute();
        write!(
            f,
            "{:04}-{:02}-{:02}T{h:02}:{m:02}",
            d.year(),
            d.month(),
            d.day()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(days in 0i64..60_000, h in 0u32..24, m in 0u32..60) {
            let d = epoch() + chrono::Duration::days(days);
            let t = VirtualTime::at(d, h, m);
            prop_assert_eq!(t.date(), d);
            prop_assert_eq!(t.hour_minute(), (h, m));
        }
    }

    #[test]
    fn displays_iso() {
        let t = VirtualTime::at(NaiveDate::from_ymd_opt(2024, 2, 13).unwrap(), 9, 5);
        assert_eq!(t.to_string(), "2024-02-13T09:05");
    }
}
