//! Ecosystem files (TOML): the population of clinics and the shared resources they
//! compete for. The schema is in docs/ecosystem.md; every error names the file, the
//! line and column, and the field.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use fakes::codes::{Bureau, Prefecture};
use fakes::dist::Dist;
use fakes::ecosystem::Window;
use fakes::process::params::{LineType, ReaderModel, DEFAULT_SERVICE};
use fakes::schedule::{ClinicKind, RuleSet};

use crate::scenario::Actors;

/// The whole file, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcosystemFile {
    pub ecosystem: Meta,
    pub population: Population,
    #[serde(default)]
    pub actors: Actors,
    #[serde(rename = "reader_maker")]
    pub reader_makers: Vec<ReaderMaker>,
    #[serde(rename = "system_vendor")]
    pub system_vendors: Vec<SystemVendorSpec>,
    #[serde(rename = "carrier")]
    pub carriers: Vec<CarrierSpec>,
    pub bureaus: BureauCapacity,
    pub implementing_body: ImplementingBodyCapacity,
}

/// `[ecosystem]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub rules: RuleSet,
    /// Master seed used when `--seed` is not given.
    #[serde(default)]
    pub seed: u64,
}

/// `[population]`: who is onboarded, when.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Population {
    /// Weights of the clinic kinds (medical, dental, pharmacy, medical-dental).
    pub kinds: BTreeMap<String, f64>,
    /// Weights of prefectures by name or JIS code; omitted: all 47 equally.
    #[serde(default)]
    pub prefectures: BTreeMap<String, f64>,
    /// Calendar days before the planned installation that the reader, the line and
    /// the system vendor are ordered (default: the recommended plan's 127).
    #[serde(default)]
    pub order_margin: Option<Dist>,
    /// Clinics per designation month.
    #[serde(rename = "month")]
    pub months: Vec<Month>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Month {
    #[serde(deserialize_with = "fakes::serde_date::date")]
    pub designation: NaiveDate,
    pub clinics: u32,
}

/// `[[reader_maker]]`: one face-auth reader maker (顔認証付きカードリーダーメーカー).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReaderMaker {
    pub name: String,
    pub model: ReaderModel,
    /// Weight of clinics choosing this maker.
    pub share: f64,
    /// Units in stock at the start.
    pub stock: u32,
    /// Units made per month (a lot on each 1st).
    pub monthly: u32,
    /// Calendar days from allotment to delivery (default uniform 3–7, *(our choice)*).
    #[serde(default)]
    pub shipping: Option<Dist>,
    #[serde(default)]
    pub windows: Vec<Window>,
}

/// `[[system_vendor]]`: a system vendor (システム事業者) and its installer crews.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemVendorSpec {
    pub name: String,
    pub share: f64,
    /// Installation visits per open day in each region (a bureau's area).
    pub crews_per_day: u32,
    /// Per-region overrides, by bureau id (e.g. `kanto-shinetsu = 12`).
    #[serde(default)]
    pub regions: BTreeMap<String, u32>,
    #[serde(default)]
    pub windows: Vec<Window>,
}

/// `[[carrier]]`: a carrier (ネットワーク事業者) and its line openings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CarrierSpec {
    pub name: String,
    pub share: f64,
    /// The service on the connectable list (default the first IP-VPN service).
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub line: Option<LineType>,
    /// Calendar days from the order until the opening can be booked (default
    /// uniform 10–30, *(our choice)*).
    #[serde(default)]
    pub lead: Option<Dist>,
    /// Line openings (開通工事) per open day in each region.
    pub openings_per_day: u32,
    #[serde(default)]
    pub regions: BTreeMap<String, u32>,
    #[serde(default)]
    pub windows: Vec<Window>,
}

/// `[bureaus]`: each bureau's answers per open day.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BureauCapacity {
    pub answers_per_day: u32,
    #[serde(default)]
    pub per_bureau: BTreeMap<String, u32>,
    #[serde(default)]
    pub windows: Vec<Window>,
}

/// `[implementing_body]`: portal accounts opened per open day, nationally.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImplementingBodyCapacity {
    pub accounts_per_day: u32,
    #[serde(default)]
    pub windows: Vec<Window>,
}

/// A file read and checked: everything the driver needs, resolved.
#[derive(Debug, Clone)]
pub struct Ecosystem {
    pub file: String,
    pub spec: EcosystemFile,
    pub kinds: Vec<(ClinicKind, f64)>,
    pub prefectures: Vec<(Prefecture, f64)>,
    /// Per system vendor: crews per region, indexed like `Bureau::ALL`.
    pub crews: Vec<[u32; 8]>,
    pub openings: Vec<[u32; 8]>,
    pub answers: [u32; 8],
}

/// A problem in an ecosystem file, located.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {field}: {message}")]
pub struct EcosystemError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// The field, as a dotted path (`reader_maker[1].monthly`).
    pub field: String,
    pub message: String,
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// A path part: a key or an index of an array of tables.
#[derive(Debug, Clone)]
pub enum Part {
    Key(String),
    Index(usize),
}

fn k(s: &str) -> Part {
    Part::Key(s.to_string())
}

struct Locator<'a> {
    file: &'a str,
    text: &'a str,
    doc: Option<toml_edit::ImDocument<&'a str>>,
}

impl Locator<'_> {
    fn err(&self, path: &[Part], message: impl Into<String>) -> EcosystemError {
        let mut best = (1, 1);
        if let Some(doc) = &self.doc {
            let mut item: &toml_edit::Item = doc.as_item();
            for part in path {
                let next = match part {
                    Part::Key(key) => item.get(key.as_str()),
                    Part::Index(i) => item.get(*i),
                };
                match next {
                    Some(n) => {
                        item = n;
                        if let Some(s) = n.span() {
                            best = line_col(self.text, s.start);
                        }
                    }
                    None => break,
                }
            }
        }
        let field = path
            .iter()
            .map(|p| match p {
                Part::Key(k) => format!(".{k}"),
                Part::Index(i) => format!("[{i}]"),
            })
            .collect::<String>()
            .trim_start_matches('.')
            .to_string();
        EcosystemError {
            file: self.file.to_string(),
            line: best.0,
            column: best.1,
            field,
            message: message.into(),
        }
    }
}

fn with(path: &[Part], more: &[Part]) -> Vec<Part> {
    path.iter().chain(more).cloned().collect()
}

/// Read and check an ecosystem file.
pub fn load(path: &Path) -> Result<Ecosystem, EcosystemError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| EcosystemError {
        file: file.clone(),
        line: 1,
        column: 1,
        field: "(file)".into(),
        message: format!("cannot read: {e}"),
    })?;
    parse(&file, &text)
}

/// Parse and check an ecosystem file from its text; `file` is used in messages.
pub fn parse(file: &str, text: &str) -> Result<Ecosystem, EcosystemError> {
    let spec: EcosystemFile = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |s| line_col(text, s.start));
        let message = e.message().trim().replace('\n', ": ");
        EcosystemError {
            file: file.to_string(),
            line,
            column,
            field: "(syntax)".into(),
            message: if message.is_empty() {
                "TOML syntax error".into()
            } else {
                message
            },
        }
    })?;
    let loc = Locator {
        file,
        text,
        doc: toml_edit::ImDocument::parse(text).ok(),
    };
    let weight = |path: &[Part], w: f64| -> Result<(), EcosystemError> {
        if w.is_finite() && w >= 0.0 {
            Ok(())
        } else {
            Err(loc.err(
                path,
                format!("a weight must be a finite number ≥ 0 (got {w})"),
            ))
        }
    };
    let dist = |path: &[Part], d: &Dist| d.validate().map_err(|m| loc.err(path, m));
    let windows = |path: &[Part], ws: &[Window]| -> Result<(), EcosystemError> {
        for (i, w) in ws.iter().enumerate() {
            w.validate()
                .map_err(|m| loc.err(&with(path, &[k("windows"), Part::Index(i)]), m))?;
        }
        Ok(())
    };
    let positive_total = |path: &[Part], total: f64| -> Result<(), EcosystemError> {
        if total > 0.0 {
            Ok(())
        } else {
            Err(loc.err(path, "the weights must not all be 0"))
        }
    };

    // Population.
    let pop = &spec.population;
    let mut kinds = Vec::new();
    for (name, w) in &pop.kinds {
        let p = [k("population"), k("kinds"), k(name)];
        let kind = match name.as_str() {
            "medical" => ClinicKind::Medical,
            "dental" => ClinicKind::Dental,
            "pharmacy" => ClinicKind::Pharmacy,
            "medical-dental" => ClinicKind::MedicalDental,
            other => {
                return Err(loc.err(
                    &p,
                    format!(
                        "unknown clinic kind {other:?}; kinds are medical, dental, pharmacy, medical-dental"
                    ),
                ))
            }
        };
        weight(&p, *w)?;
        kinds.push((kind, *w));
    }
    positive_total(
        &[k("population"), k("kinds")],
        kinds.iter().map(|x| x.1).sum(),
    )?;
    let mut prefectures = Vec::new();
    if pop.prefectures.is_empty() {
        prefectures.extend(Prefecture::all().map(|p| (p, 1.0)));
    } else {
        for (name, w) in &pop.prefectures {
            let p = [k("population"), k("prefectures"), k(name)];
            let pref: Prefecture = name.parse().map_err(|e: fakes::codes::CodeError| {
                loc.err(
                    &p,
                    format!("{e} (write the name, e.g. \"東京都\", or the JIS code \"13\")"),
                )
            })?;
            weight(&p, *w)?;
            prefectures.push((pref, *w));
        }
        // The file's order is the map's (sorted by key); sort by code for stability.
        prefectures.sort_by_key(|(p, _)| p.code());
        positive_total(
            &[k("population"), k("prefectures")],
            prefectures.iter().map(|x| x.1).sum(),
        )?;
    }
    if let Some(d) = &pop.order_margin {
        dist(&[k("population"), k("order_margin")], d)?;
    }
    if pop.months.is_empty() {
        return Err(loc.err(
            &[k("population")],
            "no [[population.month]]: name at least one designation month and its clinics",
        ));
    }
    let mut total: u64 = 0;
    for (i, m) in pop.months.iter().enumerate() {
        let p = [
            k("population"),
            k("month"),
            Part::Index(i),
            k("designation"),
        ];
        if m.designation.day() != 1 {
            return Err(loc.err(
                &p,
                format!(
                    "designation {} is not the 1st of a month (指定日 is always the 1st)",
                    m.designation
                ),
            ));
        }
        if !fakes::calendar::in_range(m.designation) {
            return Err(loc.err(
                &p,
                format!(
                    "designation {} is outside the calendar's years",
                    m.designation
                ),
            ));
        }
        total += u64::from(m.clinics);
    }
    if total == 0 {
        return Err(loc.err(
            &[k("population"), k("month")],
            "no clinics: every month has clinics = 0",
        ));
    }
    if total > MAX_CLINICS {
        return Err(loc.err(
            &[k("population"), k("month")],
            format!("{total} clinics; at most {MAX_CLINICS} per file"),
        ));
    }

    // Actors applied to every clinic.
    let a = &spec.actors;
    for (actor, field, d) in [
        ("bureau", "processing", &a.bureau.processing),
        ("bureau", "postal", &a.bureau.postal),
        (
            "bureau",
            "correction_turnaround",
            &a.bureau.correction_turnaround,
        ),
        (
            "implementing_body",
            "account_lead",
            &a.implementing_body.account_lead,
        ),
        (
            "implementing_body",
            "temporary_code_lead",
            &a.implementing_body.temporary_code_lead,
        ),
        (
            "implementing_body",
            "certificate_lead",
            &a.implementing_body.certificate_lead,
        ),
        ("implementing_body", "mail", &a.implementing_body.mail),
        (
            "implementing_body",
            "free_reader_lead",
            &a.implementing_body.free_reader_lead,
        ),
        ("reader_vendor", "replacement", &a.reader_vendor.replacement),
    ] {
        dist(&[k("actors"), k(actor), k(field)], d)?;
    }
    if a.reader_vendor.lead.is_some() {
        return Err(loc.err(
            &[k("actors"), k("reader_vendor"), k("lead")],
            "in ecosystem mode the reader's lead time is the maker's queue plus its `shipping`: set [[reader_maker]] stock, monthly and shipping instead",
        ));
    }

    // Resources.
    let bureau_index = |path: &[Part], id: &str| -> Result<usize, EcosystemError> {
        let b: Bureau = id.parse().map_err(|_| {
            loc.err(
                path,
                format!(
                    "unknown bureau {id:?}; bureaus are {}",
                    Bureau::ALL.map(|b| b.id()).join(", ")
                ),
            )
        })?;
        Ok(Bureau::ALL.iter().position(|x| *x == b).expect("in ALL"))
    };
    if spec.reader_makers.is_empty() {
        return Err(loc.err(&[], "no [[reader_maker]]: name at least one"));
    }
    for (i, m) in spec.reader_makers.iter().enumerate() {
        let p = [k("reader_maker"), Part::Index(i)];
        weight(&with(&p, &[k("share")]), m.share)?;
        if let Some(d) = &m.shipping {
            dist(&with(&p, &[k("shipping")]), d)?;
        }
        windows(&p, &m.windows)?;
    }
    positive_total(
        &[k("reader_maker")],
        spec.reader_makers.iter().map(|m| m.share).sum(),
    )?;
    let mut crews = Vec::new();
    if spec.system_vendors.is_empty() {
        return Err(loc.err(&[], "no [[system_vendor]]: name at least one"));
    }
    for (i, v) in spec.system_vendors.iter().enumerate() {
        let p = [k("system_vendor"), Part::Index(i)];
        weight(&with(&p, &[k("share")]), v.share)?;
        windows(&p, &v.windows)?;
        let mut per = [v.crews_per_day; 8];
        for (id, n) in &v.regions {
            per[bureau_index(&with(&p, &[k("regions"), k(id)]), id)?] = *n;
        }
        crews.push(per);
    }
    positive_total(
        &[k("system_vendor")],
        spec.system_vendors.iter().map(|m| m.share).sum(),
    )?;
    let mut openings = Vec::new();
    if spec.carriers.is_empty() {
        return Err(loc.err(&[], "no [[carrier]]: name at least one"));
    }
    for (i, c) in spec.carriers.iter().enumerate() {
        let p = [k("carrier"), Part::Index(i)];
        weight(&with(&p, &[k("share")]), c.share)?;
        windows(&p, &c.windows)?;
        if let Some(d) = &c.lead {
            dist(&with(&p, &[k("lead")]), d)?;
        }
        let mut per = [c.openings_per_day; 8];
        for (id, n) in &c.regions {
            per[bureau_index(&with(&p, &[k("regions"), k(id)]), id)?] = *n;
        }
        openings.push(per);
    }
    positive_total(&[k("carrier")], spec.carriers.iter().map(|m| m.share).sum())?;
    let mut answers = [spec.bureaus.answers_per_day; 8];
    for (id, n) in &spec.bureaus.per_bureau {
        answers[bureau_index(&[k("bureaus"), k("per_bureau"), k(id)], id)?] = *n;
    }
    windows(&[k("bureaus")], &spec.bureaus.windows)?;
    windows(&[k("implementing_body")], &spec.implementing_body.windows)?;
    Ok(Ecosystem {
        file: file.to_string(),
        spec,
        kinds,
        prefectures,
        crews,
        openings,
        answers,
    })
}

/// The most clinics one file may describe *(our choice: a national year is ~3,000;
/// this leaves room for every clinic in Japan, ~230,000)*.
pub const MAX_CLINICS: u64 = 300_000;

/// The default carrier service when a `[[carrier]]` names none.
pub fn default_service() -> String {
    DEFAULT_SERVICE.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"
[ecosystem]
name = "t"
rules = "r2024"
[population]
kinds = { medical = 1 }
[[population.month]]
designation = 2025-06-01
clinics = 3
[[reader_maker]]
name = "m"
model = "fujitsu-caora"
share = 1
stock = 10
monthly = 10
[[system_vendor]]
name = "v"
share = 1
crews_per_day = 2
[[carrier]]
name = "c"
share = 1
openings_per_day = 2
[bureaus]
answers_per_day = 10
[implementing_body]
accounts_per_day = 10
"#;

    #[test]
    fn a_good_file_parses() {
        let e = parse("t.toml", OK).unwrap();
        assert_eq!(e.prefectures.len(), 47);
        assert_eq!(e.crews[0], [2; 8]);
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let bad = OK.replace("designation = 2025-06-01", "designation = 2025-06-02");
        let e = parse("t.toml", &bad).unwrap_err();
        assert_eq!(e.line, 8);
        assert_eq!(e.field, "population.month[0].designation");
        assert!(e.to_string().starts_with("t.toml:8:"), "{e}");

        let bad = OK.replace("medical = 1", "medicl = 1");
        let e = parse("t.toml", &bad).unwrap_err();
        assert_eq!(e.field, "population.kinds.medicl");
        assert_eq!(e.line, 6);

        let bad = OK.replace(
            "crews_per_day = 2",
            "crews_per_day = 2\nregions = { mars = 3 }",
        );
        let e = parse("t.toml", &bad).unwrap_err();
        assert_eq!(e.field, "system_vendor[0].regions.mars");
        assert!(e.message.contains("kanto-shinetsu"));

        let bad = OK.replace(
            "monthly = 10",
            "monthly = 10\nwindows = [{ from = 2025-01-01, until = 2024-01-01, factor = 0.5 }]",
        );
        let e = parse("t.toml", &bad).unwrap_err();
        assert_eq!(e.field, "reader_maker[0].windows[0]");

        let bad = OK.replace("stock = 10", "stok = 10");
        let e = parse("t.toml", &bad).unwrap_err();
        assert_eq!(e.field, "(syntax)");
        assert!(e.message.contains("stok"), "{e}");
    }
}
