//! The HTML reports: structure (self-contained, escaped, deterministic), and — when
//! Chromium is installed — that a headless browser renders them (scripts/html-check).

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_onsim");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("onsim-html-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run_report(dir: &Path, scenarios: &[&Path]) -> String {
    let mut c = Command::new(BIN);
    c.arg("run");
    for s in scenarios {
        c.arg(s);
    }
    let o = c.arg("--report-dir").arg(dir).output().unwrap();
    assert!(
        matches!(o.status.code(), Some(0) | Some(1)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::read_to_string(dir.join("report.html")).unwrap()
}

fn self_contained(html: &str) {
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.trim_end().ends_with("</html>"));
    assert!(html.contains("<meta charset=\"utf-8\">"));
    let svg_ns = html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count();
    for bad in [
        "<script", "http://", "https://", "<link", "@import", "src=\"", "url(",
    ] {
        // The SVG namespace is an identifier, not a fetch.
        let allowed = if bad == "http://" { svg_ns } else { 0 };
        assert_eq!(
            html.matches(bad).count(),
            allowed,
            "the report refers to {bad}"
        );
    }
    // Every element opened is closed (a coarse balance check of the main tags).
    for tag in ["section", "svg", "table", "g", "ul", "details", "figure"] {
        let open =
            html.matches(&format!("<{tag} ")).count() + html.matches(&format!("<{tag}>")).count();
        let close = html.matches(&format!("</{tag}>")).count();
        assert_eq!(open, close, "<{tag}> opened {open} times, closed {close}");
    }
}

#[test]
fn run_report_has_timeline_milestones_closed_days_and_verdicts() {
    let d = tmp("run");
    let s = root().join("scenarios/sweeps/r2024-standard.toml");
    let html = run_report(&d, &[&s]);
    self_contained(&html);
    assert!(html.contains("class=\"gantt\""));
    for actor in [
        "clinic",
        "bureau",
        "implementing-body",
        "reader-vendor",
        "carrier",
        "system-vendor",
    ] {
        assert!(html.contains(&format!(">{actor}</text>")), "lane {actor}");
    }
    assert!(html.contains("class=\"milestone\""));
    assert!(html.contains("implementing-body-deadline"));
    assert!(html.contains("class=\"closed\""));
    assert!(
        html.contains("holiday: "),
        "national holidays are shaded and named"
    );
    assert!(html.contains("badge pass"));
    // Deterministic: the same run gives the same bytes.
    let d2 = tmp("run2");
    assert_eq!(html, run_report(&d2, &[&s]));
    let _ = std::fs::remove_dir_all(&d);
    let _ = std::fs::remove_dir_all(&d2);
}

#[test]
fn failing_expectations_are_shown_and_text_is_escaped() {
    let d = tmp("fail");
    let text = std::fs::read_to_string(root().join("scenarios/happy/r2024-medical-tokyo.toml"))
        .unwrap()
        .replace(
            "name = \"r2024 medical clinic, Tokyo, recommended plan\"",
            "name = \"<b>evil</b> & \\\"quoted\\\"\"",
        )
        .replace(
            "outcome = \"online-on-designation-day\"",
            "outcome = \"request-returned\"",
        );
    let f = d.join("failing.toml");
    std::fs::write(&f, text).unwrap();
    let html = run_report(&d, &[&f]);
    self_contained(&html);
    assert!(!html.contains("<b>evil</b>"));
    assert!(html.contains("&lt;b&gt;evil&lt;/b&gt; &amp; &quot;quoted&quot;"));
    assert!(html.contains("badge fail"));
    assert!(html.contains("check-fail"));
    assert!(html.contains("class=\"explanation\""));
    assert!(html.contains("expected outcome request-returned"));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn sweep_report_has_histograms_cdf_and_slack() {
    let d = tmp("sweep");
    let s = root().join("scenarios/sweeps/r2024-standard.toml");
    let o = Command::new(BIN)
        .args(["sweep"])
        .arg(&s)
        .args([
            "--runs",
            "2000",
            "--vary",
            "scenario.rules=r2021,r2024",
            "--report-dir",
        ])
        .arg(&d)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(d.join("sweep.html")).unwrap();
    self_contained(&html);
    assert_eq!(html.matches("class=\"card variant\"").count(), 2);
    assert!(html.contains("class=\"cdf\""));
    assert!(html.matches("class=\"slack\"").count() >= 9);
    assert!(html.contains("Critical path"));
    let _ = std::fs::remove_dir_all(&d);
}

/// Renders both reports in headless Chromium (scripts/html-check). Skipped, with a
/// note, where Chromium is not installed; scripts/install-deps installs it.
#[test]
fn chromium_renders_the_reports() {
    let have = ["chromium", "chromium-browser"].iter().any(|b| {
        Command::new("sh")
            .args(["-c", &format!("command -v {b}")])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !have {
        // scripts/test installs Chromium and sets ONSIM_REQUIRE_CHROMIUM: there a
        // missing browser is a failure, never a silent pass.
        assert!(
            std::env::var_os("ONSIM_REQUIRE_CHROMIUM").is_none(),
            "chromium not installed but ONSIM_REQUIRE_CHROMIUM is set"
        );
        eprintln!("*** SKIPPED: chromium not installed (scripts/install-deps installs it)");
        return;
    }
    let d = tmp("chromium");
    let o = Command::new(root().join("scripts/html-check"))
        .arg(BIN)
        .arg(&d)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "scripts/html-check failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let _ = std::fs::remove_dir_all(&d);
}
