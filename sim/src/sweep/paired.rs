//! Paired comparisons (`onsim sweep --paired`): every variant against the first, run
//! by run. Replication `i` of every variant runs with the same seed (common random
//! numbers), so the pair (reference, variant) of run `i` differs only by the variant's
//! edit, and the difference has far less noise than two independent samples.
//!
//! Per variant the sweep keeps integer counts only (so shards merge exactly): the 2×2
//! table of the chosen outcome(s) in the reference and the variant, and, over the runs
//! online in both, the sum and the sum of squares of the start-delay difference in
//! days. From them:
//!
//! - the paired difference of proportions `p_variant − p_reference` with Newcombe's
//!   hybrid score interval for paired data (R. G. Newcombe, "Improving the confidence
//!   interval for the difference between two binomial proportions based on paired
//!   data", Statistics in Medicine 17 (1998) 2635–2650, method 10: the Wilson intervals
//!   of both proportions combined with the phi correlation of the table);
//! - McNemar's exact test, two-sided: the discordant runs split as Binomial(b + c, ½)
//!   under no difference (Q. McNemar, Psychometrika 12 (1947) 153–157; the exact
//!   binomial form as in R's `mcnemar.exact` / `binom.test`);
//! - the mean paired start-delay difference with a normal 95 % interval
//!   (mean ± 1.96·s/√m, s the sample standard deviation of the m differences).

use serde::{Deserialize, Serialize};

use super::rows::{RowSink, RunRow};
use super::vary::Variant;

const Z95: f64 = 1.959_963_984_540_054;

/// The raw counts of one variant paired with the reference.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairCounts {
    pub runs: u64,
    /// Runs with the outcome in both, only in the reference, only in the variant,
    /// in neither.
    pub both: u64,
    pub reference_only: u64,
    pub variant_only: u64,
    pub neither: u64,
    /// Runs online in both (their start delays are compared).
    pub delay_pairs: u64,
    /// Σ (delay_variant − delay_reference), calendar days.
    pub delay_diff_sum: i64,
    /// Σ (delay_variant − delay_reference)².
    pub delay_diff_sq_sum: u64,
}

impl PairCounts {
    pub fn merge(&mut self, o: &PairCounts) {
        self.runs += o.runs;
        self.both += o.both;
        self.reference_only += o.reference_only;
        self.variant_only += o.variant_only;
        self.neither += o.neither;
        self.delay_pairs += o.delay_pairs;
        self.delay_diff_sum += o.delay_diff_sum;
        self.delay_diff_sq_sum += o.delay_diff_sq_sum;
    }
}

/// The mean paired start-delay difference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DelayDiff {
    /// Runs online in both.
    pub pairs: u64,
    /// Mean of (variant − reference) in calendar days; null without pairs.
    pub mean: Option<f64>,
    pub ci95: Option<[f64; 2]>,
}

/// One variant compared with the reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedStat {
    pub variant: String,
    pub reference: String,
    pub p_reference: f64,
    pub p_variant: f64,
    /// `p_variant − p_reference`.
    pub difference: f64,
    /// Newcombe's hybrid score interval (method 10).
    pub ci95: [f64; 2],
    /// McNemar's exact two-sided p-value.
    pub mcnemar_p: f64,
    pub start_delay_difference: DelayDiff,
    /// The counts the figures come from (merged by `onsim merge`).
    pub counts: PairCounts,
}

/// `--paired`: which outcomes count, and every pairing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paired {
    /// Outcome ids counted (joined by `+` on the command line).
    pub outcomes: Vec<String>,
    /// The reference: the first variant.
    pub reference: String,
    pub comparisons: Vec<PairedStat>,
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Wilson score interval at 95 %, unrounded.
fn wilson_raw(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let n = n as f64;
    let p = k as f64 / n;
    let z2 = Z95 * Z95;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Newcombe (1998) method 10 for θ = p_variant − p_reference.
pub fn newcombe_paired(c: &PairCounts) -> [f64; 2] {
    let n = c.runs;
    if n == 0 {
        return [-1.0, 1.0];
    }
    // Table: a = both, b = variant only, c = reference only, d = neither; p1 = variant.
    let (a, b, cc, d) = (
        c.both as f64,
        c.variant_only as f64,
        c.reference_only as f64,
        c.neither as f64,
    );
    let k1 = c.both + c.variant_only;
    let k2 = c.both + c.reference_only;
    let p1 = k1 as f64 / n as f64;
    let p2 = k2 as f64 / n as f64;
    let (l1, u1) = wilson_raw(k1, n);
    let (l2, u2) = wilson_raw(k2, n);
    let margins = (a + b) * (cc + d) * (a + cc) * (b + d);
    let phi = if margins > 0.0 {
        (a * d - b * cc) / margins.sqrt()
    } else {
        0.0
    };
    let theta = p1 - p2;
    let dl = ((p1 - l1).powi(2) - 2.0 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2).powi(2))
        .max(0.0)
        .sqrt();
    let du = ((u1 - p1).powi(2) - 2.0 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2).powi(2))
        .max(0.0)
        .sqrt();
    [
        round6((theta - dl).max(-1.0)),
        round6((theta + du).min(1.0)),
    ]
}

/// McNemar's exact two-sided p-value: 2·P(X ≤ min(b, c)), X ~ Binomial(b + c, ½),
/// capped at 1.
pub fn mcnemar_exact(b: u64, c: u64) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let k = b.min(c);
    // log C(n, j) − n ln 2, summed from j = 0 upwards in log space.
    let ln2n = n as f64 * std::f64::consts::LN_2;
    let mut log_c = 0.0f64; // log C(n, 0)
    let mut terms = Vec::with_capacity(k as usize + 1);
    for j in 0..=k {
        if j > 0 {
            log_c += ((n - j + 1) as f64).ln() - (j as f64).ln();
        }
        terms.push(log_c - ln2n);
    }
    let m = terms.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let tail = m.exp() * terms.iter().map(|t| (t - m).exp()).sum::<f64>();
    let p = (2.0 * tail).min(1.0);
    // Rounded to 6 significant digits so tiny p-values stay readable.
    if p == 0.0 {
        0.0
    } else {
        let mag = 10f64.powi(5 - p.log10().floor() as i32);
        (p * mag).round() / mag
    }
}

/// The figures of one pairing.
pub fn stat(variant: &str, reference: &str, c: &PairCounts) -> PairedStat {
    let n = c.runs.max(1) as f64;
    let p_r = (c.both + c.reference_only) as f64 / n;
    let p_v = (c.both + c.variant_only) as f64 / n;
    let m = c.delay_pairs;
    let delay = if m == 0 {
        DelayDiff {
            pairs: 0,
            mean: None,
            ci95: None,
        }
    } else {
        let mf = m as f64;
        let mean = c.delay_diff_sum as f64 / mf;
        let var = if m > 1 {
            ((c.delay_diff_sq_sum as f64 - mf * mean * mean) / (mf - 1.0)).max(0.0)
        } else {
            0.0
        };
        let half = Z95 * (var / mf).sqrt();
        DelayDiff {
            pairs: m,
            mean: Some(round6(mean)),
            ci95: Some([round6(mean - half), round6(mean + half)]),
        }
    };
    PairedStat {
        variant: variant.to_string(),
        reference: reference.to_string(),
        p_reference: round6(p_r),
        p_variant: round6(p_v),
        difference: round6(p_v - p_r),
        ci95: newcombe_paired(c),
        mcnemar_p: mcnemar_exact(c.variant_only, c.reference_only),
        start_delay_difference: delay,
        counts: c.clone(),
    }
}

/// Build the report part from per-variant counts (index 0 is the reference and has
/// no pairing of its own).
pub fn report(outcomes: &[String], labels: &[String], counts: &[PairCounts]) -> Paired {
    let reference = labels.first().cloned().unwrap_or_default();
    Paired {
        outcomes: outcomes.to_vec(),
        reference: reference.clone(),
        comparisons: labels
            .iter()
            .zip(counts)
            .skip(1)
            .map(|(l, c)| stat(l, &reference, c))
            .collect(),
    }
}

/// A [`RowSink`] that pairs each variant's runs with the reference's, and hands the
/// rows on to another sink (`--per-run`) when there is one.
pub struct PairSink<'a> {
    outcomes: Vec<String>,
    /// The reference's runs, in replication order: (outcome counted, delay).
    reference: Vec<(bool, Option<i32>)>,
    /// Rows seen so far of the current variant.
    cursor: usize,
    current: usize,
    pub counts: Vec<PairCounts>,
    pub labels: Vec<String>,
    next: Option<&'a mut dyn RowSink>,
}

impl<'a> PairSink<'a> {
    pub fn new(outcomes: Vec<String>, next: Option<&'a mut dyn RowSink>) -> PairSink<'a> {
        PairSink {
            outcomes,
            reference: Vec::new(),
            cursor: 0,
            current: 0,
            counts: Vec::new(),
            labels: Vec::new(),
            next,
        }
    }

    pub fn report(&self) -> Paired {
        report(&self.outcomes, &self.labels, &self.counts)
    }
}

impl RowSink for PairSink<'_> {
    fn begin(&mut self, variants: &[Variant]) -> Result<(), String> {
        self.labels = variants.iter().map(Variant::label).collect();
        self.counts = vec![PairCounts::default(); variants.len()];
        match self.next.as_deref_mut() {
            Some(n) => n.begin(variants),
            None => Ok(()),
        }
    }

    fn rows(&mut self, variant: usize, rows: &[RunRow]) -> Result<(), String> {
        if variant != self.current {
            self.current = variant;
            self.cursor = 0;
        }
        for r in rows {
            let hit = self.outcomes.iter().any(|o| o == r.outcome.as_str());
            if variant == 0 {
                self.reference.push((hit, r.start_delay));
                continue;
            }
            let Some((ref_hit, ref_delay)) = self.reference.get(self.cursor).copied() else {
                return Err("paired comparison: a variant has more runs than the reference".into());
            };
            self.cursor += 1;
            let c = &mut self.counts[variant];
            c.runs += 1;
            match (ref_hit, hit) {
                (true, true) => c.both += 1,
                (true, false) => c.reference_only += 1,
                (false, true) => c.variant_only += 1,
                (false, false) => c.neither += 1,
            }
            if let (Some(a), Some(b)) = (ref_delay, r.start_delay) {
                let d = i64::from(b) - i64::from(a);
                c.delay_pairs += 1;
                c.delay_diff_sum += d;
                c.delay_diff_sq_sum += d.unsigned_abs() * d.unsigned_abs();
            }
        }
        match self.next.as_deref_mut() {
            Some(n) => n.rows(variant, rows),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mcnemar_matches_the_binomial_test() {
        // binom.test(1, 10, 0.5) two-sided = 0.02148438 (R).
        assert!((mcnemar_exact(1, 9) - 0.0214844).abs() < 1e-6);
        assert_eq!(mcnemar_exact(5, 5), 1.0);
        assert_eq!(mcnemar_exact(0, 0), 1.0);
        // binom.test(0, 20): 2 * 0.5^20 = 1.907349e-06.
        assert!((mcnemar_exact(0, 20) - 1.907_35e-6).abs() < 1e-11);
        // Large counts stay finite and tiny.
        let p = mcnemar_exact(1000, 2000);
        assert!(p > 0.0 && p < 1e-50, "{p}");
    }

    #[test]
    fn newcombe_covers_the_true_difference_about_95_percent_of_the_time() {
        // Paired runs with known cell probabilities (positively correlated, as common
        // random numbers make them): both 0.80, variant only 0.03, reference only 0.07,
        // neither 0.10; true difference −0.04. 2,000 tables of 300 pairs.
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let (trials, n) = (2000, 300);
        let mut covered = 0;
        let mut wald_width = 0.0;
        let mut width = 0.0;
        for _ in 0..trials {
            let mut c = PairCounts {
                runs: n,
                ..PairCounts::default()
            };
            for _ in 0..n {
                let u: f64 = rng.gen();
                if u < 0.80 {
                    c.both += 1
                } else if u < 0.83 {
                    c.variant_only += 1
                } else if u < 0.90 {
                    c.reference_only += 1
                } else {
                    c.neither += 1
                }
            }
            let [lo, hi] = newcombe_paired(&c);
            assert!(lo <= hi);
            if lo <= -0.04 && -0.04 <= hi {
                covered += 1;
            }
            width += hi - lo;
            let (b, cc, nf) = (c.variant_only as f64, c.reference_only as f64, n as f64);
            let d = (b - cc) / nf;
            wald_width += 2.0 * Z95 * (((b + cc) / nf - d * d) / nf).sqrt();
        }
        let coverage = covered as f64 / trials as f64;
        assert!((0.93..=0.975).contains(&coverage), "coverage {coverage}");
        // About as wide as the paired Wald interval (Newcombe's method 1), not the
        // much wider interval of two independent samples.
        let ratio = width / wald_width;
        assert!((0.9..1.2).contains(&ratio), "width ratio {ratio}");
    }

    #[test]
    fn newcombe_without_discordant_runs_is_narrow_and_contains_zero() {
        let c = PairCounts {
            runs: 1000,
            both: 900,
            neither: 100,
            ..PairCounts::default()
        };
        let [lo, hi] = newcombe_paired(&c);
        assert!(lo < 0.0 && hi > 0.0 && hi - lo < 0.01, "{lo} {hi}");
    }

    #[test]
    fn delay_difference_from_sums() {
        // Differences 1, 2, 3: mean 2, s = 1, half-width 1.96/√3.
        let c = PairCounts {
            runs: 3,
            both: 3,
            delay_pairs: 3,
            delay_diff_sum: 6,
            delay_diff_sq_sum: 14,
            ..PairCounts::default()
        };
        let s = stat("v", "r", &c);
        let d = s.start_delay_difference;
        assert_eq!(d.mean, Some(2.0));
        let [lo, hi] = d.ci95.unwrap();
        assert!((hi - lo - 2.0 * Z95 / 3f64.sqrt()).abs() < 1e-5);
        assert_eq!(s.difference, 0.0);
    }
}
