//! The report of one or several conformance runs: JSON, JUnit XML and the harness
//! log, written atomically into the evidence folder.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::judge::CheckResult;

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub client: String,
    pub passed: bool,
    /// checks_passed / checks_total.
    pub score: f64,
    pub checks_passed: usize,
    pub checks_total: usize,
    /// Requirements the gate does not exercise (not in the score).
    #[serde(skip_serializing_if = "is_zero")]
    pub checks_skipped: usize,
    /// The gate's name (`builtin` unless `--scenario`).
    pub gate: String,
    pub failed_requirements: Vec<String>,
    pub checks: Vec<CheckResult>,
    pub exit_status: Option<i32>,
    pub timed_out: bool,
    pub duration_ms: u128,
    pub evidence_dir: PathBuf,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// JUnit XML: one suite per client, one case per requirement.
pub fn junit(reports: &[RunReport]) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("onsim-conformance");
    for r in reports {
        let mut suite = TestSuite::new(format!("conformance: {}", r.client));
        for c in &r.checks {
            let status = if c.skipped {
                let mut st = TestCaseStatus::skipped();
                st.set_message(c.detail.clone());
                st
            } else if c.passed {
                TestCaseStatus::success()
            } else {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                st.set_message(c.detail.clone());
                st
            };
            let mut case = TestCase::new(c.id.clone(), status);
            case.set_classname(format!("conformance.{}", r.client));
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report.to_string().unwrap_or_default()
}

/// Write the harness log, `report.json` and `junit.xml` into the evidence folder,
/// each atomically (a reader never sees half a report).
pub fn write(out: &Path, log: &str, report: &RunReport) -> Result<(), String> {
    let put = |name: &str, bytes: &[u8]| {
        let p = out.join(name);
        crate::output::write_atomic(&p, bytes).map_err(|e| e.to_string())
    };
    put("harness.log", log.as_bytes())?;
    put(
        "report.json",
        &serde_json::to_vec_pretty(report).map_err(|e| e.to_string())?,
    )?;
    put("junit.xml", junit(std::slice::from_ref(report)).as_bytes())
}
