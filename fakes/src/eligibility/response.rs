//! Responses of the XmlMsg vocabulary (docs/DOMAIN.md §7): what the qualification
//! terminal (資格確認端末) writes into `res/`, both directions — the writer the
//! terminal uses and the reader clinic-side simulations and the round-trip tests use
//! ([`parse_response`]).

use chrono::{NaiveDate, NaiveDateTime};

use super::encoding::{self, CharacterCode};
use super::error::{EligibilityError, ErrorCode};
use super::tree::{self, Element, Padded, TreeLimits, Writer};
use super::values::*;
use crate::codes::InsurerNumber;

use super::request::*;

/// `MessageHeader` of a response. Element order: SK `MessageHeader.cs` (single) and
/// `QCBIDXmlMsgResponse.cs` (bulk download), merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHeader {
    /// 処理実施日時, `YYYYMMDDHHmmss` (docs/INTERFACE.md §2).
    pub process_execution_time: NaiveDateTime,
    pub qualification_confirmation_date: Option<NaiveDate>,
    /// Echoed as given (it may be the invalid code that caused an abnormal answer).
    pub medical_institution_code: Option<String>,
    pub arbitrary_file_identifier: Option<String>,
    /// 受付番号 of a bulk download answer (`MessageHeader/ReceptionNumber`: SK
    /// `QCBIDXmlMsgResponse.cs`, which refuses an answer whose number differs).
    pub reception_number: Option<String>,
    /// 照会区分; absent in bulk answers (SK's bulk models have none).
    pub reference_classification: Option<ReferenceClassification>,
    pub segment_of_result: SegmentOfResult,
    /// Set exactly when `segment_of_result` is abnormal (9).
    pub error_code: Option<ErrorCode>,
    /// `日本語 / English: detail`.
    pub error_message: Option<String>,
    /// `NumberOfProcessingResult` / `NumberOfNormalProcessing` / `NumberOfError` of a
    /// finished bulk download (SK `QCBIDXmlMsgResponse.cs`).
    pub counts: Option<BulkCounts>,
    pub character_code_identifier: CharacterCode,
}

/// The counts in the header of a bulk download answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkCounts {
    /// 処理結果件数: one per `BulkConfirmUnit`.
    pub processing_results: usize,
    /// 正常件数 (`ProcessingResultStatus` 1).
    pub normal: usize,
    /// エラー件数 (`ProcessingResultStatus` 2).
    pub errors: usize,
}

/// A consent (同意) as the result carries it: the flag, when it was given
/// (`…ConsTime`, absent when the flag is 0: MC fixture) and, for the information
/// that becomes viewable, until when (`…AvailableTime`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consent {
    pub flag: ConsentFlag,
    pub time: Option<NaiveDateTime>,
    pub available_time: Option<NaiveDateTime>,
}

impl Consent {
    pub fn given(&self) -> bool {
        self.flag.is_given()
    }
}

/// 高齢受給者証情報 (ages 70–74).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElderlyRecipient {
    pub certificate_date: NaiveDate,
    pub valid_start: NaiveDate,
    pub valid_end: NaiveDate,
    /// 一部負担金割合 in percent (20 or 30).
    pub contribution_ratio: u8,
}

/// 限度額適用認定証関連情報: returned only with the patient's consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitCertificate {
    pub class: LimitCertificateClass,
    pub category: LimitCategory,
    pub certificate_date: NaiveDate,
    pub valid_start: NaiveDate,
    pub valid_end: NaiveDate,
    /// 長期入院該当年月日 (only for 減額認定証 holders with long stays).
    pub long_term_date: Option<NaiveDate>,
}

/// 特定疾病療養受療証情報: returned only with the patient's consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecificDiseaseCertificate {
    pub category: SpecificDisease,
    pub certificate_date: NaiveDate,
    pub valid_start: NaiveDate,
    pub valid_end: Option<NaiveDate>,
    /// 自己負担限度額 in yen per month (10,000 or 20,000).
    pub self_pay: u32,
}

/// 医療扶助 (public assistance) of a card class A1 result: the numbers that stand
/// for the insurer and the insured, the welfare office, and the medical tickets
/// (`PublicExpenseResultList/MedicalTicketInfo`). Element names: OD
/// `QualificationFaceExporter.cs`, `QualificationImportModels.cs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MedicalAid {
    /// 公費負担者番号 (法別 12).
    pub public_expense_number: String,
    /// 公費受給者番号.
    pub beneficiary_number: String,
    /// 福祉事務所名.
    pub welfare_office_name: String,
    pub tickets: Vec<MedicalTicket>,
}

/// One 医療券 (`MedicalTicketInfo`). The field names are OD's; their code values
/// are not public, so the values here are *(our choice)* and the subset is the
/// one we fill (OD lists 26; we write 12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MedicalTicket {
    /// `TicketType` (1 医療券 *(our choice)*).
    pub ticket_type: String,
    pub valid_date: NaiveDate,
    pub expiration_date: Option<NaiveDate>,
    /// `IssueNumber`.
    pub issue_number: String,
    /// `MedicalTreatmentMonth`, `YYYYMM`.
    pub treatment_month: String,
    /// `DesignatedMedicalInstitutionName`.
    pub designated_institution_name: Option<String>,
    /// `MedicalTreatmentType` (1 入院外 *(our choice)*).
    pub treatment_type: String,
    /// `SelfPayAmount` in yen (本人支払額).
    pub self_pay_amount: u32,
    /// `DistrictContactName` (地区担当員).
    pub district_contact_name: Option<String>,
    /// `HandlingContactName` (取扱担当者).
    pub handling_contact_name: Option<String>,
    /// `SingleOrCombinedUse` (1 単独, 2 併用 *(our choice)*).
    pub single_or_combined_use: String,
    /// `StatusOfSocialInsurance` (社会保険の有無, 0/1 *(our choice)*).
    pub status_of_social_insurance: String,
}

/// `ResultOfQualificationConfirmation`: one insurance record (資格情報). Element
/// names and order: SK `ResultOfQualificationConfirmation.cs`, with what OD adds
/// (`QualificationDate`, `DisqualificationDate`, the 医療扶助 elements); MC
/// `ResultOfQualificationConfirmation.ts` requires `InsuredCardClassification`,
/// `Name`, `Sex1`, `Birthdate` and `InsurerName`.
#[derive(Clone, PartialEq, Eq)]
pub struct Qualification {
    pub card_class: InsuredCardClass,
    pub insurer_number: InsurerNumber,
    pub insured_card_symbol: Option<String>,
    pub insured_identification_number: String,
    pub insured_branch_number: Option<String>,
    pub person_family: PersonFamily,
    /// 被保険者氏名 (世帯主氏名): the insured person's name, also on a dependant's record.
    pub insured_name: Option<String>,
    /// 氏名 (漢字).
    pub name: String,
    /// 氏名（その他）: a registered alias (通称).
    pub name_of_other: Option<String>,
    /// 氏名（カナ）, half-width katakana (半角カナ).
    pub name_kana: String,
    pub name_of_other_kana: Option<String>,
    /// 性別1 (券面表面の性別).
    pub sex: Sex,
    /// 性別2: set where the card shows sex on its back (MC comment on `Sex2`).
    pub sex2: Option<Sex>,
    pub birthdate: NaiveDate,
    pub address: Option<String>,
    pub post_number: Option<String>,
    /// 資格取得年月日.
    pub qualification_date: NaiveDate,
    /// 資格喪失年月日 (the record ended).
    pub disqualification_date: Option<NaiveDate>,
    /// 被保険者証交付年月日 (`InsuredCertificateIssuanceDate`).
    pub certificate_issuance_date: Option<NaiveDate>,
    /// 有効開始年月日 / 有効終了年月日 of the card.
    pub valid_start: NaiveDate,
    pub valid_end: Option<NaiveDate>,
    /// 一部負担金割合 in percent (10, 20, 30): 後期高齢者 only (insurer numbers
    /// 39…: MC, SK `OnlineKogakuHelper.cs`).
    pub contribution_ratio: Option<u8>,
    /// 未就学区分 1.
    pub preschool: Option<PreschoolClassification>,
    /// 資格喪失事由 of an ended record.
    pub reason_of_loss: Option<ReasonOfLoss>,
    /// 保険者名称 (in every result: MC refuses one without it).
    pub insurer_name: String,
    pub medical_aid: Option<MedicalAid>,
    pub elderly: Option<ElderlyRecipient>,
    /// Consent for 限度額適用認定証関連情報, and the block when consented.
    pub limit_consent: Option<Consent>,
    pub limit: Option<LimitCertificate>,
    /// Consent for 特定疾病療養受療証, and the certificates when consented.
    pub specific_diseases_consent: Option<Consent>,
    pub specific_diseases: Vec<SpecificDiseaseCertificate>,
    /// 特定健診情報閲覧同意 (card only).
    pub specific_health_checkups_consent: Option<Consent>,
    /// 薬剤情報閲覧同意 (card only).
    pub pharmacists_info_consent: Option<Consent>,
    /// 照会番号 registered for this person (SK, OD exporter: in the result;
    /// docs/INTERFACE.md §3, §5; registered by `super::reference`).
    pub reference_number: Option<String>,
    /// 診療情報閲覧同意 (card only).
    pub diagnosis_info_consent: Option<Consent>,
    /// 手術情報閲覧同意 (card only).
    pub operation_info_consent: Option<Consent>,
    /// 資格確認キー of a card confirmation (seen in face files: MR docs). Its
    /// position at the end of the result is *(our choice)*.
    pub qualification_confirmation_key: Option<String>,
}

// Redacted: names, numbers, address and birthdate are personal data (synthetic here,
// but logs must not get used to carrying them).
impl std::fmt::Debug for Qualification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Qualification")
            .field("insurer_number", &self.insurer_number)
            .field("card_class", &self.card_class)
            .field("person", &"<redacted>")
            .finish()
    }
}

/// The result of one inquiry: a single answer's `MessageBody`, or one
/// `BulkConfirmUnit` of a bulk download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The request's `QualificationConfirmSearchInfo`, echoed (with its
    /// `ArbitraryIdentifier`: SK `MessageBody.cs`, MC `MessageBody.ts`). `None` for
    /// card confirmations, which have no such request.
    pub search: Option<SearchInfo>,
    pub processing_result_status: ProcessingResultStatus,
    /// On a normal answer: a note (付帯情報), e.g. a card certificate that expires
    /// soon (MC `MessageBody.ts`).
    pub processing_result_code: Option<String>,
    pub processing_result_message: Option<String>,
    pub qualification_validity: Option<QualificationValidity>,
    pub results: Vec<Qualification>,
    /// 処方箋発行形態 the patient chose at the reader (card answers; MC).
    pub prescription_issue_select: Option<PrescriptionIssueSelect>,
    /// 照会番号 of a `BulkConfirmUnit` (SK, OD). Single answers carry it in the
    /// result instead.
    pub reference_number: Option<String>,
}

impl Answer {
    /// The echoed `ArbitraryIdentifier`.
    pub fn arbitrary_identifier(&self) -> Option<&str> {
        self.search.as_ref()?.arbitrary_identifier.as_deref()
    }
}

/// `MessageBody` of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseBody {
    /// Abnormal answers carry an empty body.
    Empty,
    Single(Answer),
    /// Upload answer: `ReceptionNumber` and `ReceptionDateTime` (SK
    /// `QCBIXmlMsgResponse.cs`, OD).
    BulkAccepted {
        reception_number: String,
        reception_date_time: NaiveDateTime,
    },
    /// `SegmentOfResult` 2: the bulk job is not finished (its number is in the
    /// header).
    BulkPending,
    /// One `BulkConfirmUnit` per uploaded inquiry, in upload order (number and
    /// counts in the header).
    BulkResults {
        answers: Vec<Answer>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub header: ResponseHeader,
    pub body: ResponseBody,
}

impl Response {
    /// The document, encoded as its `CharacterCodeIdentifier` says.
    pub fn render(&self) -> Vec<u8> {
        let code = self.header.character_code_identifier;
        let hd = &self.header;
        let mut w = Writer::new(code);
        w.start("XmlMsg")
            .start("MessageHeader")
            .leaf("ProcessExecutionTime", Some(hd.process_execution_time))
            .leaf(
                "QualificationConfirmationDate",
                hd.qualification_confirmation_date,
            )
            .leaf(
                "MedicalInstitutionCode",
                hd.medical_institution_code.as_deref(),
            )
            .leaf(
                "ArbitraryFileIdentifier",
                hd.arbitrary_file_identifier.as_deref(),
            )
            .leaf("ReceptionNumber", hd.reception_number.as_deref())
            .leaf(
                "ReferenceClassification",
                hd.reference_classification.map(|r| r.code()),
            )
            .leaf("SegmentOfResult", Some(hd.segment_of_result.code()))
            .leaf("ErrorCode", hd.error_code.map(|c| c.code()))
            .leaf("ErrorMessage", hd.error_message.as_deref());
        if let Some(c) = hd.counts {
            w.leaf(
                "NumberOfProcessingResult",
                Some(count(c.processing_results)),
            )
            .leaf("NumberOfNormalProcessing", Some(count(c.normal)))
            .leaf("NumberOfError", Some(count(c.errors)));
        }
        w.leaf(
            "CharacterCodeIdentifier",
            Some(hd.character_code_identifier.identifier()),
        )
        .end()
        .start("MessageBody");
        match &self.body {
            ResponseBody::Empty | ResponseBody::BulkPending => {}
            ResponseBody::Single(a) => write_answer(&mut w, a),
            ResponseBody::BulkAccepted {
                reception_number,
                reception_date_time,
            } => {
                w.leaf("ReceptionNumber", Some(reception_number))
                    .leaf("ReceptionDateTime", Some(*reception_date_time));
            }
            ResponseBody::BulkResults { answers } => {
                for a in answers {
                    write_unit(&mut w, a);
                }
            }
        }
        w.finish()
    }
}

fn count(n: usize) -> Padded {
    Padded(u32::try_from(n).unwrap_or(u32::MAX), 1)
}

/// A single answer's body: SK `MessageBody.cs` order, then MC's
/// `PrescriptionIssueSelect`.
fn write_answer(w: &mut Writer, a: &Answer) {
    w.leaf(
        "ProcessingResultStatus",
        Some(a.processing_result_status.code()),
    )
    .leaf("ProcessingResultCode", a.processing_result_code.as_deref())
    .leaf(
        "ProcessingResultMessage",
        a.processing_result_message.as_deref(),
    )
    .leaf(
        "QualificationValidity",
        a.qualification_validity.map(|v| v.code()),
    );
    if !a.results.is_empty() {
        w.start("ResultList");
        for q in &a.results {
            write_qualification(w, q);
        }
        w.end();
    }
    if let Some(s) = &a.search {
        write_search(w, s);
    }
    w.leaf(
        "PrescriptionIssueSelect",
        a.prescription_issue_select.map(|p| p.code()),
    );
}

/// One `BulkConfirmUnit` (SK `QCBIDXmlMsgResponse.cs`): the echoed search, the
/// status, the results directly inside, the reference number.
fn write_unit(w: &mut Writer, a: &Answer) {
    w.start("BulkConfirmUnit");
    if let Some(s) = &a.search {
        write_search(w, s);
    }
    w.leaf(
        "ProcessingResultStatus",
        Some(a.processing_result_status.code()),
    )
    .leaf("ProcessingResultCode", a.processing_result_code.as_deref())
    .leaf(
        "ProcessingResultMessage",
        a.processing_result_message.as_deref(),
    )
    .leaf(
        "QualificationValidity",
        a.qualification_validity.map(|v| v.code()),
    );
    for q in &a.results {
        write_qualification(w, q);
    }
    w.leaf("ReferenceNumber", a.reference_number.as_deref());
    w.end();
}

fn consent_leaves(w: &mut Writer, names: [&str; 3], c: Option<Consent>) {
    if let Some(c) = c {
        w.leaf(names[0], Some(c.flag.code())).leaf(names[1], c.time);
        if !names[2].is_empty() {
            w.leaf(names[2], c.available_time);
        }
    }
}

const LIMIT_CONSENT: [&str; 3] = [
    "LimitApplicationCertificateRelatedConsFlg",
    "LimitApplicationCertificateRelatedConsTime",
    "",
];
const SPECIFIC_DISEASES_CONSENT: [&str; 3] = [
    "SpecificDiseasesCertificateRelatedConsFlg",
    "SpecificDiseasesCertificateRelatedConsTime",
    "",
];
const CHECKUPS_CONSENT: [&str; 3] = [
    "SpecificHealthCheckupsInfoConsFlg",
    "SpecificHealthCheckupsInfoConsTime",
    "SpecificHealthCheckupsInfoAvailableTime",
];
const PHARMACISTS_CONSENT: [&str; 3] = [
    "PharmacistsInfoConsFlg",
    "PharmacistsInfoConsTime",
    "PharmacistsInfoAvailableTime",
];
const DIAGNOSIS_CONSENT: [&str; 3] = [
    "DiagnosisInfoConsFlg",
    "DiagnosisInfoConsTime",
    "DiagnosisInfoAvailableTime",
];
const OPERATION_CONSENT: [&str; 3] = [
    "OperationInfoConsFlg",
    "OperationInfoConsTime",
    "OperationInfoAvailableTime",
];

fn write_qualification(w: &mut Writer, q: &Qualification) {
    w.start("ResultOfQualificationConfirmation")
        .leaf("InsuredCardClassification", Some(q.card_class.code()))
        .leaf("InsurerNumber", Some(q.insurer_number))
        .leaf("InsuredCardSymbol", q.insured_card_symbol.as_deref())
        .leaf(
            "InsuredIdentificationNumber",
            Some(&q.insured_identification_number),
        )
        .leaf("InsuredBranchNumber", q.insured_branch_number.as_deref());
    if let Some(m) = &q.medical_aid {
        w.leaf("PublicExpenseNumber", Some(&m.public_expense_number))
            .leaf("BeneficiaryNumber", Some(&m.beneficiary_number));
    }
    w.leaf("PersonalFamilyClassification", Some(q.person_family.code()))
        .leaf("InsuredName", q.insured_name.as_deref())
        .leaf("Name", Some(&q.name))
        .leaf("NameOfOther", q.name_of_other.as_deref())
        .leaf("NameKana", Some(&q.name_kana))
        .leaf("NameOfOtherKana", q.name_of_other_kana.as_deref())
        .leaf("Sex1", Some(q.sex.code()))
        .leaf("Sex2", q.sex2.map(|s| s.code()))
        .leaf("Birthdate", Some(q.birthdate))
        .leaf("Address", q.address.as_deref())
        .leaf("PostNumber", q.post_number.as_deref())
        .leaf("QualificationDate", Some(q.qualification_date))
        .leaf("DisqualificationDate", q.disqualification_date)
        .leaf(
            "InsuredCertificateIssuanceDate",
            q.certificate_issuance_date,
        )
        .leaf("InsuredCardValidDate", Some(q.valid_start))
        .leaf("InsuredCardExpirationDate", q.valid_end)
        .leaf(
            "InsuredPartialContributionRatio",
            q.contribution_ratio.map(|r| Padded(r.into(), 3)),
        )
        .leaf("PreschoolClassification", q.preschool.map(|p| p.code()))
        .leaf("ReasonOfLoss", q.reason_of_loss.map(|r| r.code()))
        .leaf("InsurerName", Some(&q.insurer_name));
    if let Some(m) = &q.medical_aid {
        w.leaf("WelfareOfficeName", Some(&m.welfare_office_name));
    }
    if let Some(el) = &q.elderly {
        w.start("ElderlyRecipientCertificateInfo")
            .leaf("ElderlyRecipientCertificateDate", Some(el.certificate_date))
            .leaf("ElderlyRecipientValidStartDate", Some(el.valid_start))
            .leaf("ElderlyRecipientValidEndDate", Some(el.valid_end))
            .leaf(
                "ElderlyRecipientContributionRatio",
                Some(Padded(el.contribution_ratio.into(), 3)),
            )
            .end();
    }
    consent_leaves(w, LIMIT_CONSENT, q.limit_consent);
    if let Some(l) = &q.limit {
        w.start("LimitApplicationCertificateRelatedInfo")
            .leaf(
                "LimitApplicationCertificateClassification",
                Some(l.class.code()),
            )
            .leaf(
                "LimitApplicationCertificateClassificationFlag",
                Some(l.category.code()),
            )
            .leaf("LimitApplicationCertificateDate", Some(l.certificate_date))
            .leaf(
                "LimitApplicationCertificateValidStartDate",
                Some(l.valid_start),
            )
            .leaf("LimitApplicationCertificateValidEndDate", Some(l.valid_end))
            .leaf("LimitApplicationCertificateLongTermDate", l.long_term_date)
            .end();
    }
    consent_leaves(w, SPECIFIC_DISEASES_CONSENT, q.specific_diseases_consent);
    if !q.specific_diseases.is_empty() {
        w.start("SpecificDiseasesCertificateList");
        for s in &q.specific_diseases {
            w.start("SpecificDiseasesCertificateInfo")
                .leaf("SpecificDiseasesDiseaseCategory", Some(s.category.code()))
                .leaf("SpecificDiseasesCertificateDate", Some(s.certificate_date))
                .leaf("SpecificDiseasesValidStartDate", Some(s.valid_start))
                .leaf("SpecificDiseasesValidEndDate", s.valid_end)
                .leaf("SpecificDiseasesSelfPay", Some(Padded(s.self_pay, 0)))
                .end();
        }
        w.end();
    }
    if let Some(m) = q.medical_aid.as_ref().filter(|m| !m.tickets.is_empty()) {
        w.start("PublicExpenseResultList");
        for t in &m.tickets {
            w.start("MedicalTicketInfo")
                .leaf("TicketType", Some(&t.ticket_type))
                .leaf("MedicalTicketValidDate", Some(t.valid_date))
                .leaf("MedicalTicketExpirationDate", t.expiration_date)
                .leaf("IssueNumber", Some(&t.issue_number))
                .leaf("MedicalTreatmentMonth", Some(&t.treatment_month))
                .leaf(
                    "DesignatedMedicalInstitutionName",
                    t.designated_institution_name.as_deref(),
                )
                .leaf("MedicalTreatmentType", Some(&t.treatment_type))
                .leaf("SelfPayAmount", Some(Padded(t.self_pay_amount, 1)))
                .leaf("DistrictContactName", t.district_contact_name.as_deref())
                .leaf("HandlingContactName", t.handling_contact_name.as_deref())
                .leaf("SingleOrCombinedUse", Some(&t.single_or_combined_use))
                .leaf(
                    "StatusOfSocialInsurance",
                    Some(&t.status_of_social_insurance),
                )
                .end();
        }
        w.end();
    }
    consent_leaves(w, CHECKUPS_CONSENT, q.specific_health_checkups_consent);
    consent_leaves(w, PHARMACISTS_CONSENT, q.pharmacists_info_consent);
    w.leaf("ReferenceNumber", q.reference_number.as_deref());
    consent_leaves(w, DIAGNOSIS_CONSENT, q.diagnosis_info_consent);
    consent_leaves(w, OPERATION_CONSENT, q.operation_info_consent);
    w.leaf(
        "QualificationConfirmationKey",
        q.qualification_confirmation_key.as_deref(),
    );
    w.end();
}

// ---------------------------------------------------------------------------------
// Reading responses back.

/// Decode and parse a response (the clinic's side of the file drop). Reads back
/// everything [`Response::render`] writes (property test in `props`).
pub fn parse_response(bytes: &[u8]) -> Result<Response, EligibilityError> {
    let (text, _) = encoding::decode(bytes)?;
    let doc = tree::parse(&text, TreeLimits::default())?;
    let (h, b) = message_parts(doc.root())?;
    let n = |name: &str| -> Result<Option<usize>, EligibilityError> {
        h.opt_text(name)?
            .map(|s| {
                s.parse()
                    .map_err(|_| EligibilityError::new(ErrorCode::InvalidValue, name.to_string()))
            })
            .transpose()
    };
    let counts = match (
        n("NumberOfProcessingResult")?,
        n("NumberOfNormalProcessing")?,
        n("NumberOfError")?,
    ) {
        (None, None, None) => None,
        (Some(p), Some(o), Some(e)) => Some(BulkCounts {
            processing_results: p,
            normal: o,
            errors: e,
        }),
        _ => {
            return Err(EligibilityError::new(
                ErrorCode::MissingField,
                "MessageHeader/NumberOf*: all three or none",
            ))
        }
    };
    let header = ResponseHeader {
        process_execution_time: parse_time(
            "ProcessExecutionTime",
            h.req_text("ProcessExecutionTime")?,
        )?,
        qualification_confirmation_date: h
            .opt_text("QualificationConfirmationDate")?
            .map(|s| parse_date("QualificationConfirmationDate", s))
            .transpose()?,
        medical_institution_code: h.opt_text("MedicalInstitutionCode")?.map(str::to_string),
        arbitrary_file_identifier: h.opt_text("ArbitraryFileIdentifier")?.map(str::to_string),
        reception_number: h.opt_text("ReceptionNumber")?.map(str::to_string),
        reference_classification: h
            .opt_text("ReferenceClassification")?
            .map(|s| ReferenceClassification::parse("ReferenceClassification", s))
            .transpose()?,
        segment_of_result: SegmentOfResult::parse(
            "SegmentOfResult",
            h.req_text("SegmentOfResult")?,
        )?,
        error_code: h
            .opt_text("ErrorCode")?
            .map(|s| {
                ErrorCode::from_code(s)
                    .ok_or_else(|| EligibilityError::new(ErrorCode::InvalidValue, "ErrorCode"))
            })
            .transpose()?,
        error_message: h.opt_text("ErrorMessage")?.map(str::to_string),
        counts,
        character_code_identifier: CharacterCode::from_identifier(
            h.req_text("CharacterCodeIdentifier")?,
        )
        .ok_or_else(|| EligibilityError::new(ErrorCode::InvalidValue, "CharacterCodeIdentifier"))?,
    };
    let body = if header.segment_of_result == SegmentOfResult::Abnormal {
        ResponseBody::Empty
    } else if let Some(r) = b.opt_text("ReceptionNumber")? {
        ResponseBody::BulkAccepted {
            reception_number: r.to_string(),
            reception_date_time: parse_time("ReceptionDateTime", b.req_text("ReceptionDateTime")?)?,
        }
    } else if header.reception_number.is_some() {
        if header.counts.is_some() {
            let answers = b
                .all("BulkConfirmUnit")
                .map(read_unit)
                .collect::<Result<_, _>>()?;
            ResponseBody::BulkResults { answers }
        } else {
            ResponseBody::BulkPending
        }
    } else {
        ResponseBody::Single(read_answer(b)?)
    };
    Ok(Response { header, body })
}

fn read_status(b: Element<'_, '_>) -> Result<Answer, EligibilityError> {
    Ok(Answer {
        search: match b.child("QualificationConfirmSearchInfo")? {
            None => None,
            Some(s) => Some(read_search(&s.fields(SEARCH_FIELDS))?),
        },
        processing_result_status: ProcessingResultStatus::parse(
            "ProcessingResultStatus",
            b.req_text("ProcessingResultStatus")?,
        )?,
        processing_result_code: b.opt_text("ProcessingResultCode")?.map(str::to_string),
        processing_result_message: b.opt_text("ProcessingResultMessage")?.map(str::to_string),
        qualification_validity: b
            .opt_text("QualificationValidity")?
            .map(|s| QualificationValidity::parse("QualificationValidity", s))
            .transpose()?,
        results: Vec::new(),
        prescription_issue_select: None,
        reference_number: None,
    })
}

fn read_answer(b: Element<'_, '_>) -> Result<Answer, EligibilityError> {
    let mut a = read_status(b)?;
    if let Some(l) = b.child("ResultList")? {
        a.results = l
            .all("ResultOfQualificationConfirmation")
            .map(read_qualification)
            .collect::<Result<_, _>>()?;
    }
    a.prescription_issue_select = b
        .opt_text("PrescriptionIssueSelect")?
        .map(|s| PrescriptionIssueSelect::parse("PrescriptionIssueSelect", s))
        .transpose()?;
    Ok(a)
}

fn read_unit(b: Element<'_, '_>) -> Result<Answer, EligibilityError> {
    let mut a = read_status(b)?;
    a.results = b
        .all("ResultOfQualificationConfirmation")
        .map(read_qualification)
        .collect::<Result<_, _>>()?;
    a.reference_number = b.opt_text("ReferenceNumber")?.map(str::to_string);
    Ok(a)
}

fn date_of(e: Element<'_, '_>, n: &str) -> Result<NaiveDate, EligibilityError> {
    parse_date(n, e.req_text(n)?)
}

fn opt_date_of(e: Element<'_, '_>, n: &str) -> Result<Option<NaiveDate>, EligibilityError> {
    e.opt_text(n)?.map(|s| parse_date(n, s)).transpose()
}

fn opt_time_of(e: Element<'_, '_>, n: &str) -> Result<Option<NaiveDateTime>, EligibilityError> {
    if n.is_empty() {
        return Ok(None);
    }
    e.opt_text(n)?.map(|s| parse_time(n, s)).transpose()
}

fn number_of<T: std::str::FromStr>(e: Element<'_, '_>, n: &str) -> Result<T, EligibilityError> {
    e.req_text(n)?
        .parse()
        .map_err(|_| EligibilityError::new(ErrorCode::InvalidValue, n.to_string()))
}

fn text_of(e: Element<'_, '_>, n: &str) -> Result<String, EligibilityError> {
    e.req_text(n).map(str::to_string)
}

fn opt_text_of(e: Element<'_, '_>, n: &str) -> Result<Option<String>, EligibilityError> {
    Ok(e.opt_text(n)?.map(str::to_string))
}

fn consent_of(e: Element<'_, '_>, names: [&str; 3]) -> Result<Option<Consent>, EligibilityError> {
    let Some(f) = e.opt_text(names[0])? else {
        return Ok(None);
    };
    Ok(Some(Consent {
        flag: ConsentFlag::parse(names[0], f)?,
        time: opt_time_of(e, names[1])?,
        available_time: opt_time_of(e, names[2])?,
    }))
}

fn code_of<T>(
    e: Element<'_, '_>,
    n: &str,
    parse: fn(&str, &str) -> Result<T, EligibilityError>,
) -> Result<Option<T>, EligibilityError> {
    e.opt_text(n)?.map(|s| parse(n, s)).transpose()
}

fn read_qualification(e: Element<'_, '_>) -> Result<Qualification, EligibilityError> {
    let elderly = match e.child("ElderlyRecipientCertificateInfo")? {
        None => None,
        Some(b) => Some(ElderlyRecipient {
            certificate_date: date_of(b, "ElderlyRecipientCertificateDate")?,
            valid_start: date_of(b, "ElderlyRecipientValidStartDate")?,
            valid_end: date_of(b, "ElderlyRecipientValidEndDate")?,
            contribution_ratio: number_of(b, "ElderlyRecipientContributionRatio")?,
        }),
    };
    let limit = match e.child("LimitApplicationCertificateRelatedInfo")? {
        None => None,
        Some(b) => Some(LimitCertificate {
            class: LimitCertificateClass::parse(
                "LimitApplicationCertificateClassification",
                b.req_text("LimitApplicationCertificateClassification")?,
            )?,
            category: LimitCategory::parse(
                "LimitApplicationCertificateClassificationFlag",
                b.req_text("LimitApplicationCertificateClassificationFlag")?,
            )?,
            certificate_date: date_of(b, "LimitApplicationCertificateDate")?,
            valid_start: date_of(b, "LimitApplicationCertificateValidStartDate")?,
            valid_end: date_of(b, "LimitApplicationCertificateValidEndDate")?,
            long_term_date: opt_date_of(b, "LimitApplicationCertificateLongTermDate")?,
        }),
    };
    let specific_diseases = match e.child("SpecificDiseasesCertificateList")? {
        None => Vec::new(),
        Some(l) => l
            .all("SpecificDiseasesCertificateInfo")
            .map(|b| {
                Ok(SpecificDiseaseCertificate {
                    category: SpecificDisease::parse(
                        "SpecificDiseasesDiseaseCategory",
                        b.req_text("SpecificDiseasesDiseaseCategory")?,
                    )?,
                    certificate_date: date_of(b, "SpecificDiseasesCertificateDate")?,
                    valid_start: date_of(b, "SpecificDiseasesValidStartDate")?,
                    valid_end: opt_date_of(b, "SpecificDiseasesValidEndDate")?,
                    self_pay: number_of(b, "SpecificDiseasesSelfPay")?,
                })
            })
            .collect::<Result<_, EligibilityError>>()?,
    };
    let medical_aid = match e.opt_text("PublicExpenseNumber")? {
        None => None,
        Some(p) => {
            let tickets = match e.child("PublicExpenseResultList")? {
                None => Vec::new(),
                Some(l) => l
                    .all("MedicalTicketInfo")
                    .map(|t| {
                        Ok(MedicalTicket {
                            ticket_type: text_of(t, "TicketType")?,
                            valid_date: date_of(t, "MedicalTicketValidDate")?,
                            expiration_date: opt_date_of(t, "MedicalTicketExpirationDate")?,
                            issue_number: text_of(t, "IssueNumber")?,
                            treatment_month: text_of(t, "MedicalTreatmentMonth")?,
                            designated_institution_name: opt_text_of(
                                t,
                                "DesignatedMedicalInstitutionName",
                            )?,
                            treatment_type: text_of(t, "MedicalTreatmentType")?,
                            self_pay_amount: number_of(t, "SelfPayAmount")?,
                            district_contact_name: opt_text_of(t, "DistrictContactName")?,
                            handling_contact_name: opt_text_of(t, "HandlingContactName")?,
                            single_or_combined_use: text_of(t, "SingleOrCombinedUse")?,
                            status_of_social_insurance: text_of(t, "StatusOfSocialInsurance")?,
                        })
                    })
                    .collect::<Result<_, EligibilityError>>()?,
            };
            Some(MedicalAid {
                public_expense_number: p.to_string(),
                beneficiary_number: text_of(e, "BeneficiaryNumber")?,
                welfare_office_name: text_of(e, "WelfareOfficeName")?,
                tickets,
            })
        }
    };
    Ok(Qualification {
        card_class: InsuredCardClass::parse(
            "InsuredCardClassification",
            e.req_text("InsuredCardClassification")?,
        )?,
        insurer_number: e.req_text("InsurerNumber")?.parse().map_err(|err| {
            EligibilityError::new(
                ErrorCode::InvalidInsurerNumber,
                format!("InsurerNumber: {err}"),
            )
        })?,
        insured_card_symbol: opt_text_of(e, "InsuredCardSymbol")?,
        insured_identification_number: text_of(e, "InsuredIdentificationNumber")?,
        insured_branch_number: opt_text_of(e, "InsuredBranchNumber")?,
        person_family: PersonFamily::parse(
            "PersonalFamilyClassification",
            e.req_text("PersonalFamilyClassification")?,
        )?,
        insured_name: opt_text_of(e, "InsuredName")?,
        name: text_of(e, "Name")?,
        name_of_other: opt_text_of(e, "NameOfOther")?,
        name_kana: text_of(e, "NameKana")?,
        name_of_other_kana: opt_text_of(e, "NameOfOtherKana")?,
        sex: Sex::parse("Sex1", e.req_text("Sex1")?)?,
        sex2: code_of(e, "Sex2", Sex::parse)?,
        birthdate: date_of(e, "Birthdate")?,
        address: opt_text_of(e, "Address")?,
        post_number: opt_text_of(e, "PostNumber")?,
        qualification_date: date_of(e, "QualificationDate")?,
        disqualification_date: opt_date_of(e, "DisqualificationDate")?,
        certificate_issuance_date: opt_date_of(e, "InsuredCertificateIssuanceDate")?,
        valid_start: date_of(e, "InsuredCardValidDate")?,
        valid_end: opt_date_of(e, "InsuredCardExpirationDate")?,
        contribution_ratio: e
            .opt_text("InsuredPartialContributionRatio")?
            .map(|s| {
                s.parse().map_err(|_| {
                    EligibilityError::new(
                        ErrorCode::InvalidValue,
                        "InsuredPartialContributionRatio",
                    )
                })
            })
            .transpose()?,
        preschool: code_of(e, "PreschoolClassification", PreschoolClassification::parse)?,
        reason_of_loss: code_of(e, "ReasonOfLoss", ReasonOfLoss::parse)?,
        insurer_name: text_of(e, "InsurerName")?,
        medical_aid,
        elderly,
        limit_consent: consent_of(e, LIMIT_CONSENT)?,
        limit,
        specific_diseases_consent: consent_of(e, SPECIFIC_DISEASES_CONSENT)?,
        specific_diseases,
        specific_health_checkups_consent: consent_of(e, CHECKUPS_CONSENT)?,
        pharmacists_info_consent: consent_of(e, PHARMACISTS_CONSENT)?,
        reference_number: opt_text_of(e, "ReferenceNumber")?,
        diagnosis_info_consent: consent_of(e, DIAGNOSIS_CONSENT)?,
        operation_info_consent: consent_of(e, OPERATION_CONSENT)?,
        qualification_confirmation_key: opt_text_of(e, "QualificationConfirmationKey")?,
    })
}
