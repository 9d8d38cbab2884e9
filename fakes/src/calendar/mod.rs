//! The business calendar: national holidays and the bureaus' open days (開庁日).
//!
//! Bureaus (地方厚生（支）局) are closed (閉庁日) on Saturdays, Sundays, national
//! holidays, and from 29 December to 3 January. A bureau may have extra closures of
//! its own. Every deadline of the rule sets is computed here, so the engine, the live
//! services and the `schedule` command agree to the day.

mod holidays;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use chrono::{Datelike, Months, NaiveDate, Weekday};

pub use holidays::{holidays_of_year, Holiday, FIRST_YEAR, LAST_ANNOUNCED_YEAR, LAST_YEAR};

/// A date the calendar cannot answer for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("{date} is outside the calendar ({FIRST_YEAR}-01-01 to {LAST_YEAR}-12-31)")]
    OutOfRange { date: NaiveDate },
    #[error("year {year} is outside the calendar ({FIRST_YEAR} to {LAST_YEAR})")]
    YearOutOfRange { year: i32 },
    #[error("{year}-{month:02}-{day:02} is not a date")]
    NoSuchDate { year: i32, month: u32, day: u32 },
}

/// Holiday names indexed by days since 1955-01-01, built once.
fn table() -> &'static [Option<&'static str>] {
    static TABLE: OnceLock<Vec<Option<&'static str>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let start = first_day();
        let end = last_day();
        let n = (end - start).num_days() as usize + 1;
        let mut t = vec![None; n];
        for y in FIRST_YEAR..=LAST_YEAR {
            for h in holidays_of_year(y).expect("year in range") {
                t[(h.date - start).num_days() as usize] = Some(h.name);
            }
        }
        t
    })
}

/// Days of the calendar's range, `first_day()..=last_day()`.
fn days_in_range() -> usize {
    static N: OnceLock<usize> = OnceLock::new();
    *N.get_or_init(|| (last_day() - first_day()).num_days() as usize + 1)
}

/// The open days of each [`CalendarKind`] without closures of an office's own, one
/// bit per day of the range (bit `i % 64` of word `i / 64` for day `first_day() + i`),
/// built once per kind, when first asked, from the same rules as
/// [`BusinessCalendar::closed_reason`]: weekdays open, then each year's holidays and
/// year-end days closed (a test holds the table equal to `closed_reason` on every
/// day of the range, and a proptest every lookup that uses it equal to the day-by-day
/// rule computation).
fn open_bits(kind: CalendarKind) -> &'static [u64] {
    static BITS: [OnceLock<Vec<u64>>; 4] = [const { OnceLock::new() }; 4];
    BITS[kind as usize].get_or_init(|| {
        let n = days_in_range();
        let mut bits = vec![0u64; n.div_ceil(64)];
        // Weekdays open: day 0's weekday counted on (no date arithmetic per day).
        let mut weekday = first_day().weekday().num_days_from_monday();
        for i in 0..n {
            if weekday < 5 {
                bits[i / 64] |= 1 << (i % 64);
            }
            weekday = if weekday == 6 { 0 } else { weekday + 1 };
        }
        let start = first_day();
        let mut close = |date: NaiveDate| {
            if let Ok(i) = usize::try_from((date - start).num_days()) {
                if i < n {
                    bits[i / 64] &= !(1 << (i % 64));
                }
            }
        };
        for y in FIRST_YEAR..=LAST_YEAR {
            if kind.closes_holidays() {
                for h in holidays_of_year(y).expect("year in range") {
                    close(h.date);
                }
            }
            if kind.closes_year_end() {
                for (m, d) in [(1, 1), (1, 2), (1, 3), (12, 29), (12, 30), (12, 31)] {
                    close(NaiveDate::from_ymd_opt(y, m, d).expect("a date"));
                }
            }
        }
        bits
    })
}

/// The index of the `n`-th open day of `bits` after index `i` (n > 0) or before it
/// (n < 0), `i` inside the range (`n != 0`): the open days of each word counted at
/// once, then the day picked in its word. `Err` holds the first index outside the
/// range (`-1` or the range's length) when the range ends first: the answer of
/// stepping one open day at a time (a proptest holds them equal).
fn nth_open(bits: &[u64], i: i64, n: i32) -> Result<i64, i64> {
    let len = days_in_range() as i64;
    let mut k = n.unsigned_abs();
    if n > 0 {
        let mut pos = i + 1;
        while pos < len {
            let (w, off) = ((pos / 64) as usize, pos % 64);
            // Bits past the range's end are never set.
            let mut word = bits[w] & (!0u64 << off);
            let c = word.count_ones();
            if c >= k {
                for _ in 1..k {
                    word &= word - 1;
                }
                return Ok(w as i64 * 64 + i64::from(word.trailing_zeros()));
            }
            k -= c;
            pos = (w as i64 + 1) * 64;
        }
        Err(len)
    } else {
        let mut pos = i - 1;
        while pos >= 0 {
            let (w, off) = ((pos / 64) as usize, pos % 64);
            let mask = if off == 63 {
                !0
            } else {
                (1u64 << (off + 1)) - 1
            };
            let mut word = bits[w] & mask;
            let c = word.count_ones();
            if c >= k {
                for _ in 1..k {
                    word &= !(1u64 << (63 - word.leading_zeros()));
                }
                return Ok(w as i64 * 64 + 63 - i64::from(word.leading_zeros()));
            }
            k -= c;
            pos = w as i64 * 64 - 1;
        }
        Err(-1)
    }
}

/// The day's index in the range, `None` outside it.
#[inline]
fn day_index(date: NaiveDate) -> Option<i64> {
    let i = i64::from(date.num_days_from_ce()) - i64::from(first_day_ce());
    (0..days_in_range() as i64).contains(&i).then_some(i)
}

fn first_day_ce() -> i32 {
    static CE: OnceLock<i32> = OnceLock::new();
    *CE.get_or_init(|| first_day().num_days_from_ce())
}

/// The date of index `i` (which may lie one day outside the range, for errors).
#[inline]
fn date_of_index(i: i64) -> NaiveDate {
    // Day 0 of the range is 1955-01-01, the virtual clock's epoch (`time::date_of_day`).
    crate::time::date_of_day(i).expect("near the range")
}

fn first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(FIRST_YEAR, 1, 1).expect("valid")
}

fn last_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(LAST_YEAR, 12, 31).expect("valid")
}

/// Is `date` inside the calendar's range?
pub fn in_range(date: NaiveDate) -> bool {
    date >= first_day() && date <= last_day()
}

fn check(date: NaiveDate) -> Result<(), CalendarError> {
    if in_range(date) {
        Ok(())
    } else {
        Err(CalendarError::OutOfRange { date })
    }
}

/// The holiday's name if `date` is a national, substitute or citizens' holiday.
pub fn holiday_name(date: NaiveDate) -> Result<Option<&'static str>, CalendarError> {
    check(date)?;
    Ok(table()[(date - first_day()).num_days() as usize])
}

/// True when `date` lies in a year whose holidays are computed rather than announced.
pub fn is_projected(date: NaiveDate) -> bool {
    date.year() > LAST_ANNOUNCED_YEAR
}

/// Holidays from `from` through `to` (years, inclusive).
pub fn holidays_between(from: i32, to: i32) -> Result<Vec<Holiday>, CalendarError> {
    let mut out = Vec::new();
    for y in from..=to {
        out.extend(holidays_of_year(y).ok_or(CalendarError::YearOutOfRange { year: y })?);
    }
    Ok(out)
}

/// Why a day is closed, for traces and tables people read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClosedReason {
    Weekend,
    Holiday(&'static str),
    /// 29 December – 3 January (年末年始).
    YearEnd,
    /// A closure of this bureau only.
    BureauClosure,
}

impl std::fmt::Display for ClosedReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClosedReason::Weekend => f.write_str("weekend"),
            ClosedReason::Holiday(n) => write!(f, "holiday ({n})"),
            ClosedReason::YearEnd => f.write_str("year-end closure (29 Dec – 3 Jan)"),
            ClosedReason::BureauClosure => f.write_str("bureau closure"),
        }
    }
}

/// Which closed days a calendar keeps: the real one, or a counterfactual that isolates
/// the effect of national holidays or of the year-end closure (issue 18 item 3;
/// docs/solve.md "Counterfactual calendars"). Only [`CalendarKind::Standard`] is the
/// real process (行政機関の休日に関する法律 第1条: weekends, national holidays,
/// 29 December – 3 January); the others are *(our choice)* what-ifs for research.
/// An office's own extra closures stay closed in every kind: a scenario wrote them.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum CalendarKind {
    /// Weekends, national holidays and the year-end closure are closed (the real one).
    #[default]
    Standard,
    /// National holidays are open days; weekends and the year-end closure stay closed.
    NoHolidays,
    /// 29 December – 3 January is open; weekends and national holidays stay closed.
    NoYearEnd,
    /// Only Saturdays and Sundays are closed.
    WeekendsOnly,
}

impl CalendarKind {
    pub const ALL: [CalendarKind; 4] = [
        CalendarKind::Standard,
        CalendarKind::NoHolidays,
        CalendarKind::NoYearEnd,
        CalendarKind::WeekendsOnly,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CalendarKind::Standard => "standard",
            CalendarKind::NoHolidays => "no-holidays",
            CalendarKind::NoYearEnd => "no-year-end",
            CalendarKind::WeekendsOnly => "weekends-only",
        }
    }

    pub fn is_standard(&self) -> bool {
        *self == CalendarKind::Standard
    }

    fn closes_holidays(self) -> bool {
        matches!(self, CalendarKind::Standard | CalendarKind::NoYearEnd)
    }

    fn closes_year_end(self) -> bool {
        matches!(self, CalendarKind::Standard | CalendarKind::NoHolidays)
    }
}

impl std::fmt::Display for CalendarKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for CalendarKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        CalendarKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown calendar {s:?}: expected one of {}",
                    CalendarKind::ALL.map(CalendarKind::as_str).join(", ")
                )
            })
    }
}

/// The open days of one office: weekends, holidays and the year-end closure, plus any
/// extra closures of its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BusinessCalendar {
    extra_closures: BTreeSet<NaiveDate>,
    kind: CalendarKind,
}

impl BusinessCalendar {
    /// The standard government calendar (行政機関の休日).
    pub fn standard() -> Self {
        Self::default()
    }

    /// A calendar of `kind` (a counterfactual unless [`CalendarKind::Standard`]).
    pub fn of_kind(kind: CalendarKind) -> Self {
        BusinessCalendar {
            kind,
            ..Self::default()
        }
    }

    /// The standard calendar plus closures of one office.
    pub fn with_closures(closures: impl IntoIterator<Item = NaiveDate>) -> Self {
        BusinessCalendar {
            extra_closures: closures.into_iter().collect(),
            kind: CalendarKind::Standard,
        }
    }

    /// This calendar with its closed days of `kind` (its own closures kept).
    pub fn with_kind(mut self, kind: CalendarKind) -> Self {
        self.kind = kind;
        self
    }

    pub fn kind(&self) -> CalendarKind {
        self.kind
    }

    pub fn extra_closures(&self) -> impl Iterator<Item = &NaiveDate> {
        self.extra_closures.iter()
    }

    /// Why `date` is closed, or `None` when it is open.
    pub fn closed_reason(&self, date: NaiveDate) -> Result<Option<ClosedReason>, CalendarError> {
        // The range check holds for every kind: a counterfactual answers for the same
        // dates as the real calendar.
        let holiday = holiday_name(date)?;
        if let Some(name) = holiday.filter(|_| self.kind.closes_holidays()) {
            return Ok(Some(ClosedReason::Holiday(name)));
        }
        if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            return Ok(Some(ClosedReason::Weekend));
        }
        let (m, d) = (date.month(), date.day());
        if self.kind.closes_year_end() && ((m == 12 && d >= 29) || (m == 1 && d <= 3)) {
            return Ok(Some(ClosedReason::YearEnd));
        }
        if !self.extra_closures.is_empty() && self.extra_closures.contains(&date) {
            return Ok(Some(ClosedReason::BureauClosure));
        }
        Ok(None)
    }

    /// Is the office open on `date`? (The table of [`open_bits`], then the office's
    /// own closures: the same answer as `closed_reason(date)?.is_none()`.)
    pub fn is_open(&self, date: NaiveDate) -> Result<bool, CalendarError> {
        match day_index(date) {
            Some(i) => Ok(self.open_at_index(i, || date)),
            None => Err(CalendarError::OutOfRange { date }),
        }
    }

    /// Whether each day from `date` on is open (the answer of [`Self::is_open`]) up to
    /// the end of the calendar's range; `None` when `date` is outside the range. For
    /// a walk over consecutive days without a date lookup per day.
    pub fn open_days_from(&self, date: NaiveDate) -> Option<impl Iterator<Item = bool> + '_> {
        let i = day_index(date)?;
        let n = days_in_range() as i64;
        Some((i..n).map(move |j| self.open_at_index(j, || date_of_index(j))))
    }

    /// Is day `i` of the range open? `date` gives its date, asked only when the office
    /// has closures of its own.
    #[inline]
    fn open_at_index(&self, i: i64, date: impl FnOnce() -> NaiveDate) -> bool {
        let bits = open_bits(self.kind);
        let i = i as usize;
        bits[i / 64] & (1 << (i % 64)) != 0
            && (self.extra_closures.is_empty() || !self.extra_closures.contains(&date()))
    }

    /// How many days with indices `a..=b` (inside the range) are open: the bits of the
    /// table counted a word at a time, less the office's own closures among them that
    /// the table has open (the same days as asking [`Self::open_at_index`] of each).
    fn open_count(&self, a: i64, b: i64) -> i32 {
        if a > b {
            return 0;
        }
        let bits = open_bits(self.kind);
        let (a, b) = (a as usize, b as usize);
        let (wa, wb) = (a / 64, b / 64);
        let low = !0u64 << (a % 64);
        let high = !0u64 >> (63 - b % 64);
        let mut n = if wa == wb {
            (bits[wa] & low & high).count_ones()
        } else {
            (bits[wa] & low).count_ones()
                + bits[wa + 1..wb].iter().map(|w| w.count_ones()).sum::<u32>()
                + (bits[wb] & high).count_ones()
        };
        if !self.extra_closures.is_empty() {
            let closed_open = self
                .extra_closures
                .range(date_of_index(a as i64)..=date_of_index(b as i64))
                .filter_map(|&d| day_index(d))
                .filter(|&i| bits[i as usize / 64] & (1 << (i as usize % 64)) != 0)
                .count();
            n -= closed_open as u32;
        }
        n as i32
    }

    /// The first open day at index `i` or beyond it in direction `step` (±1); past an
    /// end of the range, the error names the first day outside it.
    fn scan(&self, mut i: i64, step: i64) -> Result<i64, CalendarError> {
        let n = days_in_range() as i64;
        loop {
            if !(0..n).contains(&i) {
                return Err(CalendarError::OutOfRange {
                    date: date_of_index(i),
                });
            }
            if self.open_at_index(i, || date_of_index(i)) {
                return Ok(i);
            }
            i += step;
        }
    }

    /// `date` if open, else the next open day (翌開庁日).
    pub fn open_on_or_after(&self, date: NaiveDate) -> Result<NaiveDate, CalendarError> {
        let i = day_index(date).ok_or(CalendarError::OutOfRange { date })?;
        if self.open_at_index(i, || date) {
            return Ok(date);
        }
        self.scan(i + 1, 1).map(date_of_index)
    }

    /// `date` if open, else the previous open day (前開庁日).
    pub fn open_on_or_before(&self, date: NaiveDate) -> Result<NaiveDate, CalendarError> {
        let i = day_index(date).ok_or(CalendarError::OutOfRange { date })?;
        if self.open_at_index(i, || date) {
            return Ok(date);
        }
        self.scan(i - 1, -1).map(date_of_index)
    }

    /// The first open day strictly after `date`.
    pub fn next_open(&self, date: NaiveDate) -> Result<NaiveDate, CalendarError> {
        let d = date.succ_opt().ok_or(CalendarError::OutOfRange { date })?;
        self.open_on_or_after(d)
    }

    /// The last open day strictly before `date`.
    pub fn previous_open(&self, date: NaiveDate) -> Result<NaiveDate, CalendarError> {
        let d = date.pred_opt().ok_or(CalendarError::OutOfRange { date })?;
        self.open_on_or_before(d)
    }

    /// `n` business days after `date` (n > 0), before it (n < 0), or `date` itself
    /// rolled forward to an open day (n = 0). "4 business days later" counts open
    /// days strictly after `date`.
    pub fn add_business_days(&self, date: NaiveDate, n: i32) -> Result<NaiveDate, CalendarError> {
        if n == 0 {
            return self.open_on_or_after(date);
        }
        let step = if n > 0 { 1 } else { -1 };
        let Some(mut i) = day_index(date) else {
            // Outside the range: one day at a time (the first step may enter it).
            let mut d = date;
            for _ in 0..n.unsigned_abs() {
                d = if n > 0 {
                    self.next_open(d)?
                } else {
                    self.previous_open(d)?
                };
            }
            return Ok(d);
        };
        if self.extra_closures.is_empty() {
            // The table alone: open days counted a word at a time.
            return nth_open(open_bits(self.kind), i, n)
                .map(date_of_index)
                .map_err(|e| CalendarError::OutOfRange {
                    date: date_of_index(e),
                });
        }
        for _ in 0..n.unsigned_abs() {
            i = self.scan(i + step, step)?;
        }
        Ok(date_of_index(i))
    }

    /// Open days in the half-open range (`from`, `to`]: how many business days after
    /// `from` the date `to` is (negative when `to` is earlier).
    pub fn business_days_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<i32, CalendarError> {
        let (lo, hi, sign) = if from <= to {
            (from, to, 1)
        } else {
            (to, from, -1)
        };
        if let (Some(a), Some(b)) = (day_index(lo), day_index(hi)) {
            // Both ends in range: count the open days of the table.
            return Ok(sign * self.open_count(a + 1, b));
        }
        let mut n = 0;
        let mut d = lo;
        while d < hi {
            d = d.succ_opt().ok_or(CalendarError::OutOfRange { date: d })?;
            if self.is_open(d)? {
                n += 1;
            }
        }
        Ok(sign * n)
    }

    /// "By the `day`th of the month (if closed, the next open day)" — the usual form
    /// of a bureau deadline (原則として…日（閉庁日の場合は翌開庁日）).
    pub fn nth_or_next_open(
        &self,
        year: i32,
        month: u32,
        day: u32,
    ) -> Result<NaiveDate, CalendarError> {
        let d = NaiveDate::from_ymd_opt(year, month, day).ok_or(CalendarError::NoSuchDate {
            year,
            month,
            day,
        })?;
        self.open_on_or_after(d)
    }
}

/// The first day of the month `months` before (negative: after) the month of `date`.
pub fn first_of_month_before(date: NaiveDate, months: u32) -> NaiveDate {
    let first = date.with_day(1).expect("day 1 exists");
    first - Months::new(months)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn year_end_is_closed() {
        let c = BusinessCalendar::standard();
        assert!(!c.is_open(d("2024-12-30")).unwrap());
        assert!(!c.is_open(d("2025-01-03")).unwrap());
        assert_eq!(c.next_open(d("2024-12-27")).unwrap(), d("2025-01-06"));
    }

    #[test]
    fn tenth_or_next_open() {
        let c = BusinessCalendar::standard();
        // 2024-02-10 is a Saturday, 11th Sunday (建国記念の日), 12th substitute.
        assert_eq!(c.nth_or_next_open(2024, 2, 10).unwrap(), d("2024-02-13"));
        assert!(c.nth_or_next_open(2024, 2, 30).is_err());
    }

    #[test]
    fn counterfactual_kinds_open_what_they_name() {
        // 2024-02-12 (Mon) is a substitute holiday; 2024-12-30 (Mon) is year-end;
        // 2024-02-10 is a Saturday.
        let (holiday, year_end, saturday) = (d("2024-02-12"), d("2024-12-30"), d("2024-02-10"));
        let open = |k: CalendarKind, x| BusinessCalendar::of_kind(k).is_open(x).unwrap();
        assert!(!open(CalendarKind::Standard, holiday));
        assert!(!open(CalendarKind::Standard, year_end));
        assert!(open(CalendarKind::NoHolidays, holiday));
        assert!(!open(CalendarKind::NoHolidays, year_end));
        assert!(!open(CalendarKind::NoYearEnd, holiday));
        assert!(open(CalendarKind::NoYearEnd, year_end));
        assert!(open(CalendarKind::WeekendsOnly, holiday));
        assert!(open(CalendarKind::WeekendsOnly, year_end));
        for k in CalendarKind::ALL {
            assert!(!open(k, saturday), "{k}: weekends stay closed");
            assert_eq!(k.as_str().parse::<CalendarKind>(), Ok(k));
        }
        assert!("none"
            .parse::<CalendarKind>()
            .unwrap_err()
            .contains("no-holidays"));
        // An office's own closures stay closed, and the range is the same.
        let c = BusinessCalendar::with_closures([holiday]).with_kind(CalendarKind::WeekendsOnly);
        assert_eq!(
            c.closed_reason(holiday).unwrap(),
            Some(ClosedReason::BureauClosure)
        );
        let far = NaiveDate::from_ymd_opt(LAST_YEAR + 1, 1, 5).unwrap();
        assert!(BusinessCalendar::of_kind(CalendarKind::NoHolidays)
            .is_open(far)
            .is_err());
        assert_eq!(
            BusinessCalendar::standard(),
            BusinessCalendar::of_kind(CalendarKind::Standard)
        );
    }

    proptest! {
        /// A counterfactual only opens days: every day open in the real calendar is open
        /// in each kind, and weekends-only opens at least what the others open.
        #[test]
        fn counterfactuals_only_open_days(days in 0i64..(LAST_YEAR - FIRST_YEAR) as i64 * 365) {
            let x = first_day() + chrono::Duration::days(days);
            let std_open = BusinessCalendar::standard().is_open(x).unwrap();
            let wk = BusinessCalendar::of_kind(CalendarKind::WeekendsOnly).is_open(x).unwrap();
            for k in CalendarKind::ALL {
                let o = BusinessCalendar::of_kind(k).is_open(x).unwrap();
                prop_assert!(!std_open || o);
                prop_assert!(!o || wk);
            }
        }
    }

    #[test]
    fn extra_closures_count() {
        let c = BusinessCalendar::with_closures([d("2024-06-10")]);
        assert_eq!(
            c.closed_reason(d("2024-06-10")).unwrap(),
            Some(ClosedReason::BureauClosure)
        );
        assert_eq!(c.nth_or_next_open(2024, 6, 10).unwrap(), d("2024-06-11"));
    }

    #[test]
    fn out_of_range_is_an_error_not_a_panic() {
        let c = BusinessCalendar::standard();
        assert!(c.is_open(d("1954-12-31")).is_err());
        assert!(c.add_business_days(d("2099-12-30"), 5).is_err());
    }

    fn any_date() -> impl Strategy<Value = NaiveDate> {
        (0i64..(365 * 140)).prop_map(|n| d("1956-01-01") + chrono::Duration::days(n))
    }

    fn calendar() -> impl Strategy<Value = BusinessCalendar> {
        prop::collection::vec(any_date(), 0..5).prop_map(BusinessCalendar::with_closures)
    }

    /// The lookups as first written, one day at a time on `closed_reason`: the
    /// reference the table of open days must agree with.
    mod by_rule {
        use super::*;

        pub fn is_open(c: &BusinessCalendar, date: NaiveDate) -> Result<bool, CalendarError> {
            Ok(c.closed_reason(date)?.is_none())
        }

        pub fn on_or_after(
            c: &BusinessCalendar,
            date: NaiveDate,
        ) -> Result<NaiveDate, CalendarError> {
            let mut d = date;
            while !is_open(c, d)? {
                d = d.succ_opt().ok_or(CalendarError::OutOfRange { date: d })?;
            }
            Ok(d)
        }

        pub fn on_or_before(
            c: &BusinessCalendar,
            date: NaiveDate,
        ) -> Result<NaiveDate, CalendarError> {
            let mut d = date;
            while !is_open(c, d)? {
                d = d.pred_opt().ok_or(CalendarError::OutOfRange { date: d })?;
            }
            Ok(d)
        }

        pub fn between(
            c: &BusinessCalendar,
            from: NaiveDate,
            to: NaiveDate,
        ) -> Result<i32, CalendarError> {
            let (lo, hi, sign) = if from <= to {
                (from, to, 1)
            } else {
                (to, from, -1)
            };
            let mut n = 0;
            let mut d = lo;
            while d < hi {
                d = d.succ_opt().ok_or(CalendarError::OutOfRange { date: d })?;
                if is_open(c, d)? {
                    n += 1;
                }
            }
            Ok(sign * n)
        }

        pub fn add(
            c: &BusinessCalendar,
            date: NaiveDate,
            n: i32,
        ) -> Result<NaiveDate, CalendarError> {
            let mut d = date;
            if n == 0 {
                return on_or_after(c, d);
            }
            for _ in 0..n.unsigned_abs() {
                d = if n > 0 {
                    on_or_after(
                        c,
                        d.succ_opt().ok_or(CalendarError::OutOfRange { date: d })?,
                    )?
                } else {
                    on_or_before(
                        c,
                        d.pred_opt().ok_or(CalendarError::OutOfRange { date: d })?,
                    )?
                };
            }
            Ok(d)
        }
    }

    /// A day of the whole range or up to ten days outside either end.
    fn day_near_range() -> impl Strategy<Value = NaiveDate> {
        let n = days_in_range() as i64;
        prop_oneof![
            (0..n).prop_map(|i| first_day() + chrono::Duration::days(i)),
            (-10i64..10).prop_map(|i| first_day() + chrono::Duration::days(i)),
            (-10i64..10).prop_map(|i| last_day() + chrono::Duration::days(i)),
        ]
    }

    fn any_kind() -> impl Strategy<Value = CalendarKind> {
        prop::sample::select(CalendarKind::ALL.to_vec())
    }

    #[test]
    fn open_table_is_the_rules_on_every_day_of_the_range() {
        for k in CalendarKind::ALL {
            let c = BusinessCalendar::of_kind(k);
            let mut d = first_day();
            while d <= last_day() {
                assert_eq!(c.is_open(d), by_rule::is_open(&c, d), "{k} {d}");
                d = d.succ_opt().unwrap();
            }
            for d in [
                first_day().pred_opt().unwrap(),
                last_day().succ_opt().unwrap(),
            ] {
                assert_eq!(c.is_open(d), by_rule::is_open(&c, d), "{k} {d}");
            }
        }
    }

    proptest! {
        /// `add_business_days` without closures of an office's own (open days counted
        /// a word at a time) over many words of the table, near both ends.
        #[test]
        fn business_days_by_words_equal_the_rule_computation(
            kind in any_kind(),
            date in day_near_range(),
            n in -400i32..400,
        ) {
            let c = BusinessCalendar::of_kind(kind);
            prop_assert_eq!(c.add_business_days(date, n), by_rule::add(&c, date, n));
        }

        /// Every lookup through the table of open days answers as the day-by-day rule
        /// computation does, errors included, for every kind, with an office's own
        /// closures, near both ends of the range.
        #[test]
        fn open_days_from_is_is_open_day_by_day(
            kind in any_kind(),
            closures in prop::collection::vec(day_near_range(), 0..6),
            date in day_near_range(),
        ) {
            let c = BusinessCalendar::with_closures(closures).with_kind(kind);
            let days = c.open_days_from(date);
            match days {
                None => prop_assert!(c.is_open(date).is_err()),
                Some(days) => {
                    let mut d = date;
                    let mut count = 0;
                    for open in days.take(800) {
                        prop_assert_eq!(Ok(open), c.is_open(d));
                        d = d.succ_opt().unwrap();
                        count += 1;
                    }
                    // Up to the range's end, then nothing.
                    if count < 800 {
                        prop_assert!(c.is_open(d).is_err());
                    }
                }
            }
        }

        #[test]
        fn table_lookups_equal_the_rule_computation(
            kind in any_kind(),
            closures in prop::collection::vec(day_near_range(), 0..6),
            date in day_near_range(),
            n in -40i32..40,
        ) {
            let c = BusinessCalendar::with_closures(closures).with_kind(kind);
            prop_assert_eq!(c.is_open(date), by_rule::is_open(&c, date));
            prop_assert_eq!(c.open_on_or_after(date), by_rule::on_or_after(&c, date));
            prop_assert_eq!(c.open_on_or_before(date), by_rule::on_or_before(&c, date));
            prop_assert_eq!(c.next_open(date), by_rule::add(&c, date, 1));
            prop_assert_eq!(c.previous_open(date), by_rule::add(&c, date, -1));
            prop_assert_eq!(c.add_business_days(date, n), by_rule::add(&c, date, n));
            let other = date + chrono::Duration::days(i64::from(n) * 3);
            prop_assert_eq!(c.business_days_between(date, other), by_rule::between(&c, date, other));
        }
    }

    proptest! {
        /// Counting the table a word at a time answers as the day-by-day count, with
        /// an office's own closures inside the span counted, open days and closed.
        #[test]
        fn business_days_between_equals_the_day_by_day_count(
            kind in any_kind(),
            date in day_near_range(),
            span in -400i64..400,
            closures in prop::collection::vec(-400i64..400, 0..12),
        ) {
            let c = BusinessCalendar::with_closures(
                closures.into_iter().map(|k| date + chrono::Duration::days(k)),
            )
            .with_kind(kind);
            let other = date + chrono::Duration::days(span);
            prop_assert_eq!(c.business_days_between(date, other), by_rule::between(&c, date, other));
        }
    }

    proptest! {
        #[test]
        fn rolled_date_is_open_and_not_earlier(c in calendar(), date in any_date()) {
            let r = c.open_on_or_after(date).unwrap();
            prop_assert!(r >= date);
            prop_assert!(c.is_open(r).unwrap());
            let b = c.open_on_or_before(date).unwrap();
            prop_assert!(b <= date);
            prop_assert!(c.is_open(b).unwrap());
            // Nothing open is skipped.
            let mut x = date;
            while x < r { prop_assert!(!c.is_open(x).unwrap()); x = x.succ_opt().unwrap(); }
        }

        #[test]
        fn business_days_round_trip(c in calendar(), date in any_date(), n in 1i32..60) {
            let open = c.open_on_or_after(date).unwrap();
            let later = c.add_business_days(open, n).unwrap();
            prop_assert!(later > open);
            prop_assert_eq!(c.business_days_between(open, later).unwrap(), n);
            prop_assert_eq!(c.add_business_days(later, -n).unwrap(), open);
            prop_assert_eq!(c.business_days_between(later, open).unwrap(), -n);
        }
    }
}
