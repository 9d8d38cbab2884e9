//! Variants: `--vary KEY=V1,V2,...` edits of the scenario's TOML, expanded into the
//! cartesian product and each re-checked as a scenario.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use fakes::calendar::BusinessCalendar;
use fakes::dist::Dist;

use crate::scenario::{self, Scenario};

/// One `--vary KEY=V1,V2,...`.
#[derive(Debug, Clone, PartialEq)]
pub struct Vary {
    pub key: String,
    pub values: Vec<String>,
}

impl Vary {
    pub fn parse(s: &str) -> Result<Vary, String> {
        let (key, values) = s.split_once('=').ok_or_else(|| {
            format!("--vary {s:?}: expected KEY=V1,V2,... (e.g. scenario.rules=r2021,r2024)")
        })?;
        let key = key.trim();
        if key.is_empty() || key.split('.').any(|p| p.trim().is_empty()) {
            return Err(format!(
                "--vary {s:?}: the key must be a dotted path like actors.reader_vendor.lead.mode"
            ));
        }
        let values: Vec<String> = values.split(',').map(|v| v.trim().to_string()).collect();
        if values.iter().any(String::is_empty) {
            return Err(format!("--vary {s:?}: empty value in the list"));
        }
        Ok(Vary {
            key: key.to_string(),
            values,
        })
    }

    pub fn spec(&self) -> String {
        format!("{}={}", self.key, self.values.join(","))
    }
}

/// A TOML value from a command-line word: a number, boolean or date when it reads as
/// one, otherwise a string.
fn toml_value(word: &str) -> toml::Value {
    match format!("v = {word}").parse::<toml::Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(word.into())),
        Err(_) => toml::Value::String(word.to_string()),
    }
}

fn set_path(root: &mut toml::Value, key: &str, value: toml::Value) -> Result<(), String> {
    let parts: Vec<&str> = key.split('.').collect();
    let mut cur = root;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let here = parts[..=i].join(".");
        cur = match cur {
            toml::Value::Table(t) => {
                if last {
                    t.insert(part.to_string(), value);
                    return Ok(());
                }
                t.entry(part.to_string())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            }
            toml::Value::Array(a) => {
                let idx: usize = part.parse().map_err(|_| {
                    format!(
                        "{here}: {} is a list; index it with a number (e.g. faults.0.probability)",
                        parts[..i].join(".")
                    )
                })?;
                let len = a.len();
                let slot = a
                    .get_mut(idx)
                    .ok_or_else(|| format!("{here}: the list has {len} entries"))?;
                if last {
                    *slot = value;
                    return Ok(());
                }
                slot
            }
            _ => {
                return Err(format!(
                    "{here}: {} is a value, not a table",
                    parts[..i].join(".")
                ))
            }
        };
    }
    Ok(())
}

/// One variant of the scenario.
#[derive(Debug, Clone)]
pub struct Variant {
    /// `key=value` pairs, in `--vary` order; empty for the scenario as written.
    pub settings: Vec<(String, String)>,
    pub scenario: Scenario,
    /// Keys of the file that do not apply to this variant and were dropped from it
    /// ([`scenario::parse_variant`]); the command warns about each.
    pub dropped: Vec<String>,
}

impl Variant {
    pub fn label(&self) -> String {
        if self.settings.is_empty() {
            "base".to_string()
        } else {
            self.settings
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        }
    }
}

/// A variant `--vary` could not build (the edit does not apply, or the edited
/// scenario no longer checks), and why. A sweep reports these and runs the others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvalidVariant {
    pub label: String,
    pub settings: BTreeMap<String, String>,
    pub error: String,
}

/// A relative date word: `designation-40bd`, `designation-120d`, `designation+3bd`,
/// `designation` (business days on the standard government calendar, 行政機関の休日,
/// *(our choice: not a bureau's own closures)*). `None` when the word is not one.
pub fn relative_date(word: &str, designation: NaiveDate) -> Option<Result<NaiveDate, String>> {
    let rest = word.trim().strip_prefix("designation")?;
    let rest = rest.trim();
    if rest.is_empty() {
        return Some(Ok(designation));
    }
    let bad = || {
        format!("{word:?}: expected designation±N followed by d (calendar days) or bd (business days), e.g. designation-40bd")
    };
    let mut chars = rest.chars();
    let sign = match chars.next() {
        Some('+') => 1i64,
        Some('-') => -1i64,
        _ => return Some(Err(bad())),
    };
    let num = chars.as_str().trim();
    let (digits, business) = if let Some(n) = num.strip_suffix("bd") {
        (n, true)
    } else if let Some(n) = num.strip_suffix('d') {
        (n, false)
    } else {
        return Some(Err(bad()));
    };
    let Ok(n) = digits.trim().parse::<u32>() else {
        return Some(Err(bad()));
    };
    let n = i64::from(n.min(100_000)) * sign;
    Some(if business {
        BusinessCalendar::standard()
            .add_business_days(designation, n as i32)
            .map_err(|e| format!("{word}: {e}"))
    } else {
        designation
            .checked_add_signed(chrono::Duration::days(n))
            .ok_or_else(|| format!("{word}: outside the calendar"))
    })
}

/// `+5d`, `-3`, `2.5d`: days to shift a distribution by.
fn shift_days(word: &str) -> Result<f64, String> {
    let w = word.trim();
    let w = w.strip_suffix('d').unwrap_or(w).trim();
    let w = w.strip_prefix('+').unwrap_or(w);
    w.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| format!("shift {word:?}: expected days such as +5d or -3d"))
}

fn get_path<'v>(root: &'v toml::Value, parts: &[&str]) -> Option<&'v toml::Value> {
    let mut cur = root;
    for p in parts {
        cur = match cur {
            toml::Value::Table(t) => t.get(*p)?,
            toml::Value::Array(a) => a.get(p.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// `KEY.shift=+5d` or `KEY.scale=1.2` where KEY names a distribution: the
/// distribution written at KEY, moved ([`Dist::shifted`]) or stretched
/// ([`Dist::scaled`]).
fn edit_dist(doc: &mut toml::Value, key: &str, value: &str) -> Option<Result<(), String>> {
    let (parent, op) = key.rsplit_once('.')?;
    if op != "shift" && op != "scale" {
        return None;
    }
    let parts: Vec<&str> = parent.split('.').collect();
    let Some(table) = get_path(doc, &parts).filter(|t| t.get("kind").is_some()) else {
        return Some(Err(format!(
            "{parent} is not a distribution written in the scenario (a table with a kind); write it out to {op} it"
        )));
    };
    let dist: Result<Dist, String> = table
        .clone()
        .try_into()
        .map_err(|e: toml::de::Error| format!("{parent} is not a distribution: {e}"));
    let edited = dist.and_then(|d| {
        if op == "shift" {
            d.shifted(shift_days(value)?)
        } else {
            let k = value
                .trim()
                .parse::<f64>()
                .map_err(|_| format!("scale {value:?}: expected a factor such as 1.2"))?;
            d.scaled(k)
        }
    });
    Some(edited.and_then(|d| {
        let v = toml::Value::try_from(&d).map_err(|e| format!("{parent}: {e}"))?;
        set_path(doc, parent, v)
    }))
}

/// A relative value (`designation-40bd`, `KEY.shift=…`) waits until every literal
/// setting is applied, so it sees the variant's designation and distributions.
fn is_relative(key: &str, value: &str) -> bool {
    value.trim().starts_with("designation") || key.ends_with(".shift") || key.ends_with(".scale")
}

fn apply(doc: &mut toml::Value, key: &str, value: &str) -> Result<(), String> {
    if let Some(r) = edit_dist(doc, key, value) {
        return r;
    }
    if value.trim().starts_with("designation") {
        let designation = get_path(doc, &["clinic", "designation"])
            .and_then(|v| match v {
                toml::Value::Datetime(d) => Some(d.to_string()),
                toml::Value::String(s) => Some(s.clone()),
                _ => None,
            })
            .and_then(|s| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok())
            .ok_or_else(|| "the scenario has no clinic.designation date".to_string())?;
        if let Some(d) = relative_date(value, designation) {
            return set_path(doc, key, toml_value(&d?.to_string()));
        }
    }
    set_path(doc, key, toml_value(value))
}

fn label_of(settings: &[(String, String)]) -> String {
    settings
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Expand the scenario into its variants: the cartesian product of every `--vary`, in
/// the order given. Each is applied to the TOML and re-checked by [`scenario::parse`].
/// The first variant that cannot be built is an error (see [`variants_lenient`] for
/// the sweep's way).
pub fn variants(file: &str, text: &str, vary: &[Vary]) -> Result<Vec<Variant>, String> {
    let (ok, bad) = expand(file, text, vary)?;
    match bad.into_iter().next() {
        Some((_, b)) => Err(b.error),
        None => Ok(ok.into_iter().map(|(_, v)| v).collect()),
    }
}

/// [`variants`], but a variant that cannot be built is reported, not fatal: the
/// buildable variants and the invalid ones, each in grid order. An error only when no
/// variant can be built (its message is the first variant's).
pub fn variants_lenient(
    file: &str,
    text: &str,
    vary: &[Vary],
) -> Result<(Vec<Variant>, Vec<InvalidVariant>), String> {
    let (ok, bad) = expand(file, text, vary)?;
    if ok.is_empty() {
        let n = bad.len();
        let first = bad
            .into_iter()
            .next()
            .map(|(_, b)| b.error)
            .unwrap_or_else(|| "--vary gives no variant".into());
        return Err(if n > 1 {
            format!("{first}\n  (and every other of the {n} variants fails too)")
        } else {
            first
        });
    }
    Ok((
        ok.into_iter().map(|(_, v)| v).collect(),
        bad.into_iter().map(|(_, b)| b).collect(),
    ))
}

type Expanded = (Vec<(usize, Variant)>, Vec<(usize, InvalidVariant)>);

fn expand(file: &str, text: &str, vary: &[Vary]) -> Result<Expanded, String> {
    let base = scenario::parse(file, text).map_err(|e| e.to_string())?;
    if vary.is_empty() {
        return Ok((
            vec![(
                0,
                Variant {
                    settings: Vec::new(),
                    scenario: base,
                    dropped: Vec::new(),
                },
            )],
            Vec::new(),
        ));
    }
    let root: toml::Value = toml::from_str(text).map_err(|e| format!("{file}: {e}"))?;
    let mut combos: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for v in vary {
        let mut next = Vec::new();
        for c in &combos {
            for val in &v.values {
                let mut c = c.clone();
                c.push((v.key.clone(), val.clone()));
                next.push(c);
            }
        }
        combos = next;
    }
    if combos.len() > 10_000 {
        return Err(format!(
            "--vary gives {} variants; at most 10000",
            combos.len()
        ));
    }
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for (i, settings) in combos.into_iter().enumerate() {
        match build(file, &root, &settings) {
            Ok((s, dropped)) => ok.push((
                i,
                Variant {
                    settings,
                    scenario: s,
                    dropped,
                },
            )),
            Err(error) => bad.push((
                i,
                InvalidVariant {
                    label: label_of(&settings),
                    settings: settings.iter().cloned().collect(),
                    error,
                },
            )),
        }
    }
    Ok((ok, bad))
}

fn build(
    file: &str,
    root: &toml::Value,
    settings: &[(String, String)],
) -> Result<(Scenario, Vec<String>), String> {
    let mut doc = root.clone();
    let literal = settings.iter().filter(|(k, v)| !is_relative(k, v));
    let relative = settings.iter().filter(|(k, v)| is_relative(k, v));
    for (k, v) in literal.chain(relative) {
        apply(&mut doc, k, v).map_err(|e| format!("--vary {k}={v}: {e}"))?;
    }
    let label = label_of(settings);
    scenario::parse_variant(file, &doc).map_err(|e| {
        format!(
            "--vary {label}: the scenario no longer checks: {}{}",
            e.message,
            e.hint.map(|h| format!("\n  hint: {h}")).unwrap_or_default()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = include_str!("../../../scenarios/sweeps/r2024-standard.toml");

    #[test]
    fn vary_applies_values() {
        let v = variants(
            "t",
            TEXT,
            &[
                Vary::parse("scenario.rules=r2021,r2024").unwrap(),
                Vary::parse("clinic.prefecture=東京都,大阪府").unwrap(),
            ],
        )
        .unwrap();
        assert_eq!(v.len(), 4);
        assert_eq!(v[3].scenario.bureau.id(), "kinki");
        // r2021 has no onboarding plan: the file's plan-incomplete fault is dropped
        // from the r2021 variants (and named), kept in the r2024 ones.
        assert!(
            v[0].dropped.iter().any(|d| d.contains("plan-incomplete")),
            "{:?}",
            v[0].dropped
        );
        assert!(v[3].dropped.is_empty(), "{:?}", v[3].dropped);
        assert_eq!(
            v[0].label(),
            "scenario.rules=r2021 clinic.prefecture=東京都"
        );
    }

    #[test]
    fn bad_vary_words_are_refused() {
        assert!(Vary::parse("noequals").is_err());
        assert!(Vary::parse("a..b=1").is_err());
        assert!(Vary::parse("a.b=1,,2").is_err());
        let e = variants(
            "t",
            TEXT,
            &[Vary::parse("faults.x.probability=0.1").unwrap()],
        )
        .unwrap_err();
        assert!(e.contains("faults.x"), "{e}");
    }

    fn reader_lead(v: &Variant) -> Dist {
        v.scenario.spec.actors.reader_vendor.lead.clone().unwrap()
    }

    #[test]
    fn shift_and_scale_edit_the_written_distribution() {
        let v = variants(
            "t",
            TEXT,
            &[Vary::parse("actors.reader_vendor.lead.shift=+0d,+5d,-10").unwrap()],
        )
        .unwrap();
        assert_eq!(
            reader_lead(&v[1]),
            Dist::Triangular {
                min: 90.0,
                mode: 115.0,
                max: 155.0
            }
        );
        assert_eq!(
            reader_lead(&v[0]),
            reader_lead(&variants("t", TEXT, &[]).unwrap()[0])
        );
        let Dist::Triangular { min, .. } = reader_lead(&v[2]) else {
            panic!()
        };
        assert_eq!(min, 75.0);
        let v = variants(
            "t",
            TEXT,
            &[Vary::parse("actors.carrier.lead.scale=2").unwrap()],
        )
        .unwrap();
        let Dist::Lognormal { mu, .. } = v[0].scenario.spec.actors.carrier.lead else {
            panic!()
        };
        assert!((mu - (3.689 + 2f64.ln())).abs() < 1e-12);
        // A literal edit of the same distribution applies first, whatever the order.
        let v = variants(
            "t",
            TEXT,
            &[
                Vary::parse("actors.reader_vendor.lead.shift=+5d").unwrap(),
                Vary::parse("actors.reader_vendor.lead.mode=100").unwrap(),
            ],
        )
        .unwrap();
        let Dist::Triangular { mode, .. } = reader_lead(&v[0]) else {
            panic!()
        };
        assert_eq!(mode, 105.0);
    }

    #[test]
    fn plan_dates_relative_to_designation() {
        let v = variants(
            "t",
            TEXT,
            &[
                Vary::parse("plan.reader_order=designation-40bd,designation-120d").unwrap(),
                Vary::parse("clinic.designation=2025-06-01,2025-09-01").unwrap(),
            ],
        )
        .unwrap();
        let cal = BusinessCalendar::standard();
        let d6 = NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
        let d9 = NaiveDate::from_ymd_opt(2025, 9, 1).unwrap();
        assert_eq!(
            v[0].scenario.spec.plan.reader_order,
            Some(cal.add_business_days(d6, -40).unwrap())
        );
        // Resolved against the variant's own designation.
        assert_eq!(
            v[1].scenario.spec.plan.reader_order,
            Some(cal.add_business_days(d9, -40).unwrap())
        );
        assert_eq!(
            v[3].scenario.spec.plan.reader_order,
            Some(d9 - chrono::Duration::days(120))
        );
        assert_eq!(relative_date("designation", d6), Some(Ok(d6)));
        assert_eq!(relative_date("2025-01-01", d6), None);
        for bad in [
            "designation-40",
            "designation*3d",
            "designation-xbd",
            "designation−40bd",
        ] {
            let e = relative_date(bad, d6).unwrap().unwrap_err();
            assert!(e.contains("designation-40bd"), "{e}");
        }
    }

    #[test]
    fn invalid_variants_are_reported_not_fatal() {
        let vary = [Vary::parse("actors.reader_vendor.lead.shift=+0d,-90d,+5d").unwrap()];
        let (ok, bad) = variants_lenient("t", TEXT, &vary).unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].label, "actors.reader_vendor.lead.shift=-90d");
        assert!(
            bad[0].error.contains("min must not be negative"),
            "{}",
            bad[0].error
        );
        // The strict expansion still stops at it.
        assert!(variants("t", TEXT, &vary).is_err());
        // A log-normal is not shifted; a distribution not written out cannot be edited.
        let e = variants(
            "t",
            TEXT,
            &[Vary::parse("actors.carrier.lead.shift=+5d").unwrap()],
        )
        .unwrap_err();
        assert!(e.contains("cannot be shifted"), "{e}");
        let e = variants(
            "t",
            TEXT,
            &[Vary::parse("actors.system_vendor.lead.scale=2").unwrap()],
        )
        .unwrap_err();
        assert!(
            e.contains("not a distribution written in the scenario"),
            "{e}"
        );
        // Every variant failing is an error.
        let e = variants_lenient("t", TEXT, &[Vary::parse("clinic.colour=red,blue").unwrap()])
            .unwrap_err();
        assert!(
            e.contains("clinic.colour") && e.contains("every other of the 2"),
            "{e}"
        );
    }
}
