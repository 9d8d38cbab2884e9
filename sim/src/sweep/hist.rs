//! Dense integer histograms: the exact, mergeable form of every distribution a sweep
//! reports (start delay, each slack).

/// Slack and delays are clamped into this many days either side of zero.
pub const HIST_RANGE: i32 = 400;

/// A dense integer histogram over `-HIST_RANGE..=HIST_RANGE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hist {
    counts: Vec<u64>,
}

impl Default for Hist {
    fn default() -> Self {
        Hist {
            counts: vec![0; (2 * HIST_RANGE + 1) as usize],
        }
    }
}

impl Hist {
    pub fn add(&mut self, v: i32) {
        self.add_n(v, 1);
    }
    pub fn add_n(&mut self, v: i32, n: u64) {
        let i = (v.clamp(-HIST_RANGE, HIST_RANGE) + HIST_RANGE) as usize;
        self.counts[i] += n;
    }
    pub fn merge(&mut self, o: &Hist) {
        for (a, b) in self.counts.iter_mut().zip(&o.counts) {
            *a += b;
        }
    }
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
    /// Non-zero bins as `[value, count]`, ascending.
    pub fn sparse(&self) -> Vec<[i64; 2]> {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, c)| [i as i64 - i64::from(HIST_RANGE), *c as i64])
            .collect()
    }
    pub fn from_sparse(bins: &[[i64; 2]]) -> Result<Hist, String> {
        let mut h = Hist::default();
        for [v, c] in bins {
            if *v < -i64::from(HIST_RANGE) || *v > i64::from(HIST_RANGE) || *c < 0 {
                return Err(format!("histogram bin [{v}, {c}] out of range"));
            }
            h.add_n(*v as i32, *c as u64);
        }
        Ok(h)
    }
    /// Nearest-rank percentile (`q` in 0..=1): the smallest value with at least
    /// `ceil(q·n)` observations at or below it.
    pub fn percentile(&self, q: f64) -> Option<i64> {
        let n = self.total();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let mut acc = 0;
        for (i, c) in self.counts.iter().enumerate() {
            acc += c;
            if acc >= rank {
                return Some(i as i64 - i64::from(HIST_RANGE));
            }
        }
        None
    }
    /// Sum of values (exact, integer).
    pub fn sum(&self) -> i128 {
        self.counts
            .iter()
            .enumerate()
            .map(|(i, c)| (i as i128 - i128::from(HIST_RANGE)) * i128::from(*c))
            .sum()
    }
    /// Observations strictly below `v`.
    pub fn below(&self, v: i32) -> u64 {
        let end = (v.clamp(-HIST_RANGE, HIST_RANGE + 1) + HIST_RANGE) as usize;
        self.counts[..end.min(self.counts.len())].iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut h = Hist::default();
        for v in [-3, 1, 1, 2, 10] {
            h.add(v);
        }
        assert_eq!(h.percentile(0.0), Some(-3));
        assert_eq!(h.percentile(0.5), Some(1));
        assert_eq!(h.percentile(0.8), Some(2));
        assert_eq!(h.percentile(1.0), Some(10));
        assert_eq!(h.sum(), 11);
        assert_eq!(h.below(1), 1);
        // Clamped into the range, never dropped.
        h.add(10_000);
        assert_eq!(h.percentile(1.0), Some(i64::from(HIST_RANGE)));
        assert_eq!(Hist::default().percentile(0.5), None);
        assert!(Hist::from_sparse(&[[401, 1]]).is_err());
    }

    proptest! {
        #[test]
        fn hist_round_trips_and_merges(xs in proptest::collection::vec(-500i32..500, 0..200),
                                       ys in proptest::collection::vec(-500i32..500, 0..200)) {
            let mut a = Hist::default();
            xs.iter().for_each(|x| a.add(*x));
            let mut b = Hist::default();
            ys.iter().for_each(|y| b.add(*y));
            prop_assert_eq!(Hist::from_sparse(&a.sparse()).unwrap(), a.clone());
            let mut ab = a.clone();
            ab.merge(&b);
            let mut ba = b.clone();
            ba.merge(&a);
            prop_assert_eq!(&ab, &ba);
            prop_assert_eq!(ab.total(), (xs.len() + ys.len()) as u64);
        }
    }
}
