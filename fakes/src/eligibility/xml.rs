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
    // The other interfaces of the same folder (docs/INTERFACE.md §1, §5),
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
}

impl MessageKind {
    pub const ALL: [MessageKind; 14] = [
        MessageKind::Single,
        MessageKind::BulkUpload,
        MessageKind::BulkDownload,
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
    /// 資格確認日: the day eligibility is asked for. Required in single inquiries
    /// and bulk uploads; a bulk download request has none (OD
    /// `BulkQualificationService.cs` writes only `MedicalInstitutionCode`:
    /// docs/INTERFACE.md §2).
    pub qualification_confirmation_date: Option<NaiveDate>,
    /// 医療機関等コード of the asking institution.
    pub medical_institution_code: InstitutionCode,
    /// 任意のファイル識別子, echoed back so the clinic can match the answer.
    pub arbitrary_file_identifier: Option<String>,
    /// `CharacterCodeIdentifier`: the encoding the answer is to be written in
    /// (0 UTF-8, 1 Shift_JIS); absent, the terminal's configured default applies.
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
    /// A bulk download's `MessageBody/ReceptionNumber`, echoed in the abnormal
    /// answer's header so the client can match it (docs/INTERFACE.md §1).
    pub reception_number: Option<String>,
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
    let reception_number = root
        .child("MessageBody")
        .ok()
        .flatten()
        .and_then(|b| b.opt_text("ReceptionNumber").ok().flatten())
        .and_then(|s| check_text("ReceptionNumber", s, MAX_ID_TEXT).ok())
        .map(str::to_string);
    let Ok(Some(h)) = root.child("MessageHeader") else {
        return RequestEcho {
            reception_number,
            ..RequestEcho::default()
        };
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
        reception_number,
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
    let header = read_request_header(&h.fields(HEADER_FIELDS), kind != MessageKind::BulkDownload)?;
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
        // The other interfaces have their own readers (`super::other`).
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

/// `need_date`: whether `QualificationConfirmationDate` is required (every kind but
/// the bulk download).
pub(crate) fn read_request_header(
    h: &Fields<'_, 4>,
    need_date: bool,
) -> Result<RequestHeader, EligibilityError> {
    let d = if need_date {
        Some(h.req_text("QualificationConfirmationDate")?)
    } else {
        h.opt_text("QualificationConfirmationDate")?
    };
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
        qualification_confirmation_date: d
            .map(|d| parse_date("QualificationConfirmationDate", d))
            .transpose()?,
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
                hd.qualification_confirmation_date,
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

/// Codes are written as their digits (nothing to escape); a 6-digit insurer number
/// right-aligned in 8 columns with spaces, as real terminals write it
/// (docs/INTERFACE.md §2).
impl Text for InsurerNumber {
    fn write_text(&self, out: &mut String) {
        self.push_padded_to(out);
    }
}

impl Text for InstitutionCode {
    fn write_text(&self, out: &mut String) {
        self.push_to(out);
    }
}

// ---------------------------------------------------------------------------------
// Responses.

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
