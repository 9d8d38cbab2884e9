//! 照会番号 (reference number) registration: a clinic registers its own patient id
//! for an insured person, and later qualification answers — single, bulk and the
//! card (face) answers — carry it in `ReferenceNumber`, so the clinic finds its
//! patient without matching names (docs/INTERFACE.md §5; MR
//! `docs/ReceptionAgent_ReferenceNumber_Registration_Spec.md` §1, §17, §27).
//!
//! Requests (MR spec §7, `ReferenceNumberRequestBuilder.cs`): `MessageHeader` with
//! `MedicalInstitutionCode`, `ArbitraryFileIdentifier`; `MessageBody` with
//! `ReferenceNumberRegistrationInfo` (`ReferenceNumber`, `InsurerNumber` — a
//! 6-digit one space-padded to 8 —, `InsuredCardSymbol`,
//! `InsuredIdentificationNumber`, `InsuredBranchNumber`): one for `OQSsiimm01`
//! (single, answered at once), one or more for `OQSmuimm01` (bulk upload, answered
//! with a `ReceptionNumber`). `OQSmuimm02` downloads the bulk result by
//! `MessageBody/ReceptionNumber` (header: `MedicalInstitutionCode` only, MR spec
//! §13).
//!
//! Answers, as MR reads them (`ReferenceNumberResultParser.cs`,
//! `SingleReferenceRegistrationService.cs`): the header echoes
//! `MedicalInstitutionCode` and `ArbitraryFileIdentifier` (the download answer the
//! upload's identifier, and `MessageHeader/ReceptionNumber`); the upload answer
//! holds `ReceptionNumber` and `ProcessingResultStatus` in `MessageBody`; the
//! download answer one `BulkRegistrationUnit` per entry, each with
//! `ProcessingResultStatus` (1 正常, 2 エラー), `ProcessingResultCode`,
//! `ProcessingResultMessage` and the echoed `ReferenceNumberRegistrationInfo`; the
//! single answer the same fields directly in `MessageBody`, each once.
//!
//! *(our choice)*: a reference number is 1–50 ASCII letters or digits (MR sends
//! digits, at most 50); the registration takes effect when the request is
//! accepted; a person is registered once per terminal (a new number replaces the
//! old); per-entry result codes `R001`–`R004` (the real ones are not public); the
//! registry is bounded ([`super::other::OtherConfig::max_references`]).

use std::collections::BTreeMap;

use super::error::{EligibilityError, ErrorCode};
use super::other::{
    find_person, parse_insurer, CardKey, Ctx, JobPayload, OtherBody, OtherDesk, OtherJob,
    OtherResponse,
};
use super::tree::{Element, Writer};
use super::values::*;
use super::xml::MessageKind;

pub fn is_reference(kind: MessageKind) -> bool {
    matches!(
        kind,
        MessageKind::ReferenceSingle
            | MessageKind::ReferenceBulkUpload
            | MessageKind::ReferenceBulkDownload
    )
}

/// Longest reference number *(our choice; MR allows 50)*.
pub const MAX_REFERENCE: usize = 50;

/// The registered reference numbers of one terminal's institution.
#[derive(Debug, Clone, Default)]
pub struct ReferenceRegistry {
    by_card: BTreeMap<CardKey, String>,
}

impl ReferenceRegistry {
    pub fn is_empty(&self) -> bool {
        self.by_card.is_empty()
    }

    pub fn len(&self) -> usize {
        self.by_card.len()
    }

    pub fn get(&self, card: &CardKey) -> Option<&str> {
        self.by_card.get(card).map(String::as_str)
    }

    /// Register (or replace) a number; `false` if the registry is full.
    pub fn insert(&mut self, card: CardKey, number: String, max: usize) -> bool {
        if self.by_card.len() >= max && !self.by_card.contains_key(&card) {
            return false;
        }
        self.by_card.insert(card, number);
        true
    }
}

/// One registration and its result, the numbers echoed as they were sent.
#[derive(Clone, PartialEq, Eq)]
pub struct Registration {
    pub reference_number: String,
    pub insurer_number: String,
    pub insured_card_symbol: Option<String>,
    pub insured_identification_number: String,
    pub insured_branch_number: String,
    pub status: ProcessingResultStatus,
    pub code: Option<String>,
    pub message: Option<String>,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("status", &self.status)
            .field("code", &self.code)
            .field("person", &"<redacted>")
            .finish()
    }
}

/// Per-entry result codes *(our choice)*.
const BAD_REFERENCE: (&str, &str) = (
    "R001",
    "照会番号の形式が不正です / reference number must be 1–50 letters or digits",
);
const BAD_INSURER: (&str, &str) = ("R002", "保険者番号が不正です / invalid insurer number");
const NOT_FOUND: (&str, &str) = (
    "R003",
    "該当する資格情報がありません / no such insured person",
);
const FULL: (&str, &str) = ("R004", "照会番号の登録数が上限に達しました / registry full");

fn read_entry(e: Element<'_, '_>) -> Result<Registration, EligibilityError> {
    let t = |n: &str| -> Result<String, EligibilityError> {
        Ok(check_text(n, e.req_text(n)?, 64)?.to_string())
    };
    Ok(Registration {
        reference_number: t("ReferenceNumber")?,
        insurer_number: t("InsurerNumber")?,
        insured_card_symbol: e
            .opt_text("InsuredCardSymbol")?
            .map(|s| check_text("InsuredCardSymbol", s, 38).map(str::to_string))
            .transpose()?,
        insured_identification_number: t("InsuredIdentificationNumber")?,
        insured_branch_number: t("InsuredBranchNumber")?,
        status: ProcessingResultStatus::Ok,
        code: None,
        message: None,
    })
}

/// Check one entry against the population and register it; the entry's result.
fn register(desk: &mut OtherDesk, ctx: &Ctx<'_>, mut r: Registration) -> Registration {
    let fail = |mut r: Registration, (code, msg): (&str, &str)| {
        r.status = ProcessingResultStatus::Error;
        r.code = Some(code.into());
        r.message = Some(msg.into());
        r
    };
    let n = &r.reference_number;
    if n.is_empty() || n.len() > MAX_REFERENCE || !n.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return fail(r, BAD_REFERENCE);
    }
    let Ok(insurer) = parse_insurer("InsurerNumber", &r.insurer_number) else {
        return fail(r, BAD_INSURER);
    };
    let card = CardKey::of(
        insurer,
        r.insured_card_symbol.as_deref(),
        &r.insured_identification_number,
        &r.insured_branch_number,
    );
    if find_person(ctx.pop, &card).is_none() {
        return fail(r, NOT_FOUND);
    }
    if !desk
        .references
        .insert(card, n.clone(), desk.config.max_references)
    {
        return fail(r, FULL);
    }
    r.status = ProcessingResultStatus::Ok;
    r
}

pub(crate) fn answer(
    desk: &mut OtherDesk,
    ctx: &Ctx<'_>,
    kind: MessageKind,
    b: Element<'_, '_>,
) -> Result<OtherResponse, EligibilityError> {
    let entries = || -> Result<Vec<Registration>, EligibilityError> {
        b.all("ReferenceNumberRegistrationInfo")
            .enumerate()
            .map(|(i, e)| {
                read_entry(e).map_err(|mut err| {
                    err.detail = format!("entry {}: {}", i + 1, err.detail);
                    err
                })
            })
            .collect()
    };
    match kind {
        MessageKind::ReferenceSingle => {
            let e = b.req_child("ReferenceNumberRegistrationInfo")?;
            let r = register(desk, ctx, read_entry(e)?);
            Ok(OtherResponse {
                kind,
                header: ctx.header(SegmentOfResult::Normal),
                body: OtherBody::Registration(r),
            })
        }
        MessageKind::ReferenceBulkUpload => {
            let list = entries()?;
            if list.is_empty() || list.len() > desk.config.max_bulk {
                return Err(EligibilityError::new(
                    ErrorCode::BulkSize,
                    format!(
                        "{} entries, allowed 1 to {}",
                        list.len(),
                        desk.config.max_bulk
                    ),
                ));
            }
            let results: Vec<Registration> =
                list.into_iter().map(|r| register(desk, ctx, r)).collect();
            let count = results.len();
            let reception_number =
                super::other_bulk::accept(desk, ctx, kind, JobPayload::Registrations(results));
            Ok(OtherResponse {
                kind,
                header: ctx.header(SegmentOfResult::Normal),
                body: OtherBody::BulkAccepted {
                    reception_number,
                    reception_date_time: ctx.stamp,
                    count,
                },
            })
        }
        _ => super::other_bulk::download(desk, ctx, kind, b, |job: &OtherJob, rn| {
            match &job.payload {
                JobPayload::Registrations(units) => OtherBody::Registrations {
                    reception_number: rn,
                    units: units.clone(),
                },
                JobPayload::Partial(count) => OtherBody::Partial {
                    reception_number: rn,
                    count: *count,
                },
            }
        }),
    }
}

pub(crate) fn write_result(w: &mut Writer, r: &Registration) {
    w.leaf("ProcessingResultStatus", Some(r.status.code()))
        .leaf("ProcessingResultCode", r.code.as_deref())
        .leaf("ProcessingResultMessage", r.message.as_deref())
        .start("ReferenceNumberRegistrationInfo")
        .leaf("ReferenceNumber", Some(&r.reference_number))
        .leaf("InsurerNumber", Some(&r.insurer_number))
        .leaf("InsuredCardSymbol", r.insured_card_symbol.as_deref())
        .leaf(
            "InsuredIdentificationNumber",
            Some(&r.insured_identification_number),
        )
        .leaf("InsuredBranchNumber", Some(&r.insured_branch_number))
        .end();
}

/// `NumberOfProcessingResult`, `NumberOfNormalProcessing`, `NumberOfError`, as the
/// qualification bulk download has them (docs/INTERFACE.md §4) *(our choice here)*.
pub(crate) fn write_counts(w: &mut Writer, units: &[Registration]) {
    let ok = units
        .iter()
        .filter(|u| u.status == ProcessingResultStatus::Ok)
        .count();
    w.leaf("NumberOfProcessingResult", Some(units.len().to_string()))
        .leaf("NumberOfNormalProcessing", Some(ok.to_string()))
        .leaf("NumberOfError", Some((units.len() - ok).to_string()));
}

pub(crate) fn read_result(e: Element<'_, '_>) -> Result<Registration, EligibilityError> {
    let mut r = read_entry(e.req_child("ReferenceNumberRegistrationInfo")?)?;
    r.status = ProcessingResultStatus::parse(
        "ProcessingResultStatus",
        e.req_text("ProcessingResultStatus")?,
    )?;
    r.code = e.opt_text("ProcessingResultCode")?.map(str::to_string);
    r.message = e.opt_text("ProcessingResultMessage")?.map(str::to_string);
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eligibility::answer::{ReaderConsents, VerifiedCardHolder};
    use crate::eligibility::encoding::{encode, CharacterCode};
    use crate::eligibility::other::tests::{now, service};
    use crate::eligibility::other::{parse_other_response, Answered};
    use crate::eligibility::population::SearchKey;
    use crate::eligibility::xml::{Request, RequestBody, RequestHeader, ResponseBody};

    /// A registration request as MR's builder writes it.
    fn registration(reference: &str, keys: &[&SearchKey]) -> Vec<u8> {
        let entries: String = keys
            .iter()
            .map(|k| {
                format!(
                    "<ReferenceNumberRegistrationInfo><ReferenceNumber>{reference}</ReferenceNumber>\
                     <InsurerNumber>{:>8}</InsurerNumber><InsuredCardSymbol>{}</InsuredCardSymbol>\
                     <InsuredIdentificationNumber>{}</InsuredIdentificationNumber>\
                     <InsuredBranchNumber>{}</InsuredBranchNumber></ReferenceNumberRegistrationInfo>",
                    k.insurer_number.to_string(),
                    k.symbol.as_deref().unwrap_or(""),
                    k.number,
                    k.branch.as_deref().unwrap_or("")
                )
            })
            .collect();
        encode(
            &format!(
                "<?xml version=\"1.0\" encoding=\"shift_jis\" standalone=\"no\"?>\r\n<XmlMsg><MessageHeader>\
                 <MedicalInstitutionCode>1313120014</MedicalInstitutionCode>\
                 <ArbitraryFileIdentifier>20260929160112000-abcd1234</ArbitraryFileIdentifier></MessageHeader>\
                 <MessageBody>{entries}</MessageBody></XmlMsg>"
            ),
            CharacterCode::ShiftJis,
        )
    }

    fn single_inquiry(s: &crate::eligibility::Service, key: &SearchKey) -> Vec<u8> {
        Request {
            header: RequestHeader {
                qualification_confirmation_date: Some(s.population.config().epoch),
                medical_institution_code: s.institution,
                arbitrary_file_identifier: Some("q1".into()),
                character_code_identifier: None,
            },
            body: RequestBody::Single(key.to_search_info()),
        }
        .render(CharacterCode::ShiftJis)
    }

    fn reference_in(a: &Answered) -> Option<String> {
        let Answered::Qualification(r) = a else {
            panic!()
        };
        let ResponseBody::Single(ans) = &r.body else {
            panic!("{r:?}")
        };
        ans.results[0].reference_number.clone()
    }

    #[test]
    fn a_registered_number_appears_in_later_answers() {
        let mut s = service("1313120014");
        let t = now(&s);
        let key = s.population.key_of(3, 0).unwrap();
        let q = MessageKind::of_request_file("OQSsiquc01req_1.xml");
        assert_eq!(
            reference_in(&s.answer_any(q, &single_inquiry(&s, &key), t)),
            None
        );
        let r = s.answer_other(
            MessageKind::ReferenceSingle,
            &registration("24434", &[&key]),
            t,
        );
        assert_eq!(r.header.segment_of_result, SegmentOfResult::Normal);
        assert_eq!(
            r.header.arbitrary_file_identifier.as_deref(),
            Some("20260929160112000-abcd1234")
        );
        let OtherBody::Registration(reg) = &r.body else {
            panic!()
        };
        assert_eq!(reg.status, ProcessingResultStatus::Ok);
        assert_eq!(
            parse_other_response(MessageKind::ReferenceSingle, &r.render()).unwrap(),
            r
        );
        // The single inquiry, rendered and read back, now carries it …
        let a = s.answer_any(q, &single_inquiry(&s, &key), t.plus_minutes(1));
        assert_eq!(reference_in(&a).as_deref(), Some("24434"));
        let back = crate::eligibility::xml::parse_response(&a.render()).unwrap();
        let Answered::Qualification(r) = &a else {
            panic!()
        };
        assert_eq!(&back, r);
        // … and so does the card (face) answer.
        let face = s.card_with_references(
            &VerifiedCardHolder::from(key.clone()),
            ReaderConsents::default(),
            t,
        );
        let ResponseBody::Single(ans) = &face.body else {
            panic!()
        };
        assert_eq!(ans.results[0].reference_number.as_deref(), Some("24434"));
        // Another person does not.
        let other = s.population.key_of(4, 0).unwrap();
        assert_eq!(
            reference_in(&s.answer_any(q, &single_inquiry(&s, &other), t)),
            None
        );
    }

    /// The face file of a card confirmation (`Terminal::face`) carries the number
    /// registered through the request folder.
    #[test]
    fn a_face_file_carries_the_registered_number() {
        let mut term = crate::eligibility::Terminal::new(service("1313120014"));
        let t = now(&term.service);
        let key = term.service.population.key_of(8, 0).unwrap();
        let holder = VerifiedCardHolder::from(key.clone());
        let face_number = |term: &mut crate::eligibility::Terminal| {
            let out = term.face(&holder, ReaderConsents::default(), t);
            let r = crate::eligibility::xml::parse_response(&out.bytes).unwrap();
            let ResponseBody::Single(a) = r.body else {
                panic!()
            };
            a.results[0].reference_number.clone()
        };
        assert_eq!(face_number(&mut term), None);
        let out = term.handle_file("OQSsiimm01req_1.xml", &registration("4242", &[&key]), t);
        assert_eq!(out.summary.segment, SegmentOfResult::Normal);
        assert_eq!(face_number(&mut term).as_deref(), Some("4242"));
    }

    /// A registered number reaches the bulk inquiry's results too, in the
    /// `BulkConfirmUnit`'s `ReferenceNumber` (`answer::reference_key`), and reads
    /// back from the rendered download answer.
    #[test]
    fn a_registered_number_appears_in_bulk_results() {
        let mut s = service("1313120014");
        let t = now(&s);
        let key = s.population.key_of(5, 0).unwrap();
        let other = s.population.key_of(6, 0).unwrap();
        let r = s.answer_other(
            MessageKind::ReferenceSingle,
            &registration("777", &[&key]),
            t,
        );
        assert_eq!(r.header.segment_of_result, SegmentOfResult::Normal);
        let header = RequestHeader {
            qualification_confirmation_date: Some(s.population.config().epoch),
            medical_institution_code: s.institution,
            arbitrary_file_identifier: Some("b1".into()),
            character_code_identifier: None,
        };
        let up = Request {
            header: header.clone(),
            body: RequestBody::BulkUpload(vec![key.to_search_info(), other.to_search_info()]),
        };
        let ResponseBody::BulkAccepted {
            reception_number, ..
        } = s.handle_request(&up, t).body
        else {
            panic!()
        };
        let down = Request {
            header,
            body: RequestBody::BulkDownload { reception_number },
        }
        .render(CharacterCode::Utf8);
        let later = t.plus_minutes(s.config.bulk_delay_minutes);
        let a = s.answer_any(
            MessageKind::of_request_file("OQSmuquc02req_1.xml"),
            &down,
            later,
        );
        let Answered::Qualification(r) = &a else {
            panic!()
        };
        let back = crate::eligibility::xml::parse_response(&a.render()).unwrap();
        assert_eq!(&back, r);
        let ResponseBody::BulkResults { answers } = &back.body else {
            panic!("{back:?}")
        };
        let numbers: Vec<_> = answers
            .iter()
            .map(|u| u.reference_number.as_deref())
            .collect();
        assert_eq!(numbers, [Some("777"), None]);
    }

    #[test]
    fn bulk_registration_upload_pending_download_and_per_entry_errors() {
        let mut s = service("1313120014");
        let t = now(&s);
        let a = s.population.key_of(10, 0).unwrap();
        let mut unknown = s.population.key_of(11, 0).unwrap();
        unknown.branch = Some("07".into());
        let up = s.answer_other(
            MessageKind::ReferenceBulkUpload,
            &registration("501", &[&a, &unknown]),
            t,
        );
        let OtherBody::BulkAccepted {
            reception_number,
            count,
            ..
        } = up.body.clone()
        else {
            panic!("{up:?}")
        };
        assert_eq!(count, 2);
        assert_eq!(
            parse_other_response(MessageKind::ReferenceBulkUpload, &up.render()).unwrap(),
            up
        );
        let down = encode(
            &format!(
                "<?xml version=\"1.0\" encoding=\"Shift_JIS\" standalone=\"no\"?>\r\n<XmlMsg><MessageHeader>\
                 <MedicalInstitutionCode>1313120014</MedicalInstitutionCode></MessageHeader><MessageBody>\
                 <ReceptionNumber>{reception_number}</ReceptionNumber></MessageBody></XmlMsg>"
            ),
            CharacterCode::ShiftJis,
        );
        let r = s.answer_other(MessageKind::ReferenceBulkDownload, &down, t.plus_minutes(1));
        assert_eq!(r.header.segment_of_result, SegmentOfResult::Processing);
        let r = s.answer_other(MessageKind::ReferenceBulkDownload, &down, t.plus_minutes(5));
        assert_eq!(
            r.header.reception_number.as_deref(),
            Some(reception_number.as_str())
        );
        // The upload's identifier, as MR checks it.
        assert_eq!(
            r.header.arbitrary_file_identifier.as_deref(),
            Some("20260929160112000-abcd1234")
        );
        let OtherBody::Registrations { units, .. } = &r.body else {
            panic!("{r:?}")
        };
        assert_eq!(units.len(), 2);
        assert_eq!(units[0].status, ProcessingResultStatus::Ok);
        assert_eq!(units[1].status, ProcessingResultStatus::Error);
        assert_eq!(units[1].code.as_deref(), Some("R003"));
        assert_eq!(
            parse_other_response(MessageKind::ReferenceBulkDownload, &r.render()).unwrap(),
            r
        );
        let q = MessageKind::of_request_file("OQSsiquc01req_2.xml");
        assert_eq!(
            reference_in(&s.answer_any(q, &single_inquiry(&s, &a), t)).as_deref(),
            Some("501")
        );
        // Bad numbers are per-entry errors; an empty upload is refused whole.
        let r = s.answer_other(
            MessageKind::ReferenceSingle,
            &registration("12-34", &[&a]),
            t,
        );
        let OtherBody::Registration(reg) = &r.body else {
            panic!()
        };
        assert_eq!(reg.code.as_deref(), Some("R001"));
        let r = s.answer_other(MessageKind::ReferenceBulkUpload, &registration("1", &[]), t);
        assert_eq!(r.header.error_code, Some(ErrorCode::BulkSize));
        let r = s.answer_other(MessageKind::ReferenceBulkDownload, &down, t.plus_days(8));
        assert_eq!(r.header.error_code, Some(ErrorCode::UnknownReceptionNumber));
    }
}
