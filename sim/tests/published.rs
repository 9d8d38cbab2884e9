//! `--published BUREAU=FILE` on `onsim run` and `onsim sweep` (issue 16 #3): the
//! bureau's own table wins over the rule dates, the actors run on it, and every
//! report lists the differences.

use std::process::Command;

#[path = "support/serve.rs"]
mod serve;

fn onsim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_onsim"))
}

const HEADER: &str = "designation,bureau_answer_dispatch,implementing_body_deadline\n";

#[test]
fn run_uses_the_table_of_the_scenarios_bureau_and_reports_each_difference() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("kanto.csv");
    // The rule gives 2025-04-10 and 2025-04-15 for a 2025-06-01 designation.
    std::fs::write(
        &table,
        format!("{HEADER}2025-06-01,2025-04-09,2025-04-14\n"),
    )
    .unwrap();
    let json = dir.path().join("r.json");
    let o = onsim()
        .args([
            "run",
            "../scenarios/happy/r2024-medical-tokyo.toml",
            "--json",
        ])
        .arg(&json)
        .arg("--published")
        .arg(format!("kanto-shinetsu={}", table.display()))
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("published table: implementing-body-deadline 2025-04-14 (rule 2025-04-15)"),
        "{out}"
    );
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let d = &v["scenarios"][0]["schedule"]["deviations"];
    assert_eq!(d.as_array().unwrap().len(), 2, "{d}");
    // Another bureau's table does not touch this scenario.
    let o = onsim()
        .args([
            "run",
            "../scenarios/happy/r2024-medical-tokyo.toml",
            "--json",
        ])
        .arg(&json)
        .arg("--published")
        .arg(format!("kinki={}", table.display()))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(
        v["scenarios"][0]["schedule"]["deviations"],
        serde_json::json!([])
    );
}

#[test]
fn sweep_runs_on_the_published_dates_and_lists_them_per_variant() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("kanto.csv");
    // The answer and the implementing-body deadline nine and thirteen days before the
    // rule's: many fewer on time (about 0.69 against 0.89 at this seed).
    std::fs::write(
        &table,
        format!("{HEADER}2025-06-01,2025-04-01,2025-04-02\n"),
    )
    .unwrap();
    let sweep = |published: bool| -> serde_json::Value {
        let out = dir.path().join(format!("s{published}.json"));
        let mut c = onsim();
        c.args([
            "sweep",
            "../scenarios/sweeps/r2024-standard.toml",
            "--runs",
            "2000",
            "--seed",
            "5",
            "--out",
        ])
        .arg(&out);
        if published {
            c.arg("--published")
                .arg(format!("kanto-shinetsu={}", table.display()));
        }
        let o = c.output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap()
    };
    let (rule, table_run) = (sweep(false), sweep(true));
    // The HTML page of a sweep with a table lists the dates it ran on.
    let report = dir.path().join("report");
    let o = onsim()
        .args([
            "sweep",
            "../scenarios/sweeps/r2024-standard.toml",
            "--runs",
            "200",
            "--out",
        ])
        .arg(dir.path().join("h.json"))
        .arg("--report-dir")
        .arg(&report)
        .arg("--published")
        .arg(format!("kanto-shinetsu={}", table.display()))
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let html = std::fs::read_to_string(report.join("sweep.html")).unwrap();
    assert!(
        html.contains("Published table")
            && html.contains(
                "<td>implementing-body-deadline</td><td>2025-04-15</td><td>2025-04-02</td>"
            ),
        "sweep.html lists the deviations"
    );
    assert!(
        rule["variants"][0].get("deviations").is_none(),
        "absent without a table"
    );
    let d = table_run["variants"][0]["deviations"].as_array().unwrap();
    assert_eq!(d.len(), 2, "{d:?}");
    let p = |v: &serde_json::Value| {
        v["variants"][0]["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["outcome"] == "online-on-designation-day")
            .unwrap()["p"]
            .as_f64()
            .unwrap()
    };
    assert!(
        p(&table_run) < p(&rule),
        "{} vs {}",
        p(&table_run),
        p(&rule)
    );
}

#[test]
fn bad_published_values_exit_2_naming_the_problem() {
    for (arg, want) in [
        ("table.csv", "BUREAU=FILE"),
        ("kanto=table.csv", "unknown bureau"),
        ("kinki=/no/such/table.csv", "/no/such/table.csv"),
    ] {
        let o = onsim()
            .args([
                "run",
                "../scenarios/happy/r2024-medical-tokyo.toml",
                "--published",
                arg,
            ])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{arg}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(want), "{arg}: {err}");
    }
}

/// Shards of a sweep with a table merge to the unsharded bytes; a shard run without
/// the table does not merge with one run with it.
#[test]
fn shards_with_a_table_merge_and_do_not_mix_with_shards_without() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("kanto.csv");
    std::fs::write(
        &table,
        format!("{HEADER}2025-06-01,2025-04-01,2025-04-02\n"),
    )
    .unwrap();
    let run = |name: &str, shard: Option<&str>, published: bool| {
        let out = dir.path().join(name);
        let mut c = onsim();
        c.args([
            "sweep",
            "../scenarios/sweeps/r2024-standard.toml",
            "--runs",
            "600",
            "--seed",
            "2",
            "--out",
        ])
        .arg(&out);
        if let Some(s) = shard {
            c.args(["--shard", s]);
        }
        if published {
            c.arg("--published")
                .arg(format!("kanto-shinetsu={}", table.display()));
        }
        assert_eq!(c.output().unwrap().status.code(), Some(0));
        out
    };
    let whole = run("whole.json", None, true);
    let s0 = run("s0.json", Some("0/2"), true);
    let s1 = run("s1.json", Some("1/2"), true);
    let s1_rule = run("s1-rule.json", Some("1/2"), false);
    let merged = dir.path().join("merged.json");
    let o = onsim()
        .arg("merge")
        .arg(&s0)
        .arg(&s1)
        .arg("--out")
        .arg(&merged)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        std::fs::read(&merged).unwrap(),
        std::fs::read(&whole).unwrap()
    );
    let o = onsim()
        .arg("merge")
        .arg(&s0)
        .arg(&s1_rule)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

/// `onsim serve --scenario --published` (issue 16 #3 on the live services): the
/// scenario's bureau's table sets the deadlines the services run on and report;
/// a table for another bureau, or one without a scenario, is exit 2 naming it.
#[test]
fn serve_runs_a_scenario_on_its_bureaus_published_table() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("kanto.csv");
    std::fs::write(
        &table,
        format!("{HEADER}2025-06-01,2025-04-09,2025-04-14\n"),
    )
    .unwrap();
    let published = format!("kanto-shinetsu={}", table.display());
    let s = serve::Server::start(&[
        "--households",
        "100",
        "--scenario",
        "../scenarios/happy/r2024-medical-tokyo.toml",
        "--published",
        &published,
    ]);
    let d = s.endpoints["published_deviations"].as_array().unwrap();
    assert_eq!(d.len(), 2, "{d:?}");
    assert!(d.iter().any(|x| x["id"] == "implementing-body-deadline"
        && x["published_date"] == "2025-04-14"
        && x["rule_date"] == "2025-04-15"));
    let (st, dl) = serve::http("GET", &s.url("deadlines_url"), None);
    assert_eq!(st, 200, "{dl}");
    assert_eq!(dl["implementing_body_deadline"], "2025-04-14", "{dl}");
    assert_eq!(dl["bureau_answer_dispatch"], "2025-04-09", "{dl}");
    let log = s.stop();
    assert!(
        log.contains("published table: implementing-body-deadline 2025-04-14 (rule 2025-04-15)"),
        "{log}"
    );

    for (args, needle) in [
        (
            vec![
                "--scenario".to_string(),
                "../scenarios/happy/r2024-medical-tokyo.toml".to_string(),
                "--published".to_string(),
                format!("kinki={}", table.display()),
            ],
            "no table for the scenario's bureau (kanto-shinetsu)",
        ),
        (
            vec!["--published".to_string(), published.clone()],
            "--published applies to a scenario's bureau",
        ),
    ] {
        let state = dir.path().join("state-refused");
        let o = onsim()
            .arg("serve")
            .arg("--state-dir")
            .arg(&state)
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}
