//! Synthetic 薬剤情報 (dispensing records) for a `YZKsiquc01` answer, derived
//! deterministically from the population seed and the person — nothing stored,
//! nothing logged.
//!
//! Layout, as OD `Form1.cs` `ProcessDrugInfoAsync2` reads it: `MessageBody` holds
//! one `MeTrMonthInf` per institution and month, with `DiOrg`, `MeTrDiHCd`
//! (institution code), `MeTrDiHNm` (its name), `MeTrMonth` (`yyyyMM`), `PrIsOrg`
//! (1 the asking institution, 2 another), `InOut`, and
//! `DiDateInfs/DiDateInf` (one per dispensing day: `DiDate`, `PrDate`,
//! `DrugInfs/DrugInf` with `DrugC`, `DrugN`, `IngreN`, `Qua1`, `Unit`, `UsageN`,
//! `Times`, `MeTrIdCl`).
//!
//! *(our choice)* everything about the values: the share of people on regular
//! medication (40%), one to three drugs each, a visit in 80% of months, the drug
//! list below with **synthetic** 9-digit codes (`69…`, not real レセ電 codes), the
//! institutions (synthetic names, valid check digits), the meaning of `DiOrg`
//! (1 医科, 2 歯科, 3 調剤), `InOut` (1 院内, 2 院外) and `MeTrIdCl` (1 内服).

use chrono::{Datelike, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::error::{EligibilityError, ErrorCode};
use super::tree::{Element, Padded, Writer};
use super::values::parse_date;
use crate::codes::{FeeTable, InstitutionCode, Prefecture};

/// One drug on one dispensing day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drug {
    pub code: String,
    pub name: String,
    pub ingredient: String,
    /// `Qua1`: the dose per day, in `unit`.
    pub quantity: u32,
    pub unit: String,
    pub usage: String,
    /// `Times`: days dispensed.
    pub times: u32,
    pub usage_class: u8,
}

/// One dispensing day (`DiDateInf`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrugDay {
    pub dispensed: NaiveDate,
    pub prescribed: NaiveDate,
    pub drugs: Vec<Drug>,
}

/// One institution's month (`MeTrMonthInf`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrugMonth {
    pub org: u8,
    pub institution_code: String,
    pub institution_name: String,
    /// The first day of the month (`MeTrMonth` is `yyyyMM`).
    pub month: NaiveDate,
    pub own: bool,
    pub in_out: u8,
    pub days: Vec<DrugDay>,
}

/// (name, ingredient, unit, usage, dose per day). Generic names; codes are made up.
const DRUGS: [(&str, &str, &str, &str, u32); 8] = [
    (
        "アムロジピン錠５ｍｇ",
        "アムロジピンベシル酸塩",
        "錠",
        "１日１回朝食後",
        1,
    ),
    (
        "メトホルミン塩酸塩錠２５０ｍｇ",
        "メトホルミン塩酸塩",
        "錠",
        "１日２回朝夕食後",
        2,
    ),
    (
        "ロスバスタチン錠２．５ｍｇ",
        "ロスバスタチンカルシウム",
        "錠",
        "１日１回夕食後",
        1,
    ),
    (
        "ファモチジン錠２０ｍｇ",
        "ファモチジン",
        "錠",
        "１日２回朝食後・就寝前",
        2,
    ),
    (
        "カンデサルタン錠８ｍｇ",
        "カンデサルタンシレキセチル",
        "錠",
        "１日１回朝食後",
        1,
    ),
    (
        "レバミピド錠１００ｍｇ",
        "レバミピド",
        "錠",
        "１日３回毎食後",
        3,
    ),
    (
        "アセトアミノフェン錠２００ｍｇ",
        "アセトアミノフェン",
        "錠",
        "１日３回毎食後",
        3,
    ),
    (
        "酸化マグネシウム錠３３０ｍｇ",
        "酸化マグネシウム",
        "錠",
        "１日３回毎食後",
        3,
    ),
];

/// The months `first..=last` (first days of months) of household `h`, member `i`.
/// `today` bounds the dispensing days; `asking` is the institution that asks
/// (its own months are marked `PrIsOrg` 1).
pub fn months(
    seed: u64,
    h: u64,
    i: usize,
    first: NaiveDate,
    last: NaiveDate,
    today: NaiveDate,
    asking: InstitutionCode,
) -> Vec<DrugMonth> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xd2a6_0000_0000_0000);
    rng.set_stream(h * 8 + i as u64);
    if !rng.gen_bool(0.4) {
        return Vec::new();
    }
    let n = rng.gen_range(1..=3);
    let mut picks: Vec<usize> = Vec::with_capacity(n);
    while picks.len() < n {
        let d = rng.gen_range(0..DRUGS.len());
        if !picks.contains(&d) {
            picks.push(d);
        }
    }
    // The prescriber: the asking institution for a third of patients, else another.
    let own = rng.gen_bool(1.0 / 3.0);
    let code = if own {
        asking
    } else {
        let p = Prefecture::new(asking.prefecture().code()).expect("valid");
        InstitutionCode::new(
            p,
            FeeTable::Medical,
            rng.gen_range(1..=99),
            rng.gen_range(1..=9999),
        )
        .expect("in range")
    };
    let name = if own {
        "当院".to_string()
    } else {
        format!("架空内科クリニック{}", code.number() % 100)
    };
    let day_of_month = rng.gen_range(1..=28);
    let days_supplied = [28, 30][rng.gen_range(0..2)];
    let mut out = Vec::new();
    let mut m = NaiveDate::from_ymd_opt(first.year(), first.month(), 1).expect("valid");
    while m <= last {
        // Each month is drawn from its own stream position so a longer period
        // extends a shorter one rather than reshuffling it.
        let month_seed = ((m.year() as u64) << 8) | u64::from(m.month());
        let mut mrng = ChaCha8Rng::seed_from_u64(seed ^ 0xd2a7_0000_0000_0000 ^ month_seed);
        mrng.set_stream(h * 8 + i as u64);
        let visit = mrng.gen_bool(0.8);
        let day = m.with_day(day_of_month).expect("1..=28");
        if visit && day <= today {
            let drugs = picks
                .iter()
                .map(|&d| {
                    let (n, ing, unit, usage, q) = DRUGS[d];
                    Drug {
                        code: format!("69{:07}", 1_000 + d * 17),
                        name: n.into(),
                        ingredient: ing.into(),
                        quantity: q,
                        unit: unit.into(),
                        usage: usage.into(),
                        times: days_supplied,
                        usage_class: 1,
                    }
                })
                .collect();
            out.push(DrugMonth {
                org: 1,
                institution_code: code.to_string(),
                institution_name: name.clone(),
                month: m,
                own,
                in_out: 2,
                days: vec![DrugDay {
                    dispensed: day,
                    prescribed: day,
                    drugs,
                }],
            });
        }
        m = m + chrono::Months::new(1);
    }
    out
}

pub(crate) fn write(w: &mut Writer, months: &[DrugMonth]) {
    for m in months {
        w.start("MeTrMonthInf")
            .leaf("DiOrg", Some(Padded(m.org.into(), 1)))
            .leaf("MeTrDiHCd", Some(&m.institution_code))
            .leaf("MeTrDiHNm", Some(&m.institution_name))
            .leaf("MeTrMonth", Some(m.month.format("%Y%m").to_string()))
            .leaf("PrIsOrg", Some(if m.own { "1" } else { "2" }))
            .leaf("InOut", Some(Padded(m.in_out.into(), 1)))
            .start("DiDateInfs");
        for d in &m.days {
            w.start("DiDateInf")
                .leaf("DiDate", Some(d.dispensed))
                .leaf("PrDate", Some(d.prescribed))
                .start("DrugInfs");
            for g in &d.drugs {
                w.start("DrugInf")
                    .leaf("DrugC", Some(&g.code))
                    .leaf("DrugN", Some(&g.name))
                    .leaf("IngreN", Some(&g.ingredient))
                    .leaf("Qua1", Some(Padded(g.quantity, 1)))
                    .leaf("Unit", Some(&g.unit))
                    .leaf("UsageN", Some(&g.usage))
                    .leaf("Times", Some(Padded(g.times, 1)))
                    .leaf("MeTrIdCl", Some(Padded(g.usage_class.into(), 1)))
                    .end();
            }
            w.end().end();
        }
        w.end().end();
    }
}

fn num<T: std::str::FromStr>(e: Element<'_, '_>, n: &str) -> Result<T, EligibilityError> {
    e.req_text(n)?
        .parse()
        .map_err(|_| EligibilityError::new(ErrorCode::InvalidValue, n.to_string()))
}

pub(crate) fn read(b: Element<'_, '_>) -> Result<Vec<DrugMonth>, EligibilityError> {
    b.all("MeTrMonthInf")
        .map(|m| {
            let month = super::health_info::parse_month("MeTrMonth", m.req_text("MeTrMonth")?)?;
            let days = m
                .req_child("DiDateInfs")?
                .all("DiDateInf")
                .map(|d| {
                    Ok(DrugDay {
                        dispensed: parse_date("DiDate", d.req_text("DiDate")?)?,
                        prescribed: parse_date("PrDate", d.req_text("PrDate")?)?,
                        drugs: d
                            .req_child("DrugInfs")?
                            .all("DrugInf")
                            .map(|g| {
                                Ok(Drug {
                                    code: g.req_text("DrugC")?.into(),
                                    name: g.req_text("DrugN")?.into(),
                                    ingredient: g.req_text("IngreN")?.into(),
                                    quantity: num(g, "Qua1")?,
                                    unit: g.req_text("Unit")?.into(),
                                    usage: g.req_text("UsageN")?.into(),
                                    times: num(g, "Times")?,
                                    usage_class: num(g, "MeTrIdCl")?,
                                })
                            })
                            .collect::<Result<_, EligibilityError>>()?,
                    })
                })
                .collect::<Result<_, EligibilityError>>()?;
            Ok(DrugMonth {
                org: num(m, "DiOrg")?,
                institution_code: m.req_text("MeTrDiHCd")?.into(),
                institution_name: m.req_text("MeTrDiHNm")?.into(),
                month,
                own: m.req_text("PrIsOrg")? == "1",
                in_out: num(m, "InOut")?,
                days,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_lie_in_the_period_and_before_today_and_are_stable() {
        let asking: InstitutionCode = "1313120014".parse().unwrap();
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        let mut with_records = 0;
        for h in 0..200 {
            let all = months(
                1,
                h,
                0,
                d(2022, 1, 1),
                d(2024, 4, 1),
                d(2024, 4, 10),
                asking,
            );
            let part = months(
                1,
                h,
                0,
                d(2023, 1, 1),
                d(2023, 12, 1),
                d(2024, 4, 10),
                asking,
            );
            // A shorter period is a part of the longer one.
            let inside: Vec<_> = all
                .iter()
                .filter(|m| m.month >= d(2023, 1, 1) && m.month <= d(2023, 12, 1))
                .cloned()
                .collect();
            assert_eq!(part, inside, "{h}");
            for m in &all {
                for day in &m.days {
                    assert!(day.dispensed <= d(2024, 4, 10));
                    assert_eq!(
                        day.dispensed.format("%Y%m").to_string(),
                        m.month.format("%Y%m").to_string()
                    );
                }
                assert!(m.institution_code.parse::<InstitutionCode>().is_ok());
            }
            with_records += usize::from(!all.is_empty());
        }
        // About 40% of people are on regular medication.
        assert!((50..=110).contains(&with_records), "{with_records}");
    }
}
