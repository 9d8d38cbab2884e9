//! The CLI contracts of docs/DESIGN.md, driven through the real binary.

use std::path::PathBuf;
use std::process::{Command, Output};

fn onsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_onsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("onsim runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("onsim-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn holidays_csv_contract() {
    let o = onsim(&["holidays", "--from", "2021", "--to", "2021"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("date,name"));
    assert!(out.contains("2021-07-22,海の日\n"));
    assert!(out.contains("2021-08-09,振替休日\n"));
    assert!(!out.contains("2021-10-11"));
    assert_eq!(out.lines().count(), 1 + 17);
}

#[test]
fn holidays_refuse_bad_ranges() {
    for args in [
        &["holidays", "--from", "1954", "--to", "1960"][..],
        &["holidays", "--from", "2000", "--to", "1999"],
        &["holidays", "--from", "abc", "--to", "1999"],
        &["holidays", "--from", "2020"],
    ] {
        let o = onsim(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(!stderr(&o).contains("panicked"));
    }
    let o = onsim(&["holidays", "--from", "2028", "--to", "2028"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("computed"));
}

#[test]
fn schedule_json_contract() {
    let o = onsim(&[
        "schedule",
        "--designation",
        "2024-04-01",
        "--rules",
        "r2024",
        "--bureau",
        "kanto-shinetsu",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["designation"], "2024-04-01");
    assert_eq!(v["rules"], "r2024");
    let ms = v["milestones"].as_array().unwrap();
    let find = |id: &str| {
        ms.iter()
            .find(|m| m["id"] == id)
            .unwrap_or_else(|| panic!("{id} missing"))
    };
    assert_eq!(find("bureau-answer-dispatch")["date"], "2024-02-13");
    assert_eq!(find("implementing-body-deadline")["date"], "2024-02-15");
    for m in ms {
        for key in ["id", "date", "source", "rule"] {
            assert!(m.get(key).is_some(), "{key} in {m}");
        }
        assert_eq!(m["source"], "rule");
    }
    assert_eq!(v["deviations"], serde_json::json!([]));
}

#[test]
fn schedule_with_published_table_lists_deviations() {
    let dir = tmp("published");
    let f = dir.join("table.csv");
    std::fs::write(
        &f,
        "designation,bureau_answer_dispatch,implementing_body_deadline\n2021-11-01,2021-10-08,2021-10-15\n2021-12-01,2021-11-10,2021-11-15\n",
    )
    .unwrap();
    let o = onsim(&[
        "schedule",
        "--designation",
        "2021-11-01",
        "--rules",
        "r2021",
        "--published",
        f.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let answer = v["milestones"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "bureau-answer-dispatch")
        .unwrap()
        .clone();
    assert_eq!(answer["date"], "2021-10-08");
    assert_eq!(answer["source"], "published");
    assert_eq!(
        v["deviations"],
        serde_json::json!([{"id": "bureau-answer-dispatch", "rule_date": "2021-10-11", "published_date": "2021-10-08"}])
    );
    // A month the table agrees with: published source, no deviation.
    let o = onsim(&[
        "schedule",
        "--designation",
        "2021-12-01",
        "--rules",
        "r2021",
        "--published",
        f.to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["deviations"], serde_json::json!([]));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn schedule_refusals_exit_2_with_a_reason() {
    let dir = tmp("bad-published");
    let f = dir.join("bad.csv");
    std::fs::write(&f, "designation,bureau_answer_dispatch,implementing_body_deadline\n2021-11-01,2021-13-08,2021-10-15\n").unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "schedule",
                "--designation",
                "2024-04-02",
                "--rules",
                "r2024",
            ],
            "1st",
        ),
        (
            vec![
                "schedule",
                "--designation",
                "2020-04-01",
                "--rules",
                "r2021",
            ],
            "before r2021",
        ),
        (
            vec![
                "schedule",
                "--designation",
                "2029-04-01",
                "--rules",
                "r2024",
            ],
            "--allow-projected",
        ),
        (
            vec![
                "schedule",
                "--designation",
                "2025-04-01",
                "--rules",
                "r2024",
                "--as-of",
                "2025-04-01",
            ],
            "retroactive",
        ),
        (
            vec![
                "schedule",
                "--designation",
                "2025-04-01",
                "--rules",
                "r2030",
            ],
            "r2021 or r2024",
        ),
        (
            vec![
                "schedule",
                "--designation",
                "2025-04-01",
                "--rules",
                "r2024",
                "--bureau",
                "mars",
            ],
            "kanto-shinetsu",
        ),
        (
            vec![
                "schedule",
                "--designation",
                "2021-11-01",
                "--rules",
                "r2021",
                "--published",
                f.to_str().unwrap(),
            ],
            "bad.csv:2:12",
        ),
        (
            vec![
                "schedule",
                "--designation",
                "2021-11-01",
                "--rules",
                "r2021",
                "--published",
                "/nonexistent.csv",
            ],
            "nonexistent",
        ),
    ];
    for (args, needle) in cases {
        let o = onsim(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"));
    }
    let o = onsim(&[
        "schedule",
        "--designation",
        "2029-04-01",
        "--rules",
        "r2024",
        "--allow-projected",
        "--format",
        "table",
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("computed"));
    std::fs::remove_dir_all(dir).unwrap();
}

const PASSING: &str = r#"# passes
[scenario]
name = "passes"
rules = "r2024"
seed = 7

[clinic]
kind = "medical"
prefecture = "大阪府"
designation = 2025-10-01

[[expect]]
outcome = "online-on-designation-day"
"#;

#[test]
fn run_verdicts_and_exit_codes() {
    let dir = tmp("run");
    let ok = dir.join("ok.toml");
    std::fs::write(&ok, PASSING).unwrap();
    let o = onsim(&["run", ok.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("1 passed, 0 failed"));

    // Same scenario, but the request goes in after the deadline: the expectation of
    // a day-1 start now fails, and the explanation shows the trace.
    let late = dir.join("late.toml");
    std::fs::write(
        &late,
        PASSING.replace(
            "[[expect]]",
            "[plan]\nreception_request = 2025-08-05\n\n[[expect]]",
        ),
    )
    .unwrap();
    let o = onsim(&["run", late.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("request-returned"), "{}", stdout(&o));

    // Malformed: exit 2 naming file and line.
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, PASSING.replace("rules = \"r2024\"", "rules = r2024")).unwrap();
    let o = onsim(&["run", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad.toml:4:"), "{}", stderr(&o));
    let o = onsim(&["validate", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let o = onsim(&["run", dir.join("missing.toml").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn reports_are_byte_identical_and_independent_of_threads() {
    let dir = tmp("determinism");
    let scenarios = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let s = scenarios.to_str().unwrap();
    let mut outputs = Vec::new();
    for (i, threads) in ["1", "2", "4"].iter().enumerate() {
        let json = dir.join(format!("r{i}.json"));
        let junit = dir.join(format!("r{i}.xml"));
        let o = onsim(&[
            "run",
            s,
            "--threads",
            threads,
            "--json",
            json.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ]);
        assert!(
            o.status.code() == Some(0) || o.status.code() == Some(1),
            "{}",
            stderr(&o)
        );
        outputs.push((
            std::fs::read(&json).unwrap(),
            std::fs::read(&junit).unwrap(),
            o.stdout,
        ));
    }
    assert!(outputs.windows(2).all(|w| w[0] == w[1]));
    let v: serde_json::Value = serde_json::from_slice(&outputs[0].0).unwrap();
    assert!(v["scenarios"][0]["timeline"]
        .as_array()
        .is_some_and(|t| !t.is_empty()));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn schema_is_json() {
    let o = onsim(&["schema"]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(v["properties"]["clinic"].is_object());
    assert!(v["x-event-ids"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x == "online-start"));
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    assert_eq!(onsim(&["--bogus"]).status.code(), Some(2));
    assert_eq!(onsim(&[]).status.code(), Some(2));
    let h = onsim(&["--help"]);
    assert_eq!(h.status.code(), Some(0));
    assert!(stdout(&h).contains("schedule"));
}

#[test]
fn a_report_never_overwrites_a_scenario_file() {
    // `onsim run --json FILE.toml`: the option swallowed the scenario's path.
    let d = tmp("no-overwrite");
    let file = d.join("mine.toml");
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios/network/outage-on-go-live.toml"),
    )
    .unwrap();
    std::fs::write(&file, &text).unwrap();
    for flag in ["--json", "--junit"] {
        let o = onsim(&["run", flag, file.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{flag}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("refusing to overwrite"),
            "{}",
            stderr(&o)
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), text, "{flag}");
    }
}
