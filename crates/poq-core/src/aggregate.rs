//! Consensus: many evaluators' scores of one answer → one score.
//!
//! The paper takes the mean. The mean has no robustness at all (one evaluator moves it anywhere),
//! so the robust rules of its follow-up (arXiv 2601.21189) and Bittensor's Yuma consensus sit beside
//! it. Stateless rules implement [`Aggregator`]; trust that learns across rounds is its own type,
//! [`AdaptiveTrust`].

use crate::error::{Error, Result, check_param};
use crate::score::Score;
use serde::{Deserialize, Serialize};

/// Aggregates the scores of one answer, optionally weighted (by stake or trust), into a consensus.
///
/// Weights, when given, have one entry per score, are finite and non-negative, and do not all
/// vanish. Every aggregator returns a value within `[min, max]` of its inputs and does not depend on
/// their order.
pub trait Aggregator: Send + Sync {
    /// A short name for reports.
    fn name(&self) -> &str;
    /// The consensus of `scores`.
    fn aggregate(&self, scores: &[Score], weights: Option<&[f64]>) -> Result<Score>;
}

/// Checks scores and weights and returns the weights (uniform when absent).
fn weights_for(scores: &[Score], weights: Option<&[f64]>) -> Result<Vec<f64>> {
    if scores.is_empty() {
        return Err(Error::Empty { what: "scores" });
    }
    let Some(w) = weights else { return Ok(vec![1.0; scores.len()]) };
    if w.len() != scores.len() {
        return Err(Error::LengthMismatch {
            left: "scores",
            left_len: scores.len(),
            right: "weights",
            right_len: w.len(),
        });
    }
    for &x in w {
        check_param("weights", x, x.is_finite() && x >= 0.0, "every weight must be finite and >= 0")?;
    }
    let total: f64 = w.iter().sum();
    check_param("weights", total, total > 0.0, "weights must not all be zero")?;
    Ok(w.to_vec())
}

/// Pairs (score, weight) sorted by score.
fn sorted(scores: &[Score], w: Vec<f64>) -> Vec<(f64, f64)> {
    let mut pairs: Vec<(f64, f64)> = scores.iter().map(|s| s.value()).zip(w).collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    pairs
}

/// Weighted mean of pairs, clamped to the scale to absorb rounding.
fn weighted_mean(pairs: impl Iterator<Item = (f64, f64)>) -> Result<Score> {
    let (sum, total) = pairs.fold((0.0, 0.0), |(s, t), (v, w)| (s + v * w, t + w));
    Score::clamped(sum / total)
}

/// The weighted `q`-quantile of sorted pairs; at an exact tie of cumulative weight it averages the
/// two neighbours, so equal weights give the textbook median.
fn weighted_quantile(pairs: &[(f64, f64)], q: f64) -> f64 {
    let total: f64 = pairs.iter().map(|p| p.1).sum();
    let target = q * total;
    let mut cum = 0.0;
    for (i, &(v, w)) in pairs.iter().enumerate() {
        cum += w;
        if cum > target * (1.0 + 1e-12) {
            return v;
        }
        if (cum - target).abs() <= 1e-12 * total && w > 0.0 {
            let next = pairs[i + 1..].iter().find(|p| p.1 > 0.0).map_or(v, |p| p.0);
            return 0.5 * (v + next);
        }
    }
    pairs.last().map_or(0.0, |p| p.0)
}

/// Arithmetic (or weighted) mean: the paper's consensus.
///
/// ```
/// use poq_core::{Aggregator, Mean, Score};
/// let s = [Score::new(2.0)?, Score::new(4.0)?, Score::new(9.0)?];
/// assert_eq!(Mean.aggregate(&s, None)?.value(), 5.0);
/// assert_eq!(Mean.aggregate(&s, Some(&[1.0, 1.0, 0.0]))?.value(), 3.0);
/// # Ok::<(), poq_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mean;

impl Aggregator for Mean {
    fn name(&self) -> &str {
        "mean"
    }
    fn aggregate(&self, scores: &[Score], weights: Option<&[f64]>) -> Result<Score> {
        let w = weights_for(scores, weights)?;
        weighted_mean(scores.iter().map(|s| s.value()).zip(w))
    }
}

/// Median (weighted median when weighted): robust while fewer than half the weight is corrupt.
///
/// ```
/// use poq_core::{Aggregator, Median, Score};
/// let s = [Score::new(2.0)?, Score::new(4.0)?, Score::new(9.0)?, Score::new(10.0)?];
/// assert_eq!(Median.aggregate(&s, None)?.value(), 6.5);
/// assert_eq!(Median.aggregate(&s[..3], None)?.value(), 4.0);
/// # Ok::<(), poq_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Median;

impl Aggregator for Median {
    fn name(&self) -> &str {
        "median"
    }
    fn aggregate(&self, scores: &[Score], weights: Option<&[f64]>) -> Result<Score> {
        let w = weights_for(scores, weights)?;
        Score::clamped(weighted_quantile(&sorted(scores, w), 0.5))
    }
}

/// Trimmed mean: drops `⌊fraction·n⌋` scores at each end, then takes the (weighted) mean of the rest.
///
/// ```
/// use poq_core::{Aggregator, Score, TrimmedMean};
/// let s: Vec<Score> = [0.0, 5.0, 6.0, 7.0, 10.0].iter().map(|&v| Score::new(v)).collect::<Result<_, _>>()?;
/// assert_eq!(TrimmedMean::new(0.2)?.aggregate(&s, None)?.value(), 6.0);
/// # Ok::<(), poq_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrimmedMean {
    fraction: f64,
}

impl TrimmedMean {
    /// `fraction` must be in [0, 0.5).
    pub fn new(fraction: f64) -> Result<Self> {
        check_param("fraction", fraction, (0.0..0.5).contains(&fraction), "must be in [0, 0.5)")?;
        Ok(TrimmedMean { fraction })
    }

    /// The trimmed fraction at each end.
    #[must_use]
    pub fn fraction(&self) -> f64 {
        self.fraction
    }
}

impl Aggregator for TrimmedMean {
    fn name(&self) -> &str {
        "trimmed_mean"
    }
    fn aggregate(&self, scores: &[Score], weights: Option<&[f64]>) -> Result<Score> {
        let w = weights_for(scores, weights)?;
        let pairs = sorted(scores, w);
        let k = (self.fraction * pairs.len() as f64).floor() as usize;
        let kept = &pairs[k..pairs.len() - k];
        if kept.iter().all(|p| p.1 == 0.0) {
            // Every kept score has zero weight: fall back to their plain mean.
            return weighted_mean(kept.iter().map(|p| (p.0, 1.0)));
        }
        weighted_mean(kept.iter().copied())
    }
}

/// Stake-weighted median with clipping (Bittensor's Yuma consensus).
///
/// The consensus point `c` is the highest score that evaluators holding at least `κ` of the stake
/// score at or above. Scores above `c` are clipped to `c`, and the result is the stake-weighted mean
/// of the clipped scores. Boosting beyond what a `κ`-majority supports therefore buys nothing.
///
/// ```
/// use poq_core::{Aggregator, Score, YumaConsensus};
/// let s = [Score::new(2.0)?, Score::new(5.0)?, Score::new(9.0)?];
/// // c = 5 (two of three support >= 5), then (2 + 5 + 5) / 3.
/// assert_eq!(YumaConsensus::new(0.5)?.aggregate(&s, None)?.value(), 4.0);
/// # Ok::<(), poq_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct YumaConsensus {
    kappa: f64,
}

impl YumaConsensus {
    /// `kappa` (the supporting stake quantile) must be in (0, 1].
    pub fn new(kappa: f64) -> Result<Self> {
        check_param("kappa", kappa, kappa > 0.0 && kappa <= 1.0, "must be in (0, 1]")?;
        Ok(YumaConsensus { kappa })
    }

    /// The supporting stake quantile.
    #[must_use]
    pub fn kappa(&self) -> f64 {
        self.kappa
    }
}

impl Aggregator for YumaConsensus {
    fn name(&self) -> &str {
        "yuma"
    }
    fn aggregate(&self, scores: &[Score], weights: Option<&[f64]>) -> Result<Score> {
        let w = weights_for(scores, weights)?;
        let pairs = sorted(scores, w);
        let total: f64 = pairs.iter().map(|p| p.1).sum();
        // Walk down from the top: the first score whose support (stake at or above it) reaches κ.
        let mut support = 0.0;
        let mut clip = pairs[0].0;
        for &(v, w) in pairs.iter().rev() {
            support += w;
            if support >= self.kappa * total * (1.0 - 1e-12) {
                clip = v;
                break;
            }
        }
        weighted_mean(pairs.iter().map(|&(v, w)| (v.min(clip), w)))
    }
}

/// Any built-in stateless consensus rule, as configuration (tagged by `rule`).
///
/// ```
/// use poq_core::{Aggregator, Consensus, Score};
/// let c: Consensus = serde_json::from_str(r#"{"rule":"trimmed_mean","fraction":0.25}"#)?;
/// let s = [Score::new(1.0)?, Score::new(5.0)?, Score::new(6.0)?, Score::new(10.0)?];
/// assert_eq!(c.aggregate(&s, None)?.value(), 5.5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Consensus {
    /// [`Mean`].
    #[default]
    Mean,
    /// [`Median`].
    Median,
    /// [`TrimmedMean`].
    TrimmedMean {
        /// Fraction trimmed at each end.
        fraction: f64,
    },
    /// [`YumaConsensus`].
    Yuma {
        /// Supporting stake quantile.
        kappa: f64,
    },
}

impl Consensus {
    /// Re-checks the parameters (deserialized values bypass the constructors).
    pub fn validate(&self) -> Result<()> {
        match *self {
            Consensus::Mean | Consensus::Median => Ok(()),
            Consensus::TrimmedMean { fraction } => TrimmedMean::new(fraction).map(drop),
            Consensus::Yuma { kappa } => YumaConsensus::new(kappa).map(drop),
        }
    }
}

impl Aggregator for Consensus {
    fn name(&self) -> &str {
        match self {
            Consensus::Mean => "mean",
            Consensus::Median => "median",
            Consensus::TrimmedMean { .. } => "trimmed_mean",
            Consensus::Yuma { .. } => "yuma",
        }
    }
    fn aggregate(&self, scores: &[Score], weights: Option<&[f64]>) -> Result<Score> {
        match *self {
            Consensus::Mean => Mean.aggregate(scores, weights),
            Consensus::Median => Median.aggregate(scores, weights),
            Consensus::TrimmedMean { fraction } => TrimmedMean::new(fraction)?.aggregate(scores, weights),
            Consensus::Yuma { kappa } => YumaConsensus::new(kappa)?.aggregate(scores, weights),
        }
    }
}

/// Adaptive trust weighting (the rule of arXiv 2601.21189).
///
/// Each evaluator `i` carries a trust weight `w_i`. A round's consensus is the trust-weighted mean of
/// the sampled evaluators' scores; afterwards each of them is updated with
/// `w ← clip(w · (1 + λ · (0.5 − d)), w_min, w_max)` where `d = |s − consensus| / 10`.
///
/// **Known flaw.** The update grows `w` whenever `d < 0.5`, that is whenever an evaluator is within 5
/// points of the consensus. On a 0–10 scale nearly every evaluator is, honest or not: a colluder that
/// boosts by 3 points still has `d ≈ 0.3`. So every evaluator whose average deviation is below 0.5
/// drifts to `w_max`, all weights end equal, and the weighted mean decays into the plain mean — the
/// weighting buys no robustness in the long run. poq-sim has a trust rule whose evidence comes from
/// spot checks with known ground truth and does not saturate.
///
/// ```
/// use poq_core::{AdaptiveTrust, Score};
/// let mut t = AdaptiveTrust::new(2, 0.5, 0.1, 2.0)?;
/// let s = [Score::new(6.0)?, Score::new(8.0)?];
/// let c = t.round(&[0, 1], &s)?;
/// assert_eq!(c.value(), 7.0);
/// // d = 0.1 for both: w = 1 · (1 + 0.5 · 0.4) = 1.2.
/// assert!((t.weights()[0] - 1.2).abs() < 1e-12);
/// # Ok::<(), poq_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdaptiveTrust {
    lambda: f64,
    w_min: f64,
    w_max: f64,
    weights: Vec<f64>,
}

impl AdaptiveTrust {
    /// Trust for `n` evaluators, all starting at weight 1. Needs `λ ≥ 0` and `0 < w_min ≤ 1 ≤ w_max`.
    pub fn new(n: usize, lambda: f64, w_min: f64, w_max: f64) -> Result<Self> {
        check_param("lambda", lambda, lambda.is_finite() && lambda >= 0.0, "must be finite and >= 0")?;
        check_param("w_min", w_min, w_min > 0.0 && w_min <= 1.0, "must be in (0, 1]")?;
        check_param("w_max", w_max, w_max.is_finite() && w_max >= 1.0, "must be finite and >= 1")?;
        Ok(AdaptiveTrust { lambda, w_min, w_max, weights: vec![1.0; n] })
    }

    /// Current weights, indexed by evaluator id.
    #[must_use]
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    fn lookup(&self, ids: &[usize], scores: &[Score]) -> Result<Vec<f64>> {
        if ids.len() != scores.len() {
            return Err(Error::LengthMismatch {
                left: "ids",
                left_len: ids.len(),
                right: "scores",
                right_len: scores.len(),
            });
        }
        ids.iter()
            .map(|&i| {
                self.weights.get(i).copied().ok_or(Error::OutOfRange {
                    what: "evaluator",
                    index: i,
                    len: self.weights.len(),
                })
            })
            .collect()
    }

    /// The trust-weighted mean of the scores of evaluators `ids`.
    pub fn consensus(&self, ids: &[usize], scores: &[Score]) -> Result<Score> {
        Mean.aggregate(scores, Some(&self.lookup(ids, scores)?))
    }

    /// Updates the weights of evaluators `ids` after a round whose consensus was `consensus`.
    pub fn update(&mut self, ids: &[usize], scores: &[Score], consensus: Score) -> Result<()> {
        self.lookup(ids, scores)?;
        for (&i, s) in ids.iter().zip(scores) {
            let d = (s.value() - consensus.value()).abs() / 10.0;
            let w = &mut self.weights[i];
            *w = (*w * (1.0 + self.lambda * (0.5 - d))).clamp(self.w_min, self.w_max);
        }
        Ok(())
    }

    /// One round: consensus with the current weights, then the update. Returns the consensus.
    pub fn round(&mut self, ids: &[usize], scores: &[Score]) -> Result<Score> {
        let c = self.consensus(ids, scores)?;
        self.update(ids, scores, c)?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[f64]) -> Vec<Score> {
        v.iter().map(|&x| Score::new(x).unwrap()).collect()
    }

    #[test]
    fn weighted_median_hand_values() {
        let x = s(&[1.0, 2.0, 3.0]);
        assert_eq!(Median.aggregate(&x, Some(&[1.0, 1.0, 5.0])).unwrap().value(), 3.0);
        assert_eq!(Median.aggregate(&x, Some(&[1.0, 1.0, 2.0])).unwrap().value(), 2.5);
        assert_eq!(Median.aggregate(&x, Some(&[0.0, 1.0, 0.0])).unwrap().value(), 2.0);
    }

    #[test]
    fn trimmed_mean_hand_values() {
        let x = s(&[0.0, 4.0, 6.0, 10.0]);
        assert_eq!(TrimmedMean::new(0.0).unwrap().aggregate(&x, None).unwrap().value(), 5.0);
        // ⌊0.3·4⌋ = 1 dropped at each end.
        assert_eq!(TrimmedMean::new(0.3).unwrap().aggregate(&x, None).unwrap().value(), 5.0);
        assert_eq!(TrimmedMean::new(0.3).unwrap().aggregate(&s(&[0.0, 4.0, 8.0, 10.0]), None).unwrap().value(), 6.0);
        assert!(TrimmedMean::new(0.5).is_err());
    }

    #[test]
    fn yuma_clips_a_minority_booster() {
        let honest = s(&[6.0, 6.0, 10.0]);
        let y = YumaConsensus::new(0.5).unwrap();
        assert_eq!(y.aggregate(&honest, None).unwrap().value(), 6.0);
        // A booster with most of the stake sets the clip point itself.
        let v = y.aggregate(&honest, Some(&[1.0, 1.0, 3.0])).unwrap().value();
        assert_eq!(v, 10.0 * 3.0 / 5.0 + 6.0 * 2.0 / 5.0);
    }

    #[test]
    fn input_errors() {
        assert!(matches!(Mean.aggregate(&[], None), Err(Error::Empty { .. })));
        let x = s(&[1.0, 2.0]);
        assert!(matches!(Mean.aggregate(&x, Some(&[1.0])), Err(Error::LengthMismatch { .. })));
        assert!(Mean.aggregate(&x, Some(&[0.0, 0.0])).is_err());
        assert!(Mean.aggregate(&x, Some(&[1.0, f64::NAN])).is_err());
        assert!(Mean.aggregate(&x, Some(&[1.0, -1.0])).is_err());
        let t = AdaptiveTrust::new(1, 0.1, 0.1, 2.0).unwrap();
        assert!(matches!(t.consensus(&[3], &s(&[1.0])), Err(Error::OutOfRange { index: 3, .. })));
    }

    #[test]
    fn adaptive_trust_saturates_for_a_colluder_too() {
        // The documented flaw: an evaluator that always boosts by 3 still ends at w_max.
        let mut t = AdaptiveTrust::new(3, 0.2, 0.1, 3.0).unwrap();
        for _ in 0..200 {
            t.round(&[0, 1, 2], &s(&[5.0, 5.0, 8.0])).unwrap();
        }
        assert_eq!(t.weights(), &[3.0, 3.0, 3.0]);
        // A wildly wrong evaluator (d > 0.5) does lose weight.
        let mut t = AdaptiveTrust::new(3, 0.2, 0.1, 3.0).unwrap();
        for _ in 0..200 {
            t.round(&[0, 1, 2], &s(&[0.0, 0.0, 10.0])).unwrap();
        }
        assert_eq!(t.weights()[2], 0.1);
    }
}
