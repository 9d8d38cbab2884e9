//! `onsim serve` as a child process, driven by real clients: curl (Debian `curl`)
//! against the mutual-TLS matrix, and plain HTTP for the bureau and portal flows.
//! Everything on loopback; every wait is bounded.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[path = "support/population.rs"]
mod population;
#[path = "support/serve.rs"]
mod serve;
use population::{csv_rows, request_xml};
use serve::{http, Server};

/// `onsim serve` as these tests run it: virtual start 2025-04-01, 2,000 households.
fn server(extra: &[&str]) -> Server {
    Server::start(&[&["--start", "2025-04-01", "--households", "2000"], extra].concat())
}

/// curl with one credential; (exit code, stdout, stderr).
fn curl(s: &Server, name: &str, url: &str, body: &Path) -> (i32, String, String) {
    let pki = s.state().join("pki");
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(pki.join("server-ca.crt"))
        .arg("--cert")
        .arg(pki.join(format!("{name}.crt")))
        .arg("--key")
        .arg(pki.join(format!("{name}.key")))
        .args(["-H", "Content-Type: application/xml", "--data-binary"])
        .arg(format!("@{}", body.display()))
        .arg("-w")
        .arg("\nHTTP %{http_code}")
        .arg(url)
        .output()
        .expect("curl is installed (scripts/install-deps)");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn curl_mtls_matrix() {
    let s = server(&[]);
    let state = s.state();
    for f in [
        "server-ca.crt",
        "valid.crt",
        "valid.key",
        "expired.crt",
        "not-yet-valid.key",
        "revoked.crt",
        "wrong-ca.crt",
        "other-institution.key",
    ] {
        assert!(state.join("pki").join(f).is_file(), "pki/{f}");
    }
    for d in ["req", "res", "face"] {
        assert!(
            Path::new(&s.url("terminal_dir")).join(d).is_dir(),
            "terminal/{d}"
        );
    }
    let rows = csv_rows(&state.join("population.csv"));
    assert!(rows.len() > 20);
    let institution = s.url("institution_code");
    let body = s.dir.path().join("req.xml");
    let url = s.url("eligibility_url");

    // valid: an answer for every outcome the CSV promises (1-5).
    let mut seen = std::collections::BTreeSet::new();
    for row in rows.iter().take(5) {
        std::fs::write(&body, request_xml(&institution, row)).unwrap();
        let (code, out, err) = curl(&s, "valid", &url, &body);
        assert_eq!(code, 0, "valid: curl failed: {err}");
        assert!(out.contains("HTTP 200"), "{out}");
        let want = format!("<QualificationValidity>{}</QualificationValidity>", row[5]);
        assert!(
            out.contains(&want),
            "row {row:?} should give {want}:\n{out}"
        );
        seen.insert(row[5].clone());
    }
    assert_eq!(seen.len(), 5, "examples cover validity 1-5");

    // The other five are refused, each for its own reason in the server log.
    std::fs::write(&body, request_xml(&institution, &rows[0])).unwrap();
    for (name, reason) in [
        ("expired", "refusal=\"expired\""),
        ("not-yet-valid", "refusal=\"not-yet-valid\""),
        ("revoked", "refusal=\"revoked\""),
        ("wrong-ca", "refusal=\"unknown-ca\""),
        ("other-institution", "refusal=\"other-institution\""),
    ] {
        let (code, out, err) = curl(&s, name, &url, &body);
        let refused = code != 0 || out.contains("HTTP 403");
        assert!(refused, "{name} must be refused: exit {code}, {out} {err}");
        assert!(
            !out.contains("<QualificationValidity>"),
            "{name} got an answer"
        );
        assert!(
            s.log_has(reason),
            "{name}: the log should say {reason}:\n{}",
            s.log.lock().unwrap()
        );
    }

    // The file drop on the same clock: a Shift_JIS request for a CSV row gets the
    // outcome the row says, written atomically into res/.
    let term = PathBuf::from(s.url("terminal_dir"));
    for (i, row) in rows.iter().take(5).enumerate() {
        let xml = request_xml(&institution, row)
            .replace("encoding=\"UTF-8\"", "encoding=\"Shift_JIS\"")
            .replace("<CharacterCodeIdentifier>0</CharacterCodeIdentifier>", "");
        let tmp = term.join("req").join(format!(".tmp-{i}"));
        std::fs::write(&tmp, xml).unwrap();
        std::fs::rename(
            &tmp,
            term.join("req").join(format!("OQSsiquc01req_live{i}.xml")),
        )
        .unwrap();
    }
    for (i, row) in rows.iter().take(5).enumerate() {
        let res = term.join("res").join(format!("OQSsiquc01res_live{i}.xml"));
        let t = Instant::now();
        while !res.exists() {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "no {}",
                res.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let text = String::from_utf8_lossy(&std::fs::read(&res).unwrap()).into_owned();
        let want = format!("<QualificationValidity>{}</QualificationValidity>", row[5]);
        assert!(text.contains(&want), "file drop, row {i}: {want}\n{text}");
    }

    // Malformed XML: an abnormal answer (SegmentOfResult 9), the service stays up.
    std::fs::write(&body, "<XmlMsg><broken").unwrap();
    let (code, out, _) = curl(&s, "valid", &url, &body);
    assert_eq!(code, 0);
    assert!(
        out.contains("<SegmentOfResult>9</SegmentOfResult>"),
        "{out}"
    );

    // Through the carrier proxy: same answer; with the line unplugged, refused.
    std::fs::write(&body, request_xml(&institution, &rows[0])).unwrap();
    let via = s.url("eligibility_via_carrier_url");
    let (code, out, err) = curl(&s, "valid", &via, &body);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("<QualificationValidity>1</QualificationValidity>"),
        "{out}"
    );
    let (st, _) = http(
        "PUT",
        &s.url("carrier_faults_url"),
        Some(&json!({"mode": "reset"})),
    );
    assert_eq!(st, 200);
    let (code, _, _) = curl(&s, "valid", &via, &body);
    assert_ne!(code, 0, "reset by the carrier");
    let (st, v) = http(
        "PUT",
        &s.url("carrier_faults_url"),
        Some(&json!({"latency_ms": "lots"})),
    );
    assert_eq!(st, 422, "{v}");

    let log = s.stop();
    assert!(
        log.contains("shutting down"),
        "clean shutdown on SIGTERM:\n{log}"
    );
}

fn inbox(s: &Server, since: u64) -> Vec<Value> {
    let (st, v) = http(
        "GET",
        &format!("{}?since={since}", s.url("inbox_url")),
        None,
    );
    assert_eq!(st, 200);
    v["messages"].as_array().cloned().unwrap_or_default()
}

fn advance_to(s: &Server, to: &str) -> Value {
    let url = format!("{}/advance", s.url("clock_url"));
    let (st, v) = http("POST", &url, Some(&json!({"to": to})));
    assert_eq!(st, 200, "{v}");
    v
}

#[test]
fn bureau_and_portal_flow() {
    // Designation 2025-07-01 under r2024: request deadline about two months before,
    // answer by the 10th of May (next open day), number due by 15 May.
    let s = server(&["--designation", "2025-07-01"]);
    let (st, clock) = http("GET", &s.url("clock_url"), None);
    assert_eq!(st, 200);
    assert_eq!(clock["now"], "2025-04-01T09:00");
    let (_, dl) = http("GET", &s.url("deadlines_url"), None);
    let request_deadline = dl["reception_request_deadline"]
        .as_str()
        .unwrap()
        .to_string();
    let dispatch = dl["bureau_answer_dispatch"].as_str().unwrap().to_string();
    let ib_deadline = dl["implementing_body_deadline"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(ib_deadline, "2025-05-15");

    // Bad input: 4xx naming the field, never a crash.
    let bureau = s.url("bureau_url");
    let (st, v) = http(
        "POST",
        &format!("{bureau}/reception-requests"),
        Some(&json!({"fee_table": "vet"})),
    );
    assert_eq!((st, v["field"].as_str()), (422, Some("fee_table")), "{v}");
    let (st, _) = http("POST", &format!("{bureau}/nowhere"), None);
    assert_eq!(st, 404);

    // Before the deadline: accepted, answered once the clock reaches the answer.
    let (st, v) = http(
        "POST",
        &format!("{bureau}/reception-requests"),
        Some(&json!({"fee_table": "medical"})),
    );
    assert_eq!(st, 202, "{v}");
    assert!(inbox(&s, 0).is_empty(), "nothing before its time");
    advance_to(&s, &format!("{dispatch}T09:00"));
    let _ = advance_to(&s, &format!("{}T23:00", chrono_add(&dispatch, 3)));
    let msgs = inbox(&s, 0);
    let answer = msgs
        .iter()
        .find(|m| m["kind"] == "reception-answer")
        .unwrap_or_else(|| panic!("{msgs:?}"));
    let number = answer["body"]["reception_number"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        number,
        s.url("institution_code"),
        "the bureau's first number is the clinic's code"
    );
    let seen = answer["seq"].as_u64().unwrap();

    // After the request deadline: returned (返戻).
    let late = chrono_add(&ib_deadline, 1);
    assert!(request_deadline < late, "{request_deadline}");
    advance_to(&s, &format!("{late}T09:00"));
    let before = seen;
    let (st, _) = http(
        "POST",
        &format!("{bureau}/reception-requests"),
        Some(&json!({"fee_table": "medical"})),
    );
    assert_eq!(st, 202);
    // A designation application with fields missing gets a correction request listing them.
    let (st, v) = http(
        "POST",
        &format!("{bureau}/designation-applications"),
        Some(&json!({"account_created": true, "reader": {"status": "contracted"}})),
    );
    assert_eq!(st, 202);
    assert_eq!(v["complete"], false);

    // Portal: the usage application before an account exists is a conflict.
    let portal = s.url("portal_url");
    let (st, v) = http(
        "POST",
        &format!("{portal}/usage-applications"),
        Some(&json!({"line_type": "ip-vpn"})),
    );
    assert_eq!(st, 409, "{v}");
    // The reception number submitted after the 15th registers for the next month.
    let (st, v) = http(
        "POST",
        &format!("{portal}/reception-numbers"),
        Some(&json!({"reception_number": number})),
    );
    assert_eq!(st, 202, "{v}");
    let (st, v) = http(
        "POST",
        &format!("{portal}/reception-numbers"),
        Some(&json!({"reception_number": "12"})),
    );
    assert_eq!((st, v["field"].as_str()), (422, Some("reception_number")));
    advance_to(&s, "2025-06-10T09:00");
    let msgs = inbox(&s, before);
    assert!(
        msgs.iter().any(|m| m["kind"] == "request-returned"),
        "{msgs:?}"
    );
    let ready = msgs
        .iter()
        .find(|m| m["kind"] == "account-ready")
        .unwrap_or_else(|| panic!("{msgs:?}"));
    assert_eq!(
        ready["body"]["registered_for"], "2025-08-01",
        "late: next month"
    );
    let corr = msgs
        .iter()
        .find(|m| m["kind"] == "correction-request")
        .unwrap_or_else(|| panic!("{msgs:?}"));
    let fields: Vec<&str> = corr["body"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        // 001 別紙2: ① facility missing, ⑤ contracted without its month, ⑬ missing.
        fields.contains(&"facility")
            && fields.contains(&"reader")
            && fields.contains(&"care_start"),
        "{fields:?}"
    );

    // Now the account is usable, but the certificate screen comes only after the usage
    // application (guide 3-4 "利用申請」完了後に電子証明書の発行画面へ").
    let (st, v) = http(
        "POST",
        &format!("{portal}/certificate-applications"),
        Some(&json!({"fee_table": "medical", "terminal": "T1"})),
    );
    assert_eq!(
        (st, v["field"].as_str()),
        (409, Some("usage_application")),
        "{v}"
    );
    let (st, v) = http(
        "POST",
        &format!("{portal}/usage-applications"),
        Some(&json!({"line_type": "ip-vpn"})),
    );
    assert_eq!(st, 202, "{v}");
    // Certificate application → a real certificate.
    let (st, v) = http(
        "POST",
        &format!("{portal}/certificate-applications"),
        Some(&json!({"fee_table": "medical", "terminal": "T1"})),
    );
    assert_eq!(st, 202, "{v}");
    advance_to(&s, "2025-06-30T09:00");
    let (_, certs) = http("GET", &format!("{portal}/certificates"), None);
    let c = &certs["certificates"][0];
    assert_eq!(c["institution_code"], number.as_str());
    assert!(c["certificate_pem"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN CERTIFICATE-----"));

    let (_, trace) = http("GET", &s.url("trace_url"), None);
    let kinds: Vec<&str> = trace["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    for k in [
        "reception-request-received",
        "bureau-answer-dispatched",
        "request-returned",
        "reception-number-late",
        "certificate-issued",
    ] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    s.stop();
}

fn chrono_add(date: &str, days: i64) -> String {
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
    (d + chrono::Duration::days(days)).to_string()
}

#[test]
fn state_dir_with_foreign_files_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("my-notes.txt"), "mine").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_onsim"))
        .args(["serve", "--state-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("my-notes.txt"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("my-notes.txt")).unwrap(),
        "mine"
    );
}

/// Loopback latency of a full mutual-TLS handshake plus one single inquiry, direct
/// and through the carrier proxy with no fault, interleaved; prints medians.
/// `cargo test -p sim --test live --release -- --ignored --nocapture measure`
#[test]
#[ignore]
fn measure_latency() {
    use sim::live::{self, tls, LiveConfig};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let start = chrono::NaiveDate::from_ymd_opt(2025, 4, 1).unwrap();
        let running = live::start(&LiveConfig {
            start,
            speed: 0.0,
            seed: 1,
            rules: fakes::schedule::RuleSet::R2024,
            designation: chrono::NaiveDate::from_ymd_opt(2025, 7, 1).unwrap(),
            port_base: 0,
            households: 2000,
            terminal_dir: None,
            terminal_timeout: std::time::Duration::from_secs(10),
            institution: live::clinic_institution(),
        })
        .await
        .unwrap();
        let pki = running.app.pki.clone();
        let valid = &pki.matrix[0].1;
        let cfg = Arc::new(tls::client_config(pki.server_ca.cert_der(), &valid.der, &valid.key.pkcs8).unwrap());
        let csv = live::population::csv(running.app.desk.population(), start);
        let row: Vec<String> = csv.lines().nth(1).unwrap().split(',').map(str::to_string).collect();
        let body = request_xml(&pki.institution.to_string(), &row);
        let req = format!(
            "POST /eligibility HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let one = |addr: SocketAddr| {
            let cfg = cfg.clone();
            let req = req.clone();
            async move {
                let t = Instant::now();
                let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
                let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
                let mut s = tokio_rustls::TlsConnector::from(cfg).connect(name, tcp).await.unwrap();
                s.write_all(req.as_bytes()).await.unwrap();
                let mut out = Vec::new();
                let _ = s.read_to_end(&mut out).await;
                assert!(String::from_utf8_lossy(&out).contains("QualificationValidity"));
                t.elapsed()
            }
        };
        let (mut direct, mut proxied) = (Vec::new(), Vec::new());
        for _ in 0..20 {
            one(running.addrs.eligibility).await;
        }
        for _ in 0..300 {
            direct.push(one(running.addrs.eligibility).await);
            proxied.push(one(running.addrs.proxy).await);
        }
        let p = |v: &mut Vec<Duration>, q: f64| {
            v.sort();
            v[((v.len() as f64 - 1.0) * q) as usize]
        };
        let (d50, d90, x50, x90) = (p(&mut direct, 0.5), p(&mut direct, 0.9), p(&mut proxied, 0.5), p(&mut proxied, 0.9));
        println!("mTLS handshake + single inquiry, 300 each, interleaved:");
        println!("  direct : p50 {d50:?}  p90 {d90:?}");
        println!("  proxy  : p50 {x50:?}  p90 {x90:?}  (overhead p50 {:?})", x50.saturating_sub(d50));
        running.stop().await;
    });
}

/// `onsim run --live` reaches the timeline's verdicts: happy-path scenarios, a
/// returned request and a late submission, through the live services.
#[test]
fn run_live_matches_timeline() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let files = [
        "scenarios/happy/r2024-medical-tokyo.toml",
        "scenarios/happy/r2024-medical-osaka-ipsec.toml",
        "scenarios/happy/r2024-medical-hokkaido.toml",
        "scenarios/bureau/late-request-returned.toml",
        "scenarios/bureau/late-reception-submission.toml",
    ];
    let out = Command::new(env!("CARGO_BIN_EXE_onsim"))
        .current_dir(&root)
        .args(["run", "--live"])
        .args(files)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in files {
        let line = text
            .lines()
            .find(|l| l.contains(f))
            .unwrap_or_else(|| panic!("{f}: {text}"));
        assert!(line.ends_with("same verdict"), "{line}");
    }
    assert!(text.contains("(request-returned)"), "{text}");
    assert!(
        text.contains("live scenarios: 5 passed, 0 failed, 0 skipped"),
        "{text}"
    );
}

/// Card-based confirmation over mutual TLS: a virtual patient's card (issued and
/// linked by the control API) signs the centre's challenge; the centre checks the
/// JPKI certificate on the virtual clock and answers with the XmlMsg; a reused
/// challenge and a revoked card are refused, each with its reason in the log.
#[test]
fn card_confirmation_over_mutual_tls() {
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::signature::{SignatureEncoding, Signer};
    use sim::live::card::{from_hex, to_hex};

    let s = server(&["--speed", "0"]);
    let control = s.endpoints["control_url"].as_str().unwrap().to_string();
    let elig = s.endpoints["eligibility_url"].as_str().unwrap().to_string();
    let empty = s.dir.path().join("empty.json");
    std::fs::write(&empty, "{}").unwrap();
    let body_of = |out: &str| {
        out.rsplit_once("\nHTTP ")
            .map(|(b, _)| b.to_string())
            .unwrap_or_default()
    };

    let confirm = |card: &Value, name: &str| -> (String, String) {
        let (code, out, err) = curl(&s, "valid", &format!("{elig}/card/challenge"), &empty);
        assert_eq!(code, 0, "{err}");
        assert!(out.ends_with("HTTP 200"), "{out}");
        let challenge: Value = serde_json::from_str(&body_of(&out)).unwrap();
        let challenge = from_hex(challenge["challenge"].as_str().unwrap()).unwrap();
        let key = rsa::RsaPrivateKey::from_pkcs8_der(
            &from_hex(card["key_pkcs8"].as_str().unwrap()).unwrap(),
        )
        .unwrap();
        let signature = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key)
            .sign(&challenge)
            .to_vec();
        let req = json!({
            "challenge": to_hex(&challenge),
            "certificate": card["certificate"],
            "signature": to_hex(&signature),
            "consents": {"pharmacists_info": true},
        });
        let f = s.dir.path().join(format!("{name}.json"));
        std::fs::write(&f, req.to_string()).unwrap();
        let (code, out, err) = curl(&s, "valid", &format!("{elig}/card"), &f);
        assert_eq!(code, 0, "{err}");
        // Replaying the same signed challenge must be refused.
        let (_, replay, _) = curl(&s, "valid", &format!("{elig}/card"), &f);
        (out, replay)
    };

    let (status, card) = http(
        "POST",
        &format!("{control}/cards"),
        Some(&json!({"validity": 1})),
    );
    assert_eq!(status, 200, "{card}");
    let (out, replay) = confirm(&card, "ok");
    assert!(out.ends_with("HTTP 200"), "{out}");
    assert!(
        out.contains("<QualificationValidity>1</QualificationValidity>"),
        "{out}"
    );
    assert!(
        out.contains("<ReferenceClassification>1</ReferenceClassification>"),
        "{out}"
    );
    assert!(
        replay.ends_with("HTTP 403") && replay.contains("unknown-challenge"),
        "{replay}"
    );

    let (status, revoked) = http(
        "POST",
        &format!("{control}/cards"),
        Some(&json!({"validity": 1, "revoked": true})),
    );
    assert_eq!(status, 200);
    let (out, _) = confirm(&revoked, "revoked");
    assert!(
        out.ends_with("HTTP 403") && out.contains("\"revoked\""),
        "{out}"
    );

    let log = s.stop();
    assert!(log.contains("card confirmation answered"), "{log}");
    assert!(log.contains("refusal=\"revoked\""), "{log}");
}

/// `--bind` / `--advertise` and their variables: a bad value is exit 2 naming the
/// flag, before anything is written to the state dir.
#[test]
fn bad_bind_or_advertise_is_exit_2_naming_the_flag() {
    for (args, env, flag) in [
        (&["--bind", "localhost"][..], None, "--bind"),
        (&["--bind", "300.1.1.1"][..], None, "--bind"),
        (&[][..], Some(("ONSIM_BIND", "everywhere")), "ONSIM_BIND"),
        (&["--advertise", "no spaces"][..], None, "--advertise"),
        (&["--advertise", "0.0.0.0"][..], None, "--advertise"),
        (&["--advertise", "a:b"][..], None, "--advertise"),
        (&[][..], Some(("ONSIM_ADVERTISE", "x/y")), "ONSIM_ADVERTISE"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_onsim"));
        cmd.args(["serve", "--state-dir"]).arg(&state).args(args);
        cmd.env_remove("ONSIM_BIND").env_remove("ONSIM_ADVERTISE");
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}: {err}");
        assert!(
            err.contains(flag),
            "{args:?} {env:?} should name {flag}: {err}"
        );
        assert!(!state.exists(), "{args:?}: nothing written");
    }
}

/// curl against one advertised URL, reaching the name on loopback (`--resolve`);
/// (exit code, stdout with "\nHTTP <code>", stderr).
fn curl_as(s: &Server, url: &str, credential: Option<&str>) -> (i32, String, String) {
    let rest = url.split("://").nth(1).unwrap();
    let authority = rest.split('/').next().unwrap();
    let (host, port) = authority.rsplit_once(':').unwrap();
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "10", "--resolve"])
        .arg(format!("{host}:{port}:127.0.0.1"));
    if let Some(name) = credential {
        let pki = s.state().join("pki");
        cmd.arg("--cacert")
            .arg(pki.join("server-ca.crt"))
            .arg("--cert")
            .arg(pki.join(format!("{name}.crt")))
            .arg("--key")
            .arg(pki.join(format!("{name}.key")));
    }
    let out = cmd
        .args(["-w", "\nHTTP %{http_code}", url])
        .output()
        .expect("curl is installed (scripts/install-deps)");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `--bind 0.0.0.0 --advertise onsim.test`: every URL of endpoints.json names the
/// advertised host, every service answers `GET /health` there, and the eligibility
/// server's certificate passes curl's check for that name (and fails for another).
/// `--bind 0.0.0.0` alone advertises 127.0.0.1.
#[test]
fn bind_all_interfaces_and_advertise_a_name() {
    let s = server(&["--bind", "0.0.0.0", "--advertise", "onsim.test"]);
    assert_eq!(s.endpoints["bind"], "0.0.0.0");
    assert_eq!(s.endpoints["advertise"], "onsim.test");
    let urls: Vec<(String, String)> = s
        .endpoints
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.ends_with("_url"))
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    assert!(urls.len() >= 10);
    for (k, u) in &urls {
        assert!(
            u.starts_with("http://onsim.test:") || u.starts_with("https://onsim.test:"),
            "{k} = {u}"
        );
    }
    assert!(s.url("carrier_proxy").starts_with("onsim.test:"));
    let health = |key: &str| s.url(key).replace("/eligibility", "") + "/health";
    for (key, service, cred) in [
        ("control_url", "control", None),
        ("bureau_url", "bureau", None),
        ("reader_vendor_url", "reader-vendor", None),
        ("carrier_url", "carrier", None),
        ("portal_url", "portal", None),
        ("eligibility_url", "eligibility", Some("valid")),
        ("eligibility_via_carrier_url", "eligibility", Some("valid")),
    ] {
        let (code, out, err) = curl_as(&s, &health(key), cred);
        assert_eq!(code, 0, "{key}: {err}");
        let (body, status) = out.rsplit_once("\nHTTP ").unwrap();
        assert_eq!(status, "200", "{key}: {out}");
        let v: Value = serde_json::from_str(body).unwrap();
        assert_eq!(v, json!({"status": "ok", "service": service}), "{key}");
    }
    // A refused credential gets no /health either (it is behind mutual TLS).
    let (code, out, _) = curl_as(&s, &health("eligibility_url"), Some("expired"));
    assert!(code != 0 || out.ends_with("HTTP 403"), "{out}");
    let other = health("eligibility_url").replace("onsim.test", "elsewhere.test");
    let (code, _, err) = curl_as(&s, &other, Some("valid"));
    assert_eq!(code, 60, "not a name of the certificate: {err}");
    s.stop();

    let s = server(&["--bind", "0.0.0.0"]);
    assert_eq!(s.endpoints["advertise"], "127.0.0.1");
    assert!(s.url("control_url").starts_with("http://127.0.0.1:"));
    let (status, v) = http("GET", &format!("{}/health", s.url("control_url")), None);
    assert_eq!((status, v["service"].as_str()), (200, Some("control")));
    s.stop();
}
