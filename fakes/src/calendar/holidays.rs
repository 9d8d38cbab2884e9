//! National holidays of Japan (国民の祝日), substitute holidays (振替休日) and
//! citizens' holidays (国民の休日), 1955 onward.
//!
//! This file is the one reviewable place for holiday data. It encodes the Act on
//! National Holidays (国民の祝日に関する法律) with every amendment since 1955, the
//! one-off days set by special laws, and the equinox days as announced in the
//! official gazette (官報) each February for the following year.
//!
//! Years up to [`LAST_ANNOUNCED_YEAR`] are exact. Later years use the equinox formula
//! and today's law; they are *projected*, and every API that returns them says so.
//! No Rust crate we tried was exact (see docs/DOMAIN.md §4), hence our own data, checked
//! differentially against PyPI's `holidays` for 1955–2027 by `scripts/test`.

use chrono::{Datelike, NaiveDate, Weekday};

/// First year covered. The Act dates from 1948; onsim needs nothing earlier.
pub const FIRST_YEAR: i32 = 1955;
/// Last year whose equinox days have been announced (announced in February 2026).
pub const LAST_ANNOUNCED_YEAR: i32 = 2027;
/// Last year that can be computed (the equinox formula is valid through 2099).
pub const LAST_YEAR: i32 = 2099;

/// Vernal equinox day (春分の日), day of March, as announced, for 1955..=2027.
const VERNAL_EQUINOX_MARCH: [u8; 73] = [
    /* 1955 */ 21, 21, 21, 21, 21, 20, 21, 21, 21, 20, /* 1965 */ 21, 21, 21, 20, 21, 21,
    21, 20, 21, 21, /* 1975 */ 21, 20, 21, 21, 21, 20, 21, 21, 21, 20, /* 1985 */ 21, 21,
    21, 20, 21, 21, 21, 20, 20, 21, /* 1995 */ 21, 20, 20, 21, 21, 20, 20, 21, 21, 20,
    /* 2005 */ 20, 21, 21, 20, 20, 21, 21, 20, 20, 21, /* 2015 */ 21, 20, 20, 21, 21, 20,
    20, 21, 21, 20, /* 2025 */ 20, 20, 21,
];

/// Autumnal equinox day (秋分の日), day of September, as announced, for 1955..=2027.
const AUTUMNAL_EQUINOX_SEPTEMBER: [u8; 73] = [
    /* 1955 */ 24, 23, 23, 23, 24, 23, 23, 23, 24, 23, /* 1965 */ 23, 23, 24, 23, 23, 23,
    24, 23, 23, 23, /* 1975 */ 24, 23, 23, 23, 24, 23, 23, 23, 23, 23, /* 1985 */ 23, 23,
    23, 23, 23, 23, 23, 23, 23, 23, /* 1995 */ 23, 23, 23, 23, 23, 23, 23, 23, 23, 23,
    /* 2005 */ 23, 23, 23, 23, 23, 23, 23, 22, 23, 23, /* 2015 */ 23, 22, 23, 23, 23, 22,
    23, 23, 23, 22, /* 2025 */ 23, 23, 23,
];

/// One-off holidays set by special laws.
const ONE_OFF: [(i32, u32, u32, &str); 6] = [
    (1959, 4, 10, "皇太子明仁親王の結婚の儀"),
    (1989, 2, 24, "昭和天皇の大喪の礼"),
    (1990, 11, 12, "即位礼正殿の儀"),
    (1993, 6, 9, "皇太子徳仁親王の結婚の儀"),
    (2019, 5, 1, "天皇の即位の日"),
    (2019, 10, 22, "即位礼正殿の儀"),
];

/// The substitute-holiday rule took effect on 12 April 1973.
const SUBSTITUTE_FROM: (i32, u32, u32) = (1973, 4, 12);
/// The citizens'-holiday rule took effect on 27 December 1985.
const CITIZENS_FROM: (i32, u32, u32) = (1985, 12, 27);
/// From 2007 a substitute holiday is the next non-holiday day (not only Monday), and
/// the citizens' holiday no longer excludes Sundays.
const REFORM_2007: i32 = 2007;

/// A day off by law.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Holiday {
    pub date: NaiveDate,
    /// The legal name in Japanese, e.g. `春分の日`, `振替休日`, `国民の休日`.
    pub name: &'static str,
    /// True when the year is past [`LAST_ANNOUNCED_YEAR`]: computed, not announced.
    pub projected: bool,
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid fixed date")
}

/// The `n`th given weekday of a month (n from 1).
fn nth_weekday(y: i32, m: u32, wd: Weekday, n: u8) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(y, m, wd, n).expect("nth weekday exists")
}

/// Equinox day formulas used past the announced years (valid 1980–2099).
fn equinox_formula(y: i32, base: f64) -> u32 {
    let f = base + 0.242194 * f64::from(y - 1980) - f64::from((y - 1980) / 4);
    f as u32
}

fn vernal_equinox(y: i32) -> NaiveDate {
    let day = if y <= LAST_ANNOUNCED_YEAR {
        u32::from(VERNAL_EQUINOX_MARCH[(y - FIRST_YEAR) as usize])
    } else {
        equinox_formula(y, 20.8431)
    };
    ymd(y, 3, day)
}

fn autumnal_equinox(y: i32) -> NaiveDate {
    let day = if y <= LAST_ANNOUNCED_YEAR {
        u32::from(AUTUMNAL_EQUINOX_SEPTEMBER[(y - FIRST_YEAR) as usize])
    } else {
        equinox_formula(y, 23.2488)
    };
    ymd(y, 9, day)
}

/// The national holidays proper (国民の祝日) of a year, before substitute and
/// citizens' holidays are added.
fn national_holidays(y: i32) -> Vec<(NaiveDate, &'static str)> {
    let mut v = vec![(ymd(y, 1, 1), "元日")];
    // Coming of Age Day: 15 January until 1999, second Monday from 2000 (Happy Monday).
    v.push(if y < 2000 {
        (ymd(y, 1, 15), "成人の日")
    } else {
        (nth_weekday(y, 1, Weekday::Mon, 2), "成人の日")
    });
    if y >= 1967 {
        v.push((ymd(y, 2, 11), "建国記念の日"));
    }
    // The Emperor's Birthday follows the reigning emperor; 2019 had none.
    match y {
        ..=1988 => v.push((ymd(y, 4, 29), "天皇誕生日")),
        1989..=2018 => v.push((ymd(y, 12, 23), "天皇誕生日")),
        2019 => {}
        _ => v.push((ymd(y, 2, 23), "天皇誕生日")),
    }
    v.push((vernal_equinox(y), "春分の日"));
    match y {
        1989..=2006 => v.push((ymd(y, 4, 29), "みどりの日")),
        2007.. => {
            v.push((ymd(y, 4, 29), "昭和の日"));
            v.push((ymd(y, 5, 4), "みどりの日"));
        }
        _ => {}
    }
    v.push((ymd(y, 5, 3), "憲法記念日"));
    v.push((ymd(y, 5, 5), "こどもの日"));
    // Marine Day from 1996; moved for the Tokyo Olympics in 2020 and 2021.
    match y {
        1996..=2002 => v.push((ymd(y, 7, 20), "海の日")),
        2020 => v.push((ymd(y, 7, 23), "海の日")),
        2021 => v.push((ymd(y, 7, 22), "海の日")),
        2003.. => v.push((nth_weekday(y, 7, Weekday::Mon, 3), "海の日")),
        _ => {}
    }
    // Mountain Day from 2016; moved in 2020 and 2021.
    match y {
        2020 => v.push((ymd(y, 8, 10), "山の日")),
        2021 => v.push((ymd(y, 8, 8), "山の日")),
        2016.. => v.push((ymd(y, 8, 11), "山の日")),
        _ => {}
    }
    match y {
        1966..=2002 => v.push((ymd(y, 9, 15), "敬老の日")),
        2003.. => v.push((nth_weekday(y, 9, Weekday::Mon, 3), "敬老の日")),
        _ => {}
    }
    v.push((autumnal_equinox(y), "秋分の日"));
    // Health and Sports Day from 1966, renamed Sports Day in 2020; moved in 2020/2021,
    // which is why 2021-10-11 is an ordinary day.
    match y {
        1966..=1999 => v.push((ymd(y, 10, 10), "体育の日")),
        2000..=2019 => v.push((nth_weekday(y, 10, Weekday::Mon, 2), "体育の日")),
        2020 => v.push((ymd(y, 7, 24), "スポーツの日")),
        2021 => v.push((ymd(y, 7, 23), "スポーツの日")),
        2022.. => v.push((nth_weekday(y, 10, Weekday::Mon, 2), "スポーツの日")),
        _ => {}
    }
    v.push((ymd(y, 11, 3), "文化の日"));
    v.push((ymd(y, 11, 23), "勤労感謝の日"));
    for (oy, m, d, name) in ONE_OFF {
        if oy == y {
            v.push((ymd(y, m, d), name));
        }
    }
    v.sort();
    v
}

/// Every day off by law in `year`, sorted by date. `None` outside
/// [`FIRST_YEAR`]..=[`LAST_YEAR`].
pub fn holidays_of_year(year: i32) -> Option<Vec<Holiday>> {
    if !(FIRST_YEAR..=LAST_YEAR).contains(&year) {
        return None;
    }
    let projected = year > LAST_ANNOUNCED_YEAR;
    let national = national_holidays(year);
    let is_national = |d: NaiveDate| national.iter().any(|(h, _)| *h == d);
    let mut all: Vec<(NaiveDate, &'static str)> = national.clone();

    // 振替休日: a national holiday on a Sunday moves a day off forward.
    let sub_from = ymd(SUBSTITUTE_FROM.0, SUBSTITUTE_FROM.1, SUBSTITUTE_FROM.2);
    let mut substitutes = Vec::new();
    for (d, _) in &national {
        if *d >= sub_from && d.weekday() == Weekday::Sun {
            let mut s = d.succ_opt().expect("in range");
            if year >= REFORM_2007 {
                while is_national(s) {
                    s = s.succ_opt().expect("in range");
                }
                substitutes.push(s);
            } else if !is_national(s) {
                substitutes.push(s);
            }
        }
    }
    for s in &substitutes {
        all.push((*s, "振替休日"));
    }

    // 国民の休日: an ordinary day between two national holidays.
    let cit_from = ymd(CITIZENS_FROM.0, CITIZENS_FROM.1, CITIZENS_FROM.2);
    for (d, _) in &national {
        let Some(mid) = d.succ_opt() else { continue };
        let Some(next) = mid.succ_opt() else { continue };
        if mid < cit_from || mid.year() != year {
            continue;
        }
        if is_national(next) && !is_national(mid) && !substitutes.contains(&mid) {
            // Before 2007 a Sunday (already a day off) did not become one.
            if year < REFORM_2007 && mid.weekday() == Weekday::Sun {
                continue;
            }
            all.push((mid, "国民の休日"));
        }
    }
    all.sort();
    all.dedup_by_key(|(d, _)| *d);
    Some(
        all.into_iter()
            .map(|(date, name)| Holiday {
                date,
                name,
                projected,
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(y: i32) -> Vec<(String, &'static str)> {
        holidays_of_year(y)
            .unwrap()
            .into_iter()
            .map(|h| (h.date.to_string(), h.name))
            .collect()
    }

    fn has(y: i32, date: &str) -> bool {
        names(y).iter().any(|(d, _)| d == date)
    }

    #[test]
    fn olympic_moves_2021() {
        assert!(has(2021, "2021-07-22"));
        assert!(has(2021, "2021-07-23"));
        assert!(has(2021, "2021-08-08"));
        assert!(
            has(2021, "2021-08-09"),
            "substitute for Mountain Day on a Sunday"
        );
        assert!(!has(2021, "2021-10-11"), "no Sports Day in October 2021");
        assert!(!has(2021, "2021-07-19"));
    }

    #[test]
    fn enthronement_2019() {
        for d in [
            "2019-04-30",
            "2019-05-01",
            "2019-05-02",
            "2019-05-06",
            "2019-10-22",
        ] {
            assert!(has(2019, d), "{d}");
        }
        assert!(!has(2019, "2019-12-23"));
    }

    #[test]
    fn rules_start_on_their_dates() {
        // 4 May was not a citizens' holiday before the 1985 amendment.
        assert!(!has(1980, "1980-05-04"));
        // 1986-05-04 was a Sunday: no citizens' holiday under the old rule.
        assert!(!has(1986, "1986-05-04"));
        assert!(has(1988, "1988-05-04"));
        // No substitute holiday before April 1973; the first one was 1973-04-30.
        assert!(!has(1972, "1972-01-03"));
        assert!(has(1973, "1973-04-30"));
        // Silver week 2015: Tuesday between Respect-for-the-Aged Day and the equinox.
        assert!(has(2015, "2015-09-22"));
    }

    #[test]
    fn one_offs() {
        assert!(has(1959, "1959-04-10"));
        assert!(has(1989, "1989-02-24"));
        assert!(has(1990, "1990-11-12"));
        assert!(has(1993, "1993-06-09"));
    }

    #[test]
    fn projected_years_are_flagged() {
        assert!(holidays_of_year(2027).unwrap().iter().all(|h| !h.projected));
        assert!(holidays_of_year(2028).unwrap().iter().all(|h| h.projected));
        assert!(holidays_of_year(1954).is_none());
        assert!(holidays_of_year(2100).is_none());
    }

    #[test]
    fn formula_agrees_with_announced_table_from_1980() {
        for y in 1980..=LAST_ANNOUNCED_YEAR {
            assert_eq!(vernal_equinox(y).day(), equinox_formula(y, 20.8431), "{y}");
            assert_eq!(
                autumnal_equinox(y).day(),
                equinox_formula(y, 23.2488),
                "{y}"
            );
        }
    }
}
