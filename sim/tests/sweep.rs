//! `onsim sweep` and `onsim merge` through the built binary: results do not depend on
//! the thread count, sharded-then-merged equals unsharded byte for byte, and bad input
//! exits 2 with a message (never a panic).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_onsim");

fn scenario() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/sweeps/r2024-standard.toml")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("onsim-sweep-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn onsim(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("onsim runs")
}

fn ok(o: &Output) -> &[u8] {
    assert!(
        o.status.success(),
        "exit {:?}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    &o.stdout
}

fn usage_error(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn same_bytes_for_any_thread_count() {
    let s = scenario();
    let s = s.to_str().unwrap();
    let base = [
        "sweep",
        s,
        "--runs",
        "5000",
        "--seed",
        "11",
        "--vary",
        "scenario.rules=r2021,r2024",
    ];
    let outs: Vec<Vec<u8>> = ["1", "2", "8"]
        .iter()
        .map(|t| {
            let mut a = base.to_vec();
            a.extend(["--threads", t]);
            ok(&onsim(&a)).to_vec()
        })
        .collect();
    assert!(!outs[0].is_empty());
    assert_eq!(outs[0], outs[1], "--threads 1 vs 2");
    assert_eq!(outs[0], outs[2], "--threads 1 vs 8");
    // CSV too.
    let csv = |t: &str| {
        ok(&onsim(&[
            "sweep",
            s,
            "--runs",
            "3000",
            "--format",
            "csv",
            "--threads",
            t,
        ]))
        .to_vec()
    };
    let csv1 = csv("1");
    assert_eq!(csv1, csv("8"));
    assert!(csv1.starts_with(b"variant,section,item,stat,value\n"));
}

#[test]
fn three_shards_merge_to_the_unsharded_bytes() {
    let d = tmp("shards");
    let s = scenario();
    let s = s.to_str().unwrap();
    let common = [
        "--runs",
        "7001",
        "--seed",
        "5",
        "--vary",
        "actors.reader_vendor.lead.mode=100,120",
    ];
    let mut whole_args = vec!["sweep", s];
    whole_args.extend(common);
    let whole = ok(&onsim(&whole_args)).to_vec();
    let mut files = Vec::new();
    for i in 0..3 {
        let f = d.join(format!("shard-{i}.json"));
        let shard = format!("{i}/3");
        let mut a = vec!["sweep", s, "--shard", &shard, "--out", f.to_str().unwrap()];
        a.extend(common);
        a.extend(["--threads", if i == 1 { "1" } else { "2" }]);
        ok(&onsim(&a));
        files.push(f.to_str().unwrap().to_string());
    }
    // Any order of the shard files.
    let merged = ok(&onsim(&["merge", &files[2], &files[0], &files[1]])).to_vec();
    assert_eq!(
        String::from_utf8(merged).unwrap(),
        String::from_utf8(whole.clone()).unwrap()
    );
    // Through --out as well.
    let out = d.join("merged.json");
    ok(&onsim(&[
        "merge",
        &files[0],
        &files[1],
        &files[2],
        "--out",
        out.to_str().unwrap(),
    ]));
    assert_eq!(std::fs::read(&out).unwrap(), whole);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn merge_refuses_incomplete_or_mismatched_shards() {
    let d = tmp("refuse");
    let s = scenario();
    let s = s.to_str().unwrap();
    let mut files = Vec::new();
    for i in 0..3 {
        let f = d.join(format!("s{i}.json"));
        let shard = format!("{i}/3");
        ok(&onsim(&[
            "sweep",
            s,
            "--runs",
            "300",
            "--seed",
            "1",
            "--shard",
            &shard,
            "--out",
            f.to_str().unwrap(),
        ]));
        files.push(f.to_str().unwrap().to_string());
    }
    let e = usage_error(&onsim(&["merge", &files[0], &files[2]]));
    assert!(e.contains("missing shard(s) 1/3"), "{e}");
    let e = usage_error(&onsim(&[
        "merge", &files[0], &files[1], &files[1], &files[2],
    ]));
    assert!(e.contains("each shard must be given once"), "{e}");
    // A shard of another seed.
    let other = d.join("other.json");
    ok(&onsim(&[
        "sweep",
        s,
        "--runs",
        "300",
        "--seed",
        "2",
        "--shard",
        "1/3",
        "--out",
        other.to_str().unwrap(),
    ]));
    let e = usage_error(&onsim(&[
        "merge",
        &files[0],
        other.to_str().unwrap(),
        &files[2],
    ]));
    assert!(e.contains("seed"), "{e}");
    // Not JSON.
    let junk = d.join("junk.json");
    std::fs::write(&junk, "not json").unwrap();
    usage_error(&onsim(&["merge", junk.to_str().unwrap()]));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn bad_arguments_exit_2() {
    let s = scenario();
    let s = s.to_str().unwrap();
    let e = usage_error(&onsim(&[
        "sweep",
        s,
        "--runs",
        "10",
        "--vary",
        "clinic.colour=red,blue",
    ]));
    assert!(e.contains("clinic.colour"), "{e}");
    let e = usage_error(&onsim(&[
        "sweep",
        s,
        "--runs",
        "10",
        "--vary",
        "scenario.rules=r1999",
    ]));
    assert!(e.contains("scenario.rules=r1999"), "{e}");
    for bad in [
        &["--vary", "nokey"][..],
        &["--vary", "scenario.name.x=1"],
        &["--runs", "0"],
        &["--shard", "3/3"],
        &["--shard", "x"],
        &["--threads", "0"],
        &["--shard", "0/2", "--format", "csv"],
    ] {
        let mut a = vec!["sweep", s, "--runs", "10"];
        a.extend(bad);
        usage_error(&onsim(&a));
    }
    usage_error(&onsim(&["sweep", "/no/such/file.toml", "--runs", "10"]));
}

#[test]
fn report_dir_gets_json_and_html() {
    let d = tmp("report");
    let s = scenario();
    ok(&onsim(&[
        "sweep",
        s.to_str().unwrap(),
        "--runs",
        "500",
        "--report-dir",
        d.to_str().unwrap(),
    ]));
    let html = std::fs::read_to_string(d.join("sweep.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("Critical path"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(json["runs"], 500);
    std::fs::remove_dir_all(&d).unwrap();
}

fn one_risk() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/sweeps/one-risk-reader.toml")
}

#[test]
fn an_invalid_variant_is_reported_and_the_others_run() {
    let s = scenario();
    let o = onsim(&[
        "sweep",
        s.to_str().unwrap(),
        "--runs",
        "300",
        "--vary",
        "actors.reader_vendor.lead.shift=-90d,+0d,+10d",
    ]);
    let v: serde_json::Value = serde_json::from_slice(ok(&o)).unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("variant actors.reader_vendor.lead.shift=-90d skipped"),
        "{err}"
    );
    let labels: Vec<&str> = v["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "actors.reader_vendor.lead.shift=+0d",
            "actors.reader_vendor.lead.shift=+10d"
        ]
    );
    let bad = &v["invalid_variants"][0];
    assert_eq!(bad["label"], "actors.reader_vendor.lead.shift=-90d");
    assert!(bad["error"]
        .as_str()
        .unwrap()
        .contains("min must not be negative"));
    // Every variant invalid: exit 2.
    let e = usage_error(&onsim(&[
        "sweep",
        s.to_str().unwrap(),
        "--runs",
        "10",
        "--vary",
        "actors.carrier.lead.shift=+1d,+2d",
    ]));
    assert!(e.contains("cannot be shifted"), "{e}");
}

#[test]
fn relative_plan_dates_and_paired_comparisons_on_common_random_numbers() {
    let s = one_risk();
    let s = s.to_str().unwrap();
    // 2025-10-01 − 123 days = 2025-05-31; −153 days = 2025-05-01.
    let run = |threads: &str| {
        onsim(&[
            "sweep",
            s,
            "--runs",
            "4000",
            "--seed",
            "2",
            "--vary",
            "plan.reader_order=designation-153d,designation-123d,designation-100bd",
            "--paired",
            "--threads",
            threads,
        ])
    };
    let o = run("2");
    let v: serde_json::Value = serde_json::from_slice(ok(&o)).unwrap();
    assert_eq!(
        ok(&run("1")),
        ok(&o),
        "--paired output depends on --threads"
    );
    let p = &v["paired"];
    assert_eq!(p["reference"], "plan.reader_order=designation-153d");
    assert_eq!(p["outcomes"][0], "online-on-designation-day");
    let c = &p["comparisons"][0];
    let counts = &c["counts"];
    // Common random numbers and a model monotone in the order date: ordering later
    // never rescues a run the earlier order lost.
    assert_eq!(counts["variant_only"], 0, "{c}");
    let lost = counts["reference_only"].as_u64().unwrap();
    assert!(lost > 100, "{c}");
    let [lo, hi] = [
        c["ci95"][0].as_f64().unwrap(),
        c["ci95"][1].as_f64().unwrap(),
    ];
    let d = c["difference"].as_f64().unwrap();
    assert!(lo <= d && d <= hi && hi < 0.0, "{c}");
    assert!(c["mcnemar_p"].as_f64().unwrap() < 1e-10);
    // The same seeds: 30 days later ordering → the reader 30 days later; where both go
    // online on the designation day their start delays are equal.
    let mean = c["start_delay_difference"]["mean"].as_f64().unwrap();
    assert!(mean >= 0.0, "{c}");
    // The variants' own outcome counts agree with the pairing.
    let p_ref = v["variants"][0]["outcomes"][0]["p"].as_f64().unwrap();
    assert!((c["p_reference"].as_f64().unwrap() - p_ref).abs() < 1e-9);
    // The relative date resolved on the variant's designation: −100 business days.
    assert_eq!(
        v["variants"][2]["settings"]["plan.reader_order"],
        "designation-100bd"
    );
    // --paired needs two variants.
    let e = usage_error(&onsim(&["sweep", s, "--runs", "10", "--paired"]));
    assert!(e.contains("--paired"), "{e}");
    let e = usage_error(&onsim(&[
        "sweep",
        s,
        "--runs",
        "10",
        "--vary",
        "scenario.seed=1,2",
        "--paired=onlin",
    ]));
    assert!(e.contains("unknown outcome"), "{e}");
}

#[test]
fn paired_shards_merge_to_the_unsharded_bytes() {
    let d = tmp("paired-shards");
    let s = one_risk();
    let s = s.to_str().unwrap();
    let common = [
        "--runs",
        "3001",
        "--seed",
        "4",
        "--vary",
        "plan.reader_order=2025-05-20,2025-06-05",
        "--paired",
    ];
    let mut a = vec!["sweep", s];
    a.extend(common);
    let whole = ok(&onsim(&a)).to_vec();
    let mut files = Vec::new();
    for i in 0..2 {
        let f = d.join(format!("p{i}.json"));
        let shard = format!("{i}/2");
        let mut a = vec!["sweep", s, "--shard", &shard, "--out", f.to_str().unwrap()];
        a.extend(common);
        ok(&onsim(&a));
        files.push(f.to_str().unwrap().to_string());
    }
    let merged = ok(&onsim(&["merge", &files[1], &files[0]])).to_vec();
    assert_eq!(
        String::from_utf8(merged).unwrap(),
        String::from_utf8(whole).unwrap()
    );
    std::fs::remove_dir_all(&d).unwrap();
}
