//! `onsim load`: small bounded runs against in-process servers. Counts, never times.

use std::process::Command;

use serde_json::Value;

#[path = "support/serve.rs"]
mod serve;
use serve::Server;

fn onsim(args: &[&str]) -> (i32, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_onsim"))
        .args(args)
        .output()
        .expect("run onsim");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let v: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\nstderr: {stderr}"));
    (out.status.code().unwrap_or(-1), v, stderr)
}

fn contract(o: &Value, name: &str) {
    for k in ["rps", "p50_ms", "p99_ms", "ok", "errors", "lost"] {
        assert!(o.get(k).is_some(), "{name}: no {k} in {o}");
    }
    assert_eq!(o["lost"], 0, "{name}: {o}");
    assert_eq!(o["errors"], 0, "{name}: {o}");
}

#[test]
fn bounded_keep_alive_run_loses_nothing() {
    let (code, v, err) = onsim(&[
        "load",
        "--connections",
        "4",
        "--requests",
        "800",
        "--duration",
        "60",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{v}\n{err}");
    contract(&v, "onsim");
    assert_eq!(v["sent"], 800);
    assert_eq!(v["ok"], 800);
    assert_eq!(v["counts_match"], true);
    assert_eq!(v["server"]["requests"], 800);
    assert_eq!(v["server"]["responses"], 800);
    assert_eq!(v["server"]["handshakes"], 4, "one per terminal: {v}");
    assert!(v.get("server_rss_growth_mb").is_some());
    assert!(v.get("p999_ms").is_some());
    // Both sides did work, and the figures are per request (not totals).
    for k in ["server_cpu_us_per_request", "client_cpu_us_per_request"] {
        let us = v[k].as_f64().unwrap_or(0.0);
        assert!(us > 0.0 && us < 1_000_000.0, "{k}: {v}");
    }
    // Every validity 1-5 was asked about and answered.
    for k in ["1", "2", "3", "4", "5"] {
        assert!(
            v["validities"][k].as_u64().unwrap_or(0) > 0,
            "validity {k}: {v}"
        );
    }
}

#[test]
fn new_connection_run_offers_resumption() {
    let (code, v, err) = onsim(&[
        "load",
        "--mode",
        "new-connection",
        "--connections",
        "2",
        "--requests",
        "40",
        "--mix",
        "card=0.1",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{v}\n{err}");
    contract(&v, "onsim");
    assert_eq!(v["handshakes"], 40);
    assert_eq!(v["server"]["handshakes"], 40);
    assert!(
        v["resumed"].as_u64().unwrap() > 0,
        "no resumed session: {v}"
    );
    assert_eq!(v["counts_match"], true);
    // A tenth of each terminal's 20 confirmations are card-based (to within one):
    // challenge + signed answer, two requests on the confirmation's connection.
    let cards = v["confirmations"]["card"].as_u64().unwrap();
    assert!((2..=6).contains(&cards), "{v}");
    assert_eq!(
        v["confirmations"]["insurance_card"].as_u64().unwrap() + cards,
        40
    );
    assert_eq!(v["sent"].as_u64().unwrap(), 40 + cards, "{v}");
    assert_eq!(v["refused"], 0, "card confirmations refused: {v}");
    assert!(v["card_p50_ms"].as_f64().unwrap() > 0.0, "{v}");
}

#[test]
fn compare_prints_all_three() {
    let (code, v, err) = onsim(&[
        "load",
        "--compare",
        "--connections",
        "2",
        "--requests",
        "60",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{v}\n{err}");
    let m = v.as_object().unwrap();
    assert_eq!(
        m.keys().map(String::as_str).collect::<Vec<_>>(),
        ["bare", "onsim", "wiremock"]
    );
    for name in ["onsim", "bare", "wiremock"] {
        contract(&v[name], name);
        assert_eq!(v[name]["ok"], 60, "{name}");
        assert_eq!(v[name]["counts_match"], true, "{name}");
    }
    assert!(v["onsim"].get("server_rss_growth_mb").is_some());
    assert!(v["onsim"].get("onsim_vs_bare").is_some());
    assert!(v["onsim"].get("onsim_vs_wiremock").is_some());
    assert!(
        v["onsim"]["server_cpu_vs_bare"].as_f64().unwrap_or(0.0) > 0.0,
        "{v}"
    );
    for name in ["onsim", "bare", "wiremock"] {
        assert!(
            v[name]["server_cpu_us_per_request"].as_f64().unwrap_or(0.0) > 0.0,
            "{name}: {v}"
        );
    }
}

#[test]
fn bad_flags_exit_2() {
    for args in [
        &["load", "--connections", "0"][..],
        &["load", "--mix", "card=2"][..],
        &["load", "--compare", "--mix", "card=0.1"][..],
        &["load", "--workers", "0"][..],
        &["load", "--duration", "0"][..],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_onsim"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

/// `--state-dir`: attach to a running `onsim serve`, cards issued on it first; the
/// server's own counters (GET /stats) agree with the client's.
#[test]
fn attach_mode_runs_a_card_mix_against_a_running_server() {
    // Today's start (the default): the load client judges the server certificate on
    // the wall clock.
    let server = Server::start(&["--households", "2000"]);
    let state_arg = server.state().to_string_lossy().to_string();
    let (code, v, err) = onsim(&[
        "load",
        "--state-dir",
        &state_arg,
        "--connections",
        "2",
        "--requests",
        "100",
        "--mix",
        "card=0.2",
        "--format",
        "json",
    ]);
    server.stop();
    assert_eq!(code, 0, "{v}\n{err}");
    contract(&v, "onsim");
    let cards = v["confirmations"]["card"].as_u64().unwrap();
    assert!((18..=22).contains(&cards), "{v}");
    assert_eq!(v["sent"].as_u64().unwrap(), 100 + cards);
    assert_eq!(v["refused"], 0, "{v}");
    assert_eq!(v["counts_match"], true, "{v}");
    assert_eq!(v["server"]["requests"].as_u64().unwrap(), 100 + cards);
}
