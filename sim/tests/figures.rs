//! `onsim figures` and `sweep --report-dir`'s figures through the built binary: the
//! CSVs carry the sweep JSON's numbers, the SVGs are XML with their axis labels in
//! English and Japanese, the PNGs are PNGs, the bytes are deterministic, and bad input
//! exits 2 naming what is wrong. Also the counterfactual calendar (`[scenario]
//! calendar`): a key a sweep can vary, that moves deadlines when holidays are gone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_onsim");

fn scenario() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/sweeps/r2024-standard.toml")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("onsim-figures-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn onsim(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("onsim runs")
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn usage_error(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// A small two-key sweep (rules × reader lead shift), its JSON path.
fn sweep(dir: &Path) -> PathBuf {
    let out = dir.join("sweep.json");
    ok(&onsim(&[
        "sweep",
        scenario().to_str().unwrap(),
        "--runs",
        "300",
        "--seed",
        "3",
        "--vary",
        "scenario.rules=r2021,r2024",
        "--vary",
        "actors.reader_vendor.lead.shift=+0d,+15d",
        "--out",
        out.to_str().unwrap(),
    ]));
    out
}

fn figures(json: &Path, out: &Path, lang: &str) {
    ok(&onsim(&[
        "figures",
        json.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--lang",
        lang,
    ]));
}

fn rows(p: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(p).unwrap();
    r.deserialize().map(|x| x.unwrap()).collect()
}

fn f(s: &str) -> f64 {
    s.parse().unwrap()
}

/// The SVG is well-formed XML; returns its text content.
fn svg_text(p: &Path) -> String {
    let bytes = std::fs::read(p).unwrap();
    let mut r = quick_xml::Reader::from_reader(&bytes[..]);
    let mut buf = Vec::new();
    let mut text = String::new();
    let mut root = None;
    loop {
        match r.read_event_into(&mut buf) {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(quick_xml::events::Event::Start(e)) => {
                root.get_or_insert_with(|| String::from_utf8_lossy(e.name().as_ref()).to_string());
            }
            Ok(quick_xml::events::Event::Text(t)) => {
                text.push_str(&t.decode().unwrap());
            }
            Ok(quick_xml::events::Event::GeneralRef(g)) => {
                let name = g.decode().unwrap();
                text.push_str(quick_xml::escape::resolve_xml_entity(&name).unwrap_or("?"));
            }
            Ok(quick_xml::events::Event::End(_)) => text.push('\n'),
            Ok(_) => {}
            Err(e) => panic!("{}: not XML: {e}", p.display()),
        }
        buf.clear();
    }
    assert_eq!(root.as_deref(), Some("svg"), "{}", p.display());
    text
}

#[test]
fn csv_matches_the_sweep_json_and_charts_are_svg_png() {
    let dir = tmp("main");
    let json_path = sweep(&dir);
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    let en = dir.join("en");
    figures(&json_path, &en, "en");
    let variants = json["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 4);

    // P against each varied key: one row per variant with the JSON's p and interval.
    for key in ["scenario.rules", "actors.reader_vendor.lead.shift"] {
        let rs = rows(&en.join(format!("p-{key}.csv")));
        assert_eq!(rs.len(), 4, "{key}");
        for r in &rs {
            let v = variants
                .iter()
                .find(|v| v["label"] == r["variant"].as_str())
                .unwrap_or_else(|| panic!("no variant {}", r["variant"]));
            assert_eq!(v["settings"][key], r["value"].as_str());
            let o = v["outcomes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|o| o["outcome"] == "online-on-designation-day")
                .unwrap();
            assert_eq!(f(&r["p"]), o["p"].as_f64().unwrap());
            assert_eq!(f(&r["ci_low"]), o["ci95"][0].as_f64().unwrap());
            assert_eq!(f(&r["ci_high"]), o["ci95"][1].as_f64().unwrap());
            assert_eq!(r["count"], o["count"].to_string());
            assert_eq!(r["runs"], v["runs"].to_string());
        }
    }
    // Shifts are numbers on the x axis, rule sets are names at 0, 1.
    let shift = rows(&en.join("p-actors.reader_vendor.lead.shift.csv"));
    assert!(shift
        .iter()
        .any(|r| r["value"] == "+15d" && f(&r["x"]) == 15.0));

    // Survival: at each histogram bin d, the runs above d (never-online included).
    let surv = rows(&en.join("start-delay-ccdf.csv"));
    for v in variants {
        let label = v["label"].as_str().unwrap();
        let sd = &v["start_delay"];
        let never = sd["never"].as_u64().unwrap();
        let n = sd["online"].as_u64().unwrap() + never;
        let hist: Vec<(i64, u64)> = sd["histogram"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| (b[0].as_i64().unwrap(), b[1].as_u64().unwrap()))
            .collect();
        let mine: Vec<_> = surv.iter().filter(|r| r["variant"] == label).collect();
        assert_eq!(mine.len(), hist.len() + 1, "{label}");
        assert_eq!(f(&mine[0]["p_exceed"]), 1.0);
        for r in &mine {
            let d: i64 = r["d"].parse().unwrap();
            let above: u64 = hist
                .iter()
                .filter(|(x, _)| *x > d)
                .map(|(_, c)| c)
                .sum::<u64>()
                + never;
            assert_eq!(r["exceed"], above.to_string(), "{label} d={d}");
            assert_eq!(r["runs"], n.to_string());
            assert!(f(&r["ci_low"]) <= f(&r["p_exceed"]) && f(&r["p_exceed"]) <= f(&r["ci_high"]));
        }
    }

    // Critical path: the JSON's counts and shares, every cause any variant saw.
    let crit = rows(&en.join("critical-path.csv"));
    assert!(!crit.is_empty());
    for v in variants {
        let cp = &v["critical_path"];
        for c in cp["causes"].as_array().unwrap() {
            if c["count"].as_u64().unwrap() == 0 {
                continue;
            }
            let r = crit
                .iter()
                .find(|r| v["label"] == r["variant"].as_str() && c["cause"] == r["cause"].as_str())
                .unwrap_or_else(|| panic!("{} {} missing", v["label"], c["cause"]));
            assert_eq!(r["count"], c["count"].to_string());
            assert_eq!(f(&r["share"]), c["share"].as_f64().unwrap());
            assert_eq!(
                r["runs_not_online_on_day_one"],
                cp["runs_not_online_on_day_one"].to_string()
            );
            assert!(f(&r["ci_low"]) <= f(&r["share"]) && f(&r["share"]) <= f(&r["ci_high"]));
        }
    }

    // SVG: XML with its axis labels; PNG: the signature and a real image.
    let t = svg_text(&en.join("p-scenario.rules.svg"));
    assert!(t.contains("probability (band: Wilson 95% interval)"), "{t}");
    assert!(t.contains("scenario.rules") && t.contains("r2021") && t.contains("r2024"));
    let t = svg_text(&en.join("start-delay-ccdf.svg"));
    assert!(t.contains("P(delay > d)"), "{t}");
    assert!(t.contains("calendar days") || t.contains("business days"));
    let t = svg_text(&en.join("critical-path.svg"));
    assert!(t.contains("share of runs not online on day 1"), "{t}");
    for name in [
        "p-scenario.rules",
        "p-actors.reader_vendor.lead.shift",
        "start-delay-ccdf",
        "critical-path",
    ] {
        let png = std::fs::read(en.join(format!("{name}.png"))).unwrap();
        assert!(png.len() > 10_000, "{name}: {} bytes", png.len());
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{name}");
    }

    // Japanese labels.
    let ja = dir.join("ja");
    figures(&json_path, &ja, "ja");
    let t = svg_text(&ja.join("p-scenario.rules.svg"));
    assert!(t.contains("確率（帯：Wilson 95%信頼区間）"), "{t}");
    assert!(t.contains("指定日に運用開始"), "{t}");
    let t = svg_text(&ja.join("critical-path.svg"));
    assert!(t.contains("指定日に運用開始できなかった理由"), "{t}");
    assert!(svg_text(&ja.join("start-delay-ccdf.svg")).contains("対数目盛"));
    // Same numbers whatever the language.
    assert_eq!(
        std::fs::read(en.join("critical-path.csv")).unwrap(),
        std::fs::read(ja.join("critical-path.csv")).unwrap()
    );

    // Deterministic: a second run writes the same bytes (SVG, PNG, CSV).
    let again = dir.join("again");
    figures(&json_path, &again, "en");
    let mut names: Vec<_> = std::fs::read_dir(&en)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names.len(), 12);
    for n in names {
        assert_eq!(
            std::fs::read(en.join(&n)).unwrap(),
            std::fs::read(again.join(&n)).unwrap(),
            "{n:?}"
        );
    }
}

#[test]
fn report_dir_writes_figures_too() {
    let dir = tmp("report");
    let rd = dir.join("rd");
    ok(&onsim(&[
        "sweep",
        scenario().to_str().unwrap(),
        "--runs",
        "100",
        "--report-dir",
        rd.to_str().unwrap(),
        "--out",
        dir.join("s.json").to_str().unwrap(),
    ]));
    // No --vary: no P chart, the other two.
    for n in ["start-delay-ccdf", "critical-path"] {
        for ext in ["svg", "png", "csv"] {
            assert!(
                rd.join("figures").join(format!("{n}.{ext}")).is_file(),
                "{n}.{ext}"
            );
        }
    }
    assert!(!rd.join("figures").join("p-scenario.rules.svg").exists());
}

#[test]
fn bad_input_exits_2_naming_it() {
    let dir = tmp("bad");
    let junk = dir.join("junk.json");
    std::fs::write(&junk, "{\"format\": 1,\n  oops").unwrap();
    let err = usage_error(&onsim(&[
        "figures",
        junk.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
    ]));
    assert!(
        err.contains("junk.json:") && err.contains("not an onsim sweep result"),
        "{err}"
    );
    let err = usage_error(&onsim(&[
        "figures",
        dir.join("none.json").to_str().unwrap(),
        "--out",
        "x",
    ]));
    assert!(err.contains("none.json"), "{err}");
    let json = sweep(&dir);
    let err = usage_error(&onsim(&[
        "figures",
        json.to_str().unwrap(),
        "--out",
        dir.join("o").to_str().unwrap(),
        "--outcome",
        "online-soon",
    ]));
    assert!(
        err.contains("--outcome") && err.contains("online-late"),
        "{err}"
    );
    let err = usage_error(&onsim(&[
        "figures",
        json.to_str().unwrap(),
        "--out",
        dir.join("o").to_str().unwrap(),
        "--font",
        junk.to_str().unwrap(),
    ]));
    assert!(err.contains("--font") && err.contains("junk.json"), "{err}");
    let err = usage_error(&onsim(&[
        "figures",
        json.to_str().unwrap(),
        "--out",
        "x",
        "--lang",
        "fr",
    ]));
    assert!(err.contains("fr"), "{err}");
}

#[test]
fn counterfactual_calendar_is_a_key_a_sweep_varies() {
    let dir = tmp("calendar");
    let out = dir.join("cal.json");
    ok(&onsim(&[
        "sweep",
        scenario().to_str().unwrap(),
        "--runs",
        "400",
        "--seed",
        "7",
        "--vary",
        "scenario.calendar=standard,no-holidays,weekends-only",
        "--paired",
        "--out",
        out.to_str().unwrap(),
    ]));
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let labels: Vec<&str> = json["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "scenario.calendar=standard",
            "scenario.calendar=no-holidays",
            "scenario.calendar=weekends-only"
        ]
    );
    assert!(json["paired"].is_object());
    // A bad kind is a usage error naming the key and the kinds there are.
    let bad = dir.join("bad.toml");
    let text = std::fs::read_to_string(scenario()).unwrap();
    std::fs::write(
        &bad,
        text.replacen(
            "seed = 20250601",
            "seed = 20250601\ncalendar = \"no-sundays\"",
            1,
        ),
    )
    .unwrap();
    let err = usage_error(&onsim(&["validate", bad.to_str().unwrap()]));
    assert!(
        err.contains("bad.toml:") && err.contains("no-holidays"),
        "{err}"
    );
}

/// Without national holidays the r2024 deadlines of an October designation move (the
/// bureau's answer on "the 10th or the next open day": 2025-08-10 is a Sunday, the 11th
/// 山の日), without the year-end closure those of a February one; the standard
/// calendar is the default.
#[test]
fn counterfactual_calendars_move_deadlines() {
    let text = std::fs::read_to_string(scenario()).unwrap();
    let with = |designation: &str, cal: Option<&str>| {
        let mut t = text.replacen(
            "designation = 2025-06-01",
            &format!("designation = {designation}"),
            1,
        );
        if let Some(c) = cal {
            t = t.replacen(
                "seed = 20250601",
                &format!("seed = 20250601\ncalendar = \"{c}\""),
                1,
            );
        }
        let s = sim::scenario::parse("x.toml", &t).unwrap();
        let p = sim::runner::prepare(&s).unwrap();
        p.schedule
            .milestones
            .iter()
            .map(|m| (format!("{:?}", m.id), m.date))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        with("2025-10-01", None),
        with("2025-10-01", Some("standard"))
    );
    let answer = |m: &[(String, chrono::NaiveDate)]| {
        m.iter()
            .find(|(id, _)| id == "BureauAnswerDispatch")
            .map(|(_, d)| d.to_string())
    };
    assert_eq!(
        answer(&with("2025-10-01", None)).as_deref(),
        Some("2025-08-12")
    );
    assert_eq!(
        answer(&with("2025-10-01", Some("no-holidays"))).as_deref(),
        Some("2025-08-11")
    );
    assert_eq!(
        with("2025-10-01", Some("no-holidays")),
        with("2025-10-01", Some("weekends-only"))
    );
    assert_eq!(
        with("2025-10-01", None),
        with("2025-10-01", Some("no-year-end"))
    );
    assert_ne!(
        with("2026-02-01", None),
        with("2026-02-01", Some("no-year-end"))
    );
}
