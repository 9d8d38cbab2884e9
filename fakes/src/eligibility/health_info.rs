//! 薬剤情報 (`YZKsiquc01`) and 特定健診情報 (`TKKsiquc01`) retrieval, as clinic software
//! asks for it through the terminal's `req/` folder (docs/INTERFACE.md §5; OD
//! `Form1.cs` `GenerateXML` writes the request and `ProcessResAsync`,
//! `ProcessDrugInfoAsync2`, `ProcessTKKAsync` read the answer).
//!
//! Request: `MessageHeader` with `MedicalInstitutionCode`, `InsurerNumber`,
//! `InsuranceCardSymbol`, `InsuredPersonIdentificationNumber`, `BranchNumber`,
//! `ArbitraryFileIdentifier`; `MessageBody` with `StartDate` / `EndDate` (`yyyyMM`,
//! 薬剤情報 only), `FileCategory`, `PrDiInfClassification`, `MedicalTreatmentFlag`.
//!
//! Answer (`YZKsiquc01res_*.xml` / `TKKsiquc01res_*.xml`): `ResultCode` — `1` when
//! records are provided, which is what OD takes as success — and `MessageContents`
//! (what OD shows otherwise); the person (`MessageHeader/QuaInf` for 薬剤情報,
//! `MessageHeader/QualificationsInfo` for 特定健診) and the records
//! ([`super::drug`], [`super::checkup`]) under `MessageBody`.
//!
//! Gating, in this order: the request must parse and name this terminal's
//! institution (else an abnormal answer); then nothing is provided (`ResultCode`
//! 2, with the reason in `MessageContents`) before the service start
//! (docs/seeds/003: 特定健診 from 2021-03, 薬剤情報 from 2021-10 —
//! [`super::other::OtherConfig`]), 特定健診 to a pharmacy (institution code's fee-table
//! digit 4, `crate::codes::FeeTable`; docs/INTERFACE.md §5 "Pharmacies see no
//! 特定健診"), for a person not found, without the patient's consent, or for a PDF
//! (`FileCategory` odd: OD asks odd categories as PDF, even as XML; PDFs are not
//! simulated — *partial*).
//!
//! **Consent** *(our choice, derived here until the population carries consent
//! flags)*: a consent given at this terminal's card reader within
//! [`super::other::OtherConfig::card_consent_days`] decides; otherwise a standing
//! consent drawn once per person from the population seed
//! ([`standing_consents`], shares `p_drug_consent` / `p_checkup_consent`).

use chrono::{Datelike, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::checkup::{self, Checkup};
use super::drug::{self, DrugMonth};
use super::error::{EligibilityError, ErrorCode};
use super::other::{find_person, parse_insurer, CardKey, Ctx, OtherBody, OtherDesk, OtherResponse};
use super::population::Population;
use super::tree::{Element, Writer};
use super::values::*;
use super::xml::MessageKind;
use crate::codes::FeeTable;

/// Whether an institution of fee table `fee` may view 薬剤情報 (`drug`) or
/// 特定健診情報 on `today`: seed 003 "特定健診情報の閲覧は令和３年３月から、薬剤情報の閲覧は
/// 令和３年10月から" and "※特定健診情報は、医療機関（病院・診療所）のみ閲覧可能"; seed 002
/// "医療機関においては服薬履歴や特定健診情報の閲覧が、薬局においては服薬履歴の閲覧が可能".
/// The one rule for the terminal's answers and the timeline's consent screens
/// (`process::clinic`). `Err` says why not, in the answer's words.
pub fn viewable(
    drug: bool,
    fee: FeeTable,
    today: NaiveDate,
    cfg: &super::other::OtherConfig,
) -> Result<(), String> {
    let from = if drug {
        cfg.drug_info_from
    } else {
        cfg.checkup_info_from
    };
    if today < from {
        return Err(format!(
            "{}の閲覧は{}から開始されます / not available before {from}",
            if drug {
                "薬剤情報"
            } else {
                "特定健診情報"
            },
            from.format("%Y年%-m月")
        ));
    }
    if !drug && fee == FeeTable::Pharmacy {
        return Err("薬局では特定健診情報を閲覧できません / pharmacies see no 特定健診情報".into());
    }
    Ok(())
}

pub fn is_health(kind: MessageKind) -> bool {
    matches!(kind, MessageKind::DrugInfo | MessageKind::CheckupInfo)
}

/// `ResultCode` of a 薬剤情報 / 特定健診 answer. `1` is what OD `Form1.cs` takes as
/// success; `2` and `9` are *(our choice)* (the real values are not public).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HealthResult {
    /// 1: records provided (possibly none in the period).
    Provided,
    /// 2: nothing provided; `MessageContents` says why.
    NotProvided,
    /// 9: the request was refused (abnormal answer).
    Refused,
}

impl HealthResult {
    pub fn code(self) -> &'static str {
        match self {
            HealthResult::Provided => "1",
            HealthResult::NotProvided => "2",
            HealthResult::Refused => "9",
        }
    }

    pub fn parse(field: &str, s: &str) -> Result<Self, EligibilityError> {
        match s {
            "1" => Ok(HealthResult::Provided),
            "2" => Ok(HealthResult::NotProvided),
            "9" => Ok(HealthResult::Refused),
            _ => Err(EligibilityError::new(
                ErrorCode::InvalidValue,
                format!("{field} must be 1, 2 or 9"),
            )),
        }
    }
}

/// The person the records are of, as the answer's header names them.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonInfo {
    pub name: String,
    pub kana: String,
    pub birthdate: NaiveDate,
    pub sex: Sex,
}

impl std::fmt::Debug for PersonInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersonInfo(<redacted>)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthRecords {
    Drugs(Vec<DrugMonth>),
    Checkups(Vec<Checkup>),
}

/// A 薬剤情報 / 特定健診 answer that provides records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthAnswer {
    pub person: PersonInfo,
    pub records: HealthRecords,
}

/// A parsed retrieval request.
#[derive(Clone, PartialEq, Eq)]
pub struct HealthRequest {
    pub card: CardKey,
    /// 薬剤情報: first and last month asked for (`StartDate` / `EndDate`, `yyyyMM`).
    pub months: Option<(NaiveDate, NaiveDate)>,
    /// `FileCategory`: odd = PDF, even = XML (OD `Form1.cs`).
    pub file_category: u8,
    pub pr_di_inf_classification: u8,
    /// `MedicalTreatmentFlag`: 1, 2 (訪問診療) or 3 (オンライン診療) (OD `GetMedicalTreatmentFlag`).
    pub medical_treatment_flag: u8,
}

impl std::fmt::Debug for HealthRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthRequest")
            .field("card", &self.card)
            .field("file_category", &self.file_category)
            .finish()
    }
}

/// `yyyyMM` as the first day of that month.
pub fn parse_month(field: &str, s: &str) -> Result<NaiveDate, EligibilityError> {
    let bad = || EligibilityError::new(ErrorCode::InvalidDate, format!("{field} must be yyyyMM"));
    if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let y: i32 = s[..4].parse().map_err(|_| bad())?;
    let m: u32 = s[4..].parse().map_err(|_| bad())?;
    NaiveDate::from_ymd_opt(y, m, 1).ok_or_else(bad)
}

fn digit(
    e: Element<'_, '_>,
    name: &str,
    allowed: std::ops::RangeInclusive<u8>,
) -> Result<u8, EligibilityError> {
    let s = e.req_text(name)?;
    match s.as_bytes() {
        [d] if d.is_ascii_digit() && allowed.contains(&(d - b'0')) => Ok(d - b'0'),
        _ => Err(EligibilityError::new(
            ErrorCode::InvalidValue,
            format!(
                "{name} must be one digit {}–{}",
                allowed.start(),
                allowed.end()
            ),
        )),
    }
}

/// Read the request's person and body. *(our choice)* value ranges: `FileCategory`
/// 1–4 (OD asks 1–4), `PrDiInfClassification` 1–2 (OD writes 1),
/// `MedicalTreatmentFlag` 1–3.
pub fn read_request(
    kind: MessageKind,
    h: Element<'_, '_>,
    b: Element<'_, '_>,
) -> Result<HealthRequest, EligibilityError> {
    let insurer = parse_insurer("InsurerNumber", h.req_text("InsurerNumber")?)?;
    let symbol = h
        .opt_text("InsuranceCardSymbol")?
        .map(|s| check_text("InsuranceCardSymbol", s, 38))
        .transpose()?;
    let number = check_text(
        "InsuredPersonIdentificationNumber",
        h.req_text("InsuredPersonIdentificationNumber")?,
        38,
    )?;
    let branch = h.req_text("BranchNumber")?;
    if branch.len() != 2 || !branch.bytes().all(|c| c.is_ascii_digit()) {
        return Err(EligibilityError::new(
            ErrorCode::InvalidValue,
            "BranchNumber must be 2 digits",
        ));
    }
    let months = if kind == MessageKind::DrugInfo {
        let from = parse_month("StartDate", b.req_text("StartDate")?)?;
        let to = parse_month("EndDate", b.req_text("EndDate")?)?;
        if from > to {
            return Err(EligibilityError::new(
                ErrorCode::InvalidDate,
                "StartDate is after EndDate",
            ));
        }
        Some((from, to))
    } else {
        // OD sends no period for 特定健診; a period sent anyway is checked and used.
        match (b.opt_text("StartDate")?, b.opt_text("EndDate")?) {
            (Some(f), Some(t)) => Some((parse_month("StartDate", f)?, parse_month("EndDate", t)?)),
            (None, None) => None,
            _ => {
                return Err(EligibilityError::new(
                    ErrorCode::MissingField,
                    "StartDate and EndDate go together",
                ))
            }
        }
    };
    Ok(HealthRequest {
        card: CardKey::of(insurer, symbol, number, branch),
        months,
        file_category: digit(b, "FileCategory", 1..=4)?,
        pr_di_inf_classification: digit(b, "PrDiInfClassification", 1..=2)?,
        medical_treatment_flag: digit(b, "MedicalTreatmentFlag", 1..=3)?,
    })
}

/// The standing consents of household `h`, member `i` *(our choice)*: drawn once
/// from the population seed, `(薬剤情報, 特定健診情報)`.
pub fn standing_consents(
    pop: &Population,
    h: u64,
    i: usize,
    p_drug: f64,
    p_checkup: f64,
) -> (bool, bool) {
    let mut rng = ChaCha8Rng::seed_from_u64(pop.config().seed ^ 0xc025_e270_0000_0000);
    rng.set_stream(h * 8 + i as u64);
    (
        rng.gen_bool(p_drug.clamp(0.0, 1.0)),
        rng.gen_bool(p_checkup.clamp(0.0, 1.0)),
    )
}

pub(crate) fn answer(
    desk: &mut OtherDesk,
    ctx: &Ctx<'_>,
    kind: MessageKind,
    h: Element<'_, '_>,
    b: Element<'_, '_>,
) -> Result<OtherResponse, EligibilityError> {
    let req = read_request(kind, h, b)?;
    let cfg = &desk.config;
    let today = ctx.now.date();
    let drug = kind == MessageKind::DrugInfo;
    let not_provided = |why: &str| {
        let mut header = ctx.header(SegmentOfResult::Normal);
        header.result_code = Some(HealthResult::NotProvided);
        header.message_contents = Some(why.to_string());
        Ok(OtherResponse {
            kind,
            header,
            body: OtherBody::Empty,
        })
    };
    if let Err(why) = viewable(drug, ctx.institution.fee_table(), today, cfg) {
        return not_provided(&why);
    }
    let Some(person) = find_person(ctx.pop, &req.card) else {
        return not_provided("該当する資格情報がありません / no such insured person");
    };
    let lookup = ctx.pop.lookup(&person.key, today);
    let Some(record) = lookup.records.first() else {
        return not_provided("該当する資格情報がありません / no such insured person");
    };
    let card = desk
        .card_consents
        .get(&req.card)
        .filter(|c| c.at.plus_days(cfg.card_consent_days) > ctx.now)
        .map(|c| {
            if drug {
                c.consents.pharmacists_info
            } else {
                c.consents.specific_health_checkups
            }
        });
    let standing = standing_consents(
        ctx.pop,
        person.household,
        person.member,
        cfg.p_drug_consent,
        cfg.p_checkup_consent,
    );
    let consent = card.unwrap_or(if drug { standing.0 } else { standing.1 });
    if !consent {
        return not_provided("閲覧の同意がありません / the patient has not consented");
    }
    if req.file_category % 2 == 1 {
        return not_provided(
            "onsim: PDFでの提供は模擬していません / PDF answers are not simulated",
        );
    }
    let q = &record.qualification;
    let person_info = PersonInfo {
        name: q.name.clone(),
        kana: q.name_kana.clone(),
        birthdate: q.birthdate,
        sex: q.sex,
    };
    let seed = ctx.pop.config().seed;
    let records = if drug {
        let (f, t) = req.months.expect("read for 薬剤情報");
        // Not before the service start, not after today, at most `max_drug_months`.
        let from = cfg.drug_info_from;
        let first = f.max(NaiveDate::from_ymd_opt(from.year(), from.month(), 1).expect("valid"));
        let last = t.min(today);
        let first = first.max(last - chrono::Months::new(cfg.max_drug_months.saturating_sub(1)));
        HealthRecords::Drugs(drug::months(
            seed,
            person.household,
            person.member,
            first,
            last,
            today,
            ctx.institution,
        ))
    } else {
        let period = req
            .months
            .map(|(f, t)| (f, t + chrono::Months::new(1) - chrono::Days::new(1)));
        HealthRecords::Checkups(checkup::checkups(
            seed,
            person.household,
            person.member,
            q.birthdate,
            today,
            period,
        ))
    };
    let mut header = ctx.header(SegmentOfResult::Normal);
    header.result_code = Some(HealthResult::Provided);
    header.message_contents = Some("正常終了 / provided".into());
    Ok(OtherResponse {
        kind,
        header,
        body: OtherBody::Health(HealthAnswer {
            person: person_info,
            records,
        }),
    })
}

/// The person, in the header element each client reads (OD `Form1.cs`).
pub(crate) fn write_person(w: &mut Writer, kind: MessageKind, p: &PersonInfo) {
    if kind == MessageKind::DrugInfo {
        w.start("QuaInf")
            .leaf("Name", Some(&p.name))
            .leaf("KanaName", Some(&p.kana))
            .leaf("Birth", Some(p.birthdate))
            .leaf("AdmGendCode", Some(p.sex.code()))
            .end();
    } else {
        w.start("QualificationsInfo")
            .leaf("Name", Some(&p.name))
            .leaf("KanasName", Some(&p.kana))
            .leaf("Birthday", Some(p.birthdate))
            .leaf("AdministrativeGenderCode", Some(p.sex.code()))
            .end();
    }
}

pub(crate) fn write_records(w: &mut Writer, a: &HealthAnswer) {
    match &a.records {
        HealthRecords::Drugs(m) => drug::write(w, m),
        HealthRecords::Checkups(c) => checkup::write(w, c),
    }
}

/// Read a 薬剤情報 / 特定健診 answer's person and records back (`None`: nothing provided).
pub(crate) fn read_answer(
    kind: MessageKind,
    h: Element<'_, '_>,
    b: Element<'_, '_>,
) -> Result<Option<HealthAnswer>, EligibilityError> {
    let (el, n, k, bd, s) = if kind == MessageKind::DrugInfo {
        ("QuaInf", "Name", "KanaName", "Birth", "AdmGendCode")
    } else {
        (
            "QualificationsInfo",
            "Name",
            "KanasName",
            "Birthday",
            "AdministrativeGenderCode",
        )
    };
    let Some(p) = h.child(el)? else {
        return Ok(None);
    };
    let person = PersonInfo {
        name: p.req_text(n)?.to_string(),
        kana: p.req_text(k)?.to_string(),
        birthdate: parse_date(bd, p.req_text(bd)?)?,
        sex: Sex::parse(s, p.req_text(s)?)?,
    };
    let records = if kind == MessageKind::DrugInfo {
        HealthRecords::Drugs(drug::read(b)?)
    } else {
        HealthRecords::Checkups(checkup::read(b)?)
    };
    Ok(Some(HealthAnswer { person, records }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn viewable_by_kind_and_date() {
        let cfg = super::super::other::OtherConfig::default();
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        for (fee, day, drug_ok, checkup_ok) in [
            (FeeTable::Medical, d(2021, 2, 28), false, false),
            (FeeTable::Medical, d(2021, 3, 1), false, true),
            (FeeTable::Dental, d(2021, 9, 30), false, true),
            (FeeTable::Medical, d(2021, 10, 1), true, true),
            (FeeTable::Pharmacy, d(2021, 9, 30), false, false),
            (FeeTable::Pharmacy, d(2021, 10, 1), true, false),
        ] {
            assert_eq!(
                viewable(true, fee, day, &cfg).is_ok(),
                drug_ok,
                "{fee:?} {day}"
            );
            assert_eq!(
                viewable(false, fee, day, &cfg).is_ok(),
                checkup_ok,
                "{fee:?} {day}"
            );
        }
    }

    use super::*;
    use crate::eligibility::answer::{ReaderConsents, Service, VerifiedCardHolder};
    use crate::eligibility::encoding::{encode, CharacterCode};
    use crate::eligibility::other::parse_other_response;
    use crate::eligibility::other::tests::{now, service};
    use crate::eligibility::population::SearchKey;
    use crate::time::VirtualTime;

    /// A request as OD `GenerateXML` writes it (Shift_JIS, `standalone="no"`).
    fn request(kind: MessageKind, institution: &str, key: &SearchKey, category: u8) -> Vec<u8> {
        let period = if kind == MessageKind::DrugInfo {
            "<StartDate>202301</StartDate>\n    <EndDate>202404</EndDate>\n    "
        } else {
            ""
        };
        let text = format!(
            "<?xml version=\"1.0\" encoding=\"Shift_JIS\" standalone=\"no\"?>\n<XmlMsg>\n  <MessageHeader>\n    \
             <MedicalInstitutionCode>{institution}</MedicalInstitutionCode>\n    \
             <InsurerNumber>{:>8}</InsurerNumber>\n    <InsuranceCardSymbol>{}</InsuranceCardSymbol>\n    \
             <InsuredPersonIdentificationNumber>{}</InsuredPersonIdentificationNumber>\n    \
             <BranchNumber>{}</BranchNumber>\n    <ArbitraryFileIdentifier>77</ArbitraryFileIdentifier>\n  \
             </MessageHeader>\n  <MessageBody>\n    {period}<FileCategory>{category}</FileCategory>\n    \
             <PrDiInfClassification>1</PrDiInfClassification>\n    <MedicalTreatmentFlag>1</MedicalTreatmentFlag>\n  \
             </MessageBody>\n</XmlMsg>\n",
            key.insurer_number.to_string(),
            key.symbol.as_deref().unwrap_or(""),
            key.number,
            key.branch.as_deref().unwrap_or(""),
        );
        encode(&text, CharacterCode::ShiftJis)
    }

    /// The first key (in household order) whose standing consents are `want`,
    /// of someone aged 40–74 (so 特定健診 applies).
    fn key_with(s: &Service, want: (bool, bool)) -> (u64, usize, SearchKey) {
        let c = &s.others.config;
        for h in 0..2_000 {
            for i in 0..2 {
                let Some(k) = s.population.key_of(h, i) else {
                    continue;
                };
                let age = s
                    .population
                    .config()
                    .epoch
                    .years_since(k.birthdate)
                    .unwrap_or(0);
                if (40..=74).contains(&age)
                    && standing_consents(&s.population, h, i, c.p_drug_consent, c.p_checkup_consent)
                        == want
                    && s.population
                        .lookup(&k, s.population.config().epoch)
                        .records
                        .len()
                        == 1
                {
                    return (h, i, k);
                }
            }
        }
        panic!("no such person");
    }

    fn ask(
        s: &mut Service,
        kind: MessageKind,
        key: &SearchKey,
        category: u8,
        t: VirtualTime,
    ) -> OtherResponse {
        let inst = s.institution.to_string();
        let r = s.answer_other(kind, &request(kind, &inst, key, category), t);
        assert_eq!(
            parse_other_response(kind, &r.render()).unwrap(),
            r,
            "round trip"
        );
        r
    }

    #[test]
    fn consent_gates_both_kinds() {
        let mut s = service("1313120014");
        let t = now(&s);
        for (want, drug_ok, checkup_ok) in [
            ((true, true), true, true),
            ((true, false), true, false),
            ((false, true), false, true),
            ((false, false), false, false),
        ] {
            let (_, _, key) = key_with(&s, want);
            for (kind, ok) in [
                (MessageKind::DrugInfo, drug_ok),
                (MessageKind::CheckupInfo, checkup_ok),
            ] {
                let r = ask(&mut s, kind, &key, 2, t);
                assert_eq!(r.header.segment_of_result, SegmentOfResult::Normal);
                assert_eq!(r.header.arbitrary_file_identifier.as_deref(), Some("77"));
                let expect = if ok {
                    HealthResult::Provided
                } else {
                    HealthResult::NotProvided
                };
                assert_eq!(r.header.result_code, Some(expect), "{kind:?} {want:?}");
                if ok {
                    let OtherBody::Health(a) = &r.body else {
                        panic!()
                    };
                    assert_eq!(a.person.birthdate, key.birthdate);
                    // The same answer again, but for the stamp (the terminal's
                    // StampClock never repeats one).
                    let again = ask(&mut s, kind, &key, 2, t);
                    assert_eq!(again.body, r.body, "deterministic");
                    assert!(again.header.process_execution_time > r.header.process_execution_time);
                } else {
                    assert!(r
                        .header
                        .message_contents
                        .as_deref()
                        .unwrap()
                        .contains("同意"));
                }
            }
        }
    }

    #[test]
    fn a_card_consent_at_this_terminal_overrides_the_standing_one() {
        let mut s = service("1313120014");
        let t = now(&s);
        let (_, _, key) = key_with(&s, (false, false));
        let holder = VerifiedCardHolder::from(key.clone());
        let consents = ReaderConsents {
            limit_certificate: false,
            pharmacists_info: true,
            specific_health_checkups: false,
            ..Default::default()
        };
        let _ = s.card_with_references(&holder, consents, t);
        let r = ask(&mut s, MessageKind::DrugInfo, &key, 2, t.plus_minutes(5));
        assert_eq!(r.header.result_code, Some(HealthResult::Provided));
        let r = ask(&mut s, MessageKind::CheckupInfo, &key, 2, t.plus_minutes(5));
        assert_eq!(r.header.result_code, Some(HealthResult::NotProvided));
        // The card consent lasts one day; then the standing one decides again.
        let r = ask(&mut s, MessageKind::DrugInfo, &key, 2, t.plus_days(2));
        assert_eq!(r.header.result_code, Some(HealthResult::NotProvided));
    }

    /// The face file (`Terminal::face`) is a card confirmation too: its consents
    /// decide the 薬剤情報 / 特定健診 request files that follow at this terminal.
    #[test]
    fn a_face_confirmation_carries_its_consents_to_the_request_files() {
        let mut term = crate::eligibility::Terminal::new(service("1313120014"));
        let t = now(&term.service);
        let (_, _, key) = key_with(&term.service, (false, true));
        let inst = term.service.institution.to_string();
        let drug = |term: &mut crate::eligibility::Terminal, at| {
            let out = term.handle_file(
                "YZKsiquc01req_1.xml",
                &request(MessageKind::DrugInfo, &inst, &key, 2),
                at,
            );
            parse_other_response(MessageKind::DrugInfo, &out.bytes)
                .unwrap()
                .header
                .result_code
        };
        assert_eq!(drug(&mut term, t), Some(HealthResult::NotProvided));
        let consents = ReaderConsents {
            pharmacists_info: true,
            ..Default::default()
        };
        let _ = term.face(&VerifiedCardHolder::from(key.clone()), consents, t);
        assert_eq!(
            drug(&mut term, t.plus_minutes(1)),
            Some(HealthResult::Provided)
        );
        // The card said no to 特定健診 here: that overrides the standing consent.
        let out = term.handle_file(
            "TKKsiquc01req_1.xml",
            &request(MessageKind::CheckupInfo, &inst, &key, 2),
            t.plus_minutes(2),
        );
        let r = parse_other_response(MessageKind::CheckupInfo, &out.bytes).unwrap();
        assert_eq!(r.header.result_code, Some(HealthResult::NotProvided));
    }

    #[test]
    fn pharmacies_see_no_checkups_but_drugs() {
        // Fee-table digit 4: a pharmacy (薬局).
        let p = crate::codes::Prefecture::new(13).unwrap();
        let code = crate::codes::InstitutionCode::new(p, FeeTable::Pharmacy, 12, 34).unwrap();
        let mut s = service(&code.to_string());
        let t = now(&s);
        let (_, _, key) = key_with(&s, (true, true));
        let r = ask(&mut s, MessageKind::CheckupInfo, &key, 2, t);
        assert_eq!(r.header.result_code, Some(HealthResult::NotProvided));
        assert!(r
            .header
            .message_contents
            .as_deref()
            .unwrap()
            .contains("薬局"));
        let r = ask(&mut s, MessageKind::DrugInfo, &key, 2, t);
        assert_eq!(r.header.result_code, Some(HealthResult::Provided));
        // Dental (digit 3) does see 特定健診.
        let code = crate::codes::InstitutionCode::new(p, FeeTable::Dental, 12, 34).unwrap();
        let mut s = service(&code.to_string());
        let r = ask(&mut s, MessageKind::CheckupInfo, &key, 2, t);
        assert_eq!(r.header.result_code, Some(HealthResult::Provided));
    }

    #[test]
    fn nothing_before_the_service_start_of_seed_003() {
        let mut s = service("1313120014");
        let (_, _, key) = key_with(&s, (true, true));
        let day = |y, m, d| VirtualTime::at(NaiveDate::from_ymd_opt(y, m, d).unwrap(), 9, 0);
        for (t, drug, checkup) in [
            (day(2021, 2, 28), false, false),
            (day(2021, 3, 1), false, true),
            (day(2021, 9, 30), false, true),
            (day(2021, 10, 1), true, true),
        ] {
            let r = ask(&mut s, MessageKind::DrugInfo, &key, 2, t);
            assert_eq!(
                r.header.result_code == Some(HealthResult::Provided),
                drug,
                "{t:?}"
            );
            let r = ask(&mut s, MessageKind::CheckupInfo, &key, 2, t);
            assert_eq!(
                r.header.result_code == Some(HealthResult::Provided),
                checkup,
                "{t:?}"
            );
        }
    }

    #[test]
    fn unknown_people_pdfs_and_bad_fields() {
        let mut s = service("1313120014");
        let t = now(&s);
        let (_, _, key) = key_with(&s, (true, true));
        let r = ask(&mut s, MessageKind::DrugInfo, &key, 1, t);
        assert!(r
            .header
            .message_contents
            .as_deref()
            .unwrap()
            .contains("PDF"));
        let mut other = key.clone();
        other.branch = Some("07".into());
        let r = ask(&mut s, MessageKind::DrugInfo, &other, 2, t);
        assert_eq!(r.header.result_code, Some(HealthResult::NotProvided));
        let inst = s.institution.to_string();
        let good =
            crate::eligibility::encoding::decode(&request(MessageKind::DrugInfo, &inst, &key, 2))
                .unwrap()
                .0
                .into_owned();
        for (bad, code, what) in [
            (
                good.replace("<StartDate>202301", "<StartDate>202313"),
                ErrorCode::InvalidDate,
                "StartDate",
            ),
            (
                good.replace("<StartDate>202301", "<StartDate>202501"),
                ErrorCode::InvalidDate,
                "after",
            ),
            (
                good.replace("<FileCategory>2", "<FileCategory>7"),
                ErrorCode::InvalidValue,
                "FileCategory",
            ),
            (
                good.replace("<BranchNumber>", "<BranchNumber>x"),
                ErrorCode::InvalidValue,
                "BranchNumber",
            ),
            (
                good.replace("<MedicalTreatmentFlag>1</MedicalTreatmentFlag>", ""),
                ErrorCode::MissingField,
                "MedicalTreatmentFlag",
            ),
        ] {
            let r = s.answer_other(
                MessageKind::DrugInfo,
                &encode(&bad, CharacterCode::ShiftJis),
                t,
            );
            assert_eq!(r.header.error_code, Some(code), "{what}");
            assert_eq!(r.header.result_code, Some(HealthResult::Refused));
            assert!(
                r.header.message_contents.as_deref().unwrap().contains(what),
                "{what}"
            );
            assert_eq!(r.header.arbitrary_file_identifier.as_deref(), Some("77"));
        }
    }
}
