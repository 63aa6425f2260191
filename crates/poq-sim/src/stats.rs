//! Streaming accumulators: memory does not grow with the number of rounds.
//!
//! Inside a chunk of rounds each node keeps shifted sums (`Σ(x − x₀)`, `Σ(x − x₀)²` with `x₀` its
//! first observation in the chunk: cheap adds, no cancellation); chunks are merged, in chunk order,
//! into a Welford/Chan accumulator (count, mean, M2). The chunk size is fixed, so the result does
//! not depend on the number of threads.

/// Per-node sums within one chunk.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ChunkSums {
    pub(crate) n: u64,
    shift: f64,
    s1: f64,
    s2: f64,
    pub(crate) slashes: u64,
    pub(crate) slashed: f64,
}

impl ChunkSums {
    #[inline]
    pub(crate) fn add(&mut self, x: f64) {
        if self.n == 0 {
            self.shift = x;
        }
        self.add_shifted(x);
    }

    /// [`add`](Self::add) once the shift is set (after the first observation): no branch.
    #[inline]
    pub(crate) fn add_shifted(&mut self, x: f64) {
        let d = x - self.shift;
        self.s1 += d;
        self.s2 += d * d;
        self.n += 1;
    }
}

/// Count, mean and M2 (sum of squared deviations) of a stream, mergeable (Chan et al. 1979).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Welford {
    /// Observations.
    pub(crate) n: u64,
    /// Their mean.
    pub(crate) mean: f64,
    /// Sum of squared deviations from the mean.
    pub(crate) m2: f64,
}

impl Welford {
    /// Adds one observation.
    pub(crate) fn push(&mut self, x: f64) {
        self.merge(&Welford { n: 1, mean: x, m2: 0.0 });
    }

    /// Merges another accumulator into this one.
    pub(crate) fn merge(&mut self, o: &Welford) {
        if o.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *o;
            return;
        }
        let n = self.n + o.n;
        let d = o.mean - self.mean;
        let (na, nb) = (self.n as f64, o.n as f64);
        self.mean += d * nb / n as f64;
        self.m2 += o.m2 + d * d * na * nb / n as f64;
        self.n = n;
    }

    pub(crate) fn merge_chunk(&mut self, c: &ChunkSums) {
        if c.n == 0 {
            return;
        }
        let nf = c.n as f64;
        let mean = c.shift + c.s1 / nf;
        let m2 = (c.s2 - c.s1 * c.s1 / nf).max(0.0);
        self.merge(&Welford { n: c.n, mean, m2 });
    }

    /// Sample standard deviation (NaN below two observations).
    pub(crate) fn std(&self) -> f64 {
        if self.n < 2 { f64::NAN } else { (self.m2 / (self.n - 1) as f64).sqrt() }
    }

    /// Two-sided 95 % confidence interval of the mean from Student's t with n − 1 degrees of freedom.
    pub(crate) fn ci95(&self) -> (f64, f64) {
        if self.n < 2 {
            return (f64::NAN, f64::NAN);
        }
        let t = crate::special::t_975((self.n - 1) as f64);
        let half = t * self.std() / (self.n as f64).sqrt();
        (self.mean - half, self.mean + half)
    }
}

/// Mean and 95 % confidence interval (Student's t, as in every report) of `values`: `(mean, low,
/// high)`; the interval is NaN below two values, the mean below one.
///
/// ```
/// // Mean 2, sd 1, t(0.975, 2 df) = 4.3027: half-width 4.3027 / sqrt(3).
/// let (mean, low, high) = poq_sim::mean_ci95(&[1.0, 2.0, 3.0]);
/// assert_eq!(mean, 2.0);
/// assert!((high - mean - 4.302653 / 3f64.sqrt()).abs() < 1e-5 && (mean - low - (high - mean)).abs() < 1e-12);
/// assert!(poq_sim::mean_ci95(&[5.0]).1.is_nan() && poq_sim::mean_ci95(&[]).0.is_nan());
/// ```
#[must_use]
pub fn mean_ci95(values: &[f64]) -> (f64, f64, f64) {
    let mut w = Welford::default();
    values.iter().for_each(|&x| w.push(x));
    let mean = if w.n == 0 { f64::NAN } else { w.mean };
    let (low, high) = w.ci95();
    (mean, low, high)
}

/// Consensus error sums within a chunk.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ErrorSums {
    pub(crate) n: u64,
    pub(crate) abs: f64,
    pub(crate) sq: f64,
    pub(crate) signed: f64,
}

impl ErrorSums {
    #[inline]
    pub(crate) fn add(&mut self, e: f64) {
        self.n += 1;
        self.abs += e.abs();
        self.sq += e * e;
        self.signed += e;
    }

    pub(crate) fn merge(&mut self, o: &ErrorSums) {
        self.n += o.n;
        self.abs += o.abs;
        self.sq += o.sq;
        self.signed += o.signed;
    }
}

/// Everything one chunk of rounds accumulates.
#[derive(Debug, Clone)]
pub(crate) struct ChunkAcc {
    /// Inference nodes first, then evaluators.
    pub(crate) nodes: Vec<ChunkSums>,
    pub(crate) error: ErrorSums,
}

impl ChunkAcc {
    pub(crate) fn new(n: usize) -> Self {
        ChunkAcc { nodes: vec![ChunkSums::default(); n], error: ErrorSums::default() }
    }
}

/// The run-wide accumulator.
#[derive(Debug, Clone)]
pub(crate) struct Totals {
    pub(crate) nodes: Vec<Welford>,
    pub(crate) slashes: Vec<u64>,
    pub(crate) slashed: Vec<f64>,
    pub(crate) error: ErrorSums,
}

impl Totals {
    pub(crate) fn new(n: usize) -> Self {
        Totals {
            nodes: vec![Welford::default(); n],
            slashes: vec![0; n],
            slashed: vec![0.0; n],
            error: ErrorSums::default(),
        }
    }

    pub(crate) fn merge(&mut self, c: &ChunkAcc) {
        for (i, s) in c.nodes.iter().enumerate() {
            self.nodes[i].merge_chunk(s);
            self.slashes[i] += s.slashes;
            self.slashed[i] += s.slashed;
        }
        self.error.merge(&c.error);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_sums_match_two_pass_statistics() {
        let xs: Vec<f64> = (0..1000).map(|i| 1e6 + ((i * 37) % 101) as f64 * 0.01).collect();
        let mut w = Welford::default();
        for part in xs.chunks(300) {
            let mut c = ChunkSums::default();
            part.iter().for_each(|&x| c.add(x));
            w.merge_chunk(&c);
        }
        let n = xs.len() as f64;
        let m = xs.iter().sum::<f64>() / n;
        let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
        assert!((w.mean - m).abs() < 1e-9);
        assert!((w.std() - v.sqrt()).abs() < 1e-9, "{} {}", w.std(), v.sqrt());
        let mut p = Welford::default();
        xs.iter().for_each(|&x| p.push(x));
        assert!((p.std() - v.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn t_interval_hand_value() {
        // n = 4, mean 2.5, sd 1.2910: t(0.975, 3) = 3.1824 → half-width 2.0543.
        let mut w = Welford::default();
        [1.0, 2.0, 3.0, 4.0].iter().for_each(|&x| w.push(x));
        let (lo, hi) = w.ci95();
        assert!((hi - 2.5 - 2.0543).abs() < 1e-3 && (2.5 - lo - 2.0543).abs() < 1e-3, "{lo} {hi}");
        // Many observations: the factor is t(0.975, n − 1), not the normal's 1.96.
        let mut w = Welford::default();
        (0..20_001).for_each(|i| w.push(f64::from(i % 2)));
        let (lo, hi) = w.ci95();
        let want = 1.960_082_605_158_135_2 * w.std() / (w.n as f64).sqrt(); // t(0.975, 20000), mpmath
        assert!(((hi - lo) / 2.0 / want - 1.0).abs() < 1e-12, "{lo} {hi}");
        assert!(Welford::default().ci95().0.is_nan());
    }
}
