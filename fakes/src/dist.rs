//! Lead times and delays as distributions of whole days.
//!
//! Scenario files describe how long an actor takes (a bureau answering, a vendor
//! installing a reader, the post delivering a letter) as a [`Dist`]. In TOML a
//! distribution is an inline table whose `kind` names the variant:
//!
//! ```toml
//! bureau_answer   = { kind = "fixed", days = 10 }
//! vendor_install  = { kind = "uniform", min = 5, max = 20 }
//! review          = { kind = "triangular", min = 90, mode = 105, max = 120 }
//! postal_delay    = { kind = "lognormal", mu = 1.1, sigma = 0.4 }   # median = e^1.1 ≈ 3 days
//! reader_delivery = { kind = "empirical", values = [7, 14, 30], weights = [5, 3, 1] }
//! ```
//!
//! Integers and floats are both accepted for every number, unknown keys are rejected,
//! and [`Dist::validate`] must be called on anything read from a file before sampling:
//! it returns a message that says which parameter is wrong and why.
//!
//! Sampling is deterministic given the RNG: the same RNG state always yields the same
//! value, on every platform (no floating-point functions beyond `sqrt`, `exp` and the
//! `rand_distr` standard normal are involved).

use rand::Rng;
use serde::{Deserialize, Serialize};

/// The largest number of days [`Dist::sample_days`] returns (about ten years).
pub const MAX_DAYS: u32 = 3650;

/// A distribution of a duration in whole days (calendar or business days — the caller
/// decides).
///
/// TOML shape: `{ kind = "triangular", min = 90, mode = 105, max = 120 }`; see the
/// [module documentation](self) for every variant. JSON:
/// `{"kind":"triangular","min":90.0,"mode":105.0,"max":120.0}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Dist {
    /// Always `days`.
    Fixed { days: f64 },
    /// Uniform on `[min, max]`.
    Uniform { min: f64, max: f64 },
    /// Triangular on `[min, max]` with its peak at `mode`.
    Triangular { min: f64, mode: f64, max: f64 },
    /// Log-normal; `mu` and `sigma` are the parameters of the underlying normal:
    /// median = exp(mu), mean = exp(mu + sigma²/2).
    Lognormal { mu: f64, sigma: f64 },
    /// Empirical table: `values[i]` is drawn with probability `weights[i] / Σ weights`.
    Empirical { values: Vec<f64>, weights: Vec<f64> },
}

fn check_days(what: &str, v: f64) -> Result<(), String> {
    if v.is_nan() {
        Err(format!("{what} is NaN"))
    } else if v.is_infinite() {
        Err(format!("{what} must be finite (got {v})"))
    } else if v < 0.0 {
        Err(format!("{what} must not be negative (got {v})"))
    } else {
        Ok(())
    }
}

impl Dist {
    /// A distribution that always yields `days`.
    pub fn fixed(days: f64) -> Dist {
        Dist::Fixed { days }
    }

    /// The name of the variant as written in scenario files (`"triangular"`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Dist::Fixed { .. } => "fixed",
            Dist::Uniform { .. } => "uniform",
            Dist::Triangular { .. } => "triangular",
            Dist::Lognormal { .. } => "lognormal",
            Dist::Empirical { .. } => "empirical",
        }
    }

    /// Checks the parameters: every day count finite and non-negative, `min <= max`,
    /// `min <= mode <= max`, `sigma >= 0`, empirical tables non-empty, of equal length,
    /// with finite non-negative weights that do not sum to zero.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Dist::Fixed { days } => check_days("fixed: days", *days),
            Dist::Uniform { min, max } => {
                check_days("uniform: min", *min)?;
                check_days("uniform: max", *max)?;
                if min > max {
                    return Err(format!(
                        "uniform needs min <= max (got min = {min}, max = {max})"
                    ));
                }
                Ok(())
            }
            Dist::Triangular { min, mode, max } => {
                check_days("triangular: min", *min)?;
                check_days("triangular: mode", *mode)?;
                check_days("triangular: max", *max)?;
                if !(min <= mode && mode <= max) {
                    return Err(format!(
                        "triangular needs min <= mode <= max (got min = {min}, mode = {mode}, max = {max})"
                    ));
                }
                Ok(())
            }
            Dist::Lognormal { mu, sigma } => {
                if !mu.is_finite() {
                    return Err(format!("lognormal: mu must be finite (got {mu})"));
                }
                if !sigma.is_finite() {
                    return Err(format!("lognormal: sigma must be finite (got {sigma})"));
                }
                if *sigma < 0.0 {
                    return Err(format!(
                        "lognormal: sigma must not be negative (got {sigma})"
                    ));
                }
                Ok(())
            }
            Dist::Empirical { values, weights } => {
                if values.is_empty() {
                    return Err("empirical: values must not be empty".to_string());
                }
                if values.len() != weights.len() {
                    return Err(format!(
                        "empirical: values and weights must have the same length (got {} values, {} weights)",
                        values.len(),
                        weights.len()
                    ));
                }
                for (i, v) in values.iter().enumerate() {
                    check_days(&format!("empirical: values[{i}]"), *v)?;
                }
                for (i, w) in weights.iter().enumerate() {
                    if !w.is_finite() || *w < 0.0 {
                        return Err(format!(
                            "empirical: weights[{i}] must be finite and non-negative (got {w})"
                        ));
                    }
                }
                let total: f64 = weights.iter().sum();
                if !total.is_finite() {
                    return Err("empirical: the weights' sum overflows".to_string());
                }
                if total <= 0.0 {
                    return Err(
                        "empirical: weights sum to 0; at least one must be positive".to_string()
                    );
                }
                Ok(())
            }
        }
    }

    /// Draws a duration in days. Never negative and never NaN for a validated
    /// distribution (a log-normal with a huge `mu` may give `+inf`, which
    /// [`sample_days`](Self::sample_days) clamps). Deterministic given the RNG.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let v = match self {
            Dist::Fixed { days } => *days,
            Dist::Uniform { min, max } => {
                let u: f64 = rng.gen();
                (min + (max - min) * u).clamp(*min, *max)
            }
            Dist::Triangular { min, mode, max } => {
                // Inverse CDF.
                let u: f64 = rng.gen();
                let range = max - min;
                let left = mode - min;
                let x = if u * range < left {
                    min + (u * range * left).sqrt()
                } else {
                    max - ((1.0 - u) * range * (max - mode)).sqrt()
                };
                x.clamp(*min, *max)
            }
            Dist::Lognormal { mu, sigma } => {
                let z: f64 = rng.sample(rand_distr::StandardNormal);
                (mu + sigma * z).exp()
            }
            Dist::Empirical { values, weights } => {
                let total: f64 = weights.iter().sum();
                let target = rng.gen::<f64>() * total;
                let mut cum = 0.0;
                let mut chosen = None;
                for (i, w) in weights.iter().enumerate() {
                    if *w > 0.0 {
                        cum += w;
                        chosen = Some(i);
                        if cum > target {
                            break;
                        }
                    }
                }
                // Rounding may leave `cum` a hair below `target`: take the last
                // positive-weight entry then. An invalid table (no positive weight)
                // falls back to the first value.
                values.get(chosen.unwrap_or(0)).copied().unwrap_or(0.0)
            }
        };
        if v.is_nan() {
            0.0
        } else {
            v.max(0.0)
        }
    }

    /// Draws a duration rounded to the nearest whole day, clamped to `[0, 3650]`.
    pub fn sample_days<R: Rng + ?Sized>(&self, rng: &mut R) -> u32 {
        let v = self.sample(rng);
        if v.is_nan() {
            return 0;
        }
        v.round().clamp(0.0, MAX_DAYS as f64) as u32
    }

    /// The distribution of `X + by` (days; negative moves it earlier), checked with
    /// [`validate`](Self::validate). Exact for every kind but the log-normal, whose
    /// shift is not a log-normal (it would need a third parameter): that is refused
    /// with the reason, so a sweep reports the variant as invalid.
    pub fn shifted(&self, by: f64) -> Result<Dist, String> {
        if !by.is_finite() {
            return Err(format!("shift {by} is not a finite number of days"));
        }
        let d = match self {
            Dist::Fixed { days } => Dist::Fixed { days: days + by },
            Dist::Uniform { min, max } => Dist::Uniform {
                min: min + by,
                max: max + by,
            },
            Dist::Triangular { min, mode, max } => Dist::Triangular {
                min: min + by,
                mode: mode + by,
                max: max + by,
            },
            Dist::Lognormal { .. } => {
                return Err(
                    "a log-normal cannot be shifted exactly (X + c is not log-normal); scale it, or write it as an empirical or triangular distribution".into(),
                )
            }
            Dist::Empirical { values, weights } => Dist::Empirical {
                values: values.iter().map(|v| v + by).collect(),
                weights: weights.clone(),
            },
        };
        d.validate()
            .map_err(|e| format!("shifted by {by} days: {e}"))?;
        Ok(d)
    }

    /// The distribution of `k · X` (`k > 0`), checked with [`validate`](Self::validate).
    /// Exact for every kind; a log-normal's `mu` grows by `ln k`.
    pub fn scaled(&self, k: f64) -> Result<Dist, String> {
        if !(k.is_finite() && k > 0.0) {
            return Err(format!("scale {k} must be a positive finite factor"));
        }
        let d = match self {
            Dist::Fixed { days } => Dist::Fixed { days: days * k },
            Dist::Uniform { min, max } => Dist::Uniform {
                min: min * k,
                max: max * k,
            },
            Dist::Triangular { min, mode, max } => Dist::Triangular {
                min: min * k,
                mode: mode * k,
                max: max * k,
            },
            Dist::Lognormal { mu, sigma } => Dist::Lognormal {
                mu: mu + k.ln(),
                sigma: *sigma,
            },
            Dist::Empirical { values, weights } => Dist::Empirical {
                values: values.iter().map(|v| v * k).collect(),
                weights: weights.clone(),
            },
        };
        d.validate().map_err(|e| format!("scaled by {k}: {e}"))?;
        Ok(d)
    }

    /// The mean of the distribution (before rounding and clamping).
    pub fn mean(&self) -> f64 {
        match self {
            Dist::Fixed { days } => *days,
            Dist::Uniform { min, max } => (min + max) / 2.0,
            Dist::Triangular { min, mode, max } => (min + mode + max) / 3.0,
            Dist::Lognormal { mu, sigma } => (mu + sigma * sigma / 2.0).exp(),
            Dist::Empirical { values, weights } => {
                let total: f64 = weights.iter().sum();
                let weighted: f64 = values.iter().zip(weights).map(|(v, w)| v * w).sum();
                weighted / total
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn rng(seed: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(seed)
    }

    fn days() -> impl Strategy<Value = f64> {
        0.0f64..1000.0
    }

    fn valid_dist() -> impl Strategy<Value = Dist> {
        prop_oneof![
            days().prop_map(Dist::fixed),
            (days(), days()).prop_map(|(a, b)| Dist::Uniform {
                min: a.min(b),
                max: a.max(b)
            }),
            (days(), days(), days()).prop_map(|(a, b, c)| {
                let mut v = [a, b, c];
                v.sort_by(f64::total_cmp);
                Dist::Triangular {
                    min: v[0],
                    mode: v[1],
                    max: v[2],
                }
            }),
            (-2.0f64..6.0, 0.0f64..2.0).prop_map(|(mu, sigma)| Dist::Lognormal { mu, sigma }),
            prop::collection::vec((days(), 0.0f64..10.0), 1..8).prop_map(|pairs| {
                let (values, mut weights): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
                weights[0] += 1.0; // at least one positive weight
                Dist::Empirical { values, weights }
            }),
        ]
    }

    #[test]
    fn shift_and_scale_move_every_parameter() {
        let t = Dist::Triangular {
            min: 85.0,
            mode: 110.0,
            max: 150.0,
        };
        assert_eq!(
            t.shifted(5.0).unwrap(),
            Dist::Triangular {
                min: 90.0,
                mode: 115.0,
                max: 155.0
            }
        );
        assert_eq!(
            Dist::Uniform { min: 2.0, max: 4.0 }.scaled(1.5).unwrap(),
            Dist::Uniform { min: 3.0, max: 6.0 }
        );
        let l = Dist::Lognormal {
            mu: 4.0,
            sigma: 0.3,
        };
        let Dist::Lognormal { mu, sigma } = l.scaled(2.0).unwrap() else {
            panic!()
        };
        assert!((mu - (4.0 + 2f64.ln())).abs() < 1e-12 && sigma == 0.3);
        // Scaling multiplies every draw by the factor (same RNG state, same draw).
        let (mut a, mut b) = (rng(9), rng(9));
        let scaled = l.scaled(2.0).unwrap();
        for _ in 0..20 {
            let (x, y) = (l.sample(&mut a), scaled.sample(&mut b));
            assert!((2.0 * x - y).abs() < 1e-9 * y.max(1.0), "{x} {y}");
        }
    }

    #[test]
    fn impossible_shifts_and_scales_say_why() {
        let l = Dist::Lognormal {
            mu: 4.0,
            sigma: 0.3,
        };
        assert!(l.shifted(3.0).unwrap_err().contains("cannot be shifted"));
        let e = Dist::Uniform { min: 2.0, max: 4.0 }
            .shifted(-3.0)
            .unwrap_err();
        assert!(
            e.contains("shifted by -3 days") && e.contains("min must not be negative"),
            "{e}"
        );
        assert!(Dist::fixed(3.0)
            .scaled(0.0)
            .unwrap_err()
            .contains("positive"));
        assert!(Dist::fixed(3.0).scaled(f64::NAN).is_err());
        assert!(Dist::fixed(3.0).shifted(f64::INFINITY).is_err());
    }

    #[test]
    fn fixed_is_fixed() {
        let d = Dist::fixed(12.0);
        let mut r = rng(1);
        for _ in 0..10 {
            assert_eq!(d.sample(&mut r), 12.0);
            assert_eq!(d.sample_days(&mut r), 12);
        }
        assert_eq!(d.mean(), 12.0);
    }

    #[test]
    fn degenerate_ranges_are_allowed() {
        let mut r = rng(2);
        let u = Dist::Uniform { min: 5.0, max: 5.0 };
        let t = Dist::Triangular {
            min: 5.0,
            mode: 5.0,
            max: 5.0,
        };
        let t_left = Dist::Triangular {
            min: 5.0,
            mode: 5.0,
            max: 9.0,
        };
        let t_right = Dist::Triangular {
            min: 5.0,
            mode: 9.0,
            max: 9.0,
        };
        for d in [&u, &t, &t_left, &t_right] {
            d.validate().unwrap();
            for _ in 0..100 {
                let x = d.sample(&mut r);
                assert!((5.0..=9.0).contains(&x), "{d:?} gave {x}");
            }
        }
        assert_eq!(u.sample(&mut r), 5.0);
        assert_eq!(t.sample(&mut r), 5.0);
    }

    #[test]
    fn validate_rejects_bad_parameters() {
        let cases: Vec<(Dist, &str)> = vec![
            (Dist::fixed(-1.0), "must not be negative"),
            (Dist::fixed(f64::NAN), "NaN"),
            (Dist::fixed(f64::INFINITY), "finite"),
            (
                Dist::Uniform { min: 3.0, max: 2.0 },
                "uniform needs min <= max",
            ),
            (
                Dist::Uniform {
                    min: -3.0,
                    max: 2.0,
                },
                "uniform: min must not be negative",
            ),
            (
                Dist::Triangular {
                    min: 90.0,
                    mode: 130.0,
                    max: 120.0,
                },
                "triangular needs min <= mode <= max (got min = 90, mode = 130, max = 120)",
            ),
            (
                Dist::Triangular {
                    min: 90.0,
                    mode: f64::NAN,
                    max: 120.0,
                },
                "triangular: mode is NaN",
            ),
            (
                Dist::Lognormal {
                    mu: 1.0,
                    sigma: -0.5,
                },
                "sigma must not be negative",
            ),
            (
                Dist::Lognormal {
                    mu: f64::NAN,
                    sigma: 0.5,
                },
                "mu must be finite",
            ),
            (
                Dist::Lognormal {
                    mu: 1.0,
                    sigma: f64::INFINITY,
                },
                "sigma must be finite",
            ),
            (
                Dist::Empirical {
                    values: vec![],
                    weights: vec![],
                },
                "must not be empty",
            ),
            (
                Dist::Empirical {
                    values: vec![1.0, 2.0],
                    weights: vec![1.0],
                },
                "same length",
            ),
            (
                Dist::Empirical {
                    values: vec![1.0, 2.0],
                    weights: vec![0.0, 0.0],
                },
                "sum to 0",
            ),
            (
                Dist::Empirical {
                    values: vec![1.0, 2.0],
                    weights: vec![1.0, -1.0],
                },
                "weights[1]",
            ),
            (
                Dist::Empirical {
                    values: vec![1.0, -2.0],
                    weights: vec![1.0, 1.0],
                },
                "values[1]",
            ),
            (
                Dist::Empirical {
                    values: vec![1.0, 2.0],
                    weights: vec![f64::MAX, f64::MAX],
                },
                "overflows",
            ),
        ];
        for (d, needle) in cases {
            let err = d
                .validate()
                .expect_err(&format!("{d:?} should be rejected"));
            assert!(
                err.contains(needle),
                "{d:?}: message {err:?} lacks {needle:?}"
            );
        }
    }

    #[test]
    fn means() {
        assert_eq!(Dist::Uniform { min: 2.0, max: 4.0 }.mean(), 3.0);
        assert_eq!(
            Dist::Triangular {
                min: 90.0,
                mode: 105.0,
                max: 120.0
            }
            .mean(),
            105.0
        );
        assert_eq!(
            Dist::Empirical {
                values: vec![1.0, 4.0],
                weights: vec![2.0, 1.0]
            }
            .mean(),
            2.0
        );
        let ln = Dist::Lognormal {
            mu: 1.0,
            sigma: 0.5,
        };
        assert!((ln.mean() - (1.125f64).exp()).abs() < 1e-12);
    }

    #[test]
    fn sample_means_approach_mean() {
        let dists = [
            Dist::Uniform { min: 2.0, max: 4.0 },
            Dist::Triangular {
                min: 90.0,
                mode: 100.0,
                max: 120.0,
            },
            Dist::Lognormal {
                mu: 1.0,
                sigma: 0.5,
            },
            Dist::Empirical {
                values: vec![1.0, 4.0, 9.0],
                weights: vec![2.0, 1.0, 1.0],
            },
        ];
        let mut r = rng(3);
        for d in &dists {
            let n = 20_000;
            let avg: f64 = (0..n).map(|_| d.sample(&mut r)).sum::<f64>() / n as f64;
            let rel = (avg - d.mean()).abs() / d.mean();
            assert!(rel < 0.02, "{d:?}: sample mean {avg}, mean {}", d.mean());
        }
    }

    #[test]
    fn lognormal_median_is_exp_mu() {
        let d = Dist::Lognormal {
            mu: 2.0,
            sigma: 0.7,
        };
        let mut r = rng(4);
        let mut xs: Vec<f64> = (0..10_001).map(|_| d.sample(&mut r)).collect();
        xs.sort_by(f64::total_cmp);
        let median = xs[5000];
        assert!(
            (median / 2.0f64.exp() - 1.0).abs() < 0.05,
            "median {median}"
        );
    }

    #[test]
    fn empirical_skips_zero_weights() {
        let d = Dist::Empirical {
            values: vec![1.0, 2.0, 3.0],
            weights: vec![0.0, 1.0, 0.0],
        };
        let mut r = rng(5);
        for _ in 0..1000 {
            assert_eq!(d.sample(&mut r), 2.0);
        }
    }

    #[test]
    fn sample_days_rounds_and_clamps() {
        let mut r = rng(6);
        assert_eq!(Dist::fixed(2.5).sample_days(&mut r), 3);
        assert_eq!(Dist::fixed(2.49).sample_days(&mut r), 2);
        assert_eq!(Dist::fixed(1e9).sample_days(&mut r), MAX_DAYS);
        assert_eq!(
            Dist::Lognormal {
                mu: 800.0,
                sigma: 0.0
            }
            .sample_days(&mut r),
            MAX_DAYS
        );
        // Not validated, still never negative.
        assert_eq!(Dist::fixed(-4.0).sample_days(&mut r), 0);
        assert_eq!(Dist::fixed(f64::NAN).sample_days(&mut r), 0);
    }

    #[test]
    fn json_shape() {
        let d = Dist::Triangular {
            min: 90.0,
            mode: 105.0,
            max: 120.0,
        };
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"triangular","min":90.0,"mode":105.0,"max":120.0}"#
        );
        let back: Dist =
            serde_json::from_str(r#"{"kind":"triangular","min":90,"mode":105,"max":120}"#).unwrap();
        assert_eq!(back, d);
        let err =
            serde_json::from_str::<Dist>(r#"{"kind":"fixed","days":1,"extra":2}"#).unwrap_err();
        assert!(err.to_string().contains("extra"), "{err}");
        let err = serde_json::from_str::<Dist>(r#"{"kind":"weibull","k":1}"#).unwrap_err();
        assert!(err.to_string().contains("weibull"), "{err}");
    }

    #[test]
    fn toml_shape() {
        #[derive(Deserialize, Serialize, Debug, PartialEq)]
        struct Doc {
            review: Dist,
            post: Dist,
            fixed: Dist,
            table: Dist,
            uni: Dist,
        }
        let doc: Doc = toml::from_str(
            r#"
            review = { kind = "triangular", min = 90, mode = 105, max = 120 }
            post = { kind = "lognormal", mu = 1.1, sigma = 0.4 }
            fixed = { kind = "fixed", days = 10 }
            table = { kind = "empirical", values = [7, 14, 30], weights = [5, 3, 1] }
            uni = { kind = "uniform", min = 5, max = 20.5 }
            "#,
        )
        .unwrap();
        assert_eq!(
            doc.review,
            Dist::Triangular {
                min: 90.0,
                mode: 105.0,
                max: 120.0
            }
        );
        assert_eq!(
            doc.post,
            Dist::Lognormal {
                mu: 1.1,
                sigma: 0.4
            }
        );
        assert_eq!(doc.fixed, Dist::fixed(10.0));
        assert_eq!(
            doc.table,
            Dist::Empirical {
                values: vec![7.0, 14.0, 30.0],
                weights: vec![5.0, 3.0, 1.0]
            }
        );
        assert_eq!(
            doc.uni,
            Dist::Uniform {
                min: 5.0,
                max: 20.5
            }
        );
        let text = toml::to_string(&doc).unwrap();
        let back: Doc = toml::from_str(&text).unwrap();
        assert_eq!(back, doc);
        let err = toml::from_str::<Doc>(
            r#"
            review = { kind = "triangular", min = 90, mode = 105, max = 120, median = 3 }
            post = { kind = "fixed", days = 1 }
            fixed = { kind = "fixed", days = 1 }
            table = { kind = "fixed", days = 1 }
            uni = { kind = "fixed", days = 1 }
            "#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("median"), "{err}");
    }

    proptest! {
        #[test]
        fn prop_valid_dists_validate_and_sample_in_range(d in valid_dist(), seed in any::<u64>()) {
            prop_assert!(d.validate().is_ok(), "{:?}", d.validate());
            let mut r = rng(seed);
            for _ in 0..32 {
                let x = d.sample(&mut r);
                prop_assert!(x >= 0.0 && !x.is_nan());
                match &d {
                    Dist::Uniform { min, max } | Dist::Triangular { min, max, .. } => {
                        prop_assert!(*min <= x && x <= *max, "{:?} gave {}", d, x);
                    }
                    Dist::Empirical { values, weights } => {
                        let idx = values.iter().position(|v| *v == x);
                        prop_assert!(idx.is_some(), "{} not in table", x);
                        prop_assert!(values.iter().zip(weights).any(|(v, w)| *v == x && *w > 0.0));
                    }
                    Dist::Fixed { days } => prop_assert_eq!(x, *days),
                    Dist::Lognormal { .. } => {}
                }
                let n = d.sample_days(&mut r);
                prop_assert!(n <= MAX_DAYS);
            }
        }

        #[test]
        fn prop_sampling_is_deterministic(d in valid_dist(), seed in any::<u64>()) {
            let mut a = rng(seed);
            let mut b = rng(seed);
            let xs: Vec<f64> = (0..16).map(|_| d.sample(&mut a)).collect();
            let ys: Vec<f64> = (0..16).map(|_| d.sample(&mut b)).collect();
            prop_assert_eq!(xs, ys);
        }

        #[test]
        fn prop_json_round_trip(d in valid_dist()) {
            let json = serde_json::to_string(&d).unwrap();
            let back: Dist = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back, d);
        }

        #[test]
        fn prop_unordered_triangular_rejected(a in days(), b in days(), c in days()) {
            let d = Dist::Triangular { min: a, mode: b, max: c };
            prop_assert_eq!(d.validate().is_ok(), a <= b && b <= c);
        }
    }
}
