//! Property tests across the eligibility modules: no input panics, every answer
//! survives a Shift_JIS (and UTF-8) round trip, lookups are pure functions of the seed.

use proptest::prelude::*;

use super::answer::*;
use super::encoding::CharacterCode;
use super::population::*;
use super::values::*;
use super::xml::*;
use crate::time::VirtualTime;

fn service(seed: u64) -> Service {
    let pop = Population::new(PopulationConfig {
        seed,
        households: 2_000,
        ..Default::default()
    });
    Service::new(pop, "1313120014".parse().unwrap(), AnswerConfig::default())
}

fn now(s: &Service) -> VirtualTime {
    VirtualTime::at(s.population.config().epoch, 10, 0)
}

fn header(s: &Service, code: Option<CharacterCode>) -> RequestHeader {
    RequestHeader {
        qualification_confirmation_date: Some(s.population.config().epoch),
        medical_institution_code: s.institution,
        arbitrary_file_identifier: Some("受付①".into()),
        character_code_identifier: code,
    }
}

fn kinds() -> impl Strategy<Value = Option<MessageKind>> {
    prop::option::of(prop::sample::select(MessageKind::ALL.to_vec()))
}

/// Checks the invariant of every answer: rendered, it parses back to itself; it is
/// either abnormal with an error code or a normal/processing answer without one.
fn check(r: &Response) -> Result<(), TestCaseError> {
    let back = parse_response(&r.render()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&back, r);
    match r.header.segment_of_result {
        SegmentOfResult::Abnormal => {
            prop_assert!(r.header.error_code.is_some());
            prop_assert!(r.header.error_message.is_some());
            prop_assert_eq!(&r.body, &ResponseBody::Empty);
        }
        _ => {
            prop_assert!(r.header.error_code.is_none());
            prop_assert_ne!(&r.body, &ResponseBody::Empty);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_always_get_an_answer(kind in kinds(), bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let mut s = service(1);
        let t = now(&s);
        let r = s.handle(kind, &bytes, t);
        check(&r)?;
        prop_assert_eq!(r.header.segment_of_result, SegmentOfResult::Abnormal);
    }

    #[test]
    fn mutated_requests_always_get_an_answer(
        kind in kinds(),
        h in 0u64..2_000,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        utf8 in any::<bool>(),
    ) {
        let mut s = service(1);
        let key = s.population.key_of(h, 0).unwrap();
        let body = match kind {
            Some(MessageKind::BulkUpload) => RequestBody::BulkUpload(vec![key.to_search_info(); 3]),
            Some(MessageKind::BulkDownload) => RequestBody::BulkDownload { reception_number: "202404011000000001".into() },
            _ => RequestBody::Single(key.to_search_info()),
        };
        let code = if utf8 { CharacterCode::Utf8 } else { CharacterCode::ShiftJis };
        let mut bytes = Request { header: header(&s, None), body }.render(code);
        for (i, b) in edits {
            let i = i.index(bytes.len());
            bytes[i] = b;
        }
        let t = now(&s);
        let r = s.handle(kind, &bytes, t);
        check(&r)?;
    }

    #[test]
    fn every_response_round_trips_in_both_encodings(
        seed in 0u64..4,
        h in 0u64..2_000,
        i in 0usize..4,
        consent in prop::option::of(any::<bool>()),
        card in any::<bool>(),
        utf8 in any::<bool>(),
    ) {
        let mut s = service(seed);
        let Some(key) = s.population.key_of(h, i) else { return Ok(()) };
        let code = if utf8 { CharacterCode::Utf8 } else { CharacterCode::ShiftJis };
        let t = now(&s);
        let r = if card {
            let c = ReaderConsents {
                limit_certificate: consent.unwrap_or(false),
                pharmacists_info: true,
                specific_health_checkups: consent.is_some(),
                specific_diseases: consent,
                diagnosis_info: utf8,
                operation_info: !utf8,
                prescription: consent.map(|c| if c { PrescriptionIssueSelect::Electronic } else { PrescriptionIssueSelect::Paper }),
                card_certificate_expiry: Some(t.date() + chrono::Days::new(h % 200)),
            };
            s.config.default_character_code = code;
            s.card(&VerifiedCardHolder::from(key), c, t)
        } else {
            let mut info = key.to_search_info();
            info.limit_consent = consent;
            let req = Request { header: header(&s, Some(code)), body: RequestBody::Single(info) };
            s.handle(Some(MessageKind::Single), &req.render(CharacterCode::ShiftJis), t)
        };
        prop_assert_eq!(r.header.character_code_identifier, code);
        let ResponseBody::Single(a) = &r.body else { return Err(TestCaseError::fail("not single")) };
        prop_assert!(!a.results.is_empty());
        check(&r)?;
    }

    #[test]
    fn lookups_are_pure_functions_of_the_seed(seed in any::<u64>(), h in 0u64..2_000, i in 0usize..4, days in 0u64..800) {
        let a = service(seed).population;
        let b = service(seed).population;
        let Some(key) = a.key_of(h, i) else { return Ok(()) };
        prop_assert_eq!(Some(key.clone()), b.key_of(h, i));
        let d = a.config().epoch + chrono::Days::new(days) - chrono::Days::new(400);
        prop_assert_eq!(a.lookup(&key, d), b.lookup(&key, d));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Bulk answers (upload, pending, results, refusal) re-parse to what was
    /// rendered, in both encodings.
    #[test]
    fn bulk_answers_round_trip_in_both_encodings(
        seed in 0u64..4,
        start in 0u64..1_900,
        n in 1u64..12,
        consent in prop::option::of(any::<bool>()),
        utf8 in any::<bool>(),
    ) {
        let mut s = service(seed);
        s.config.default_character_code = if utf8 { CharacterCode::Utf8 } else { CharacterCode::ShiftJis };
        let searches: Vec<_> = (start..start + n)
            .filter_map(|h| s.population.key_of(h, (h % 3) as usize))
            .map(|k| {
                let mut i = k.to_search_info();
                i.limit_consent = consent;
                i.arbitrary_identifier = Some(format!("a{}", k.number));
                i
            })
            .collect();
        prop_assume!(!searches.is_empty());
        let t = now(&s);
        let hd = header(&s, None);
        let up = s.desk.upload(&s.config, s.institution, &hd, &searches, t);
        check(&up)?;
        let ResponseBody::BulkAccepted { reception_number, .. } = &up.body else {
            return Err(TestCaseError::fail("not accepted"));
        };
        let mut down_hd = hd.clone();
        down_hd.qualification_confirmation_date = None;
        for later in [1, 60] {
            let r = s.desk.download(&s.config, &s.population, s.institution, &down_hd, reception_number, t.plus_minutes(later));
            check(&r)?;
        }
        let r = s.desk.download(&s.config, &s.population, s.institution, &down_hd, "nope", t);
        check(&r)?;
    }
}

#[test]
fn bulk_results_round_trip() {
    let mut s = service(3);
    let searches: Vec<_> = (0..20)
        .filter_map(|h| s.population.key_of(h, 0))
        .map(|k| k.to_search_info())
        .collect();
    let t = now(&s);
    let hd = header(&s, None);
    let up = s.desk.upload(&s.config, s.institution, &hd, &searches, t);
    let ResponseBody::BulkAccepted {
        reception_number, ..
    } = &up.body
    else {
        panic!()
    };
    let r = s.desk.download(
        &s.config,
        &s.population,
        s.institution,
        &hd,
        reception_number,
        t.plus_minutes(60),
    );
    let ResponseBody::BulkResults { answers, .. } = &r.body else {
        panic!()
    };
    assert_eq!(answers.len(), 20);
    check(&up).unwrap();
    check(&r).unwrap();
}
