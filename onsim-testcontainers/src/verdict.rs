//! The verdict of `onsim serve --scenario` as typed values: `GET {control_url}/verdict`
//! while the container runs, and `verdict.json` in the state dir after it stopped.
//!
//! The shape is onsim's `sim::live::verdict::Verdict` (docs/vendors.md §1a). Unknown
//! keys are ignored, so a newer image that adds one still reads; a missing key the
//! module needs is [`crate::Error::Shape`] (or [`crate::Error::StateFile`] for the
//! file), naming it.

use serde::Deserialize;
use serde_json::Value;

/// How one `[[expect]]` of the scenario fared.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckStatus {
    Passed,
    Failed,
    /// Not judged: the check names what only the clinic's first patient shows, and
    /// the system under test plays the clinic.
    NotJudged,
}

/// One `[[expect]]` and how it fared.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Check {
    /// The expectation as onsim writes it, e.g. `outcome = online-late`.
    pub expectation: String,
    pub status: CheckStatus,
    /// Why it failed (or was not judged).
    #[serde(default)]
    pub explanation: Option<String>,
}

/// The scenario's expectations judged against what happened up to [`Verdict::now`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Verdict {
    /// The onsim version that judged.
    pub onsim_version: String,
    /// The scenario file (as given to `--scenario`).
    pub scenario: String,
    /// The scenario's `name`.
    pub name: String,
    /// Who plays the clinic: `system-under-test` or `onsim`.
    pub clinic: String,
    /// The virtual instant judged, `YYYY-MM-DDTHH:MM`.
    pub now: String,
    /// No later event can change the verdict.
    pub settled: bool,
    /// Every judged check passed and at least one was judged.
    pub passed: bool,
    /// The clinic's outcome so far, e.g. `online-on-time`, `online-late`, `not-online`.
    pub outcome: String,
    /// The day the clinic went online, `YYYY-MM-DD`.
    #[serde(default)]
    pub online_start: Option<String>,
    pub checks: Vec<Check>,
    /// Every event up to `now` (only when asked for with `?timeline=1`).
    #[serde(default)]
    pub timeline: Vec<Value>,
    /// The whole JSON as onsim sent it.
    #[serde(skip)]
    pub raw: Value,
}

impl Verdict {
    /// Read a verdict from onsim's JSON; `Err` names what is missing or mistyped.
    pub fn from_json(raw: Value) -> Result<Verdict, String> {
        let mut v: Verdict = serde_json::from_value(raw.clone()).map_err(|e| e.to_string())?;
        v.raw = raw;
        Ok(v)
    }

    /// The checks that failed.
    pub fn failed(&self) -> impl Iterator<Item = &Check> {
        self.checks
            .iter()
            .filter(|c| c.status == CheckStatus::Failed)
    }
}

/// How a stopped `onsim serve --scenario` ended: its exit code (0 passed, 1 failed,
/// as `onsim run`) and the verdict it wrote into the state dir on shutdown.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    pub exit_code: i64,
    pub verdict: Verdict,
    /// `verdict.junit.xml` as written, for a CI's test report.
    pub junit: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "onsim_version": "0.1.0",
            "scenario": "/scenario/outage.toml",
            "name": "r2024 carrier outage on the designation day",
            "clinic": "system-under-test",
            "now": "2025-07-03T09:00",
            "settled": true,
            "passed": false,
            "outcome": "online-late",
            "online_start": "2025-07-02",
            "checks": [
                {"expectation": "outcome = online-late", "status": "passed"},
                {"expectation": "happens first-patient-confirmed", "status": "not-judged",
                 "explanation": "only the clinic's first patient shows it"},
                {"expectation": "happens online-start by 2025-07-01", "status": "failed",
                 "explanation": "happened on 2025-07-02"}
            ],
            "a_key_from_a_newer_image": 1
        })
    }

    #[test]
    fn reads_onsims_shape_and_keeps_the_raw_json() {
        let v = Verdict::from_json(sample()).unwrap();
        assert!(!v.passed && v.settled);
        assert_eq!(v.outcome, "online-late");
        assert_eq!(v.online_start.as_deref(), Some("2025-07-02"));
        assert_eq!(v.checks[1].status, CheckStatus::NotJudged);
        let failed: Vec<_> = v.failed().map(|c| c.expectation.as_str()).collect();
        assert_eq!(failed, ["happens online-start by 2025-07-01"]);
        assert_eq!(v.raw["a_key_from_a_newer_image"], 1);
        assert!(v.timeline.is_empty());
    }

    #[test]
    fn a_missing_or_mistyped_key_is_named() {
        let mut j = sample();
        j.as_object_mut().unwrap().remove("passed");
        assert!(Verdict::from_json(j).unwrap_err().contains("passed"));
        let mut j = sample();
        j["checks"][0]["status"] = json!("maybe");
        assert!(Verdict::from_json(j).unwrap_err().contains("maybe"));
    }
}
