//! The eligibility API over mutual TLS: `POST /eligibility` (single inquiry,
//! `OQSsiquc01`), `POST /eligibility/OQSmuquc01` (bulk upload) and
//! `POST /eligibility/OQSmuquc02` (bulk download). The body is the same XmlMsg as the
//! file drop (Shift_JIS or UTF-8, declared in the prolog); the answer is the XmlMsg
//! response from [`fakes::eligibility`], rendered in the encoding the request asked
//! for.
//!
//! Order of checks: the TLS handshake judges the client certificate (chain, virtual
//! validity, CRL; see [`super::tls`]); then each request's `MedicalInstitutionCode`
//! must be the code the certificate is bound to, or the request is refused with 403
//! and the reason is logged. Requests that cannot be parsed are answered with an
//! abnormal XmlMsg (`SegmentOfResult` 9), never dropped.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use fakes::codes::InstitutionCode;
use fakes::eligibility::answer::{abnormal_at, reference_of};
use fakes::eligibility::xml::{parse_request, MessageKind};
use fakes::eligibility::{AnswerConfig, Population, ReaderConsents, Service, VerifiedCardHolder};
use fakes::pki::Refusal;
use fakes::time::VirtualTime;

/// The answering desk of the implementing body: one [`Service`] (its bulk desk,
/// `StampClock` and registered 照会番号) per institution that asked.
#[derive(Debug)]
pub struct EligibilityDesk {
    population: Population,
    /// The population of each clinic of a serve of several (issue 17 item 2), by
    /// institution code; any other institution asks [`EligibilityDesk::population`].
    populations: BTreeMap<InstitutionCode, Population>,
    config: AnswerConfig,
    services: Mutex<BTreeMap<String, Service>>,
    /// What the API saw and answered (for `onsim load`'s "nothing lost" check;
    /// `GET /stats` on the control URL).
    pub stats: EligibilityStats,
}

/// Counters of the eligibility API since start. Every HTTP request that reaches the
/// API counts once in `requests` and, when its response is handed to hyper, once in
/// `answered` (2xx XmlMsg, normal or abnormal) or `refused` (4xx).
#[derive(Debug, Default)]
pub struct EligibilityStats {
    pub requests: AtomicU64,
    pub answered: AtomicU64,
    pub refused: AtomicU64,
    /// TLS handshakes completed / failed (resumed ones included).
    pub handshakes: AtomicU64,
    pub handshake_failures: AtomicU64,
}

/// A copy of [`EligibilityStats`] at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StatsSnapshot {
    pub requests: u64,
    pub answered: u64,
    pub refused: u64,
    pub handshakes: u64,
    pub handshake_failures: u64,
}

impl EligibilityStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatsSnapshot {
            requests: g(&self.requests),
            answered: g(&self.answered),
            refused: g(&self.refused),
            handshakes: g(&self.handshakes),
            handshake_failures: g(&self.handshake_failures),
        }
    }

    pub fn bump(a: &AtomicU64) {
        a.fetch_add(1, Ordering::Relaxed);
    }
}

/// What the HTTP layer sends back.
#[derive(Debug)]
pub enum DeskAnswer {
    /// An XmlMsg response (normal or abnormal).
    Xml(Vec<u8>),
    /// The certificate is not bound to the request's institution.
    Refused(Refusal),
}

/// Most institutions the desk keeps state for (bulk jobs, stamps); beyond it, the oldest
/// entries by code are dropped *(our choice)*.
const MAX_INSTITUTIONS: usize = 10_000;

impl EligibilityDesk {
    pub fn new(population: Population, config: AnswerConfig) -> Self {
        EligibilityDesk {
            population,
            populations: BTreeMap::new(),
            config,
            services: Mutex::new(BTreeMap::new()),
            stats: EligibilityStats::default(),
        }
    }

    /// The default population (the first clinic's).
    pub fn population(&self) -> &Population {
        &self.population
    }

    /// Answer the terminals of `institution` from `population` (a clinic's own).
    pub fn with_population(mut self, institution: InstitutionCode, population: Population) -> Self {
        self.populations.insert(institution, population);
        self
    }

    /// The population the terminals of `institution` are answered from.
    pub fn population_of(&self, institution: InstitutionCode) -> &Population {
        self.populations
            .get(&institution)
            .unwrap_or(&self.population)
    }

    /// Answer `bytes` of `kind` for a terminal whose certificate is bound to `bound`.
    ///
    /// The request is parsed once, outside the lock. Every answer — single ones too
    /// — comes from the institution's [`Service`], so its `ProcessExecutionTime`
    /// follows that institution's `StampClock` (never repeated, even at
    /// `--speed 0`) and it carries the 照会番号 registered there; the answer is
    /// rendered after the lock is released.
    pub fn answer(
        &self,
        bound: InstitutionCode,
        kind: MessageKind,
        bytes: &[u8],
        now: VirtualTime,
    ) -> DeskAnswer {
        let parsed = parse_request(kind, bytes, &self.config.limits);
        if let Ok(request) = &parsed {
            let asked = request.header.medical_institution_code;
            if asked != bound {
                return DeskAnswer::Refused(Refusal::OtherInstitution {
                    expected: asked.to_string(),
                    found: bound.to_string(),
                });
            }
        }
        let response = self.with_service(bound, |service| match &parsed {
            Ok(request) => service.handle_request(request, now),
            Err(refusal) => abnormal_at(
                refusal,
                reference_of(Some(kind)),
                service.stamp(now),
                self.config.default_character_code,
            ),
        });
        DeskAnswer::Xml(response.render())
    }
}

impl EligibilityDesk {
    /// The answer to a card confirmation at `bound` whose holder the card desk
    /// verified: the institution's [`Service::card_with_references`], in the
    /// configured encoding, stamped by its `StampClock`, with its registered
    /// 照会番号.
    pub fn card(
        &self,
        bound: InstitutionCode,
        holder: &VerifiedCardHolder,
        consents: ReaderConsents,
        now: VirtualTime,
    ) -> Vec<u8> {
        let response = self.with_service(bound, |s| s.card_with_references(holder, consents, now));
        response.render()
    }

    /// Run `f` on the institution's service (made on first use).
    fn with_service<T>(&self, bound: InstitutionCode, f: impl FnOnce(&mut Service) -> T) -> T {
        let mut services = self.services.lock().unwrap_or_else(|e| e.into_inner());
        if services.len() >= MAX_INSTITUTIONS && !services.contains_key(&bound.to_string()) {
            services.pop_first();
        }
        let service = services.entry(bound.to_string()).or_insert_with(|| {
            Service::new(
                self.population_of(bound).clone(),
                bound,
                self.config.clone(),
            )
        });
        f(service)
    }
}

/// The message kind of a path under the eligibility URL.
pub fn kind_of_path(path: &str) -> Option<MessageKind> {
    match path.trim_end_matches('/') {
        "/eligibility" | "/eligibility/OQSsiquc01" => Some(MessageKind::Single),
        "/eligibility/OQSmuquc01" => Some(MessageKind::BulkUpload),
        "/eligibility/OQSmuquc02" => Some(MessageKind::BulkDownload),
        _ => None,
    }
}

/// The institution a connection's certificate is bound to (accepted at handshake).
pub fn bound_institution(
    peer_certs: Option<&[rustls_pki_types::CertificateDer<'_>]>,
) -> Option<InstitutionCode> {
    let der = peer_certs?.first()?;
    fakes::pki::institution_of_der(der.as_ref())?.parse().ok()
}

/// Shared by the HTTP layer.
pub type Desk = Arc<EligibilityDesk>;

#[cfg(test)]
mod tests {
    use super::*;
    use fakes::eligibility::encoding::CharacterCode;
    use fakes::eligibility::other::CardKey;
    use fakes::eligibility::population::PopulationConfig;
    use fakes::eligibility::values::QualificationValidity;
    use fakes::eligibility::xml::{
        parse_response, Request, RequestBody, RequestHeader, ResponseBody,
    };

    /// Single answers of one institution at one virtual instant (`--speed 0`) get
    /// distinct stamps, and carry the number registered at that institution.
    #[test]
    fn single_answers_follow_the_institutions_stamp_clock_and_references() {
        let pop = Population::new(PopulationConfig {
            households: 2_000,
            ..Default::default()
        });
        let desk = EligibilityDesk::new(pop.clone(), AnswerConfig::default());
        let bound: InstitutionCode = "1313120014".parse().unwrap();
        let key = pop.example(QualificationValidity::Valid);
        let bytes = Request {
            header: RequestHeader {
                qualification_confirmation_date: Some(pop.config().epoch),
                medical_institution_code: bound,
                arbitrary_file_identifier: Some("a1".into()),
                character_code_identifier: None,
            },
            body: RequestBody::Single(key.to_search_info()),
        }
        .render(CharacterCode::Utf8);
        let now = VirtualTime::at(pop.config().epoch, 9, 0);
        let ask = || match desk.answer(bound, MessageKind::Single, &bytes, now) {
            DeskAnswer::Xml(b) => parse_response(&b).unwrap(),
            DeskAnswer::Refused(r) => panic!("{r:?}"),
        };
        let first = ask();
        let second = ask();
        assert!(second.header.process_execution_time > first.header.process_execution_time);
        let reference = |r: &fakes::eligibility::xml::Response| match &r.body {
            ResponseBody::Single(a) => a.results[0].reference_number.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(reference(&first), None);
        desk.services
            .lock()
            .unwrap()
            .get_mut(&bound.to_string())
            .unwrap()
            .others
            .references
            .insert(CardKey::of_search_key(&key).unwrap(), "9".into(), 10);
        assert_eq!(reference(&ask()).as_deref(), Some("9"));
        // An unparsable request is answered abnormally, stamped by the same clock.
        let DeskAnswer::Xml(b) = desk.answer(bound, MessageKind::Single, b"<x", now) else {
            panic!()
        };
        let r = parse_response(&b).unwrap();
        assert!(r.header.process_execution_time > second.header.process_execution_time);
    }
}
