//! The other interfaces clinics drop into the terminal's `req/` folder besides the
//! qualification inquiries (docs/INTERFACE.md §5 and the request-kinds row of §1):
//!
//! - 薬剤情報 (`YZKsiquc01`) and 特定健診 (`TKKsiquc01`) retrieval — [`super::health_info`],
//!   with the records from [`super::drug`] and [`super::checkup`];
//! - 照会番号 (reference number) registration, single (`OQSsiimm01`) and bulk
//!   (`OQSmuimm01` / `OQSmuimm02`) — [`super::reference`]; a registered number is
//!   carried by later qualification answers in `ReferenceNumber`;
//! - the 医療扶助 / オンライン診療 / 訪問診療 bulk kinds (`OQSmutic01/02`,
//!   `OQSmuonq01/02`, `OQSmuhvq01/02`) — [`super::other_bulk`], *partial*: the upload is
//!   checked and accepted and the download answered with the identifiers echoed,
//!   but no result records are simulated (their results may be ZIP files, OD
//!   `BulkQualificationService.cs`).
//!
//! This module is the hub: the state the terminal keeps for them ([`OtherDesk`]),
//! their answers ([`OtherResponse`], rendered and read back), and
//! [`Service::answer_any`], which answers a request file of *any* kind — an
//! unknown kind included, whose abnormal answer still echoes the
//! `MedicalInstitutionCode` and `ArbitraryFileIdentifier` found in the document
//! (clients match answers by them, docs/INTERFACE.md §1).
//!
//! Nothing here reads a clock or touches a file, and nothing logs: the answers
//! carry synthetic personal data, the [`Summary`] of them does not.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};

use super::answer::{ReaderConsents, Service, VerifiedCardHolder};
use super::encoding::{self, CharacterCode};
use super::error::{EligibilityError, ErrorCode};
use super::health_info::{self, HealthAnswer, HealthResult};
use super::other_bulk;
use super::population::{Population, SearchKey};
use super::reference::{self, ReferenceRegistry, Registration};
use super::terminal::Summary;
use super::tree::{self, Element, Writer};
use super::values::*;
use super::xml::{MessageKind, Refusal, RequestEcho, Response};
use crate::codes::{InstitutionCode, InsurerNumber};
use crate::time::VirtualTime;

impl MessageKind {
    /// A kind answered by this module rather than by the qualification answering
    /// of `super::answer`.
    pub fn is_other(self) -> bool {
        !matches!(
            self,
            MessageKind::Single | MessageKind::BulkUpload | MessageKind::BulkDownload
        )
    }
}

/// Settings of the other interfaces. Every default is *(our choice)* unless it
/// cites a source.
#[derive(Debug, Clone, PartialEq)]
pub struct OtherConfig {
    /// First day 薬剤情報 can be seen: 2021-10-01. docs/seeds/003 (lines 362–363):
    /// 「オンライン資格確認や特定健診情報の閲覧は令和３年３月から、薬剤情報の閲覧は令和３年10月から開始されます。」
    pub drug_info_from: NaiveDate,
    /// First day 特定健診情報 can be seen: 2021-03-01 (the same clause of seed 003).
    pub checkup_info_from: NaiveDate,
    /// Share of people with a standing consent to show their 薬剤情報 (when no card
    /// confirmation at this terminal recorded one). Default 0.7.
    pub p_drug_consent: f64,
    /// The same for 特定健診情報. Default 0.6.
    pub p_checkup_consent: f64,
    /// Days a consent given at the card reader lasts. Default 1 (the visit).
    pub card_consent_days: i64,
    /// Most months of 薬剤情報 one answer covers. Default 36.
    pub max_drug_months: u32,
    /// Most reference numbers the terminal keeps. Default 100,000.
    pub max_references: usize,
    /// Most entries in one bulk registration. Default 10,000.
    pub max_bulk: usize,
    /// Virtual minutes until a bulk job of these kinds is ready. Default 5.
    pub bulk_delay_minutes: i64,
    /// Virtual days a bulk job is kept. Default 7.
    pub bulk_retention_days: i64,
}

impl Default for OtherConfig {
    fn default() -> Self {
        OtherConfig {
            drug_info_from: NaiveDate::from_ymd_opt(2021, 10, 1).expect("valid"),
            checkup_info_from: NaiveDate::from_ymd_opt(2021, 3, 1).expect("valid"),
            p_drug_consent: 0.7,
            p_checkup_consent: 0.6,
            card_consent_days: 1,
            max_drug_months: 36,
            max_references: 100_000,
            max_bulk: 10_000,
            bulk_delay_minutes: 5,
            bulk_retention_days: 7,
        }
    }
}

/// What an accepted bulk job of these kinds holds.
#[derive(Debug, Clone)]
pub(crate) enum JobPayload {
    /// `OQSmuimm01`: the registration results, in upload order.
    Registrations(Vec<Registration>),
    /// 医療扶助 / オンライン診療 / 訪問診療: the number of inquiries accepted.
    Partial(usize),
}

#[derive(Debug, Clone)]
pub(crate) struct OtherJob {
    pub kind: MessageKind,
    pub institution: InstitutionCode,
    pub arbitrary_file_identifier: Option<String>,
    pub accepted_at: VirtualTime,
    pub ready_at: VirtualTime,
    pub payload: JobPayload,
}

/// A consent the patient gave at this terminal's card reader (同意取得), remembered
/// for [`OtherConfig::card_consent_days`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CardConsent {
    pub at: VirtualTime,
    pub consents: ReaderConsents,
}

/// The state of the other interfaces at one terminal: reference numbers, bulk jobs,
/// consents from card confirmations.
#[derive(Debug, Clone, Default)]
pub struct OtherDesk {
    pub config: OtherConfig,
    pub references: ReferenceRegistry,
    pub(crate) jobs: BTreeMap<String, OtherJob>,
    pub(crate) serial: u64,
    pub(crate) card_consents: BTreeMap<CardKey, CardConsent>,
}

/// The card numbers that name an insured person (without birthdate: the
/// registration and retrieval requests carry none). Symbol trimmed, `""` if absent.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CardKey {
    pub insurer_number: InsurerNumber,
    pub symbol: String,
    pub number: String,
    pub branch: String,
}

impl std::fmt::Debug for CardKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardKey")
            .field("insurer_number", &self.insurer_number)
            .field("person", &"<redacted>")
            .finish()
    }
}

impl CardKey {
    pub fn of(
        insurer_number: InsurerNumber,
        symbol: Option<&str>,
        number: &str,
        branch: &str,
    ) -> Self {
        CardKey {
            insurer_number,
            symbol: symbol.map(str::trim).unwrap_or("").to_string(),
            number: number.trim().to_string(),
            branch: branch.trim().to_string(),
        }
    }

    pub fn of_search_key(k: &SearchKey) -> Option<Self> {
        Some(Self::of(
            k.insurer_number,
            k.symbol.as_deref(),
            &k.number,
            k.branch.as_deref()?,
        ))
    }
}

/// A person of the population found by card numbers alone: household `h`, member
/// `i` (from the key scheme of `super::population`: the first 8 digits of the
/// insured number are the household, the branch number 枝番 is the member), and
/// their full search key (with birthdate). Only current records (generation 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub household: u64,
    pub member: usize,
    pub key: SearchKey,
}

/// Find the person these card numbers name, through the population's public API
/// (`key_of`), or `None`.
pub fn find_person(pop: &Population, card: &CardKey) -> Option<Person> {
    let n = &card.number;
    if n.len() != 10 || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: u64 = n[..8].parse().ok()?;
    if card.branch.len() != 2 || !card.branch.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let i: usize = card.branch.parse().ok()?;
    let key = pop.key_of(h, i)?;
    let same = key.number == *n
        && key.insurer_number == card.insurer_number
        && key.symbol.as_deref().map(str::trim).unwrap_or("") == card.symbol;
    same.then_some(Person {
        household: h,
        member: i,
        key,
    })
}

/// An insurer number as clients write it, by the one rule of
/// [`InsurerNumber`]'s `FromStr` (8 digits, 6 digits, or 6 right-aligned in 8 with
/// spaces — MR `ReferenceNumberRequestBuilder.cs` pads so — or zeros:
/// docs/INTERFACE.md §2), refused as `InvalidInsurerNumber` naming `field`.
pub fn parse_insurer(field: &str, s: &str) -> Result<InsurerNumber, EligibilityError> {
    s.parse().map_err(|e| {
        EligibilityError::new(ErrorCode::InvalidInsurerNumber, format!("{field}: {e}"))
    })
}

impl OtherDesk {
    pub fn new(config: OtherConfig) -> Self {
        OtherDesk {
            config,
            ..Default::default()
        }
    }

    /// Remember the consents a card holder gave at this terminal's reader (the
    /// face/card confirmation path calls this), so a following 薬剤情報 / 特定健診
    /// request within [`OtherConfig::card_consent_days`] is judged by them.
    pub fn note_card_consents(
        &mut self,
        holder: &VerifiedCardHolder,
        consents: ReaderConsents,
        now: VirtualTime,
    ) {
        let Some(branch) = holder.branch.as_deref() else {
            return;
        };
        let key = CardKey::of(
            holder.insurer_number,
            holder.symbol.as_deref(),
            &holder.number,
            branch,
        );
        // Bounded: one entry per person, expired entries dropped when full.
        if self.card_consents.len() >= self.config.max_references {
            let days = self.config.card_consent_days;
            self.card_consents.retain(|_, c| c.at.plus_days(days) > now);
            if self.card_consents.len() >= self.config.max_references {
                return;
            }
        }
        self.card_consents
            .insert(key, CardConsent { at: now, consents });
    }

    pub(crate) fn prune(&mut self, now: VirtualTime) {
        let keep = self.config.bulk_retention_days;
        self.jobs.retain(|_, j| j.accepted_at.plus_days(keep) > now);
    }

    /// A new reception number *(our choice)*: `YYYYMMDDHHmm`, `9`, then a 5-digit
    /// serial (18 digits, like the qualification bulk desk's, with the `9` keeping
    /// the two desks' numbers apart).
    pub(crate) fn next_reception_number(&mut self, now: VirtualTime) -> String {
        self.serial += 1;
        format!(
            "{}9{:05}",
            naive(now).format("%Y%m%d%H%M"),
            self.serial % 100_000
        )
    }
}

// ---------------------------------------------------------------------------------
// Answers.

/// `MessageHeader` of an answer of these kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherHeader {
    pub process_execution_time: NaiveDateTime,
    pub medical_institution_code: Option<String>,
    pub arbitrary_file_identifier: Option<String>,
    /// Bulk downloads: the job's number in the header too (MR
    /// `ReferenceNumberResultParser.cs` checks `MessageHeader/ReceptionNumber`).
    pub reception_number: Option<String>,
    pub segment_of_result: SegmentOfResult,
    pub error_code: Option<ErrorCode>,
    pub error_message: Option<String>,
    pub character_code_identifier: CharacterCode,
    /// 薬剤情報 / 特定健診 only: `ResultCode` (OD `Form1.cs` reads `//ResultCode`
    /// and takes `1` as success) and `MessageContents` (read when it is not 1).
    pub result_code: Option<HealthResult>,
    pub message_contents: Option<String>,
}

/// What an answer of these kinds carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OtherBody {
    /// Abnormal answers (`SegmentOfResult` 9) and 薬剤情報 / 特定健診 answers that
    /// provide nothing.
    Empty,
    /// 薬剤情報 / 特定健診 provided.
    Health(HealthAnswer),
    /// `OQSsiimm01`: the one registration's result.
    Registration(Registration),
    /// Upload accepted (`OQSmuimm01`, `OQSmutic01`, `OQSmuonq01`, `OQSmuhvq01`):
    /// `ReceptionNumber`, `ReceptionDateTime`, and *(our choice)* `AcceptedCount`.
    BulkAccepted {
        reception_number: String,
        reception_date_time: NaiveDateTime,
        count: usize,
    },
    /// `SegmentOfResult` 2: the job is not finished.
    BulkPending { reception_number: String },
    /// `OQSmuimm02`: one `BulkRegistrationUnit` per entry (MR
    /// `ReferenceNumberResultParser.cs`).
    Registrations {
        reception_number: String,
        units: Vec<Registration>,
    },
    /// 医療扶助 / オンライン診療 / 訪問診療 download: *partial* — the identifiers, the
    /// count accepted, and a `ProcessingResultMessage` saying no records are
    /// simulated.
    Partial {
        reception_number: String,
        count: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherResponse {
    pub kind: MessageKind,
    pub header: OtherHeader,
    pub body: OtherBody,
}

/// The message of a partial download (see [`OtherBody::Partial`]).
pub const PARTIAL_MESSAGE: &str =
    "onsim: この種別の結果レコードは模擬していません / results of this kind are not simulated";

impl OtherHeader {
    /// `stamp`: the `ProcessExecutionTime`, from the terminal's
    /// [`super::answer::StampClock`] like the qualification answers'.
    pub(crate) fn new(
        stamp: NaiveDateTime,
        segment: SegmentOfResult,
        code: CharacterCode,
        echo: &RequestEcho,
    ) -> Self {
        OtherHeader {
            process_execution_time: stamp,
            medical_institution_code: echo.medical_institution_code.clone(),
            arbitrary_file_identifier: echo.arbitrary_file_identifier.clone(),
            reception_number: None,
            segment_of_result: segment,
            error_code: None,
            error_message: None,
            character_code_identifier: code,
            result_code: None,
            message_contents: None,
        }
    }
}

impl OtherResponse {
    /// The abnormal answer to a refused request of `kind`, echoing what could be
    /// read, stamped `stamp` (see [`super::answer::StampClock`]).
    pub fn abnormal(
        kind: MessageKind,
        refusal: &Refusal,
        stamp: NaiveDateTime,
        default: CharacterCode,
    ) -> Self {
        let code = refusal.echo.character_code_identifier.unwrap_or(default);
        let mut header = OtherHeader::new(stamp, SegmentOfResult::Abnormal, code, &refusal.echo);
        header.error_code = Some(refusal.error.code);
        header.error_message = Some(refusal.error.message());
        if health_info::is_health(kind) {
            header.result_code = Some(HealthResult::Refused);
            header.message_contents = Some(refusal.error.message());
        }
        OtherResponse {
            kind,
            header,
            body: OtherBody::Empty,
        }
    }

    /// The document, encoded as its `CharacterCodeIdentifier` says.
    pub fn render(&self) -> Vec<u8> {
        let h = &self.header;
        let mut w = Writer::new(h.character_code_identifier);
        w.start("XmlMsg")
            .start("MessageHeader")
            .leaf("ProcessExecutionTime", Some(h.process_execution_time))
            .leaf(
                "MedicalInstitutionCode",
                h.medical_institution_code.as_deref(),
            )
            .leaf(
                "ArbitraryFileIdentifier",
                h.arbitrary_file_identifier.as_deref(),
            )
            .leaf("ReceptionNumber", h.reception_number.as_deref())
            .leaf("SegmentOfResult", Some(h.segment_of_result.code()))
            .leaf("ErrorCode", h.error_code.map(|c| c.code()))
            .leaf("ErrorMessage", h.error_message.as_deref())
            .leaf(
                "CharacterCodeIdentifier",
                Some(h.character_code_identifier.identifier()),
            )
            .leaf("ResultCode", h.result_code.map(HealthResult::code))
            .leaf("MessageContents", h.message_contents.as_deref());
        if let OtherBody::Health(a) = &self.body {
            health_info::write_person(&mut w, self.kind, &a.person);
        }
        w.end().start("MessageBody");
        match &self.body {
            OtherBody::Empty => {}
            OtherBody::Health(a) => health_info::write_records(&mut w, a),
            OtherBody::Registration(r) => reference::write_result(&mut w, r),
            OtherBody::BulkAccepted {
                reception_number,
                reception_date_time,
                count,
            } => {
                w.leaf("ReceptionNumber", Some(reception_number))
                    .leaf("ReceptionDateTime", Some(*reception_date_time))
                    .leaf(
                        "ProcessingResultStatus",
                        Some(ProcessingResultStatus::Ok.code()),
                    )
                    .leaf("AcceptedCount", Some(count.to_string()));
            }
            OtherBody::BulkPending { reception_number } => {
                w.leaf("ReceptionNumber", Some(reception_number));
            }
            OtherBody::Registrations {
                reception_number,
                units,
            } => {
                w.leaf("ReceptionNumber", Some(reception_number));
                reference::write_counts(&mut w, units);
                for u in units {
                    w.start("BulkRegistrationUnit");
                    reference::write_result(&mut w, u);
                    w.end();
                }
            }
            OtherBody::Partial {
                reception_number,
                count,
            } => {
                w.leaf("ReceptionNumber", Some(reception_number))
                    .leaf(
                        "ProcessingResultStatus",
                        Some(ProcessingResultStatus::Ok.code()),
                    )
                    .leaf("ProcessingResultMessage", Some(PARTIAL_MESSAGE))
                    .leaf("AcceptedCount", Some(count.to_string()));
            }
        }
        w.finish()
    }

    /// A one-line account for logs: no personal data.
    pub fn summary(&self) -> Summary {
        let reception_number = match &self.body {
            OtherBody::BulkAccepted {
                reception_number, ..
            }
            | OtherBody::BulkPending { reception_number }
            | OtherBody::Registrations {
                reception_number, ..
            }
            | OtherBody::Partial {
                reception_number, ..
            } => Some(reception_number.clone()),
            _ => None,
        };
        Summary {
            kind: Some(self.kind),
            segment: self.header.segment_of_result,
            error_code: self.header.error_code,
            validities: Vec::new(),
            reception_number,
        }
    }
}

/// Read an answer of `kind` back (clinic-side simulations and the round-trip tests).
pub fn parse_other_response(
    kind: MessageKind,
    bytes: &[u8],
) -> Result<OtherResponse, EligibilityError> {
    let (text, _) = encoding::decode(bytes)?;
    let doc = tree::parse(&text, tree::TreeLimits::default())?;
    let root = doc.root();
    if root.name() != "XmlMsg" {
        return Err(EligibilityError::new(ErrorCode::WrongRoot, "root"));
    }
    let h = root.req_child("MessageHeader")?;
    let b = root.req_child("MessageBody")?;
    let text_of = |e: Element<'_, '_>, n: &str| e.opt_text(n).map(|o| o.map(str::to_string));
    let header = OtherHeader {
        process_execution_time: parse_time(
            "ProcessExecutionTime",
            h.req_text("ProcessExecutionTime")?,
        )?,
        medical_institution_code: text_of(h, "MedicalInstitutionCode")?,
        arbitrary_file_identifier: text_of(h, "ArbitraryFileIdentifier")?,
        reception_number: text_of(h, "ReceptionNumber")?,
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
        error_message: text_of(h, "ErrorMessage")?,
        character_code_identifier: CharacterCode::from_identifier(
            h.req_text("CharacterCodeIdentifier")?,
        )
        .ok_or_else(|| EligibilityError::new(ErrorCode::InvalidValue, "CharacterCodeIdentifier"))?,
        result_code: h
            .opt_text("ResultCode")?
            .map(|s| HealthResult::parse("ResultCode", s))
            .transpose()?,
        message_contents: text_of(h, "MessageContents")?,
    };
    let count = |e: Element<'_, '_>| -> Result<usize, EligibilityError> {
        e.req_text("AcceptedCount")?
            .parse()
            .map_err(|_| EligibilityError::new(ErrorCode::InvalidValue, "AcceptedCount"))
    };
    let body = if header.segment_of_result == SegmentOfResult::Abnormal {
        OtherBody::Empty
    } else if health_info::is_health(kind) {
        match health_info::read_answer(kind, h, b)? {
            Some(a) => OtherBody::Health(a),
            None => OtherBody::Empty,
        }
    } else if kind == MessageKind::ReferenceSingle {
        OtherBody::Registration(reference::read_result(b)?)
    } else {
        let rn = b.req_text("ReceptionNumber")?.to_string();
        match kind {
            _ if header.segment_of_result == SegmentOfResult::Processing => {
                OtherBody::BulkPending {
                    reception_number: rn,
                }
            }
            MessageKind::ReferenceBulkDownload => OtherBody::Registrations {
                reception_number: rn,
                units: b
                    .all("BulkRegistrationUnit")
                    .map(reference::read_result)
                    .collect::<Result<_, _>>()?,
            },
            k if other_bulk::is_download(k) => OtherBody::Partial {
                reception_number: rn,
                count: count(b)?,
            },
            _ => OtherBody::BulkAccepted {
                reception_number: rn,
                reception_date_time: parse_time(
                    "ReceptionDateTime",
                    b.req_text("ReceptionDateTime")?,
                )?,
                count: count(b)?,
            },
        }
    };
    Ok(OtherResponse { kind, header, body })
}

// ---------------------------------------------------------------------------------
// Answering any request file.

/// The answer to a request file of any kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answered {
    /// The qualification kinds (and unknown kinds): an XmlMsg [`Response`].
    Qualification(Response),
    /// The other interfaces.
    Other(OtherResponse),
}

impl Answered {
    pub fn render(&self) -> Vec<u8> {
        match self {
            Answered::Qualification(r) => r.render(),
            Answered::Other(r) => r.render(),
        }
    }

    pub fn summary(&self, kind: Option<MessageKind>) -> Summary {
        match self {
            Answered::Qualification(r) => Summary::of(kind, r),
            Answered::Other(r) => r.summary(),
        }
    }
}

/// What the header of any XmlMsg document says, read leniently, for the echo of an
/// abnormal answer: `MedicalInstitutionCode`, `ArbitraryFileIdentifier`,
/// `CharacterCodeIdentifier`, `QualificationConfirmationDate`. Empty when the
/// bytes are no XmlMsg at all.
pub fn salvage_echo(bytes: &[u8], limits: &super::xml::Limits) -> RequestEcho {
    if bytes.len() > limits.max_file_bytes {
        return RequestEcho::default();
    }
    let Ok((text, _)) = encoding::decode(bytes) else {
        return RequestEcho::default();
    };
    let Ok(doc) = tree::parse(&text, limits.tree) else {
        return RequestEcho::default();
    };
    let Ok(Some(h)) = doc.root().child("MessageHeader") else {
        return RequestEcho::default();
    };
    let text = |n: &str| {
        h.opt_text(n)
            .ok()
            .flatten()
            .and_then(|s| check_text(n, s, 64).ok())
            .map(str::to_string)
    };
    RequestEcho {
        qualification_confirmation_date: text("QualificationConfirmationDate")
            .and_then(|s| parse_date("", &s).ok()),
        medical_institution_code: text("MedicalInstitutionCode"),
        arbitrary_file_identifier: text("ArbitraryFileIdentifier"),
        character_code_identifier: text("CharacterCodeIdentifier")
            .and_then(|s| CharacterCode::from_identifier(&s)),
        reception_number: None,
    }
}

/// The names the terminal answers, for the error of an unknown one.
pub fn known_prefixes() -> String {
    MessageKind::ALL
        .iter()
        .map(|k| format!("{}req_", k.id()))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Service {
    /// Answer a request file of any kind (`None`: the file name names no kind we
    /// know). Qualification kinds are answered as [`Service::handle`] does, with
    /// registered reference numbers put in; the other interfaces by this module;
    /// an unknown kind gets an abnormal answer (`ErrorCode` 2005) that still echoes
    /// the document's `MedicalInstitutionCode` and `ArbitraryFileIdentifier`.
    pub fn answer_any(
        &mut self,
        kind: Option<MessageKind>,
        bytes: &[u8],
        now: VirtualTime,
    ) -> Answered {
        match kind {
            Some(k) if k.is_other() => Answered::Other(self.answer_other(k, bytes, now)),
            // Unknown kinds are refused by `Service::handle` with the salvaged
            // echo; registered reference numbers are put in by the answering
            // itself (`answer::reference_key`).
            _ => Answered::Qualification(self.handle(kind, bytes, now)),
        }
    }

    /// A card confirmation ([`Service::card`]) that also carries the registered
    /// reference number and remembers the consents given at the reader for the
    /// 薬剤情報 / 特定健診 requests that follow.
    pub fn card_with_references(
        &mut self,
        holder: &VerifiedCardHolder,
        consents: ReaderConsents,
        now: VirtualTime,
    ) -> Response {
        let r = self.card(holder, consents, now);
        self.others.note_card_consents(holder, consents, now);
        r
    }

    /// Answer a request of one of the other kinds ([`MessageKind::is_other`]).
    pub fn answer_other(
        &mut self,
        kind: MessageKind,
        bytes: &[u8],
        now: VirtualTime,
    ) -> OtherResponse {
        let default = self.config.default_character_code;
        let limits = self.config.limits;
        let stamp = self.stamp(now);
        let result = (|| {
            if bytes.len() > limits.max_file_bytes {
                return Err(Refusal::from(EligibilityError::new(
                    ErrorCode::TooLarge,
                    format!("{} bytes, limit {}", bytes.len(), limits.max_file_bytes),
                )));
            }
            let (text, _) = encoding::decode(bytes)?;
            let doc = tree::parse(&text, limits.tree)?;
            let echo = salvage_echo(bytes, &limits);
            let with_echo = |error: EligibilityError| Refusal {
                error,
                echo: echo.clone(),
            };
            let root = doc.root();
            if root.name() != "XmlMsg" {
                return Err(with_echo(EligibilityError::new(
                    ErrorCode::WrongRoot,
                    format!(
                        "root is <{}>",
                        root.name().chars().take(40).collect::<String>()
                    ),
                )));
            }
            let h = root
                .req_child("MessageHeader")
                .map_err(|e| with_echo(EligibilityError::new(ErrorCode::WrongRoot, e.detail)))?;
            let b = root
                .req_child("MessageBody")
                .map_err(|e| with_echo(EligibilityError::new(ErrorCode::WrongRoot, e.detail)))?;
            let institution = read_institution(h).map_err(&with_echo)?;
            if self.config.check_institution && institution != self.institution {
                return Err(with_echo(EligibilityError::new(
                    ErrorCode::InstitutionMismatch,
                    format!("request {institution}, terminal {}", self.institution),
                )));
            }
            let code = echo.character_code_identifier.unwrap_or(default);
            let ctx = Ctx {
                pop: &self.population,
                institution,
                echo: &echo,
                code,
                now,
                stamp,
            };
            let desk = &mut self.others;
            let r = if health_info::is_health(kind) {
                health_info::answer(desk, &ctx, kind, h, b)
            } else if reference::is_reference(kind) {
                reference::answer(desk, &ctx, kind, b)
            } else {
                other_bulk::answer(desk, &ctx, kind, b)
            };
            r.map_err(with_echo)
        })();
        match result {
            Ok(r) => r,
            Err(refusal) => OtherResponse::abnormal(kind, &refusal, stamp, default),
        }
    }
}

/// What every answer of these kinds is made with.
pub(crate) struct Ctx<'a> {
    pub pop: &'a Population,
    pub institution: InstitutionCode,
    pub echo: &'a RequestEcho,
    pub code: CharacterCode,
    pub now: VirtualTime,
    /// The answer's `ProcessExecutionTime` (the terminal's `StampClock` at `now`).
    pub stamp: NaiveDateTime,
}

impl Ctx<'_> {
    pub fn header(&self, segment: SegmentOfResult) -> OtherHeader {
        OtherHeader::new(self.stamp, segment, self.code, self.echo)
    }
}

/// `MessageHeader/MedicalInstitutionCode`, required and valid.
fn read_institution(h: Element<'_, '_>) -> Result<InstitutionCode, EligibilityError> {
    let s = h.req_text("MedicalInstitutionCode")?;
    s.parse().map_err(|e| {
        EligibilityError::new(
            ErrorCode::InvalidInstitutionCode,
            format!("MedicalInstitutionCode: {e}"),
        )
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::eligibility::answer::AnswerConfig;
    use crate::eligibility::population::PopulationConfig;

    pub(crate) fn service(institution: &str) -> Service {
        let pop = Population::new(PopulationConfig {
            households: 2_000,
            ..Default::default()
        });
        Service::new(pop, institution.parse().unwrap(), AnswerConfig::default())
    }

    pub(crate) fn now(s: &Service) -> VirtualTime {
        VirtualTime::at(s.population.config().epoch, 10, 0)
    }

    #[test]
    fn unknown_kinds_echo_the_institution_and_file_identifier() {
        let mut s = service("1313120014");
        let doc = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n<XmlMsg><MessageHeader>\
            <MedicalInstitutionCode>1313120014</MedicalInstitutionCode>\
            <ArbitraryFileIdentifier>abc-123</ArbitraryFileIdentifier>\
            <CharacterCodeIdentifier>1</CharacterCodeIdentifier></MessageHeader><MessageBody/></XmlMsg>";
        let t = now(&s);
        let a = s.answer_any(
            MessageKind::of_request_file("XYZsiquc01req_1.xml"),
            doc.as_bytes(),
            t,
        );
        let Answered::Qualification(r) = &a else {
            panic!()
        };
        assert_eq!(r.header.error_code, Some(ErrorCode::UnknownMessage));
        assert_eq!(
            r.header.medical_institution_code.as_deref(),
            Some("1313120014")
        );
        assert_eq!(
            r.header.arbitrary_file_identifier.as_deref(),
            Some("abc-123")
        );
        assert!(r
            .header
            .error_message
            .as_deref()
            .unwrap()
            .contains("YZKsiquc01req_"));
        let back = super::super::xml::parse_response(&a.render()).unwrap();
        assert_eq!(&back, r);
        assert_eq!(a.summary(None).error_code, Some(ErrorCode::UnknownMessage));
        // Not XML at all: still an answer, nothing to echo.
        let a = s.answer_any(None, b"\x00\x01", t);
        let Answered::Qualification(r) = a else {
            panic!()
        };
        assert_eq!(r.header.arbitrary_file_identifier, None);
    }

    #[test]
    fn other_kinds_refuse_another_institution_and_bad_xml_with_the_echo() {
        let mut s = service("1313120014");
        let t = now(&s);
        let doc = "<XmlMsg><MessageHeader><MedicalInstitutionCode>0110113719</MedicalInstitutionCode>\
            <ArbitraryFileIdentifier>f9</ArbitraryFileIdentifier></MessageHeader><MessageBody/></XmlMsg>";
        for k in MessageKind::ALL.into_iter().filter(|k| k.is_other()) {
            let r = s.answer_other(k, doc.as_bytes(), t);
            assert_eq!(
                r.header.error_code,
                Some(ErrorCode::InstitutionMismatch),
                "{k:?}"
            );
            assert_eq!(r.header.arbitrary_file_identifier.as_deref(), Some("f9"));
            assert_eq!(parse_other_response(k, &r.render()).unwrap(), r);
            let r = s.answer_other(k, b"<XmlMsg><a x=1/></XmlMsg>", t);
            assert_eq!(r.header.error_code, Some(ErrorCode::NotXml), "{k:?}");
            assert_eq!(parse_other_response(k, &r.render()).unwrap(), r);
        }
    }

    #[test]
    fn the_terminal_answers_the_other_kinds_itself_and_echoes_unknown_ones() {
        let mut t = super::super::Terminal::new(service("1313120014"));
        let now = now(&t.service);
        let doc =
            "<XmlMsg><MessageHeader><MedicalInstitutionCode>1313120014</MedicalInstitutionCode>\
            <ArbitraryFileIdentifier>z1</ArbitraryFileIdentifier></MessageHeader>\
            <MessageBody><ReceptionNumber>1</ReceptionNumber></MessageBody></XmlMsg>";
        let out = t
            .local_refusal("OQSmutic02req_1.xml", doc.as_bytes(), now)
            .expect("answered locally");
        assert_eq!(out.name, "OQSmutic02res_1.xml");
        assert_eq!(
            out.summary.error_code,
            Some(ErrorCode::UnknownReceptionNumber)
        );
        let r = parse_other_response(MessageKind::MedicalAidDownload, &out.bytes).unwrap();
        assert_eq!(r.header.arbitrary_file_identifier.as_deref(), Some("z1"));
        let out = t
            .local_refusal("ABCreq_1.xml", doc.as_bytes(), now)
            .unwrap();
        let r = super::super::xml::parse_response(&out.bytes).unwrap();
        assert_eq!(r.header.error_code, Some(ErrorCode::UnknownMessage));
        assert_eq!(r.header.arbitrary_file_identifier.as_deref(), Some("z1"));
        assert_eq!(
            r.header.medical_institution_code.as_deref(),
            Some("1313120014")
        );
    }

    #[test]
    fn insurer_numbers_in_every_form() {
        let n: InsurerNumber = "06130016".parse().unwrap_or_else(|_| {
            let p = crate::codes::Prefecture::new(13).unwrap();
            InsurerNumber::new(Some(6), p, 1).unwrap()
        });
        let s = n.to_string();
        assert_eq!(parse_insurer("I", &s).unwrap(), n);
        let p = crate::codes::Prefecture::new(13).unwrap();
        let nhi = InsurerNumber::new(None, p, 12).unwrap();
        let six = nhi.to_string();
        for form in [six.clone(), format!("  {six}"), format!("00{six}")] {
            assert_eq!(parse_insurer("I", &form).unwrap(), nhi, "{form:?}");
        }
        assert_eq!(
            parse_insurer("InsurerNumber", "12").unwrap_err().code,
            ErrorCode::InvalidInsurerNumber
        );
    }
}
