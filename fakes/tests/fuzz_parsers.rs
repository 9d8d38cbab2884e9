//! Bounded fuzz targets for the parsers of `fakes` (issue 14, "Also"), run by
//! `cargo test`: proptest mutates corpus seeds (bit flips, inserts, deletes,
//! duplications, splices, truncations — `fuzz/mutate.rs`) and checks that no input
//! panics and that every refusal names what was wrong. Corpora: `fuzz/corpus/`.
//!
//! - XmlMsg requests of every kind (`fuzz/corpus/xmlmsg`, file names give the kind,
//!   plus requests rendered for real people of the synthetic population): through
//!   the pure terminal, every answer is an XmlMsg that re-parses to itself; an
//!   abnormal one carries an `ErrorCode` and a message with a detail.
//! - The XML reader itself (`tree::parse`).
//! - APDUs sent to the virtual card (`fuzz/corpus/apdu`, hex, one command a line):
//!   every command gets a response ending in a status word.
//!
//! Each target stays under a few seconds (`cases`).

#[path = "../../fuzz/mutate.rs"]
mod mutate;

use std::path::PathBuf;
use std::sync::OnceLock;

use fakes::eligibility::other::parse_other_response;
use fakes::eligibility::tree::{parse, TreeLimits};
use fakes::eligibility::values::SegmentOfResult;
use fakes::eligibility::xml::{parse_response, MessageKind, Request, RequestBody, RequestHeader};
use fakes::eligibility::{
    AnswerConfig, CharacterCode, Population, PopulationConfig, Service, Terminal,
};
use fakes::time::VirtualTime;
use proptest::prelude::*;

fn corpus_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(name)
}

fn service() -> Service {
    let pop = Population::new(PopulationConfig {
        households: 2_000,
        ..Default::default()
    });
    Service::new(pop, "1313120014".parse().unwrap(), AnswerConfig::default())
}

/// The corpus files, and requests for real people rendered as clients write them.
fn xml_corpus() -> &'static Vec<(String, Vec<u8>)> {
    static C: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    C.get_or_init(|| {
        let mut c = mutate::load(&corpus_dir("xmlmsg"));
        let s = service();
        for h in [3u64, 17, 1_999] {
            let key = s.population.key_of(h, 0).unwrap();
            let header = RequestHeader {
                qualification_confirmation_date: Some(s.population.config().epoch),
                medical_institution_code: s.institution,
                arbitrary_file_identifier: Some(format!("gen{h}")),
                character_code_identifier: None,
            };
            let single = Request {
                header: header.clone(),
                body: RequestBody::Single(key.to_search_info()),
            };
            c.push((format!("OQSsiquc01req_gen{h}.xml"), single.render(CharacterCode::ShiftJis)));
            let bulk = Request {
                header,
                body: RequestBody::BulkUpload(vec![key.to_search_info(); 2]),
            };
            c.push((format!("OQSmuquc01req_gen{h}.xml"), bulk.render(CharacterCode::Utf8)));
            let person = format!(
                "<InsurerNumber>{:>8}</InsurerNumber><InsuranceCardSymbol>{}</InsuranceCardSymbol>\
                 <InsuredPersonIdentificationNumber>{}</InsuredPersonIdentificationNumber><BranchNumber>00</BranchNumber>",
                key.insurer_number.to_string(),
                key.symbol.as_deref().unwrap_or(""),
                key.number
            );
            let yzk = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n<XmlMsg><MessageHeader>\
                 <MedicalInstitutionCode>1313120014</MedicalInstitutionCode>{person}\
                 <ArbitraryFileIdentifier>{h}</ArbitraryFileIdentifier></MessageHeader><MessageBody>\
                 <StartDate>202201</StartDate><EndDate>202404</EndDate><FileCategory>2</FileCategory>\
                 <PrDiInfClassification>1</PrDiInfClassification><MedicalTreatmentFlag>1</MedicalTreatmentFlag>\
                 </MessageBody></XmlMsg>"
            );
            c.push((format!("YZKsiquc01req_gen{h}.xml"), yzk.clone().into_bytes()));
            c.push((format!("TKKsiquc01req_gen{h}.xml"), yzk.into_bytes()));
            let reg = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n<XmlMsg><MessageHeader>\
                 <MedicalInstitutionCode>1313120014</MedicalInstitutionCode><ArbitraryFileIdentifier>r{h}</ArbitraryFileIdentifier>\
                 </MessageHeader><MessageBody><ReferenceNumberRegistrationInfo><ReferenceNumber>{h}</ReferenceNumber>\
                 {}</ReferenceNumberRegistrationInfo></MessageBody></XmlMsg>",
                person
                    .replace("InsuranceCardSymbol", "InsuredCardSymbol")
                    .replace("InsuredPersonIdentificationNumber", "InsuredIdentificationNumber")
                    .replace("BranchNumber", "InsuredBranchNumber")
            );
            c.push((format!("OQSsiimm01req_gen{h}.xml"), reg.clone().into_bytes()));
            c.push((format!("OQSmuimm01req_gen{h}.xml"), reg.into_bytes()));
        }
        c
    })
}

fn all_bytes(c: &[(String, Vec<u8>)]) -> &'static Vec<Vec<u8>> {
    static B: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    B.get_or_init(|| c.iter().map(|(_, b)| b.clone()).collect())
}

/// Every answer re-parses to what was rendered; abnormal answers say why.
fn check_answer(name: &str, bytes: &[u8]) -> Result<(), TestCaseError> {
    match MessageKind::of_request_file(name).filter(|k| k.is_other()) {
        Some(k) => {
            let r = parse_other_response(k, bytes)
                .map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
            prop_assert_eq!(r.render(), bytes.to_vec());
            if r.header.segment_of_result == SegmentOfResult::Abnormal {
                prop_assert!(r.header.error_code.is_some());
                prop_assert!(
                    r.header
                        .error_message
                        .as_deref()
                        .is_some_and(|m| m.contains(':')),
                    "{:?}",
                    r.header.error_message
                );
            }
        }
        None => {
            let r =
                parse_response(bytes).map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
            prop_assert_eq!(r.render(), bytes.to_vec());
            if r.header.segment_of_result == SegmentOfResult::Abnormal {
                prop_assert!(r.header.error_code.is_some());
                prop_assert!(r
                    .header
                    .error_message
                    .as_deref()
                    .is_some_and(|m| !m.is_empty()));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 768, failure_persistence: None, ..ProptestConfig::default() })]

    /// XmlMsg requests of every kind, mutated, through the pure terminal.
    #[test]
    fn xmlmsg_requests_never_panic_and_every_answer_reparses(
        (seed, ops) in mutate::case(6),
        rename in proptest::option::weighted(0.1, any::<proptest::sample::Index>()),
    ) {
        let corpus = xml_corpus();
        let (name, bytes) = &corpus[seed.index(corpus.len())];
        let input = mutate::apply(bytes, &ops, all_bytes(corpus));
        // Now and then under another kind's name: every reader meets every shape.
        let name = match rename {
            Some(i) => format!("{}req_x.xml", MessageKind::ALL[i.index(MessageKind::ALL.len())].id()),
            None => name.clone(),
        };
        let mut t = Terminal::new(service());
        let now = VirtualTime::at(t.service.population.config().epoch, 10, 0);
        let out = t.handle_file(&name, &input, now);
        check_answer(&name, &out.bytes)?;
        // A second request to the same terminal (state: registrations, jobs).
        let out = t.handle_file(&name, &input, now.plus_minutes(10));
        check_answer(&name, &out.bytes)?;
    }

    /// The XML reader alone: errors are `NotXml`-family with a detail.
    #[test]
    fn the_xml_reader_never_panics((seed, ops) in mutate::case(8)) {
        let corpus = xml_corpus();
        let input = mutate::apply(&corpus[seed.index(corpus.len())].1, &ops, all_bytes(corpus));
        let text = String::from_utf8_lossy(&input);
        if let Err(e) = parse(&text, TreeLimits::default()) {
            prop_assert!(!e.detail.is_empty(), "{e}");
        }
    }
}

fn apdu_corpus() -> &'static Vec<Vec<u8>> {
    static C: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    C.get_or_init(|| {
        mutate::load(&corpus_dir("apdu"))
            .into_iter()
            .flat_map(|(_, b)| {
                String::from_utf8(b)
                    .expect("hex text")
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(|l| {
                        let l: String = l.split_whitespace().collect();
                        (0..l.len())
                            .step_by(2)
                            .map(|i| u8::from_str_radix(&l[i..i + 2], 16).expect("hex"))
                            .collect()
                    })
                    .collect::<Vec<Vec<u8>>>()
            })
            .collect()
    })
}

fn card() -> fakes::card::VirtualCard {
    static P: OnceLock<std::sync::Arc<fakes::card::CardProfile>> = OnceLock::new();
    let p = P.get_or_init(|| {
        let setup = fakes::card::CardSetup::new(
            "fuzz",
            chrono::NaiveDate::from_ymd_opt(2024, 4, 1).unwrap(),
        );
        std::sync::Arc::new(fakes::card::CardProfile::demo(7, &setup).unwrap().1)
    });
    let mut c = fakes::card::VirtualCard::new(p.clone());
    c.insert();
    c.power_on();
    c
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// A session of mutated APDUs: every command gets at least a status word.
    #[test]
    fn apdus_never_panic_and_always_get_a_status_word(
        session in proptest::collection::vec(mutate::case(3), 1..12),
    ) {
        let corpus = apdu_corpus();
        let mut c = card();
        for (seed, ops) in session {
            let apdu = mutate::apply(&corpus[seed.index(corpus.len())], &ops, corpus);
            let r = c.transmit(&apdu);
            prop_assert!(r.len() >= 2, "no status word for {apdu:02X?}");
        }
    }
}

/// The seeds themselves reach past the parsers: the generated ones (real people)
/// are answered normally, and every seed's answer re-parses.
#[test]
fn corpus_seeds_are_answered() {
    let mut normal = 0;
    for (name, bytes) in xml_corpus() {
        let mut t = Terminal::new(service());
        let now = VirtualTime::at(t.service.population.config().epoch, 10, 0);
        let out = t.handle_file(name, bytes, now);
        check_answer(name, &out.bytes).unwrap();
        if name.contains("_gen") {
            assert_ne!(
                out.summary.segment,
                SegmentOfResult::Abnormal,
                "{name}: {:?}",
                out.summary
            );
        }
        normal += usize::from(out.summary.segment != SegmentOfResult::Abnormal);
    }
    assert!(normal >= 21, "{normal}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, failure_persistence: None, ..ProptestConfig::default() })]

    /// The bureau's published table (`onsim schedule --published`): a refusal names
    /// the file, and a line and column.
    #[test]
    fn published_csv_never_panics_and_errors_name_file_and_line((seed, ops) in mutate::case(6)) {
        static C: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
        let corpus = C.get_or_init(|| mutate::load(&corpus_dir("published")).into_iter().map(|(_, b)| b).collect());
        let input = mutate::apply(&corpus[seed.index(corpus.len())], &ops, corpus);
        let text = String::from_utf8_lossy(&input);
        if let Err(e) = fakes::schedule::PublishedTable::parse("pub.csv", &text) {
            let m = e.to_string();
            prop_assert!(m.starts_with("pub.csv:"), "{m}");
            prop_assert!(m.split(':').nth(1).is_some_and(|l| l.parse::<usize>().is_ok_and(|l| l >= 1)), "{m}");
        }
    }
}
