//! Commit-reveal bookkeeping: a round written down so that anyone can recompute its payouts.
//!
//! Each evaluator commits `SHA-256("poq-commit-v1" ‖ round ‖ node ‖ evaluator ‖ score ‖ salt)`
//! (little-endian integers, the score's IEEE-754 bits) before any score is revealed, then reveals
//! score and salt. A [`Transcript`] holds the seed, prompt, served nodes, sampled evaluators,
//! commitments, reveals, trust weights (when trust weighting is on), audit outcomes, consensus and
//! payouts; [`Engine::verify`] checks every commitment and recomputes consensus and payouts from the
//! reveals with the scenario's rules, bit for bit.
//!
//! A live network (poq-net's coordinator) writes the same records with what only it knows: the
//! cost it measured for each node in the round (`measured_cost`, `measured_evaluator_costs`) and
//! the sampled evaluators that never revealed (`absent`); the verifier replays those too.

use crate::engine::Engine;
use crate::error::{Result, SimError};
use crate::rng::mix64;
use crate::trust::Trust;
use poq_core::{Aggregator, Mean, RewardRule, Score, agreement, split_budget};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One answer of a round: who answered, who scored it, what they committed and revealed, and pay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerRecord {
    /// Index of the inference node that answered.
    pub node: usize,
    /// True quality of the answer: known to the simulator, not to a live network (`None`), nor
    /// when the scenario shares outputs between nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truth: Option<f64>,
    /// Hex SHA-256 commitments, one per sampled evaluator (in `Transcript::evaluators` order).
    pub commitments: Vec<String>,
    /// Revealed salts.
    pub salts: Vec<u64>,
    /// Revealed scores.
    pub scores: Vec<f64>,
    /// Trust weights used in the consensus, when trust weighting is on.
    pub weights: Option<Vec<f64>>,
    /// The consensus score.
    pub consensus: f64,
    /// Whether the inference node's cost was audited and the audit failed.
    pub inference_slashed: bool,
    /// Per evaluator: audited and failed.
    pub evaluator_slashed: Vec<bool>,
    /// The inference node's payout (after any slash).
    pub inference_payout: f64,
    /// Each evaluator's payout (after any slash).
    pub evaluator_payouts: Vec<f64>,
    /// The inference node's normalized cost in this round when it was measured (a live network),
    /// instead of the scenario's fixed cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured_cost: Option<f64>,
    /// Each evaluator's measured normalized cost (in `Transcript::evaluators` order), likewise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured_evaluator_costs: Option<Vec<f64>>,
}

/// Everything needed to recompute one round's payouts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    /// The simulation seed.
    pub seed: u64,
    /// The round index.
    pub round: u64,
    /// The prompt id.
    pub prompt: usize,
    /// Indices of the sampled evaluators that revealed a valid score.
    pub evaluators: Vec<usize>,
    /// Sampled evaluators that did not (a live network: timed out, failed, or revealed a score
    /// that does not match its commitment); with `evaluators`, the scenario's `k`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub absent: Vec<usize>,
    /// One record per served inference node.
    pub answers: Vec<AnswerRecord>,
}

/// The salt an evaluator uses for its commitment: derived from its own stream, not the round's,
/// so that asking for transcripts does not change any other random draw.
pub(crate) fn salt(seed: u64, round: u64, node: usize, evaluator: usize) -> u64 {
    mix64(mix64(seed ^ 0xC0_4417) ^ mix64(round) ^ ((node as u64) << 32 | evaluator as u64))
}

/// The commitment to `score` (hex SHA-256).
#[must_use]
pub fn commitment(round: u64, node: usize, evaluator: usize, score: f64, salt: u64) -> String {
    let mut h = Sha256::new();
    h.update(b"poq-commit-v1");
    h.update(round.to_le_bytes());
    h.update((node as u64).to_le_bytes());
    h.update((evaluator as u64).to_le_bytes());
    h.update(score.to_bits().to_le_bytes());
    h.update(salt.to_le_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl<A: Aggregator + 'static, R: RewardRule + 'static> Engine<A, R> {
    /// Recomputes a transcript's consensus and payouts from its reveals; any difference, a bad
    /// commitment or an out-of-range index is an error naming the round.
    ///
    /// # Errors
    /// [`SimError::Transcript`] with what differed.
    pub fn verify(&self, t: &Transcript) -> Result<()> {
        let fail = |reason: String| SimError::Transcript { round: t.round, reason };
        let k = t.evaluators.len();
        if k + t.absent.len() != self.k {
            return Err(fail(format!("{k} evaluators and {} absent, the scenario samples {}", t.absent.len(), self.k)));
        }
        let sampled: Vec<usize> = t.evaluators.iter().chain(&t.absent).copied().collect();
        for (i, &e) in sampled.iter().enumerate() {
            if e >= self.evaluators.len() || sampled[..i].contains(&e) {
                return Err(fail(format!("evaluator id {e} is out of range or repeated")));
            }
        }
        if k == 0 && !t.answers.is_empty() {
            return Err(fail("answers are scored, but no evaluator revealed".into()));
        }
        for a in &t.answers {
            let node = self.inference.get(a.node).ok_or_else(|| fail(format!("node id {} out of range", a.node)))?;
            let lens = [
                a.commitments.len(),
                a.salts.len(),
                a.scores.len(),
                a.evaluator_slashed.len(),
                a.evaluator_payouts.len(),
                a.measured_evaluator_costs.as_ref().map_or(k, Vec::len),
            ];
            if lens.iter().any(|&l| l != k) {
                return Err(fail(format!("answer of node {}: per-evaluator lists must have {k} entries", a.node)));
            }
            let mut scores = Vec::with_capacity(k);
            for j in 0..k {
                let expect = commitment(t.round, a.node, t.evaluators[j], a.scores[j], a.salts[j]);
                if expect != a.commitments[j] {
                    return Err(fail(format!(
                        "node {}: evaluator {}'s reveal does not match its commitment",
                        a.node, t.evaluators[j]
                    )));
                }
                scores.push(Score::new(a.scores[j]).map_err(|e| fail(e.to_string()))?);
            }
            let consensus = match (&a.weights, self.scenario.trust) {
                (None, Trust::None) => self.consensus.aggregate(&scores, None),
                (Some(w), Trust::Adaptive { .. }) => Mean.aggregate(&scores, Some(w)),
                (Some(w), Trust::SpotCheck(_) | Trust::RelativeSpotCheck(_)) => {
                    self.consensus.aggregate(&scores, Some(w))
                }
                _ => return Err(fail("trust weights present or missing against the scenario".into())),
            }
            .map_err(|e| fail(e.to_string()))?;
            if consensus.value().to_bits() != a.consensus.to_bits() {
                return Err(fail(format!("node {}: consensus {} recomputes to {}", a.node, a.consensus, consensus)));
            }
            let mut rewards = Vec::with_capacity(k + 1);
            rewards.push(self.reward.reward(consensus.quality(), a.measured_cost.unwrap_or(node.cost)));
            for (j, (s, &e)) in scores.iter().zip(&t.evaluators).enumerate() {
                let cost = a.measured_evaluator_costs.as_ref().map_or(self.evaluators[e].cost, |c| c[j]);
                rewards.push(self.reward.reward(agreement(*s, consensus), cost));
            }
            if let Some(pool) = self.scenario.budget {
                rewards = split_budget(pool, &rewards).map_err(|e| fail(e.to_string()))?;
            }
            let slashed = std::iter::once(a.inference_slashed).chain(a.evaluator_slashed.iter().copied());
            let paid = std::iter::once(a.inference_payout).chain(a.evaluator_payouts.iter().copied());
            for (i, ((r, s), p)) in rewards.iter().zip(slashed).zip(paid).enumerate() {
                let expect = if s { r - self.audit.penalty } else { *r };
                if expect.to_bits() != p.to_bits() {
                    let who =
                        if i == 0 { format!("node {}", a.node) } else { format!("evaluator {}", t.evaluators[i - 1]) };
                    return Err(fail(format!("payout of {who} is {p}, the rules give {expect}")));
                }
            }
        }
        Ok(())
    }
}
