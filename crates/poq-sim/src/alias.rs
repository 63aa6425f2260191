//! Walker's alias method (Vose's construction): O(1) draws in proportion to weights at any pool
//! size, and K distinct draws by rejecting repeats.
//!
//! Rejecting a repeat and drawing again from the full table is exactly a draw in proportion to
//! the weights of those not yet drawn, so `distinct` gives the same distribution as successive
//! stake-weighted draws without replacement (the `stake` sampling of small scenarios), at an
//! expected `K / (1 − (K − 1)·s_max)` table draws, `s_max` the largest weight share.

use crate::error::{Result, SimError};
use crate::rng::RoundRng;

/// One entry per index: the probability of keeping the index (32 bits) and its alias (32 bits).
#[derive(Debug, Clone)]
pub(crate) struct AliasTable {
    entries: Vec<u64>,
    positive: usize,
}

impl AliasTable {
    /// A table drawing index `i` with probability `weights[i] / Σ weights`. `field` names the
    /// weights in errors: they must be finite, ≥ 0, not all zero, and at most 2^32 of them.
    pub(crate) fn new(field: &str, weights: &[f64]) -> Result<Self> {
        let n = weights.len();
        if n == 0 || n > u32::MAX as usize {
            return Err(SimError::invalid(field, format!("needs 1 to 2^32 entries (got {n})")));
        }
        if let Some((i, w)) = weights.iter().enumerate().find(|(_, w)| !(w.is_finite() && **w >= 0.0)) {
            return Err(SimError::invalid(format!("{field}[{i}]"), format!("must be finite and >= 0 (got {w})")));
        }
        let total: f64 = weights.iter().sum();
        if !(total > 0.0 && total.is_finite()) {
            return Err(SimError::invalid(field, format!("the weights must have a positive finite sum (got {total})")));
        }
        // Vose: scaled weights n·w/Σw; pair each small entry with a large one.
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
        let (mut small, mut large): (Vec<u32>, Vec<u32>) = (Vec::new(), Vec::new());
        for (i, &p) in scaled.iter().enumerate() {
            if p < 1.0 { small.push(i as u32) } else { large.push(i as u32) }
        }
        let mut entries = vec![0u64; n];
        while let (Some(&s), Some(&l)) = (small.last(), large.last()) {
            small.pop();
            entries[s as usize] = (threshold(scaled[s as usize]) << 32) | u64::from(l);
            scaled[l as usize] -= 1.0 - scaled[s as usize];
            if scaled[l as usize] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // What is left is 1 up to rounding: always keep.
        for i in small.into_iter().chain(large) {
            entries[i as usize] = (u64::from(u32::MAX) << 32) | u64::from(i);
        }
        // An entry of weight 0 must never be kept, whatever rounding left in its threshold.
        for (e, &w) in entries.iter_mut().zip(weights) {
            if w == 0.0 {
                *e &= u64::from(u32::MAX);
            }
        }
        Ok(AliasTable { entries, positive: weights.iter().filter(|&&w| w > 0.0).count() })
    }

    /// Number of indices with positive weight.
    pub(crate) fn positive(&self) -> usize {
        self.positive
    }

    /// One index, from one 64-bit draw: its high part picks the entry (Lemire), its low part is
    /// the coin that keeps the entry or takes its alias.
    #[inline(always)]
    pub(crate) fn sample(&self, rng: &mut RoundRng) -> usize {
        let m = u128::from(rng.bits()) * self.entries.len() as u128;
        let e = self.entries[(m >> 64) as usize];
        let coin = (m as u64 >> 32) as u32;
        if coin < (e >> 32) as u32 { (m >> 64) as usize } else { (e as u32) as usize }
    }

    /// `out.len()` distinct indices (at most [`positive`](Self::positive)), by rejecting repeats.
    #[inline(always)]
    pub(crate) fn distinct(&self, rng: &mut RoundRng, out: &mut [usize]) {
        for j in 0..out.len() {
            out[j] = loop {
                let i = self.sample(rng);
                if !out[..j].contains(&i) {
                    break i;
                }
            };
        }
    }
}

/// A probability in [0, 1] as a 32-bit threshold (`u32::MAX` stands for 1: kept always).
fn threshold(p: f64) -> u64 {
    if p >= 1.0 { u64::from(u32::MAX) } else { (p.max(0.0) * 4_294_967_296.0) as u64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_follow_the_weights_and_never_pick_zero_weights() {
        let w = [0.0, 1.0, 2.0, 0.0, 5.0, 0.5];
        let t = AliasTable::new("w", &w).unwrap();
        assert_eq!(t.positive(), 4);
        let n = 200_000;
        let mut counts = [0usize; 6];
        for r in 0..n {
            counts[t.sample(&mut RoundRng::new(3, r))] += 1;
        }
        assert_eq!((counts[0], counts[3]), (0, 0));
        let total: f64 = w.iter().sum();
        for (i, &c) in counts.iter().enumerate() {
            assert!((c as f64 / n as f64 - w[i] / total).abs() < 0.004, "{i}: {counts:?}");
        }
    }

    #[test]
    fn distinct_draws_are_distinct() {
        let t = AliasTable::new("w", &[1.0, 1.0, 8.0, 1.0]).unwrap();
        let mut out = [0; 3];
        for r in 0..1000 {
            t.distinct(&mut RoundRng::new(1, r), &mut out);
            assert!(out[0] != out[1] && out[1] != out[2] && out[0] != out[2], "{out:?}");
        }
    }

    #[test]
    fn bad_weights_name_the_entry() {
        assert!(AliasTable::new("stake", &[1.0, f64::NAN]).unwrap_err().to_string().contains("stake[1]"));
        assert!(AliasTable::new("stake", &[1.0, -1.0]).unwrap_err().to_string().contains("stake[1]"));
        assert!(AliasTable::new("stake", &[0.0, 0.0]).unwrap_err().to_string().contains("positive"));
        assert!(AliasTable::new("stake", &[]).is_err());
    }
}
