//! A conformance gate as a file (`onsim conformance --scenario FILE`): the limits the
//! client is given and the faults the harness steers during the run. The built-in
//! gate is such a file ([`BUILTIN`], `sim/conformance/builtin.toml`), so a vendor adds
//! its own cases by writing another, e.g. a longer outage, no card refusals, or a
//! terminal that answers slowly. Every key is described in docs/conformance-gate.md.
//!
//! A requirement whose fault a gate leaves out is reported *skipped* (not exercised),
//! never passed: a gate without an outage says nothing about REQ-RETRY.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::scenario::line_col;

/// The built-in gate's text.
pub const BUILTIN: &str = include_str!("../../conformance/builtin.toml");

/// Bounds on a gate's values *(our choice: wide enough for any real client, small
/// enough that a run always ends)*.
pub mod limits {
    pub const TIME_LIMIT_S: std::ops::RangeInclusive<u64> = 1..=600;
    pub const ANSWER_TIMEOUT_MS: std::ops::RangeInclusive<u64> = 10..=60_000;
    pub const MAX_ATTEMPTS: std::ops::RangeInclusive<u32> = 1..=100;
    pub const RETRY_MIN_INTERVAL_MS: std::ops::RangeInclusive<u64> = 0..=60_000;
    pub const OUTAGE_MAX_MS: std::ops::RangeInclusive<u64> = 100..=60_000;
    pub const ANSWER_DELAY_MS: std::ops::RangeInclusive<u64> = 0..=30_000;
}

/// A gate file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateFile {
    pub gate: Gate,
    #[serde(default, rename = "fault")]
    pub faults: Vec<GateFault>,
}

/// `[gate]`: what the gate is and the limits the client gets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Seeds the simulated population the tasks' patients come from.
    #[serde(default = "one")]
    pub seed: u64,
    /// The client is killed after this many seconds (`ONSIM_TIME_LIMIT_MS`).
    #[serde(default = "twenty")]
    pub time_limit_s: u64,
    /// `ONSIM_ANSWER_TIMEOUT_MS`.
    #[serde(default = "four_hundred")]
    pub answer_timeout_ms: u64,
    /// `ONSIM_MAX_ATTEMPTS`: most request files per task, first attempt included.
    #[serde(default = "five")]
    pub max_attempts: u32,
    /// `ONSIM_RETRY_MIN_INTERVAL_MS`.
    #[serde(default = "two_hundred")]
    pub retry_min_interval_ms: u64,
}

fn one() -> u64 {
    1
}
fn twenty() -> u64 {
    20
}
fn four_hundred() -> u64 {
    400
}
fn five() -> u32 {
    5
}
fn two_hundred() -> u64 {
    200
}
fn three_thousand() -> u64 {
    3000
}

/// `[[fault]]`: something the harness does to the client during the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum GateFault {
    /// The line to the implementing body is down when the client starts: the
    /// terminal takes the first task's request files (`attempts` of them) and answers
    /// nothing, so `res/` stays empty. The outage also ends when another task's
    /// request arrives or after `max_ms`. Exercises REQ-RETRY.
    Outage {
        attempts: u32,
        #[serde(default = "three_thousand")]
        max_ms: u64,
    },
    /// The reader drops a confirmation refused because the card's certificate
    /// expired (ProcessingResultCode C001) into `face/`: REQ-CARD-EXPIRED.
    CardExpired,
    /// The reader drops a confirmation refused because the PIN is locked
    /// (C002): REQ-CARD-LOCKED.
    CardLocked,
    /// The terminal answers every settled request no sooner than `delay_ms` after
    /// it is taken (a slow line or a busy implementing body).
    SlowAnswers { delay_ms: u64 },
}

/// A gate checked and ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct GateSpec {
    pub name: String,
    pub seed: u64,
    pub time_limit: Duration,
    pub answer_timeout: Duration,
    pub max_attempts: u32,
    pub retry_min_interval: Duration,
    /// `(attempts, max)` of the outage at the start; `None`: no outage.
    pub outage: Option<(usize, Duration)>,
    pub card_expired: bool,
    pub card_locked: bool,
    pub answer_delay: Duration,
}

impl GateSpec {
    /// The built-in gate.
    pub fn builtin() -> GateSpec {
        // The file ships inside the binary and a unit test parses it.
        parse("builtin.toml", BUILTIN).unwrap_or_else(|e| unreachable!("builtin gate: {e}"))
    }

    /// The card confirmations the reader drops, in order: a valid card always, then
    /// the refusals the gate asks for.
    pub fn face_statuses(&self) -> Vec<&'static str> {
        let mut v = vec!["valid"];
        if self.card_expired {
            v.push("card-expired");
        }
        if self.card_locked {
            v.push("card-locked");
        }
        v
    }
}

/// A gate file's error: where and what.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct GateError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Parse and check a gate file. `file` is only used in messages.
pub fn parse(file: &str, text: &str) -> Result<GateSpec, GateError> {
    let err = |(line, column): (usize, usize), message: String| GateError {
        file: file.into(),
        line,
        column,
        message,
    };
    let g: GateFile = toml::from_str(text).map_err(|e| {
        let at = e.span().map_or((1, 1), |s| line_col(text, s.start));
        let m = e.message().trim().replace('\n', ": ");
        err(
            at,
            if m.is_empty() {
                "TOML syntax error".into()
            } else {
                m
            },
        )
    })?;
    // Values are checked after parsing; the message names the key (its line is the
    // file's first, since the typed file keeps no spans).
    let at = (1, 1);
    let range = |key: &str, v: u64, r: std::ops::RangeInclusive<u64>| {
        if r.contains(&v) {
            Ok(())
        } else {
            Err(err(
                at,
                format!("{key} = {v}: must be {}..={}", r.start(), r.end()),
            ))
        }
    };
    range(
        "gate.time_limit_s",
        g.gate.time_limit_s,
        limits::TIME_LIMIT_S,
    )?;
    range(
        "gate.answer_timeout_ms",
        g.gate.answer_timeout_ms,
        limits::ANSWER_TIMEOUT_MS,
    )?;
    let ma = limits::MAX_ATTEMPTS;
    range(
        "gate.max_attempts",
        u64::from(g.gate.max_attempts),
        u64::from(*ma.start())..=u64::from(*ma.end()),
    )?;
    range(
        "gate.retry_min_interval_ms",
        g.gate.retry_min_interval_ms,
        limits::RETRY_MIN_INTERVAL_MS,
    )?;
    if g.gate.name.trim().is_empty() {
        return Err(err(at, "gate.name is empty".into()));
    }
    let mut spec = GateSpec {
        name: g.gate.name.clone(),
        seed: g.gate.seed,
        time_limit: Duration::from_secs(g.gate.time_limit_s),
        answer_timeout: Duration::from_millis(g.gate.answer_timeout_ms),
        max_attempts: g.gate.max_attempts,
        retry_min_interval: Duration::from_millis(g.gate.retry_min_interval_ms),
        outage: None,
        card_expired: false,
        card_locked: false,
        answer_delay: Duration::ZERO,
    };
    let mut seen: Vec<&'static str> = Vec::new();
    for (i, f) in g.faults.iter().enumerate() {
        let kind = match f {
            GateFault::Outage { .. } => "outage",
            GateFault::CardExpired => "card-expired",
            GateFault::CardLocked => "card-locked",
            GateFault::SlowAnswers { .. } => "slow-answers",
        };
        if seen.contains(&kind) {
            return Err(err(
                at,
                format!("fault[{i}]: a second {kind:?} fault; each kind at most once"),
            ));
        }
        seen.push(kind);
        match *f {
            GateFault::Outage { attempts, max_ms } => {
                // A conforming client must be able to get an answer: the outage
                // swallows fewer attempts than it may make.
                if attempts == 0 || attempts >= g.gate.max_attempts {
                    return Err(err(
                        at,
                        format!(
                            "fault[{i}] outage: attempts = {attempts}: must be 1..={} (less than gate.max_attempts, or no client could ever be answered)",
                            g.gate.max_attempts.saturating_sub(1)
                        ),
                    ));
                }
                range(
                    &format!("fault[{i}] outage: max_ms"),
                    max_ms,
                    limits::OUTAGE_MAX_MS,
                )?;
                spec.outage = Some((attempts as usize, Duration::from_millis(max_ms)));
            }
            GateFault::CardExpired => spec.card_expired = true,
            GateFault::CardLocked => spec.card_locked = true,
            GateFault::SlowAnswers { delay_ms } => {
                range(
                    &format!("fault[{i}] slow-answers: delay_ms"),
                    delay_ms,
                    limits::ANSWER_DELAY_MS,
                )?;
                spec.answer_delay = Duration::from_millis(delay_ms);
            }
        }
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_gate_is_the_one_the_harness_always_ran() {
        let g = parse("builtin.toml", BUILTIN).unwrap();
        assert_eq!(g.name, "builtin");
        assert_eq!(g.seed, 1);
        assert_eq!(g.time_limit, Duration::from_secs(20));
        assert_eq!(g.answer_timeout, Duration::from_millis(400));
        assert_eq!(g.max_attempts, 5);
        assert_eq!(g.retry_min_interval, Duration::from_millis(200));
        assert_eq!(g.outage, Some((2, Duration::from_secs(3))));
        assert_eq!(g.face_statuses(), ["valid", "card-expired", "card-locked"]);
        assert_eq!(g.answer_delay, Duration::ZERO);
    }

    #[test]
    fn defaults_fill_a_minimal_gate() {
        let g = parse("g.toml", "[gate]\nname = \"mine\"\n").unwrap();
        assert_eq!(g.outage, None);
        assert_eq!(g.face_statuses(), ["valid"]);
        assert_eq!(g.max_attempts, 5);
    }

    #[test]
    fn errors_name_the_file_the_place_and_the_key() {
        let e = parse("g.toml", "[gate]\nname = \"x\"\ncolour = 1\n").unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("g.toml", 3), "{e}");
        assert!(e.message.contains("colour"), "{e}");

        let e = parse(
            "g.toml",
            "[gate]\nname = \"x\"\n[[fault]]\nkind = \"flood\"\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        assert!(e.message.contains("flood"), "{e}");

        let e = parse(
            "g.toml",
            "[gate]\nname = \"x\"\nmax_attempts = 2\n[[fault]]\nkind = \"outage\"\nattempts = 2\n",
        )
        .unwrap_err();
        assert!(e.message.contains("attempts = 2"), "{e}");

        let e = parse("g.toml", "[gate]\nname = \"x\"\ntime_limit_s = 0\n").unwrap_err();
        assert!(e.message.contains("gate.time_limit_s"), "{e}");

        let twice = "[gate]\nname = \"x\"\n[[fault]]\nkind = \"card-locked\"\n[[fault]]\nkind = \"card-locked\"\n";
        assert!(parse("g.toml", twice)
            .unwrap_err()
            .message
            .contains("second"));
    }
}
