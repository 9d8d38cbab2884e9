//! TEMPORARY stand-in; replaced by the engine branch's full implementation.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Dist {
    Fixed { days: f64 },
    Uniform { min: f64, max: f64 },
    Triangular { min: f64, mode: f64, max: f64 },
    Lognormal { mu: f64, sigma: f64 },
    Empirical { values: Vec<f64>, weights: Vec<f64> },
}

impl Dist {
    pub fn validate(&self) -> Result<(), String> {
        Ok(())
    }
    pub fn sample<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match self {
            Dist::Fixed { days } => *days,
            Dist::Uniform { min, max } => min + (max - min) * rng.gen::<f64>(),
            Dist::Triangular { min, max, .. } => min + (max - min) * rng.gen::<f64>(),
            Dist::Lognormal { mu, .. } => mu.exp(),
            Dist::Empirical { values, .. } => values[0],
        }
    }
    pub fn sample_days<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> u32 {
        self.sample(rng).round().clamp(0.0, 3650.0) as u32
    }
    pub fn mean(&self) -> f64 {
        0.0
    }
    pub fn fixed(days: f64) -> Dist {
        Dist::Fixed { days }
    }
}
