//! `--target OUTCOME[+OUTCOME...]>=P` (or `<=P`): which outcomes count and the
//! probability they must reach (or stay under).

use serde::{Deserialize, Serialize};

use crate::scenario::Outcome;
use crate::sweep::{wilson, OUTCOMES};

/// `>=` (reach at least) or `<=` (stay at most).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    #[serde(rename = ">=")]
    AtLeast,
    #[serde(rename = "<=")]
    AtMost,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::AtLeast => ">=",
            Op::AtMost => "<=",
        }
    }
}

/// Outcome ids joined by `+` (`online-on-designation-day+limited-type-ready`),
/// each checked, none twice.
pub fn parse_outcomes(s: &str) -> Result<Vec<String>, String> {
    let mut outcomes: Vec<String> = Vec::new();
    for word in s.split('+') {
        let w = word.trim();
        if !OUTCOMES.iter().any(|o| o.as_str() == w) {
            let known: Vec<&str> = OUTCOMES.iter().map(|o| o.as_str()).collect();
            return Err(format!(
                "unknown outcome {w:?}; one of {}",
                known.join(", ")
            ));
        }
        if outcomes.iter().any(|o| o == w) {
            return Err(format!("outcome {w:?} given twice"));
        }
        outcomes.push(w.to_string());
    }
    Ok(outcomes)
}

/// A target probability for a set of outcomes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// Outcome ids, in the order given.
    pub outcomes: Vec<String>,
    pub op: Op,
    pub p: f64,
}

impl Target {
    /// Parse `online-on-designation-day>=0.95`, `online-on-designation-day+limited-type-ready>=95%`
    /// or `not-online<=0.01`.
    pub fn parse(s: &str) -> Result<Target, String> {
        let (lhs, op, rhs) = if let Some((l, r)) = s.split_once(">=") {
            (l, Op::AtLeast, r)
        } else if let Some((l, r)) = s.split_once("<=") {
            (l, Op::AtMost, r)
        } else {
            return Err(format!(
                "--target {s:?}: expected OUTCOME>=P or OUTCOME<=P (e.g. online-on-designation-day>=0.95)"
            ));
        };
        let rhs = rhs.trim();
        let p = match rhs.strip_suffix('%') {
            Some(pct) => pct.trim().parse::<f64>().map(|x| x / 100.0),
            None => rhs.parse::<f64>(),
        }
        .map_err(|_| format!("--target {s:?}: {rhs:?} is not a probability (0.95 or 95%)"))?;
        if !(p > 0.0 && p < 1.0) {
            return Err(format!(
                "--target {s:?}: the probability must lie strictly between 0 and 1 (got {p})"
            ));
        }
        let outcomes = parse_outcomes(lhs).map_err(|e| format!("--target {s:?}: {e}"))?;
        Ok(Target { outcomes, op, p })
    }

    /// Does this outcome count?
    pub fn counts(&self, o: Outcome) -> bool {
        self.outcomes.iter().any(|x| x == o.as_str())
    }

    /// Runs counted among the per-outcome counts (in [`OUTCOMES`] order).
    pub fn count(&self, outcomes: &[u64]) -> u64 {
        OUTCOMES
            .iter()
            .zip(outcomes)
            .filter(|(o, _)| self.counts(**o))
            .map(|(_, c)| *c)
            .sum()
    }

    /// The three verdicts for `k` of `n`: the estimate meets the target, the whole
    /// Wilson 95 % interval meets it (confidently), some of it does (plausibly).
    pub fn verdicts(&self, k: u64, n: u64) -> Verdicts {
        let p = if n == 0 { 0.0 } else { k as f64 / n as f64 };
        let [lo, hi] = wilson(k, n);
        match self.op {
            Op::AtLeast => Verdicts {
                estimate: p >= self.p,
                confident: lo >= self.p,
                plausible: hi >= self.p,
            },
            Op::AtMost => Verdicts {
                estimate: p <= self.p,
                confident: hi <= self.p,
                plausible: lo <= self.p,
            },
        }
    }

    pub fn spec(&self) -> String {
        format!("{}{}{}", self.outcomes.join("+"), self.op.as_str(), self.p)
    }
}

/// What an evaluation says about the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdicts {
    pub estimate: bool,
    pub confident: bool,
    pub plausible: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets() {
        let t = Target::parse("online-on-designation-day>=0.95").unwrap();
        assert_eq!(t.op, Op::AtLeast);
        assert_eq!(t.p, 0.95);
        let t = Target::parse("online-on-designation-day + limited-type-ready >= 90%").unwrap();
        assert_eq!(t.outcomes.len(), 2);
        assert!((t.p - 0.9).abs() < 1e-12);
        assert!(t.counts(Outcome::LimitedTypeReady));
        assert!(!t.counts(Outcome::OnlineLate));
        let t = Target::parse("not-online<=0.01").unwrap();
        assert_eq!(t.op, Op::AtMost);
    }

    #[test]
    fn bad_targets_say_why() {
        for (s, want) in [
            ("online", "expected OUTCOME>=P"),
            ("online-late>=x", "not a probability"),
            ("online-late>=1", "strictly between"),
            ("online-late>=0", "strictly between"),
            ("onlin>=0.5", "unknown outcome \"onlin\""),
            ("online-late+online-late>=0.5", "given twice"),
        ] {
            let e = Target::parse(s).unwrap_err();
            assert!(e.contains(want), "{s}: {e}");
        }
    }

    #[test]
    fn verdicts_follow_the_wilson_interval() {
        let t = Target::parse("online-late>=0.5").unwrap();
        // 50/100: 0.4038–0.5962.
        let v = t.verdicts(50, 100);
        assert!(v.estimate && !v.confident && v.plausible);
        let v = t.verdicts(70, 100);
        assert!(v.estimate && v.confident && v.plausible);
        let v = t.verdicts(30, 100);
        assert!(!v.estimate && !v.confident && !v.plausible);
        let t = Target::parse("online-late<=0.5").unwrap();
        let v = t.verdicts(50, 100);
        assert!(v.estimate && !v.confident && v.plausible);
        let v = t.verdicts(30, 100);
        assert!(v.confident);
    }
}
