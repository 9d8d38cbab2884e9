//! Dates in scenario files: TOML has a native date type (`2025-06-01`), which serde
//! sees as a map holding a string, while JSON has only strings. These helpers accept
//! both, so every date field reads naturally in either format.

use chrono::NaiveDate;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

struct DateVisitor;

impl<'de> Visitor<'de> for DateVisitor {
    type Value = NaiveDate;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a date such as 2025-06-01")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<NaiveDate, E> {
        NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
            E::custom(format!(
                "{v:?} is not a date: write YYYY-MM-DD, e.g. 2025-06-01"
            ))
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NaiveDate, A::Error> {
        // toml's datetime: a one-entry map whose value is the datetime as text.
        let Some((_, value)) = map.next_entry::<String, String>()? else {
            return Err(de::Error::custom("expected a date"));
        };
        if value.len() != 10 {
            return Err(de::Error::custom(format!(
                "{value} is a date-time; write only the date, e.g. 2025-06-01"
            )));
        }
        self.visit_str(&value)
    }
}

/// A required date.
pub fn date<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    d.deserialize_any(DateVisitor)
}

#[derive(Deserialize)]
struct Wrapped(#[serde(deserialize_with = "date")] NaiveDate);

/// An optional date.
pub fn opt_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    Ok(Option::<Wrapped>::deserialize(d)?.map(|w| w.0))
}

/// A list of dates.
pub fn vec_date<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<NaiveDate>, D::Error> {
    Ok(Vec::<Wrapped>::deserialize(d)?
        .into_iter()
        .map(|w| w.0)
        .collect())
}
