//! Counter-based randomness: every round's generator is a pure function of (seed, round).
//!
//! That is what makes results independent of the number of threads and of how rounds are split
//! into chunks: no generator state flows from one round to the next. The generator is SplitMix64
//! (Steele, Lea and Flood 2014), which passes BigCrush, costs a few instructions per draw, and whose
//! seeding by a strong 64-bit mix of (seed, round) gives decorrelated streams per round.

use rand::TryRng;
use rand_distr::{Distribution, StandardNormal};
use std::convert::Infallible;

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 output mix (a bijection of `u64` with full avalanche).
#[inline]
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The random stream of one round of one simulation.
#[derive(Debug, Clone)]
pub struct RoundRng {
    state: u64,
}

impl RoundRng {
    /// The generator of round `round` of a simulation seeded with `seed`.
    #[inline]
    pub fn new(seed: u64, round: u64) -> Self {
        // Two mixes so that neighbouring seeds and neighbouring rounds land far apart.
        let key = mix64(seed ^ 0x005E_ED0F_9011_u64);
        RoundRng { state: mix64(key ^ round.wrapping_mul(GOLDEN)) }
    }

    /// The next 64 random bits.
    #[inline]
    pub fn bits(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        mix64(self.state)
    }

    /// Uniform in [0, 1) with 53 bits of precision.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.bits() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p` (exactly never for 0, always for 1).
    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (p >= 1.0 || self.uniform() < p)
    }

    /// Uniform index in `0..n` (Lemire's multiply-shift; bias below 2^-64·n, irrelevant here).
    #[inline]
    pub fn index(&mut self, n: usize) -> usize {
        ((u128::from(self.bits()) * n as u128) >> 64) as usize
    }

    /// A standard normal draw (ziggurat, from rand_distr).
    #[inline]
    pub fn normal(&mut self) -> f64 {
        StandardNormal.sample(self)
    }
}

impl TryRng for RoundRng {
    type Error = Infallible;
    #[inline]
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok((self.bits() >> 32) as u32)
    }
    #[inline]
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.bits())
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.bits().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_pure_functions_of_seed_and_round() {
        let a: Vec<u64> = (0..4).map(|_| 0).scan(RoundRng::new(42, 7), |r, _: u64| Some(r.bits())).collect();
        let b: Vec<u64> = (0..4).map(|_| 0).scan(RoundRng::new(42, 7), |r, _: u64| Some(r.bits())).collect();
        assert_eq!(a, b);
        assert_ne!(RoundRng::new(42, 7).bits(), RoundRng::new(42, 8).bits());
        assert_ne!(RoundRng::new(42, 7).bits(), RoundRng::new(43, 7).bits());
    }

    #[test]
    fn moments_are_right() {
        let n = 200_000;
        let (mut su, mut sn, mut sn2, mut hits) = (0.0, 0.0, 0.0, 0usize);
        let mut counts = [0usize; 5];
        for r in 0..n {
            let mut g = RoundRng::new(1, r);
            su += g.uniform();
            let z = g.normal();
            sn += z;
            sn2 += z * z;
            hits += usize::from(g.chance(0.25));
            counts[g.index(5)] += 1;
        }
        let n = n as f64;
        assert!((su / n - 0.5).abs() < 0.005);
        assert!((sn / n).abs() < 0.01);
        assert!((sn2 / n - 1.0).abs() < 0.02);
        assert!((hits as f64 / n - 0.25).abs() < 0.005);
        assert!(counts.iter().all(|&c| (c as f64 / n - 0.2).abs() < 0.005), "{counts:?}");
        let mut g = RoundRng::new(0, 0);
        assert!(!g.chance(0.0) && g.chance(1.0));
    }
}
