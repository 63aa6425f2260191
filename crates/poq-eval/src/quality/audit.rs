//! The audit: how each dimension correlates with token F1 and with the judge, per task, with
//! bootstrap intervals; which dimensions are unreliable or negatively correlated.

use super::table::DimensionTable;
use crate::stats::{BootstrapConfig, Correlation, Method, correlate};
use crate::{Error, Result};
use poq_core::Task;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The yardstick a dimension is audited against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Yardstick {
    /// Token F1 × 10.
    F1,
    /// The LLM judge (on the rows it scored).
    Judge,
}

impl Yardstick {
    /// `f1` or `judge`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Yardstick::F1 => "f1",
            Yardstick::Judge => "judge",
        }
    }
}

/// Audit settings. Defaults: 1,000 seeded resamples at 95%, and `min_abs` 0.1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AuditConfig {
    /// The bootstrap of every interval.
    pub bootstrap: BootstrapConfig,
    /// A Pearson estimate below this in absolute value is unreliable even with a tight interval.
    pub min_abs: f64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig { bootstrap: BootstrapConfig::default(), min_abs: 0.1 }
    }
}

/// One (dimension, yardstick, task) cell of the audit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRow {
    /// The dimension.
    pub dimension: String,
    /// Against what.
    pub against: Yardstick,
    /// The task, or `None` for all tasks together.
    pub task: Option<Task>,
    /// Pairs (rows where the yardstick has a value).
    pub n: usize,
    /// Pearson with its interval; `None` where undefined (a constant series, fewer than 3 pairs).
    pub pearson: Option<Correlation>,
    /// Spearman.
    pub spearman: Option<Correlation>,
    /// Kendall tau-b.
    pub kendall: Option<Correlation>,
    /// Pearson undefined, its interval contains 0, or |r| < `min_abs`.
    pub unreliable: bool,
    /// Pearson below 0.
    pub negative: bool,
}

impl AuditRow {
    /// Reliable and positive: the dimension may enter a composite.
    #[must_use]
    pub fn usable(&self) -> bool {
        !self.unreliable && !self.negative
    }

    /// Why the dimension is not usable, in words (`None` when it is).
    #[must_use]
    pub fn flaw(&self) -> Option<String> {
        match &self.pearson {
            None => Some("correlation undefined (constant scores or too few rows)".to_owned()),
            Some(c) if self.negative => Some(format!("negatively correlated (Pearson {:.3})", c.estimate)),
            Some(c) if self.unreliable => {
                Some(format!("unreliable (Pearson {:.3}, 95% CI [{:.3}, {:.3}])", c.estimate, c.ci_low, c.ci_high))
            }
            Some(_) => None,
        }
    }
}

/// Every cell of an audit: per dimension, per yardstick (F1, then the judge when the table has
/// one), per task present (in `Task` order) and then all tasks together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Audit {
    /// The cells.
    pub rows: Vec<AuditRow>,
}

impl Audit {
    /// The all-tasks cell of `dimension` against `against`.
    #[must_use]
    pub fn overall(&self, dimension: &str, against: Yardstick) -> Option<&AuditRow> {
        self.rows.iter().find(|r| r.dimension == dimension && r.against == against && r.task.is_none())
    }
}

/// Audits every dimension of `table`. An empty table or bad settings are errors; a cell whose
/// correlation is undefined is kept, with `None` coefficients and flagged unreliable.
pub fn audit(table: &DimensionTable, cfg: &AuditConfig) -> Result<Audit> {
    table.validate()?;
    if table.is_empty() {
        return Err(Error::InvalidArgument { name: "table", message: "no rows to audit".to_owned() });
    }
    if !(cfg.min_abs.is_finite() && cfg.min_abs >= 0.0) {
        return Err(Error::InvalidArgument {
            name: "min_abs",
            message: format!("{} is not finite and ≥ 0", cfg.min_abs),
        });
    }
    let mut yardsticks = vec![(Yardstick::F1, table.f1.as_slice())];
    if !table.judge.is_empty() {
        yardsticks.push((Yardstick::Judge, table.judge.as_slice()));
    }
    let tasks: Vec<Option<Task>> =
        table.tasks.iter().copied().collect::<BTreeSet<_>>().into_iter().map(Some).chain([None]).collect();
    let mut rows = Vec::new();
    for (name, col) in table.names.iter().zip(&table.columns) {
        for &(against, truth) in &yardsticks {
            for &task in &tasks {
                let (x, y): (Vec<f64>, Vec<f64>) = (0..table.len())
                    .filter(|&r| task.is_none_or(|t| table.tasks[r] == t) && truth[r].is_finite())
                    .map(|r| (col[r], truth[r]))
                    .unzip();
                rows.push(cell(name, against, task, &x, &y, cfg)?);
            }
        }
    }
    Ok(Audit { rows })
}

fn cell(
    name: &str,
    against: Yardstick,
    task: Option<Task>,
    x: &[f64],
    y: &[f64],
    cfg: &AuditConfig,
) -> Result<AuditRow> {
    // Undefined correlations (constant series, < 3 pairs) stay as None; settings errors propagate.
    let est = |m: Method| -> Result<Option<Correlation>> {
        if x.len() < 3 {
            return Ok(None);
        }
        match correlate(m, x, y, &cfg.bootstrap) {
            Ok(c) => Ok(Some(c)),
            Err(Error::InvalidArgument { name: "resamples" | "level", message }) => {
                Err(Error::InvalidArgument { name: "bootstrap", message })
            }
            Err(_) => Ok(None),
        }
    };
    let pearson = est(Method::Pearson)?;
    let (unreliable, negative) = match &pearson {
        None => (true, false),
        Some(c) => (c.ci_low <= 0.0 && c.ci_high >= 0.0 || c.estimate.abs() < cfg.min_abs, c.estimate < 0.0),
    };
    Ok(AuditRow {
        dimension: name.to_owned(),
        against,
        task,
        n: x.len(),
        pearson,
        spearman: est(Method::Spearman)?,
        kendall: est(Method::KendallTauB)?,
        unreliable,
        negative,
    })
}

/// The gain of one signal over another: `r(candidate, truth) − r(baseline, truth)` with a seeded
/// paired percentile-bootstrap interval (both coefficients on the same resamples of the rows).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Gain {
    /// Which coefficient.
    pub method: Method,
    /// Pairs.
    pub n: usize,
    /// The difference on the data.
    pub estimate: f64,
    /// Lower end of the interval.
    pub ci_low: f64,
    /// Upper end of the interval.
    pub ci_high: f64,
}

/// How much better `candidate` tracks `truth` than `baseline` does, by `method`, with a paired
/// bootstrap interval (resample `i` seeded from `cfg.seed` and `i`, as [`correlate`] does).
pub fn correlation_gain(
    method: Method,
    candidate: &[f64],
    baseline: &[f64],
    truth: &[f64],
    cfg: &BootstrapConfig,
) -> Result<Gain> {
    if baseline.len() != candidate.len() {
        return Err(Error::InvalidArgument {
            name: "baseline",
            message: format!("length mismatch: {} values for {} candidate values", baseline.len(), candidate.len()),
        });
    }
    if cfg.resamples == 0 || !(cfg.level > 0.0 && cfg.level < 1.0) {
        return Err(Error::InvalidArgument {
            name: "bootstrap",
            message: format!("{} resamples at level {} (need ≥ 1 and a level in (0, 1))", cfg.resamples, cfg.level),
        });
    }
    let estimate = method.estimate(candidate, truth)? - method.estimate(baseline, truth)?;
    let n = truth.len();
    let mut diffs = Vec::with_capacity(cfg.resamples);
    let (mut c, mut b, mut t) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..cfg.resamples {
        let mut rng = StdRng::seed_from_u64(cfg.seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        c.clear();
        b.clear();
        t.clear();
        for _ in 0..n {
            let k = rng.random_range(0..n);
            c.push(candidate[k]);
            b.push(baseline[k]);
            t.push(truth[k]);
        }
        if let (Ok(x), Ok(y)) = (method.estimate(&c, &t), method.estimate(&b, &t)) {
            diffs.push(x - y);
        }
    }
    if diffs.is_empty() {
        return Err(Error::InvalidArgument { name: "truth", message: "every resample was constant".to_owned() });
    }
    diffs.sort_by(f64::total_cmp);
    let alpha = 1.0 - cfg.level;
    let q = |p: f64| {
        let h = (diffs.len() - 1) as f64 * p;
        let lo = h.floor() as usize;
        let hi = (lo + 1).min(diffs.len() - 1);
        diffs[lo] + (h - lo as f64) * (diffs[hi] - diffs[lo])
    };
    Ok(Gain { method, n, estimate, ci_low: q(alpha / 2.0), ci_high: q(1.0 - alpha / 2.0) })
}
