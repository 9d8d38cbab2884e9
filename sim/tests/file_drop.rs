//! The qualification terminal's file drop, end to end on a temporary folder: single
//! requests in Shift_JIS and UTF-8, a malformed one, an unknown prefix, the bulk
//! two-phase flow, a card confirmation in `face/`, and nothing answered twice.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fakes::eligibility::answer::{AnswerConfig, ReaderConsents, Service, VerifiedCardHolder};
use fakes::eligibility::values::{QualificationValidity, ReferenceClassification, SegmentOfResult};
use fakes::eligibility::xml::{
    parse_response, Request, RequestBody, RequestHeader, Response, ResponseBody,
};
use fakes::eligibility::{
    CharacterCode, ErrorCode, Population, PopulationConfig, SearchKey, Terminal,
};
use fakes::time::VirtualTime;
use sim::terminal::{start, DriverConfig, LogOutcome, ManualClock};

const WAIT: Duration = Duration::from_secs(5);

fn wait_for(path: &Path) -> Vec<u8> {
    let t0 = Instant::now();
    while t0.elapsed() < WAIT {
        if let Ok(b) = fs::read(path) {
            return b;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no answer at {} within {WAIT:?}", path.display());
}

/// Drop a request the way clinic software should: write elsewhere, then rename in.
fn drop_request(req: &Path, name: &str, bytes: &[u8]) {
    let tmp = req.join(format!(".{name}.writing"));
    fs::write(&tmp, bytes).unwrap();
    fs::rename(tmp, req.join(name)).unwrap();
}

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    pop: Population,
    institution: fakes::codes::InstitutionCode,
    clock: ManualClock,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let pop = Population::new(PopulationConfig {
        seed: 7,
        households: 10_000,
        ..Default::default()
    });
    let clock = ManualClock::new(VirtualTime::at(pop.config().epoch, 9, 0));
    Fixture {
        root: dir.path().to_path_buf(),
        _dir: dir,
        pop,
        institution: "1313120014".parse().unwrap(),
        clock,
    }
}

fn header(f: &Fixture, id: &str) -> RequestHeader {
    RequestHeader {
        qualification_confirmation_date: Some(f.pop.config().epoch),
        medical_institution_code: f.institution,
        arbitrary_file_identifier: Some(id.into()),
        character_code_identifier: None,
    }
}

fn single(f: &Fixture, key: &SearchKey, id: &str) -> Request {
    let mut info = key.to_search_info();
    info.limit_consent = Some(true);
    Request {
        header: header(f, id),
        body: RequestBody::Single(info),
    }
}

fn declared_encoding(bytes: &[u8]) -> String {
    let head = String::from_utf8_lossy(&bytes[..80.min(bytes.len())]).to_string();
    let i = head.find("encoding=\"").unwrap() + 10;
    head[i..i + head[i..].find('"').unwrap()].to_string()
}

fn single_answer(r: &Response) -> &fakes::eligibility::xml::Answer {
    match &r.body {
        ResponseBody::Single(a) => a,
        other => panic!("not a single answer: {other:?}"),
    }
}

#[test]
fn file_drop_answers_every_request_once() {
    let f = fixture();
    let service = Service::new(f.pop.clone(), f.institution, AnswerConfig::default());
    let driver = start(
        &f.root,
        Terminal::new(service),
        f.clock.clock(),
        DriverConfig::default(),
    )
    .unwrap();
    let req = f.root.join("req");
    let res = f.root.join("res");

    // 1. Shift_JIS single inquiry → Shift_JIS answer.
    let valid = f.pop.example(QualificationValidity::Valid);
    let sjis = single(&f, &valid, "sjis-1").render(CharacterCode::ShiftJis);
    assert!(std::str::from_utf8(&sjis).is_err() || sjis.is_ascii());
    drop_request(&req, "OQSsiquc01req_0001.xml", &sjis);
    let b = wait_for(&res.join("OQSsiquc01res_0001.xml"));
    assert_eq!(declared_encoding(&b), "Shift_JIS");
    assert!(
        std::str::from_utf8(&b).is_err(),
        "Japanese names make it non-UTF-8"
    );
    let r = parse_response(&b).unwrap();
    assert_eq!(r.header.segment_of_result, SegmentOfResult::Normal);
    assert_eq!(r.header.character_code_identifier, CharacterCode::ShiftJis);
    assert_eq!(
        r.header.reference_classification,
        Some(ReferenceClassification::InsuranceCard)
    );
    assert_eq!(
        r.header.arbitrary_file_identifier.as_deref(),
        Some("sjis-1")
    );
    let a = single_answer(&r);
    assert_eq!(a.qualification_validity, Some(QualificationValidity::Valid));
    assert_eq!(a.results[0].insured_identification_number, valid.number);
    assert!(a.results[0]
        .name_kana
        .chars()
        .all(|c| c == ' ' || ('\u{FF61}'..='\u{FF9F}').contains(&c)));

    // 2. UTF-8 request asking for a UTF-8 answer; key of the "several matches" kind.
    let several = f.pop.example(QualificationValidity::SeveralMatches);
    let mut r2 = single(&f, &several, "utf8-1");
    r2.header.character_code_identifier = Some(CharacterCode::Utf8);
    drop_request(
        &req,
        "OQSsiquc01req_0002.xml",
        &r2.render(CharacterCode::Utf8),
    );
    let b = wait_for(&res.join("OQSsiquc01res_0002.xml"));
    assert_eq!(declared_encoding(&b), "UTF-8");
    assert!(std::str::from_utf8(&b).is_ok());
    let r = parse_response(&b).unwrap();
    assert_eq!(r.header.character_code_identifier, CharacterCode::Utf8);
    let a = single_answer(&r);
    assert_eq!(
        a.qualification_validity,
        Some(QualificationValidity::SeveralMatches)
    );
    assert!(a.results.len() >= 2);

    // 3. Malformed (bad date) and not XML at all, and an unknown prefix: abnormal files.
    let bad = String::from_utf8(single(&f, &valid, "bad-1").render(CharacterCode::Utf8))
        .unwrap()
        .replace(
            &f.pop.config().epoch.format("%Y%m%d").to_string(),
            "20240231",
        );
    drop_request(&req, "OQSsiquc01req_0003.xml", bad.as_bytes());
    drop_request(&req, "OQSsiquc01req_0004.xml", b"\x82\xa0 not xml \xff");
    drop_request(&req, "HELLOreq_0005.xml", &sjis);
    let expect = [
        (
            "OQSsiquc01res_0003.xml",
            ErrorCode::InvalidDate,
            Some("bad-1"),
        ),
        ("OQSsiquc01res_0004.xml", ErrorCode::Undecodable, None),
        // An unknown kind still echoes the document's identifier (issue 13 item 5).
        (
            "HELLOres_0005.xml",
            ErrorCode::UnknownMessage,
            Some("sjis-1"),
        ),
    ];
    for (name, code, id) in expect {
        let b = wait_for(&res.join(name));
        assert_eq!(declared_encoding(&b), "Shift_JIS", "{name}");
        let r = parse_response(&b).unwrap();
        assert_eq!(
            r.header.segment_of_result,
            SegmentOfResult::Abnormal,
            "{name}"
        );
        assert_eq!(r.header.error_code, Some(code), "{name}");
        assert_eq!(r.header.arbitrary_file_identifier.as_deref(), id, "{name}");
        let msg = r.header.error_message.unwrap();
        assert!(msg.contains(" / "), "Japanese / English: {msg}");
    }

    // 4. Bulk: upload → ReceptionNumber; download too early → processing (2);
    //    after the virtual delay → results in upload order.
    let keys: Vec<_> = QualificationValidity::PRODUCED
        .iter()
        .map(|v| f.pop.example(*v).to_search_info())
        .collect();
    let up = Request {
        header: header(&f, "bulk-up"),
        body: RequestBody::BulkUpload(keys),
    };
    drop_request(
        &req,
        "OQSmuquc01req_0006.xml",
        &up.render(CharacterCode::ShiftJis),
    );
    let r = parse_response(&wait_for(&res.join("OQSmuquc01res_0006.xml"))).unwrap();
    let ResponseBody::BulkAccepted {
        reception_number, ..
    } = r.body
    else {
        panic!("{r:?}")
    };
    let down = Request {
        header: header(&f, "bulk-down"),
        body: RequestBody::BulkDownload {
            reception_number: reception_number.clone(),
        },
    }
    .render(CharacterCode::ShiftJis);
    drop_request(&req, "OQSmuquc02req_0007.xml", &down);
    let r = parse_response(&wait_for(&res.join("OQSmuquc02res_0007.xml"))).unwrap();
    assert_eq!(r.header.segment_of_result, SegmentOfResult::Processing);
    f.clock.advance_minutes(10);
    drop_request(&req, "OQSmuquc02req_0008.xml", &down);
    let r = parse_response(&wait_for(&res.join("OQSmuquc02res_0008.xml"))).unwrap();
    let ResponseBody::BulkResults { answers, .. } = &r.body else {
        panic!("{r:?}")
    };
    let got: Vec<_> = answers
        .iter()
        .map(|a| a.qualification_validity.unwrap())
        .collect();
    assert_eq!(got, QualificationValidity::PRODUCED);

    // 5. A card confirmation at the reader → face/.
    let holder = VerifiedCardHolder::from(f.pop.example(QualificationValidity::Valid));
    let path = driver
        .card_confirmation(
            &holder,
            ReaderConsents {
                limit_certificate: true,
                pharmacists_info: true,
                specific_health_checkups: true,
                ..Default::default()
            },
        )
        .unwrap();
    let name = path.file_name().unwrap().to_str().unwrap().to_string();
    assert!(
        fakes::eligibility::terminal::is_face_file_name(&name),
        "{name}"
    );
    let r = parse_response(&fs::read(&path).unwrap()).unwrap();
    assert_eq!(
        r.header.reference_classification,
        Some(ReferenceClassification::Card)
    );

    // 6. Re-using an answered name: the existing answer is not overwritten.
    let before = fs::read(res.join("OQSsiquc01res_0001.xml")).unwrap();
    drop_request(&req, "OQSsiquc01req_0001.xml", b"<XmlMsg/>");
    let t0 = Instant::now();
    while fs::read_dir(&req)
        .unwrap()
        .flatten()
        .any(|e| e.path().is_file() && !e.file_name().to_string_lossy().starts_with('.'))
        && t0.elapsed() < WAIT
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        fs::read(res.join("OQSsiquc01res_0001.xml")).unwrap(),
        before
    );

    // Let a few more polls pass, then count: one answer per request, nothing twice.
    std::thread::sleep(Duration::from_millis(300));
    let log = driver.log();
    driver.stop();
    let mut answered: Vec<_> = log
        .iter()
        .filter(|e| matches!(e.outcome, LogOutcome::Answered(_)))
        .map(|e| e.request.clone())
        .collect();
    answered.sort();
    let n = answered.len();
    answered.dedup();
    assert_eq!(n, answered.len(), "answered twice: {log:?}");
    assert_eq!(n, 8);
    assert_eq!(
        log.iter()
            .filter(|e| e.outcome == LogOutcome::AlreadyAnswered)
            .count(),
        1
    );
    let res_files: Vec<_> = fs::read_dir(&res)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(res_files.len(), 8, "{res_files:?}");
    let processed = fs::read_dir(req.join("processed")).unwrap().count();
    assert_eq!(processed, 9);
    assert!(
        log.iter()
            .all(|e| !matches!(e.outcome, LogOutcome::Failed(_))),
        "{log:?}"
    );
}

#[test]
fn oversized_requests_get_an_abnormal_answer() {
    let f = fixture();
    let mut cfg = AnswerConfig::default();
    cfg.limits.max_file_bytes = 1_000;
    let service = Service::new(f.pop.clone(), f.institution, cfg);
    let driver = start(
        &f.root,
        Terminal::new(service),
        f.clock.clock(),
        DriverConfig::default(),
    )
    .unwrap();
    drop_request(
        &f.root.join("req"),
        "OQSsiquc01req_big.xml",
        &vec![b' '; 50_000],
    );
    let r = parse_response(&wait_for(&f.root.join("res/OQSsiquc01res_big.xml"))).unwrap();
    assert_eq!(r.header.error_code, Some(ErrorCode::TooLarge));
    driver.stop();
}
