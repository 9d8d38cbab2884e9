//! Ecosystem mode through the real binary: determinism of the 3,000-clinic year, the
//! shortage window's visible delay against the same file without it, the outputs'
//! shape, and located errors (docs/ecosystem.md).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn onsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_onsim"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("onsim runs")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("onsim-eco-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(file: &str, seed: &str, out: &Path) {
    let o = onsim(&[
        "ecosystem",
        file,
        "--seed",
        seed,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

const FILES: [&str; 4] = [
    "clinics.parquet",
    "clinics.csv",
    "resources.csv",
    "summary.json",
];

/// The per-clinic CSV as rows of column → value.
fn clinics(dir: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(dir.join("clinics.csv")).unwrap();
    let head: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            head.iter()
                .cloned()
                .zip(rec.iter().map(str::to_string))
                .collect()
        })
        .collect()
}

#[test]
fn national_year_is_deterministic_and_complete() {
    let (a, b, c) = (tmp("year-a"), tmp("year-b"), tmp("year-c"));
    run("ecosystem/national-year.toml", "7", &a);
    run("ecosystem/national-year.toml", "7", &b);
    run("ecosystem/national-year.toml", "8", &c);
    for f in FILES {
        let x = std::fs::read(a.join(f)).unwrap();
        assert_eq!(
            x,
            std::fs::read(b.join(f)).unwrap(),
            "{f} differs between runs"
        );
        assert!(!x.is_empty());
    }
    assert_ne!(
        std::fs::read(a.join("clinics.csv")).unwrap(),
        std::fs::read(c.join("clinics.csv")).unwrap(),
        "another seed, other clinics"
    );
    let rows = clinics(&a);
    assert_eq!(rows.len(), 3000);
    assert!(rows.iter().all(|r| r["seed"] == "7"));
    // Every clinic reached an outcome of the process; most go online on time.
    let on_time = rows.iter().filter(|r| r["on_time"] == "1").count();
    assert!(on_time > 2400, "{on_time} of 3000 on time");

    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["format"], "onsim-ecosystem/1");
    assert_eq!(summary["clinics"], 3000);
    assert_eq!(summary["invariants_broken"], 0);
    let kinds: Vec<&str> = summary["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    for k in ["reader", "crews", "lines", "answers", "accounts"] {
        assert!(kinds.contains(&k), "no {k} resource in the summary");
    }
    // Each resource's requests: readers one per clinic, answers one per code.
    let requests = |kind: &str| -> u64 {
        summary["resources"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["kind"] == kind)
            .map(|r| r["requests"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(requests("reader"), 3000);
    assert_eq!(requests("answers"), 3000);

    // The daily series: a header, and utilisation never above 1.
    let series = std::fs::read_to_string(a.join("resources.csv")).unwrap();
    let mut lines = series.lines();
    assert_eq!(
        lines.next(),
        Some("date,resource,kind,capacity,used,queue,utilisation")
    );
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(f.len(), 7, "{l}");
        let (cap, used): (u64, u64) = (f[3].parse().unwrap(), f[4].parse().unwrap());
        if f[2] != "reader" {
            assert!(used <= cap, "overbooked: {l}");
        }
    }

    // The Parquet table holds the same rows and columns.
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let file = std::fs::File::open(a.join("clinics.parquet")).unwrap();
    let reader = SerializedFileReader::new(file).unwrap();
    let meta = reader.metadata();
    assert_eq!(meta.file_metadata().num_rows(), 3000);
    let names: Vec<String> = meta
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    let csv_head: Vec<String> = clinics(&a)[0].keys().cloned().collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(sorted, csv_head, "Parquet and CSV columns");
    assert!(names.contains(&"wait_reader_days".to_string()));
}

fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = xs.collect();
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

#[test]
fn a_reader_shortage_delays_clinics_in_its_window() {
    let (s, n) = (tmp("short"), tmp("normal"));
    run("ecosystem/mandate-rush.toml", "3", &s);
    run("ecosystem/mandate-rush-no-shortage.toml", "3", &n);
    let (rs, rn) = (clinics(&s), clinics(&n));
    assert_eq!(rs.len(), rn.len());
    // Same seed, same population: the files differ only in the windows.
    for (a, b) in rs.iter().zip(&rn) {
        assert_eq!(a["designation"], b["designation"]);
        assert_eq!(a["reader_maker"], b["reader_maker"]);
    }
    // Clinics whose free reader ships in or just after the window (r2021: in month
    // M−1, once the reception number is shown): designations Mar–Jun 2023.
    let in_window = |r: &&BTreeMap<String, String>| {
        ("2023-03-01".."2023-07-01").contains(&r["designation"].as_str())
    };
    let on_time = |rows: &[BTreeMap<String, String>]| {
        mean(
            rows.iter()
                .filter(in_window)
                .map(|r| if r["on_time"] == "1" { 1.0 } else { 0.0 }),
        )
    };
    let wait = |rows: &[BTreeMap<String, String>]| {
        mean(
            rows.iter()
                .filter(in_window)
                .map(|r| r["wait_reader_days"].parse::<f64>().unwrap()),
        )
    };
    let delay = |rows: &[BTreeMap<String, String>]| {
        // Not online within the horizon counts as 183 days late.
        mean(
            rows.iter()
                .filter(in_window)
                .map(|r| r["delay_days"].parse::<f64>().unwrap_or(183.0).max(0.0)),
        )
    };
    let (os, on) = (on_time(&rs), on_time(&rn));
    let (ws, wn) = (wait(&rs), wait(&rn));
    let (ds, dn) = (delay(&rs), delay(&rn));
    eprintln!(
        "on time {os:.3} vs {on:.3}; reader wait {ws:.1} vs {wn:.1}; delay {ds:.1} vs {dn:.1}"
    );
    assert!(ws > wn + 14.0, "reader wait {ws:.1} vs {wn:.1} days");
    assert!(
        os < on - 0.2,
        "on time {os:.3} with the shortage vs {on:.3} without"
    );
    assert!(ds > dn + 7.0, "delay {ds:.1} vs {dn:.1} days");
    // Clinics designated before the window (Oct 2022) are not hurt.
    let early = |rows: &[BTreeMap<String, String>]| {
        mean(
            rows.iter()
                .filter(|r| r["designation"] == "2022-10-01")
                .map(|r| if r["on_time"] == "1" { 1.0 } else { 0.0 }),
        )
    };
    assert!((early(&rs) - early(&rn)).abs() < 0.05);
}

#[test]
fn bad_files_name_file_line_and_field() {
    let d = tmp("bad");
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../ecosystem/national-year.toml"),
    )
    .unwrap();
    let cases = [
        (
            text.replacen("designation = 2025-03-01", "designation = 2025-03-02", 1),
            "population.month[2].designation",
        ),
        (
            text.replacen("monthly = 80", "monthly = -1", 1),
            "(syntax)",
        ),
        (
            text.replacen("crews_per_day = 2", "crews_per_day = 2\nwindows = [{ from = 2025-02-01, until = 2025-01-01, factor = 1 }]", 1),
            "system_vendor[0].windows[0]",
        ),
        (
            text.replacen("answers_per_day = 60\nper_bureau = { kanto-shinetsu = 150", "answers_per_day = 60\nper_bureau = { kanto = 150", 1),
            "bureaus.per_bureau.kanto",
        ),
    ];
    for (i, (bad, field)) in cases.iter().enumerate() {
        assert_ne!(bad, &text, "case {i} changed nothing");
        let f = d.join(format!("bad{i}.toml"));
        std::fs::write(&f, bad).unwrap();
        let out = d.join(format!("out{i}"));
        let o = onsim(&[
            "ecosystem",
            f.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "case {i}: {err}");
        assert!(err.contains(&format!("bad{i}.toml:")), "case {i}: {err}");
        assert!(err.contains(field), "case {i}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(!out.exists(), "nothing written for a bad file");
    }
}
