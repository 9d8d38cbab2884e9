//! 顔認証付きカードリーダーメーカー as a shared resource: a maker's stock of readers and
//! its monthly production, shared by every clinic that orders its model. Orders are
//! served first come, first served: the k-th order since the start is served on the
//! first day on or after it arrives when the units made so far (opening stock plus
//! every monthly lot delivered on the 1st, each lot `monthly × factor` rounded down)
//! reach k. A shortage window (the 2022–23 semiconductor shortage, docs/DOMAIN.md §2)
//! lowers the lots of the months it covers. Stock and production figures are
//! *(our choice)*; no maker publishes them (docs/SEEDS.md).

use chrono::{Datelike, NaiveDate};

use super::{factor_on, Service, Window};
use crate::process::far_future;

/// How many monthly lots an order may wait for before it is reported as never
/// served (ten years).
pub const MAX_MONTHS: usize = 120;

#[derive(Debug, Clone)]
pub struct ReaderStock {
    windows: Vec<Window>,
    monthly: u32,
    /// Units available on the first day of each month since `origin`'s month
    /// (cumulative, opening stock included), extended as orders need it.
    supply: Vec<u64>,
    origin: NaiveDate,
    orders: u64,
    services: Vec<Service>,
}

impl ReaderStock {
    /// `stock` units on hand on `origin`'s month's 1st, `monthly` more each 1st after.
    pub fn new(stock: u32, monthly: u32, windows: Vec<Window>, origin: NaiveDate) -> Self {
        let origin = origin.with_day(1).expect("day 1 exists");
        ReaderStock {
            windows,
            monthly,
            supply: vec![u64::from(stock)],
            origin,
            orders: 0,
            services: Vec::new(),
        }
    }

    fn month_start(&self, i: usize) -> NaiveDate {
        self.origin
            .checked_add_months(chrono::Months::new(i as u32))
            .unwrap_or(far_future())
    }

    /// The lot delivered on the 1st of month `i` (i ≥ 1).
    fn lot(&self, i: usize) -> u64 {
        let day = self.month_start(i);
        (f64::from(self.monthly) * factor_on(&self.windows, day)).floor() as u64
    }

    fn supply_at(&mut self, i: usize) -> u64 {
        while self.supply.len() <= i {
            let n = self.supply.len();
            let next = self.supply[n - 1] + self.lot(n);
            self.supply.push(next);
        }
        self.supply[i]
    }

    fn month_index(&self, day: NaiveDate) -> usize {
        let m = (day.year() - self.origin.year()) * 12 + day.month() as i32
            - self.origin.month() as i32;
        m.max(0) as usize
    }

    /// An order reaching the maker on `day`: the day a unit is allotted to it.
    pub fn order(&mut self, day: NaiveDate) -> NaiveDate {
        self.orders += 1;
        let k = self.orders;
        let first = self.month_index(day);
        let mut served = far_future();
        for i in first..=first + MAX_MONTHS {
            if self.supply_at(i) >= k {
                served = if i == first {
                    day.max(self.origin)
                } else {
                    self.month_start(i)
                };
                break;
            }
        }
        self.services.push(Service {
            requested: day,
            served,
        });
        served
    }

    /// Units made in the month starting on `month_start`'s month (the opening stock
    /// for the first month).
    pub fn production_in(&mut self, day: NaiveDate) -> u64 {
        let i = self.month_index(day);
        if i == 0 {
            self.supply_at(0)
        } else {
            self.supply_at(i) - self.supply_at(i - 1)
        }
    }

    /// Units on hand at the end of `day` (made so far minus allotted so far).
    pub fn on_hand(&mut self, day: NaiveDate) -> u64 {
        let made = self.supply_at(self.month_index(day));
        let allotted = self.services.iter().filter(|s| s.served <= day).count() as u64;
        made.saturating_sub(allotted)
    }

    /// Every order so far, in arrival order.
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
    fn stock_first_then_monthly_lots() {
        let mut r = ReaderStock::new(2, 3, Vec::new(), d("2023-01-10"));
        assert_eq!(r.order(d("2023-01-10")), d("2023-01-10"));
        assert_eq!(r.order(d("2023-01-20")), d("2023-01-20"));
        // Stock gone: the next three wait for February's lot.
        assert_eq!(r.order(d("2023-01-21")), d("2023-02-01"));
        assert_eq!(r.order(d("2023-01-22")), d("2023-02-01"));
        assert_eq!(r.order(d("2023-02-03")), d("2023-02-03"));
        assert_eq!(r.order(d("2023-02-03")), d("2023-03-01"));
        assert_eq!(r.services()[2].wait_days(), 11);
    }

    #[test]
    fn a_shortage_window_delays_orders() {
        let w = vec![Window {
            from: d("2023-02-01"),
            until: d("2023-04-30"),
            factor: 0.0,
        }];
        let mut short = ReaderStock::new(0, 10, w, d("2023-01-01"));
        let mut normal = ReaderStock::new(0, 10, Vec::new(), d("2023-01-01"));
        assert_eq!(normal.order(d("2023-01-15")), d("2023-02-01"));
        assert_eq!(short.order(d("2023-01-15")), d("2023-05-01"));
        assert_eq!(short.production_in(d("2023-03-10")), 0);
        assert_eq!(short.production_in(d("2023-05-10")), 10);
    }

    proptest! {
        /// Never more units allotted by a day than made by then; FIFO in arrival order.
        #[test]
        fn never_allots_more_than_made(stock in 0u32..5, monthly in 0u32..6, gaps in proptest::collection::vec(0i64..20, 1..60)) {
            let o = d("2023-01-01");
            let mut r = ReaderStock::new(stock, monthly, Vec::new(), o);
            let mut day = o;
            let mut last = o;
            for g in gaps {
                day += chrono::Duration::days(g);
                let s = r.order(day);
                prop_assert!(s >= day);
                prop_assert!(s >= last);
                last = s;
            }
            let services = r.services().to_vec();
            for s in services.iter().filter(|s| s.served < far_future()) {
                let allotted = services.iter().filter(|t| t.served <= s.served).count() as u64;
                prop_assert!(allotted <= r.supply_at(r.month_index(s.served)));
            }
        }
    }
}
