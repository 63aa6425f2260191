//! Priors: a node's running mean quality and cost from earlier rounds.

use super::dimension::Dimension;
use super::item::QualityItem;
use crate::{Error, Result};
use poq_core::Score;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What is known of one node from earlier rounds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// Rounds seen.
    pub rounds: u64,
    /// Mean quality signal over them, 0–10.
    pub mean_quality: f64,
    /// Mean cost over them (any non-negative unit, e.g. ms).
    pub mean_cost: f64,
}

/// Running per-node means of quality and cost, updated once per round ([`NodePriors::update`]).
///
/// The quality prior of a node is its mean shrunk towards `prior_quality` with `pseudo_rounds`
/// pseudo-observations: `(n · mean + k · prior) / (n + k)`, so a new node starts at the prior and
/// one lucky round does not make a reputation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodePriors {
    /// The quality of a node never seen, 0–10.
    pub prior_quality: f64,
    /// Pseudo-rounds of the prior, ≥ 0.
    pub pseudo_rounds: f64,
    nodes: BTreeMap<String, NodeRecord>,
}

impl Default for NodePriors {
    fn default() -> Self {
        NodePriors { prior_quality: 5.0, pseudo_rounds: 1.0, nodes: BTreeMap::new() }
    }
}

impl NodePriors {
    /// Priors starting at `prior_quality` (0–10) with `pseudo_rounds` (finite, ≥ 0) of weight.
    pub fn new(prior_quality: f64, pseudo_rounds: f64) -> Result<Self> {
        Score::named("prior_quality", prior_quality)?;
        if !(pseudo_rounds.is_finite() && pseudo_rounds >= 0.0) {
            return Err(Error::InvalidArgument {
                name: "pseudo_rounds",
                message: format!("{pseudo_rounds} is not finite and non-negative"),
            });
        }
        Ok(NodePriors { prior_quality, pseudo_rounds, nodes: BTreeMap::new() })
    }

    /// Adds one round of `node`: its quality signal and its cost (finite, ≥ 0).
    pub fn update(&mut self, node: &str, quality: Score, cost: f64) -> Result<()> {
        if !(cost.is_finite() && cost >= 0.0) {
            return Err(Error::InvalidArgument {
                name: "cost",
                message: format!("{cost} for {node} is not finite and non-negative"),
            });
        }
        let r =
            self.nodes.entry(node.to_owned()).or_insert(NodeRecord { rounds: 0, mean_quality: 0.0, mean_cost: 0.0 });
        r.rounds += 1;
        let n = r.rounds as f64;
        r.mean_quality += (quality.value() - r.mean_quality) / n;
        r.mean_cost += (cost - r.mean_cost) / n;
        Ok(())
    }

    /// What is known of `node`.
    #[must_use]
    pub fn record(&self, node: &str) -> Option<NodeRecord> {
        self.nodes.get(node).copied()
    }

    /// The shrunk mean quality of `node` (`prior_quality` when unseen).
    #[must_use]
    pub fn quality_prior(&self, node: &str) -> Score {
        let v = self.nodes.get(node).map_or(self.prior_quality, |r| {
            let n = r.rounds as f64;
            let d = n + self.pseudo_rounds;
            if d > 0.0 {
                (n * r.mean_quality + self.pseudo_rounds * self.prior_quality) / d
            } else {
                self.prior_quality
            }
        });
        Score::clamped(v).unwrap_or(Score::MIN)
    }

    /// The mean cost of `node`, when seen.
    #[must_use]
    pub fn cost_prior(&self, node: &str) -> Option<f64> {
        self.nodes.get(node).map(|r| r.mean_cost)
    }
}

/// The priors dimension (name `prior`): [`NodePriors::quality_prior`] of the item's node, from a
/// snapshot of the priors taken before the round (so a round's own answers never score
/// themselves); items without a node get `prior_quality`.
#[derive(Debug, Clone, PartialEq)]
pub struct PriorDimension {
    snapshot: NodePriors,
}

impl PriorDimension {
    /// Scores from `snapshot`.
    #[must_use]
    pub fn new(snapshot: NodePriors) -> Self {
        PriorDimension { snapshot }
    }
}

impl Dimension for PriorDimension {
    fn name(&self) -> &str {
        "prior"
    }

    fn score_items(&self, items: &[QualityItem]) -> Result<Vec<Score>> {
        Ok(items
            .iter()
            .map(|it| {
                it.node.as_deref().map_or_else(
                    || Score::clamped(self.snapshot.prior_quality).unwrap_or(Score::MIN),
                    |n| self.snapshot.quality_prior(n),
                )
            })
            .collect())
    }
}
