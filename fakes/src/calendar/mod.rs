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

    /// Is the office open on `date`?
    pub fn is_open(&self, date: NaiveDate) -> Result<bool, CalendarError> {
        Ok(self.closed_reason(date)?.is_none())
    }

    /// `date` if open, else the next open day (翌開庁日).
    pub fn open_on_or_after(&self, date: NaiveDate) -> Result<NaiveDate, CalendarError> {
        let mut d = date;
        while !self.is_open(d)? {
            d = d.succ_opt().ok_or(CalendarError::OutOfRange { date: d })?;
        }
        Ok(d)
    }

    /// `date` if open, else the previous open day (前開庁日).
    pub fn open_on_or_before(&self, date: NaiveDate) -> Result<NaiveDate, CalendarError> {
        let mut d = date;
        while !self.is_open(d)? {
            d = d.pred_opt().ok_or(CalendarError::OutOfRange { date: d })?;
        }
        Ok(d)
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
        let mut d = date;
        if n == 0 {
            return self.open_on_or_after(d);
        }
        for _ in 0..n.unsigned_abs() {
            d = if n > 0 {
                self.next_open(d)?
            } else {
                self.previous_open(d)?
            };
        }
        Ok(d)
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
