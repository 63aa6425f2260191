//! Adversaries: what a misbehaving node does, per kind of node.
//!
//! Evaluator attacks transform the honest score `s` of an answer by node `f` (then clip to 0–10) in
//! the rounds where the adversary acts (probability `probability`, drawn once per round):
//! noise `s + σ·ε`; boost `min(10, s + b)`; sabotage `max(0, s − b)`; collusion boosts the ring's
//! node and sabotages every other; a lazy evaluator skips the model and answers a constant or a
//! uniform random score at its own (near-zero) true cost. Cost misreporting is static: the node
//! reports `m ×` its true cost in every round. Inference attacks: a downgrade serves a cheaper,
//! worse model; a copycat replays another node's answer (its quality) at almost no cost.
//!
//! Both kinds are written the same way in a scenario file: one table tagged by `attack`, with the
//! attack's parameters and, where it applies, `probability` beside it:
//! `adversary = { attack = "misreport", factor = 0.5 }` (an inference node),
//! `adversary = { attack = "boost", amount = 2.0, targets = ["b"], probability = 0.5 }` (an evaluator).

use crate::models::QualityModel;
use crate::scenario::Cost;
use serde::{Deserialize, Serialize};

/// What a misbehaving inference node does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "attack", rename_all = "snake_case", deny_unknown_fields)]
pub enum InferenceAttack {
    /// Reports `factor ×` its true cost (every round).
    Misreport {
        /// The factor `m` (> 0; below 1 claims to be cheaper).
        factor: f64,
    },
    /// With probability `probability` serves a cheaper, worse model while reporting its own cost.
    Downgrade {
        /// Probability per round.
        probability: f64,
        /// Name of the cheaper model (the key of its column in empirical score tables).
        model: String,
        /// Quality of the cheaper model.
        quality: QualityModel,
        /// True cost of the cheaper model.
        cost: Cost,
    },
    /// With probability `probability` replays `victim`'s answer instead of running a model.
    Copycat {
        /// The inference node copied.
        victim: String,
        /// Probability per round (default 1).
        #[serde(default = "one")]
        probability: f64,
        /// True cost of copying.
        cost: Cost,
    },
}

impl InferenceAttack {
    /// A short name for reports.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            InferenceAttack::Misreport { .. } => "misreport",
            InferenceAttack::Downgrade { .. } => "downgrade",
            InferenceAttack::Copycat { .. } => "copycat",
        }
    }
}

/// What a lazy evaluator answers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LazyScore {
    /// Always this score.
    Constant(f64),
    /// Uniform on [0, 10].
    Random,
}

/// How a misbehaving evaluator changes its scores.
#[derive(Debug, Clone, PartialEq)]
pub enum EvaluatorAttack {
    /// Adds `N(0, sd²)` noise.
    Noise {
        /// Noise standard deviation.
        sd: f64,
    },
    /// `min(10, s + amount)` on `targets` (all nodes when empty).
    Boost {
        /// Points added.
        amount: f64,
        /// Inference nodes boosted (empty: all).
        targets: Vec<String>,
    },
    /// `max(0, s − amount)` on `targets` (all nodes when empty).
    Sabotage {
        /// Points removed.
        amount: f64,
        /// Inference nodes sabotaged (empty: all).
        targets: Vec<String>,
    },
    /// Boosts `ring` by `amount` and sabotages every other node by `amount`.
    Collusion {
        /// The ring's inference node.
        ring: String,
        /// Points moved.
        amount: f64,
    },
    /// Skips the model: a constant or random score at true cost `cost`.
    Lazy {
        /// What it answers.
        score: LazyScore,
        /// Its true cost while lazy.
        cost: Cost,
    },
    /// Reports `factor ×` its true cost (every round; `probability` does not apply).
    Misreport {
        /// The factor `m` (> 0).
        factor: f64,
    },
}

/// An evaluator's misbehaviour and how often it acts.
///
/// In a file it is one table, the attack's name under `attack` with its parameters and
/// `probability` (default 1) beside it: `{ attack = "collusion", ring = "weak", amount = 3.0 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "EvaluatorAdversaryFile", into = "EvaluatorAdversaryFile")]
pub struct EvaluatorAdversary {
    /// The attack.
    pub attack: EvaluatorAttack,
    /// Probability of acting in a round (1: always; below 1: intermittent manipulation). Ignored by
    /// [`EvaluatorAttack::Misreport`], which is static.
    pub probability: f64,
}

/// [`EvaluatorAdversary`] as written in a file: the attack's fields and `probability` side by side.
#[derive(Serialize, Deserialize)]
#[serde(tag = "attack", rename_all = "snake_case", deny_unknown_fields)]
enum EvaluatorAdversaryFile {
    Noise {
        sd: f64,
        #[serde(default = "one")]
        probability: f64,
    },
    Boost {
        amount: f64,
        #[serde(default)]
        targets: Vec<String>,
        #[serde(default = "one")]
        probability: f64,
    },
    Sabotage {
        amount: f64,
        #[serde(default)]
        targets: Vec<String>,
        #[serde(default = "one")]
        probability: f64,
    },
    Collusion {
        ring: String,
        amount: f64,
        #[serde(default = "one")]
        probability: f64,
    },
    Lazy {
        score: LazyScore,
        cost: Cost,
        #[serde(default = "one")]
        probability: f64,
    },
    Misreport {
        factor: f64,
    },
}

impl From<EvaluatorAdversaryFile> for EvaluatorAdversary {
    fn from(f: EvaluatorAdversaryFile) -> Self {
        use EvaluatorAdversaryFile as F;
        let (attack, probability) = match f {
            F::Noise { sd, probability } => (EvaluatorAttack::Noise { sd }, probability),
            F::Boost { amount, targets, probability } => (EvaluatorAttack::Boost { amount, targets }, probability),
            F::Sabotage { amount, targets, probability } => {
                (EvaluatorAttack::Sabotage { amount, targets }, probability)
            }
            F::Collusion { ring, amount, probability } => (EvaluatorAttack::Collusion { ring, amount }, probability),
            F::Lazy { score, cost, probability } => (EvaluatorAttack::Lazy { score, cost }, probability),
            F::Misreport { factor } => (EvaluatorAttack::Misreport { factor }, 1.0),
        };
        EvaluatorAdversary { attack, probability }
    }
}

impl From<EvaluatorAdversary> for EvaluatorAdversaryFile {
    fn from(a: EvaluatorAdversary) -> Self {
        use EvaluatorAdversaryFile as F;
        let probability = a.probability;
        match a.attack {
            EvaluatorAttack::Noise { sd } => F::Noise { sd, probability },
            EvaluatorAttack::Boost { amount, targets } => F::Boost { amount, targets, probability },
            EvaluatorAttack::Sabotage { amount, targets } => F::Sabotage { amount, targets, probability },
            EvaluatorAttack::Collusion { ring, amount } => F::Collusion { ring, amount, probability },
            EvaluatorAttack::Lazy { score, cost } => F::Lazy { score, cost, probability },
            EvaluatorAttack::Misreport { factor } => F::Misreport { factor },
        }
    }
}

impl EvaluatorAdversary {
    /// An adversary that always acts.
    #[must_use]
    pub fn always(attack: EvaluatorAttack) -> Self {
        EvaluatorAdversary { attack, probability: 1.0 }
    }

    /// A short name for reports (`boost`, `intermittent_boost`, ...).
    #[must_use]
    pub fn label(&self) -> String {
        let base = match self.attack {
            EvaluatorAttack::Noise { .. } => "noise",
            EvaluatorAttack::Boost { .. } => "boost",
            EvaluatorAttack::Sabotage { .. } => "sabotage",
            EvaluatorAttack::Collusion { .. } => "collusion",
            EvaluatorAttack::Lazy { .. } => "lazy",
            EvaluatorAttack::Misreport { .. } => "misreport",
        };
        let acts_sometimes = self.probability < 1.0 && !matches!(self.attack, EvaluatorAttack::Misreport { .. });
        if acts_sometimes { format!("intermittent_{base}") } else { base.to_owned() }
    }
}

fn one() -> f64 {
    1.0
}

/// Compiled evaluator attack; target sets are per-inference-node masks.
#[derive(Debug, Clone)]
pub(crate) enum Act {
    Noise(f64),
    /// Signed shift per inference node (+ boost, − sabotage, 0 untouched).
    Shift(Vec<f64>),
    Lazy(LazyScore),
}

impl Act {
    /// Applies the attack to honest score `s` of node `node`'s answer.
    #[inline]
    pub(crate) fn apply(&self, s: f64, node: usize, rng: &mut crate::rng::RoundRng) -> f64 {
        match self {
            Act::Noise(sd) => s + sd * rng.normal(),
            Act::Shift(d) => s + d[node],
            Act::Lazy(LazyScore::Constant(v)) => *v,
            Act::Lazy(LazyScore::Random) => 10.0 * rng.uniform(),
        }
    }
}
