//! Synthetic 特定健診 (specific health check-up) results for a `TKKsiquc01` answer,
//! derived deterministically from the population seed and the person.
//!
//! Layout, as OD `Form1.cs` `ProcessTKKAsync` reads it: `SpecificHealthCheckupInfo`
//! elements (anywhere; here under `MessageBody`), each with `EffectiveTime` (the
//! check-up day, `YYYYMMDD`) and
//! `HealthCheckupResultAndQuestionInfos/HealthCheckupResultAndQuestionInfo` items
//! of `ItemCode`, `ItemName`, `DataType`, `DataValue`, `Unit`, `Oid`,
//! `DataValueName`.
//!
//! *(our choice)*: one check-up per fiscal year in which the person is 40–74 (the
//! age band of 特定健診), attended with probability 0.6, between June and
//! November; the five most recent fiscal years up to today unless a period is
//! asked; the items below with **synthetic** item codes (`SIM…`, not the real
//! 特定健診 item codes) and `Oid` `onsim.synthetic`; `DataType` `PQ` for a
//! measured quantity.

use chrono::{Datelike, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::error::EligibilityError;
use super::tree::{Element, Writer};
use super::values::parse_date;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckupItem {
    pub code: String,
    pub name: String,
    pub data_type: String,
    pub value: String,
    pub unit: String,
    pub oid: String,
    pub value_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkup {
    pub effective: NaiveDate,
    pub items: Vec<CheckupItem>,
}

/// The check-ups of household `h`, member `i` born `birthdate`, up to `today`
/// (within `period` when asked).
pub fn checkups(
    seed: u64,
    h: u64,
    i: usize,
    birthdate: NaiveDate,
    today: NaiveDate,
    period: Option<(NaiveDate, NaiveDate)>,
) -> Vec<Checkup> {
    let fy_now = if today.month() >= 4 {
        today.year()
    } else {
        today.year() - 1
    };
    let mut out = Vec::new();
    for fy in (fy_now - 4)..=fy_now {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7cc0_0000_0000_0000 ^ fy as u64);
        rng.set_stream(h * 8 + i as u64);
        let attended = rng.gen_bool(0.6);
        let day = NaiveDate::from_ymd_opt(fy, rng.gen_range(6..=11), rng.gen_range(1..=28))
            .expect("valid");
        let age = day.years_since(birthdate).unwrap_or(0);
        let in_period = period.is_none_or(|(f, t)| f <= day && day <= t);
        if !attended || !(40..=74).contains(&age) || day > today || !in_period {
            continue;
        }
        let height = rng.gen_range(1450..=1850u32);
        let bmi10 = rng.gen_range(180..=320u32);
        let weight = height * height * bmi10 / 10_000_000;
        let sys = rng.gen_range(100..=165u32);
        let item = |code: &str, name: &str, value: String, unit: &str| CheckupItem {
            code: code.into(),
            name: name.into(),
            data_type: "PQ".into(),
            value,
            unit: unit.into(),
            oid: "onsim.synthetic".into(),
            value_name: String::new(),
        };
        out.push(Checkup {
            effective: day,
            items: vec![
                item(
                    "SIM0001",
                    "身長",
                    format!("{}.{}", height / 10, height % 10),
                    "cm",
                ),
                item("SIM0002", "体重", weight.to_string(), "kg"),
                item(
                    "SIM0003",
                    "ＢＭＩ",
                    format!("{}.{}", bmi10 / 10, bmi10 % 10),
                    "kg/m2",
                ),
                item("SIM0004", "収縮期血圧", sys.to_string(), "mmHg"),
                item(
                    "SIM0005",
                    "拡張期血圧",
                    (sys * 6 / 10 + rng.gen_range(0..10u32)).to_string(),
                    "mmHg",
                ),
                item(
                    "SIM0006",
                    "ＨｂＡ１ｃ",
                    format!("5.{}", rng.gen_range(0..=9u32)),
                    "%",
                ),
            ],
        });
    }
    out
}

pub(crate) fn write(w: &mut Writer, list: &[Checkup]) {
    for c in list {
        w.start("SpecificHealthCheckupInfo")
            .leaf("EffectiveTime", Some(c.effective))
            .start("HealthCheckupResultAndQuestionInfos");
        for i in &c.items {
            w.start("HealthCheckupResultAndQuestionInfo")
                .leaf("ItemCode", Some(&i.code))
                .leaf("ItemName", Some(&i.name))
                .leaf("DataType", Some(&i.data_type))
                .leaf("DataValue", Some(&i.value))
                .leaf("Unit", Some(&i.unit))
                .leaf("Oid", Some(&i.oid))
                .leaf("DataValueName", Some(&i.value_name))
                .end();
        }
        w.end().end();
    }
}

pub(crate) fn read(b: Element<'_, '_>) -> Result<Vec<Checkup>, EligibilityError> {
    b.all("SpecificHealthCheckupInfo")
        .map(|c| {
            let t = |e: Element<'_, '_>, n: &str| -> Result<String, EligibilityError> {
                Ok(e.opt_text(n)?.unwrap_or("").to_string())
            };
            Ok(Checkup {
                effective: parse_date("EffectiveTime", c.req_text("EffectiveTime")?)?,
                items: c
                    .req_child("HealthCheckupResultAndQuestionInfos")?
                    .all("HealthCheckupResultAndQuestionInfo")
                    .map(|i| {
                        Ok(CheckupItem {
                            code: i.req_text("ItemCode")?.into(),
                            name: i.req_text("ItemName")?.into(),
                            data_type: t(i, "DataType")?,
                            value: t(i, "DataValue")?,
                            unit: t(i, "Unit")?,
                            oid: t(i, "Oid")?,
                            value_name: t(i, "DataValueName")?,
                        })
                    })
                    .collect::<Result<_, EligibilityError>>()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ages_40_to_74_and_never_after_today() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        let today = d(2024, 4, 10);
        let mut any = 0;
        for h in 0..100 {
            assert!(
                checkups(1, h, 0, d(1990, 1, 1), today, None).is_empty(),
                "age 34"
            );
            assert!(
                checkups(1, h, 0, d(1940, 1, 1), today, None).is_empty(),
                "age 84"
            );
            let c = checkups(1, h, 0, d(1970, 5, 5), today, None);
            assert!(c.len() <= 5);
            for x in &c {
                assert!(x.effective <= today);
                assert_eq!(x.items.len(), 6);
            }
            any += c.len();
            assert_eq!(c, checkups(1, h, 0, d(1970, 5, 5), today, None));
        }
        assert!(any > 100, "{any}");
    }
}
