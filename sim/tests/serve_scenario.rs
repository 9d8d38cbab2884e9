//! `onsim serve --scenario` (issue 17 item 1): a scenario's faults run the live
//! services, an outside client plays the clinic over HTTP (`onsim play`, the real
//! binary), `GET /verdict` judges the scenario's `[[expect]]`, and on SIGTERM the
//! serve writes verdict.json and verdict.junit.xml and exits 0 or 1 as `onsim run`.
//! Everything on loopback; every wait is bounded.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};

#[path = "support/serve.rs"]
mod serve;
use serve::{http, timeline_outcome, Server};

const OUTAGE: &str = "network/outage-on-go-live.toml";

fn scenario_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(rel)
}

fn onsim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_onsim"))
        .args(args)
        .output()
        .expect("onsim runs")
}

fn verdict(s: &Server) -> Value {
    let (st, v) = http("GET", &s.url("verdict_url"), None);
    assert_eq!(st, 200, "{v}");
    v
}

#[test]
fn a_carrier_outage_on_go_live_through_serve_gives_the_timeline_outcome() {
    let file = scenario_path(OUTAGE);
    let file = file.to_str().unwrap();
    let s = Server::start(&["--households", "500", "--scenario", file]);
    assert_eq!(s.endpoints["scenario"], json!(file));
    assert_eq!(s.endpoints["clinic"], json!("system-under-test"));
    assert_eq!(s.endpoints["designation"], json!("2025-07-01"));
    // The Sendai clinic (宮城県 = 04): valid.crt is bound to its code.
    assert!(
        s.endpoints["institution_code"]
            .as_str()
            .unwrap()
            .starts_with("04"),
        "{}",
        s.endpoints["institution_code"]
    );
    let before = verdict(&s);
    assert_eq!(before["outcome"], "not-online");
    assert_eq!(before["settled"], false);
    assert_eq!(before["passed"], false);

    // An outside client plays the clinic's recommended plan over HTTP.
    let endpoints = s.state().join("endpoints.json");
    let play = onsim(&[
        "play",
        "--endpoints",
        endpoints.to_str().unwrap(),
        "--scenario",
        file,
    ]);
    assert!(
        play.status.success(),
        "play: {}\n{}",
        String::from_utf8_lossy(&play.stderr),
        String::from_utf8_lossy(&play.stdout)
    );
    let played: Value = serde_json::from_slice(&play.stdout).expect("play prints the verdict");
    let v = verdict(&s);
    assert_eq!(played["outcome"], v["outcome"]);
    // The outage's effect: the first go-live check fails on the designation day, the
    // retry the next day succeeds: online one day late, as in timeline mode.
    assert_eq!(v["outcome"], "online-late", "{v:#}");
    assert_eq!(v["outcome"].as_str().unwrap(), timeline_outcome(file));
    assert_eq!(v["online_start"], "2025-07-02");
    assert_eq!(v["passed"], true, "{v:#}");
    // Not settled while the day a check names (07-02) is still running.
    assert_eq!(v["settled"], false, "{v:#}");
    let (st, _) = http(
        "POST",
        &format!("{}/clock/advance", s.url("control_url")),
        Some(&json!({"to": "2025-07-03T09:00"})),
    );
    assert_eq!(st, 200);
    let v = verdict(&s);
    assert_eq!(v["settled"], true, "{v:#}");
    assert_eq!(v["passed"], true, "{v:#}");
    let checks = v["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 4);
    assert!(checks.iter().all(|c| c["status"] == "passed"), "{v:#}");
    // The timeline is there on request only.
    assert!(v.get("timeline").is_none());
    let (_, full) = http("GET", &format!("{}?timeline=1", s.url("verdict_url")), None);
    let timeline = full["timeline"].as_array().unwrap();
    assert!(timeline
        .iter()
        .any(|e| e["kind"] == "online-start-failed" && e["actor"] == "clinic"));

    let (dir, log, status) = s.terminate();
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{log}");
    let state = dir.path().join("state");
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("verdict.json")).unwrap())
            .unwrap();
    assert_eq!(written["outcome"], "online-late");
    assert!(written["timeline"]
        .as_array()
        .is_some_and(|t| !t.is_empty()));
    let junit = std::fs::read_to_string(state.join("verdict.junit.xml")).unwrap();
    assert!(junit.contains("tests=\"4\""), "{junit}");
    assert!(!junit.contains("<failure"), "{junit}");
    assert!(log.contains("PASS"), "{log}");
}

#[test]
fn a_clinic_that_does_nothing_fails_and_the_serve_exits_1() {
    let file = scenario_path(OUTAGE);
    let s = Server::start(&["--households", "500", "--scenario", file.to_str().unwrap()]);
    // Past the horizon without the system under test doing anything.
    let (st, c) = http(
        "POST",
        &format!("{}/clock/advance", s.url("control_url")),
        Some(&json!({"to": "2026-01-01T09:00"})),
    );
    assert_eq!(st, 200, "{c}");
    let v = verdict(&s);
    assert_eq!(v["outcome"], "not-online");
    assert_eq!(v["settled"], true);
    assert_eq!(v["passed"], false);
    // Its own go-live check on the designation day names what is missing.
    let (_, full) = http("GET", &format!("{}?timeline=1", s.url("verdict_url")), None);
    let failed = full["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "online-start-failed")
        .cloned()
        .expect("an online-start-failed event");
    assert!(
        failed["detail"]
            .as_str()
            .unwrap()
            .contains("no reception number"),
        "{failed}"
    );
    let (dir, log, status) = s.terminate();
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{log}");
    let junit =
        std::fs::read_to_string(dir.path().join("state").join("verdict.junit.xml")).unwrap();
    assert!(junit.contains("<failure"), "{junit}");
}

#[test]
fn onsim_can_play_the_clinic_itself_and_closes_the_clinic_routes() {
    // The same scenario with `[live] clinic = "onsim"`.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(scenario_path(OUTAGE)).unwrap();
    let file = dir.path().join("onsim-plays.toml");
    std::fs::write(&file, format!("{text}\n[live]\nclinic = \"onsim\"\n")).unwrap();
    let s = Server::start(&["--households", "500", "--scenario", file.to_str().unwrap()]);
    assert_eq!(s.endpoints["clinic"], json!("onsim"));
    let (st, v) = http(
        "POST",
        &format!("{}/reception-requests", s.url("bureau_url")),
        Some(&json!({"fee_table": "medical"})),
    );
    assert_eq!(st, 409, "{v}");
    assert!(v["error"]
        .as_str()
        .unwrap()
        .contains("onsim plays the clinic"));
    let (st, _) = http(
        "POST",
        &format!("{}/clock/advance", s.url("control_url")),
        Some(&json!({"to": "2025-07-10T09:00"})),
    );
    assert_eq!(st, 200);
    let v = verdict(&s);
    assert_eq!(v["outcome"], "online-late", "{v:#}");
    assert_eq!(v["passed"], true, "{v:#}");
    let (_, _, status) = s.terminate();
    assert_eq!(status.and_then(|s| s.code()), Some(0));
}

#[test]
fn bad_scenario_use_is_exit_2_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let state = state.to_str().unwrap();
    let file = scenario_path(OUTAGE);
    let file = file.to_str().unwrap();
    for (args, needle) in [
        (
            vec![
                "serve",
                "--state-dir",
                state,
                "--scenario",
                file,
                "--rules",
                "r2021",
            ],
            "--rules comes from the scenario",
        ),
        (
            vec!["serve", "--state-dir", state, "--scenario", "no/such.toml"],
            "no such file, and no built-in scenario",
        ),
        (
            vec![
                "play",
                "--endpoints",
                "/nonexistent/endpoints.json",
                "--scenario",
                file,
            ],
            "endpoints.json",
        ),
    ] {
        let out = onsim(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    // A scenario with an error names the file and the line.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[scenario]\nname = \"x\"\nrules = \"r2099\"\n").unwrap();
    let out = onsim(&[
        "serve",
        "--state-dir",
        state,
        "--scenario",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.toml"));
    // A built-in scenario by name needs no file (the image ships them); the test
    // runs in sim/, where no such relative file exists.
    assert!(!std::path::Path::new(OUTAGE).exists());
    let s = Server::start(&["--households", "500", "--scenario", OUTAGE]);
    assert_eq!(
        s.endpoints["scenario"],
        json!(format!("scenarios/{OUTAGE}"))
    );
    s.stop();
}
