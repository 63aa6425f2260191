//! Reward rules: (quality, cost) → reward, for inference and evaluator nodes alike.
//!
//! Quality `q` and cost `c` are both in [0, 1]: `q` is [`Score::quality`] of the consensus for an
//! inference node and [`agreement`] with the consensus for an evaluator; `c` is the node's normalized
//! cost ([`normalize_costs`](crate::normalize_costs)). Rules are pure and cheap: the simulator calls
//! them millions of times a second, so they take plain `f64`s whose range the caller guarantees.

use crate::cost::min_max;
use crate::error::{Error, Result, check_param};
use crate::score::Score;
use serde::{Deserialize, Serialize};

/// Maps a node's quality and normalized cost to its reward.
pub trait RewardRule: Send + Sync {
    /// A short name for reports.
    fn name(&self) -> &str;
    /// The reward for quality `q ∈ [0, 1]` at normalized cost `c ∈ [0, 1]`.
    fn reward(&self, q: f64, c: f64) -> f64;
}

/// The paper's rule: `R = α·q − β·c`.
///
/// ```
/// use poq_core::{Linear, RewardRule};
/// let rule = Linear::new(1.0, 0.5)?;
/// assert_eq!(rule.reward(0.8, 0.5), 0.55);
/// # Ok::<(), poq_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Linear {
    /// Weight of quality.
    pub alpha: f64,
    /// Weight of cost.
    pub beta: f64,
}

impl Linear {
    /// A linear rule; both weights must be finite and non-negative.
    pub fn new(alpha: f64, beta: f64) -> Result<Self> {
        check_param("alpha", alpha, alpha.is_finite() && alpha >= 0.0, "must be finite and >= 0")?;
        check_param("beta", beta, beta.is_finite() && beta >= 0.0, "must be finite and >= 0")?;
        Ok(Linear { alpha, beta })
    }
}

impl Default for Linear {
    /// α = 1, β = 0.5 (DESIGN.md's defaults).
    fn default() -> Self {
        Linear { alpha: 1.0, beta: 0.5 }
    }
}

impl RewardRule for Linear {
    fn name(&self) -> &str {
        "linear"
    }
    fn reward(&self, q: f64, c: f64) -> f64 {
        self.alpha * q - self.beta * c
    }
}

/// Quality per unit of cost: `R = q / (ε + c)`. Pays efficiency rather than quality.
///
/// ```
/// use poq_core::{QualityPerCost, RewardRule};
/// let rule = QualityPerCost::new(0.1)?;
/// assert!((rule.reward(0.5, 0.4) - 1.0).abs() < 1e-12);
/// # Ok::<(), poq_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QualityPerCost {
    /// Keeps the cheapest node's reward finite; must be > 0.
    pub epsilon: f64,
}

impl QualityPerCost {
    /// The rule; `epsilon` must be finite and positive.
    pub fn new(epsilon: f64) -> Result<Self> {
        check_param("epsilon", epsilon, epsilon.is_finite() && epsilon > 0.0, "must be finite and > 0")?;
        Ok(QualityPerCost { epsilon })
    }
}

impl RewardRule for QualityPerCost {
    fn name(&self) -> &str {
        "quality_per_cost"
    }
    fn reward(&self, q: f64, c: f64) -> f64 {
        q / (self.epsilon + c)
    }
}

/// Multiplicative rule: `R = q^a · (1 − c)^b`. A node with zero quality or maximal cost earns 0.
///
/// ```
/// use poq_core::{Power, RewardRule};
/// let rule = Power::new(2.0, 1.0)?;
/// assert!((rule.reward(0.5, 0.5) - 0.125).abs() < 1e-12);
/// # Ok::<(), poq_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Power {
    /// Exponent of quality, >= 0.
    pub a: f64,
    /// Exponent of (1 − cost), >= 0.
    pub b: f64,
}

impl Power {
    /// The rule; both exponents must be finite and non-negative.
    pub fn new(a: f64, b: f64) -> Result<Self> {
        check_param("a", a, a.is_finite() && a >= 0.0, "must be finite and >= 0")?;
        check_param("b", b, b.is_finite() && b >= 0.0, "must be finite and >= 0")?;
        Ok(Power { a, b })
    }
}

impl RewardRule for Power {
    fn name(&self) -> &str {
        "power"
    }
    fn reward(&self, q: f64, c: f64) -> f64 {
        q.powf(self.a) * (1.0 - c).max(0.0).powf(self.b)
    }
}

/// Any of the built-in rules, as configuration (tagged by `rule` in JSON/TOML).
///
/// ```
/// use poq_core::{Reward, RewardRule};
/// let r: Reward = serde_json::from_str(r#"{"rule":"linear","alpha":1.0,"beta":0.25}"#)?;
/// r.validate()?;
/// assert_eq!(r.reward(1.0, 1.0), 0.75);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Reward {
    /// [`Linear`].
    Linear(Linear),
    /// [`QualityPerCost`].
    QualityPerCost(QualityPerCost),
    /// [`Power`].
    Power(Power),
}

impl Reward {
    /// Re-checks the parameters (deserialized values bypass the constructors).
    pub fn validate(&self) -> Result<()> {
        match *self {
            Reward::Linear(Linear { alpha, beta }) => Linear::new(alpha, beta).map(drop),
            Reward::QualityPerCost(QualityPerCost { epsilon }) => QualityPerCost::new(epsilon).map(drop),
            Reward::Power(Power { a, b }) => Power::new(a, b).map(drop),
        }
    }
}

impl Default for Reward {
    fn default() -> Self {
        Reward::Linear(Linear::default())
    }
}

impl RewardRule for Reward {
    fn name(&self) -> &str {
        match self {
            Reward::Linear(r) => r.name(),
            Reward::QualityPerCost(r) => r.name(),
            Reward::Power(r) => r.name(),
        }
    }
    fn reward(&self, q: f64, c: f64) -> f64 {
        match self {
            Reward::Linear(r) => r.reward(q, c),
            Reward::QualityPerCost(r) => r.reward(q, c),
            Reward::Power(r) => r.reward(q, c),
        }
    }
}

/// An evaluator's quality: its agreement with the consensus, `1 − |s − consensus| / 10`.
///
/// ```
/// use poq_core::{agreement, Score};
/// assert_eq!(agreement(Score::new(6.0)?, Score::new(8.0)?), 0.8);
/// # Ok::<(), poq_core::Error>(())
/// ```
pub fn agreement(score: Score, consensus: Score) -> f64 {
    1.0 - (score.value() - consensus.value()).abs() / 10.0
}

/// Budgeted payout: splits a fixed `pool` among a round's nodes in proportion to `max(0, R)`.
///
/// When no reward is positive nobody is paid and the pool is kept (all zeros). Rewards must be
/// finite and the pool finite and non-negative.
///
/// ```
/// use poq_core::split_budget;
/// assert_eq!(split_budget(100.0, &[3.0, 1.0, -2.0])?, vec![75.0, 25.0, 0.0]);
/// assert_eq!(split_budget(100.0, &[-1.0, 0.0])?, vec![0.0, 0.0]);
/// # Ok::<(), poq_core::Error>(())
/// ```
pub fn split_budget(pool: f64, rewards: &[f64]) -> Result<Vec<f64>> {
    check_param("pool", pool, pool.is_finite() && pool >= 0.0, "must be finite and >= 0")?;
    check_finite("rewards", rewards)?;
    let total: f64 = rewards.iter().map(|r| r.max(0.0)).sum();
    Ok(rewards.iter().map(|r| if total > 0.0 { pool * r.max(0.0) / total } else { 0.0 }).collect())
}

/// The paper's "normalized PoQ reward": per-node average rewards min-max scaled to [0, 1] over the
/// pool. The best node gets 1, the worst 0; a pool of equals gets all zeros.
///
/// ```
/// use poq_core::normalize_rewards;
/// assert_eq!(normalize_rewards(&[0.2, -0.2, 0.0])?, vec![1.0, 0.0, 0.5]);
/// # Ok::<(), poq_core::Error>(())
/// ```
pub fn normalize_rewards(average_rewards: &[f64]) -> Result<Vec<f64>> {
    check_finite("average_rewards", average_rewards)?;
    Ok(min_max(average_rewards))
}

fn check_finite(name: &'static str, values: &[f64]) -> Result<()> {
    match values.iter().find(|v| !v.is_finite()) {
        Some(&value) => Err(Error::InvalidParameter { name, value, reason: "every value must be finite" }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_values() {
        let lin = Linear::new(2.0, 1.0).unwrap();
        assert!((lin.reward(0.7, 0.3) - 1.1).abs() < 1e-12);
        let qpc = QualityPerCost::new(0.01).unwrap();
        assert!((qpc.reward(0.9, 0.0) - 90.0).abs() < 1e-9);
        let pow = Power::new(1.0, 2.0).unwrap();
        assert!((pow.reward(0.9, 0.1) - 0.729).abs() < 1e-12);
        assert_eq!(pow.reward(0.0, 0.0), 0.0);
        assert_eq!(pow.reward(1.0, 1.0), 0.0);
    }

    #[test]
    fn constructors_reject_bad_parameters() {
        assert!(Linear::new(f64::NAN, 0.5).is_err());
        assert!(Linear::new(1.0, -0.5).is_err());
        assert!(QualityPerCost::new(0.0).is_err());
        assert!(Power::new(1.0, f64::INFINITY).is_err());
        let bad: Reward = serde_json::from_str(r#"{"rule":"linear","alpha":1.0,"beta":-1.0}"#).unwrap();
        assert!(bad.validate().unwrap_err().to_string().contains("beta"));
    }

    #[test]
    fn agreement_bounds() {
        assert_eq!(agreement(Score::MIN, Score::MAX), 0.0);
        assert_eq!(agreement(Score::MAX, Score::MAX), 1.0);
    }

    #[test]
    fn budget_and_normalization_reject_nan() {
        assert!(split_budget(1.0, &[f64::NAN]).is_err());
        assert!(split_budget(-1.0, &[1.0]).is_err());
        assert!(normalize_rewards(&[1.0, f64::INFINITY]).is_err());
        assert_eq!(normalize_rewards(&[0.3]).unwrap(), vec![0.0]);
    }
}
