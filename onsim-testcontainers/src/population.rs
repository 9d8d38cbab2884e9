//! `population.csv`: the synthetic insured persons onsim answers for, each with the
//! `QualificationValidity` code it should get, and the single inquiry that asks for
//! one.

use std::path::Path;

use crate::error::{Error, Result};

/// The columns onsim writes (`sim::live::population`), in order.
const HEADER: [&str; 7] = [
    "insurer_number",
    "insured_card_symbol",
    "insured_identification_number",
    "insured_branch_number",
    "birthdate",
    "expected_validity",
    "note",
];

/// One row of `population.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patient {
    /// 保険者番号 (8 digits, or 6 for national health insurance).
    pub insurer_number: String,
    /// 記号 (may be empty).
    pub insured_card_symbol: String,
    /// 番号.
    pub insured_identification_number: String,
    /// 枝番 (empty: ask without it).
    pub insured_branch_number: String,
    /// `YYYYMMDD`.
    pub birthdate: String,
    /// The `QualificationValidity` code (1–5) the inquiry should get.
    pub expected_validity: String,
    pub note: String,
}

impl Patient {
    /// Every data row of `path` (its header checked).
    pub fn read_all(path: &Path) -> Result<Vec<Patient>> {
        let bad = |reason: String| Error::StateFile {
            path: path.to_path_buf(),
            reason,
        };
        let mut r = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_path(path)
            .map_err(|e| bad(e.to_string()))?;
        let header = r.headers().map_err(|e| bad(e.to_string()))?.clone();
        if header.iter().collect::<Vec<_>>() != HEADER {
            return Err(bad(format!(
                "header is {:?}, expected {}",
                header.iter().collect::<Vec<_>>().join(","),
                HEADER.join(",")
            )));
        }
        r.records()
            .map(|rec| {
                let rec = rec.map_err(|e| bad(e.to_string()))?;
                let f = |i: usize| rec.get(i).unwrap_or("").to_string();
                Ok(Patient {
                    insurer_number: f(0),
                    insured_card_symbol: f(1),
                    insured_identification_number: f(2),
                    insured_branch_number: f(3),
                    birthdate: f(4),
                    expected_validity: f(5),
                    note: f(6),
                })
            })
            .collect()
    }

    /// A UTF-8 single inquiry (`OQSsiquc01req`, `CharacterCodeIdentifier` 0) for this
    /// person at `institution` on `date` (`YYYYMMDD`), echoing `id` as its
    /// `ArbitraryFileIdentifier`; the body of an eligibility API POST or a file in
    /// the terminal's `req/` (docs/INTERFACE.md).
    pub fn single_inquiry(&self, institution: &str, date: &str, id: &str) -> String {
        let opt = |name: &str, v: &str| {
            if v.is_empty() {
                String::new()
            } else {
                format!("<{name}>{}</{name}>", esc(v))
            }
        };
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n<XmlMsg><MessageHeader><QualificationConfirmationDate>{}</QualificationConfirmationDate><MedicalInstitutionCode>{}</MedicalInstitutionCode><ArbitraryFileIdentifier>{}</ArbitraryFileIdentifier><CharacterCodeIdentifier>0</CharacterCodeIdentifier></MessageHeader><MessageBody><QualificationConfirmSearchInfo><InsurerNumber>{}</InsurerNumber>{}<InsuredIdentificationNumber>{}</InsuredIdentificationNumber>{}<Birthdate>{}</Birthdate></QualificationConfirmSearchInfo></MessageBody></XmlMsg>\n",
            esc(date),
            esc(institution),
            esc(id),
            esc(&self.insurer_number),
            opt("InsuredCardSymbol", &self.insured_card_symbol),
            esc(&self.insured_identification_number),
            opt("InsuredBranchNumber", &self.insured_branch_number),
            esc(&self.birthdate),
        )
    }
}

/// XML text escaping.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_with_quotes_and_empty_fields_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("population.csv");
        std::fs::write(
            &p,
            format!("{}\n06123456,,1234,,19800101,1,\"valid, example\"\n39131234,記号,5678,01,19450505,3,lost\n", HEADER.join(",")),
        )
        .unwrap();
        let rows = Patient::read_all(&p).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].note, "valid, example");
        assert_eq!(rows[0].insured_card_symbol, "");
        assert_eq!(rows[1].insured_card_symbol, "記号");
        let xml = rows[1].single_inquiry("1310101017", "20250401", "a&b");
        assert!(
            xml.contains("<InsuredCardSymbol>記号</InsuredCardSymbol>"),
            "{xml}"
        );
        assert!(xml.contains("<InsuredBranchNumber>01</InsuredBranchNumber>"));
        assert!(xml.contains("<ArbitraryFileIdentifier>a&amp;b</ArbitraryFileIdentifier>"));
        let xml = rows[0].single_inquiry("1310101017", "20250401", "x");
        assert!(!xml.contains("InsuredCardSymbol") && !xml.contains("InsuredBranchNumber"));
    }

    #[test]
    fn a_foreign_header_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("population.csv");
        std::fs::write(&p, "a,b\n1,2\n").unwrap();
        let e = Patient::read_all(&p).unwrap_err().to_string();
        assert!(e.contains("header is \"a,b\""), "{e}");
    }
}
