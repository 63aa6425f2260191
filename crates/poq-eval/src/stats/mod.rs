//! Statistics for judging evaluators against a yardstick (token F1 or a judge): Pearson, Spearman
//! and Kendall tau-b with p-values and seeded percentile-bootstrap confidence intervals, per task and
//! overall, and calibration fits (linear and isotonic) of an evaluator's scores to F1.
//!
//! Point estimates and p-values follow scipy (`pearsonr`, `spearmanr`, `kendalltau(variant="b",
//! method="asymptotic")`, `linregress`) and sklearn's `IsotonicRegression`; the parity test compares
//! with fixtures those libraries produced. Degenerate input (length mismatch, fewer than two points,
//! NaN or infinity, a constant series) is an [`Error::InvalidArgument`], never a NaN result.

mod bootstrap;
mod calibration;
mod correlation;

pub use bootstrap::{BootstrapConfig, Correlation, TaskCorrelation, correlate, correlate_by_task};
pub use calibration::{Calibration, IsotonicFit, LinearFit};
pub use correlation::{CorrelationTest, Method, average_ranks, kendall_tau_b, pearson, spearman};

use crate::error::{Error, Result};

/// Checks that two series pair up, have at least two points and are finite.
pub(crate) fn check_pair(x: &[f64], y: &[f64]) -> Result<()> {
    if x.len() != y.len() {
        return Err(Error::InvalidArgument {
            name: "y",
            message: format!("length mismatch: x has {} values but y has {}", x.len(), y.len()),
        });
    }
    if x.len() < 2 {
        return Err(Error::InvalidArgument { name: "x", message: format!("need at least 2 points, got {}", x.len()) });
    }
    for (name, series) in [("x", x), ("y", y)] {
        if let Some(i) = series.iter().position(|v| !v.is_finite()) {
            return Err(Error::InvalidArgument {
                name,
                message: format!("value {} at index {i} is not finite", series[i]),
            });
        }
    }
    Ok(())
}

/// The error for a series whose spread is zero: a correlation is undefined there.
pub(crate) fn constant(name: &'static str) -> Error {
    Error::InvalidArgument { name, message: "all values are equal, so the correlation is undefined".to_owned() }
}
