//! `onsim sweep --per-run FILE` through the built binary: one row per replication and
//! variant, the same bytes for any `--threads`, shards that add up to the unsharded
//! rows, the JSON unchanged by it, and a bad file name refused with exit 2.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use parquet::file::reader::{FileReader, SerializedFileReader};

const BIN: &str = env!("CARGO_BIN_EXE_onsim");
/// More than two chunks of 4096, so rows of several chunks meet in order.
const RUNS: u64 = 9000;

fn scenario() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/sweeps/r2024-standard.toml")
        .to_str()
        .unwrap()
        .to_string()
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("onsim-per-run-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn onsim(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("onsim runs")
}

fn ok(o: &Output) -> Vec<u8> {
    assert!(
        o.status.success(),
        "exit {:?}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout.clone()
}

/// `onsim sweep` of two variants with extra arguments; returns stdout (the JSON).
fn sweep(extra: &[&str]) -> Vec<u8> {
    let s = scenario();
    let runs = RUNS.to_string();
    let mut a = vec![
        "sweep",
        &s,
        "--runs",
        &runs,
        "--seed",
        "9",
        "--vary",
        "scenario.rules=r2021,r2024",
    ];
    a.extend(extra);
    ok(&onsim(&a))
}

fn parquet_rows(p: &Path) -> i64 {
    let r = SerializedFileReader::new(std::fs::File::open(p).unwrap()).unwrap();
    r.metadata().file_metadata().num_rows()
}

fn csv_rows(p: &Path) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let mut r = csv::Reader::from_path(p).unwrap();
    let header = r.headers().unwrap().clone();
    let rows = r.records().map(|x| x.unwrap()).collect();
    (header, rows)
}

fn no_temp_files(d: &Path) {
    let left: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

#[test]
fn one_row_per_run_and_variant_same_bytes_for_any_thread_count() {
    let d = tmp("threads");
    let plain = sweep(&[]);
    let mut parquet = Vec::new();
    for t in ["1", "2", "4"] {
        let p = d.join(format!("runs-{t}.parquet"));
        let c = d.join(format!("runs-{t}.csv"));
        let json = sweep(&["--threads", t, "--per-run", p.to_str().unwrap()]);
        // --per-run adds a file; the JSON is what it was without it.
        assert_eq!(json, plain, "--threads {t}: JSON changed by --per-run");
        sweep(&["--threads", t, "--per-run", c.to_str().unwrap()]);
        assert_eq!(parquet_rows(&p), 2 * RUNS as i64, "--threads {t}");
        let (header, rows) = csv_rows(&c);
        assert_eq!(rows.len() as u64, 2 * RUNS, "--threads {t}");
        assert_eq!(&header[0], "variant");
        assert!(header.iter().any(|h| h == "scenario.rules"));
        parquet.push((std::fs::read(&p).unwrap(), std::fs::read(&c).unwrap()));
    }
    assert!(parquet[0].0.starts_with(b"PAR1") && parquet[0].0.ends_with(b"PAR1"));
    assert_eq!(parquet[0], parquet[1], "--threads 1 vs 2");
    assert_eq!(parquet[0], parquet[2], "--threads 1 vs 4");
    // Variant then run order, every replication once.
    let (header, rows) = csv_rows(&d.join("runs-1.csv"));
    let run = header.iter().position(|h| h == "run").unwrap();
    let keys: Vec<(String, u64)> = rows
        .iter()
        .map(|r| (r[0].to_string(), r[run].parse().unwrap()))
        .collect();
    let want: Vec<(String, u64)> = (0..2)
        .flat_map(|v| (0..RUNS).map(move |i| (v.to_string(), i)))
        .collect();
    assert_eq!(keys, want);
    no_temp_files(&d);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn shard_rows_add_up_to_the_unsharded_rows() {
    let d = tmp("shards");
    let whole = d.join("whole.csv");
    sweep(&["--per-run", whole.to_str().unwrap()]);
    let (header, want) = csv_rows(&whole);
    let run = header.iter().position(|h| h == "run").unwrap();
    let mut got = Vec::new();
    for i in 0..3 {
        let f = d.join(format!("shard-{i}.csv"));
        let shard = format!("{i}/3");
        let out = d.join(format!("shard-{i}.json"));
        sweep(&[
            "--shard",
            &shard,
            "--threads",
            if i == 1 { "1" } else { "2" },
            "--out",
            out.to_str().unwrap(),
            "--per-run",
            f.to_str().unwrap(),
        ]);
        let (h, rows) = csv_rows(&f);
        assert_eq!(h, header);
        assert!(rows.iter().all(|r| r[run].parse::<u64>().unwrap() % 3 == i));
        got.extend(rows);
    }
    let key =
        |r: &csv::StringRecord| (r[0].parse::<u32>().unwrap(), r[run].parse::<u64>().unwrap());
    got.sort_by_key(key);
    assert_eq!(got.len(), want.len());
    assert!(
        got == want,
        "the shards' rows differ from the unsharded rows"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn bad_extension_exits_2_naming_the_flag() {
    let d = tmp("bad");
    let s = scenario();
    for name in ["runs.json", "runs", "runs.parquet.gz"] {
        let f = d.join(name);
        let out = d.join("sweep.json");
        let o = onsim(&[
            "sweep",
            &s,
            "--runs",
            "10",
            "--out",
            out.to_str().unwrap(),
            "--per-run",
            f.to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert!(
            err.contains("--per-run") && err.contains(".parquet"),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        assert!(!f.exists() && !out.exists(), "{name}: nothing is written");
    }
    std::fs::remove_dir_all(&d).unwrap();
}
