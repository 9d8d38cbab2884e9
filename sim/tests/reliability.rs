//! Issue 14 (reliability and security): one test per defect of `onsim serve` and the
//! CLI, named after it, each driving the real binary. See `reports/reliability.md`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::ClientConnection;
use rustls::{HandshakeKind, StreamOwned};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{json, Value};

#[path = "support/serve.rs"]
mod serve;
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

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

fn request_xml(institution: &str, row: &[String]) -> String {
    let opt = |name: &str, v: &str| {
        if v.is_empty() {
            String::new()
        } else {
            format!("<{name}>{v}</{name}>")
        }
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<XmlMsg><MessageHeader><QualificationConfirmationDate>20250401</QualificationConfirmationDate><MedicalInstitutionCode>{institution}</MedicalInstitutionCode><ArbitraryFileIdentifier>rel-1</ArbitraryFileIdentifier><CharacterCodeIdentifier>0</CharacterCodeIdentifier></MessageHeader><MessageBody><QualificationConfirmSearchInfo><InsurerNumber>{}</InsurerNumber>{}<InsuredIdentificationNumber>{}</InsuredIdentificationNumber>{}<Birthdate>{}</Birthdate></QualificationConfirmSearchInfo></MessageBody></XmlMsg>\n",
        row[0],
        opt("InsuredCardSymbol", &row[1]),
        row[2],
        opt("InsuredBranchNumber", &row[3]),
        row[4],
    )
}

/// A terminal's TLS client for `pki/NAME.*`, limited to `version`; the same config
/// (and so the same session cache) is reused to resume.
fn tls_client(s: &Server, name: &str, version: &'static rustls::SupportedProtocolVersion) -> Arc<rustls::ClientConfig> {
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
    std::fs::rename(&tmp, term.join("req").join(format!("OQSsiquc01req_{name}.xml"))).unwrap();
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
        assert_eq!(b.conn.handshake_kind(), Some(HandshakeKind::Resumed), "{v:?}");
        drop(b);
        kept.push((v, a));
        cfgs.push((v, cfg));
    }

    spoil(&s);

    for (v, mut a) in kept {
        let r = post(&mut a, "/eligibility", body.as_bytes()).unwrap();
        assert_eq!(r.0, 403, "{v:?} kept-alive after: {r:?}");
        assert!(r.1.contains(&format!("\"refusal\": \"{refusal}\"")), "{r:?}");
        assert!(r.1.contains("client_certificate"), "{r:?}");
    }
    for (v, cfg) in &cfgs {
        let mut b = connect(addr, cfg).unwrap();
        assert_eq!(b.conn.handshake_kind(), Some(HandshakeKind::Resumed), "{v:?}");
        let r = post(&mut b, "/eligibility", body.as_bytes()).unwrap();
        assert_eq!(r.0, 403, "{v:?} resumed after: {r:?}");
        assert!(r.1.contains(&format!("\"refusal\": \"{refusal}\"")), "{r:?}");
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
