//! The qualification terminal's file drop, end to end on a temporary folder: single
//! requests in Shift_JIS and UTF-8, a malformed one, an unknown prefix, the bulk
//! two-phase flow, a card confirmation in `face/`, and nothing answered twice.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fakes::eligibility::answer::{AnswerConfig, ReaderConsents, Service, VerifiedCardHolder};
use fakes::eligibility::card_refusal::{CardRefusal, Unconfirmed};
use fakes::eligibility::values::{QualificationValidity, ReferenceClassification, SegmentOfResult};
use fakes::eligibility::xml::{
    parse_response, Request, RequestBody, RequestHeader, Response, ResponseBody,
};
use fakes::eligibility::{
    CharacterCode, ErrorCode, Population, PopulationConfig, SearchKey, Terminal,
};
use fakes::time::VirtualTime;
use sim::terminal::{start, DriverConfig, LogOutcome, ManualClock, Processed};

#[path = "support/serve.rs"]
mod serve;

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
        DriverConfig {
            processed: Processed::Move,
            ..Default::default()
        },
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
    // The real form (docs/INTERFACE.md §1): OQSsiquc01res_face_<code><20 hex>_<14 digits>.xml,
    // stamped with the virtual time (the library default).
    let rest = name
        .strip_prefix(&format!("OQSsiquc01res_face_{}", f.institution))
        .unwrap_or_else(|| panic!("{name}"));
    let (hex20, stamp) = rest.split_once('_').unwrap();
    assert!(
        fakes::eligibility::terminal::is_face_file_name(&name),
        "{name}"
    );
    assert!(
        hex20.len() == 20 && hex20.bytes().all(|b| b.is_ascii_hexdigit()),
        "{name}"
    );
    assert_eq!(
        stamp,
        format!(
            "{}.xml",
            fakes::eligibility::values::naive(f.clock.now()).format("%Y%m%d%H%M%S")
        ),
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

fn failures(log: &[sim::terminal::LogEntry], request: &str) -> Vec<String> {
    log.iter()
        .filter(|e| e.request == request)
        .filter_map(|e| match &e.outcome {
            LogOutcome::Failed(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

fn start_default(f: &Fixture, cfg: DriverConfig) -> sim::terminal::TerminalDriver {
    let service = Service::new(f.pop.clone(), f.institution, AnswerConfig::default());
    start(&f.root, Terminal::new(service), f.clock.clock(), cfg).unwrap()
}

/// Issue 14 #3: a mis-named `OQSsiquc01res_A.xml` in req/ gets its own answer
/// name; the real `OQSsiquc01req_A.xml` still gets `OQSsiquc01res_A.xml`.
#[test]
fn a_mis_named_request_cannot_take_another_requests_answer_name() {
    let f = fixture();
    let driver = start_default(&f, DriverConfig::default());
    let (req, res) = (f.root.join("req"), f.root.join("res"));
    let valid = f.pop.example(QualificationValidity::Valid);
    drop_request(
        &req,
        "OQSsiquc01res_A.xml",
        &single(&f, &valid, "mis").render(CharacterCode::Utf8),
    );
    let mis = parse_response(&wait_for(&res.join("onsim_unknown_OQSsiquc01res_A.xml"))).unwrap();
    assert_eq!(mis.header.error_code, Some(ErrorCode::UnknownMessage));
    drop_request(
        &req,
        "OQSsiquc01req_A.xml",
        &single(&f, &valid, "real").render(CharacterCode::Utf8),
    );
    let real = parse_response(&wait_for(&res.join("OQSsiquc01res_A.xml"))).unwrap();
    assert_eq!(real.header.segment_of_result, SegmentOfResult::Normal);
    assert_eq!(
        real.header.arbitrary_file_identifier.as_deref(),
        Some("real")
    );
    let log = driver.log();
    driver.stop();
    assert!(
        !log.iter().any(|e| e.outcome == LogOutcome::AlreadyAnswered),
        "{log:?}"
    );
}

/// Issue 14 #4: writers that pause mid-file (0.2 s, 1 s, 2.5 s) are not answered
/// half-way (quiet period 3 s here); once the end tag is written the file is taken
/// without waiting the whole quiet period. A complete file without the end tag
/// waits the quiet period.
#[test]
fn writers_that_pause_are_not_answered_half_way() {
    let f = fixture();
    let quiet = Duration::from_secs(3);
    let driver = start_default(
        &f,
        DriverConfig {
            quiet_period: quiet,
            ..Default::default()
        },
    );
    let (req, res) = (f.root.join("req"), f.root.join("res"));
    let valid = f.pop.example(QualificationValidity::Valid);
    let writers: Vec<_> = [200u64, 1_000, 2_500]
        .into_iter()
        .map(|pause| {
            let bytes =
                single(&f, &valid, &format!("pause-{pause}")).render(CharacterCode::ShiftJis);
            let path = req.join(format!("OQSsiquc01req_pause{pause}.xml"));
            let answer = res.join(format!("OQSsiquc01res_pause{pause}.xml"));
            std::thread::spawn(move || {
                use std::io::Write;
                let mut w = fs::File::create(&path).unwrap();
                let half = bytes.len() / 2;
                w.write_all(&bytes[..half]).unwrap();
                w.flush().unwrap();
                std::thread::sleep(Duration::from_millis(pause));
                assert!(
                    !answer.exists(),
                    "answered half-way after a {pause} ms pause"
                );
                w.write_all(&bytes[half..]).unwrap();
                w.flush().unwrap();
                drop(w);
                (Instant::now(), answer)
            })
        })
        .collect();
    for (pause, w) in [200u64, 1_000, 2_500].into_iter().zip(writers) {
        let (done, answer) = w.join().unwrap();
        let r = parse_response(&wait_for(&answer)).unwrap();
        let took = done.elapsed();
        assert_eq!(
            r.header.segment_of_result,
            SegmentOfResult::Normal,
            "{pause}"
        );
        assert_eq!(
            r.header.arbitrary_file_identifier,
            Some(format!("pause-{pause}"))
        );
        assert!(
            took < quiet,
            "end tag short-cut: answered {took:?} after the write"
        );
        eprintln!("pause {pause} ms: answered {took:?} after the last byte");
    }
    // No end tag: taken only after the quiet period.
    let t0 = Instant::now();
    drop_request(
        &req,
        "OQSsiquc01req_noend.xml",
        b"<?xml version=\"1.0\"?><XmlMsg>",
    );
    let b = wait_for(&res.join("OQSsiquc01res_noend.xml"));
    assert!(t0.elapsed() >= quiet, "taken after {:?}", t0.elapsed());
    assert_eq!(
        parse_response(&b).unwrap().header.segment_of_result,
        SegmentOfResult::Abnormal
    );
    driver.stop();
}

/// Issue 14 #14: temp files a killed run left in res/ and face/ (ours and the old
/// `.<name>.<pid>.tmp` form) are removed at start; other hidden files are kept.
#[test]
fn temp_files_of_a_killed_run_are_removed_at_start() {
    let f = fixture();
    // A pid that runs nowhere (above Linux's pid_max ceiling of 2^22).
    let dead = 4_194_999u32;
    assert!(!Path::new(&format!("/proc/{dead}")).exists());
    for d in ["req", "res", "face"] {
        fs::create_dir_all(f.root.join(d)).unwrap();
    }
    let stale = [
        format!("res/.onsim-tmp-{dead}-7"),
        format!("face/.onsim-tmp-{dead}-8"),
        format!("req/.onsim-tmp-{dead}-9"),
        format!("res/.OQSsiquc01res_1.xml.{dead}.tmp"),
    ];
    let kept = [
        "res/.keep",
        "req/.client-writing.tmp",
        "res/OQSsiquc01res_old.xml",
    ];
    for p in stale.iter().map(String::as_str).chain(kept) {
        fs::write(f.root.join(p), b"x").unwrap();
    }
    let driver = start_default(&f, DriverConfig::default());
    for p in &stale {
        assert!(!f.root.join(p).exists(), "{p} left behind");
    }
    for p in kept {
        assert!(f.root.join(p).exists(), "{p} removed");
    }
    driver.stop();
}

/// Issue 14 "Also": a symbolic link (to a request outside req/), a directory and a
/// FIFO in req/ are reported once each, never answered, and the link is not followed.
#[cfg(unix)]
#[test]
fn links_folders_and_fifos_in_req_are_reported_once() {
    let f = fixture();
    let driver = start_default(
        &f,
        DriverConfig {
            poll_interval: Duration::from_millis(10),
            ..Default::default()
        },
    );
    let req = f.root.join("req");
    let outside = f.root.join("outside.xml");
    let valid = f.pop.example(QualificationValidity::Valid);
    fs::write(
        &outside,
        single(&f, &valid, "outside").render(CharacterCode::Utf8),
    )
    .unwrap();
    std::os::unix::fs::symlink(&outside, req.join("OQSsiquc01req_link.xml")).unwrap();
    fs::create_dir(req.join("OQSsiquc01req_dir.xml")).unwrap();
    let fifo = req.join("OQSsiquc01req_fifo.xml");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    std::thread::sleep(Duration::from_millis(1_500));
    let log = driver.log();
    for (name, why) in [
        ("OQSsiquc01req_link.xml", "symbolic link"),
        ("OQSsiquc01req_dir.xml", "directory"),
        ("OQSsiquc01req_fifo.xml", "FIFO"),
    ] {
        let fl = failures(&log, name);
        assert_eq!(fl.len(), 1, "{name}: {fl:?}");
        assert!(fl[0].contains(why), "{name}: {fl:?}");
    }
    assert_eq!(fs::read_dir(f.root.join("res")).unwrap().count(), 0);
    assert!(outside.exists() && req.join("OQSsiquc01req_link.xml").exists());
    driver.stop();
}

/// Issue 13 item 2: the request is consumed (deleted) once answered, as the real
/// terminal does; no req/processed/ unless asked for. `.err` files are written
/// beside the request, never replaced, and never taken for requests.
#[test]
fn requests_are_consumed_and_err_files_sit_beside_them() {
    let f = fixture();
    let driver = start_default(&f, DriverConfig::default());
    let (req, res) = (f.root.join("req"), f.root.join("res"));
    let valid = f.pop.example(QualificationValidity::Valid);
    drop_request(
        &req,
        "OQSsiquc01req_c.xml",
        &single(&f, &valid, "c").render(CharacterCode::Utf8),
    );
    wait_for(&res.join("OQSsiquc01res_c.xml"));
    let t0 = Instant::now();
    while req.join("OQSsiquc01req_c.xml").exists() && t0.elapsed() < WAIT {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!req.join("OQSsiquc01req_c.xml").exists(), "not consumed");
    assert!(!req.join("processed").exists());
    let p = driver
        .write_err_file("OQSmuquc01req_7.xml", b"E0001")
        .unwrap()
        .unwrap();
    assert_eq!(p, req.join("OQSmuquc01req_7.err"));
    assert!(driver
        .write_err_file("OQSmuquc01req_7.xml", b"other")
        .unwrap()
        .is_none());
    assert_eq!(fs::read(&p).unwrap(), b"E0001");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        fs::read_dir(&res).unwrap().count(),
        1,
        "the .err was answered"
    );
    let hidden: Vec<_> = fs::read_dir(&req)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "temp left: {hidden:?}");
    driver.stop();
}

/// Issue 13 item 4: write in place, an answer delay, the output encoding.
#[test]
fn terminal_settings_write_mode_delay_and_encoding() {
    let f = fixture();
    let delay = Duration::from_millis(800);
    let driver = start_default(
        &f,
        DriverConfig {
            write_mode: sim::terminal::WriteMode::InPlace,
            answer_delay: delay,
            encoding: Some(CharacterCode::Utf8),
            ..Default::default()
        },
    );
    let (req, res) = (f.root.join("req"), f.root.join("res"));
    let valid = f.pop.example(QualificationValidity::Valid);
    let t0 = Instant::now();
    drop_request(
        &req,
        "OQSsiquc01req_s.xml",
        &single(&f, &valid, "s").render(CharacterCode::ShiftJis),
    );
    drop_request(&req, "HELLO.xml", b"<XmlMsg/>");
    let b = wait_for(&res.join("OQSsiquc01res_s.xml"));
    assert!(t0.elapsed() >= delay, "answered after {:?}", t0.elapsed());
    // The request names no CharacterCodeIdentifier: the terminal's setting decides.
    assert_eq!(declared_encoding(&b), "UTF-8");
    assert_eq!(
        parse_response(&b).unwrap().header.segment_of_result,
        SegmentOfResult::Normal
    );
    let b = wait_for(&res.join("onsim_unknown_HELLO.xml"));
    assert_eq!(declared_encoding(&b), "UTF-8");
    std::thread::sleep(Duration::from_millis(100));
    let names: Vec<_> = fs::read_dir(&res)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    driver.stop();
}

/// Issue 14 #2: SIGTERM to `onsim serve` in the middle of a burst of 2,000 requests:
/// the file drop stops before the services, so nothing gets a false 5001; after a
/// restart on the same state directory every request has exactly one correct
/// answer and none is lost.
#[cfg(unix)]
#[test]
fn sigterm_mid_burst_writes_no_false_answers_and_loses_nothing() {
    const N: usize = 2_000;
    let args = ["--households", "2000", "--speed", "0", "--seed", "1"];
    let server = serve::Server::start(&args);
    let term = PathBuf::from(server.url("terminal_dir"));
    let (req, res) = (term.join("req"), term.join("res"));
    let institution: fakes::codes::InstitutionCode =
        server.url("institution_code").parse().unwrap();
    let pop = Population::new(PopulationConfig {
        seed: 1,
        households: 2_000,
        ..Default::default()
    });
    let date = chrono::NaiveDate::from_ymd_opt(2025, 4, 1).unwrap();
    let keys: Vec<SearchKey> = QualificationValidity::PRODUCED
        .iter()
        .map(|v| pop.example(*v))
        .collect();
    let expected: Vec<_> = (0..N)
        .map(|i| {
            let key = &keys[i % keys.len()];
            let bytes = Request {
                header: RequestHeader {
                    qualification_confirmation_date: Some(date),
                    medical_institution_code: institution,
                    arbitrary_file_identifier: Some(format!("burst-{i}")),
                    character_code_identifier: None,
                },
                body: RequestBody::Single(key.to_search_info()),
            }
            .render(CharacterCode::ShiftJis);
            (format!("OQSsiquc01req_{i:05}.xml"), bytes, key.clone())
        })
        .collect();
    let t0 = Instant::now();
    for (name, bytes, _) in &expected {
        drop_request(&req, name, bytes);
    }
    let answers = |dir: &Path| {
        fs::read_dir(dir)
            .unwrap()
            .flatten()
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .count()
    };
    // Mid-burst: some answered, most not.
    while answers(&res) < 100 {
        assert!(t0.elapsed() < Duration::from_secs(60), "no answers");
        std::thread::sleep(Duration::from_millis(5));
    }
    let (dir, log1, status) = server.terminate();
    let at_stop = answers(&res);
    assert!(status.is_some_and(|s| s.success()), "{status:?}\n{log1}");
    assert!(at_stop < N, "the burst was over before SIGTERM ({at_stop})");
    assert!(!log1.contains("centre failed"), "{log1}");
    let server = serve::Server::start_in(dir, &args);
    let t1 = Instant::now();
    while answers(&res) < N || answers(&req) > 0 {
        assert!(
            t1.elapsed() < Duration::from_secs(180),
            "{} of {N} answered after the restart",
            answers(&res)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let drained = t1.elapsed();
    let (_dir, log2, _) = server.terminate();
    assert!(!log2.contains("centre failed"), "{log2}");
    for (i, (name, _, _)) in expected.iter().enumerate() {
        let answer = res.join(name.replacen("req", "res", 1));
        let bytes = fs::read(&answer).unwrap_or_else(|e| {
            let mut other: Vec<_> = fs::read_dir(&res)
                .unwrap()
                .flatten()
                .map(|e| e.file_name().into_string().unwrap())
                .filter(|n| !n.starts_with("OQSsiquc01res_"))
                .collect();
            other.truncate(5);
            panic!(
                "{}: {e}; other answers: {other:?}\n{log1}\n{log2}",
                answer.display()
            )
        });
        let r = parse_response(&bytes).unwrap();
        assert_eq!(r.header.error_code, None, "{name}: {:?}", r.header);
        assert_eq!(
            r.header.arbitrary_file_identifier,
            Some(format!("burst-{i}")),
            "{name}"
        );
        let want = QualificationValidity::PRODUCED[i % keys.len()];
        assert_eq!(
            single_answer(&r).qualification_validity,
            Some(want),
            "{name}"
        );
    }
    assert_eq!(answers(&res), N, "one answer per request, nothing else");
    eprintln!(
        "burst {N}: {at_stop} answered before SIGTERM, the other {} in {drained:?} after the restart",
        N - at_stop
    );
}

/// The terminal flags of `onsim serve`: a value out of range or unknown is exit 2
/// naming the flag, before anything is written.
#[test]
fn bad_terminal_flags_are_refused_with_exit_2() {
    for (flag, value) in [
        ("--terminal-poll-ms", "0"),
        ("--terminal-quiet-ms", "99999999"),
        ("--terminal-write-mode", "sideways"),
        ("--terminal-encoding", "latin-1"),
        ("--face-stamp", "lunar"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_onsim"))
            .args(["serve", "--state-dir"])
            .arg(&state)
            .args([flag, value])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {err}");
        assert!(err.contains(flag), "{flag} {value}: {err}");
        assert!(!state.exists(), "{flag} {value}: state dir written");
    }
}

/// Issue 14 #6 through the real binary: with res/ unwritable, `onsim serve` says so
/// on stderr — once, with the file and the reason — at the default log level.
#[test]
fn serve_reports_a_write_failure_once_on_stderr() {
    let server = serve::Server::start(&["--households", "2000", "--speed", "0"]);
    let term = PathBuf::from(server.url("terminal_dir"));
    let res = term.join("res");
    fs::remove_dir(&res).unwrap();
    fs::write(&res, b"in the way").unwrap();
    drop_request(&term.join("req"), "OQSsiquc01req_stderr.xml", b"<XmlMsg/>");
    assert!(
        server.log_has("OQSsiquc01req_stderr.xml"),
        "no stderr line about the failure"
    );
    std::thread::sleep(Duration::from_millis(2_500));
    let (_dir, log, _) = server.terminate();
    let lines: Vec<_> = log
        .lines()
        .filter(|l| l.contains("OQSsiquc01req_stderr.xml"))
        .collect();
    assert_eq!(lines.len(), 1, "{log}");
    eprintln!("the one line: {}", lines[0]);
    assert!(
        lines[0].contains("writing res/OQSsiquc01res_stderr.xml") && lines[0].contains("WARN"),
        "{}",
        lines[0]
    );
}

/// A `res/` (or `req/`, `face/`) that is a symbolic link is refused at start, naming
/// it: the file drop never writes through a link out of its folder.
#[cfg(unix)]
#[test]
fn a_linked_res_folder_is_refused_at_start() {
    let f = fixture();
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), f.root.join("res")).unwrap();
    let service = Service::new(f.pop.clone(), f.institution, AnswerConfig::default());
    let err = start(
        &f.root,
        Terminal::new(service),
        f.clock.clock(),
        DriverConfig::default(),
    )
    .err()
    .expect("refused");
    let msg = err.to_string();
    assert!(
        msg.contains("res") && msg.contains("symbolic link"),
        "{msg}"
    );
    assert_eq!(fs::read_dir(elsewhere.path()).unwrap().count(), 0);
}

/// Issue 13 item 4, the reason for `in-place`: a change-watcher (Node's `fs.watch`,
/// what chokidar builds on) sees a `change` for an answer written in place, and
/// none for one that appears by hard link. Needs `node` on PATH (skipped, saying
/// so, without it).
#[test]
fn in_place_answers_fire_change_events_and_linked_ones_do_not() {
    use std::io::{BufRead, BufReader};
    if std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: node not found");
        return;
    }
    let f = fixture();
    let valid = f.pop.example(QualificationValidity::Valid);
    let bytes = single(&f, &valid, "w").render(CharacterCode::Utf8);
    let mut events = Vec::new();
    for (mode, id) in [
        (sim::terminal::WriteMode::InPlace, "ip"),
        (sim::terminal::WriteMode::Rename, "rn"),
    ] {
        let root = f.root.join(id);
        let driver = start(
            &root,
            Terminal::new(Service::new(
                f.pop.clone(),
                f.institution,
                AnswerConfig::default(),
            )),
            f.clock.clock(),
            DriverConfig {
                write_mode: mode,
                ..Default::default()
            },
        )
        .unwrap();
        let script = "const fs=require('fs');const ev=[];\
            fs.watch(process.argv[1],(t,n)=>ev.push(t+':'+n));\
            console.log('ready');\
            setTimeout(()=>{console.log(JSON.stringify(ev));process.exit(0)},1500);";
        let mut node = std::process::Command::new("node")
            .args(["-e", script])
            .arg(root.join("res"))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(node.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready");
        drop_request(
            &root.join("req"),
            &format!("OQSsiquc01req_{id}.xml"),
            &bytes,
        );
        wait_for(&root.join("res").join(format!("OQSsiquc01res_{id}.xml")));
        line.clear();
        out.read_line(&mut line).unwrap();
        node.wait().unwrap();
        driver.stop();
        events.push(line.trim().to_string());
    }
    assert!(
        events[0].contains("change:OQSsiquc01res_ip.xml"),
        "in place: {}",
        events[0]
    );
    assert!(
        events[1].contains("rename:OQSsiquc01res_rn.xml")
            && !events[1].contains("change:OQSsiquc01res_rn.xml"),
        "linked: {}",
        events[1]
    );
}

/// Issue 13 item 3: with `FaceStamp::Wall` the face name carries today's wall-clock
/// date (MR filters on it) whatever the virtual date; a refused card's face file
/// (`FaceDrop::unconfirmed_card`) is named the same way.
#[test]
fn face_files_stamped_with_the_wall_clock() {
    let f = fixture();
    let driver = start_default(
        &f,
        DriverConfig {
            face_stamp: sim::terminal::FaceStamp::Wall,
            ..Default::default()
        },
    );
    let drop = driver.face_drop();
    let holder = VerifiedCardHolder::from(f.pop.example(QualificationValidity::Valid));
    let today = chrono::Local::now().format("%Y%m%d").to_string();
    let a = drop
        .present_card(&holder, ReaderConsents::default())
        .unwrap();
    let b = drop
        .unconfirmed_card(Unconfirmed::Refused(CardRefusal::PinLocked))
        .unwrap();
    assert_ne!(a, b);
    let text = String::from_utf8_lossy(&fs::read(&b).unwrap()).into_owned();
    assert!(text.contains("<ProcessingResultCode>C002<"), "{text}");
    for p in [a, b] {
        let n = p.file_name().unwrap().to_str().unwrap().to_string();
        let stamp =
            fakes::eligibility::terminal::face_file_stamp(&n).unwrap_or_else(|| panic!("{n}"));
        assert!(stamp.starts_with(&today), "{n} (today {today})");
        assert_ne!(
            &stamp[..8],
            f.clock.now().date().format("%Y%m%d").to_string(),
            "virtual date used"
        );
    }
    driver.stop();
}

/// `onsim serve --terminal-encoding utf-8 --terminal-keep-processed`: an answer from
/// the centre to a request naming no encoding is UTF-8, and the request is kept in
/// req/processed/.
#[test]
fn serve_terminal_encoding_and_keep_processed() {
    let server = serve::Server::start(&[
        "--households",
        "2000",
        "--speed",
        "0",
        "--terminal-encoding",
        "utf-8",
        "--terminal-keep-processed",
    ]);
    let term = PathBuf::from(server.url("terminal_dir"));
    let institution: fakes::codes::InstitutionCode =
        server.url("institution_code").parse().unwrap();
    let pop = Population::new(PopulationConfig {
        seed: 1,
        households: 2_000,
        ..Default::default()
    });
    let bytes = Request {
        header: RequestHeader {
            qualification_confirmation_date: Some(
                chrono::NaiveDate::from_ymd_opt(2025, 4, 1).unwrap(),
            ),
            medical_institution_code: institution,
            arbitrary_file_identifier: Some("enc".into()),
            character_code_identifier: None,
        },
        body: RequestBody::Single(pop.example(QualificationValidity::Valid).to_search_info()),
    }
    .render(CharacterCode::ShiftJis);
    drop_request(&term.join("req"), "OQSsiquc01req_enc.xml", &bytes);
    let b = wait_for(&term.join("res/OQSsiquc01res_enc.xml"));
    let processed = term.join("req/processed/OQSsiquc01req_enc.xml");
    let t0 = Instant::now();
    while !processed.exists() && t0.elapsed() < WAIT {
        std::thread::sleep(Duration::from_millis(20));
    }
    let (_dir, log, _) = server.terminate();
    assert_eq!(declared_encoding(&b), "UTF-8", "{log}");
    let r = parse_response(&b).unwrap();
    assert_eq!(r.header.segment_of_result, SegmentOfResult::Normal);
    assert!(processed.exists(), "not kept in req/processed/");
}
