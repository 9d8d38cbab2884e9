//! The maximum-likelihood fits and the Kolmogorov–Smirnov figure (see the module
//! above).

use fakes::dist::Dist;
use serde::Serialize;

/// Which family to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FitKind {
    Lognormal,
    Uniform,
    Empirical,
}

/// A fitted distribution and how well it fits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fit {
    pub dist: Dist,
    /// Durations fitted.
    pub n: usize,
    /// Log-likelihood of the data under the fit (densities; null for empirical).
    pub log_likelihood: Option<f64>,
    /// Kolmogorov–Smirnov distance on whole days.
    pub ks_d: f64,
    /// Asymptotic Kolmogorov p-value of `ks_d` (conservative; see the module docs).
    pub ks_p: f64,
}

fn round_to(x: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (x * m).round() / m
}

/// Fit `kind` to `xs` (durations in days).
pub fn fit(kind: FitKind, xs: &[f64]) -> Result<Fit, String> {
    let n = xs.len();
    if n < 2 {
        return Err(format!("{n} duration(s); at least 2 are needed to fit"));
    }
    let nf = n as f64;
    let (dist, ll) = match kind {
        FitKind::Lognormal => {
            if let Some(i) = xs.iter().position(|x| *x <= 0.0) {
                return Err(format!(
                    "duration {} (row {}) is not positive; a log-normal needs every duration > 0",
                    xs[i],
                    i + 1
                ));
            }
            let logs: Vec<f64> = xs.iter().map(|x| x.ln()).collect();
            let mu = logs.iter().sum::<f64>() / nf;
            let sigma = (logs.iter().map(|l| (l - mu).powi(2)).sum::<f64>() / nf).sqrt();
            if sigma == 0.0 {
                return Err(
                    "every duration is the same: a fixed duration, not a log-normal".into(),
                );
            }
            let ll = -logs.iter().sum::<f64>()
                - nf * (sigma * (2.0 * std::f64::consts::PI).sqrt()).ln()
                - logs.iter().map(|l| (l - mu).powi(2)).sum::<f64>() / (2.0 * sigma * sigma);
            (
                Dist::Lognormal {
                    mu: round_to(mu, 6),
                    sigma: round_to(sigma, 6),
                },
                Some(ll),
            )
        }
        FitKind::Uniform => {
            let min = xs.iter().cloned().fold(f64::INFINITY, f64::min);
            let max = xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            if min == max {
                return Err("every duration is the same: a fixed duration, not a uniform".into());
            }
            (Dist::Uniform { min, max }, Some(-nf * (max - min).ln()))
        }
        FitKind::Empirical => {
            let mut sorted = xs.to_vec();
            sorted.sort_by(f64::total_cmp);
            let mut values: Vec<f64> = Vec::new();
            let mut weights: Vec<f64> = Vec::new();
            for x in sorted {
                if values.last() == Some(&x) {
                    *weights.last_mut().expect("pushed with the value") += 1.0;
                } else {
                    values.push(x);
                    weights.push(1.0);
                }
            }
            (Dist::Empirical { values, weights }, None)
        }
    };
    dist.validate()?;
    let (ks_d, ks_p) = ks(&dist, xs);
    Ok(Fit {
        dist,
        n,
        log_likelihood: ll.map(|l| round_to(l, 6)),
        ks_d: round_to(ks_d, 6),
        ks_p: round_to(ks_p, 6),
    })
}

/// The continuous CDF of a distribution (before rounding).
pub fn cdf(d: &Dist, x: f64) -> f64 {
    match d {
        Dist::Fixed { days } => f64::from(u8::from(x >= *days)),
        Dist::Uniform { min, max } => {
            if max == min {
                f64::from(u8::from(x >= *min))
            } else {
                ((x - min) / (max - min)).clamp(0.0, 1.0)
            }
        }
        Dist::Triangular { min, mode, max } => {
            if x <= *min {
                0.0
            } else if x >= *max {
                1.0
            } else if x <= *mode {
                (x - min).powi(2) / ((max - min) * (mode - min))
            } else {
                1.0 - (max - x).powi(2) / ((max - min) * (max - mode))
            }
        }
        Dist::Lognormal { mu, sigma } => {
            if x <= 0.0 {
                0.0
            } else if *sigma == 0.0 {
                f64::from(u8::from(x.ln() >= *mu))
            } else {
                normal_cdf((x.ln() - mu) / sigma)
            }
        }
        Dist::Empirical { values, weights } => {
            let total: f64 = weights.iter().sum();
            values
                .iter()
                .zip(weights)
                .filter(|(v, _)| **v <= x)
                .map(|(_, w)| w)
                .sum::<f64>()
                / total
        }
    }
}

/// Φ through erfc (W. H. Press et al., Numerical Recipes, 2nd ed., §6.2 `erfcc`:
/// fractional error below 1.2e-7 everywhere).
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// Kolmogorov's Q(λ) = 2 Σ_{j≥1} (−1)^{j−1} e^{−2 j² λ²}.
fn kolmogorov_q(lambda: f64) -> f64 {
    if lambda < 0.2 {
        return 1.0;
    }
    let mut sum = 0.0;
    for j in 1..=100 {
        let jf = j as f64;
        let term = (-2.0 * jf * jf * lambda * lambda).exp();
        sum += if j % 2 == 1 { term } else { -term };
        if term < 1e-12 {
            break;
        }
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

/// Kolmogorov–Smirnov distance between the data, as whole days, and the whole-day
/// distribution `d` produces (`P(round X ≤ k) = F(k + ½)`), and its asymptotic p-value.
pub fn ks(d: &Dist, xs: &[f64]) -> (f64, f64) {
    let mut days: Vec<f64> = xs.iter().map(|x| x.round()).collect();
    days.sort_by(f64::total_cmp);
    let n = days.len() as f64;
    let model = |k: f64| cdf(d, k + 0.5);
    let mut dmax: f64 = 0.0;
    let mut i = 0;
    while i < days.len() {
        let k = days[i];
        let below = i as f64 / n;
        while i < days.len() && days[i] == k {
            i += 1;
        }
        let at = i as f64 / n;
        // Just below k the model is at F(k − ½), the data at `below`; at k both step.
        dmax = dmax
            .max((model(k) - at).abs())
            .max((model(k - 1.0) - below).abs());
    }
    let sn = n.sqrt();
    (dmax, kolmogorov_q((sn + 0.12 + 0.11 / sn) * dmax))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn draws(d: &Dist, n: usize, seed: u64) -> Vec<f64> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| f64::from(d.sample_days(&mut rng))).collect()
    }

    #[test]
    fn normal_cdf_known_values() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-6);
        assert!((normal_cdf(-1.644_854) - 0.05).abs() < 1e-6);
    }

    #[test]
    fn kolmogorov_q_known_values() {
        // Q(1.36) ≈ 0.0495, Q(1.63) ≈ 0.0098 (the 5 % and 1 % critical values).
        assert!((kolmogorov_q(1.358) - 0.05).abs() < 1e-3);
        assert!((kolmogorov_q(1.628) - 0.01).abs() < 5e-4);
    }

    #[test]
    fn lognormal_recovers_its_parameters_and_fits() {
        let truth = Dist::Lognormal {
            mu: 4.6,
            sigma: 0.12,
        };
        let xs = draws(&truth, 5000, 1);
        let f = fit(FitKind::Lognormal, &xs).unwrap();
        let Dist::Lognormal { mu, sigma } = f.dist else {
            panic!()
        };
        // Standard errors: sigma/√n ≈ 0.0017 for mu, sigma/√(2n) ≈ 0.0012 for sigma.
        assert!((mu - 4.6).abs() < 0.006, "{mu}");
        assert!((sigma - 0.12).abs() < 0.005, "{sigma}");
        assert!(f.ks_p > 0.01, "{f:?}");
        // The wrong family is told apart.
        let u = fit(FitKind::Uniform, &xs).unwrap();
        assert!(u.ks_p < 1e-6, "{u:?}");
        assert!(u.log_likelihood.unwrap() < f.log_likelihood.unwrap());
    }

    #[test]
    fn uniform_and_empirical() {
        let truth = Dist::Uniform {
            min: 30.0,
            max: 60.0,
        };
        let xs = draws(&truth, 3000, 2);
        let f = fit(FitKind::Uniform, &xs).unwrap();
        assert_eq!(
            f.dist,
            Dist::Uniform {
                min: 30.0,
                max: 60.0
            }
        );
        assert!(f.ks_p > 0.01, "{f:?}");
        let e = fit(FitKind::Empirical, &[3.0, 5.0, 3.0, 7.0]).unwrap();
        assert_eq!(
            e.dist,
            Dist::Empirical {
                values: vec![3.0, 5.0, 7.0],
                weights: vec![2.0, 1.0, 1.0]
            }
        );
        assert_eq!(e.ks_d, 0.0);
    }

    #[test]
    fn degenerate_data_say_why() {
        assert!(fit(FitKind::Lognormal, &[0.0, 3.0])
            .unwrap_err()
            .contains("not positive"));
        assert!(fit(FitKind::Lognormal, &[3.0, 3.0])
            .unwrap_err()
            .contains("fixed"));
        assert!(fit(FitKind::Uniform, &[3.0])
            .unwrap_err()
            .contains("at least 2"));
    }
}
