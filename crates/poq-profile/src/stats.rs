//! Summary statistics of repeated measurements.
//!
//! Percentiles use linear interpolation between closest ranks, numpy's default
//! (`method="linear"`): for sorted samples `x[0..n]` and `q ∈ [0, 1]`, let `h = (n − 1)·q`; the
//! percentile is `x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋ + 1] − x[⌊h⌋])`. The standard deviation is the sample
//! standard deviation (divisor `n − 1`, numpy's `ddof=1`), 0 for a single sample.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Mean, spread and order statistics of one measured quantity over the repetitions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of samples.
    pub n: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (divisor `n − 1`; 0 when `n = 1`).
    pub std: f64,
    /// Median (linear interpolation).
    pub p50: f64,
    /// 95th percentile (linear interpolation).
    pub p95: f64,
    /// 99th percentile (linear interpolation).
    pub p99: f64,
    /// Smallest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
}

impl Summary {
    /// Summarizes `samples`; `what` names the quantity in the error when they are empty or one is
    /// not finite.
    ///
    /// ```
    /// use poq_profile::Summary;
    /// let s = Summary::of("latency_ms", &[4.0, 1.0, 3.0, 2.0])?;
    /// assert_eq!((s.mean, s.p50, s.min, s.max), (2.5, 2.5, 1.0, 4.0));
    /// // numpy.percentile([1, 2, 3, 4], 95) == 3.85
    /// assert!((s.p95 - 3.85).abs() < 1e-12);
    /// # Ok::<(), poq_profile::Error>(())
    /// ```
    pub fn of(what: &str, samples: &[f64]) -> Result<Summary> {
        if samples.is_empty() {
            return Err(Error::Statistics { what: what.to_owned(), reason: "no samples".into() });
        }
        if let Some((i, v)) = samples.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::Statistics { what: what.to_owned(), reason: format!("sample {i} is {v}") });
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let mean = sorted.iter().sum::<f64>() / n as f64;
        let var = if n > 1 { sorted.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64 } else { 0.0 };
        Ok(Summary {
            n,
            mean,
            std: var.sqrt(),
            p50: percentile_sorted(&sorted, 0.50),
            p95: percentile_sorted(&sorted, 0.95),
            p99: percentile_sorted(&sorted, 0.99),
            min: sorted[0],
            max: sorted[n - 1],
        })
    }
}

/// The `q`-quantile (`q ∈ [0, 1]`, clamped) of ascending `sorted` samples by linear interpolation
/// (numpy's default); NaN for no samples.
///
/// ```
/// use poq_profile::percentile_sorted;
/// assert_eq!(percentile_sorted(&[10.0, 20.0, 30.0], 0.25), 15.0);
/// ```
pub fn percentile_sorted(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let h = (n - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_sample_has_zero_spread() {
        let s = Summary::of("x", &[7.0]).unwrap();
        assert_eq!((s.n, s.mean, s.std, s.p50, s.p99, s.min, s.max), (1, 7.0, 0.0, 7.0, 7.0, 7.0, 7.0));
    }

    #[test]
    fn errors_name_the_quantity() {
        let e = Summary::of("decode_tokens_per_s", &[]).unwrap_err().to_string();
        assert!(e.contains("decode_tokens_per_s") && e.contains("no samples"), "{e}");
        let e = Summary::of("latency_ms", &[1.0, f64::NAN]).unwrap_err().to_string();
        assert!(e.contains("latency_ms") && e.contains("sample 1"), "{e}");
    }

    #[test]
    fn percentile_endpoints() {
        let x = [1.0, 2.0, 4.0];
        assert_eq!(percentile_sorted(&x, 0.0), 1.0);
        assert_eq!(percentile_sorted(&x, 1.0), 4.0);
        assert_eq!(percentile_sorted(&x, 0.75), 3.0);
        assert!(percentile_sorted(&[], 0.5).is_nan());
    }
}
