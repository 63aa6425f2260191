//! Scenarios: who takes part, how they behave, and the rules of the round (serde, TOML or JSON).
//!
//! A scenario is plain data. [`Scenario::validate`] (called by [`Scenario::from_path`] and by the
//! simulator) checks every field and names the first bad one, e.g. `evaluators[2].stake`. The file
//! format, every key with its default, is documented in `docs/scenario.md` (the crate page shows it).

use crate::adversary::{EvaluatorAdversary, InferenceAttack};
use crate::error::{Result, SimError};
use crate::models::{QualityModel, ScoreModel};
use crate::trust::Trust;
use poq_core::{Consensus, CostProfile, CostWeights, Normalization, Reward};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A node's cost: either a mean latency in milliseconds or a full [`CostProfile`].
///
/// In a file: `cost = 120.0` (milliseconds) or `cost = { latency_mean_ms = 120.0, latency_p50_ms =
/// 110.0, latency_p95_ms = 200.0, throughput_items_per_s = 8.3, peak_memory_mb = 900.0, device =
/// "cpu", batch_size = 1 }` (optional: `prefill_tokens_per_s`, `decode_tokens_per_s`, `energy_j`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    untagged,
    expecting = "a cost: a mean latency in milliseconds (`cost = 120.0`) or a cost profile table with \
                 latency_mean_ms, latency_p50_ms, latency_p95_ms, throughput_items_per_s, peak_memory_mb, \
                 device and batch_size (see docs/scenario.md)"
)]
pub enum Cost {
    /// Mean latency in milliseconds (the paper's cost).
    Latency(f64),
    /// A profile from poq-profile.
    Profile(CostProfile),
}

impl Cost {
    /// The cost as a checked profile; `field` names it in errors.
    #[must_use = "the checked profile is the point of the call"]
    pub fn profile(&self, field: &str) -> Result<CostProfile> {
        let p = match self {
            Cost::Latency(ms) => CostProfile::from_latency_ms(*ms).map_err(SimError::core(field))?,
            Cost::Profile(p) => p.clone(),
        };
        p.validate().map_err(SimError::core(field))?;
        Ok(p)
    }

    /// Mean latency in milliseconds: the quantity an audit re-measures.
    #[must_use]
    pub fn latency_ms(&self) -> f64 {
        match self {
            Cost::Latency(ms) => *ms,
            Cost::Profile(p) => p.latency_mean_ms,
        }
    }

    /// The same cost with every component multiplied by `m` (a misreport).
    #[must_use]
    pub fn scaled(&self, m: f64) -> Cost {
        match self {
            Cost::Latency(ms) => Cost::Latency(ms * m),
            Cost::Profile(p) => {
                let mut p = p.clone();
                p.latency_mean_ms *= m;
                p.latency_p50_ms *= m;
                p.latency_p95_ms *= m;
                p.peak_memory_mb *= m;
                p.energy_j = p.energy_j.map(|e| e * m);
                if m > 0.0 {
                    p.throughput_items_per_s /= m;
                }
                Cost::Profile(p)
            }
        }
    }
}

/// An inference node: answers prompts with its model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InferenceNode {
    /// Unique name (the paper's model names in the `paper` scenario).
    pub name: String,
    /// Distribution of the true quality (0–10) of its answers.
    pub quality: QualityModel,
    /// Its true cost.
    pub cost: Cost,
    /// The cost it reports, on which rewards are computed (default: the true cost).
    #[serde(default)]
    pub reported_cost: Option<Cost>,
    /// Stake, for stake-weighted serving (default 1).
    #[serde(default = "one")]
    pub stake: f64,
    /// Misbehaviour, if any.
    #[serde(default)]
    pub adversary: Option<InferenceAttack>,
}

/// An evaluator node: scores answers with its model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluatorNode {
    /// Unique name.
    pub name: String,
    /// How its scores relate to the true quality.
    pub scoring: ScoreModel,
    /// Its true cost per scored answer.
    pub cost: Cost,
    /// The cost it reports (default: the true cost).
    #[serde(default)]
    pub reported_cost: Option<Cost>,
    /// Stake, for stake-weighted sampling (default 1).
    #[serde(default = "one")]
    pub stake: f64,
    /// Misbehaviour, if any.
    #[serde(default)]
    pub adversary: Option<EvaluatorAdversary>,
}

/// How a set is drawn from a pool: uniformly or in proportion to stake (without replacement).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// Every member equally likely.
    #[default]
    Uniform,
    /// Successive draws in proportion to the stake of those not yet drawn.
    Stake,
    /// As `Stake`, with each stake multiplied by the evaluator's current trust weight (needs a
    /// `trust` rule): evaluators the trust rule has flagged are rarely drawn at all.
    Trust,
}

/// Which inference nodes answer in a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Serving {
    /// Every inference node answers every prompt (the paper's experiment).
    #[default]
    All,
    /// One node, uniformly.
    Uniform,
    /// One node, in proportion to stake.
    Stake,
}

/// Audited costs: a defence against cost misreporting and lazy or downgraded nodes.
///
/// Each answer a node produces or scores is audited with probability `rate`: its true cost in that
/// round is re-measured, and if the reported latency is off by more than `tolerance` (relative) the
/// node is slashed `penalty` reward units on that answer.
///
/// The default is **off** (`rate = 0`), in code and in files alike; [`Audit::RECOMMENDED`] is the
/// setting the attack tests use. Any `rate > 0` sends every round down the general (slower) round
/// loop, since audits draw randomness per answer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Audit {
    /// Probability that an answer is audited, in [0, 1].
    pub rate: f64,
    /// Relative tolerance of the reported latency.
    pub tolerance: f64,
    /// Reward units slashed when an audit fails.
    pub penalty: f64,
}

impl Audit {
    /// No audits (`rate = 0`); tolerance and penalty as in [`Audit::RECOMMENDED`], so a file that
    /// sets only `audit = { rate = 0.05 }` gets the recommended defence.
    pub const OFF: Audit = Audit { rate: 0.0, tolerance: 0.1, penalty: 25.0 };

    /// 5 % of answers audited, 10 % tolerance, 25 reward units slashed: misreporting is unprofitable
    /// whenever `rate · penalty = 1.25` exceeds what it can gain per answer, at most `β` (β ≤ 1.25).
    pub const RECOMMENDED: Audit = Audit { rate: 0.05, tolerance: 0.1, penalty: 25.0 };
}

impl Default for Audit {
    /// [`Audit::OFF`].
    fn default() -> Self {
        Audit::OFF
    }
}

/// A complete simulation setup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A label carried into every output row ([`Scenario::DEFAULT_NAME`]).
    #[serde(default = "default_name")]
    pub name: String,
    /// Inference nodes (at least one).
    pub inference: Vec<InferenceNode>,
    /// Evaluator nodes (at least `k`).
    pub evaluators: Vec<EvaluatorNode>,
    /// Evaluators sampled per round ([`Scenario::DEFAULT_K`]).
    #[serde(default = "default_k")]
    pub k: usize,
    /// How the `k` evaluators are drawn.
    #[serde(default)]
    pub sampling: Selection,
    /// Which inference nodes answer each round.
    #[serde(default)]
    pub serving: Serving,
    /// Consensus rule (poq-core).
    #[serde(default)]
    pub consensus: Consensus,
    /// Reward rule (poq-core); α and β live here.
    #[serde(default)]
    pub reward: Reward,
    /// Number of rounds ([`Scenario::DEFAULT_ROUNDS`]).
    #[serde(default = "default_rounds")]
    pub rounds: u64,
    /// Seed: each round's randomness derives from (seed, round index) ([`Scenario::DEFAULT_SEED`]).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Number of distinct prompts: the length of empirical score tables ([`Scenario::DEFAULT_PROMPTS`]).
    #[serde(default = "default_prompts")]
    pub prompts: usize,
    /// How costs are normalized within each pool.
    #[serde(default)]
    pub normalization: Normalization,
    /// Weights of cost components (latency only by default, as in the paper).
    #[serde(default)]
    pub cost_weights: CostWeights,
    /// Cost audits (off by default: [`Audit::OFF`]).
    #[serde(default)]
    pub audit: Audit,
    /// Trust weighting of evaluators across rounds.
    #[serde(default)]
    pub trust: Trust,
    /// When set, each answer's participants split this pool in proportion to `max(0, R)`.
    #[serde(default)]
    pub budget: Option<f64>,
    /// Rounds at the start left out of the consensus-error statistics (a trust rule's warm-up);
    /// they are played, and paid, all the same. Default 0.
    #[serde(default)]
    pub warmup: u64,
}

fn one() -> f64 {
    1.0
}
fn default_name() -> String {
    Scenario::DEFAULT_NAME.into()
}
fn default_k() -> usize {
    Scenario::DEFAULT_K
}
fn default_rounds() -> u64 {
    Scenario::DEFAULT_ROUNDS
}
fn default_seed() -> u64 {
    Scenario::DEFAULT_SEED
}
fn default_prompts() -> usize {
    Scenario::DEFAULT_PROMPTS
}

impl Scenario {
    /// `name` when none is given.
    pub const DEFAULT_NAME: &'static str = "custom";
    /// `k`, evaluators sampled per round, when none is given: the paper's K = 3.
    pub const DEFAULT_K: usize = 3;
    /// `rounds` when none is given: the paper's 5,000.
    pub const DEFAULT_ROUNDS: u64 = 5000;
    /// `seed` when none is given.
    pub const DEFAULT_SEED: u64 = 42;
    /// `prompts` (distinct prompts; only empirical score tables depend on it) when none is given.
    pub const DEFAULT_PROMPTS: usize = 400;

    /// A scenario with the given nodes and every other setting at its default, exactly as a file
    /// that lists only the nodes: K = [`DEFAULT_K`](Self::DEFAULT_K), [`DEFAULT_ROUNDS`](Self::DEFAULT_ROUNDS)
    /// rounds, seed [`DEFAULT_SEED`](Self::DEFAULT_SEED), uniform sampling, every node serving, mean
    /// consensus, `R = q − 0.5·c`, min-max cost normalization on latency, **no audits**, no trust
    /// weighting, no budget.
    ///
    /// ```
    /// use poq_sim::{evaluator_node, inference_node, Audit, Scenario};
    /// let sc = Scenario::new(
    ///     vec![inference_node("big", 7.0, 1.5, 900.0), inference_node("small", 4.0, 1.5, 300.0)],
    ///     vec![evaluator_node("sts", 0.7, 0.0, 2.0, 12.0); 3],
    /// );
    /// assert_eq!((sc.k, sc.rounds, sc.seed), (Scenario::DEFAULT_K, Scenario::DEFAULT_ROUNDS, Scenario::DEFAULT_SEED));
    /// assert_eq!(sc.audit, Audit::OFF);
    /// ```
    #[must_use]
    pub fn new(inference: Vec<InferenceNode>, evaluators: Vec<EvaluatorNode>) -> Self {
        Scenario {
            name: default_name(),
            inference,
            evaluators,
            k: default_k(),
            sampling: Selection::default(),
            serving: Serving::default(),
            consensus: Consensus::default(),
            reward: Reward::default(),
            rounds: default_rounds(),
            seed: default_seed(),
            prompts: default_prompts(),
            normalization: Normalization::default(),
            cost_weights: CostWeights::default(),
            audit: Audit::default(),
            trust: Trust::default(),
            budget: None,
            warmup: 0,
        }
    }

    /// Parses TOML (`.toml`, feature `toml`) or JSON (anything else, feature `json`) and validates.
    /// Without the feature a file needs, the error says which one to turn on.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let is_toml = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("toml"));
        let (format, feature) = if is_toml { ("TOML", "toml") } else { ("JSON", "json") };
        if !(is_toml && cfg!(feature = "toml") || !is_toml && cfg!(feature = "json")) {
            return Err(SimError::Parse {
                path: path.into(),
                message: format!("reading {format} scenarios needs poq-sim's `{feature}` feature"),
            });
        }
        let text = std::fs::read_to_string(path).map_err(|source| SimError::Io { path: path.into(), source })?;
        #[cfg(feature = "toml")]
        let sc = if is_toml { Self::from_toml(&text) } else { Self::from_text_json(&text) };
        #[cfg(not(feature = "toml"))]
        let sc = Self::from_text_json(&text);
        sc.map_err(|e| match e {
            SimError::Parse { message, .. } => SimError::Parse { path: path.into(), message },
            other => other,
        })
    }

    #[cfg(feature = "json")]
    fn from_text_json(text: &str) -> Result<Self> {
        Self::from_json(text)
    }

    #[cfg(not(feature = "json"))]
    fn from_text_json(_: &str) -> Result<Self> {
        Err(SimError::Parse { path: "<json>".into(), message: "reading JSON needs poq-sim's `json` feature".into() })
    }

    /// Parses and validates TOML (feature `toml`).
    #[cfg(feature = "toml")]
    pub fn from_toml(text: &str) -> Result<Self> {
        let sc: Scenario =
            toml::from_str(text).map_err(|e| SimError::Parse { path: "<toml>".into(), message: e.to_string() })?;
        sc.validate()?;
        Ok(sc)
    }

    /// Parses and validates JSON (feature `json`).
    #[cfg(feature = "json")]
    pub fn from_json(text: &str) -> Result<Self> {
        let sc: Scenario = serde_json::from_str(text)
            .map_err(|e| SimError::Parse { path: "<json>".into(), message: e.to_string() })?;
        sc.validate()?;
        Ok(sc)
    }

    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<()> {
        crate::engine::Engine::new(self).map(drop)
    }

    /// α and β when the reward rule is linear.
    #[must_use]
    pub fn alpha_beta(&self) -> Option<(f64, f64)> {
        match self.reward {
            Reward::Linear(l) => Some((l.alpha(), l.beta())),
            _ => None,
        }
    }

    /// The scenario's parameters as (column, value) pairs, in a fixed order: the columns every
    /// output row carries.
    #[must_use]
    pub fn params(&self) -> Vec<(&'static str, String)> {
        let (alpha, beta) =
            self.alpha_beta().map_or((String::new(), String::new()), |(a, b)| (a.to_string(), b.to_string()));
        let consensus = match self.consensus {
            Consensus::TrimmedMean { fraction } => format!("trimmed_mean:{fraction}"),
            Consensus::Yuma { kappa } => format!("yuma:{kappa}"),
            c => poq_core::Aggregator::name(&c).to_owned(),
        };
        let bad = self.evaluators.iter().filter(|e| e.adversary.is_some()).count();
        let mut attacks: Vec<String> = self
            .evaluators
            .iter()
            .filter_map(|e| e.adversary.as_ref().map(|a| a.label()))
            .chain(self.inference.iter().filter_map(|n| n.adversary.as_ref().map(|a| a.label().to_owned())))
            .collect();
        attacks.sort();
        attacks.dedup();
        vec![
            ("scenario", self.name.clone()),
            ("seed", self.seed.to_string()),
            ("rounds", self.rounds.to_string()),
            ("k", self.k.to_string()),
            ("evaluator_pool", self.evaluators.len().to_string()),
            ("sampling", format!("{:?}", self.sampling).to_lowercase()),
            ("serving", format!("{:?}", self.serving).to_lowercase()),
            ("consensus", consensus),
            ("reward", poq_core::RewardRule::name(&self.reward).to_owned()),
            ("alpha", alpha),
            ("beta", beta),
            ("attack", if attacks.is_empty() { "none".into() } else { attacks.join("+") }),
            ("malicious_ratio", (bad as f64 / self.evaluators.len().max(1) as f64).to_string()),
            ("audit_rate", self.audit.rate.to_string()),
            ("trust", self.trust.label().to_owned()),
            ("budget", self.budget.map_or(String::new(), |b| b.to_string())),
            ("warmup", self.warmup.to_string()),
        ]
    }
}
