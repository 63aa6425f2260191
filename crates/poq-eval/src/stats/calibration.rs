//! Calibration of an evaluator's scores to a yardstick (F1): least squares and isotonic regression.

use super::check_pair;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// `y ≈ slope·x + intercept` by least squares (scipy's `linregress`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LinearFit {
    /// Slope.
    pub slope: f64,
    /// Intercept.
    pub intercept: f64,
    /// Coefficient of determination on the fitted data.
    pub r_squared: f64,
}

impl LinearFit {
    /// Fits `y` on `x`; a constant `x` is an error.
    pub fn fit(x: &[f64], y: &[f64]) -> Result<LinearFit> {
        check_pair(x, y)?;
        let n = x.len() as f64;
        let mx = x.iter().sum::<f64>() / n;
        let my = y.iter().sum::<f64>() / n;
        let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
        for (a, b) in x.iter().zip(y) {
            sxy += (a - mx) * (b - my);
            sxx += (a - mx) * (a - mx);
            syy += (b - my) * (b - my);
        }
        if sxx == 0.0 {
            return Err(super::constant("x"));
        }
        let slope = sxy / sxx;
        let r_squared = if syy == 0.0 { 1.0 } else { sxy * sxy / (sxx * syy) };
        Ok(LinearFit { slope, intercept: my - slope * mx, r_squared })
    }

    /// The fitted value at `x`.
    pub fn predict(&self, x: f64) -> f64 {
        self.slope * x + self.intercept
    }
}

/// A non-decreasing step-and-ramp fit by pool adjacent violators, as sklearn's
/// `IsotonicRegression(increasing=True, out_of_bounds="clip")`: duplicate `x` are merged into their
/// mean, predictions interpolate linearly between fitted points and clip outside them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsotonicFit {
    /// Distinct `x`, increasing.
    pub x: Vec<f64>,
    /// Fitted values at `x`, non-decreasing.
    pub y: Vec<f64>,
}

impl IsotonicFit {
    /// Fits `y` on `x`.
    pub fn fit(x: &[f64], y: &[f64]) -> Result<IsotonicFit> {
        check_pair(x, y)?;
        let mut order: Vec<usize> = (0..x.len()).collect();
        order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
        // Blocks of (x, mean y, weight); first one per distinct x, then pooled.
        let mut xs: Vec<f64> = Vec::new();
        let mut blocks: Vec<(f64, f64, usize)> = Vec::new(); // (mean, weight, first index into xs)
        for &i in &order {
            match xs.last() {
                Some(&last) if last == x[i] => {
                    if let Some(b) = blocks.last_mut() {
                        b.0 = (b.0 * b.1 + y[i]) / (b.1 + 1.0);
                        b.1 += 1.0;
                    }
                }
                _ => {
                    xs.push(x[i]);
                    blocks.push((y[i], 1.0, xs.len() - 1));
                }
            }
        }
        // Pool adjacent violators over the distinct-x blocks.
        let mut pooled: Vec<(f64, f64, usize)> = Vec::with_capacity(blocks.len());
        for b in blocks {
            pooled.push(b);
            while pooled.len() >= 2 && pooled[pooled.len() - 2].0 > pooled[pooled.len() - 1].0 {
                let (m2, w2, _) = pooled.pop().ok_or_else(internal)?;
                let last = pooled.last_mut().ok_or_else(internal)?;
                last.0 = (last.0 * last.1 + m2 * w2) / (last.1 + w2);
                last.1 += w2;
            }
        }
        let mut ys = vec![0.0; xs.len()];
        for (k, &(mean, _, start)) in pooled.iter().enumerate() {
            let end = pooled.get(k + 1).map_or(xs.len(), |b| b.2);
            ys[start..end].fill(mean);
        }
        Ok(IsotonicFit { x: xs, y: ys })
    }

    /// The fitted value at `x`, interpolated between fitted points and clipped outside them.
    pub fn predict(&self, x: f64) -> f64 {
        let (xs, ys) = (&self.x, &self.y);
        if xs.is_empty() {
            return f64::NAN;
        }
        if x <= xs[0] {
            return ys[0];
        }
        let last = xs.len() - 1;
        if x >= xs[last] {
            return ys[last];
        }
        let hi = xs.partition_point(|&v| v <= x);
        let lo = hi - 1;
        if xs[lo] == x {
            return ys[lo];
        }
        ys[lo] + (x - xs[lo]) * (ys[hi] - ys[lo]) / (xs[hi] - xs[lo])
    }
}

fn internal() -> Error {
    Error::InvalidArgument { name: "x", message: "isotonic pooling ran out of blocks".to_owned() }
}

/// Both calibrations of an evaluator's 0–10 scores to a yardstick such as F1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Least squares.
    pub linear: LinearFit,
    /// Isotonic.
    pub isotonic: IsotonicFit,
}

impl Calibration {
    /// Fits both maps from `scores` to `target`.
    pub fn fit(scores: &[f64], target: &[f64]) -> Result<Calibration> {
        Ok(Calibration { linear: LinearFit::fit(scores, target)?, isotonic: IsotonicFit::fit(scores, target)? })
    }
}
