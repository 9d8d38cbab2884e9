//! `onsim solve`: the value of one scenario variable (a plan date, a lead-time
//! parameter, a capacity) at which an outcome's probability crosses a target, e.g. the
//! latest reader order date that is still online on the designation day in 95 % of
//! runs. docs/solve.md has the method and its output.
//!
//! Each value tried is a variant of the scenario (the same edit as `--vary KEY=VALUE`)
//! run for the same replication seeds as every other value (common random numbers):
//! where the model is monotone in the variable run by run, as a later order date is,
//! the estimates are monotone too, and bisection over the values needs about
//! `log2(values)` evaluations per boundary. Three boundaries are searched: where the
//! estimate meets the target (the answer), where the whole Wilson 95 % interval does
//! (the confident end) and where any of it does (the plausible end); the true crossing
//! lies between the confident and plausible ends unless the 95 % intervals miss.
//! Evaluations are cached, so the three searches share their points.

pub mod domain;
pub mod target;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::sweep::{self, fingerprint, run_variant, wilson, ScenarioInfo, Shard, VariantRun, Vary};
pub use domain::{Domain, Value};
pub use target::{Op, Target};

/// Format marker of solve output.
pub const FORMAT: &str = "onsim-solve/1";

/// What a solve is asked.
#[derive(Debug, Clone)]
pub struct SolveSpec {
    pub file: String,
    pub text: String,
    /// The scenario key varied, as in `--vary` (e.g. `plan.reader_order`).
    pub var: String,
    pub domain: Domain,
    pub target: Target,
    pub runs: u64,
    pub seed: Option<u64>,
}

/// One value tried.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub value: Value,
    /// Runs with a target outcome.
    pub count: u64,
    pub runs: u64,
    pub p: f64,
    pub ci95: [f64; 2],
}

/// The ends of the answer's interval (see the module documentation).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Interval {
    /// The last (or first) value whose whole Wilson interval meets the target.
    pub confident: Option<Value>,
    /// The last (or first) value whose Wilson interval reaches the target at all.
    pub plausible: Option<Value>,
}

/// The result of a solve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SolveReport {
    pub format: String,
    pub onsim_version: String,
    pub scenario: ScenarioInfo,
    pub seed: u64,
    /// Replications per value tried.
    pub runs: u64,
    pub variable: String,
    pub range: [Value; 2],
    pub step: String,
    pub target: Target,
    /// How the target outcomes' probability moves as the variable grows, judged from
    /// the two ends of the range: `decreasing`, `increasing` or `flat`.
    pub direction: &'static str,
    /// `largest` (e.g. the latest date) or `smallest` value meeting the target.
    pub seek: &'static str,
    /// `found`; `range-end` (every value up to the end of the range meets the
    /// target: the answer may lie beyond it); `unreachable` (no value does).
    pub status: &'static str,
    pub answer: Option<Evaluation>,
    pub interval: Interval,
    /// False when the estimates tried are not monotone in the variable: bisection
    /// then finds a crossing, not necessarily the only one.
    pub monotone: bool,
    /// Every value tried, in the variable's order.
    pub evaluations: Vec<Evaluation>,
}

struct Solver<'a> {
    spec: &'a SolveSpec,
    seed: u64,
    cache: BTreeMap<u64, Evaluation>,
    progress: &'a dyn Fn(&Evaluation),
}

impl Solver<'_> {
    fn eval(&mut self, i: u64) -> Result<Evaluation, String> {
        if let Some(e) = self.cache.get(&i) {
            return Ok(e.clone());
        }
        let value = self.spec.domain.value(i);
        let word = value.word();
        let vary = Vary {
            key: self.spec.var.clone(),
            values: vec![word.clone()],
        };
        let variants = sweep::variants(&self.spec.file, &self.spec.text, &[vary])
            .map_err(|e| format!("{}={word}: {e}", self.spec.var))?;
        let v = variants
            .first()
            .ok_or_else(|| format!("{}={word}: no variant", self.spec.var))?;
        let run = VariantRun::new(&v.scenario);
        let acc = run_variant(&run, self.seed, self.spec.runs, Shard::all(), &|_| {});
        let count = self.spec.target.count(&acc.outcomes);
        let e = Evaluation {
            value,
            count,
            runs: acc.runs,
            p: round6(count as f64 / acc.runs.max(1) as f64),
            ci95: wilson(count, acc.runs),
        };
        (self.progress)(&e);
        self.cache.insert(i, e.clone());
        Ok(e)
    }

    /// With `prefix`, the largest index whose `pred` holds (the values meeting the
    /// target are a prefix of the range); otherwise the smallest.
    fn boundary(
        &mut self,
        prefix: bool,
        pred: fn(target::Verdicts) -> bool,
    ) -> Result<Option<u64>, String> {
        let last = self.spec.domain.last();
        let holds = |s: &mut Self, i: u64| -> Result<bool, String> {
            let e = s.eval(i)?;
            Ok(pred(s.spec.target.verdicts(e.count, e.runs)))
        };
        let (good_end, bad_end) = if prefix { (0, last) } else { (last, 0) };
        if !holds(self, good_end)? {
            return Ok(None);
        }
        if holds(self, bad_end)? {
            return Ok(Some(bad_end));
        }
        // Invariant: `good` holds, `bad` does not.
        let (mut good, mut bad) = (good_end, bad_end);
        while good.abs_diff(bad) > 1 {
            let mid = good.min(bad) + good.abs_diff(bad) / 2;
            if holds(self, mid)? {
                good = mid;
            } else {
                bad = mid;
            }
        }
        Ok(Some(good))
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Run a solve. `progress` sees every evaluation as it finishes.
pub fn solve(spec: &SolveSpec, progress: &dyn Fn(&Evaluation)) -> Result<SolveReport, String> {
    if spec.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    let base = sweep::variants(&spec.file, &spec.text, &[])?;
    let base = &base[0].scenario;
    let seed = spec.seed.unwrap_or(base.spec.scenario.seed);
    let mut s = Solver {
        spec,
        seed,
        cache: BTreeMap::new(),
        progress,
    };
    let last = spec.domain.last();
    let first = s.eval(0)?;
    let end = s.eval(last)?;
    let direction = if first.count > end.count {
        "decreasing"
    } else if first.count < end.count {
        "increasing"
    } else {
        "flat"
    };
    // The values meeting the target come first when the probability falls and the
    // target is a floor (or it rises and the target is a ceiling).
    let prefix = (spec.target.op == Op::AtLeast) == (direction != "increasing");
    let point = s.boundary(prefix, |v| v.estimate)?;
    let confident = s.boundary(prefix, |v| v.confident)?;
    let plausible = s.boundary(prefix, |v| v.plausible)?;
    let far_end = if prefix { last } else { 0 };
    let status = match point {
        None => "unreachable",
        Some(i) if i == far_end => "range-end",
        Some(_) => "found",
    };
    let evaluations: Vec<Evaluation> = s.cache.values().cloned().collect();
    let monotone = evaluations.windows(2).all(|w| match direction {
        "increasing" => w[0].count <= w[1].count,
        "decreasing" => w[0].count >= w[1].count,
        _ => w[0].count == w[1].count,
    });
    let value = |i: Option<u64>| i.map(|i| spec.domain.value(i));
    Ok(SolveReport {
        format: FORMAT.to_string(),
        onsim_version: env!("CARGO_PKG_VERSION").to_string(),
        scenario: ScenarioInfo {
            file: spec.file.clone(),
            name: base.spec.scenario.name.clone(),
            fingerprint: fingerprint(spec.text.as_bytes()),
        },
        seed,
        runs: spec.runs,
        variable: spec.var.clone(),
        range: [spec.domain.value(0), spec.domain.value(last)],
        step: spec.domain.step_text(),
        target: spec.target.clone(),
        direction,
        seek: if prefix { "largest" } else { "smallest" },
        status,
        answer: point.and_then(|i| s.cache.get(&i).cloned()),
        interval: Interval {
            confident: value(confident),
            plausible: value(plausible),
        },
        monotone,
        evaluations,
    })
}

/// The report as pretty JSON with a final newline.
pub fn to_json(r: &SolveReport) -> String {
    let mut s = serde_json::to_string_pretty(r).expect("solve report serializes");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = include_str!("../../../scenarios/sweeps/one-risk-reader.toml");

    fn spec(from: &str, to: &str, target: &str) -> SolveSpec {
        SolveSpec {
            file: "one-risk.toml".into(),
            text: TEXT.into(),
            var: "plan.reader_order".into(),
            domain: Domain::parse(from, to, None).unwrap(),
            target: Target::parse(target).unwrap(),
            runs: 2000,
            seed: Some(3),
        }
    }

    #[test]
    fn later_orders_lower_the_chance_and_the_interval_brackets_the_answer() {
        let r = solve(
            &spec(
                "2025-04-01",
                "2025-07-31",
                "online-on-designation-day>=0.95",
            ),
            &|_| {},
        )
        .unwrap();
        assert_eq!(r.direction, "decreasing");
        assert_eq!(r.seek, "largest");
        assert_eq!(r.status, "found");
        assert!(r.monotone);
        let Some(Value::Date(a)) = r.answer.as_ref().map(|e| e.value) else {
            panic!("{r:?}")
        };
        let (Some(Value::Date(lo)), Some(Value::Date(hi))) =
            (r.interval.confident, r.interval.plausible)
        else {
            panic!("{r:?}")
        };
        assert!(lo <= a && a <= hi, "{lo} {a} {hi}");
        // The answer meets the target and the next day does not.
        assert!(r.answer.as_ref().unwrap().p >= 0.95);
        let next = r
            .evaluations
            .iter()
            .find(|e| e.value == Value::Date(a.succ_opt().unwrap()))
            .unwrap();
        assert!(next.p < 0.95);
        // Bisection: far fewer evaluations than days.
        assert!(r.evaluations.len() < 30, "{}", r.evaluations.len());
    }

    #[test]
    fn a_ceiling_target_seeks_the_other_way_and_unreachable_is_said() {
        let r = solve(
            &spec("2025-04-01", "2025-07-31", "online-late+not-online<=0.05"),
            &|_| {},
        )
        .unwrap();
        // P(late) rises with the order date, so a ceiling is met by a prefix.
        assert_eq!(r.direction, "increasing");
        assert_eq!(r.seek, "largest");
        assert_eq!(r.status, "found");
        let r = solve(
            &spec(
                "2025-07-01",
                "2025-07-31",
                "online-on-designation-day>=0.95",
            ),
            &|_| {},
        )
        .unwrap();
        assert_eq!(r.status, "unreachable");
        assert!(r.answer.is_none());
        let r = solve(
            &spec(
                "2025-03-01",
                "2025-04-01",
                "online-on-designation-day>=0.95",
            ),
            &|_| {},
        )
        .unwrap();
        assert_eq!(r.status, "range-end");
    }

    #[test]
    fn a_value_the_scenario_refuses_is_an_error_naming_it() {
        let mut s = spec(
            "2025-04-01",
            "2025-07-31",
            "online-on-designation-day>=0.95",
        );
        s.var = "plan.reader_ordr".into();
        let e = solve(&s, &|_| {}).unwrap_err();
        assert!(e.contains("plan.reader_ordr=2025-04-01"), "{e}");
    }
}
