//! Requests of the XmlMsg vocabulary (docs/DOMAIN.md §7): what the clinic system
//! writes into `req/`, both directions — the strict general reader and the writer
//! clinic-side simulations use. The entry point that picks the fast single-inquiry
//! reader or this one is [`super::xml::parse_request`]; the fast reader
//! (`super::single`) shares this module's field tables, so neither depends on the
//! other's entry point.

use chrono::NaiveDate;

use super::encoding::CharacterCode;
use super::error::{EligibilityError, ErrorCode};
use super::tree::{Element, Fields, Text, TreeLimits, Writer};
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

pub(crate) fn salvage(root: Element<'_, '_>) -> RequestEcho {
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

pub(crate) fn message_parts<'d, 'a>(
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

pub(crate) fn write_search(w: &mut Writer, s: &SearchInfo) {
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
