//! `onsim conformance`: the reference client passes every requirement, each broken
//! client fails exactly its documented ones, a vendor command (shell script) works,
//! and the evidence bundle holds the exchanged files and logs.

use std::process::Command;

fn onsim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_onsim"))
}

#[test]
fn self_test_json_contract() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ev");
    let o = onsim()
        .args(["conformance", "--self-test", "--format", "json", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["reference"]["passed"], true);
    assert_eq!(v["reference"]["score"], 1.0);
    let broken = v["broken"].as_array().unwrap();
    assert!(broken.len() >= 5);
    for b in broken {
        assert_eq!(b["passed"], false, "{b}");
        let mut f: Vec<String> = serde_json::from_value(b["failed_requirements"].clone()).unwrap();
        let mut e: Vec<String> =
            serde_json::from_value(b["expected_requirements"].clone()).unwrap();
        f.sort();
        e.sort();
        assert_eq!(f, e, "{}", b["name"]);
    }
    // Evidence bundle of the reference run.
    let r = out.join("reference");
    for f in [
        "harness.log",
        "client.stdout",
        "client.stderr",
        "results.jsonl",
        "tasks.json",
        "report.json",
        "junit.xml",
    ] {
        assert!(r.join(f).is_file(), "{f} missing");
    }
    let taken = std::fs::read_dir(r.join("terminal/req/processed"))
        .unwrap()
        .count();
    let answers = std::fs::read_dir(r.join("terminal/res")).unwrap().count();
    let faces = std::fs::read_dir(r.join("terminal/face")).unwrap().count();
    let swallowed = std::fs::read_dir(r.join("swallowed")).unwrap().count();
    // 8 single inquiries, 1 bulk upload, 2 bulk downloads (the first answered
    // "processing"), 1 refused download (its .err file stays in req/), 2 薬剤情報
    // requests (one for a patient without consent).
    assert_eq!((taken, answers, faces, swallowed), (14, 14, 3, 2));
    let results = std::fs::read_to_string(r.join("results.jsonl")).unwrap();
    for (task, outcome, code) in [("d01", "provided", "1"), ("d02", "not-provided", "2")] {
        let want =
            format!("{{\"task\":\"{task}\",\"outcome\":\"{outcome}\",\"result_code\":\"{code}\"}}");
        assert!(results.lines().any(|l| l == want), "{want}\n{results}");
    }
    assert!(r
        .join("terminal/req/OQSmuquc02req_bulk01_e01.err")
        .is_file());
    // Face files carry the real name form.
    for e in std::fs::read_dir(r.join("terminal/face")).unwrap() {
        let n = e.unwrap().file_name().into_string().unwrap();
        assert!(
            fakes::eligibility::terminal::is_face_file_name(&n)
                && n.starts_with("OQSsiquc01res_face_1313120014"),
            "{n}"
        );
    }
    // Every new requirement is judged, and each has a broken client failing it.
    for id in [
        "REQ-ENCODING-CCI",
        "REQ-BULK",
        "REQ-FACE-NAME",
        "REQ-ERR-FILE",
        "REQ-DRUG-INFO",
        "REQ-CONSENT",
    ] {
        let checks = v["reference"]["checks"].as_array().unwrap();
        assert!(
            checks.iter().any(|c| c["id"] == id && c["passed"] == true),
            "{id}"
        );
        assert!(
            broken.iter().any(|b| b["failed_requirements"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f == id)),
            "{id}"
        );
    }
}

#[test]
fn vendor_command_adoption_path() {
    // The shell-script client in sim/conformance/ wraps a vendor program; here
    // the vendor program is the reference client.
    let dir = tempfile::tempdir().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/conformance/vendor-wrapper.sh");
    let o = onsim()
        .args([
            "conformance",
            "--format",
            "json",
            "--time-limit",
            "30",
            "--out",
        ])
        .arg(dir.path().join("ev"))
        .arg("--client")
        .arg(format!("sh {script}"))
        .arg("--junit")
        .arg(dir.path().join("junit.xml"))
        .env(
            "VENDOR_CLIENT",
            format!(
                "{} conformance --run-client reference",
                env!("CARGO_BIN_EXE_onsim")
            ),
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["passed"], true);
    assert_eq!(v["checks_passed"], v["checks_total"]);
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(junit.contains("REQ-RETRY"));
}

#[test]
fn broken_command_exits_1_and_bad_usage_2() {
    let dir = tempfile::tempdir().unwrap();
    let o = onsim()
        .args(["conformance", "--builtin", "no-retry", "--out"])
        .arg(dir.path().join("ev"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("FAIL REQ-RETRY"));
    let o = onsim()
        .args(["conformance", "--builtin", "nope"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    // A client that does nothing fails (never passes silently) and is bounded.
    let o = onsim()
        .args(["conformance", "--client", "true", "--out"])
        .arg(dir.path().join("ev2"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
}

/// `--scenario FILE`: a vendor's own gate. Without an outage or card refusals those
/// requirements are skipped (not passed): `no-retry` passes such a gate, and
/// `ignores-card-status` still fails the one refusal the gate keeps. A slow terminal
/// is answered by the reference client within its limits.
#[test]
fn a_gate_file_chooses_the_faults() {
    let dir = tempfile::tempdir().unwrap();
    let calm = dir.path().join("calm.toml");
    std::fs::write(
        &calm,
        "[gate]\nname = \"calm\"\nseed = 3\n\n[[fault]]\nkind = \"card-locked\"\n\n[[fault]]\nkind = \"slow-answers\"\ndelay_ms = 150\n",
    )
    .unwrap();
    let run = |client: &str, ev: &str| {
        let o = onsim()
            .args(["conformance", "--builtin", client, "--format", "json"])
            .arg("--scenario")
            .arg(&calm)
            .arg("--out")
            .arg(dir.path().join(ev))
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
        (o.status.code(), v)
    };
    let (code, v) = run("reference", "ref");
    assert_eq!(code, Some(0), "{v:#}");
    assert_eq!(v["gate"], "calm");
    assert_eq!(v["checks_skipped"], 2, "{v:#}");
    let skipped: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["skipped"] == true)
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(skipped, ["REQ-RETRY", "REQ-CARD-EXPIRED"]);
    let log = std::fs::read_to_string(dir.path().join("ref/harness.log")).unwrap();
    assert!(
        log.contains("gate \"calm\"") && log.contains("no outage"),
        "{log}"
    );
    let junit = std::fs::read_to_string(dir.path().join("ref/junit.xml")).unwrap();
    assert!(junit.contains("<skipped"), "{junit}");

    let (code, v) = run("no-retry", "nr");
    assert_eq!(code, Some(0), "no outage: nothing to retry: {v:#}");
    let (code, v) = run("ignores-card-status", "ics");
    assert_eq!(code, Some(1));
    assert_eq!(
        v["failed_requirements"],
        serde_json::json!(["REQ-CARD-LOCKED"])
    );
}

#[test]
fn a_bad_gate_file_exits_2_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[gate]\nname = \"x\"\n\n[[fault]]\nkind = \"flood\"\n",
    )
    .unwrap();
    let o = onsim()
        .args(["conformance", "--builtin", "reference", "--scenario"])
        .arg(&bad)
        .arg("--out")
        .arg(dir.path().join("ev"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.toml:5:") && err.contains("flood"),
        "{err}"
    );
    assert!(
        !dir.path().join("ev").exists(),
        "nothing written for a bad gate"
    );
    // The self-test is defined on the built-in gate only.
    let o = onsim()
        .args(["conformance", "--self-test", "--scenario"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}
