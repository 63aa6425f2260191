//! Seeded percentile-bootstrap confidence intervals, per task and overall.

use super::check_pair;
use super::correlation::Method;
use crate::error::{Error, Result};
use poq_core::Task;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// How to bootstrap: resamples, confidence level and seed. Defaults: 1,000 resamples, 95%, seed 42.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BootstrapConfig {
    /// Number of resamples (with replacement, same size as the data).
    pub resamples: usize,
    /// Confidence level in (0, 1).
    pub level: f64,
    /// Seed; resample `i` uses its own generator derived from it, so results do not depend on threads.
    pub seed: u64,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        BootstrapConfig { resamples: 1000, level: 0.95, seed: 42 }
    }
}

/// A coefficient with its p-value and bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Correlation {
    /// Which coefficient.
    pub method: Method,
    /// Number of pairs.
    pub n: usize,
    /// The coefficient on the data.
    pub estimate: f64,
    /// Two-sided p-value (`None` below 3 points).
    pub p_value: Option<f64>,
    /// Lower end of the percentile interval.
    pub ci_low: f64,
    /// Upper end of the percentile interval.
    pub ci_high: f64,
    /// Resamples that gave a coefficient (a resample with a constant series has none).
    pub resamples_used: usize,
}

/// One row of a per-task report; `task` is `None` for all tasks together.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TaskCorrelation {
    /// The task, or `None` for the overall row.
    pub task: Option<Task>,
    /// The correlation within it.
    pub correlation: Correlation,
}

/// Linear interpolation between order statistics (numpy's default `quantile`).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// The coefficient, its p-value and a seeded percentile-bootstrap interval.
pub fn correlate(method: Method, x: &[f64], y: &[f64], cfg: &BootstrapConfig) -> Result<Correlation> {
    if cfg.resamples == 0 {
        return Err(Error::InvalidArgument { name: "resamples", message: "must be at least 1".to_owned() });
    }
    if !(cfg.level > 0.0 && cfg.level < 1.0) {
        return Err(Error::InvalidArgument { name: "level", message: format!("{} is not in (0, 1)", cfg.level) });
    }
    check_pair(x, y)?;
    let test = method.test(x, y)?;
    let n = x.len();
    let mut stats: Vec<f64> = (0..cfg.resamples)
        .into_par_iter()
        .map_init(
            || (Vec::with_capacity(n), Vec::with_capacity(n)),
            |(bx, by), i| {
                let mut rng = StdRng::seed_from_u64(cfg.seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                bx.clear();
                by.clear();
                for _ in 0..n {
                    let k = rng.random_range(0..n);
                    bx.push(x[k]);
                    by.push(y[k]);
                }
                method.estimate(bx, by).ok()
            },
        )
        .flatten()
        .collect();
    if stats.is_empty() {
        return Err(Error::InvalidArgument {
            name: "x",
            message: "every bootstrap resample was constant; no interval can be formed".to_owned(),
        });
    }
    stats.sort_by(f64::total_cmp);
    let alpha = 1.0 - cfg.level;
    Ok(Correlation {
        method,
        n,
        estimate: test.estimate,
        p_value: test.p_value,
        ci_low: quantile(&stats, alpha / 2.0),
        ci_high: quantile(&stats, 1.0 - alpha / 2.0),
        resamples_used: stats.len(),
    })
}

/// One row per task present (in `Task` order), then the overall row. An error names the task.
pub fn correlate_by_task(
    tasks: &[Task],
    method: Method,
    x: &[f64],
    y: &[f64],
    cfg: &BootstrapConfig,
) -> Result<Vec<TaskCorrelation>> {
    if tasks.len() != x.len() {
        return Err(Error::InvalidArgument {
            name: "tasks",
            message: format!("length mismatch: {} tasks for {} values", tasks.len(), x.len()),
        });
    }
    let mut rows = Vec::new();
    for task in tasks.iter().copied().collect::<BTreeSet<_>>() {
        let (tx, ty): (Vec<f64>, Vec<f64>) =
            tasks.iter().zip(x.iter().zip(y)).filter(|(t, _)| **t == task).map(|(_, (a, b))| (*a, *b)).unzip();
        let correlation = correlate(method, &tx, &ty, cfg)
            .map_err(|e| Error::InvalidArgument { name: "task", message: format!("{}: {e}", task.short_name()) })?;
        rows.push(TaskCorrelation { task: Some(task), correlation });
    }
    rows.push(TaskCorrelation { task: None, correlation: correlate(method, x, y, cfg)? });
    Ok(rows)
}
