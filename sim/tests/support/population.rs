//! `population.csv` rows of a running `onsim serve` and the single inquiry for one,
//! shared by the integration tests that talk to the live services (include with
//! `#[path = "support/population.rs"] mod population;`).

use std::path::Path;

/// The data rows of `population.csv` (its header checked), each split at commas.
pub fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("insurer_number,insured_card_symbol,insured_identification_number,insured_branch_number,birthdate,expected_validity"), "{header}");
    lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

/// A UTF-8 single inquiry (CharacterCodeIdentifier 0) for a `population.csv` row.
pub fn request_xml(institution: &str, row: &[String]) -> String {
    let opt = |name: &str, v: &str| {
        if v.is_empty() {
            String::new()
        } else {
            format!("<{name}>{v}</{name}>")
        }
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<XmlMsg><MessageHeader><QualificationConfirmationDate>20250401</QualificationConfirmationDate><MedicalInstitutionCode>{institution}</MedicalInstitutionCode><ArbitraryFileIdentifier>curl-1</ArbitraryFileIdentifier><CharacterCodeIdentifier>0</CharacterCodeIdentifier></MessageHeader><MessageBody><QualificationConfirmSearchInfo><InsurerNumber>{}</InsurerNumber>{}<InsuredIdentificationNumber>{}</InsuredIdentificationNumber>{}<Birthdate>{}</Birthdate></QualificationConfirmSearchInfo></MessageBody></XmlMsg>\n",
        row[0],
        opt("InsuredCardSymbol", &row[1]),
        row[2],
        opt("InsuredBranchNumber", &row[3]),
        row[4],
    )
}
