//! Answering inquiries: pure functions from (population, institution, request, now)
//! to a response, plus the bulk inquiry (一括照会) state machine.
//!
//! Nothing here reads a clock or touches a file: the file-drop driver and the later
//! mutual-TLS API both call [`Service::handle`] (or the free functions) with the
//! virtual time of their shared clock.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{NaiveDate, NaiveDateTime};

use super::encoding::CharacterCode;
use super::error::{EligibilityError, ErrorCode};
use super::other::CardKey;
use super::population::{Lookup, Population, SearchKey};
use super::reference::ReferenceRegistry;
use super::values::*;
use super::xml::*;
use crate::codes::{InstitutionCode, InsurerNumber};
use crate::time::VirtualTime;

/// Settings of the answering side. Every default is *(our choice)*.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerConfig {
    /// The terminal's output encoding: used when the request names none in
    /// `CharacterCodeIdentifier` (and for abnormal answers to unreadable requests).
    /// Real clients read answers as UTF-8 (SK agent, res watcher, MC) or as Shift_JIS
    /// (OD), so it is a setting (docs/INTERFACE.md §2). Default Shift_JIS: see
    /// [`CharacterCode`].
    pub default_character_code: CharacterCode,
    /// Refuse requests whose `MedicalInstitutionCode` is not the terminal's own
    /// (ErrorCode 4002). Default on.
    pub check_institution: bool,
    /// Virtual minutes between a bulk upload and its results being ready. Default 5.
    pub bulk_delay_minutes: i64,
    /// Virtual days a bulk job is kept after upload; later downloads get 4001.
    /// Default 7.
    pub bulk_retention_days: i64,
    /// A card answer carries the 付帯情報 note [`Notice::CardCertificateExpiresSoon`]
    /// when the card's certificate expires within this many months (MC
    /// `MessageBody.ts`: "マイナンバーカードの失効期限3か月前"). Default 3.
    pub card_expiry_notice_months: u32,
    pub limits: Limits,
}

impl Default for AnswerConfig {
    fn default() -> Self {
        AnswerConfig {
            default_character_code: CharacterCode::ShiftJis,
            check_institution: true,
            bulk_delay_minutes: 5,
            bulk_retention_days: 7,
            card_expiry_notice_months: 3,
            limits: Limits::default(),
        }
    }
}

/// The `ProcessExecutionTime` sequence of one terminal *(our choice)*: the stamp of
/// an answer is `max(now, previous stamp + 1 s)`, so it follows the virtual clock
/// (to the second) and two answers never share it — even at `--speed 0`, where the
/// clock stands still (SK keys its records by this time: docs/INTERFACE.md §2).
/// Pure and deterministic: the stamps depend only on the order of the answers and
/// the virtual times they were given. Lock-free, so a shared service can stamp
/// from many threads.
#[derive(Debug)]
pub struct StampClock {
    /// Seconds since 1970 of the last stamp (`i64::MIN`: none yet).
    last: AtomicI64,
}

impl Default for StampClock {
    fn default() -> Self {
        StampClock {
            last: AtomicI64::new(i64::MIN),
        }
    }
}

impl Clone for StampClock {
    fn clone(&self) -> Self {
        StampClock {
            last: AtomicI64::new(self.last.load(Ordering::Relaxed)),
        }
    }
}

impl StampClock {
    /// The stamp of the next answer given at virtual time `now`.
    pub fn next(&self, now: VirtualTime) -> NaiveDateTime {
        let t = naive(now).and_utc().timestamp();
        let step = |last: i64| t.max(last.saturating_add(1));
        let prev = self
            .last
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| Some(step(l)))
            .unwrap_or_else(|l| l);
        chrono::DateTime::from_timestamp(step(prev), 0)
            .map(|d| d.naive_utc())
            .unwrap_or_else(|| naive(now))
    }
}

/// The key a registered 照会番号 is filed under for a record (a
/// [`ReferenceRegistry`] entry, filled by the registration messages `OQSsiimm01` /
/// `OQSmuimm01/02`: [`super::reference`]): its card numbers, symbol and branch
/// trimmed — the registration requests carry no birthdate (MR
/// `ReferenceNumberRequestBuilder.cs`).
pub fn reference_key(q: &Qualification) -> CardKey {
    CardKey::of(
        q.insurer_number,
        q.insured_card_symbol.as_deref(),
        &q.insured_identification_number,
        q.insured_branch_number.as_deref().unwrap_or(""),
    )
}

/// A card holder whose identity the reader has verified (JPKI user-authentication
/// certificate checked, face or PIN matched). The live service fills it from the
/// card; here it is a plain struct so this module does not depend on `pki`/`card`.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifiedCardHolder {
    pub insurer_number: InsurerNumber,
    pub symbol: Option<String>,
    pub number: String,
    pub branch: Option<String>,
    pub birthdate: NaiveDate,
}

impl std::fmt::Debug for VerifiedCardHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VerifiedCardHolder(<redacted>)")
    }
}

impl From<SearchKey> for VerifiedCardHolder {
    fn from(k: SearchKey) -> Self {
        VerifiedCardHolder {
            insurer_number: k.insurer_number,
            symbol: k.symbol,
            number: k.number,
            branch: k.branch,
            birthdate: k.birthdate,
        }
    }
}

/// What the patient chose at the reader's screens (同意取得, 処方箋の発行形態) and
/// what the reader knows of the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReaderConsents {
    /// 限度額適用認定証関連情報の提供 (also releases the 特定疾病療養受療証, *(our
    /// choice)*, unless `specific_diseases` says otherwise).
    pub limit_certificate: bool,
    /// 薬剤情報の閲覧.
    pub pharmacists_info: bool,
    /// 特定健診情報の閲覧.
    pub specific_health_checkups: bool,
    /// 特定疾病療養受療証の提供; `None`: as `limit_certificate`.
    pub specific_diseases: Option<bool>,
    /// 診療情報の閲覧.
    pub diagnosis_info: bool,
    /// 手術情報の閲覧.
    pub operation_info: bool,
    /// 処方箋の発行形態 the patient chose (`None`: not asked).
    pub prescription: Option<PrescriptionIssueSelect>,
    /// Expiry of the card's user-authentication certificate, for the 付帯情報 note.
    pub card_certificate_expiry: Option<NaiveDate>,
}

/// Hours a consent to view information lasts (`…AvailableTime` = `…ConsTime` +
/// 24 h, as in MC's face fixture: 20230221174835 → 20230222174835).
const VIEWING_HOURS: i64 = 24;

fn header(
    stamp: NaiveDateTime,
    reference: Option<ReferenceClassification>,
    segment: SegmentOfResult,
    code: CharacterCode,
) -> ResponseHeader {
    ResponseHeader {
        process_execution_time: stamp,
        qualification_confirmation_date: None,
        medical_institution_code: None,
        arbitrary_file_identifier: None,
        reception_number: None,
        reference_classification: reference,
        segment_of_result: segment,
        error_code: None,
        error_message: None,
        counts: None,
        character_code_identifier: code,
    }
}

fn echo_header(
    h: &RequestHeader,
    stamp: NaiveDateTime,
    reference: Option<ReferenceClassification>,
    segment: SegmentOfResult,
    default: CharacterCode,
) -> ResponseHeader {
    let mut rh = header(
        stamp,
        reference,
        segment,
        h.character_code_identifier.unwrap_or(default),
    );
    rh.qualification_confirmation_date = h.qualification_confirmation_date;
    rh.medical_institution_code = Some(h.medical_institution_code.digits());
    rh.arbitrary_file_identifier = h.arbitrary_file_identifier.clone();
    rh
}

/// The abnormal answer (`SegmentOfResult` 9) to a refused request, stamped
/// `naive(now)`.
pub fn abnormal(
    refusal: &Refusal,
    reference: ReferenceClassification,
    now: VirtualTime,
    default: CharacterCode,
) -> Response {
    abnormal_at(refusal, Some(reference), naive(now), default)
}

/// [`abnormal`] with an explicit stamp (see [`StampClock`]) and, for bulk kinds, no
/// `ReferenceClassification`.
pub fn abnormal_at(
    refusal: &Refusal,
    reference: Option<ReferenceClassification>,
    stamp: NaiveDateTime,
    default: CharacterCode,
) -> Response {
    let e = &refusal.echo;
    let mut h = header(
        stamp,
        reference,
        SegmentOfResult::Abnormal,
        e.character_code_identifier.unwrap_or(default),
    );
    h.qualification_confirmation_date = e.qualification_confirmation_date;
    h.medical_institution_code = e.medical_institution_code.clone();
    h.arbitrary_file_identifier = e.arbitrary_file_identifier.clone();
    h.reception_number = e.reception_number.clone();
    h.error_code = Some(refusal.error.code);
    h.error_message = Some(refusal.error.message());
    Response {
        header: h,
        body: ResponseBody::Empty,
    }
}

/// The `ReferenceClassification` an abnormal answer to a request of `kind` carries:
/// 2 for single inquiries, none for bulk messages (SK's bulk models have none).
pub fn reference_of(kind: Option<MessageKind>) -> Option<ReferenceClassification> {
    match kind {
        Some(MessageKind::BulkUpload | MessageKind::BulkDownload) => None,
        _ => Some(ReferenceClassification::InsuranceCard),
    }
}

/// A consent as the result shows it: the flag, its time only when given, and the
/// viewing window for the information kinds that have one.
fn consent(given: bool, stamp: NaiveDateTime, viewing: bool) -> Consent {
    Consent {
        flag: ConsentFlag::of(given),
        time: given.then_some(stamp),
        available_time: (given && viewing).then(|| stamp + chrono::Duration::hours(VIEWING_HOURS)),
    }
}

/// Inputs of one answer besides the lookup.
struct Asked<'a> {
    search: Option<SearchInfo>,
    /// The request's (or reader's) consent to the certificate blocks.
    limit_consent: Option<bool>,
    specific_diseases_consent: Option<bool>,
    reader: Option<ReaderConsents>,
    stamp: NaiveDateTime,
    refs: Option<&'a ReferenceRegistry>,
    /// Whether reference numbers go into the results (single) or the unit (bulk).
    bulk: bool,
}

/// One inquiry's answer, with the consents that decide what is shown
/// (certificate blocks only with consent: docs/INTERFACE.md §3).
fn answer_of(lookup: Lookup, asked: Asked<'_>, cfg: &AnswerConfig) -> Answer {
    let t = asked.stamp;
    let mut unit_reference = None;
    let results = lookup
        .records
        .into_iter()
        .map(|r| {
            let mut q = r.qualification;
            if let Some(given) = asked.limit_consent {
                q.limit_consent = Some(consent(given, t, false));
                if given {
                    q.limit = r.limit;
                }
            }
            if let Some(given) = asked.specific_diseases_consent {
                q.specific_diseases_consent = Some(consent(given, t, false));
                if given {
                    q.specific_diseases = r.specific_diseases;
                }
            }
            if let Some(c) = asked.reader {
                q.specific_health_checkups_consent =
                    Some(consent(c.specific_health_checkups, t, true));
                q.pharmacists_info_consent = Some(consent(c.pharmacists_info, t, true));
                q.diagnosis_info_consent = Some(consent(c.diagnosis_info, t, true));
                q.operation_info_consent = Some(consent(c.operation_info, t, true));
                q.qualification_confirmation_key = Some(confirmation_key(&q, t));
            }
            if let Some(book) = asked.refs.filter(|b| !b.is_empty()) {
                let n = book.get(&reference_key(&q)).map(str::to_string);
                if asked.bulk {
                    unit_reference = unit_reference.take().or(n);
                } else {
                    q.reference_number = n;
                }
            }
            q
        })
        .collect();
    let (code, message) = asked
        .reader
        .and_then(|c| c.card_certificate_expiry)
        .filter(|&exp| {
            let today = t.date();
            exp >= today && exp < today + chrono::Months::new(cfg.card_expiry_notice_months)
        })
        .map(|_| {
            let n = Notice::CardCertificateExpiresSoon;
            (Some(n.code().to_string()), Some(n.message().to_string()))
        })
        .unwrap_or((None, None));
    Answer {
        search: asked.search.map(echo_search),
        processing_result_status: ProcessingResultStatus::Ok,
        processing_result_code: code,
        processing_result_message: message,
        qualification_validity: Some(lookup.validity),
        results,
        prescription_issue_select: asked.reader.and_then(|c| c.prescription),
        reference_number: unit_reference,
    }
}

/// The echoed search info: as the request had it, with the consent flag written as
/// 0 when the request left it out (MC's `QualificationConfirmSearchInfo.ts`
/// requires it; no flag means no consent) *(our choice)*.
fn echo_search(mut s: SearchInfo) -> SearchInfo {
    s.limit_consent.get_or_insert(false);
    s
}

/// 資格確認キー of a card confirmation: 32 hex digits, a pure function of the
/// record's numbers and the stamp *(our choice)*: the real derivation is not public.
fn confirmation_key(q: &Qualification, stamp: NaiveDateTime) -> String {
    fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h
    }
    let h = fnv(
        0xcbf2_9ce4_8422_2325,
        q.insured_identification_number.as_bytes(),
    );
    let h = fnv(
        h,
        q.insured_branch_number.as_deref().unwrap_or("").as_bytes(),
    );
    let a = fnv(h, &stamp.and_utc().timestamp().to_be_bytes());
    let b = fnv(a, b"key");
    format!("{a:016x}{b:016x}")
}

/// 付帯情報 notes on normal answers (`ProcessingResultCode` /
/// `ProcessingResultMessage`, MC `MessageBody.ts`). The real codes are not public;
/// these are *(our choice)*, kept in this one table like [`ErrorCode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// The card's user-authentication certificate expires within
    /// [`AnswerConfig::card_expiry_notice_months`].
    CardCertificateExpiresSoon,
}

impl Notice {
    pub fn code(self) -> &'static str {
        match self {
            Notice::CardCertificateExpiresSoon => "0101",
        }
    }
    pub fn message(self) -> &'static str {
        match self {
            Notice::CardCertificateExpiresSoon => {
                "マイナンバーカードの電子証明書の有効期限が近づいています / the card's certificate expires soon"
            }
        }
    }
}

fn answer_search(
    pop: &Population,
    date: NaiveDate,
    s: &SearchInfo,
    stamp: NaiveDateTime,
    refs: Option<&ReferenceRegistry>,
    bulk: bool,
    cfg: &AnswerConfig,
) -> Answer {
    let lookup = pop.lookup(&SearchKey::of_search_info(s), date);
    answer_of(
        lookup,
        Asked {
            search: Some(s.clone()),
            limit_consent: s.limit_consent,
            specific_diseases_consent: s.limit_consent,
            reader: None,
            stamp,
            refs,
            bulk,
        },
        cfg,
    )
}

fn echo_of_header(h: &RequestHeader) -> RequestEcho {
    RequestEcho {
        qualification_confirmation_date: h.qualification_confirmation_date,
        medical_institution_code: Some(h.medical_institution_code.to_string()),
        arbitrary_file_identifier: h.arbitrary_file_identifier.clone(),
        character_code_identifier: h.character_code_identifier,
        reception_number: None,
    }
}

fn institution_check(
    cfg: &AnswerConfig,
    institution: InstitutionCode,
    h: &RequestHeader,
) -> Result<(), Refusal> {
    if cfg.check_institution && h.medical_institution_code != institution {
        return Err(Refusal {
            error: EligibilityError::new(
                ErrorCode::InstitutionMismatch,
                format!(
                    "request {}, terminal {institution}",
                    h.medical_institution_code
                ),
            ),
            echo: echo_of_header(h),
        });
    }
    Ok(())
}

/// Answer a single inquiry (資格確認（一件照会）) with the default configuration.
/// Bulk bodies are refused (they need a [`BulkDesk`]; use [`Service`]).
pub fn confirm(
    pop: &Population,
    institution: InstitutionCode,
    request: &Request,
    now: VirtualTime,
) -> Response {
    confirm_with(&AnswerConfig::default(), pop, institution, request, now)
}

/// [`confirm_at`] stamped `naive(now)`.
pub fn confirm_with(
    cfg: &AnswerConfig,
    pop: &Population,
    institution: InstitutionCode,
    request: &Request,
    now: VirtualTime,
) -> Response {
    confirm_at(cfg, pop, institution, request, naive(now), None)
}

/// Answer a single inquiry, stamped `stamp` (from the terminal's [`StampClock`]),
/// with the reference numbers of `refs`.
pub fn confirm_at(
    cfg: &AnswerConfig,
    pop: &Population,
    institution: InstitutionCode,
    request: &Request,
    stamp: NaiveDateTime,
    refs: Option<&ReferenceRegistry>,
) -> Response {
    let reference = Some(ReferenceClassification::InsuranceCard);
    if let Err(r) = institution_check(cfg, institution, &request.header) {
        return abnormal_at(&r, reference, stamp, cfg.default_character_code);
    }
    let h = &request.header;
    match (&request.body, h.qualification_confirmation_date) {
        (RequestBody::Single(s), Some(date)) => Response {
            header: echo_header(
                h,
                stamp,
                reference,
                SegmentOfResult::Normal,
                cfg.default_character_code,
            ),
            body: ResponseBody::Single(answer_search(pop, date, s, stamp, refs, false, cfg)),
        },
        (RequestBody::Single(_), None) => abnormal_at(
            &Refusal {
                error: EligibilityError::new(
                    ErrorCode::MissingField,
                    "MessageHeader/QualificationConfirmationDate",
                ),
                echo: echo_of_header(h),
            },
            reference,
            stamp,
            cfg.default_character_code,
        ),
        _ => abnormal_at(
            &Refusal {
                error: EligibilityError::new(
                    ErrorCode::UnknownMessage,
                    "bulk message sent as a single inquiry",
                ),
                echo: echo_of_header(h),
            },
            reference,
            stamp,
            cfg.default_character_code,
        ),
    }
}

/// Answer a card-based confirmation (マイナ保険証): the holder was verified at the
/// reader, so the answer has `ReferenceClassification` 1 and the consents from the
/// reader's screens. The confirmation date is the day of `now`; stamped
/// `naive(now)`.
pub fn confirm_card(
    pop: &Population,
    institution: InstitutionCode,
    holder: &VerifiedCardHolder,
    consents: ReaderConsents,
    now: VirtualTime,
    code: CharacterCode,
) -> Response {
    confirm_card_at(
        &AnswerConfig::default(),
        pop,
        institution,
        holder,
        consents,
        naive(now),
        code,
        None,
    )
}

/// [`confirm_card`] with the terminal's settings, an explicit stamp and the
/// reference numbers of `refs`.
#[allow(clippy::too_many_arguments)]
pub fn confirm_card_at(
    cfg: &AnswerConfig,
    pop: &Population,
    institution: InstitutionCode,
    holder: &VerifiedCardHolder,
    consents: ReaderConsents,
    stamp: NaiveDateTime,
    code: CharacterCode,
    refs: Option<&ReferenceRegistry>,
) -> Response {
    let key = SearchKey {
        insurer_number: holder.insurer_number,
        symbol: holder.symbol.clone(),
        number: holder.number.clone(),
        branch: holder.branch.clone(),
        birthdate: holder.birthdate,
    };
    let date = stamp.date();
    let lookup = pop.lookup(&key, date);
    let mut h = header(
        stamp,
        Some(ReferenceClassification::Card),
        SegmentOfResult::Normal,
        code,
    );
    h.qualification_confirmation_date = Some(date);
    h.medical_institution_code = Some(institution.to_string());
    Response {
        header: h,
        body: ResponseBody::Single(answer_of(
            lookup,
            Asked {
                search: None,
                limit_consent: Some(consents.limit_certificate),
                specific_diseases_consent: Some(
                    consents
                        .specific_diseases
                        .unwrap_or(consents.limit_certificate),
                ),
                reader: Some(consents),
                stamp,
                refs,
                bulk: false,
            },
            cfg,
        )),
    }
}

/// One accepted bulk upload.
#[derive(Debug, Clone)]
struct BulkJob {
    institution: InstitutionCode,
    accepted_at: VirtualTime,
    ready_at: VirtualTime,
    /// The stamp the results carry (their consent times).
    ready_stamp: NaiveDateTime,
    date: NaiveDate,
    searches: Vec<SearchInfo>,
}

/// The bulk inquiry state machine: upload → reception number (受付番号) → after the
/// processing delay, download by that number. Downloads before the results are ready
/// get `SegmentOfResult` 2; unknown, expired or another institution's numbers get
/// ErrorCode 4001. A finished job can be downloaded again until it expires.
#[derive(Debug, Clone, Default)]
pub struct BulkDesk {
    jobs: BTreeMap<String, BulkJob>,
    serial: u64,
}

impl BulkDesk {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of jobs held.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    fn prune(&mut self, cfg: &AnswerConfig, now: VirtualTime) {
        let keep = cfg.bulk_retention_days;
        self.jobs.retain(|_, j| j.accepted_at.plus_days(keep) > now);
    }

    /// Accept an upload, stamped `naive(now)`.
    pub fn upload(
        &mut self,
        cfg: &AnswerConfig,
        institution: InstitutionCode,
        header: &RequestHeader,
        searches: &[SearchInfo],
        now: VirtualTime,
    ) -> Response {
        self.upload_at(cfg, institution, header, searches, now, naive(now))
    }

    /// Accept an upload. The answer carries `ReceptionNumber` and
    /// `ReceptionDateTime` (SK `QCBIXmlMsgResponse.cs`). *(our choice)* reception
    /// number: the upload time `YYYYMMDDHHmm` followed by a 6-digit serial of this
    /// desk (18 digits).
    pub fn upload_at(
        &mut self,
        cfg: &AnswerConfig,
        institution: InstitutionCode,
        header: &RequestHeader,
        searches: &[SearchInfo],
        now: VirtualTime,
        stamp: NaiveDateTime,
    ) -> Response {
        self.prune(cfg, now);
        let Some(date) = header.qualification_confirmation_date else {
            return abnormal_at(
                &Refusal {
                    error: EligibilityError::new(
                        ErrorCode::MissingField,
                        "MessageHeader/QualificationConfirmationDate",
                    ),
                    echo: echo_of_header(header),
                },
                None,
                stamp,
                cfg.default_character_code,
            );
        };
        self.serial += 1;
        let reception_number = format!(
            "{}{:06}",
            naive(now).format("%Y%m%d%H%M"),
            self.serial % 1_000_000
        );
        let ready_at = now.plus_minutes(cfg.bulk_delay_minutes);
        self.jobs.insert(
            reception_number.clone(),
            BulkJob {
                institution,
                accepted_at: now,
                ready_at,
                ready_stamp: naive(ready_at),
                date,
                searches: searches.to_vec(),
            },
        );
        Response {
            header: echo_header(
                header,
                stamp,
                None,
                SegmentOfResult::Normal,
                cfg.default_character_code,
            ),
            body: ResponseBody::BulkAccepted {
                reception_number,
                reception_date_time: stamp,
            },
        }
    }

    /// Answer a download request, stamped `naive(now)`.
    pub fn download(
        &mut self,
        cfg: &AnswerConfig,
        pop: &Population,
        institution: InstitutionCode,
        header: &RequestHeader,
        reception_number: &str,
        now: VirtualTime,
    ) -> Response {
        self.download_at(
            cfg,
            pop,
            institution,
            header,
            reception_number,
            now,
            naive(now),
            None,
        )
    }

    /// Answer a download request: `MessageHeader/ReceptionNumber`, the `NumberOf*`
    /// counts and one `BulkConfirmUnit` per uploaded inquiry (SK
    /// `QCBIDXmlMsgResponse.cs`; OD `QualificationImportModels.cs`).
    #[allow(clippy::too_many_arguments)]
    pub fn download_at(
        &mut self,
        cfg: &AnswerConfig,
        pop: &Population,
        institution: InstitutionCode,
        header: &RequestHeader,
        reception_number: &str,
        now: VirtualTime,
        stamp: NaiveDateTime,
        refs: Option<&ReferenceRegistry>,
    ) -> Response {
        self.prune(cfg, now);
        let echoed_number: String = reception_number.chars().take(64).collect();
        let job = match self.jobs.get(reception_number) {
            Some(j) if j.institution == institution => j,
            _ => {
                let mut echo = echo_of_header(header);
                echo.reception_number = Some(echoed_number.clone());
                let r = Refusal {
                    error: EligibilityError::new(ErrorCode::UnknownReceptionNumber, echoed_number),
                    echo,
                };
                return abnormal_at(&r, None, stamp, cfg.default_character_code);
            }
        };
        let mut h = echo_header(
            header,
            stamp,
            None,
            SegmentOfResult::Normal,
            cfg.default_character_code,
        );
        h.reception_number = Some(echoed_number);
        if now < job.ready_at {
            h.segment_of_result = SegmentOfResult::Processing;
            return Response {
                header: h,
                body: ResponseBody::BulkPending,
            };
        }
        if h.qualification_confirmation_date.is_none() {
            h.qualification_confirmation_date = Some(job.date);
        }
        let answers: Vec<Answer> = job
            .searches
            .iter()
            .map(|s| answer_search(pop, job.date, s, job.ready_stamp, refs, true, cfg))
            .collect();
        let normal = answers
            .iter()
            .filter(|a| a.processing_result_status == ProcessingResultStatus::Ok)
            .count();
        h.counts = Some(BulkCounts {
            processing_results: answers.len(),
            normal,
            errors: answers.len() - normal,
        });
        Response {
            header: h,
            body: ResponseBody::BulkResults { answers },
        }
    }
}

/// Everything the answering side holds: population, the terminal's institution,
/// settings, the bulk desk, the `ProcessExecutionTime` sequence and the registered
/// reference numbers. One per qualification terminal.
#[derive(Debug, Clone)]
pub struct Service {
    pub population: Population,
    pub institution: InstitutionCode,
    pub config: AnswerConfig,
    pub desk: BulkDesk,
    pub stamps: StampClock,
    /// The other interfaces' state: the registered 照会番号 (read by every
    /// qualification answer), their bulk jobs, card consents (`super::other`).
    pub others: super::other::OtherDesk,
}

impl Service {
    pub fn new(population: Population, institution: InstitutionCode, config: AnswerConfig) -> Self {
        Service {
            population,
            institution,
            config,
            desk: BulkDesk::new(),
            stamps: StampClock::default(),
            others: super::other::OtherDesk::default(),
        }
    }

    /// The stamp of the next answer at `now` (see [`StampClock`]).
    pub fn stamp(&self, now: VirtualTime) -> NaiveDateTime {
        self.stamps.next(now)
    }

    /// Answer the bytes of a request of `kind` (`None`: the kind is unknown, e.g. an
    /// unrecognised file name). Always returns a response; refusals are abnormal.
    pub fn handle(
        &mut self,
        kind: Option<MessageKind>,
        bytes: &[u8],
        now: VirtualTime,
    ) -> Response {
        let default = self.config.default_character_code;
        let Some(kind) = kind else {
            // Still echo the document's identifiers: clients match answers by them
            // (docs/INTERFACE.md §1).
            let r = Refusal {
                error: EligibilityError::new(
                    ErrorCode::UnknownMessage,
                    format!("expected one of {}", super::other::known_prefixes()),
                ),
                echo: super::other::salvage_echo(bytes, &self.config.limits),
            };
            return abnormal_at(&r, reference_of(None), self.stamp(now), default);
        };
        match parse_request(kind, bytes, &self.config.limits) {
            Ok(request) => self.handle_request(&request, now),
            Err(refusal) => {
                abnormal_at(&refusal, reference_of(Some(kind)), self.stamp(now), default)
            }
        }
    }

    /// Answer a request already parsed (the eligibility API parses once, to check the
    /// institution against the client certificate first).
    pub fn handle_request(&mut self, request: &Request, now: VirtualTime) -> Response {
        let default = self.config.default_character_code;
        let stamp = self.stamp(now);
        let kind = match request.body {
            RequestBody::Single(_) => MessageKind::Single,
            RequestBody::BulkUpload(_) => MessageKind::BulkUpload,
            RequestBody::BulkDownload { .. } => MessageKind::BulkDownload,
        };
        if let Err(r) = institution_check(&self.config, self.institution, &request.header) {
            return abnormal_at(&r, reference_of(Some(kind)), stamp, default);
        }
        let refs = Some(&self.others.references);
        match &request.body {
            RequestBody::Single(_) => confirm_at(
                &self.config,
                &self.population,
                self.institution,
                request,
                stamp,
                refs,
            ),
            RequestBody::BulkUpload(searches) => self.desk.upload_at(
                &self.config,
                self.institution,
                &request.header,
                searches,
                now,
                stamp,
            ),
            RequestBody::BulkDownload { reception_number } => self.desk.download_at(
                &self.config,
                &self.population,
                self.institution,
                &request.header,
                reception_number,
                now,
                stamp,
                refs,
            ),
        }
    }

    /// A card-based confirmation for this terminal.
    pub fn card(
        &self,
        holder: &VerifiedCardHolder,
        consents: ReaderConsents,
        now: VirtualTime,
    ) -> Response {
        confirm_card_at(
            &self.config,
            &self.population,
            self.institution,
            holder,
            consents,
            self.stamp(now),
            self.config.default_character_code,
            Some(&self.others.references),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eligibility::population::{Feature, PopulationConfig};

    fn service() -> Service {
        let pop = Population::new(PopulationConfig {
            households: 5_000,
            ..Default::default()
        });
        Service::new(pop, "1313120014".parse().unwrap(), AnswerConfig::default())
    }

    fn now(s: &Service) -> VirtualTime {
        VirtualTime::at(s.population.config().epoch, 9, 30)
    }

    fn request(s: &Service, body: RequestBody) -> Request {
        Request {
            header: RequestHeader {
                qualification_confirmation_date: Some(s.population.config().epoch),
                medical_institution_code: s.institution,
                arbitrary_file_identifier: Some("f1".into()),
                character_code_identifier: None,
            },
            body,
        }
    }

    #[test]
    fn single_inquiries_give_each_validity() {
        let mut s = service();
        for v in QualificationValidity::PRODUCED {
            let key = s.population.example(*v);
            let req = request(&s, RequestBody::Single(key.to_search_info()));
            let t = now(&s);
            let r = s.handle(
                Some(MessageKind::Single),
                &req.render(CharacterCode::ShiftJis),
                t,
            );
            assert_eq!(r.header.segment_of_result, SegmentOfResult::Normal);
            assert_eq!(r.header.arbitrary_file_identifier.as_deref(), Some("f1"));
            let ResponseBody::Single(a) = &r.body else {
                panic!("{r:?}")
            };
            assert_eq!(a.qualification_validity, Some(*v));
        }
    }

    #[test]
    fn limit_block_only_with_consent() {
        let s = service();
        let key = s.population.example_with(Feature::LimitCertificate);
        for (flag, shown) in [(None, false), (Some(false), false), (Some(true), true)] {
            let mut info = key.to_search_info();
            info.limit_consent = flag;
            let r = confirm(
                &s.population,
                s.institution,
                &request(&s, RequestBody::Single(info)),
                now(&s),
            );
            let ResponseBody::Single(a) = &r.body else {
                panic!()
            };
            assert_eq!(a.results[0].limit.is_some(), shown, "{flag:?}");
            assert_eq!(a.results[0].limit_consent.map(|c| c.given()), flag);
        }
    }

    #[test]
    fn card_confirmation_carries_reader_consents() {
        let s = service();
        let holder = VerifiedCardHolder::from(s.population.example(QualificationValidity::Valid));
        let consents = ReaderConsents {
            limit_certificate: true,
            pharmacists_info: true,
            specific_health_checkups: false,
            ..Default::default()
        };
        let r = s.card(&holder, consents, now(&s));
        assert_eq!(
            r.header.reference_classification,
            Some(ReferenceClassification::Card)
        );
        let ResponseBody::Single(a) = &r.body else {
            panic!()
        };
        assert_eq!(a.qualification_validity, Some(QualificationValidity::Valid));
        let q = &a.results[0];
        assert_eq!(q.pharmacists_info_consent.map(|c| c.given()), Some(true));
        assert_eq!(
            q.specific_health_checkups_consent.map(|c| c.given()),
            Some(false)
        );
    }

    #[test]
    fn bulk_flow_upload_pending_ready_unknown_expired() {
        let mut s = service();
        let keys: Vec<SearchInfo> = QualificationValidity::PRODUCED
            .iter()
            .map(|v| s.population.example(*v).to_search_info())
            .collect();
        let t0 = now(&s);
        let up = request(&s, RequestBody::BulkUpload(keys.clone()));
        let r = s.handle(
            Some(MessageKind::BulkUpload),
            &up.render(CharacterCode::ShiftJis),
            t0,
        );
        let ResponseBody::BulkAccepted {
            reception_number,
            reception_date_time,
        } = r.body
        else {
            panic!("{r:?}")
        };
        assert_eq!(reception_date_time, r.header.process_execution_time);
        let down = request(
            &s,
            RequestBody::BulkDownload {
                reception_number: reception_number.clone(),
            },
        )
        .render(CharacterCode::ShiftJis);
        let r = s.handle(Some(MessageKind::BulkDownload), &down, t0.plus_minutes(1));
        assert_eq!(r.header.segment_of_result, SegmentOfResult::Processing);
        let r = s.handle(Some(MessageKind::BulkDownload), &down, t0.plus_minutes(5));
        let ResponseBody::BulkResults { answers, .. } = &r.body else {
            panic!("{r:?}")
        };
        let got: Vec<_> = answers
            .iter()
            .map(|a| a.qualification_validity.unwrap())
            .collect();
        assert_eq!(got, QualificationValidity::PRODUCED);
        let r = s.handle(Some(MessageKind::BulkDownload), &down, t0.plus_days(8));
        assert_eq!(r.header.error_code, Some(ErrorCode::UnknownReceptionNumber));
        let other = request(
            &s,
            RequestBody::BulkDownload {
                reception_number: "999".into(),
            },
        );
        let r = s.handle(
            Some(MessageKind::BulkDownload),
            &other.render(CharacterCode::Utf8),
            t0,
        );
        assert_eq!(r.header.segment_of_result, SegmentOfResult::Abnormal);
        assert!(s.desk.is_empty());
    }

    #[test]
    fn bulk_uploads_need_one_to_max_inquiries() {
        let mut s = service();
        s.config.limits.max_bulk = 2;
        let key = s
            .population
            .example(QualificationValidity::Valid)
            .to_search_info();
        let t = now(&s);
        for n in [0, 3] {
            let up = request(&s, RequestBody::BulkUpload(vec![key.clone(); n]));
            let r = s.handle(
                Some(MessageKind::BulkUpload),
                &up.render(CharacterCode::ShiftJis),
                t,
            );
            assert_eq!(r.header.error_code, Some(ErrorCode::BulkSize), "{n}");
        }
    }

    #[test]
    fn another_institution_is_refused() {
        let mut s = service();
        let mut req = request(
            &s,
            RequestBody::Single(
                s.population
                    .example(QualificationValidity::Valid)
                    .to_search_info(),
            ),
        );
        req.header.medical_institution_code = "0110113719".parse().unwrap();
        let t = now(&s);
        let r = s.handle(
            Some(MessageKind::Single),
            &req.render(CharacterCode::ShiftJis),
            t,
        );
        assert_eq!(r.header.error_code, Some(ErrorCode::InstitutionMismatch));
        assert!(r.header.error_message.unwrap().contains("医療機関等コード"));
    }
}
