//! Trust weighting of evaluators across rounds: poq-core's [`AdaptiveTrust`] and a spot-check rule
//! that cannot saturate.
//!
//! [`AdaptiveTrust`] rewards agreement with a consensus the evaluators themselves produce, so any
//! evaluator within 5 points of it (colluders included) drifts to `w_max`. [`SpotCheckTrust`] takes
//! its evidence only from spot-check rounds, where the network knows the true quality (a prompt with
//! a graded answer): each sampled evaluator's error `e = |s − t| / 10` enters an exponentially
//! decaying average `E ← E + η·(e − E)` with `η = 1 − 2^(−1/h)` (`h` = half-life in spot checks),
//! and its weight is `w = max(w_min, w_max · exp(−E / τ))`. The weight is bounded, old evidence
//! fades, and it reaches `w_max` only at zero error, so honest evaluators (error ≈ their noise) and
//! colluders (error ≈ noise + boost) keep weights a factor `exp(−ΔE/τ)` apart forever.

use crate::error::{Result, SimError};
use poq_core::AdaptiveTrust;
use serde::{Deserialize, Serialize};

/// Which trust rule weights the evaluators' scores in the consensus.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trust {
    /// No weighting (every round is independent, so rounds run in parallel).
    #[default]
    None,
    /// poq-core's [`AdaptiveTrust`] (arXiv 2601.21189): trust-weighted mean consensus.
    Adaptive {
        /// Learning rate λ.
        lambda: f64,
        /// Lower bound of the weight.
        w_min: f64,
        /// Upper bound of the weight.
        w_max: f64,
    },
    /// [`SpotCheckTrust`]: weights from spot checks, used as weights of the scenario's consensus.
    SpotCheck(SpotCheck),
    /// [`RelativeSpotCheckTrust`]: spot-check errors judged against the pool's median error.
    RelativeSpotCheck(RelativeSpotCheck),
}

impl Trust {
    /// A short name for reports.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            Trust::None => "none",
            Trust::Adaptive { .. } => "adaptive",
            Trust::SpotCheck(_) => "spot_check",
            Trust::RelativeSpotCheck(_) => "relative_spot_check",
        }
    }

    /// Fresh trust state for `n` evaluators (None when there is no weighting).
    pub(crate) fn state(&self, n: usize) -> Result<Option<TrustState>> {
        Ok(match *self {
            Trust::None => None,
            Trust::Adaptive { lambda, w_min, w_max } => Some(TrustState::Adaptive(
                AdaptiveTrust::new(n, lambda, w_min, w_max).map_err(SimError::core("trust"))?,
            )),
            Trust::SpotCheck(p) => Some(TrustState::SpotCheck(SpotCheckTrust::new(n, p)?)),
            Trust::RelativeSpotCheck(p) => Some(TrustState::Relative(RelativeSpotCheckTrust::new(n, p)?)),
        })
    }
}

/// Parameters of [`SpotCheckTrust`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpotCheck {
    /// Probability that a round is a spot check (known ground truth), in (0, 1].
    pub rate: f64,
    /// Half-life of evidence, in spot checks an evaluator takes part in (> 0).
    pub half_life: f64,
    /// Error scale τ (on the 0–1 scale of `|s − t|/10`), > 0.
    pub tau: f64,
    /// Starting error estimate (a newcomer's prior), in [0, 1].
    pub prior_error: f64,
    /// Lower bound of the weight, > 0.
    pub w_min: f64,
    /// Upper bound of the weight, ≥ w_min.
    pub w_max: f64,
}

impl Default for SpotCheck {
    fn default() -> Self {
        SpotCheck { rate: 0.1, half_life: 20.0, tau: 0.1, prior_error: 0.15, w_min: 0.01, w_max: 2.0 }
    }
}

/// Trust from spot checks with known ground truth: bounded, decaying, non-saturating.
///
/// ```
/// use poq_sim::{SpotCheck, SpotCheckTrust};
/// let mut t = SpotCheckTrust::new(2, SpotCheck::default())?;
/// for _ in 0..200 {
///     t.observe(0, 6.2, 6.0); // honest: 0.2 points off
///     t.observe(1, 9.0, 6.0); // booster: 3 points off
/// }
/// let w = t.weights();
/// assert!(w[0] < 2.0 && w[1] < 0.2 * w[0]);
/// # Ok::<(), poq_sim::SimError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpotCheckTrust {
    params: SpotCheck,
    eta: f64,
    error: Vec<f64>,
    weights: Vec<f64>,
}

impl SpotCheckTrust {
    /// Trust for `n` evaluators at the prior.
    pub fn new(n: usize, p: SpotCheck) -> Result<Self> {
        let bad = |f: &str, why: &str, v: f64| Err(SimError::invalid(format!("trust.{f}"), format!("{why} (got {v})")));
        if !(p.rate > 0.0 && p.rate <= 1.0) {
            return bad("rate", "must be in (0, 1]", p.rate);
        }
        if !(p.half_life.is_finite() && p.half_life > 0.0) {
            return bad("half_life", "must be finite and > 0", p.half_life);
        }
        if !(p.tau.is_finite() && p.tau > 0.0) {
            return bad("tau", "must be finite and > 0", p.tau);
        }
        if !(0.0..=1.0).contains(&p.prior_error) {
            return bad("prior_error", "must be in [0, 1]", p.prior_error);
        }
        if !(p.w_min > 0.0 && p.w_min.is_finite()) {
            return bad("w_min", "must be finite and > 0", p.w_min);
        }
        if !(p.w_max.is_finite() && p.w_max >= p.w_min) {
            return bad("w_max", "must be finite and >= w_min", p.w_max);
        }
        let eta = 1.0 - 0.5f64.powf(1.0 / p.half_life);
        let mut t = SpotCheckTrust { params: p, eta, error: vec![p.prior_error; n], weights: vec![0.0; n] };
        for i in 0..n {
            t.refresh(i);
        }
        Ok(t)
    }

    fn refresh(&mut self, i: usize) {
        let p = &self.params;
        self.weights[i] = (p.w_max * (-self.error[i] / p.tau).exp()).max(p.w_min);
    }

    /// Records that evaluator `i` scored `score` an answer of true quality `truth` in a spot check.
    /// Ids past the table are ignored (the simulator only passes valid ids).
    pub fn observe(&mut self, i: usize, score: f64, truth: f64) {
        if let Some(e) = self.error.get_mut(i) {
            *e += self.eta * ((score - truth).abs() / 10.0 - *e);
            self.refresh(i);
        }
    }

    /// Current weights, by evaluator id.
    #[must_use]
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// Current error estimates, by evaluator id.
    #[must_use]
    pub fn errors(&self) -> &[f64] {
        &self.error
    }

    /// Probability that a round is a spot check.
    #[must_use]
    pub fn rate(&self) -> f64 {
        self.params.rate
    }
}

/// Parameters of [`RelativeSpotCheckTrust`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelativeSpotCheck {
    /// Probability that a round is a spot check (known ground truth), in (0, 1].
    pub rate: f64,
    /// Half-life of evidence, in spot checks an evaluator takes part in (> 0).
    pub half_life: f64,
    /// Starting error estimate (a newcomer's prior), in [0, 1].
    pub prior_error: f64,
    /// Errors up to `margin ×` the pool's median error count as honest noise (≥ 1).
    pub margin: f64,
    /// How fast the weight falls beyond the margin, on the 0–1 error scale (> 0).
    pub tau: f64,
    /// Lower bound of the weight, in (0, 1]; the upper bound is 1.
    pub w_min: f64,
}

impl Default for RelativeSpotCheck {
    fn default() -> Self {
        RelativeSpotCheck { rate: 0.1, half_life: 20.0, prior_error: 0.15, margin: 1.5, tau: 0.01, w_min: 0.001 }
    }
}

/// Spot-check trust judged against the pool: `w = max(w_min, exp(−max(0, E − margin·Ẽ)/τ))`, with
/// `E` an evaluator's decaying spot-check error (as in [`SpotCheckTrust`]) and `Ẽ` the median of
/// `E` over the pool.
///
/// Why relative: honest evaluators' errors differ only by sampling noise, so every evaluator
/// within `margin` of the median keeps the full weight 1 and the consensus averages them all (an
/// absolute scale such as [`SpotCheckTrust`]'s spreads honest weights and loses efficiency), while
/// a booster, saboteur or colluder, whose error is its noise plus its shift, falls to `w_min`.
/// It assumes what the median consensus assumes: most evaluators are honest. Weights are
/// refreshed once per spot-check round ([`refresh`](Self::refresh)); with `sampling = "trust"`
/// they also decide who is drawn, so an evaluator at `w_min` is rarely drawn, and gets spot-checked
/// (and can recover) only in proportion.
///
/// ```
/// use poq_sim::{RelativeSpotCheck, RelativeSpotCheckTrust};
/// let mut t = RelativeSpotCheckTrust::new(4, RelativeSpotCheck::default())?;
/// for r in 0..100 {
///     let noise = if r % 2 == 0 { 0.8 } else { -0.8 };
///     for i in 0..3 {
///         t.observe(i, 6.0 + noise * (i as f64 - 1.0), 6.0); // honest: within a point
///     }
///     t.observe(3, 9.0, 6.0); // booster: 3 points off
///     t.refresh();
/// }
/// let w = t.weights();
/// assert_eq!(&w[..3], &[1.0, 1.0, 1.0]);
/// assert_eq!(w[3], 0.001);
/// # Ok::<(), poq_sim::SimError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelativeSpotCheckTrust {
    params: RelativeSpotCheck,
    eta: f64,
    error: Vec<f64>,
    weights: Vec<f64>,
    /// Scratch for the median, kept to avoid an allocation per spot-check round.
    #[serde(skip)]
    sorted: Vec<f64>,
}

impl RelativeSpotCheckTrust {
    /// Trust for `n` evaluators at the prior (every weight 1).
    pub fn new(n: usize, p: RelativeSpotCheck) -> Result<Self> {
        let bad = |f: &str, why: &str, v: f64| Err(SimError::invalid(format!("trust.{f}"), format!("{why} (got {v})")));
        if !(p.rate > 0.0 && p.rate <= 1.0) {
            return bad("rate", "must be in (0, 1]", p.rate);
        }
        if !(p.half_life.is_finite() && p.half_life > 0.0) {
            return bad("half_life", "must be finite and > 0", p.half_life);
        }
        if !(0.0..=1.0).contains(&p.prior_error) {
            return bad("prior_error", "must be in [0, 1]", p.prior_error);
        }
        if !(p.margin.is_finite() && p.margin >= 1.0) {
            return bad("margin", "must be finite and >= 1", p.margin);
        }
        if !(p.tau.is_finite() && p.tau > 0.0) {
            return bad("tau", "must be finite and > 0", p.tau);
        }
        if !(p.w_min > 0.0 && p.w_min <= 1.0) {
            return bad("w_min", "must be in (0, 1]", p.w_min);
        }
        let eta = 1.0 - 0.5f64.powf(1.0 / p.half_life);
        Ok(RelativeSpotCheckTrust {
            params: p,
            eta,
            error: vec![p.prior_error; n],
            weights: vec![1.0; n],
            sorted: Vec::with_capacity(n),
        })
    }

    /// Records that evaluator `i` scored `score` an answer of true quality `truth` in a spot check;
    /// the weights change at the next [`refresh`](Self::refresh). Ids past the table are ignored.
    pub fn observe(&mut self, i: usize, score: f64, truth: f64) {
        if let Some(e) = self.error.get_mut(i) {
            *e += self.eta * ((score - truth).abs() / 10.0 - *e);
        }
    }

    /// Recomputes every weight against the pool's current median error.
    pub fn refresh(&mut self) {
        if self.error.is_empty() {
            return;
        }
        self.sorted.clear();
        self.sorted.extend_from_slice(&self.error);
        let mid = self.sorted.len() / 2;
        let (_, median, _) = self.sorted.select_nth_unstable_by(mid, f64::total_cmp);
        let bar = self.params.margin * *median;
        let RelativeSpotCheck { tau, w_min, .. } = self.params;
        for (w, &e) in self.weights.iter_mut().zip(&self.error) {
            *w = (-(e - bar).max(0.0) / tau).exp().max(w_min);
        }
    }

    /// Current weights, by evaluator id.
    #[must_use]
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// Current error estimates, by evaluator id.
    #[must_use]
    pub fn errors(&self) -> &[f64] {
        &self.error
    }

    /// Probability that a round is a spot check.
    #[must_use]
    pub fn rate(&self) -> f64 {
        self.params.rate
    }
}

/// The trust state carried from round to round.
#[derive(Debug, Clone)]
pub(crate) enum TrustState {
    Adaptive(AdaptiveTrust),
    SpotCheck(SpotCheckTrust),
    Relative(RelativeSpotCheckTrust),
}

impl TrustState {
    pub(crate) fn weights(&self) -> &[f64] {
        match self {
            TrustState::Adaptive(t) => t.weights(),
            TrustState::SpotCheck(t) => t.weights(),
            TrustState::Relative(t) => t.weights(),
        }
    }

    /// Probability that a round is a spot check (0 for rules without spot checks).
    pub(crate) fn spot_rate(&self) -> f64 {
        match self {
            TrustState::Adaptive(_) => 0.0,
            TrustState::SpotCheck(t) => t.rate(),
            TrustState::Relative(t) => t.rate(),
        }
    }

    /// Records a spot-check observation of evaluator `i` (ignored by adaptive trust).
    pub(crate) fn observe(&mut self, i: usize, score: f64, truth: f64) {
        match self {
            TrustState::Adaptive(_) => {}
            TrustState::SpotCheck(t) => t.observe(i, score, truth),
            TrustState::Relative(t) => t.observe(i, score, truth),
        }
    }

    /// Called once after each spot-check round: pool-relative weights are refreshed here.
    pub(crate) fn end_spot_round(&mut self) {
        if let TrustState::Relative(t) = self {
            t.refresh();
        }
    }
}
