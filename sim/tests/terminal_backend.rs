//! The file drop with an HTTP backend, against wiremock standing in for the
//! implementing body: a good answer is passed through; a slow answer (beyond the
//! bounded timeout), HTTP 500, a malformed body and a closed port each get an
//! abnormal answer (`SegmentOfResult` 9, ErrorCode 5001/5002), and the terminal stays
//! up and answers the next request.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fakes::eligibility::answer::{AnswerConfig, Service};
use fakes::eligibility::values::SegmentOfResult;
use fakes::eligibility::xml::{parse_response, Request, RequestBody, RequestHeader, Response};
use fakes::eligibility::{
    ErrorCode, Population, PopulationConfig, QualificationValidity, Terminal,
};
use fakes::time::VirtualTime;
use sim::live::centre::HttpBackend;
use sim::terminal::{start_with, Backend, DriverConfig, ManualClock, TerminalDriver};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const WAIT: Duration = Duration::from_secs(10);

fn wait_for(p: &Path) -> Vec<u8> {
    let t0 = Instant::now();
    while t0.elapsed() < WAIT {
        if let Ok(b) = fs::read(p) {
            return b;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no answer at {} within {WAIT:?}", p.display());
}

struct Fx {
    _dir: tempfile::TempDir,
    root: PathBuf,
    pop: Population,
    institution: fakes::codes::InstitutionCode,
    clock: ManualClock,
}

fn fx() -> Fx {
    let dir = tempfile::tempdir().unwrap();
    let pop = Population::new(PopulationConfig {
        seed: 7,
        households: 1_000,
        ..Default::default()
    });
    let clock = ManualClock::new(VirtualTime::at(pop.config().epoch, 9, 0));
    Fx {
        root: dir.path().to_path_buf(),
        _dir: dir,
        pop,
        institution: "1313120014".parse().unwrap(),
        clock,
    }
}

impl Fx {
    fn service(&self) -> Service {
        Service::new(self.pop.clone(), self.institution, AnswerConfig::default())
    }
    fn request(&self, id: &str) -> Vec<u8> {
        Request {
            header: RequestHeader {
                qualification_confirmation_date: Some(self.pop.config().epoch),
                medical_institution_code: self.institution,
                arbitrary_file_identifier: Some(id.into()),
                character_code_identifier: None,
            },
            body: RequestBody::Single(
                self.pop
                    .example(QualificationValidity::Valid)
                    .to_search_info(),
            ),
        }
        .render(fakes::eligibility::CharacterCode::ShiftJis)
    }
    /// The answer the real core gives (what a good centre sends back).
    fn good_answer(&self, id: &str) -> Vec<u8> {
        self.service()
            .handle(
                Some(fakes::eligibility::xml::MessageKind::Single),
                &self.request(id),
                self.clock.now(),
            )
            .render()
    }
    fn start(&self, backend: Arc<dyn Backend>) -> TerminalDriver {
        start_with(
            &self.root,
            Terminal::new(self.service()),
            backend,
            self.clock.clock(),
            DriverConfig {
                poll_interval: Duration::from_millis(10),
                ..Default::default()
            },
        )
        .unwrap()
    }
    fn ask(&self, id: &str) -> Response {
        let name = format!("OQSsiquc01req_{id}.xml");
        let tmp = self.root.join("req").join(format!(".{name}.w"));
        fs::write(&tmp, self.request(id)).unwrap();
        fs::rename(&tmp, self.root.join("req").join(&name)).unwrap();
        let bytes = wait_for(
            &self
                .root
                .join("res")
                .join(format!("OQSsiquc01res_{id}.xml")),
        );
        parse_response(&bytes).expect("the terminal always writes an XmlMsg response")
    }
}

fn abnormal(r: &Response, code: ErrorCode, id: &str) {
    assert_eq!(
        r.header.segment_of_result,
        SegmentOfResult::Abnormal,
        "{id}"
    );
    assert_eq!(r.header.error_code, Some(code), "{id}");
    // The clinic can still match the answer to its request.
    assert_eq!(r.header.arbitrary_file_identifier.as_deref(), Some(id));
}

fn http_backend(server: &MockServer, timeout: Duration) -> Arc<dyn Backend> {
    Arc::new(
        HttpBackend::new(&format!("{}/eligibility", server.uri()), None, None)
            .unwrap()
            .with_timeout(timeout),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_slow_failing_and_malformed_centres() {
    let f = fx();
    let server = MockServer::start().await;
    // Mocks are matched by the file identifier the terminal forwards.
    let by_id = |id: &'static str| {
        Mock::given(method("POST"))
            .and(path("/eligibility"))
            .and(wiremock::matchers::body_string_contains(id))
    };
    by_id("good-1")
        .respond_with(ResponseTemplate::new(200).set_body_bytes(f.good_answer("good-1")))
        .mount(&server)
        .await;
    by_id("slow-1")
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_bytes(f.good_answer("slow-1"))
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&server)
        .await;
    by_id("fail-1")
        .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
        .mount(&server)
        .await;
    by_id("junk-1")
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>not xml"))
        .mount(&server)
        .await;
    by_id("good-2")
        .respond_with(ResponseTemplate::new(200).set_body_bytes(f.good_answer("good-2")))
        .mount(&server)
        .await;
    let driver = f.start(http_backend(&server, Duration::from_millis(500)));
    let fx = &f;
    // Blocking file waits off the runtime's workers (wiremock runs on them).
    let results = std::thread::scope(|s| {
        s.spawn(|| {
            let good = fx.ask("good-1");
            assert_eq!(good.header.segment_of_result, SegmentOfResult::Normal);
            let t0 = Instant::now();
            let slow = fx.ask("slow-1");
            abnormal(&slow, ErrorCode::CentreUnreachable, "slow-1");
            assert!(t0.elapsed() < Duration::from_secs(4), "timeout is bounded");
            abnormal(&fx.ask("fail-1"), ErrorCode::CentreError, "fail-1");
            abnormal(&fx.ask("junk-1"), ErrorCode::CentreError, "junk-1");
            // Still up after all that.
            let again = fx.ask("good-2");
            assert_eq!(again.header.segment_of_result, SegmentOfResult::Normal);
            true
        })
        .join()
        .unwrap()
    });
    assert!(results);
    let log = driver.log();
    assert_eq!(log.len(), 5, "{log:?}");
    driver.stop();
}

#[test]
fn centre_down_is_unreachable() {
    let f = fx();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let backend = Arc::new(
        HttpBackend::new(&format!("http://127.0.0.1:{port}/eligibility"), None, None)
            .unwrap()
            .with_timeout(Duration::from_secs(2)),
    );
    let driver = f.start(backend);
    abnormal(&f.ask("down-1"), ErrorCode::CentreUnreachable, "down-1");
    // Malformed requests never reach the centre: answered by the terminal itself.
    let name = "OQSsiquc01req_bad.xml";
    fs::write(f.root.join("req").join(name), b"<XmlMsg><oops").unwrap();
    let r = parse_response(&wait_for(&f.root.join("res").join("OQSsiquc01res_bad.xml"))).unwrap();
    assert_eq!(r.header.error_code, Some(ErrorCode::NotXml));
    driver.stop();
}

/// Answers from the real core, counting every question the centre is asked.
struct Counting {
    inner: sim::terminal::InProcess,
    asked: std::sync::atomic::AtomicUsize,
}

impl Counting {
    fn new(f: &Fx) -> Arc<Self> {
        Arc::new(Counting {
            inner: sim::terminal::InProcess::new(f.service()),
            asked: Default::default(),
        })
    }
    fn asked(&self) -> usize {
        self.asked.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Backend for Counting {
    fn answer(
        &self,
        kind: fakes::eligibility::xml::MessageKind,
        bytes: &[u8],
        now: VirtualTime,
    ) -> Result<Vec<u8>, fakes::eligibility::EligibilityError> {
        self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.answer(kind, bytes, now)
    }
    fn describe(&self) -> String {
        "counting".into()
    }
}

fn failures_for(driver: &TerminalDriver, request: &str) -> Vec<String> {
    driver
        .log()
        .into_iter()
        .filter(|e| e.request == request)
        .filter_map(|e| match e.outcome {
            sim::terminal::LogOutcome::Failed(m) => Some(m),
            _ => None,
        })
        .collect()
}

fn drop_in(f: &Fx, name: &str, bytes: &[u8]) {
    let tmp = f.root.join("req").join(".w");
    fs::write(&tmp, bytes).unwrap();
    fs::rename(&tmp, f.root.join("req").join(name)).unwrap();
}

/// Issue 14 #6: res/ unwritable (here: not a folder any more — the tests run as
/// root, where a read-only mode would not stop the driver) → one failure line with
/// the file and the reason, back-off, the centre asked once; once res/ is back the
/// cached answer is written, still without asking again.
#[test]
fn write_failures_are_reported_once_and_the_centre_is_asked_once() {
    let f = fx();
    let backend = Counting::new(&f);
    let driver = start_with(
        &f.root,
        Terminal::new(f.service()),
        backend.clone(),
        f.clock.clock(),
        DriverConfig {
            poll_interval: Duration::from_millis(10),
            retry_base: Duration::from_millis(20),
            retry_cap: Duration::from_millis(300),
            ..Default::default()
        },
    )
    .unwrap();
    let res = f.root.join("res");
    fs::remove_dir(&res).unwrap();
    fs::write(&res, b"not a folder").unwrap();
    let name = "OQSsiquc01req_ro.xml";
    drop_in(&f, name, &f.request("ro-1"));
    std::thread::sleep(Duration::from_millis(1_000));
    // Further requests wait in req/ while the answer cannot be written.
    drop_in(&f, "OQSsiquc01req_ro2.xml", &f.request("ro-2"));
    std::thread::sleep(Duration::from_millis(1_000));
    assert_eq!(backend.asked(), 1, "the centre was asked again");
    assert!(failures_for(&driver, "OQSsiquc01req_ro2.xml").is_empty());
    let failures = failures_for(&driver, name);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].contains("writing res/OQSsiquc01res_ro.xml"),
        "{failures:?}"
    );
    assert!(f.root.join("req").join(name).exists(), "request kept");
    fs::remove_file(&res).unwrap();
    fs::create_dir(&res).unwrap();
    let r = parse_response(&wait_for(&res.join("OQSsiquc01res_ro.xml"))).unwrap();
    assert_eq!(r.header.segment_of_result, SegmentOfResult::Normal);
    assert_eq!(r.header.arbitrary_file_identifier.as_deref(), Some("ro-1"));
    let t0 = Instant::now();
    while f.root.join("req").join(name).exists() && t0.elapsed() < WAIT {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!f.root.join("req").join(name).exists(), "consumed");
    let r = parse_response(&wait_for(&res.join("OQSsiquc01res_ro2.xml"))).unwrap();
    assert_eq!(r.header.arbitrary_file_identifier.as_deref(), Some("ro-2"));
    assert_eq!(backend.asked(), 2, "each request asked once");
    assert_eq!(failures_for(&driver, name).len(), 1);
    driver.stop();
}

/// Issue 14 #5: names of 245–255 bytes are answered (short temp names), once; an
/// answer name that cannot fit is written under the short `onsim_longname_` name,
/// reported once, and never retried.
#[test]
fn long_names_are_answered_once() {
    let f = fx();
    let backend = Counting::new(&f);
    let driver = start_with(
        &f.root,
        Terminal::new(f.service()),
        backend.clone(),
        f.clock.clock(),
        DriverConfig {
            poll_interval: Duration::from_millis(10),
            ..Default::default()
        },
    )
    .unwrap();
    let res = f.root.join("res");
    for len in [245usize, 250, 255] {
        let id = "x".repeat(len - "OQSsiquc01req_".len() - ".xml".len());
        let name = format!("OQSsiquc01req_{id}.xml");
        assert_eq!(name.len(), len);
        drop_in(&f, &name, &f.request(&format!("long-{len}")));
        let r = parse_response(&wait_for(&res.join(format!("OQSsiquc01res_{id}.xml")))).unwrap();
        assert_eq!(r.header.segment_of_result, SegmentOfResult::Normal, "{len}");
    }
    // Unknown prefix, 250 bytes: onsim_unknown_<name> would be 264 bytes.
    let odd = format!("{}.xml", "y".repeat(246));
    drop_in(&f, &odd, &f.request("odd"));
    let short = sim::terminal::long_answer_name(&odd);
    let r = parse_response(&wait_for(&res.join(&short))).unwrap();
    assert_eq!(r.header.error_code, Some(ErrorCode::UnknownMessage));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        backend.asked(),
        3,
        "each known request asked once, no retries"
    );
    let failures = failures_for(&driver, &odd);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].contains("too long"), "{failures:?}");
    let left: Vec<_> = fs::read_dir(f.root.join("req"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "all consumed: {left:?}");
    driver.stop();
}
