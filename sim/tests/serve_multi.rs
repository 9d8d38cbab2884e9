//! Several clinics in one `onsim serve` (issue 17 item 2): each `--scenario` is one
//! clinic with its own world, institution code, credentials (`pki/<code>/`),
//! population (`population/<code>.csv`) and terminal folder (`terminal/<code>/`), all
//! on one virtual clock behind the same ports. Requests name their clinic with the
//! `Onsim-Clinic` header; the eligibility API routes by the client certificate.
//! Driven through the real binary (`onsim serve`, `onsim play`, curl); every wait is
//! bounded.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[path = "support/serve.rs"]
mod serve;
use serve::{http, timeline_outcome, Server};

#[path = "support/population.rs"]
mod population;
use population::{csv_rows, request_xml};

const OUTAGE: &str = "network/outage-on-go-live.toml";
const TOKYO: &str = "happy/r2024-medical-tokyo.toml";
const TOKYO_SLOW: &str = "implementing-body/slow-absorbed.toml";

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

/// A JSON request with the `Onsim-Clinic` header (the support client sends none).
fn http_as(clinic: &str, method: &str, url: &str, body: Option<&Value>) -> (u16, Value) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let b = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nOnsim-Clinic: {clinic}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
        b.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status: u16 = out[9..12].parse().unwrap();
    let body = &out[out.find("\r\n\r\n").unwrap() + 4..];
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn clinics(s: &Server) -> Vec<Value> {
    s.endpoints["clinics"].as_array().expect("clinics").clone()
}

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("{k} in {v}"))
}

/// `onsim play` against the serve; its printed verdict.
fn play(s: &Server, args: &[&str]) -> Value {
    let endpoints = s.state().join("endpoints.json");
    let mut all = vec!["play", "--endpoints", endpoints.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = onsim(&all);
    assert!(
        out.status.success(),
        "play {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).expect("play prints the verdict")
}

/// The verdict of one clinic, by `?clinic=` and by the header (the same).
fn verdict_of(s: &Server, id: &str) -> Value {
    let (st, v) = http(
        "GET",
        &format!("{}?clinic={id}", s.url("verdict_url")),
        None,
    );
    assert_eq!(st, 200, "{v}");
    let (st, by_header) = http_as(id, "GET", &s.url("verdict_url"), None);
    assert_eq!(st, 200, "{by_header}");
    assert_eq!(v["outcome"], by_header["outcome"]);
    v
}

#[test]
fn two_clinics_of_two_bureaus_each_play_as_alone() {
    let (a, b) = (scenario_path(OUTAGE), scenario_path(TOKYO));
    let s = Server::start(&["--households", "500", "--scenario", &a, "--scenario", &b]);
    let cs = clinics(&s);
    assert_eq!(cs.len(), 2, "{:#}", s.endpoints);
    assert_eq!(s.endpoints["clinic_header"], "Onsim-Clinic");
    assert!(
        s.endpoints.get("institution_code").is_none(),
        "no clinic is the default"
    );
    let ids: Vec<&str> = cs.iter().map(|c| str_of(c, "id")).collect();
    assert_eq!(ids, ["outage-on-go-live", "r2024-medical-tokyo"]);
    let codes: Vec<&str> = cs.iter().map(|c| str_of(c, "institution_code")).collect();
    assert!(
        codes[0].starts_with("04") && codes[1].starts_with("13"),
        "{codes:?}"
    );
    // Each clinic's files under its code; the CA files stay in pki/.
    let state = s.state();
    assert!(state.join("pki/server-ca.crt").is_file());
    assert!(state.join("pki/terminal-ca.crl").is_file());
    assert!(!state.join("pki/valid.crt").exists());
    for (c, code) in cs.iter().zip(&codes) {
        assert_eq!(
            Path::new(str_of(c, "pki_dir")),
            state.join("pki").join(code)
        );
        assert!(state.join("pki").join(code).join("valid.key").is_file());
        assert!(state
            .join("population")
            .join(format!("{code}.csv"))
            .is_file());
        for d in ["req", "res", "face"] {
            assert!(state.join("terminal").join(code).join(d).is_dir());
        }
        assert_eq!(
            Path::new(str_of(c, "terminal_dir")),
            state.join("terminal").join(code)
        );
    }

    // Without the header a clinic's route is 400 naming it and the ids; an unknown
    // id is 404 naming it; the clock is everyone's.
    let (st, e) = http(
        "POST",
        &format!("{}/reception-requests", s.url("bureau_url")),
        Some(&json!({"fee_table": "medical"})),
    );
    assert_eq!(st, 400, "{e}");
    assert_eq!(e["field"], "Onsim-Clinic");
    let m = str_of(&e, "error");
    assert!(
        m.contains("outage-on-go-live") && m.contains("r2024-medical-tokyo"),
        "{m}"
    );
    let (st, e) = http_as(
        "nobody",
        "GET",
        &format!("{}/inbox", s.url("control_url")),
        None,
    );
    assert_eq!(st, 404, "{e}");
    assert!(str_of(&e, "error").contains("\"nobody\""), "{e}");
    let (st, _) = http("GET", &s.url("clock_url"), None);
    assert_eq!(st, 200);
    let (st, d) = http_as(ids[1], "GET", &s.url("deadlines_url"), None);
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["designation"], "2025-06-01");

    // Before anyone plays: the overall verdict lists both, passed by neither.
    let (st, o) = http("GET", &s.url("verdict_url"), None);
    assert_eq!(st, 200, "{o}");
    assert_eq!(o["passed"], false);
    assert_eq!(o["clinics"].as_array().unwrap().len(), 2);

    // Both clinics played at once on the one clock: each verdict is the timeline's.
    let played = play(&s, &["--scenario", &a, "--scenario", &b]);
    assert_eq!(played["clinics"].as_array().unwrap().len(), 2, "{played:#}");
    for (id, file) in [(ids[0], &a), (ids[1], &b)] {
        let v = verdict_of(&s, id);
        assert_eq!(
            v["outcome"].as_str().unwrap(),
            timeline_outcome(file),
            "{id}: {v:#}"
        );
        assert_eq!(v["passed"], true, "{id}: {v:#}");
    }
    let (_, o) = http("GET", &s.url("verdict_url"), None);
    assert_eq!(o["passed"], true, "{o:#}");

    let (dir, log, status) = s.terminate();
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{log}");
    let state = dir.path().join("state");
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("verdict.json")).unwrap())
            .unwrap();
    assert_eq!(written["passed"], true);
    assert_eq!(written["clinics"][0]["id"], "outage-on-go-live");
    assert_eq!(written["clinics"][0]["outcome"], "online-late");
    let junit = std::fs::read_to_string(state.join("verdict.junit.xml")).unwrap();
    assert_eq!(junit.matches("<testsuite ").count(), 2, "{junit}");
    assert!(junit.contains("outage-on-go-live: "), "{junit}");
}

/// curl over mutual TLS with a credential file pair; (exit code, stdout).
fn curl(ca: &Path, cert: &Path, key: &Path, url: &str, body: &Path) -> (i32, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(ca)
        .arg("--cert")
        .arg(cert)
        .arg("--key")
        .arg(key)
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
    )
}

#[test]
fn two_clinics_of_one_bureau_get_their_own_codes_credentials_and_terminals() {
    let (a, b) = (scenario_path(TOKYO), scenario_path(TOKYO_SLOW));
    let s = Server::start(&["--households", "500", "--scenario", &a, "--scenario", &b]);
    let cs = clinics(&s);
    let codes: Vec<String> = cs
        .iter()
        .map(|c| str_of(c, "institution_code").to_string())
        .collect();
    // The same bureau (Tokyo): the second clinic is numbered after the first.
    assert_ne!(codes[0], codes[1]);
    assert_eq!(codes[0][..6], codes[1][..6], "{codes:?}");
    assert!(s.log_has("its bureau numbers it from"));
    let state = s.state();
    let ca = state.join("pki/server-ca.crt");
    let url = s.url("eligibility_url");
    let start = str_of(&s.endpoints, "start").to_string();
    let today = start[..10].replace('-', "");
    let body = s.dir.path().join("req.xml");
    let cred = |i: usize, name: &str| {
        let p = PathBuf::from(str_of(&cs[i]["credentials"][name], "cert"));
        let k = PathBuf::from(str_of(&cs[i]["credentials"][name], "key"));
        (p, k)
    };
    for i in 0..2 {
        let rows = csv_rows(&state.join("population").join(format!("{}.csv", codes[i])));
        let xml = |code: &str, row: &[String]| request_xml(code, row).replace("20250401", &today);
        // The clinic's valid credential reaches its own clinic: its population answers.
        let (cert, key) = cred(i, "valid");
        for row in rows.iter().take(5) {
            std::fs::write(&body, xml(&codes[i], row)).unwrap();
            let (code, out) = curl(&ca, &cert, &key, &url, &body);
            assert_eq!(code, 0, "{out}");
            let want = format!("<QualificationValidity>{}</QualificationValidity>", row[5]);
            assert!(
                out.contains("HTTP 200") && out.contains(&want),
                "clinic {i} {row:?}: {out}"
            );
        }
        // A request naming the other clinic's code with this clinic's credential is
        // refused: the credentials are not confused.
        std::fs::write(&body, xml(&codes[1 - i], &rows[0])).unwrap();
        let (_, out) = curl(&ca, &cert, &key, &url, &body);
        assert!(
            out.contains("HTTP 403") && out.contains("other-institution"),
            "{out}"
        );
        // The rest of its matrix is refused, each for its reason.
        std::fs::write(&body, xml(&codes[i], &rows[0])).unwrap();
        for name in [
            "expired",
            "not-yet-valid",
            "revoked",
            "wrong-ca",
            "other-institution",
        ] {
            let (cert, key) = cred(i, name);
            let (code, out) = curl(&ca, &cert, &key, &url, &body);
            assert!(
                code != 0 || out.contains("HTTP 403"),
                "clinic {i} {name} must be refused: {out}"
            );
            assert!(!out.contains("<QualificationValidity>"), "{name}: {out}");
        }
        // The clinic's file drop answers for its code, in its own folder.
        let term = PathBuf::from(str_of(&cs[i], "terminal_dir"));
        let tmp = term.join("req").join(".tmp-multi");
        std::fs::write(&tmp, xml(&codes[i], &rows[1])).unwrap();
        std::fs::rename(&tmp, term.join("req").join("OQSsiquc01req_multi.xml")).unwrap();
        let res = term.join("res").join("OQSsiquc01res_multi.xml");
        let t = Instant::now();
        while !res.exists() {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "no {}",
                res.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let answer = std::fs::read_to_string(&res).unwrap();
        let want = format!(
            "<QualificationValidity>{}</QualificationValidity>",
            rows[1][5]
        );
        assert!(answer.contains(&want), "clinic {i}: {answer}");
        let other = PathBuf::from(str_of(&cs[1 - i], "terminal_dir"));
        assert!(!other.join("res").join("OQSsiquc01res_multi.xml").exists() || i == 1);
        // The clinic's simulated reader writes into its own face/.
        let (st, r) = http_as(
            str_of(&cs[i], "id"),
            "POST",
            &s.url("reader_present_url"),
            Some(&json!({"row": 1, "outcome": "face-ok"})),
        );
        assert_eq!(st, 200, "{r}");
        let face = PathBuf::from(str_of(&r, "face_file"));
        assert!(
            face.starts_with(term.join("face")),
            "{face:?} not in {term:?}"
        );
        assert!(face.is_file());
    }

    // Each clinic played alone by `--clinic`, one after the other would skew the
    // later one's dates; played together they both give the timeline's outcome.
    let ids: Vec<&str> = cs.iter().map(|c| str_of(c, "id")).collect();
    play(
        &s,
        &[
            "--scenario",
            &a,
            "--clinic",
            ids[0],
            "--scenario",
            &b,
            "--clinic",
            ids[1],
        ],
    );
    for (id, file) in [(ids[0], &a), (ids[1], &b)] {
        let v = verdict_of(&s, id);
        assert_eq!(
            v["outcome"].as_str().unwrap(),
            timeline_outcome(file),
            "{id}: {v:#}"
        );
    }
    // The portal issued each clinic a certificate for its own code.
    for (i, id) in ids.iter().enumerate() {
        let (st, c) = http_as(
            id,
            "GET",
            &format!("{}/certificates", s.url("portal_url")),
            None,
        );
        assert_eq!(st, 200, "{c}");
        let certs = c["certificates"].as_array().unwrap();
        assert!(!certs.is_empty(), "{id}: {c}");
        assert!(
            certs
                .iter()
                .all(|x| x["institution_code"] == codes[i].as_str()),
            "{c}"
        );
    }
    let (_, log, status) = s.terminate();
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{log}");
}

#[test]
fn clinic_ids_must_be_unique_and_play_must_match_a_clinic() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let a = scenario_path(OUTAGE);
    // Another file of the same stem: both are named, exit 2.
    let copy = dir.path().join("outage-on-go-live.toml");
    std::fs::copy(&a, &copy).unwrap();
    let out = onsim(&[
        "serve",
        "--state-dir",
        state.to_str().unwrap(),
        "--scenario",
        &a,
        "--scenario",
        copy.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&a) && err.contains(copy.to_str().unwrap()),
        "{err}"
    );
    // `ID=FILE` names them apart; ONSIM_SCENARIO holds several, separated by `,`.
    let s = {
        let dir = tempfile::tempdir().unwrap();
        let st = dir.path().join("state");
        let mut child = Command::new(env!("CARGO_BIN_EXE_onsim"))
            .args(["serve", "--households", "500", "--state-dir"])
            .arg(&st)
            .env(
                "ONSIM_SCENARIO",
                format!("first={a},second={}", copy.display()),
            )
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let t = Instant::now();
        let ep = st.join("endpoints.json");
        let v: Value = loop {
            if let Some(v) = std::fs::read_to_string(&ep)
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
            {
                break v;
            }
            assert!(t.elapsed() < Duration::from_secs(60), "no endpoints.json");
            std::thread::sleep(Duration::from_millis(50));
        };
        let _ = child.kill();
        let _ = child.wait();
        v
    };
    let ids: Vec<&str> = s["clinics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["first", "second"]);
    // The same scenario twice: one bureau, so the second takes the next numbers.
    assert_ne!(
        s["clinics"][0]["institution_code"],
        s["clinics"][1]["institution_code"]
    );
    // A bad id is exit 2 naming it.
    let out = onsim(&[
        "serve",
        "--state-dir",
        state.to_str().unwrap(),
        "--scenario",
        &format!("{}/a b.toml", dir.path().display()),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("clinic id"));
}

/// Serve `scenarios` (one clinic each), play them all, stop: the verdict.json.
fn served_and_played(scenarios: &[&str]) -> Value {
    let mut args = vec!["--households", "500"];
    let mut play_args = Vec::new();
    for f in scenarios {
        args.extend(["--scenario", f]);
        play_args.extend(["--scenario", *f]);
    }
    let s = Server::start(&args);
    play(&s, &play_args);
    let (dir, log, status) = s.terminate();
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{log}");
    let text = std::fs::read_to_string(dir.path().join("state/verdict.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A clinic served beside another is judged exactly as when served alone: the same
/// checks and the same timeline, event for event; and a serve of several is
/// deterministic (same scenarios and play → the same verdict.json).
#[test]
fn a_clinic_beside_another_is_judged_as_when_alone() {
    let (a, b) = (scenario_path(OUTAGE), scenario_path(TOKYO));
    let both = served_and_played(&[&a, &b]);
    assert_eq!(both, served_and_played(&[&a, &b]), "deterministic");
    for (i, file) in [&a, &b].into_iter().enumerate() {
        let alone = served_and_played(&[file]);
        let beside = &both["clinics"][i];
        for k in ["outcome", "online_start", "checks", "timeline", "passed"] {
            assert_eq!(beside[k], alone[k], "{file}: {k}");
        }
        assert!(!alone["timeline"].as_array().unwrap().is_empty());
    }
}

/// `[live] clinic = "onsim"` closes that clinic's routes only.
#[test]
fn onsim_playing_one_clinic_closes_only_its_routes() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(scenario_path(OUTAGE)).unwrap();
    let mine = dir.path().join("onsim-plays.toml");
    std::fs::write(&mine, format!("{text}\n[live]\nclinic = \"onsim\"\n")).unwrap();
    let s = Server::start(&[
        "--households",
        "500",
        "--scenario",
        mine.to_str().unwrap(),
        "--scenario",
        &scenario_path(TOKYO),
    ]);
    let cs = clinics(&s);
    assert_eq!(cs[0]["clinic"], "onsim");
    assert_eq!(cs[1]["clinic"], "system-under-test");
    let url = format!("{}/reception-requests", s.url("bureau_url"));
    let body = json!({"fee_table": "medical"});
    let (st, v) = http_as("onsim-plays", "POST", &url, Some(&body));
    assert_eq!(st, 409, "{v}");
    let (st, v) = http_as("r2024-medical-tokyo", "POST", &url, Some(&body));
    assert_eq!(st, 202, "{v}");
    s.stop();
}
