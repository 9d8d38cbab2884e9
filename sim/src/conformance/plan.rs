//! What a conformance run asks of the SUT, chosen before it starts: the tasks
//! (patients) and what each is for, the bulk group, the drug tasks, the refused
//! download. Pure: everything follows from the population and its seed.

use fakes::eligibility::values::{fmt_date, QualificationValidity};
use fakes::eligibility::{Population, SearchKey};

use super::{DrugTask, Task, UnknownDownload};

/// What each task is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Only counted (NO-LOSS, and RETRY for the first one).
    Plain,
    Validity(u8),
    Abnormal,
}

/// The tasks of a run and what each is for.
pub fn tasks(pop: &Population) -> Vec<(Task, Purpose)> {
    use QualificationValidity as V;
    let task = |id: &str, k: &SearchKey| Task {
        id: id.into(),
        insurer_number: k.insurer_number.to_string(),
        insured_card_symbol: k.symbol.clone(),
        insured_identification_number: k.number.clone(),
        insured_branch_number: k.branch.clone(),
        birthdate: fmt_date(k.birthdate),
        character_code: None,
    };
    let v1 = pop.example(V::Valid);
    let mut out = vec![(task("t01", &v1), Purpose::Plain)];
    for (i, v) in [
        V::Valid,
        V::Invalid,
        V::InvalidNewerExists,
        V::NoRecord,
        V::SeveralMatches,
    ]
    .into_iter()
    .enumerate()
    {
        let n = i as u8 + 1;
        out.push((
            task(&format!("t{:02}", i + 2), &pop.example(v)),
            Purpose::Validity(n),
        ));
    }
    // A mistyped insurer number (wrong check digit): the answer is SegmentOfResult 9.
    let mut bad = task("t07", &v1);
    let last = bad
        .insurer_number
        .pop()
        .and_then(|c| c.to_digit(10))
        .unwrap_or(0);
    bad.insurer_number
        .push(char::from_digit((last + 1) % 10, 10).unwrap_or('0'));
    out.push((bad, Purpose::Abnormal));
    out.push((task("t08", &v1), Purpose::Plain));
    // CharacterCodeIdentifier: t02 asks for UTF-8 (0), t04 for Shift_JIS (1)
    // (neither the outage task nor the last one, whose own broken clients lose them).
    out[1].0.character_code = Some(0);
    out[3].0.character_code = Some(1);
    out
}

/// The id in the bulk file names.
pub const BULK_ID: &str = "bulk01";

/// The refused download: a reception number in the form the answering core issues
/// (`YYYYMMDDHHmm` + 6 digits) stamped 1900, so it can never have been issued.
pub fn unknown_download() -> UnknownDownload {
    UnknownDownload {
        id: "e01".into(),
        reception_number: "190001010000000001".into(),
    }
}

/// The bulk group and each patient's expected QualificationValidity.
pub fn bulk_tasks(pop: &Population) -> Vec<(Task, u8)> {
    use QualificationValidity as V;
    [V::Valid, V::Invalid, V::NoRecord]
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let k = pop.example(v);
            (
                Task {
                    id: format!("b{:02}", i + 1),
                    insurer_number: k.insurer_number.to_string(),
                    insured_card_symbol: k.symbol.clone(),
                    insured_identification_number: k.number.clone(),
                    insured_branch_number: k.branch.clone(),
                    birthdate: fmt_date(k.birthdate),
                    character_code: None,
                },
                v.code().parse().unwrap_or(0),
            )
        })
        .collect()
}

/// The drug tasks: `d01` for a patient who consents to 薬剤情報, `d02` for one who
/// does not, each with whether they consent. Chosen by the answering core's own
/// consent rule ([`fakes::eligibility::health_info::standing_consents`] with the
/// service's [`fakes::eligibility::other::OtherConfig`]), among people with one
/// record on `date`, a branch number, and not the card the reader presents (whose
/// consent given at the reader would override the standing one). Period: the twelve
/// months up to `date`.
pub fn drug_tasks(
    pop: &Population,
    cfg: &fakes::eligibility::other::OtherConfig,
    date: chrono::NaiveDate,
    reader_card: &SearchKey,
) -> Vec<(DrugTask, bool)> {
    use fakes::eligibility::health_info::standing_consents;
    let month = |d: chrono::NaiveDate| d.format("%Y%m").to_string();
    let start = month(date - chrono::Months::new(11));
    let mut out: Vec<(DrugTask, bool)> = Vec::new();
    for want in [true, false] {
        let found = (0..2_000u64)
            .flat_map(|h| (0..2).map(move |i| (h, i)))
            .find_map(|(h, i)| {
                let k = pop.key_of(h, i)?;
                let branch = k.branch.clone()?;
                (k != *reader_card
                    && standing_consents(pop, h, i, cfg.p_drug_consent, cfg.p_checkup_consent).0
                        == want
                    && pop.lookup(&k, date).records.len() == 1)
                    .then(|| DrugTask {
                        id: format!("d{:02}", out.len() + 1),
                        insurer_number: k.insurer_number.to_string(),
                        insured_card_symbol: k.symbol.clone(),
                        insured_identification_number: k.number.clone(),
                        insured_branch_number: branch,
                        start_month: start.clone(),
                        end_month: month(date),
                    })
            });
        if let Some(t) = found {
            out.push((t, want));
        }
    }
    out
}

/// The population's InsurerName for a task (the first record), on `date`.
pub fn insurer_name(pop: &Population, t: &Task, date: chrono::NaiveDate) -> Option<String> {
    let key = SearchKey {
        insurer_number: t.insurer_number.parse().ok()?,
        symbol: t.insured_card_symbol.clone(),
        number: t.insured_identification_number.clone(),
        branch: t.insured_branch_number.clone(),
        birthdate: chrono::NaiveDate::parse_from_str(&t.birthdate, "%Y%m%d").ok()?,
    };
    pop.lookup(&key, date)
        .records
        .first()
        .map(|r| r.qualification.insurer_name.clone())
}

/// The task a request file belongs to: `OQSsiquc01req_<id>.xml` or `…_<id>_<n>.xml`.
pub fn task_of<'a>(name: &str, tasks: &'a [(Task, Purpose)]) -> Option<&'a str> {
    let mid = name.strip_prefix("OQSsiquc01req_")?.strip_suffix(".xml")?;
    tasks
        .iter()
        .map(|(t, _)| t.id.as_str())
        .find(|id| mid == *id || mid.strip_prefix(id).is_some_and(|r| r.starts_with('_')))
}
