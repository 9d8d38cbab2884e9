//! Virtual time: a calendar date plus a time of day, as minutes since 1955-01-01 00:00.
//!
//! Both drivers use it: the event engine jumps from one instant to the next, and the
//! live services read it from a shared virtual clock. Nothing in `fakes` reads the
//! wall clock.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

const MINUTES_PER_DAY: i64 = 24 * 60;

/// Days from 0001-01-01 (day 1 in chrono's proleptic Gregorian count) to 1955-01-01.
const EPOCH_DAYS_FROM_CE: i64 = 713_684;

/// Days in [`DATES`]: 1955-01-01 through 2099-12-31, the business calendar's range
/// (`calendar::FIRST_YEAR` to `calendar::LAST_YEAR`; a test holds them equal).
const TABLE_DAYS: usize = 52_961;

/// The date of each day since 1955-01-01 in the calendar's range, computed at compile
/// time by chrono's own conversion (`NaiveDate::from_num_days_from_ce_opt`), so
/// [`VirtualTime::date`] is one lookup there *(our choice, for speed: the conversion
/// was a sixth of an ecosystem run)*; a test compares every entry with the conversion
/// at run time.
static DATES: [NaiveDate; TABLE_DAYS] = {
    let mut t = [NaiveDate::MIN; TABLE_DAYS];
    let mut i = 0;
    while i < TABLE_DAYS {
        t[i] = match NaiveDate::from_num_days_from_ce_opt(EPOCH_DAYS_FROM_CE as i32 + i as i32) {
            Some(d) => d,
            None => panic!("every day of the calendar is a date"),
        };
        i += 1;
    }
    t
};

/// The date `days` days after 1955-01-01 (before it when negative), `None` outside
/// chrono's range: the table inside the calendar's range, chrono's conversion outside.
#[inline]
pub fn date_of_day(days: i64) -> Option<NaiveDate> {
    match usize::try_from(days).ok().and_then(|i| DATES.get(i)) {
        Some(d) => Some(*d),
        None => date_of_day_by_chrono(days),
    }
}

/// [`date_of_day`] by chrono's conversion alone (the table's oracle).
fn date_of_day_by_chrono(days: i64) -> Option<NaiveDate> {
    days.checked_add(EPOCH_DAYS_FROM_CE)
        .and_then(|d| i32::try_from(d).ok())
        .and_then(NaiveDate::from_num_days_from_ce_opt)
}

/// Virtual instant: minutes since 1955-01-01T00:00 (so a calendar date plus time of
/// day). There are no time zones: every instant is Japan Standard Time.
///
/// Serialised as text, `2024-02-13T09:00` (its [`Display`](fmt::Display) form), so
/// reports read naturally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VirtualTime(pub i64);

impl VirtualTime {
    /// The instant `hour:minute` on `date`.
    ///
    /// # Panics
    /// If `hour >= 24` or `minute >= 60`.
    pub fn at(date: NaiveDate, hour: u32, minute: u32) -> Self {
        assert!(hour < 24, "VirtualTime::at: hour {hour} out of range 0..24");
        assert!(
            minute < 60,
            "VirtualTime::at: minute {minute} out of range 0..60"
        );
        Self::start_of(date).plus_minutes(i64::from(hour) * 60 + i64::from(minute))
    }

    /// Midnight (00:00) at the start of `date`.
    pub fn start_of(date: NaiveDate) -> Self {
        let days = i64::from(date.num_days_from_ce()) - EPOCH_DAYS_FROM_CE;
        VirtualTime(days * MINUTES_PER_DAY)
    }

    /// The calendar date of this instant.
    ///
    /// # Panics
    /// If the instant lies outside chrono's date range (about ±262,000 years).
    #[inline]
    pub fn date(self) -> NaiveDate {
        date_of_day(self.0.div_euclid(MINUTES_PER_DAY))
            .unwrap_or_else(|| panic!("VirtualTime({}) is outside the calendar", self.0))
    }

    /// Hour (0–23) and minute (0–59) of the day.
    pub fn hour_minute(self) -> (u32, u32) {
        let m = self.0.rem_euclid(MINUTES_PER_DAY) as u32;
        (m / 60, m % 60)
    }

    /// This instant moved by `m` minutes (negative moves back).
    pub fn plus_minutes(self, m: i64) -> Self {
        VirtualTime(self.0 + m)
    }

    /// This instant moved by `d` whole days, same time of day.
    pub fn plus_days(self, d: i64) -> Self {
        VirtualTime(self.0 + d * MINUTES_PER_DAY)
    }
}

impl fmt::Display for VirtualTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (h, m) = self.hour_minute();
        write!(f, "{}T{:02}:{:02}", self.date().format("%Y-%m-%d"), h, m)
    }
}

impl Serialize for VirtualTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for VirtualTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let t = chrono::NaiveDateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M").map_err(|_| {
            serde::de::Error::custom(format!("{s:?} is not a time like 2024-02-13T09:00"))
        })?;
        Ok(VirtualTime::at(
            t.date(),
            chrono::Timelike::hour(&t),
            chrono::Timelike::minute(&t),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(days in 0i64..60_000, h in 0u32..24, m in 0u32..60) {
            let d = NaiveDate::from_ymd_opt(1955, 1, 1).unwrap() + chrono::Duration::days(days);
            let t = VirtualTime::at(d, h, m);
            prop_assert_eq!(t.date(), d);
            prop_assert_eq!(t.hour_minute(), (h, m));
        }
    }

    proptest! {
        /// Anywhere in (and far outside) chrono's range, the table's answer is
        /// chrono's.
        #[test]
        fn date_of_day_is_chronos_conversion(days in prop_oneof![
            -800_000i64..800_000,
            -10_000i64..(TABLE_DAYS as i64 + 10_000),
            any::<i64>(),
        ]) {
            prop_assert_eq!(date_of_day(days), date_of_day_by_chrono(days));
        }
    }

    #[test]
    fn the_date_table_is_chronos_conversion_on_every_day() {
        for i in 0..TABLE_DAYS as i64 {
            assert_eq!(date_of_day(i), date_of_day_by_chrono(i), "day {i}");
        }
        assert_eq!(DATES[0], NaiveDate::from_ymd_opt(1955, 1, 1).unwrap());
        let last = NaiveDate::from_ymd_opt(crate::calendar::LAST_YEAR, 12, 31).unwrap();
        assert_eq!(DATES[TABLE_DAYS - 1], last);
        assert_eq!(crate::calendar::FIRST_YEAR, 1955);
        // Just past the table: chrono's conversion.
        assert_eq!(date_of_day(TABLE_DAYS as i64), last.succ_opt());
        assert_eq!(date_of_day(-1), NaiveDate::from_ymd_opt(1954, 12, 31));
    }

    #[test]
    fn displays_iso() {
        let t = VirtualTime::at(NaiveDate::from_ymd_opt(2024, 2, 13).unwrap(), 9, 5);
        assert_eq!(t.to_string(), "2024-02-13T09:05");
    }
}
