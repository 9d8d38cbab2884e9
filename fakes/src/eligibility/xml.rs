//! The XmlMsg vocabulary (docs/DOMAIN.md §7): requests the clinic system writes into
//! `req/`, responses the qualification terminal (資格確認端末) writes into `res/`.
//!
//! Shape: root `XmlMsg` with `MessageHeader` and `MessageBody`. The element names are
//! those reconstructed from open-source clinic software; where the public material
//! stops (bulk bodies, code values), the layout here is *(our choice)* and marked so.
//!
//! Requests are parsed strictly: a missing required element, a bad date, a bad check
//! digit all give an [`EligibilityError`], which `answer` turns into an abnormal
//! response. Responses are written and can be read back (clinic-side simulations
//! and the round-trip tests use [`parse_response`]).

use chrono::{NaiveDate, NaiveDateTime};

use super::encoding::{self, CharacterCode};
use super::error::{EligibilityError, ErrorCode};
use super::tree::{self, Element, Fields, Padded, Text, TreeLimits, Writer};
use super::values::*;
use crate::codes::{InstitutionCode, InsurerNumber};

/// Which message a file carries, known from its file name prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// `OQSsiquc01`: 資格確認（一件照会）— one inquiry, answered at once.
    Single,
    /// `OQSmuquc01`: 一括照会 upload — many inquiries; the answer carries a `ReceptionNumber`.
    BulkUpload,
    /// `OQSmuquc02`: 一括照会 download of the results for a `ReceptionNumber`.
    BulkDownload,
    // --- H4: the other interfaces of the same folder (docs/INTERFACE.md §1, §5),
    // answered by `super::other` (`Service::answer_any`).
    /// `YZKsiquc01`: 薬剤情報 retrieval.
    DrugInfo,
    /// `TKKsiquc01`: 特定健診情報 retrieval.
    CheckupInfo,
    /// `OQSsiimm01`: 照会番号 registration, single.
    ReferenceSingle,
    /// `OQSmuimm01`: 照会番号 registration, bulk upload.
    ReferenceBulkUpload,
    /// `OQSmuimm02`: 照会番号 registration, bulk download.
    ReferenceBulkDownload,
    /// `OQSmutic01`: 医療扶助 bulk upload.
    MedicalAidUpload,
    /// `OQSmutic02`: 医療扶助 bulk download.
    MedicalAidDownload,
    /// `OQSmuonq01`: オンライン診療 bulk upload.
    OnlineUpload,
    /// `OQSmuonq02`: オンライン診療 bulk download.
    OnlineDownload,
    /// `OQSmuhvq01`: 訪問診療 bulk upload.
    HomeVisitUpload,
    /// `OQSmuhvq02`: 訪問診療 bulk download.
    HomeVisitDownload,
    // --- end H4
}

impl MessageKind {
    pub const ALL: [MessageKind; 14] = [
        MessageKind::Single,
        MessageKind::BulkUpload,
        MessageKind::BulkDownload,
        // H4
        MessageKind::DrugInfo,
        MessageKind::CheckupInfo,
        MessageKind::ReferenceSingle,
        MessageKind::ReferenceBulkUpload,
        MessageKind::ReferenceBulkDownload,
        MessageKind::MedicalAidUpload,
        MessageKind::MedicalAidDownload,
        MessageKind::OnlineUpload,
        MessageKind::OnlineDownload,
        MessageKind::HomeVisitUpload,
        MessageKind::HomeVisitDownload,
    ];

    /// The message id without `req`/`res`.
    pub fn id(self) -> &'static str {
        match self {
            MessageKind::Single => "OQSsiquc01",
            MessageKind::BulkUpload => "OQSmuquc01",
            MessageKind::BulkDownload => "OQSmuquc02",
            // H4
            MessageKind::DrugInfo => "YZKsiquc01",
            MessageKind::CheckupInfo => "TKKsiquc01",
            MessageKind::ReferenceSingle => "OQSsiimm01",
            MessageKind::ReferenceBulkUpload => "OQSmuimm01",
            MessageKind::ReferenceBulkDownload => "OQSmuimm02",
            MessageKind::MedicalAidUpload => "OQSmutic01",
            MessageKind::MedicalAidDownload => "OQSmutic02",
            MessageKind::OnlineUpload => "OQSmuonq01",
            MessageKind::OnlineDownload => "OQSmuonq02",
            MessageKind::HomeVisitUpload => "OQSmuhvq01",
            MessageKind::HomeVisitDownload => "OQSmuhvq02",
        }
    }

    /// The kind of a request file name (`OQSsiquc01req_…`), if its prefix is known.
    pub fn of_request_file(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| name.starts_with(k.id()) && name[k.id().len()..].starts_with("req_"))
    }
}

/// Limits on what a request may be. *(our choice)* all of them; configurable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted file, in bytes. Default 8 MiB (a 10,000-inquiry bulk upload
    /// in Shift_JIS is about 4 MiB).
    pub max_file_bytes: usize,
    /// Most inquiries in one bulk upload. Default 10,000.
    pub max_bulk: usize,
    pub tree: TreeLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 8 << 20,
            max_bulk: 10_000,
            tree: TreeLimits::default(),
        }
    }
}

/// Lengths of free-text fields. *(our choice)*: no public XSD.
const MAX_ID_TEXT: usize = 64;
const MAX_SYMBOL: usize = 38;
const MAX_NUMBER: usize = 38;

/// `MessageHeader` of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHeader {
    /// 資格確認日: the day eligibility is asked for.
    pub qualification_confirmation_date: NaiveDate,
    /// 医療機関等コード of the asking institution.
    pub medical_institution_code: InstitutionCode,
    /// 任意のファイル識別子, echoed back so the clinic can match the answer.
    pub arbitrary_file_identifier: Option<String>,
    /// *(our choice)* A request may name the encoding it wants its answer in; absent,
    /// the terminal's configured default applies.
    pub character_code_identifier: Option<CharacterCode>,
}

/// `QualificationConfirmSearchInfo`: the numbers from an insurance card (被保険者証).
#[derive(Clone, PartialEq, Eq)]
pub struct SearchInfo {
    /// 保険者番号 (check digit verified).
    pub insurer_number: InsurerNumber,
    /// 被保険者証記号 (absent on some cards).
    pub insured_card_symbol: Option<String>,
    /// 被保険者証番号.
    pub insured_identification_number: String,
    /// 被保険者証枝番 (2 digits; absent on older cards).
    pub insured_branch_number: Option<String>,
    /// 生年月日.
    pub birthdate: NaiveDate,
    /// 限度額適用認定証関連情報 提供同意フラグ: the patient agreed to share the
    /// high-cost-limit certificate (`None` = not asked).
    pub limit_consent: Option<bool>,
    /// 任意の識別子, echoed per inquiry.
    pub arbitrary_identifier: Option<String>,
}

// Redacted: the numbers and the birthdate identify a person.
impl std::fmt::Debug for SearchInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchInfo")
            .field("insurer_number", &self.insurer_number)
            .field("person", &"<redacted>")
            .finish()
    }
}

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestBody {
    Single(SearchInfo),
    /// *(our choice)* repeated `QualificationConfirmSearchInfo` under `MessageBody`
    /// (a `QualificationConfirmSearchInfoList` wrapper is accepted too).
    BulkUpload(Vec<SearchInfo>),
    /// `MessageBody/ReceptionNumber`.
    BulkDownload {
        reception_number: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub header: RequestHeader,
    pub body: RequestBody,
}

/// What could be read of a request's header even when the request was refused, so
/// the abnormal answer still carries the clinic's file identifier.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestEcho {
    pub qualification_confirmation_date: Option<NaiveDate>,
    pub medical_institution_code: Option<String>,
    pub arbitrary_file_identifier: Option<String>,
    pub character_code_identifier: Option<CharacterCode>,
}

/// A refused request: why, and what could be echoed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub error: EligibilityError,
    pub echo: RequestEcho,
}

impl From<EligibilityError> for Refusal {
    fn from(error: EligibilityError) -> Self {
        Refusal {
            error,
            echo: RequestEcho::default(),
        }
    }
}

/// Decode and parse a request file of the given kind.
pub fn parse_request(kind: MessageKind, bytes: &[u8], limits: &Limits) -> Result<Request, Refusal> {
    if bytes.len() > limits.max_file_bytes {
        return Err(EligibilityError::new(
            ErrorCode::TooLarge,
            format!("{} bytes, limit {}", bytes.len(), limits.max_file_bytes),
        )
        .into());
    }
    let (text, _) = encoding::decode(bytes)?;
    if kind == MessageKind::Single {
        if let Some(request) = super::single::read(&text) {
            return Ok(request);
        }
    }
    let doc = tree::parse(&text, limits.tree)?;
    read_request(kind, doc.root(), limits).map_err(|error| Refusal {
        error,
        echo: salvage(doc.root()),
    })
}

fn salvage(root: Element<'_, '_>) -> RequestEcho {
    let Ok(Some(h)) = root.child("MessageHeader") else {
        return RequestEcho::default();
    };
    let text = |n: &str| {
        h.opt_text(n)
            .ok()
            .flatten()
            .and_then(|s| check_text(n, s, MAX_ID_TEXT).ok())
            .map(str::to_string)
    };
    RequestEcho {
        qualification_confirmation_date: text("QualificationConfirmationDate")
            .and_then(|s| parse_date("", &s).ok()),
        medical_institution_code: text("MedicalInstitutionCode"),
        arbitrary_file_identifier: text("ArbitraryFileIdentifier"),
        character_code_identifier: text("CharacterCodeIdentifier")
            .and_then(|s| CharacterCode::from_identifier(&s)),
    }
}

fn message_parts<'d, 'a>(
    root: Element<'d, 'a>,
) -> Result<(Element<'d, 'a>, Element<'d, 'a>), EligibilityError> {
    if root.name() != "XmlMsg" {
        return Err(EligibilityError::new(
            ErrorCode::WrongRoot,
            format!("root is <{}>", truncate(root.name(), 40)),
        ));
    }
    let wrong = |n: &str| EligibilityError::new(ErrorCode::WrongRoot, format!("XmlMsg/{n}"));
    let h = root
        .child("MessageHeader")?
        .ok_or_else(|| wrong("MessageHeader"))?;
    let b = root
        .child("MessageBody")?
        .ok_or_else(|| wrong("MessageBody"))?;
    Ok((h, b))
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

pub(crate) fn read_request(
    kind: MessageKind,
    root: Element<'_, '_>,
    limits: &Limits,
) -> Result<Request, EligibilityError> {
    let (h, b) = message_parts(root)?;
    let header = read_request_header(&h.fields(HEADER_FIELDS))?;
    let body = match kind {
        MessageKind::Single => {
            let info = b.req_child("QualificationConfirmSearchInfo")?;
            RequestBody::Single(read_search(&info.fields(SEARCH_FIELDS))?)
        }
        MessageKind::BulkUpload => {
            let mut items: Vec<Element<'_, '_>> = b.all("QualificationConfirmSearchInfo").collect();
            if let Some(list) = b.child("QualificationConfirmSearchInfoList")? {
                items.extend(list.all("QualificationConfirmSearchInfo"));
            }
            if items.is_empty() || items.len() > limits.max_bulk {
                return Err(EligibilityError::new(
                    ErrorCode::BulkSize,
                    format!(
                        "{} inquiries, allowed 1 to {}",
                        items.len(),
                        limits.max_bulk
                    ),
                ));
            }
            let searches = items
                .into_iter()
                .enumerate()
                .map(|(i, e)| {
                    read_search(&e.fields(SEARCH_FIELDS)).map_err(|mut err| {
                        err.detail = format!("inquiry {}: {}", i + 1, err.detail);
                        err
                    })
                })
                .collect::<Result<_, _>>()?;
            RequestBody::BulkUpload(searches)
        }
        MessageKind::BulkDownload => {
            let r = b.req_text("ReceptionNumber")?;
            RequestBody::BulkDownload {
                reception_number: check_text("ReceptionNumber", r, MAX_ID_TEXT)?.to_string(),
            }
        }
        // H4: the other interfaces have their own readers (`super::other`).
        other => {
            return Err(EligibilityError::new(
                ErrorCode::UnknownMessage,
                format!(
                    "{} is not a qualification inquiry (answered by Service::answer_any)",
                    other.id()
                ),
            ))
        }
    };
    Ok(Request { header, body })
}

/// The `MessageHeader` fields a request is read from.
pub(crate) const HEADER_FIELDS: [&str; 4] = [
    "QualificationConfirmationDate",
    "MedicalInstitutionCode",
    "CharacterCodeIdentifier",
    "ArbitraryFileIdentifier",
];

/// The `QualificationConfirmSearchInfo` fields an inquiry is read from.
pub(crate) const SEARCH_FIELDS: [&str; 7] = [
    "InsurerNumber",
    "InsuredCardSymbol",
    "InsuredIdentificationNumber",
    "InsuredBranchNumber",
    "LimitApplicationCertificateRelatedConsFlg",
    "Birthdate",
    "ArbitraryIdentifier",
];

pub(crate) fn read_request_header(h: &Fields<'_, 4>) -> Result<RequestHeader, EligibilityError> {
    let d = h.req_text("QualificationConfirmationDate")?;
    let code = h.req_text("MedicalInstitutionCode")?;
    let medical_institution_code: InstitutionCode = code.parse().map_err(|e| {
        EligibilityError::new(
            ErrorCode::InvalidInstitutionCode,
            format!("MedicalInstitutionCode: {e}"),
        )
    })?;
    let character_code_identifier = match h.opt_text("CharacterCodeIdentifier")? {
        None => None,
        Some(s) => Some(CharacterCode::from_identifier(s).ok_or_else(|| {
            EligibilityError::new(
                ErrorCode::InvalidValue,
                "CharacterCodeIdentifier must be 0 or 1",
            )
        })?),
    };
    Ok(RequestHeader {
        qualification_confirmation_date: parse_date("QualificationConfirmationDate", d)?,
        medical_institution_code,
        arbitrary_file_identifier: opt_id(h, "ArbitraryFileIdentifier")?,
        character_code_identifier,
    })
}

fn opt_id<const N: usize>(
    e: &Fields<'_, N>,
    name: &str,
) -> Result<Option<String>, EligibilityError> {
    e.opt_text(name)?
        .map(|s| check_text(name, s, MAX_ID_TEXT).map(str::to_string))
        .transpose()
}

pub(crate) fn read_search(e: &Fields<'_, 7>) -> Result<SearchInfo, EligibilityError> {
    let ins = e.req_text("InsurerNumber")?;
    let insurer_number: InsurerNumber = ins.parse().map_err(|err| {
        EligibilityError::new(
            ErrorCode::InvalidInsurerNumber,
            format!("InsurerNumber: {err}"),
        )
    })?;
    let symbol = e
        .opt_text("InsuredCardSymbol")?
        .map(|s| check_text("InsuredCardSymbol", s, MAX_SYMBOL).map(str::to_string))
        .transpose()?;
    let number = check_text(
        "InsuredIdentificationNumber",
        e.req_text("InsuredIdentificationNumber")?,
        MAX_NUMBER,
    )?
    .to_string();
    let branch = e
        .opt_text("InsuredBranchNumber")?
        .map(|s| {
            if s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()) {
                Ok(s.to_string())
            } else {
                Err(EligibilityError::new(
                    ErrorCode::InvalidValue,
                    "InsuredBranchNumber must be 2 digits",
                ))
            }
        })
        .transpose()?;
    let limit_consent = e
        .opt_text("LimitApplicationCertificateRelatedConsFlg")?
        .map(|s| parse_flag("LimitApplicationCertificateRelatedConsFlg", s))
        .transpose()?;
    Ok(SearchInfo {
        insurer_number,
        insured_card_symbol: symbol,
        insured_identification_number: number,
        insured_branch_number: branch,
        birthdate: parse_date("Birthdate", e.req_text("Birthdate")?)?,
        limit_consent,
        arbitrary_identifier: opt_id(e, "ArbitraryIdentifier")?,
    })
}

// ---------------------------------------------------------------------------------
// Writing requests (used by clinic-side simulations, tests and benchmarks).

impl Request {
    /// The request as an XmlMsg document in `code`, with an XML declaration.
    pub fn render(&self, code: CharacterCode) -> Vec<u8> {
        let hd = &self.header;
        let mut w = Writer::new(code);
        w.start("XmlMsg")
            .start("MessageHeader")
            .leaf(
                "QualificationConfirmationDate",
                Some(hd.qualification_confirmation_date),
            )
            .leaf("MedicalInstitutionCode", Some(hd.medical_institution_code))
            .leaf(
                "ArbitraryFileIdentifier",
                hd.arbitrary_file_identifier.as_deref(),
            )
            .leaf(
                "CharacterCodeIdentifier",
                hd.character_code_identifier.map(|c| c.identifier()),
            )
            .end()
            .start("MessageBody");
        match &self.body {
            RequestBody::Single(s) => write_search(&mut w, s),
            RequestBody::BulkUpload(v) => {
                for s in v {
                    write_search(&mut w, s);
                }
            }
            RequestBody::BulkDownload { reception_number } => {
                w.leaf("ReceptionNumber", Some(reception_number));
            }
        }
        w.finish()
    }
}

fn write_search(w: &mut Writer, s: &SearchInfo) {
    w.start("QualificationConfirmSearchInfo")
        .leaf("InsurerNumber", Some(s.insurer_number))
        .leaf("InsuredCardSymbol", s.insured_card_symbol.as_deref())
        .leaf(
            "InsuredIdentificationNumber",
            Some(&s.insured_identification_number),
        )
        .leaf("InsuredBranchNumber", s.insured_branch_number.as_deref())
        .leaf("Birthdate", Some(s.birthdate))
        .leaf(
            "LimitApplicationCertificateRelatedConsFlg",
            s.limit_consent.map(fmt_flag),
        )
        .leaf("ArbitraryIdentifier", s.arbitrary_identifier.as_deref())
        .end();
}

/// Codes are written as their digits (nothing to escape).
impl Text for InsurerNumber {
    fn write_text(&self, out: &mut String) {
        self.push_to(out);
    }
}

impl Text for InstitutionCode {
    fn write_text(&self, out: &mut String) {
        self.push_to(out);
    }
}

// ---------------------------------------------------------------------------------
// Responses.

/// `MessageHeader` of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHeader {
    /// 処理実施日時.
    pub process_execution_time: NaiveDateTime,
    pub qualification_confirmation_date: Option<NaiveDate>,
    /// Echoed as given (it may be the invalid code that caused an abnormal answer).
    pub medical_institution_code: Option<String>,
    pub arbitrary_file_identifier: Option<String>,
    pub reference_classification: ReferenceClassification,
    pub segment_of_result: SegmentOfResult,
    /// Set exactly when `segment_of_result` is abnormal (9).
    pub error_code: Option<ErrorCode>,
    /// `日本語 / English: detail`.
    pub error_message: Option<String>,
    pub character_code_identifier: CharacterCode,
}

/// 経過措置などの同意: a consent flag and when it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consent {
    pub given: bool,
    pub time: Option<NaiveDateTime>,
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

/// 特定疾病療養受療証情報.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecificDiseaseCertificate {
    pub category: SpecificDisease,
    pub certificate_date: NaiveDate,
    pub valid_start: NaiveDate,
    pub valid_end: Option<NaiveDate>,
    /// 自己負担限度額 in yen per month (10,000 or 20,000).
    pub self_pay: u32,
}

/// `ResultOfQualificationConfirmation`: one insurance record (資格情報).
#[derive(Clone, PartialEq, Eq)]
pub struct Qualification {
    pub card_class: InsuredCardClass,
    pub insurer_number: InsurerNumber,
    pub insured_card_symbol: Option<String>,
    pub insured_identification_number: String,
    pub insured_branch_number: Option<String>,
    pub person_family: PersonFamily,
    /// 氏名 (漢字).
    pub name: String,
    /// 氏名（カナ）, half-width katakana (半角カナ).
    pub name_kana: String,
    pub sex: Sex,
    pub birthdate: NaiveDate,
    pub post_number: Option<String>,
    pub address: Option<String>,
    /// 資格取得年月日.
    pub qualification_date: NaiveDate,
    /// 資格喪失年月日 (the record ended).
    pub disqualification_date: Option<NaiveDate>,
    /// 有効開始年月日 / 有効終了年月日 of the card.
    pub valid_start: NaiveDate,
    pub valid_end: Option<NaiveDate>,
    /// 一部負担金割合 in percent (10, 20, 30).
    pub contribution_ratio: u8,
    pub elderly: Option<ElderlyRecipient>,
    /// Consent for 限度額適用認定証関連情報, and the block when consented.
    pub limit_consent: Option<Consent>,
    pub limit: Option<LimitCertificate>,
    pub specific_diseases: Vec<SpecificDiseaseCertificate>,
    /// 薬剤情報閲覧同意 (card only).
    pub pharmacists_info_consent: Option<Consent>,
    /// 特定健診情報閲覧同意 (card only).
    pub specific_health_checkups_consent: Option<Consent>,
    /// H4: 照会番号, when the institution registered one for this person
    /// (docs/INTERFACE.md §3, §5; `super::reference`).
    pub reference_number: Option<String>,
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

/// The result of one inquiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub arbitrary_identifier: Option<String>,
    pub processing_result_status: ProcessingResultStatus,
    pub processing_result_code: Option<String>,
    pub processing_result_message: Option<String>,
    pub qualification_validity: Option<QualificationValidity>,
    pub results: Vec<Qualification>,
}

/// `MessageBody` of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseBody {
    /// Abnormal answers carry an empty body.
    Empty,
    Single(Answer),
    /// *(our choice)* `ReceptionNumber` and `AcceptedCount`.
    BulkAccepted {
        reception_number: String,
        count: usize,
    },
    /// `SegmentOfResult` 2: the bulk job is not finished.
    BulkPending {
        reception_number: String,
    },
    /// *(our choice)* `ReceptionNumber` and
    /// `QualificationConfirmationResultList/QualificationConfirmationResult*`, each an
    /// [`Answer`] in the order of the upload.
    BulkResults {
        reception_number: String,
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
            .leaf(
                "ReferenceClassification",
                Some(hd.reference_classification.code()),
            )
            .leaf("SegmentOfResult", Some(hd.segment_of_result.code()))
            .leaf("ErrorCode", hd.error_code.map(|c| c.code()))
            .leaf("ErrorMessage", hd.error_message.as_deref())
            .leaf(
                "CharacterCodeIdentifier",
                Some(hd.character_code_identifier.identifier()),
            )
            .end()
            .start("MessageBody");
        match &self.body {
            ResponseBody::Empty => {}
            ResponseBody::Single(a) => write_answer(&mut w, a),
            ResponseBody::BulkAccepted {
                reception_number,
                count,
            } => {
                w.leaf("ReceptionNumber", Some(reception_number))
                    .leaf("AcceptedCount", Some(count.to_string()));
            }
            ResponseBody::BulkPending { reception_number } => {
                w.leaf("ReceptionNumber", Some(reception_number));
            }
            ResponseBody::BulkResults {
                reception_number,
                answers,
            } => {
                w.leaf("ReceptionNumber", Some(reception_number))
                    .start("QualificationConfirmationResultList");
                for a in answers {
                    w.start("QualificationConfirmationResult");
                    write_answer(&mut w, a);
                    w.end();
                }
                w.end();
            }
        }
        w.finish()
    }
}

fn write_answer(w: &mut Writer, a: &Answer) {
    w.leaf("ArbitraryIdentifier", a.arbitrary_identifier.as_deref())
        .leaf(
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
}

fn consent_leaves(w: &mut Writer, flag: &str, time: &str, c: Option<Consent>) {
    if let Some(c) = c {
        w.leaf(flag, Some(fmt_flag(c.given))).leaf(time, c.time);
    }
}

fn write_qualification(w: &mut Writer, q: &Qualification) {
    w.start("ResultOfQualificationConfirmation")
        .leaf("InsuredCardClassification", Some(q.card_class.code()))
        .leaf("InsurerNumber", Some(q.insurer_number))
        .leaf("InsuredCardSymbol", q.insured_card_symbol.as_deref())
        .leaf(
            "InsuredIdentificationNumber",
            Some(&q.insured_identification_number),
        )
        .leaf("InsuredBranchNumber", q.insured_branch_number.as_deref())
        .leaf("PersonalFamilyClassification", Some(q.person_family.code()))
        .leaf("Name", Some(&q.name))
        .leaf("NameKana", Some(&q.name_kana))
        .leaf("Sex1", Some(q.sex.code()))
        .leaf("Birthdate", Some(q.birthdate))
        .leaf("PostNumber", q.post_number.as_deref())
        .leaf("Address", q.address.as_deref())
        .leaf("QualificationDate", Some(q.qualification_date))
        .leaf("DisqualificationDate", q.disqualification_date)
        .leaf("InsuredCardValidDate", Some(q.valid_start))
        .leaf("InsuredCardExpirationDate", q.valid_end)
        .leaf(
            "InsuredPartialContributionRatio",
            Some(Padded(q.contribution_ratio.into(), 3)),
        );
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
    consent_leaves(
        w,
        "LimitApplicationCertificateRelatedConsFlg",
        "LimitApplicationCertificateRelatedConsTime",
        q.limit_consent,
    );
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
    consent_leaves(
        w,
        "PharmacistsInfoConsFlg",
        "PharmacistsInfoConsTime",
        q.pharmacists_info_consent,
    );
    consent_leaves(
        w,
        "SpecificHealthCheckupsInfoConsFlg",
        "SpecificHealthCheckupsInfoConsTime",
        q.specific_health_checkups_consent,
    );
    // H4
    w.leaf("ReferenceNumber", q.reference_number.as_deref());
    w.end();
}

// ---------------------------------------------------------------------------------
// Reading responses back.

/// Decode and parse a response (the clinic's side of the file drop).
pub fn parse_response(bytes: &[u8]) -> Result<Response, EligibilityError> {
    let (text, _) = encoding::decode(bytes)?;
    let doc = tree::parse(&text, TreeLimits::default())?;
    let (h, b) = message_parts(doc.root())?;
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
        reference_classification: ReferenceClassification::parse(
            "ReferenceClassification",
            h.req_text("ReferenceClassification")?,
        )?,
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
        character_code_identifier: CharacterCode::from_identifier(
            h.req_text("CharacterCodeIdentifier")?,
        )
        .ok_or_else(|| EligibilityError::new(ErrorCode::InvalidValue, "CharacterCodeIdentifier"))?,
    };
    let body = if header.segment_of_result == SegmentOfResult::Abnormal {
        ResponseBody::Empty
    } else if let Some(r) = b.opt_text("ReceptionNumber")? {
        let reception_number = r.to_string();
        if let Some(list) = b.child("QualificationConfirmationResultList")? {
            let answers = list
                .all("QualificationConfirmationResult")
                .map(read_answer)
                .collect::<Result<_, _>>()?;
            ResponseBody::BulkResults {
                reception_number,
                answers,
            }
        } else if header.segment_of_result == SegmentOfResult::Processing {
            ResponseBody::BulkPending { reception_number }
        } else {
            let count = b
                .req_text("AcceptedCount")?
                .parse()
                .map_err(|_| EligibilityError::new(ErrorCode::InvalidValue, "AcceptedCount"))?;
            ResponseBody::BulkAccepted {
                reception_number,
                count,
            }
        }
    } else {
        ResponseBody::Single(read_answer(b)?)
    };
    Ok(Response { header, body })
}

fn read_answer(b: Element<'_, '_>) -> Result<Answer, EligibilityError> {
    let results = match b.child("ResultList")? {
        None => Vec::new(),
        Some(l) => l
            .all("ResultOfQualificationConfirmation")
            .map(read_qualification)
            .collect::<Result<_, _>>()?,
    };
    Ok(Answer {
        arbitrary_identifier: b.opt_text("ArbitraryIdentifier")?.map(str::to_string),
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
        results,
    })
}

fn date_of(e: Element<'_, '_>, n: &str) -> Result<NaiveDate, EligibilityError> {
    parse_date(n, e.req_text(n)?)
}

fn opt_date_of(e: Element<'_, '_>, n: &str) -> Result<Option<NaiveDate>, EligibilityError> {
    e.opt_text(n)?.map(|s| parse_date(n, s)).transpose()
}

fn number_of<T: std::str::FromStr>(e: Element<'_, '_>, n: &str) -> Result<T, EligibilityError> {
    e.req_text(n)?
        .parse()
        .map_err(|_| EligibilityError::new(ErrorCode::InvalidValue, n.to_string()))
}

fn consent_of(
    e: Element<'_, '_>,
    flag: &str,
    time: &str,
) -> Result<Option<Consent>, EligibilityError> {
    let Some(f) = e.opt_text(flag)? else {
        return Ok(None);
    };
    Ok(Some(Consent {
        given: parse_flag(flag, f)?,
        time: e.opt_text(time)?.map(|s| parse_time(time, s)).transpose()?,
    }))
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
        insured_card_symbol: e.opt_text("InsuredCardSymbol")?.map(str::to_string),
        insured_identification_number: e.req_text("InsuredIdentificationNumber")?.to_string(),
        insured_branch_number: e.opt_text("InsuredBranchNumber")?.map(str::to_string),
        person_family: PersonFamily::parse(
            "PersonalFamilyClassification",
            e.req_text("PersonalFamilyClassification")?,
        )?,
        name: e.req_text("Name")?.to_string(),
        name_kana: e.req_text("NameKana")?.to_string(),
        sex: Sex::parse("Sex1", e.req_text("Sex1")?)?,
        birthdate: date_of(e, "Birthdate")?,
        post_number: e.opt_text("PostNumber")?.map(str::to_string),
        address: e.opt_text("Address")?.map(str::to_string),
        qualification_date: date_of(e, "QualificationDate")?,
        disqualification_date: opt_date_of(e, "DisqualificationDate")?,
        valid_start: date_of(e, "InsuredCardValidDate")?,
        valid_end: opt_date_of(e, "InsuredCardExpirationDate")?,
        contribution_ratio: number_of(e, "InsuredPartialContributionRatio")?,
        elderly,
        limit_consent: consent_of(
            e,
            "LimitApplicationCertificateRelatedConsFlg",
            "LimitApplicationCertificateRelatedConsTime",
        )?,
        limit,
        specific_diseases,
        pharmacists_info_consent: consent_of(
            e,
            "PharmacistsInfoConsFlg",
            "PharmacistsInfoConsTime",
        )?,
        specific_health_checkups_consent: consent_of(
            e,
            "SpecificHealthCheckupsInfoConsFlg",
            "SpecificHealthCheckupsInfoConsTime",
        )?,
        // H4
        reference_number: e.opt_text("ReferenceNumber")?.map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SINGLE: &str = r#"<?xml version="1.0" encoding="Shift_JIS"?>
<XmlMsg>
  <MessageHeader>
    <QualificationConfirmationDate>20240401</QualificationConfirmationDate>
    <MedicalInstitutionCode>1313120014</MedicalInstitutionCode>
    <ArbitraryFileIdentifier>受付-001</ArbitraryFileIdentifier>
  </MessageHeader>
  <MessageBody>
    <QualificationConfirmSearchInfo>
      <InsurerNumber>06130125</InsurerNumber>
      <InsuredCardSymbol>記号１</InsuredCardSymbol>
      <InsuredIdentificationNumber>0000001203</InsuredIdentificationNumber>
      <InsuredBranchNumber>00</InsuredBranchNumber>
      <Birthdate>19800115</Birthdate>
      <LimitApplicationCertificateRelatedConsFlg>1</LimitApplicationCertificateRelatedConsFlg>
    </QualificationConfirmSearchInfo>
  </MessageBody>
</XmlMsg>"#;

    fn sjis(s: &str) -> Vec<u8> {
        encoding::encode(s, CharacterCode::ShiftJis)
    }

    fn valid_insurer() -> String {
        let p = crate::codes::Prefecture::new(13).unwrap();
        InsurerNumber::new(Some(6), p, 12).unwrap().to_string()
    }

    #[test]
    fn parses_a_shift_jis_single_request_and_renders_it_back() {
        let text = SINGLE.replace("06130125", &valid_insurer());
        let req = parse_request(MessageKind::Single, &sjis(&text), &Limits::default()).unwrap();
        assert_eq!(
            req.header.arbitrary_file_identifier.as_deref(),
            Some("受付-001")
        );
        let RequestBody::Single(s) = &req.body else {
            panic!()
        };
        assert_eq!(s.insured_card_symbol.as_deref(), Some("記号１"));
        assert_eq!(s.limit_consent, Some(true));
        let again = parse_request(
            MessageKind::Single,
            &req.render(CharacterCode::Utf8),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(again, req);
    }

    #[test]
    fn each_defect_has_its_code() {
        let ok = SINGLE.replace("06130125", &valid_insurer());
        let cases: Vec<(String, ErrorCode)> = vec![
            (
                ok.replace("<XmlMsg>", "<Other>")
                    .replace("</XmlMsg>", "</Other>"),
                ErrorCode::WrongRoot,
            ),
            (
                ok.replace("<Birthdate>19800115</Birthdate>", ""),
                ErrorCode::MissingField,
            ),
            (ok.replace("19800115", "19800230"), ErrorCode::InvalidDate),
            (
                ok.replace(&valid_insurer(), "06130120"),
                ErrorCode::InvalidInsurerNumber,
            ),
            (
                ok.replace("1313120014", "1313120015"),
                ErrorCode::InvalidInstitutionCode,
            ),
            (
                ok.replace("<InsuredBranchNumber>00", "<InsuredBranchNumber>0a"),
                ErrorCode::InvalidValue,
            ),
            (
                ok.replace("</MessageBody>", "</MessageBod>"),
                ErrorCode::NotXml,
            ),
            (
                ok.replace(
                    "<MessageHeader>",
                    "<MessageHeader><ArbitraryFileIdentifier/>",
                ),
                ErrorCode::DuplicateField,
            ),
        ];
        for (text, code) in cases {
            let r =
                parse_request(MessageKind::Single, &sjis(&text), &Limits::default()).unwrap_err();
            assert_eq!(r.error.code, code, "{}", r.error);
        }
        let big = Limits {
            max_file_bytes: 100,
            ..Limits::default()
        };
        let r = parse_request(MessageKind::Single, &sjis(&ok), &big).unwrap_err();
        assert_eq!(r.error.code, ErrorCode::TooLarge);
    }

    #[test]
    fn refusals_keep_the_file_identifier() {
        let text = SINGLE.replace("19800115", "1980");
        let r = parse_request(MessageKind::Single, &sjis(&text), &Limits::default()).unwrap_err();
        assert_eq!(
            r.echo.arbitrary_file_identifier.as_deref(),
            Some("受付-001")
        );
    }

    #[test]
    fn request_file_kinds() {
        assert_eq!(
            MessageKind::of_request_file("OQSsiquc01req_1.xml"),
            Some(MessageKind::Single)
        );
        assert_eq!(
            MessageKind::of_request_file("OQSmuquc02req_x.xml"),
            Some(MessageKind::BulkDownload)
        );
        assert_eq!(MessageKind::of_request_file("OQSsiquc01res_1.xml"), None);
        assert_eq!(MessageKind::of_request_file("hello.xml"), None);
    }
}
