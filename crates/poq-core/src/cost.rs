//! Cost normalization across a pool of nodes of the same kind.
//!
//! Rewards subtract `β·c` with `c ∈ [0, 1]`, so raw costs (milliseconds, megabytes, joules) must be
//! put on one scale per pool. Inference nodes and evaluator nodes are normalized in separate pools:
//! an embedding model is not "cheap" because a 3B generator is slow.
//!
//! Degenerate pools are defined, not NaN: when every cost is equal (a pool of one node included)
//! no node is costlier than another, so every normalized cost is 0.

use crate::error::{Error, Result, check_cost, check_param};
use crate::types::CostProfile;
use serde::{Deserialize, Serialize};

/// How raw costs are mapped into [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Normalization {
    /// `(c − min) / (max − min)`: the cheapest node gets 0, the costliest 1 (the paper's choice).
    #[default]
    MinMax,
    /// `c / max`: keeps ratios, so a node twice as slow has twice the cost.
    DivideByMax,
    /// Min-max of `ln(1 + c)`: compresses heavy tails (one very slow node).
    LogMinMax,
}

/// Normalizes a pool of raw costs into [0, 1].
///
/// Every cost must be finite and non-negative; the error names the pool index.
///
/// ```
/// use poq_core::{normalize_costs, Normalization};
/// let c = normalize_costs(&[100.0, 200.0, 300.0], Normalization::MinMax)?;
/// assert_eq!(c, vec![0.0, 0.5, 1.0]);
/// let c = normalize_costs(&[100.0, 200.0, 400.0], Normalization::DivideByMax)?;
/// assert_eq!(c, vec![0.25, 0.5, 1.0]);
/// // A pool where nobody is costlier: all zero, never NaN.
/// assert_eq!(normalize_costs(&[7.0, 7.0], Normalization::MinMax)?, vec![0.0, 0.0]);
/// # Ok::<(), poq_core::Error>(())
/// ```
pub fn normalize_costs(costs: &[f64], how: Normalization) -> Result<Vec<f64>> {
    for (i, &c) in costs.iter().enumerate() {
        check_cost(|| format!("cost[{i}]"), c)?;
    }
    Ok(match how {
        Normalization::MinMax => min_max(costs),
        Normalization::DivideByMax => {
            let max = costs.iter().copied().fold(0.0, f64::max);
            costs.iter().map(|&c| if max > 0.0 { c / max } else { 0.0 }).collect()
        }
        Normalization::LogMinMax => {
            let logs: Vec<f64> = costs.iter().map(|&c| c.ln_1p()).collect();
            min_max(&logs)
        }
    })
}

/// Min-max scales finite values into [0, 1]; all-equal input maps to all zeros.
pub(crate) fn min_max(values: &[f64]) -> Vec<f64> {
    let (lo, hi) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let span = hi - lo;
    values.iter().map(|&v| if span > 0.0 { ((v - lo) / span).clamp(0.0, 1.0) } else { 0.0 }).collect()
}

/// Weights of the cost components combined by [`combine_costs`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CostWeights {
    /// Weight of mean latency.
    pub latency: f64,
    /// Weight of peak memory.
    pub memory: f64,
    /// Weight of energy per item (every profile must then carry `energy_j`).
    pub energy: f64,
}

impl Default for CostWeights {
    /// Latency only, as in the paper.
    fn default() -> Self {
        CostWeights { latency: 1.0, memory: 0.0, energy: 0.0 }
    }
}

/// Combines latency, memory and energy of a pool into one cost per node in [0, 1].
///
/// Each component is normalized over the pool with `how`, then the components are averaged with
/// `weights` (which must be non-negative and not all zero).
///
/// ```
/// use poq_core::{combine_costs, CostProfile, CostWeights, Normalization};
/// let mut a = CostProfile::from_latency_ms(100.0)?;
/// let mut b = CostProfile::from_latency_ms(300.0)?;
/// a.peak_memory_mb = 2000.0;
/// b.peak_memory_mb = 1000.0;
/// let w = CostWeights { latency: 3.0, memory: 1.0, energy: 0.0 };
/// let c = combine_costs(&[a, b], w, Normalization::MinMax)?;
/// assert_eq!(c, vec![0.25, 0.75]);
/// # Ok::<(), poq_core::Error>(())
/// ```
pub fn combine_costs(profiles: &[CostProfile], weights: CostWeights, how: Normalization) -> Result<Vec<f64>> {
    let CostWeights { latency, memory, energy } = weights;
    for (name, w) in [("weights.latency", latency), ("weights.memory", memory), ("weights.energy", energy)] {
        check_param(name, w, w.is_finite() && w >= 0.0, "must be finite and non-negative")?;
    }
    let total = latency + memory + energy;
    check_param("weights", total, total > 0.0, "at least one weight must be positive")?;

    let mut combined = vec![0.0; profiles.len()];
    let mut add = |w: f64, raw: Vec<f64>| -> Result<()> {
        if w > 0.0 {
            for (acc, c) in combined.iter_mut().zip(normalize_costs(&raw, how)?) {
                *acc += w * c / total;
            }
        }
        Ok(())
    };
    add(latency, profiles.iter().map(|p| p.latency_mean_ms).collect())?;
    add(memory, profiles.iter().map(|p| p.peak_memory_mb).collect())?;
    if energy > 0.0 {
        let raw = profiles
            .iter()
            .enumerate()
            .map(|(i, p)| {
                p.energy_j.ok_or_else(|| Error::InvalidCost {
                    field: format!("profile[{i}].energy_j (missing)"),
                    value: f64::NAN,
                })
            })
            .collect::<Result<Vec<f64>>>()?;
        add(energy, raw)?;
    }
    Ok(combined.into_iter().map(|c: f64| c.clamp(0.0, 1.0)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_min_max_compresses_the_tail() {
        let c = normalize_costs(&[0.0, (1f64).exp_m1(), (2f64).exp_m1()], Normalization::LogMinMax).unwrap();
        assert!((c[1] - 0.5).abs() < 1e-12, "{c:?}");
        assert_eq!(c[2], 1.0);
    }

    #[test]
    fn degenerate_pools() {
        for how in [Normalization::MinMax, Normalization::DivideByMax, Normalization::LogMinMax] {
            assert_eq!(normalize_costs(&[], how).unwrap(), Vec::<f64>::new());
            assert_eq!(normalize_costs(&[42.0], how).unwrap().len(), 1);
            assert!(normalize_costs(&[0.0, 0.0], how).unwrap().iter().all(|&c| c == 0.0));
        }
        assert_eq!(normalize_costs(&[42.0], Normalization::MinMax).unwrap(), vec![0.0]);
        assert_eq!(normalize_costs(&[42.0], Normalization::DivideByMax).unwrap(), vec![1.0]);
    }

    #[test]
    fn bad_costs_name_their_index() {
        for bad in [f64::NAN, -1.0, f64::INFINITY] {
            let e = normalize_costs(&[1.0, bad], Normalization::MinMax).unwrap_err().to_string();
            assert!(e.contains("cost[1]"), "{e}");
        }
    }

    #[test]
    fn energy_weight_needs_energy() {
        let p = CostProfile::from_latency_ms(1.0).unwrap();
        let w = CostWeights { latency: 1.0, memory: 0.0, energy: 1.0 };
        let e = combine_costs(&[p], w, Normalization::MinMax).unwrap_err().to_string();
        assert!(e.contains("profile[0].energy_j"), "{e}");
        let zero = CostWeights { latency: 0.0, memory: 0.0, energy: 0.0 };
        assert!(combine_costs(&[], zero, Normalization::MinMax).is_err());
    }
}
