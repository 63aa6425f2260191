//! Fitting the composite: dimension selection, non-negative weights, monotone calibration.

use super::audit::{Audit, AuditConfig, Yardstick, audit};
use super::composite::{CompositeModel, DroppedDimension, FitInfo};
use super::split::{Split, split_by_id};
use super::table::DimensionTable;
use crate::stats::IsotonicFit;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// How the kept dimensions are weighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightRule {
    /// Non-negative least squares of `10 · F1` on the dimensions, both centered (a free
    /// intercept, since the isotonic step sets the level), then re-normalized to sum to 1. Picks
    /// weights that explain F1 jointly, so a dimension redundant with a better one gets 0. Falls
    /// back to [`WeightRule::CorrelationProportional`] when every weight is 0.
    Nnls,
    /// Weights proportional to each dimension's Pearson r with F1 on the calibration split.
    CorrelationProportional,
}

/// Settings of [`fit_composite`]. Defaults: half the sample ids calibrate, seed 42, the default
/// audit, NNLS weights.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalibrationConfig {
    /// Share of sample ids in the calibration split, in (0, 1).
    pub calibration_share: f64,
    /// Seed of the split.
    pub seed: u64,
    /// The audit that selects dimensions.
    pub audit: AuditConfig,
    /// How kept dimensions are weighted.
    pub weights: WeightRule,
}

impl Default for CalibrationConfig {
    fn default() -> Self {
        CalibrationConfig { calibration_share: 0.5, seed: 42, audit: AuditConfig::default(), weights: WeightRule::Nnls }
    }
}

/// A fitted composite with what it was fitted from.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted {
    /// The composite (serializable).
    pub model: CompositeModel,
    /// Which rows calibrated and which are held out.
    pub split: Split,
    /// The audit of the calibration rows that selected the dimensions.
    pub audit: Audit,
}

/// Non-negative least squares `min ‖X·w − y‖², w ≥ 0` by cyclic coordinate descent on the normal
/// equations (exact for the handful of dimensions a composite has). `columns[d]` is `X`'s column
/// `d`. A column with no spread gets weight 0.
pub fn nnls(columns: &[Vec<f64>], y: &[f64]) -> Result<Vec<f64>> {
    let p = columns.len();
    for (d, c) in columns.iter().enumerate() {
        if c.len() != y.len() {
            return Err(Error::InvalidArgument {
                name: "columns",
                message: format!("column {d} has {} values for {} targets", c.len(), y.len()),
            });
        }
        if let Some(i) = c.iter().chain(y).position(|v| !v.is_finite()) {
            return Err(Error::InvalidArgument {
                name: "columns",
                message: format!("non-finite value (column {d}, index {i})"),
            });
        }
    }
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let gram: Vec<Vec<f64>> = columns.iter().map(|a| columns.iter().map(|b| dot(a, b)).collect()).collect();
    let xty: Vec<f64> = columns.iter().map(|a| dot(a, y)).collect();
    let mut w = vec![0.0; p];
    for _sweep in 0..100_000 {
        let mut largest_step = 0.0f64;
        for j in 0..p {
            if gram[j][j] <= 0.0 {
                continue;
            }
            let others: f64 = (0..p).filter(|&k| k != j).map(|k| gram[j][k] * w[k]).sum();
            let next = ((xty[j] - others) / gram[j][j]).max(0.0);
            largest_step = largest_step.max((next - w[j]).abs());
            w[j] = next;
        }
        if largest_step <= 1e-13 * (1.0 + w.iter().fold(0.0f64, |m, v| m.max(v.abs()))) {
            break;
        }
    }
    Ok(w)
}

fn centered(v: &[f64]) -> Vec<f64> {
    let m = v.iter().sum::<f64>() / v.len().max(1) as f64;
    v.iter().map(|x| x - m).collect()
}

/// Fits a composite on the calibration split of `table` (by sample id, [`split_by_id`]) — the
/// held-out rows are never read — and returns it with the split and the calibration audit.
///
/// 1. Audit every dimension on the calibration rows; keep those whose all-task Pearson with F1 is
///    reliable and positive ([`AuditRow::usable`](super::AuditRow::usable)).
/// 2. Weight the kept dimensions by `cfg.weights`; dimensions that get weight 0 are dropped too.
/// 3. Fit isotonic regression (pool adjacent violators) of `10 · F1` on the weighted sum: a
///    monotone map to 0–10.
pub fn fit_composite(table: &DimensionTable, cfg: &CalibrationConfig) -> Result<Fitted> {
    table.validate()?;
    let split = split_by_id(&table.ids, cfg.calibration_share, cfg.seed)?;
    let cal = table.rows(&split.calibration);
    let calibration_audit = audit(&cal, &cfg.audit)?;
    let mut dropped = Vec::new();
    let mut kept: Vec<(usize, f64)> = Vec::new(); // (column, Pearson r with F1)
    for (d, name) in cal.names.iter().enumerate() {
        match calibration_audit.overall(name, Yardstick::F1) {
            Some(row) if row.usable() => kept.push((d, row.pearson.map_or(0.0, |c| c.estimate))),
            Some(row) => dropped.push(DroppedDimension {
                name: name.clone(),
                reason: row.flaw().unwrap_or_else(|| "not usable".to_owned()),
            }),
            None => dropped.push(DroppedDimension { name: name.clone(), reason: "not audited".to_owned() }),
        }
    }
    if kept.is_empty() {
        return Err(Error::InvalidArgument {
            name: "dimensions",
            message: format!(
                "no dimension correlates reliably and positively with F1 on the {} calibration rows: {}",
                cal.len(),
                dropped.iter().map(|d| format!("{} {}", d.name, d.reason)).collect::<Vec<_>>().join("; ")
            ),
        });
    }
    let correlation_weights = || kept.iter().map(|(_, r)| r.max(0.0)).collect::<Vec<f64>>();
    let (raw_weights, rule) = match cfg.weights {
        WeightRule::CorrelationProportional => (correlation_weights(), WeightRule::CorrelationProportional),
        WeightRule::Nnls => {
            let cols: Vec<Vec<f64>> = kept.iter().map(|(d, _)| centered(&cal.columns[*d])).collect();
            let mut w = nnls(&cols, &centered(&cal.f1))?;
            // Coordinate descent leaves crumbs (~1e-12) where the exact solution is 0.
            let largest = w.iter().fold(0.0f64, |m, v| m.max(*v));
            w.iter_mut().filter(|v| **v <= 1e-9 * largest).for_each(|v| *v = 0.0);
            if w.iter().sum::<f64>() > 0.0 {
                (w, WeightRule::Nnls)
            } else {
                (correlation_weights(), WeightRule::CorrelationProportional)
            }
        }
    };
    let total: f64 = raw_weights.iter().sum();
    if !(total > 0.0 && total.is_finite()) {
        return Err(Error::InvalidArgument { name: "weights", message: format!("weights sum to {total}") });
    }
    let (mut names, mut weights, mut columns) = (Vec::new(), Vec::new(), Vec::new());
    for ((d, _), w) in kept.iter().zip(&raw_weights) {
        if *w > 0.0 {
            names.push(cal.names[*d].clone());
            weights.push(w / total);
            columns.push(&cal.columns[*d]);
        } else {
            dropped.push(DroppedDimension {
                name: cal.names[*d].clone(),
                reason: "weight 0 (redundant given the other dimensions)".to_owned(),
            });
        }
    }
    let raw: Vec<f64> =
        (0..cal.len()).map(|r| weights.iter().zip(&columns).map(|(w, c)| w * c[r]).sum::<f64>()).collect();
    let calibration = IsotonicFit::fit(&raw, &cal.f1)?;
    let model = CompositeModel::new(
        names,
        weights,
        calibration,
        dropped,
        FitInfo {
            weight_rule: rule,
            calibration_share: cfg.calibration_share,
            seed: cfg.seed,
            calibration_rows: cal.len(),
        },
    )?;
    Ok(Fitted { model, split, audit: calibration_audit })
}
