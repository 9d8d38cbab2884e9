//! Answering inquiries: pure functions from (population, institution, request, now)
//! to a response, plus the bulk inquiry (一括照会) state machine.
//!
//! Nothing here reads a clock or touches a file: the file-drop driver and the later
//! mutual-TLS API both call [`Service::handle`] (or the free functions) with the
//! virtual time of their shared clock.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::encoding::CharacterCode;
use super::error::{EligibilityError, ErrorCode};
use super::population::{Lookup, Population, SearchKey};
use super::values::*;
use super::xml::*;
use crate::codes::{InstitutionCode, InsurerNumber};
use crate::time::VirtualTime;

/// Settings of the answering side. Every default is *(our choice)*.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerConfig {
    /// Encoding of responses when the request does not name one (and of abnormal
    /// answers to unreadable requests). Default Shift_JIS.
    pub default_character_code: CharacterCode,
    /// Refuse requests whose `MedicalInstitutionCode` is not the terminal's own
    /// (ErrorCode 4002). Default on.
    pub check_institution: bool,
    /// Virtual minutes between a bulk upload and its results being ready. Default 5.
    pub bulk_delay_minutes: i64,
    /// Virtual days a bulk job is kept after upload; later downloads get 4001.
    /// Default 7.
    pub bulk_retention_days: i64,
    pub limits: Limits,
}

impl Default for AnswerConfig {
    fn default() -> Self {
        AnswerConfig {
            default_character_code: CharacterCode::ShiftJis,
            check_institution: true,
            bulk_delay_minutes: 5,
            bulk_retention_days: 7,
            limits: Limits::default(),
        }
    }
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

/// What the patient agreed to at the reader's consent screens (同意取得).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReaderConsents {
    /// 限度額適用認定証関連情報の提供.
    pub limit_certificate: bool,
    /// 薬剤情報の閲覧.
    pub pharmacists_info: bool,
    /// 特定健診情報の閲覧.
    pub specific_health_checkups: bool,
}

fn header(
    now: VirtualTime,
    reference: ReferenceClassification,
    segment: SegmentOfResult,
    code: CharacterCode,
) -> ResponseHeader {
    ResponseHeader {
        process_execution_time: naive(now),
        qualification_confirmation_date: None,
        medical_institution_code: None,
        arbitrary_file_identifier: None,
        reference_classification: reference,
        segment_of_result: segment,
        error_code: None,
        error_message: None,
        character_code_identifier: code,
    }
}

fn echo_header(
    h: &RequestHeader,
    now: VirtualTime,
    segment: SegmentOfResult,
    default: CharacterCode,
) -> ResponseHeader {
    let mut rh = header(
        now,
        ReferenceClassification::InsuranceCard,
        segment,
        h.character_code_identifier.unwrap_or(default),
    );
    rh.qualification_confirmation_date = Some(h.qualification_confirmation_date);
    rh.medical_institution_code = Some(h.medical_institution_code.digits());
    rh.arbitrary_file_identifier = h.arbitrary_file_identifier.clone();
    rh
}

/// The abnormal answer (`SegmentOfResult` 9) to a refused request.
pub fn abnormal(
    refusal: &Refusal,
    reference: ReferenceClassification,
    now: VirtualTime,
    default: CharacterCode,
) -> Response {
    let e = &refusal.echo;
    let mut h = header(
        now,
        reference,
        SegmentOfResult::Abnormal,
        e.character_code_identifier.unwrap_or(default),
    );
    h.qualification_confirmation_date = e.qualification_confirmation_date;
    h.medical_institution_code = e.medical_institution_code.clone();
    h.arbitrary_file_identifier = e.arbitrary_file_identifier.clone();
    h.error_code = Some(refusal.error.code);
    h.error_message = Some(refusal.error.message());
    Response {
        header: h,
        body: ResponseBody::Empty,
    }
}

/// One inquiry's answer, with the consents that decide what is shown.
fn answer_of(
    lookup: Lookup,
    arbitrary_identifier: Option<String>,
    limit_consent: Option<bool>,
    reader: Option<ReaderConsents>,
    now: VirtualTime,
) -> Answer {
    let t = Some(naive(now));
    let results = lookup
        .records
        .into_iter()
        .map(|r| {
            let mut q = r.qualification;
            if let Some(given) = limit_consent {
                q.limit_consent = Some(Consent { given, time: t });
                if given {
                    q.limit = r.limit;
                }
            }
            if let Some(c) = reader {
                q.pharmacists_info_consent = Some(Consent {
                    given: c.pharmacists_info,
                    time: t,
                });
                q.specific_health_checkups_consent = Some(Consent {
                    given: c.specific_health_checkups,
                    time: t,
                });
            }
            q
        })
        .collect();
    Answer {
        arbitrary_identifier,
        processing_result_status: ProcessingResultStatus::Ok,
        processing_result_code: None,
        processing_result_message: None,
        qualification_validity: Some(lookup.validity),
        results,
    }
}

fn answer_search(pop: &Population, date: NaiveDate, s: &SearchInfo, now: VirtualTime) -> Answer {
    let lookup = pop.lookup(&SearchKey::of_search_info(s), date);
    answer_of(
        lookup,
        s.arbitrary_identifier.clone(),
        s.limit_consent,
        None,
        now,
    )
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
            echo: RequestEcho {
                qualification_confirmation_date: Some(h.qualification_confirmation_date),
                medical_institution_code: Some(h.medical_institution_code.to_string()),
                arbitrary_file_identifier: h.arbitrary_file_identifier.clone(),
                character_code_identifier: h.character_code_identifier,
            },
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

pub fn confirm_with(
    cfg: &AnswerConfig,
    pop: &Population,
    institution: InstitutionCode,
    request: &Request,
    now: VirtualTime,
) -> Response {
    let reference = ReferenceClassification::InsuranceCard;
    if let Err(r) = institution_check(cfg, institution, &request.header) {
        return abnormal(&r, reference, now, cfg.default_character_code);
    }
    let h = &request.header;
    match &request.body {
        RequestBody::Single(s) => Response {
            header: echo_header(h, now, SegmentOfResult::Normal, cfg.default_character_code),
            body: ResponseBody::Single(answer_search(
                pop,
                h.qualification_confirmation_date,
                s,
                now,
            )),
        },
        _ => abnormal(
            &EligibilityError::new(
                ErrorCode::UnknownMessage,
                "bulk message sent as a single inquiry",
            )
            .into(),
            reference,
            now,
            cfg.default_character_code,
        ),
    }
}

/// Answer a card-based confirmation (マイナ保険証): the holder was verified at the
/// reader, so the answer has `ReferenceClassification` 1 and the consents from the
/// reader's screens. The confirmation date is the day of `now`.
pub fn confirm_card(
    pop: &Population,
    institution: InstitutionCode,
    holder: &VerifiedCardHolder,
    consents: ReaderConsents,
    now: VirtualTime,
    code: CharacterCode,
) -> Response {
    let key = SearchKey {
        insurer_number: holder.insurer_number,
        symbol: holder.symbol.clone(),
        number: holder.number.clone(),
        branch: holder.branch.clone(),
        birthdate: holder.birthdate,
    };
    let date = now.date();
    let lookup = pop.lookup(&key, date);
    let mut h = header(
        now,
        ReferenceClassification::Card,
        SegmentOfResult::Normal,
        code,
    );
    h.qualification_confirmation_date = Some(date);
    h.medical_institution_code = Some(institution.to_string());
    Response {
        header: h,
        body: ResponseBody::Single(answer_of(
            lookup,
            None,
            Some(consents.limit_certificate),
            Some(consents),
            now,
        )),
    }
}

/// One accepted bulk upload.
#[derive(Debug, Clone)]
struct BulkJob {
    institution: InstitutionCode,
    accepted_at: VirtualTime,
    ready_at: VirtualTime,
    header: RequestHeader,
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

    /// Accept an upload. *(our choice)* reception number: the upload time
    /// `YYYYMMDDHHmm` followed by a 6-digit serial of this desk (18 digits).
    pub fn upload(
        &mut self,
        cfg: &AnswerConfig,
        institution: InstitutionCode,
        header: &RequestHeader,
        searches: &[SearchInfo],
        now: VirtualTime,
    ) -> Response {
        self.prune(cfg, now);
        self.serial += 1;
        let reception_number = format!(
            "{}{:06}",
            naive(now).format("%Y%m%d%H%M"),
            self.serial % 1_000_000
        );
        self.jobs.insert(
            reception_number.clone(),
            BulkJob {
                institution,
                accepted_at: now,
                ready_at: now.plus_minutes(cfg.bulk_delay_minutes),
                header: header.clone(),
                searches: searches.to_vec(),
            },
        );
        Response {
            header: echo_header(
                header,
                now,
                SegmentOfResult::Normal,
                cfg.default_character_code,
            ),
            body: ResponseBody::BulkAccepted {
                reception_number,
                count: searches.len(),
            },
        }
    }

    /// Answer a download request.
    pub fn download(
        &mut self,
        cfg: &AnswerConfig,
        pop: &Population,
        institution: InstitutionCode,
        header: &RequestHeader,
        reception_number: &str,
        now: VirtualTime,
    ) -> Response {
        self.prune(cfg, now);
        let job = match self.jobs.get(reception_number) {
            Some(j) if j.institution == institution => j,
            _ => {
                let r = Refusal {
                    error: EligibilityError::new(
                        ErrorCode::UnknownReceptionNumber,
                        reception_number.chars().take(64).collect::<String>(),
                    ),
                    echo: RequestEcho {
                        qualification_confirmation_date: Some(
                            header.qualification_confirmation_date,
                        ),
                        medical_institution_code: Some(header.medical_institution_code.to_string()),
                        arbitrary_file_identifier: header.arbitrary_file_identifier.clone(),
                        character_code_identifier: header.character_code_identifier,
                    },
                };
                return abnormal(
                    &r,
                    ReferenceClassification::InsuranceCard,
                    now,
                    cfg.default_character_code,
                );
            }
        };
        if now < job.ready_at {
            return Response {
                header: echo_header(
                    header,
                    now,
                    SegmentOfResult::Processing,
                    cfg.default_character_code,
                ),
                body: ResponseBody::BulkPending {
                    reception_number: reception_number.to_string(),
                },
            };
        }
        let date = job.header.qualification_confirmation_date;
        let answers = job
            .searches
            .iter()
            .map(|s| answer_search(pop, date, s, job.ready_at))
            .collect();
        Response {
            header: echo_header(
                header,
                now,
                SegmentOfResult::Normal,
                cfg.default_character_code,
            ),
            body: ResponseBody::BulkResults {
                reception_number: reception_number.to_string(),
                answers,
            },
        }
    }
}

/// Everything the answering side holds: population, the terminal's institution,
/// settings and the bulk desk. One per qualification terminal.
#[derive(Debug, Clone)]
pub struct Service {
    pub population: Population,
    pub institution: InstitutionCode,
    pub config: AnswerConfig,
    pub desk: BulkDesk,
    /// H4: the other interfaces' state (reference numbers, their bulk jobs,
    /// card consents), `super::other`.
    pub others: super::other::OtherDesk,
}

impl Service {
    pub fn new(population: Population, institution: InstitutionCode, config: AnswerConfig) -> Self {
        Service {
            population,
            institution,
            config,
            desk: BulkDesk::new(),
            others: super::other::OtherDesk::default(),
        }
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
        let reference = ReferenceClassification::InsuranceCard;
        let Some(kind) = kind else {
            let r = EligibilityError::new(
                ErrorCode::UnknownMessage,
                "expected OQSsiquc01req_, OQSmuquc01req_ or OQSmuquc02req_",
            );
            return abnormal(&r.into(), reference, now, default);
        };
        match parse_request(kind, bytes, &self.config.limits) {
            Ok(request) => self.handle_request(&request, now),
            Err(refusal) => abnormal(&refusal, reference, now, default),
        }
    }

    /// Answer a request already parsed (the eligibility API parses once, to check the
    /// institution against the client certificate first).
    pub fn handle_request(&mut self, request: &Request, now: VirtualTime) -> Response {
        let reference = ReferenceClassification::InsuranceCard;
        let default = self.config.default_character_code;
        if let Err(r) = institution_check(&self.config, self.institution, &request.header) {
            return abnormal(&r, reference, now, default);
        }
        match &request.body {
            RequestBody::Single(_) => confirm_with(
                &self.config,
                &self.population,
                self.institution,
                request,
                now,
            ),
            RequestBody::BulkUpload(searches) => self.desk.upload(
                &self.config,
                self.institution,
                &request.header,
                searches,
                now,
            ),
            RequestBody::BulkDownload { reception_number } => self.desk.download(
                &self.config,
                &self.population,
                self.institution,
                &request.header,
                reception_number,
                now,
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
        confirm_card(
            &self.population,
            self.institution,
            holder,
            consents,
            now,
            self.config.default_character_code,
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
                qualification_confirmation_date: s.population.config().epoch,
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
        for v in QualificationValidity::ALL {
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
            assert_eq!(a.results[0].limit_consent.map(|c| c.given), flag);
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
        };
        let r = s.card(&holder, consents, now(&s));
        assert_eq!(
            r.header.reference_classification,
            ReferenceClassification::Card
        );
        let ResponseBody::Single(a) = &r.body else {
            panic!()
        };
        assert_eq!(a.qualification_validity, Some(QualificationValidity::Valid));
        let q = &a.results[0];
        assert_eq!(q.pharmacists_info_consent.map(|c| c.given), Some(true));
        assert_eq!(
            q.specific_health_checkups_consent.map(|c| c.given),
            Some(false)
        );
    }

    #[test]
    fn bulk_flow_upload_pending_ready_unknown_expired() {
        let mut s = service();
        let keys: Vec<SearchInfo> = QualificationValidity::ALL
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
            count,
        } = r.body
        else {
            panic!("{r:?}")
        };
        assert_eq!(count, 5);
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
        assert_eq!(got, QualificationValidity::ALL);
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
