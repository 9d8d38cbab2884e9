//! A daily capacity shared by many clinics, booked first come, first served: each
//! open day offers `per_day × factor` (rounded down) slots; a request reaching the
//! resource on day `d` takes the first open day on or after `d` with a free slot.
//! Used for a system vendor's installer crews in a region (one slot = one crew visit,
//! 導入作業), a bureau's answers (受付番号の回答), the implementing body's portal
//! accounts (アカウント発行) and a carrier's line openings (開通工事). The figures are
//! *(our choice)*: no public source gives them (docs/SEEDS.md).

use chrono::NaiveDate;

use super::{factor_on, Service, Window};
use crate::calendar::BusinessCalendar;
use crate::process::far_future;

/// How far ahead a booking looks for a free slot before giving up (ten years): a
/// resource with no capacity left serves nobody, and the request is reported as
/// never served rather than searched for ever.
pub const BOOKING_HORIZON_DAYS: i64 = 3650;

/// One shared daily capacity.
#[derive(Debug, Clone)]
pub struct DailyCapacity {
    per_day: u32,
    windows: Vec<Window>,
    cal: BusinessCalendar,
    origin: NaiveDate,
    /// Slots taken per day since `origin`.
    used: Vec<u32>,
    services: Vec<Service>,
}

impl DailyCapacity {
    /// `per_day` slots on each open day, changed by `windows`; days before `origin`
    /// are booked as `origin`.
    pub fn new(per_day: u32, windows: Vec<Window>, origin: NaiveDate) -> Self {
        DailyCapacity {
            per_day,
            windows,
            cal: BusinessCalendar::standard(),
            origin,
            used: Vec::new(),
            services: Vec::new(),
        }
    }

    /// Slots offered on `day`: none on closed days (weekends, holidays, 29 Dec–3 Jan).
    pub fn capacity_on(&self, day: NaiveDate) -> u32 {
        if !self.cal.is_open(day).unwrap_or(false) {
            return 0;
        }
        (f64::from(self.per_day) * factor_on(&self.windows, day)).floor() as u32
    }

    /// Slots taken on `day`.
    pub fn used_on(&self, day: NaiveDate) -> u32 {
        let i = (day - self.origin).num_days();
        if i < 0 {
            return 0;
        }
        self.used.get(i as usize).copied().unwrap_or(0)
    }

    /// Book the first free slot on or after `day`; returns the day served (a date
    /// past every horizon when none is free within [`BOOKING_HORIZON_DAYS`]).
    pub fn book(&mut self, day: NaiveDate) -> NaiveDate {
        let start = day.max(self.origin);
        let served = self.first_free(start);
        self.take(day, served)
    }

    /// The first day on or after `start` (not before `origin`) with a free slot,
    /// within [`BOOKING_HORIZON_DAYS`]: days counted from `start` and slots read by
    /// index as the days advance (no date subtraction per day); the same answer as
    /// [`Self::first_free_by_day`] (a proptest holds it), which it falls back to at
    /// the very end of chrono's dates.
    fn first_free(&self, start: NaiveDate) -> Option<NaiveDate> {
        // The calendar walked a day at a time (closed past its range, as
        // `capacity_on` has it); outside it, the date-by-date search.
        let Some(mut open) = self.cal.open_days_from(start) else {
            return self.first_free_by_day(start);
        };
        let base = (start - self.origin).num_days();
        let mut d = start;
        for k in 0..=BOOKING_HORIZON_DAYS {
            let used = usize::try_from(base + k)
                .ok()
                .and_then(|i| self.used.get(i).copied())
                .unwrap_or(0);
            // `capacity_on(d)`.
            let capacity = match open.next() {
                Some(true) if self.windows.is_empty() => self.per_day,
                Some(true) => {
                    (f64::from(self.per_day) * factor_on(&self.windows, d)).floor() as u32
                }
                _ => 0,
            };
            if used < capacity {
                return Some(d);
            }
            match d.succ_opt() {
                Some(next) => d = next,
                None => return self.first_free_by_day(start),
            }
        }
        None
    }

    /// [`Self::first_free`] one date at a time, as first written.
    fn first_free_by_day(&self, start: NaiveDate) -> Option<NaiveDate> {
        let mut d = start;
        loop {
            if (d - start).num_days() > BOOKING_HORIZON_DAYS {
                return None;
            }
            if self.used_on(d) < self.capacity_on(d) {
                return Some(d);
            }
            d = d.succ_opt().unwrap_or(far_future());
        }
    }

    /// Take a slot on `served` (none when `None`) for a request of `day`.
    fn take(&mut self, day: NaiveDate, served: Option<NaiveDate>) -> NaiveDate {
        let served = match served {
            Some(d) => {
                let i = (d - self.origin).num_days() as usize;
                if self.used.len() <= i {
                    self.used.resize(i + 1, 0);
                }
                self.used[i] += 1;
                d
            }
            None => far_future(),
        };
        self.services.push(Service {
            requested: day,
            served,
        });
        served
    }

    /// Every request so far, in the order they reached the resource.
    pub fn services(&self) -> &[Service] {
        &self.services
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn books_first_free_open_day_in_arrival_order() {
        // 2023-04-28 is a Friday; 04-29 (Sat, 昭和の日) to 05-07 has only 05-01, 05-02 open.
        let mut c = DailyCapacity::new(2, Vec::new(), d("2023-04-01"));
        assert_eq!(c.book(d("2023-04-28")), d("2023-04-28"));
        assert_eq!(c.book(d("2023-04-28")), d("2023-04-28"));
        assert_eq!(c.book(d("2023-04-28")), d("2023-05-01"));
        assert_eq!(c.book(d("2023-04-29")), d("2023-05-01"));
        assert_eq!(c.book(d("2023-04-30")), d("2023-05-02"));
        assert_eq!(c.services()[2].wait_days(), 3);
    }

    #[test]
    fn a_window_lowers_capacity_and_zero_serves_nobody() {
        let w = vec![Window {
            from: d("2023-05-08"),
            until: d("2023-05-12"),
            factor: 0.5,
        }];
        let c = DailyCapacity::new(3, w, d("2023-05-01"));
        assert_eq!(c.capacity_on(d("2023-05-08")), 1);
        assert_eq!(c.capacity_on(d("2023-05-15")), 3);
        assert_eq!(c.capacity_on(d("2023-05-13")), 0, "Saturday");
        let mut none = DailyCapacity::new(0, Vec::new(), d("2023-05-01"));
        assert_eq!(none.book(d("2023-05-08")), far_future());
    }

    proptest! {
        /// Booking by index serves every request on the day the date-by-date search
        /// finds, with windows, closed days, full days and requests before the origin.
        #[test]
        fn first_free_is_the_day_by_day_search(
            per_day in 0u32..3,
            factor in prop_oneof![Just(1.0f64), Just(0.5), Just(0.0)],
            window in (0i64..60, 0i64..30),
            windowed in any::<bool>(),
            reqs in proptest::collection::vec(-10i64..60, 1..120),
        ) {
            let o = d("2024-12-20");
            let w = vec![Window {
                from: o + chrono::Duration::days(window.0),
                until: o + chrono::Duration::days(window.0 + window.1),
                factor,
            }];
            let w = if windowed { w } else { Vec::new() };
            let mut c = DailyCapacity::new(per_day, w, o);
            for r in reqs {
                let day = o + chrono::Duration::days(r);
                let start = day.max(o);
                let fast = c.first_free(start);
                prop_assert_eq!(fast, c.first_free_by_day(start));
                c.take(day, fast);
            }
        }
    }

    #[test]
    fn first_free_past_the_calendar_end_is_the_day_by_day_search() {
        // The calendar ends on 2099-12-31: later days count as closed.
        let o = d("2099-12-20");
        let mut c = DailyCapacity::new(1, Vec::new(), o);
        for day in [
            "2099-12-20",
            "2099-12-28",
            "2099-12-28",
            "2099-12-31",
            "2100-01-05",
        ] {
            let start = d(day).max(o);
            let fast = c.first_free(start);
            assert_eq!(fast, c.first_free_by_day(start), "{day}");
            c.take(d(day), fast);
        }
    }

    proptest! {
        /// No day is booked beyond its capacity, nothing is served before it is
        /// requested, and requests on the same day are served in arrival order.
        #[test]
        fn never_overbooked_and_fifo(per_day in 1u32..4, reqs in proptest::collection::vec(0i64..40, 1..80)) {
            let o = d("2024-01-01");
            let mut reqs = reqs;
            reqs.sort();
            let mut c = DailyCapacity::new(per_day, Vec::new(), o);
            let mut last = o;
            for r in &reqs {
                let day = o + chrono::Duration::days(*r);
                let s = c.book(day);
                prop_assert!(s >= day);
                prop_assert!(s >= last, "FIFO: a later request is never served earlier");
                last = s;
            }
            for i in 0..200 {
                let day = o + chrono::Duration::days(i);
                prop_assert!(c.used_on(day) <= c.capacity_on(day));
            }
        }
    }
}
