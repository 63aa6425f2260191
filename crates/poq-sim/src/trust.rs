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
}

impl Trust {
    /// A short name for reports.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            Trust::None => "none",
            Trust::Adaptive { .. } => "adaptive",
            Trust::SpotCheck(_) => "spot_check",
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

/// The trust state carried from round to round.
#[derive(Debug, Clone)]
pub(crate) enum TrustState {
    Adaptive(AdaptiveTrust),
    SpotCheck(SpotCheckTrust),
}

impl TrustState {
    pub(crate) fn weights(&self) -> &[f64] {
        match self {
            TrustState::Adaptive(t) => t.weights(),
            TrustState::SpotCheck(t) => t.weights(),
        }
    }
}
