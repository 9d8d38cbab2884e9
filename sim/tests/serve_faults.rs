//! `onsim serve --scenario` (issue 17 item 1): a scenario's faults reach the live
//! services where a clinic system meets them —
//! - an `implementing-body-down` window: the eligibility API answers 503 naming the
//!   fault while the portal keeps taking submissions (sim/src/live/environment.rs);
//! - a `client-certificate` fault: the certificate the portal issues carries the
//!   problem (expired on its day, revoked on the CRL from its day), and the mutual-TLS
//!   verifier refuses it on the virtual clock (sim/src/live/certificate_fault.rs);
//! - a `card` fault: the first patient presented at the simulated reader after
//!   go-live meets it, later ones do not (World::card_fault_at_reader).
//!
//! The clinic is played from outside by `onsim play` (the real binary, HTTP only).
//! Everything on loopback; every wait is bounded.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

#[path = "support/serve.rs"]
mod serve;
use serve::{http, timeline_outcome, Server};
#[path = "support/population.rs"]
mod population;
use population::{csv_rows, request_xml};

fn scenario_path(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(rel)
        .to_str()
        .unwrap()
        .to_string()
}

fn onsim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_onsim"))
        .args(args)
        .output()
        .expect("onsim runs")
}

/// `onsim play` the scenario's clinic against `s`; the verdict it prints.
fn play(s: &Server, file: &str) -> Value {
    let endpoints = s.state().join("endpoints.json");
    let out = onsim(&[
        "play",
        "--endpoints",
        endpoints.to_str().unwrap(),
        "--scenario",
        file,
    ]);
    assert!(
        out.status.success(),
        "play: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).expect("play prints the verdict")
}

fn advance_to(s: &Server, to: &str) {
    let (st, v) = http(
        "POST",
        &format!("{}/clock/advance", s.url("control_url")),
        Some(&json!({ "to": to })),
    );
    assert_eq!(st, 200, "{v}");
}

/// Move the clock to `to` unless it is already there or later.
fn advance_at_least(s: &Server, to: &str) {
    let (_, c) = http("GET", &s.url("clock_url"), None);
    if c["now"].as_str().unwrap_or("") < to {
        advance_to(s, to);
    }
}

/// curl POST `body` to `url` over mutual TLS with `cert`/`key`; (exit code, body and
/// `HTTP nnn` on the last line).
fn curl(s: &Server, cert: &Path, key: &Path, url: &str, body: &Path) -> (i32, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(s.state().join("pki/server-ca.crt"))
        .arg("--cert")
        .arg(cert)
        .arg("--key")
        .arg(key)
        .args(["-H", "Content-Type: application/xml", "--data-binary"])
        .arg(format!("@{}", body.display()))
        .args(["-w", "\nHTTP %{http_code}"])
        .arg(url)
        .output()
        .expect("curl is installed (scripts/install-deps)");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// One single inquiry for the first person of `population.csv`, as a file.
fn inquiry(s: &Server) -> PathBuf {
    let rows = csv_rows(&s.state().join("population.csv"));
    let body = s.dir.path().join("req.xml");
    std::fs::write(&body, request_xml(&s.url("institution_code"), &rows[0])).unwrap();
    body
}

#[test]
fn an_implementing_body_down_window_closes_the_eligibility_api_not_the_portal() {
    let file = scenario_path("implementing-body/down-window-during-account.toml");
    let s = Server::start(&["--households", "1000", "--scenario", &file]);
    let body = inquiry(&s);
    let pki = s.state().join("pki");
    let (cert, key) = (pki.join("valid.crt"), pki.join("valid.key"));
    let url = s.url("eligibility_url");

    // Before the window (2025-08-04 to 2025-08-22): answered.
    advance_to(&s, "2025-08-01T10:00");
    let (code, out) = curl(&s, &cert, &key, &url, &body);
    assert_eq!(code, 0, "{out}");
    assert!(out.ends_with("HTTP 200"), "{out}");

    // Inside: 503 naming the fault and its window; logged with the reason.
    advance_to(&s, "2025-08-05T10:00");
    let (code, out) = curl(&s, &cert, &key, &url, &body);
    assert_eq!(code, 0, "{out}");
    assert!(out.ends_with("HTTP 503"), "{out}");
    assert!(
        out.contains("implementing-body-down from 2025-08-04 to 2025-08-22"),
        "{out}"
    );
    let t = std::time::Instant::now();
    while !s.log_has("the implementing body is down") {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(5),
            "not logged"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // The portal keeps taking submissions: its answers are the actors' (here the
    // account is not open yet: 409), never the window's 503.
    let (st, v) = http(
        "POST",
        &format!("{}/usage-applications", s.url("portal_url")),
        Some(&json!({"line_type": "ip-vpn"})),
    );
    assert_eq!(st, 409, "{v}");
    let (st, _) = http("GET", &format!("{}/status", s.url("portal_url")), None);
    assert_eq!(st, 200);

    // After the window: answered again.
    advance_to(&s, "2025-08-25T10:00");
    let (code, out) = curl(&s, &cert, &key, &url, &body);
    assert_eq!(code, 0, "{out}");
    assert!(out.ends_with("HTTP 200"), "{out}");
    s.stop();
}

/// The portal's certificate for the clinic's medical fee table, written to files.
fn portal_certificate(s: &Server) -> (Value, PathBuf, PathBuf) {
    let (st, v) = http(
        "GET",
        &format!("{}/certificates", s.url("portal_url")),
        None,
    );
    assert_eq!(st, 200, "{v}");
    let list = v["certificates"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"));
    let c = list
        .last()
        .unwrap_or_else(|| panic!("no certificate issued: {v}"));
    let cert = s.dir.path().join("portal.crt");
    let key = s.dir.path().join("portal.key");
    std::fs::write(&cert, c["certificate_pem"].as_str().unwrap()).unwrap();
    std::fs::write(&key, c["key_pem"].as_str().unwrap()).unwrap();
    (c.clone(), cert, key)
}

#[test]
fn a_client_certificate_fault_is_written_into_the_portals_certificate() {
    for (rel, problem, refusal) in [
        (
            "certificates/client-cert-revoked-go-live.toml",
            "revoked",
            "refusal=\"revoked\"",
        ),
        (
            "certificates/client-cert-expired-go-live.toml",
            "expired",
            "refusal=\"expired\"",
        ),
    ] {
        let file = scenario_path(rel);
        let s = Server::start(&["--households", "1000", "--scenario", &file]);
        let v = play(&s, &file);
        // The same outcome as timeline mode: the go-live check fails on the fault.
        assert_eq!(
            v["outcome"].as_str().unwrap(),
            timeline_outcome(&file),
            "{rel}: {v:#}"
        );
        let (c, cert, key) = portal_certificate(&s);
        assert_eq!(c["fault"], problem, "{rel}: {c}");
        let designation = s.endpoints["designation"].as_str().unwrap().to_string();
        match problem {
            "revoked" => assert_eq!(c["revoked_from"], json!(designation), "{c}"),
            _ => assert_eq!(c["not_after"], json!(designation), "{c}"),
        }
        // On and after the designation day the verifier refuses it (a TLS alert or a
        // 403 naming the refusal), and says why in the log.
        advance_at_least(&s, &format!("{designation}T12:00"));
        let body = inquiry(&s);
        let (code, out) = curl(&s, &cert, &key, &s.url("eligibility_url"), &body);
        assert!(
            code != 0 || out.ends_with("HTTP 403"),
            "{rel}: refused, not answered: {code} {out}"
        );
        assert!(!out.contains("<QualificationValidity>"), "{rel}: {out}");
        let t = std::time::Instant::now();
        while !s.log_has(refusal) {
            assert!(
                t.elapsed() < std::time::Duration::from_secs(5),
                "{rel}: no {refusal} in the log"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        s.stop();
    }
}

#[test]
fn a_card_fault_meets_the_first_patient_at_the_reader_after_go_live() {
    let file = scenario_path("card/face-mismatch-pin-fallback.toml");
    let s = Server::start(&["--households", "1000", "--scenario", &file]);
    let url = s.url("reader_present_url");
    // Before the clinic is online the fault does not bite (it is the first patient's).
    let (st, v) = http("POST", &url, Some(&json!({"row": 0})));
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["outcome"], "FaceOk", "{v}");
    assert_eq!(v["scenario_fault"], false, "{v}");

    let played = play(&s, &file);
    assert!(
        played["online_start"].is_string(),
        "the clinic is online: {played:#}"
    );
    // Until the first patient is presented, its checks are not judged.
    let status_of = |v: &Value, what: &str| -> String {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["expectation"].as_str().unwrap().contains(what))
            .unwrap_or_else(|| panic!("no check on {what}: {v:#}"))["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (_, before) = http("GET", &s.url("verdict_url"), None);
    assert_eq!(
        status_of(&before, "pin-fallback"),
        "not-judged",
        "{before:#}"
    );
    // The first patient after go-live: face mismatch, then the PIN.
    let (st, v) = http("POST", &url, Some(&json!({"row": 1})));
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["outcome"], "FaceMismatchPinOk", "{v}");
    assert_eq!(v["method"], "pin", "{v}");
    assert_eq!(v["scenario_fault"], true, "{v}");
    // Now the first-patient checks are judged from it, with the timeline clinic's
    // events (fakes::process::first_patient): the PIN fallback happened, the visual
    // check never did.
    let (_, after) = http("GET", &s.url("verdict_url"), None);
    assert_eq!(status_of(&after, "pin-fallback"), "passed", "{after:#}");
    assert_eq!(
        status_of(&after, "visual-check-fallback"),
        "passed",
        "{after:#}"
    );
    assert!(
        ["passed", "failed"].contains(&status_of(&after, "face-auth-failed").as_str()),
        "{after:#}"
    );
    // The next one is sound; an outcome the client names always wins.
    let (_, v) = http("POST", &url, Some(&json!({"row": 2})));
    assert_eq!(
        (&v["outcome"], &v["scenario_fault"]),
        (&json!("FaceOk"), &json!(false)),
        "{v}"
    );
    let (_, v) = http(
        "POST",
        &url,
        Some(&json!({"row": 3, "outcome": "pin-locked"})),
    );
    assert_eq!(v["outcome"], "PinLocked", "{v}");
    s.stop();
}

/// A population too small to hold every row population.csv lists is exit 2 naming
/// `--households` and the missing outcome, not a panic.
#[test]
fn too_few_households_is_exit_2_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let o = onsim(&[
        "serve",
        "--state-dir",
        dir.path().join("state").to_str().unwrap(),
        "--households",
        "1",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--households: 1 households give nobody"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}
