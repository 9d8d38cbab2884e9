//! The clinics of an ecosystem file, drawn from one seed: for each designation month
//! in file order, `clinics` clinics, each with a kind, a prefecture, a reader maker,
//! a system vendor and a carrier drawn from the file's weights, and an order margin
//! drawn from `population.order_margin`. One stream (`derive_seed(seed,
//! "population")`), so the same file and seed give the same clinics.

use chrono::NaiveDate;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use fakes::codes::{Bureau, Prefecture};
use fakes::schedule::ClinicKind;

use super::file::Ecosystem;
use crate::engine::rng_for;

/// Days before installation that the recommended plan orders (READER_ORDER_MARGIN_DAYS).
pub const DEFAULT_MARGIN: i64 = fakes::process::clinic::READER_ORDER_MARGIN_DAYS;

/// One clinic of the population.
#[derive(Debug, Clone, PartialEq)]
pub struct ClinicSpec {
    pub index: u32,
    pub designation: NaiveDate,
    pub kind: ClinicKind,
    pub prefecture: Prefecture,
    pub bureau: Bureau,
    pub maker: usize,
    pub vendor: usize,
    pub carrier: usize,
    /// Calendar days before installation that reader, line and vendor are ordered.
    pub order_margin: i64,
}

impl ClinicSpec {
    /// The region (a bureau's area) as an index of `Bureau::ALL`.
    pub fn region(&self) -> usize {
        Bureau::ALL
            .iter()
            .position(|b| *b == self.bureau)
            .expect("in ALL")
    }
}

/// Draw an index with probability proportional to its weight (weights checked ≥ 0,
/// not all 0).
pub fn pick(rng: &mut ChaCha8Rng, weights: impl Iterator<Item = f64> + Clone) -> usize {
    let total: f64 = weights.clone().sum();
    let mut u = rng.gen::<f64>() * total;
    let mut last = 0;
    for (i, w) in weights.enumerate() {
        if w > 0.0 {
            last = i;
            if u < w {
                return i;
            }
            u -= w;
        }
    }
    last
}

/// Every clinic of the file, in a fixed order.
pub fn draw(eco: &Ecosystem, seed: u64) -> Vec<ClinicSpec> {
    let mut rng = rng_for(seed, "population");
    let spec = &eco.spec;
    let mut out = Vec::new();
    for m in &spec.population.months {
        for _ in 0..m.clinics {
            let kind = eco.kinds[pick(&mut rng, eco.kinds.iter().map(|x| x.1))].0;
            let prefecture = eco.prefectures[pick(&mut rng, eco.prefectures.iter().map(|x| x.1))].0;
            let maker = pick(&mut rng, spec.reader_makers.iter().map(|x| x.share));
            let vendor = pick(&mut rng, spec.system_vendors.iter().map(|x| x.share));
            let carrier = pick(&mut rng, spec.carriers.iter().map(|x| x.share));
            let order_margin = match &spec.population.order_margin {
                Some(d) => i64::from(d.sample_days(&mut rng)),
                None => DEFAULT_MARGIN,
            };
            out.push(ClinicSpec {
                index: out.len() as u32,
                designation: m.designation,
                kind,
                prefecture,
                bureau: prefecture.bureau(),
                maker,
                vendor,
                carrier,
                order_margin,
            });
        }
    }
    out
}
