//! Variants: `--vary KEY=V1,V2,...` edits of the scenario's TOML, expanded into the
//! cartesian product and each re-checked as a scenario.

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

/// Expand the scenario into its variants: the cartesian product of every `--vary`, in
/// the order given. Each is applied to the TOML and re-checked by [`scenario::parse`].
pub fn variants(file: &str, text: &str, vary: &[Vary]) -> Result<Vec<Variant>, String> {
    let base = scenario::parse(file, text).map_err(|e| e.to_string())?;
    if vary.is_empty() {
        return Ok(vec![Variant {
            settings: Vec::new(),
            scenario: base,
        }]);
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
    let mut out = Vec::new();
    for settings in combos {
        let mut doc = root.clone();
        for (k, v) in &settings {
            set_path(&mut doc, k, toml_value(v)).map_err(|e| format!("--vary {k}={v}: {e}"))?;
        }
        let edited = toml::to_string(&doc).map_err(|e| format!("--vary: {e}"))?;
        let label = settings
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        let s = scenario::parse(file, &edited).map_err(|e| {
            format!(
                "--vary {label}: the scenario no longer checks: {}{}",
                e.message,
                e.hint.map(|h| format!("\n  hint: {h}")).unwrap_or_default()
            )
        })?;
        out.push(Variant {
            settings,
            scenario: s,
        });
    }
    Ok(out)
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
}
