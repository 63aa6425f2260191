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
    #[must_use]
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
#[serde(try_from = "LinearParams")]
pub struct Linear {
    alpha: f64,
    beta: f64,
}

/// [`Linear`]'s fields as read, before the checks of [`Linear::new`].
#[derive(Deserialize)]
struct LinearParams {
    alpha: f64,
    beta: f64,
}

impl TryFrom<LinearParams> for Linear {
    type Error = Error;
    fn try_from(p: LinearParams) -> Result<Self> {
        Linear::new(p.alpha, p.beta)
    }
}

impl Linear {
    /// A linear rule; both weights must be finite and non-negative.
    pub fn new(alpha: f64, beta: f64) -> Result<Self> {
        check_param("alpha", alpha, alpha.is_finite() && alpha >= 0.0, "must be finite and >= 0")?;
        check_param("beta", beta, beta.is_finite() && beta >= 0.0, "must be finite and >= 0")?;
        Ok(Linear { alpha, beta })
    }

    /// Weight of quality, α.
    #[must_use]
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// Weight of cost, β.
    #[must_use]
    pub fn beta(&self) -> f64 {
        self.beta
    }
}

impl Default for Linear {
    /// α = 1, β = 0.5 (the paper's weights, docs/mechanism.md).
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
#[serde(try_from = "QualityPerCostParams")]
pub struct QualityPerCost {
    epsilon: f64,
}

/// [`QualityPerCost`]'s fields as read, before the checks of [`QualityPerCost::new`].
#[derive(Deserialize)]
struct QualityPerCostParams {
    epsilon: f64,
}

impl TryFrom<QualityPerCostParams> for QualityPerCost {
    type Error = Error;
    fn try_from(p: QualityPerCostParams) -> Result<Self> {
        QualityPerCost::new(p.epsilon)
    }
}

impl QualityPerCost {
    /// The rule; `epsilon` must be finite and positive.
    pub fn new(epsilon: f64) -> Result<Self> {
        check_param("epsilon", epsilon, epsilon.is_finite() && epsilon > 0.0, "must be finite and > 0")?;
        Ok(QualityPerCost { epsilon })
    }

    /// ε, which keeps the cheapest node's reward finite (> 0).
    #[must_use]
    pub fn epsilon(&self) -> f64 {
        self.epsilon
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
#[serde(try_from = "PowerParams")]
pub struct Power {
    a: f64,
    b: f64,
}

/// [`Power`]'s fields as read, before the checks of [`Power::new`].
#[derive(Deserialize)]
struct PowerParams {
    a: f64,
    b: f64,
}

impl TryFrom<PowerParams> for Power {
    type Error = Error;
    fn try_from(p: PowerParams) -> Result<Self> {
        Power::new(p.a, p.b)
    }
}

impl Power {
    /// The rule; both exponents must be finite and non-negative.
    pub fn new(a: f64, b: f64) -> Result<Self> {
        check_param("a", a, a.is_finite() && a >= 0.0, "must be finite and >= 0")?;
        check_param("b", b, b.is_finite() && b >= 0.0, "must be finite and >= 0")?;
        Ok(Power { a, b })
    }

    /// Exponent of quality, `a` (≥ 0).
    #[must_use]
    pub fn a(&self) -> f64 {
        self.a
    }

    /// Exponent of `1 − cost`, `b` (≥ 0).
    #[must_use]
    pub fn b(&self) -> f64 {
        self.b
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

/// Any of the built-in rules, as configuration (tagged by `rule` in JSON/TOML). Reading one checks
/// its parameters as the rule's `new` does.
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
    /// Checks the parameters. Every way to build a rule already checks them (its `new`, and
    /// reading it), so this holds for any value; kept for the symmetry with [`Consensus::validate`](crate::Consensus::validate).
    pub fn validate(&self) -> Result<()> {
        match *self {
            Reward::Linear(r) => Linear::new(r.alpha, r.beta).map(drop),
            Reward::QualityPerCost(r) => QualityPerCost::new(r.epsilon).map(drop),
            Reward::Power(r) => Power::new(r.a, r.b).map(drop),
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
#[must_use]
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
        // Reading a rule checks it as `new` does: no `QualityPerCost { epsilon: 0 }` through serde either.
        let bad = serde_json::from_str::<Reward>(r#"{"rule":"linear","alpha":1.0,"beta":-1.0}"#).unwrap_err();
        assert!(bad.to_string().contains("beta"), "{bad}");
        let bad = serde_json::from_str::<Reward>(r#"{"rule":"quality_per_cost","epsilon":0.0}"#).unwrap_err();
        assert!(bad.to_string().contains("epsilon"), "{bad}");
        let good: Reward = serde_json::from_str(r#"{"rule":"power","a":2.0,"b":1.0}"#).unwrap();
        assert_eq!(good, Reward::Power(Power::new(2.0, 1.0).unwrap()));
        assert_eq!(serde_json::to_string(&good).unwrap(), r#"{"rule":"power","a":2.0,"b":1.0}"#);
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
