//! Reports of a run: the JSON timeline, JUnit XML, and a Markdown summary. All are
//! deterministic (no wall-clock times, no paths other than the ones given) so the
//! same scenarios, seeds and version give byte-identical files.

use serde::Serialize;

use crate::runner::RunResult;
use crate::scenario::Scenario;

/// One scenario's entry in the JSON report.
#[derive(Debug, Serialize)]
pub struct ScenarioReport<'a> {
    pub file: &'a str,
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    pub rules: &'a str,
    pub bureau: &'a str,
    pub designation: chrono::NaiveDate,
    pub seed: u64,
    #[serde(flatten)]
    pub result: &'a RunResult,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
}

#[derive(Debug, Serialize)]
pub struct RunReport<'a> {
    pub onsim_version: &'static str,
    pub summary: Summary,
    pub scenarios: Vec<ScenarioReport<'a>>,
}

pub fn summary(results: &[(Scenario, RunResult)]) -> Summary {
    let passed = results.iter().filter(|(_, r)| r.passed).count();
    Summary {
        total: results.len(),
        passed,
        failed: results.len() - passed,
    }
}

pub fn json(results: &[(Scenario, RunResult)]) -> String {
    let report = RunReport {
        onsim_version: env!("CARGO_PKG_VERSION"),
        summary: summary(results),
        scenarios: results
            .iter()
            .map(|(s, r)| ScenarioReport {
                file: &s.file,
                name: &s.spec.scenario.name,
                description: s.spec.scenario.description.as_deref(),
                rules: s.spec.scenario.rules.id(),
                bureau: s.bureau.id(),
                designation: s.spec.clinic.designation,
                seed: s.spec.scenario.seed,
                result: r,
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&report).expect("report serializes");
    text.push('\n');
    text
}

pub fn junit(results: &[(Scenario, RunResult)]) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("onsim");
    let mut suite = TestSuite::new("scenarios");
    for (s, r) in results {
        let status = if r.passed {
            TestCaseStatus::success()
        } else {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let failed: Vec<String> = r
                .checks
                .iter()
                .filter(|c| !c.passed)
                .map(|c| {
                    format!(
                        "{}: {}",
                        c.expectation,
                        c.explanation.clone().unwrap_or_default()
                    )
                })
                .collect();
            st.set_message(format!("outcome {}", r.outcome.as_str()));
            st.set_description(failed.join("\n"));
            st
        };
        let mut case = TestCase::new(s.spec.scenario.name.clone(), status);
        case.set_classname(s.file.clone());
        suite.add_test_case(case);
    }
    report.add_test_suite(suite);
    report.to_string().expect("junit serializes")
}

pub fn markdown(results: &[(Scenario, RunResult)]) -> String {
    let sum = summary(results);
    let mut out = format!(
        "# onsim run\n\n{} scenarios: {} passed, {} failed\n\n| verdict | scenario | rules | bureau | designation | outcome |\n|---|---|---|---|---|---|\n",
        sum.total, sum.passed, sum.failed
    );
    for (s, r) in results {
        out.push_str(&format!(
            "| {} | `{}` | {} | {} | {} | {} |\n",
            if r.passed { "PASS" } else { "**FAIL**" },
            s.file,
            s.spec.scenario.rules,
            s.bureau.id(),
            s.spec.clinic.designation,
            r.outcome.as_str()
        ));
    }
    let deviations: Vec<String> = results
        .iter()
        .flat_map(|(s, r)| {
            r.schedule.iter().flat_map(|sch| &sch.deviations).map(|d| {
                format!(
                    "| `{}` | {} | {} | {} |\n",
                    s.file,
                    d.id.as_str(),
                    d.rule_date,
                    d.published_date
                )
            })
        })
        .collect();
    if !deviations.is_empty() {
        out.push_str("\n## Published tables: dates that differ from the rule\n\n| scenario | milestone | rule | published (used) |\n|---|---|---|---|\n");
        out.extend(deviations);
    }
    for (s, r) in results.iter().filter(|(_, r)| !r.passed) {
        out.push_str(&format!("\n## FAIL {}\n\n", s.file));
        for c in r.checks.iter().filter(|c| !c.passed) {
            out.push_str(&format!(
                "- {}\n\n```\n{}\n```\n",
                c.expectation,
                c.explanation.clone().unwrap_or_default()
            ));
        }
    }
    out
}
