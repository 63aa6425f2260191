//! What a run produces: per-node reward statistics and consensus error.

use crate::engine::Engine;
use crate::stats::{ErrorSums, Totals};
use poq_core::normalize_rewards;
use poq_core::{Aggregator, RewardRule};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which pool a node belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// Answers prompts.
    Inference,
    /// Scores answers.
    Evaluator,
}

impl NodeKind {
    /// `inference` or `evaluator`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Inference => "inference",
            NodeKind::Evaluator => "evaluator",
        }
    }
}

/// Reward statistics of one node. A node's observations are its payouts, one per answer it
/// produced (inference) or scored (evaluator), after slashing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeStats {
    /// Node name.
    pub node: String,
    /// Its pool.
    pub kind: NodeKind,
    /// Its adversary label, `honest` if none.
    pub adversary: String,
    /// Answers produced or scored.
    pub answers: u64,
    /// Mean payout per answer (NaN when it never took part).
    pub mean_reward: f64,
    /// Sample standard deviation of the payout.
    pub std: f64,
    /// Lower end of the 95 % confidence interval of the mean (Student's t).
    pub ci_low: f64,
    /// Upper end.
    pub ci_high: f64,
    /// Sum of its payouts.
    pub total_paid: f64,
    /// `max(0, total)` over the sum of that over its pool.
    pub share: f64,
    /// Mean reward min-max scaled over its pool (poq-core's `normalize_rewards`): best 1, worst 0.
    pub normalized_reward: f64,
    /// Mean reward scaled by the rule's range: `(R̄ − R(0,1)) / (R(1,0) − R(0,1))`.
    pub scaled_reward: f64,
    /// Failed audits.
    pub slashes: u64,
    /// Reward units slashed.
    pub slashed: f64,
    /// Final trust weight, when trust weighting is on (evaluators).
    pub trust_weight: Option<f64>,
}

/// How close the consensus came to the true quality, over all answers (errors on the 0–10 scale).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ConsensusAccuracy {
    /// Answers scored.
    pub answers: u64,
    /// Mean absolute error (0–10 scale).
    pub mae: f64,
    /// Root mean squared error.
    pub rmse: f64,
    /// Mean signed error (consensus − truth).
    pub bias: f64,
}

impl ConsensusAccuracy {
    pub(crate) fn from_sums(e: &ErrorSums) -> Self {
        let n = e.n.max(1) as f64;
        ConsensusAccuracy { answers: e.n, mae: e.abs / n, rmse: (e.sq / n).sqrt(), bias: e.signed / n }
    }
}

/// The result of one simulation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The scenario's parameters (the columns of every output row).
    pub params: BTreeMap<String, String>,
    /// Inference nodes first, then evaluators, in scenario order.
    pub nodes: Vec<NodeStats>,
    /// How close the consensus came to the truth.
    pub consensus: ConsensusAccuracy,
}

impl Report {
    pub(crate) fn build<A: Aggregator + 'static, R: RewardRule + 'static>(
        engine: &Engine<A, R>,
        totals: &Totals,
        trust: Option<&[f64]>,
    ) -> Report {
        let sc = engine.scenario();
        let nf = sc.inference.len();
        let (lo, hi) = engine.reward_range();
        let mut nodes: Vec<NodeStats> = totals
            .nodes
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let (name, kind, adversary) = if i < nf {
                    let n = &sc.inference[i];
                    (
                        &n.name,
                        NodeKind::Inference,
                        n.adversary.as_ref().map_or("honest".into(), |a| a.label().to_owned()),
                    )
                } else {
                    let n = &sc.evaluators[i - nf];
                    (&n.name, NodeKind::Evaluator, n.adversary.as_ref().map_or("honest".into(), |a| a.label()))
                };
                let mean = if w.n == 0 { f64::NAN } else { w.mean };
                let (ci_low, ci_high) = w.ci95();
                NodeStats {
                    node: name.clone(),
                    kind,
                    adversary,
                    answers: w.n,
                    mean_reward: mean,
                    std: w.std(),
                    ci_low,
                    ci_high,
                    total_paid: w.mean * w.n as f64,
                    share: f64::NAN,
                    normalized_reward: f64::NAN,
                    scaled_reward: if hi > lo { (mean - lo) / (hi - lo) } else { f64::NAN },
                    slashes: totals.slashes[i],
                    slashed: totals.slashed[i],
                    trust_weight: if i >= nf { trust.map(|t| t[i - nf]) } else { None },
                }
            })
            .collect();
        for kind in [NodeKind::Inference, NodeKind::Evaluator] {
            let idx: Vec<usize> = (0..nodes.len()).filter(|&i| nodes[i].kind == kind && nodes[i].answers > 0).collect();
            let means: Vec<f64> = idx.iter().map(|&i| nodes[i].mean_reward).collect();
            if let Ok(norm) = normalize_rewards(&means) {
                idx.iter().zip(norm).for_each(|(&i, v)| nodes[i].normalized_reward = v);
            }
            let positive: f64 = idx.iter().map(|&i| nodes[i].total_paid.max(0.0)).sum();
            for &i in &idx {
                nodes[i].share = if positive > 0.0 { nodes[i].total_paid.max(0.0) / positive } else { 0.0 };
            }
        }
        Report {
            params: engine.params().into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            nodes,
            consensus: ConsensusAccuracy::from_sums(&totals.error),
        }
    }

    /// The statistics of the node called `name`.
    #[must_use]
    pub fn node(&self, name: &str) -> Option<&NodeStats> {
        self.nodes.iter().find(|n| n.node == name)
    }

    /// Mean pay per scored answer of the honest evaluators and of the adversarial ones (each NaN
    /// when that group scored nothing).
    #[must_use]
    pub fn evaluator_payouts(&self) -> (f64, f64) {
        let mean = |honest: bool| {
            let (paid, answers) = self
                .nodes
                .iter()
                .filter(|n| n.kind == NodeKind::Evaluator && (n.adversary == "honest") == honest && n.answers > 0)
                .fold((0.0, 0u64), |(s, c), n| (s + n.total_paid, c + n.answers));
            if answers == 0 { f64::NAN } else { paid / answers as f64 }
        };
        (mean(true), mean(false))
    }

    /// A plain-text table of the per-node rewards.
    #[must_use]
    pub fn table(&self) -> String {
        let mut s = format!(
            "{:<22} {:<9} {:<14} {:>8} {:>9} {:>8} {:>19} {:>6} {:>6} {:>6}\n",
            "node", "kind", "adversary", "answers", "mean", "std", "95% CI", "share", "norm", "scaled"
        );
        for n in &self.nodes {
            s += &format!(
                "{:<22} {:<9} {:<14} {:>8} {:>9.4} {:>8.4} [{:>8.4}, {:>8.4}] {:>6.3} {:>6.3} {:>6.3}\n",
                n.node,
                n.kind.as_str(),
                n.adversary,
                n.answers,
                n.mean_reward,
                n.std,
                n.ci_low,
                n.ci_high,
                n.share,
                n.normalized_reward,
                n.scaled_reward
            );
        }
        s += &format!(
            "consensus vs truth over {} answers: MAE {:.4}, RMSE {:.4}, bias {:+.4}\n",
            self.consensus.answers, self.consensus.mae, self.consensus.rmse, self.consensus.bias
        );
        s
    }
}
