//! Issue 14 (reliability and security): one test per defect of `onsim serve` and the
//! CLI, named after it, each driving the real binary. See `reports/reliability.md`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::ClientConnection;
use rustls::{HandshakeKind, StreamOwned};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{json, Value};

#[path = "support/population.rs"]
mod population;
#[path = "support/serve.rs"]
mod serve;
use population::{csv_rows, request_xml};
use serve::Server;

fn server(extra: &[&str]) -> Server {
    Server::start(&[&["--start", "2025-04-01", "--households", "2000"], extra].concat())
}

/// A minimal HTTP/1.1 client for the plain JSON services; `body` is sent verbatim.
fn http_raw(method: &str, url: &str, body: &[u8]) -> (u16, Value) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let addr: SocketAddr = host.parse().unwrap();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    // The server may answer 413 before the whole body is sent.
    let _ = s.write_all(body);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let out = String::from_utf8_lossy(&out).into_owned();
    let status: u16 = out.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = out.find("\r\n\r\n").map(|i| &out[i + 4..]).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn http(method: &str, url: &str, body: &Value) -> (u16, Value) {
    http_raw(method, url, body.to_string().as_bytes())
}

/// A terminal's TLS client for `pki/NAME.*`, limited to `version`; the same config
/// (and so the same session cache) is reused to resume.
fn tls_client(
    s: &Server,
    name: &str,
    version: &'static rustls::SupportedProtocolVersion,
) -> Arc<rustls::ClientConfig> {
    let pki = s.state().join("pki");
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(pki.join("server-ca.crt")).unwrap())
        .unwrap();
    let cert = CertificateDer::from_pem_file(pki.join(format!("{name}.crt"))).unwrap();
    let key = PrivateKeyDer::from_pem_file(pki.join(format!("{name}.key"))).unwrap();
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(vec![cert], key)
        .unwrap(),
    )
}

type Tls = StreamOwned<ClientConnection, TcpStream>;

fn connect(addr: SocketAddr, cfg: &Arc<rustls::ClientConfig>) -> std::io::Result<Tls> {
    let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let conn = ClientConnection::new(cfg.clone(), ServerName::try_from("localhost").unwrap())
        .map_err(std::io::Error::other)?;
    let mut t = StreamOwned::new(conn, tcp);
    while t.conn.is_handshaking() {
        t.conn.complete_io(&mut t.sock)?;
    }
    Ok(t)
}

/// POST `body` on a kept-alive TLS connection; (status, body).
fn post(t: &mut Tls, path: &str, body: &[u8]) -> std::io::Result<(u16, String)> {
    write!(
        t,
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )?;
    t.write_all(body)?;
    t.flush()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                let status = head[9..12].parse().unwrap();
                let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).into_owned();
                return Ok((status, body));
            }
        }
        let n = t.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "closed before an answer",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn wait_for(path: &Path, within: Duration) -> String {
    let t = Instant::now();
    while !path.exists() {
        assert!(t.elapsed() < within, "no {}", path.display());
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(50));
    String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned()
}

/// Drop a request into the file drop (write, then rename) and wait for its answer.
fn file_drop(s: &Server, name: &str, xml: &str) -> String {
    let term = PathBuf::from(s.url("terminal_dir"));
    let tmp = term.join("req").join(format!(".tmp-{name}"));
    std::fs::write(&tmp, xml).unwrap();
    std::fs::rename(
        &tmp,
        term.join("req").join(format!("OQSsiquc01req_{name}.xml")),
    )
    .unwrap();
    wait_for(
        &term.join("res").join(format!("OQSsiquc01res_{name}.xml")),
        Duration::from_secs(30),
    )
}

/// Sessions and kept-alive connections opened with `valid` while it is good, then
/// `spoil` (clock past notAfter, or a revocation): the next request on the kept-alive
/// connection and on a resumed session is refused, as a fresh handshake is; the file
/// drop then answers 5001.
fn certificate_judged_on_every_request(spoil: impl Fn(&Server), refusal: &str) {
    let s = server(&[]);
    let addr: SocketAddr = s.url("eligibility_url")["https://".len()..]
        .trim_end_matches("/eligibility")
        .parse()
        .unwrap();
    let rows = csv_rows(&s.state().join("population.csv"));
    let institution = s.url("institution_code");
    let body = request_xml(&institution, &rows[0]);
    let answered = |r: &(u16, String)| r.0 == 200 && r.1.contains("<QualificationValidity>");

    // Before the change: the file drop answers normally.
    let before = file_drop(&s, "before", &body);
    assert!(before.contains("<QualificationValidity>"), "{before}");

    let mut kept = Vec::new();
    let mut cfgs = Vec::new();
    for v in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let cfg = tls_client(&s, "valid", v);
        // A kept-alive connection (full handshake), answered.
        let mut a = connect(addr, &cfg).unwrap();
        assert_eq!(a.conn.handshake_kind(), Some(HandshakeKind::Full));
        let r = post(&mut a, "/eligibility", body.as_bytes()).unwrap();
        assert!(answered(&r), "{v:?} before: {r:?}");
        // A second connection resumes the session, and is answered too.
        let mut b = connect(addr, &cfg).unwrap();
        let r = post(&mut b, "/eligibility", body.as_bytes()).unwrap();
        assert!(answered(&r), "{v:?} resumed, before: {r:?}");
        assert_eq!(
            b.conn.handshake_kind(),
            Some(HandshakeKind::Resumed),
            "{v:?}"
        );
        drop(b);
        kept.push((v, a));
        cfgs.push((v, cfg));
    }

    spoil(&s);

    for (v, mut a) in kept {
        let r = post(&mut a, "/eligibility", body.as_bytes()).unwrap();
        assert_eq!(r.0, 403, "{v:?} kept-alive after: {r:?}");
        assert!(
            r.1.contains(&format!("\"refusal\": \"{refusal}\"")),
            "{r:?}"
        );
        assert!(r.1.contains("client_certificate"), "{r:?}");
    }
    for (v, cfg) in &cfgs {
        let mut b = connect(addr, cfg).unwrap();
        assert_eq!(
            b.conn.handshake_kind(),
            Some(HandshakeKind::Resumed),
            "{v:?}"
        );
        let r = post(&mut b, "/eligibility", body.as_bytes()).unwrap();
        assert_eq!(r.0, 403, "{v:?} resumed after: {r:?}");
        assert!(
            r.1.contains(&format!("\"refusal\": \"{refusal}\"")),
            "{r:?}"
        );
        // A fresh handshake is refused at the handshake.
        let fresh = tls_client(&s, "valid", v);
        let refused = match connect(addr, &fresh) {
            Err(_) => true,
            Ok(mut t) => post(&mut t, "/eligibility", body.as_bytes()).is_err(),
        };
        assert!(refused, "{v:?} fresh handshake after");
    }
    // The file drop's own terminal (which resumes its sessions) now answers 5001.
    let after = file_drop(&s, "after", &body);
    assert!(after.contains("5001"), "{after}");
    assert!(
        s.log_has(&format!("refusal=\"{refusal}\"")),
        "{}",
        s.log.lock().unwrap()
    );
    s.stop();
}

#[test]
fn defect_01_resumed_session_with_expired_cert_is_refused() {
    certificate_judged_on_every_request(
        |s| {
            let (st, v) = http(
                "POST",
                &format!("{}/clock/advance", s.url("control_url")),
                &json!({"to": "2029-01-01"}),
            );
            assert_eq!(st, 200, "{v}");
        },
        "expired",
    );
}

#[test]
fn defect_01_resumed_session_with_revoked_cert_is_refused() {
    certificate_judged_on_every_request(
        |s| {
            let (st, v) = http(
                "POST",
                &format!("{}/pki/revocations", s.url("control_url")),
                &json!({"credential": "valid"}),
            );
            assert_eq!(st, 200, "{v}");
            assert!(v["crl_pem"].as_str().unwrap().contains("BEGIN X509 CRL"));
            let (st, v) = http(
                "POST",
                &format!("{}/pki/revocations", s.url("control_url")),
                &json!({"credential": "nobody"}),
            );
            assert_eq!((st, v["field"].as_str()), (422, Some("credential")), "{v}");
        },
        "revoked",
    );
}

/// `onsim ARGS` with a deadline: (exit code, stderr). A command that blocks fails.
fn onsim(args: &[&str], cwd: Option<&Path>) -> (i32, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_onsim"));
    c.args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    if let Some(d) = cwd {
        c.current_dir(d);
    }
    let mut child = c.spawn().unwrap();
    let t = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (st.code().unwrap_or(-1), err);
        }
        if t.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("onsim {args:?} did not end within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[cfg(unix)]
fn mkfifo(p: &Path) {
    let st = Command::new("mkfifo").arg(p).status().unwrap();
    assert!(st.success());
}

/// Resident memory of a process, in KiB (Linux).
fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The bound the test holds `onsim serve` to, and `reports/reliability.md` states.
const RSS_GROWTH_BOUND_MIB: u64 = 300;

#[test]
fn defect_07_memory_stays_bounded_under_100_concurrent_maximal_requests() {
    let s = server(&[]);
    let pid = s.child.id();
    let control = s.url("control_url");
    let addr: SocketAddr = s.url("eligibility_url")["https://".len()..]
        .trim_end_matches("/eligibility")
        .parse()
        .unwrap();
    let before = rss_kib(pid);
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(before));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid), std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    // Each bulk upload at its route's limit (8 MiB): whitespace inside a valid shell.
    let institution = s.url("institution_code");
    let shell = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><XmlMsg><MessageHeader><MedicalInstitutionCode>{institution}</MedicalInstitutionCode></MessageHeader><MessageBody>");
    let tail = "</MessageBody></XmlMsg>";
    let mut bulk = shell.into_bytes();
    bulk.resize((8 << 20) - tail.len(), b' ');
    bulk.extend_from_slice(tail.as_bytes());
    assert_eq!(bulk.len(), 8 << 20);
    let bulk = Arc::new(bulk);
    let cfg = tls_client(&s, "valid", &rustls::version::TLS13);
    let t0 = Instant::now();
    let mut threads = Vec::new();
    for i in 0..100 {
        let (bulk, cfg, control) = (bulk.clone(), cfg.clone(), control.clone());
        threads.push(std::thread::spawn(move || -> u16 {
            if i % 2 == 0 {
                let mut t = connect(addr, &cfg).unwrap();
                t.sock
                    .set_read_timeout(Some(Duration::from_secs(120)))
                    .unwrap();
                post(&mut t, "/eligibility/OQSmuquc01", &bulk).unwrap().0
            } else {
                // A JSON route at its limit (16 KiB) with an unknown padding field.
                let pad = "x".repeat(16 * 1024 - 64);
                http(
                    "POST",
                    &format!("{control}/clock/speed"),
                    &json!({"speed": 0, "pad": pad}),
                )
                .0
            }
        }));
    }
    let statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let took = t0.elapsed();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    sampler.join().unwrap();
    // Bulk: answered (abnormal XmlMsg, 200); JSON: refused naming the field (422).
    for (i, st) in statuses.iter().enumerate() {
        let want = if i % 2 == 0 { 200 } else { 422 };
        assert_eq!(*st, want, "request {i}");
    }
    // Over the limit: 413 at once, from the declared length.
    let (st, v) = http_raw(
        "POST",
        &format!("{control}/clock/speed"),
        &vec![b' '; 17 << 20],
    );
    assert_eq!(st, 413, "{v}");
    let peak = peak.load(std::sync::atomic::Ordering::Relaxed);
    let growth_mib = peak.saturating_sub(before) / 1024;
    eprintln!(
        "defect_07: RSS {} MiB before, peak {} MiB, growth {growth_mib} MiB; 100 requests in {took:?}",
        before / 1024,
        peak / 1024
    );
    assert!(
        growth_mib < RSS_GROWTH_BOUND_MIB,
        "RSS grew {growth_mib} MiB (bound {RSS_GROWTH_BOUND_MIB} MiB)"
    );
    // Bounded lists: 367 outage windows are refused, naming the field.
    let outages: Vec<Value> = (0..367)
        .map(|_| json!({"from": "2025-05-01", "to": "2025-05-01"}))
        .collect();
    let (st, v) = http(
        "PUT",
        &s.url("carrier_faults_url"),
        &json!({"outages": outages}),
    );
    assert_eq!((st, v["field"].as_str()), (422, Some("outages")), "{v}");
    s.stop();
}

#[test]
fn defect_08_sweep_that_cannot_finish_is_refused() {
    let root = repo_root();
    let (code, err) = onsim(
        &[
            "sweep",
            "scenarios/sweeps/r2024-standard.toml",
            "--runs",
            "1000000000000000",
        ],
        Some(&root),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--max-runs 1000000000"), "{err}");
    // The limit is configurable; a small sweep under a small limit runs.
    let (code, err) = onsim(
        &[
            "sweep",
            "scenarios/sweeps/r2024-standard.toml",
            "--runs",
            "20",
            "--max-runs",
            "10",
        ],
        Some(&root),
    );
    assert_eq!(code, 2, "{err}");
    let (code, err) = onsim(
        &[
            "sweep",
            "scenarios/sweeps/r2024-standard.toml",
            "--runs",
            "20",
            "--max-runs",
            "20",
        ],
        Some(&root),
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn defect_09_second_serve_on_a_state_dir_in_use_is_refused() {
    let s = server(&[]);
    let ep = s.state().join("endpoints.json");
    let key = s.state().join("pki/valid.key");
    let (ep_before, key_before) = (std::fs::read(&ep).unwrap(), std::fs::read(&key).unwrap());
    let (code, err) = onsim(
        &[
            "serve",
            "--state-dir",
            s.state().to_str().unwrap(),
            "--seed",
            "9",
        ],
        None,
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!("in use by pid {}", s.child.id())),
        "{err}"
    );
    assert_eq!(std::fs::read(&ep).unwrap(), ep_before);
    assert_eq!(std::fs::read(&key).unwrap(), key_before);
    s.stop();
}

#[test]
fn defect_10_idle_clients_cannot_starve_the_terminal_of_carrier_slots() {
    let s = server(&[]);
    let proxy: SocketAddr = s.url("carrier_proxy").parse().unwrap();
    // More idle connections than the published port has slots.
    let idle: Vec<TcpStream> = (0..300)
        .filter_map(|_| TcpStream::connect_timeout(&proxy, Duration::from_secs(2)).ok())
        .collect();
    assert!(idle.len() >= 256, "{}", idle.len());
    let rows = csv_rows(&s.state().join("population.csv"));
    let answer = file_drop(
        &s,
        "starved",
        &request_xml(&s.url("institution_code"), &rows[0]),
    );
    assert!(
        answer.contains("<QualificationValidity>1</QualificationValidity>"),
        "{answer}"
    );
    // The idle ones are closed within seconds, giving their slots back.
    let t = Instant::now();
    let mut first = idle.into_iter().next().unwrap();
    first
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut b = [0u8; 1];
    let n = first.read(&mut b).unwrap_or(0);
    assert_eq!(n, 0);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    s.stop();
}

#[test]
fn defect_11_bad_json_input_is_a_4xx_naming_the_field_never_a_500() {
    let s = server(&[]);
    let control = s.url("control_url");
    let (st, v) = http(
        "POST",
        &format!("{control}/cards"),
        &json!({"issued": "9999-12-31"}),
    );
    assert_eq!((st, v["field"].as_str()), (422, Some("issued")), "{v}");
    let (st, v) = http(
        "POST",
        &format!("{control}/cards"),
        &json!({"issued": "1900-01-01"}),
    );
    assert_eq!((st, v["field"].as_str()), (422, Some("issued")), "{v}");
    let (st, v) = http(
        "POST",
        &format!("{control}/cards"),
        &json!({"validity": 1, "colour": "red"}),
    );
    assert_eq!((st, v["field"].as_str()), (422, Some("colour")), "{v}");
    let (st, v) = http(
        "POST",
        &format!("{control}/cards"),
        &json!({"validity": "one"}),
    );
    assert_eq!((st, v["field"].as_str()), (422, Some("validity")), "{v}");
    // Every JSON route, with bodies a fuzzer would try: never a 5xx.
    let bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"{".to_vec(),
        b"\xff\xfe".to_vec(),
        br#"{"to": "+99999-01-01"}"#.to_vec(),
        br#"{"date": "9999-12-31", "issued": "9999-12-31", "validity": 99}"#.to_vec(),
        br#"{"minutes": -1, "speed": 1e308, "fee_table": 7}"#.to_vec(),
        br#"{"message": "system-order", "installation": "9999-99-99"}"#.to_vec(),
        br#"{"outages": [{"from": "2025-01-02", "to": "2025-01-01"}]}"#.to_vec(),
        br#"{"credential": 1}"#.to_vec(),
        br#"{"reception_number": "x", "line_type": 3, "terminal": ""}"#.to_vec(),
    ];
    let routes = [
        ("control_url", "POST", "/clock/advance"),
        ("control_url", "POST", "/clock/speed"),
        ("control_url", "PUT", "/carrier/faults"),
        ("control_url", "POST", "/clinic/messages"),
        ("control_url", "POST", "/cards"),
        ("control_url", "POST", "/pki/revocations"),
        ("bureau_url", "POST", "/reception-requests"),
        ("bureau_url", "POST", "/designation-applications"),
        ("reader_vendor_url", "POST", "/orders"),
        ("carrier_url", "POST", "/line-orders"),
        ("carrier_url", "PUT", "/faults"),
        ("portal_url", "POST", "/reception-numbers"),
        ("portal_url", "POST", "/usage-applications"),
        ("portal_url", "POST", "/certificate-applications"),
        ("portal_url", "PUT", "/operation-start"),
    ];
    let mut tried = 0;
    for (svc, method, path) in routes {
        for b in &bodies {
            let (st, v) = http_raw(method, &format!("{}{path}", s.url(svc)), b);
            assert!(
                st != 0 && st < 500,
                "{method} {svc}{path} {:?} → {st} {v}",
                String::from_utf8_lossy(b)
            );
            tried += 1;
        }
    }
    eprintln!("defect_11: {tried} bad bodies, no 5xx");
    s.stop();
}

#[cfg(unix)]
#[test]
fn defect_12_pki_symlink_to_a_user_folder_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let user = t.path().join("mine");
    std::fs::create_dir_all(&user).unwrap();
    std::fs::write(user.join("valid.key"), "my own key").unwrap();
    let state = t.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::os::unix::fs::symlink(&user, state.join("pki")).unwrap();
    let (code, err) = onsim(&["serve", "--state-dir", state.to_str().unwrap()], None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(
        std::fs::read_to_string(user.join("valid.key")).unwrap(),
        "my own key"
    );
}

#[cfg(unix)]
#[test]
fn defect_15_16_validate_published_and_merge_refuse_fifos_and_devices() {
    let t = tempfile::tempdir().unwrap();
    let fifo = t.path().join("pipe");
    mkfifo(&fifo);
    let fifo = fifo.to_str().unwrap();
    for (args, what) in [
        (vec!["validate", "/dev/zero"], "character device"),
        (vec!["validate", fifo], "FIFO"),
        (
            vec![
                "schedule",
                "--designation",
                "2025-07-01",
                "--rules",
                "r2024",
                "--published",
                "/dev/zero",
            ],
            "character device",
        ),
        (
            vec![
                "schedule",
                "--designation",
                "2025-07-01",
                "--rules",
                "r2024",
                "--published",
                fifo,
            ],
            "FIFO",
        ),
        (vec!["merge", fifo], "FIFO"),
        (vec!["merge", "/dev/zero"], "character device"),
        (
            vec!["sweep", "/dev/zero", "--runs", "1"],
            "character device",
        ),
    ] {
        let (code, err) = onsim(&args, None);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains(what) && err.contains("not a regular file"),
            "{args:?}: {err}"
        );
    }
    // Larger than the limit: refused naming it.
    let big = t.path().join("big.csv");
    std::fs::write(&big, vec![b'a'; (1 << 20) + 1]).unwrap();
    let (code, err) = onsim(
        &[
            "schedule",
            "--designation",
            "2025-07-01",
            "--rules",
            "r2024",
            "--published",
            big.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the limit is 1048576 bytes"), "{err}");
}

#[test]
fn defect_17_published_row_out_of_range_names_file_line_column() {
    let t = tempfile::tempdir().unwrap();
    let f = t.path().join("table.csv");
    std::fs::write(
        &f,
        "designation,bureau_answer_dispatch,implementing_body_deadline\n2025-07-01,2025-06-10,2025-06-13\n+99999-06-01,2025-06-10,2025-06-13\n",
    )
    .unwrap();
    let (code, err) = onsim(
        &[
            "schedule",
            "--designation",
            "2025-07-01",
            "--rules",
            "r2024",
            "--published",
            f.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("{}:3:1:", f.display())), "{err}");
    std::fs::write(
        &f,
        b"designation,bureau_answer_dispatch,implementing_body_deadline\n2025-07-01,\xff\n",
    )
    .unwrap();
    let (code, err) = onsim(
        &[
            "schedule",
            "--designation",
            "2025-07-01",
            "--rules",
            "r2024",
            "--published",
            f.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("{}:2:12:", f.display())), "{err}");
}

/// Issue 13 item 3: a card presented at the simulated reader ends in `face/`.
#[test]
fn reader_present_writes_face_files_for_every_outcome() {
    let s = server(&[]);
    let url = s.url("reader_present_url");
    let face = PathBuf::from(s.url("terminal_dir")).join("face");
    let decode = |p: &str| {
        let b = std::fs::read(p).unwrap();
        encoding_rs::SHIFT_JIS.decode(&b).0.into_owned()
    };
    let name_ok = |p: &str| {
        let n = Path::new(p).file_name().unwrap().to_str().unwrap();
        assert!(
            fakes::eligibility::terminal::is_face_file_name(n),
            "{n} should pass OQSsiquc01res_face_.+_(\\d{{14}})\\.xml"
        );
    };
    // Refused cards: a normal header, ProcessingResultStatus 2 and the refusal's code
    // (fakes::eligibility::card_refusal).
    for (outcome, method, code, refusal) in [
        ("face-ok", Some("face"), None, None),
        ("face-mismatch-pin-ok", Some("pin"), None, None),
        ("card-expired", Some("face"), Some("C001"), Some("expired")),
        ("card-revoked", Some("face"), Some("C003"), Some("revoked")),
        ("pin-locked", None, Some("C002"), Some("pin-locked")),
    ] {
        let (st, v) = http("POST", &url, &json!({"row": 0, "outcome": outcome}));
        assert_eq!(st, 200, "{outcome}: {v}");
        assert_eq!(v["method"].as_str(), method, "{outcome}: {v}");
        assert_eq!(v["refusal"].as_str(), refusal, "{outcome}: {v}");
        let path = v["face_file"].as_str().unwrap();
        assert!(Path::new(path).starts_with(&face), "{path}");
        name_ok(path);
        let text = decode(path);
        assert!(
            text.contains("<SegmentOfResult>1</SegmentOfResult>"),
            "{outcome}: {text}"
        );
        assert!(
            text.contains("<ReferenceClassification>1</ReferenceClassification>"),
            "{outcome}: {text}"
        );
        match code {
            None => assert!(
                text.contains("<QualificationValidity>1</QualificationValidity>"),
                "{outcome}: {text}"
            ),
            Some(c) => assert!(
                text.contains(&format!("<ProcessingResultCode>{c}</ProcessingResultCode>"))
                    && text.contains("<ProcessingResultStatus>2</ProcessingResultStatus>"),
                "{outcome}: {text}"
            ),
        }
    }
    // Bad input: a 4xx naming the field.
    for (body, field) in [
        (json!({"row": -1}), "row"),
        (json!({"row": 100000}), "row"),
        (json!({"row": 0, "outcome": "smile"}), "outcome"),
        (json!({"row": 0, "colour": 1}), "colour"),
        (json!({}), "row"),
    ] {
        let (st, v) = http("POST", &url, &body);
        assert!((400..500).contains(&st), "{body}: {st} {v}");
        assert_eq!(v["field"].as_str(), Some(field), "{body}: {v}");
    }
    s.stop();
}
