//! `onsim solve` through the built binary, checked against an exact answer computed
//! here, independently of onsim's calendar and actors, from the lead-time distribution
//! and the calendar of `scenarios/sweeps/one-risk-reader.toml`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{Datelike, NaiveDate, Weekday};

const BIN: &str = env!("CARGO_BIN_EXE_onsim");

fn scenario() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/sweeps/one-risk-reader.toml")
}

fn onsim(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("onsim runs")
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// National holidays of September–October 2025, from the law itself (国民の祝日に関する
/// 法律 第2条: 敬老の日 the third Monday of September, スポーツの日 the second Monday of
/// October) and the equinox announced for 2025 (国立天文台 暦要項, 官報 2024-02-01:
/// 秋分の日 2025-09-23), written out here rather than taken from onsim.
fn closed(x: NaiveDate) -> bool {
    matches!(x.weekday(), Weekday::Sat | Weekday::Sun)
        || ["2025-09-15", "2025-09-23", "2025-10-13"].contains(&x.to_string().as_str())
}

fn open_on_or_after(mut x: NaiveDate) -> NaiveDate {
    while closed(x) {
        x = x.succ_opt().unwrap();
    }
    x
}

fn business_days_after(mut x: NaiveDate, n: u32) -> NaiveDate {
    for _ in 0..n {
        x = open_on_or_after(x.succ_opt().unwrap());
    }
    x
}

/// The last system-vendor visit before designation: the first on the planned day
/// (15th of M−1, rolled to an open day), then every 3 business days (the scenario's
/// `retry_after` default). The reader, delivered at 10:00, must be in hand by 09:00 of
/// a visit, i.e. delivered the day before it at the latest.
fn last_visit_before(designation: NaiveDate) -> NaiveDate {
    let mut visit = open_on_or_after(d("2025-09-15"));
    let mut last = visit;
    while visit < designation {
        last = visit;
        visit = business_days_after(visit, 3);
    }
    last
}

/// Φ by Simpson's rule on the standard normal density (error far below 1e-9).
fn phi(z: f64) -> f64 {
    let (a, n) = (-12.0_f64, 200_000);
    if z <= a {
        return 0.0;
    }
    let h = (z - a) / n as f64;
    let f = |x: f64| (-x * x / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let mut s = f(a) + f(z);
    for i in 1..n {
        s += f(a + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
    }
    s * h / 3.0
}

/// P(online on the designation day | reader ordered on `order`): the lead L ~
/// lognormal(mu, sigma) is rounded to whole days, so the reader is in time when
/// order + round(L) <= last visit − 1, i.e. L < last visit − order − 0.5.
fn p_exact(order: NaiveDate) -> f64 {
    let (mu, sigma) = (4.605170186_f64, 0.12_f64);
    let last = last_visit_before(d("2025-10-01"));
    let room = (last - order).num_days() as f64 - 0.5;
    if room <= 0.0 {
        return 0.0;
    }
    phi((room.ln() - mu) / sigma)
}

/// The latest order date with P >= target.
fn latest_exact(target: f64) -> NaiveDate {
    let mut o = d("2025-09-30");
    while p_exact(o) < target {
        o = o.pred_opt().unwrap();
    }
    o
}

#[test]
fn the_calendar_gives_the_documented_visits() {
    // 09-15 is 敬老の日 → 09-16; +3 → 09-19; 09-22, (09-23 秋分の日), 09-24, 09-25;
    // 09-26, 09-29, 09-30; the next, 10-03, is after designation.
    assert_eq!(last_visit_before(d("2025-10-01")), d("2025-09-30"));
    assert_eq!(latest_exact(0.95), d("2025-05-30"));
    assert!(p_exact(d("2025-05-30")) > 0.954 && p_exact(d("2025-05-31")) < 0.948);
}

fn solve(runs: &str, threads: &str) -> Output {
    let s = scenario();
    onsim(&[
        "solve",
        s.to_str().unwrap(),
        "--var",
        "plan.reader_order",
        "--from",
        "2025-04-01",
        "--to",
        "2025-07-31",
        "--target",
        "online-on-designation-day>=0.95",
        "--runs",
        runs,
        "--seed",
        "1",
        "--threads",
        threads,
    ])
}

#[test]
fn solve_agrees_with_the_exact_answer_within_its_interval() {
    let o = solve("10000", "2");
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let date = |x: &serde_json::Value| d(x.as_str().unwrap_or_else(|| panic!("{x}")));
    assert_eq!(v["status"], "found");
    assert_eq!(v["direction"], "decreasing");
    assert_eq!(v["seek"], "largest");
    assert_eq!(v["monotone"], true);
    let exact = latest_exact(0.95);
    let answer = date(&v["answer"]["value"]);
    let lo = date(&v["interval"]["confident"]);
    let hi = date(&v["interval"]["plausible"]);
    assert!(
        lo <= exact && exact <= hi,
        "exact {exact} outside [{lo}, {hi}] (answer {answer})"
    );
    assert!(lo <= answer && answer <= hi);
    assert!((hi - lo).num_days() <= 6, "interval [{lo}, {hi}] too wide");
    // Every value tried: the estimate within 4.5 standard errors of the exact P (each
    // evaluation is 10,000 runs; the chance of a miss is below 1e-5 per value).
    let evals = v["evaluations"].as_array().unwrap();
    assert!(evals.len() >= 6 && evals.len() < 40, "{}", evals.len());
    for e in evals {
        let p = p_exact(date(&e["value"]));
        let est = e["p"].as_f64().unwrap();
        let se = (p * (1.0 - p) / 10_000.0).sqrt().max(1e-4);
        assert!(
            (est - p).abs() <= 4.5 * se,
            "{}: estimate {est}, exact {p}",
            e["value"]
        );
    }
}

#[test]
fn same_bytes_for_any_thread_count_and_unreachable_exits_1() {
    let a = solve("2000", "1");
    let b = solve("2000", "2");
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
    let s = scenario();
    let o = onsim(&[
        "solve",
        s.to_str().unwrap(),
        "--var",
        "plan.reader_order",
        "--from",
        "2025-07-01",
        "--to",
        "2025-08-31",
        "--target",
        "online-on-designation-day>=0.95",
        "--runs",
        "500",
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["status"], "unreachable");
    assert!(v["answer"].is_null());
}

#[test]
fn bad_input_exits_2_naming_what() {
    let s = scenario();
    let s = s.to_str().unwrap();
    let base = |var: &str, from: &str, to: &str, target: &str| {
        onsim(&[
            "solve", s, "--var", var, "--from", from, "--to", to, "--target", target, "--runs",
            "10",
        ])
    };
    for (o, want) in [
        (
            base(
                "plan.reader_order",
                "2025-04-01",
                "2025-07-31",
                "online>=0.9",
            ),
            "unknown outcome \"online\"",
        ),
        (
            base("plan.reader_order", "2025-04-01", "7", "online-late>=0.9"),
            "both must be dates",
        ),
        (
            base(
                "plan.reader_ordr",
                "2025-04-01",
                "2025-07-31",
                "online-late>=0.9",
            ),
            "plan.reader_ordr=2025-04-01",
        ),
        (
            base("plan.reader_order", "1", "5", "online-late>=0.9"),
            "plan.reader_order=1",
        ),
        (
            base(
                "plan.reader_order",
                "2025-04-01",
                "2025-07-31",
                "online-late>=1.5",
            ),
            "strictly between",
        ),
    ] {
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(want), "want {want:?} in {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
