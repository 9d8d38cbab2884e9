//! `population.csv`: rows of the synthetic population with the outcome each should
//! get, for clients that drive the eligibility API or the file drop.
//!
//! Columns: `insurer_number,insured_card_symbol,insured_identification_number,
//! insured_branch_number,birthdate,expected_validity,note`. `birthdate` is written
//! `YYYYMMDD`, as it goes into the XmlMsg request; an empty branch number means "ask
//! without 枝番". `expected_validity` is the `QualificationValidity` code (1–5) on the
//! run's start date; the first rows are one example per outcome (stable on every date
//! from the population's epoch on), then the members of the first households.

use chrono::NaiveDate;

use fakes::eligibility::population::Feature;
use fakes::eligibility::{Population, QualificationValidity, SearchKey};

pub const HEADER: &str = "insurer_number,insured_card_symbol,insured_identification_number,insured_branch_number,birthdate,expected_validity,note";

/// Households whose members are listed after the examples.
pub const HOUSEHOLDS_LISTED: u64 = 100;

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn row(k: &SearchKey, v: QualificationValidity, note: &str) -> String {
    [
        k.insurer_number.to_string(),
        k.symbol.clone().unwrap_or_default(),
        k.number.clone(),
        k.branch.clone().unwrap_or_default(),
        k.birthdate.format("%Y%m%d").to_string(),
        v.code().to_string(),
        note.to_string(),
    ]
    .iter()
    .map(|s| csv_field(s))
    .collect::<Vec<_>>()
    .join(",")
}

/// The example rows of `population.csv` by outcome, in order, with their notes.
const VALIDITY_ROWS: [(QualificationValidity, &str); 5] = [
    (QualificationValidity::Valid, "example: valid"),
    (QualificationValidity::Invalid, "example: invalid (lapsed)"),
    (
        QualificationValidity::InvalidNewerExists,
        "example: invalid, a newer record exists",
    ),
    (QualificationValidity::NoRecord, "example: no such record"),
    (
        QualificationValidity::SeveralMatches,
        "example: several matches (twins, no branch number)",
    ),
];

/// The example rows by feature, after those by outcome.
const FEATURE_ROWS: [(Feature, &str); 3] = [
    (Feature::LimitCertificate, "example: high-cost-limit certificate (ask with LimitApplicationCertificateRelatedConsFlg 1)"),
    (Feature::Elderly, "example: elderly recipient (70-74)"),
    (Feature::SpecificDisease, "example: specific-disease certificate"),
];

/// Does `population` hold an example of every row [`row_keys`] lists? `Err` names
/// the first outcome or feature nobody has (a `--households` too small for it).
pub fn check_examples(population: &Population) -> Result<(), String> {
    let n = population.config().households;
    let hint = "which population.csv lists; use more households (e.g. --households 2000)";
    if let Some((v, _)) = VALIDITY_ROWS
        .iter()
        .find(|(v, _)| population.try_example(*v).is_none())
    {
        return Err(format!(
            "{n} households give nobody with QualificationValidity {v:?}, {hint}"
        ));
    }
    if let Some((f, _)) = FEATURE_ROWS
        .iter()
        .find(|(f, _)| population.try_example_with(*f).is_none())
    {
        return Err(format!("{n} households give nobody with {f:?}, {hint}"));
    }
    Ok(())
}

/// The data rows of `population.csv`, in order: the search key and the note.
pub fn row_keys(population: &Population) -> Vec<(SearchKey, &'static str)> {
    let mut out = Vec::new();
    for (v, note) in VALIDITY_ROWS {
        out.push((population.example(v), note));
    }
    for (f, note) in FEATURE_ROWS {
        out.push((population.example_with(f), note));
    }
    for h in 0..HOUSEHOLDS_LISTED.min(population.config().households) {
        for i in 0.. {
            let Some(k) = population.key_of(h, i) else {
                break;
            };
            out.push((k, ""));
        }
    }
    out
}

/// The search key of data row `n` of `population.csv`, counted from 0 (0 = the first
/// line after the header, as a CSV reader or a data frame indexes it), as
/// `POST /reader/present {"row": n}` takes it.
pub fn key_of_row(population: &Population, n: usize) -> Option<SearchKey> {
    row_keys(population).into_iter().nth(n).map(|(k, _)| k)
}

/// The CSV text for `population` as of `date`.
pub fn csv(population: &Population, date: NaiveDate) -> String {
    let mut out = String::with_capacity(64 * 1024);
    out.push_str(HEADER);
    out.push('\n');
    for (k, note) in row_keys(population) {
        let got = population.lookup(&k, date).validity;
        out.push_str(&row(&k, got, note));
        out.push('\n');
    }
    out
}
