//! Populations: node classes instead of node lists, for networks of 10^4–10^6 nodes.
//!
//! A class gives a count and distributions (a model's quality, a hardware tier's latency, a stake
//! distribution, an adversary share); [`Population::expand`] turns them into flat per-node arrays,
//! node `i` drawn from a generator seeded by `(seed, i)` alone, so the expansion is seed-stable,
//! parallel, and a node's parameters do not depend on how many nodes follow it.
//! Churn adds nodes each epoch and gives every node a lifetime; the per-node state (reward sums,
//! spot-check history) is keyed by node id, so it follows the node and a newcomer starts fresh.

use crate::error::{Result, SimError};
use crate::rng::RoundRng;
use crate::scenario::{Cost, Selection};
use poq_core::Reward;
use serde::{Deserialize, Serialize};

/// How stake is spread over a class's nodes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dist", rename_all = "snake_case", deny_unknown_fields)]
pub enum StakeDist {
    /// Every node holds `value`.
    Constant {
        /// The stake (> 0).
        value: f64,
    },
    /// `exp(N(mu, sigma²))`.
    LogNormal {
        /// Mean of the log.
        mu: f64,
        /// Standard deviation of the log (≥ 0).
        sigma: f64,
    },
    /// Pareto: `scale · U^(−1/shape)`; shape ≤ 1 has an infinite mean (a few whales hold most).
    Pareto {
        /// Smallest stake (> 0).
        scale: f64,
        /// Tail index α (> 0).
        shape: f64,
    },
}

impl Default for StakeDist {
    fn default() -> Self {
        StakeDist::Constant { value: 1.0 }
    }
}

impl StakeDist {
    fn validate(&self, field: &str) -> Result<()> {
        let ok = match *self {
            StakeDist::Constant { value } => positive(&format!("{field}.value"), value),
            StakeDist::LogNormal { mu, sigma } => {
                finite(&format!("{field}.mu"), mu)?;
                non_negative(&format!("{field}.sigma"), sigma)
            }
            StakeDist::Pareto { scale, shape } => {
                positive(&format!("{field}.scale"), scale)?;
                positive(&format!("{field}.shape"), shape)
            }
        };
        ok.map(drop)
    }

    fn draw(&self, rng: &mut RoundRng) -> f64 {
        match *self {
            StakeDist::Constant { value } => value,
            StakeDist::LogNormal { mu, sigma } => (mu + sigma * rng.normal()).exp(),
            StakeDist::Pareto { scale, shape } => scale * (1.0 - rng.uniform()).powf(-1.0 / shape),
        }
    }
}

/// An inference class: a model on a hardware tier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InferenceClass {
    /// Unique label (reports group by it).
    pub name: String,
    /// Nodes at the start.
    pub count: usize,
    /// Mean true quality (0–10) of the model, over nodes.
    pub quality: f64,
    /// Per-answer standard deviation of a node's true quality (clipped normal).
    pub quality_sd: f64,
    /// Standard deviation of node means around `quality` (quantization, prompts, versions).
    #[serde(default)]
    pub quality_spread: f64,
    /// Latency of the hardware tier: milliseconds or a poq-core cost profile (its mean latency).
    pub cost: Cost,
    /// Relative spread of node latencies around the tier's (log-normal σ), default 0.
    #[serde(default)]
    pub cost_spread: f64,
    /// Stake distribution.
    #[serde(default)]
    pub stake: StakeDist,
}

/// What an adversarial evaluator does to its honest score `s` (then clipped to 0–10).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "attack", rename_all = "snake_case", deny_unknown_fields)]
pub enum PopulationAttack {
    /// `s + amount`.
    Boost {
        /// Points added.
        amount: f64,
    },
    /// `s − amount`.
    Sabotage {
        /// Points removed.
        amount: f64,
    },
    /// `s + amount` for nodes of class `ring`, `s − amount` for every other.
    Collusion {
        /// The inference class the ring favours.
        ring: String,
        /// Points moved.
        amount: f64,
    },
    /// `s + sd·ε`.
    Noise {
        /// Extra noise standard deviation.
        sd: f64,
    },
    /// Skips the model and answers a constant.
    Lazy {
        /// The constant score.
        score: f64,
    },
}

impl PopulationAttack {
    /// A short name for reports.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            PopulationAttack::Boost { .. } => "boost",
            PopulationAttack::Sabotage { .. } => "sabotage",
            PopulationAttack::Collusion { .. } => "collusion",
            PopulationAttack::Noise { .. } => "noise",
            PopulationAttack::Lazy { .. } => "lazy",
        }
    }
}

/// A share of a class's nodes that misbehave. In a file it is one table, the attack's name under
/// `attack` with its parameters and `share` beside it:
/// `{ share = 0.1, attack = "collusion", ring = "small@cpu", amount = 3.0 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "AdversaryShareFile", into = "AdversaryShareFile")]
pub struct AdversaryShare {
    /// Fraction of the class's nodes, in [0, 1].
    pub share: f64,
    /// What they do.
    pub attack: PopulationAttack,
}

/// [`AdversaryShare`] as written in a file (serde's `flatten` cannot deny unknown keys).
#[derive(Serialize, Deserialize)]
#[serde(tag = "attack", rename_all = "snake_case", deny_unknown_fields)]
enum AdversaryShareFile {
    Boost { share: f64, amount: f64 },
    Sabotage { share: f64, amount: f64 },
    Collusion { share: f64, ring: String, amount: f64 },
    Noise { share: f64, sd: f64 },
    Lazy { share: f64, score: f64 },
}

impl From<AdversaryShareFile> for AdversaryShare {
    fn from(f: AdversaryShareFile) -> Self {
        use AdversaryShareFile as F;
        use PopulationAttack as A;
        let (share, attack) = match f {
            F::Boost { share, amount } => (share, A::Boost { amount }),
            F::Sabotage { share, amount } => (share, A::Sabotage { amount }),
            F::Collusion { share, ring, amount } => (share, A::Collusion { ring, amount }),
            F::Noise { share, sd } => (share, A::Noise { sd }),
            F::Lazy { share, score } => (share, A::Lazy { score }),
        };
        AdversaryShare { share, attack }
    }
}

impl From<AdversaryShare> for AdversaryShareFile {
    fn from(a: AdversaryShare) -> Self {
        use AdversaryShareFile as F;
        use PopulationAttack as A;
        let share = a.share;
        match a.attack {
            A::Boost { amount } => F::Boost { share, amount },
            A::Sabotage { amount } => F::Sabotage { share, amount },
            A::Collusion { ring, amount } => F::Collusion { share, ring, amount },
            A::Noise { sd } => F::Noise { share, sd },
            A::Lazy { score } => F::Lazy { share, score },
        }
    }
}

/// An evaluator class: a scoring model on a hardware tier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluatorClass {
    /// Unique label.
    pub name: String,
    /// Nodes at the start.
    pub count: usize,
    /// Score noise: `t + bias + sd·ε`.
    pub sd: f64,
    /// Score bias.
    #[serde(default)]
    pub bias: f64,
    /// Latency per scored answer.
    pub cost: Cost,
    /// Relative spread of node latencies (log-normal σ), default 0.
    #[serde(default)]
    pub cost_spread: f64,
    /// Stake distribution.
    #[serde(default)]
    pub stake: StakeDist,
    /// Misbehaving share, if any.
    #[serde(default)]
    pub adversary: Option<AdversaryShare>,
}

/// Nodes joining and leaving, per epoch of `epoch_rounds` rounds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Churn {
    /// Rounds per epoch (≥ 1).
    pub epoch_rounds: u64,
    /// New nodes per epoch, as a fraction of each class's starting count (≥ 0).
    pub join: f64,
    /// Probability that an active node leaves at the end of an epoch, in [0, 1].
    pub leave: f64,
}

/// The spot-check rule whose detection time the report gives (the relative spot-check rule's
/// parameters: see [`RelativeSpotCheck`](crate::RelativeSpotCheck)). Each adversary's error
/// estimate starts at the honest median, as a trusted node's would.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Detection {
    /// Probability that a round is a spot check, in (0, 1].
    pub rate: f64,
    /// Half-life of evidence, in spot checks (> 0).
    pub half_life: f64,
    /// Errors up to `margin ×` the honest median count as noise (≥ 1).
    pub margin: f64,
    /// Weight fall-off scale (> 0): a node is down-weighted (weight < 1/2) once its error
    /// exceeds `margin·Ẽ + tau·ln 2`.
    pub tau: f64,
}

impl Default for Detection {
    fn default() -> Self {
        Detection { rate: 0.1, half_life: 20.0, margin: 1.5, tau: 0.01 }
    }
}

/// Trust inside the rounds ([`Population::trust`]): the relative spot-check rule of
/// [`Population::detection`], its weights updated every `epoch_rounds` and used both in the
/// consensus (weighted mean) and in the draws (stake × weight).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PopulationTrust {
    /// Rounds between weight updates (≥ 1; at most 100,000 updates in a run).
    pub epoch_rounds: u64,
    /// Lower bound of a weight, in (0, 1].
    pub w_min: f64,
}

impl Default for PopulationTrust {
    fn default() -> Self {
        PopulationTrust { epoch_rounds: 1_000_000, w_min: 0.001 }
    }
}

/// A network given by classes: the population counterpart of a [`Scenario`](crate::Scenario).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Population {
    /// Label carried into outputs.
    #[serde(default = "default_name")]
    pub name: String,
    /// Inference classes.
    pub inference: Vec<InferenceClass>,
    /// Evaluator classes.
    pub evaluators: Vec<EvaluatorClass>,
    /// Evaluators per round (1–32).
    #[serde(default = "default_k")]
    pub k: usize,
    /// How the one inference node of a round is drawn (`uniform` or `stake`).
    #[serde(default)]
    pub serving: Selection,
    /// How the `k` evaluators are drawn (`uniform` or `stake`, without replacement).
    #[serde(default)]
    pub sampling: Selection,
    /// Reward rule (poq-core).
    #[serde(default)]
    pub reward: Reward,
    /// Rounds to play.
    #[serde(default = "default_rounds")]
    pub rounds: u64,
    /// Seed of rounds and of the expansion.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Joining and leaving; none by default.
    #[serde(default)]
    pub churn: Option<Churn>,
    /// Width of the 95 % confidence interval of a node's mean reward at which its estimate counts
    /// as settled (the report gives the rounds until then).
    #[serde(default = "default_ci_width")]
    pub ci_width: f64,
    /// The spot-check rule whose detection times the report gives.
    #[serde(default)]
    pub detection: Detection,
    /// Trust inside the rounds (none by default: then detection is replayed per node).
    #[serde(default)]
    pub trust: Option<PopulationTrust>,
}

fn default_name() -> String {
    "population".into()
}
fn default_k() -> usize {
    3
}
fn default_rounds() -> u64 {
    1_000_000
}
fn default_seed() -> u64 {
    42
}
fn default_ci_width() -> f64 {
    0.05
}

fn finite(field: &str, v: f64) -> Result<f64> {
    if v.is_finite() { Ok(v) } else { Err(SimError::invalid(field, format!("must be finite (got {v})"))) }
}
fn non_negative(field: &str, v: f64) -> Result<f64> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(SimError::invalid(field, format!("must be finite and >= 0 (got {v})")))
    }
}
fn positive(field: &str, v: f64) -> Result<f64> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(SimError::invalid(field, format!("must be finite and > 0 (got {v})")))
    }
}
fn in_range(field: &str, v: f64, lo: f64, hi: f64) -> Result<f64> {
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(SimError::invalid(field, format!("must be in [{lo}, {hi}] (got {v})")))
    }
}

/// Attack codes in [`Nodes::attack`]; 0 is honest.
pub(crate) const HONEST: u8 = 0;

/// What the round loop reads of a node, packed in 16 bytes so that one cache line holds it.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub(crate) struct Hot {
    /// Inference: node mean quality; evaluators: score bias.
    pub(crate) centre: f32,
    /// Inference: per-answer quality sd; evaluators: score noise sd.
    pub(crate) spread: f32,
    /// Normalized cost in [0, 1].
    pub(crate) cost: f32,
    /// Class index.
    pub(crate) class: u16,
    /// Evaluators: [`HONEST`] or not (the class's attack).
    pub(crate) attack: u8,
}

/// Epoch value of a node that never leaves.
pub(crate) const NEVER: u16 = u16::MAX;

/// Flat per-node arrays of one pool (inference or evaluators), by node id: 32 bytes a node.
#[derive(Debug, Clone, Default)]
pub(crate) struct Nodes {
    pub(crate) hot: Vec<Hot>,
    pub(crate) stake: Vec<f64>,
    /// Epoch the node joins, and the epoch at whose start it is gone ([`NEVER`]: never).
    pub(crate) joins: Vec<u16>,
    pub(crate) leaves: Vec<u16>,
}

impl Nodes {
    pub(crate) fn len(&self) -> usize {
        self.hot.len()
    }

    pub(crate) fn class(&self, i: usize) -> usize {
        usize::from(self.hot[i].class)
    }

    pub(crate) fn is_adversary(&self, i: usize) -> bool {
        self.hot[i].attack != HONEST
    }

    pub(crate) fn active_in(&self, i: usize, epoch: u16) -> bool {
        self.joins[i] <= epoch && epoch < self.leaves[i]
    }
}

/// Expanded population: both pools, and how many epochs the run spans.
#[derive(Debug, Clone)]
pub(crate) struct Expanded {
    pub(crate) inference: Nodes,
    pub(crate) evaluators: Nodes,
    pub(crate) epochs: u16,
}

/// Salts that keep the expansion's streams apart from the rounds' (which use `(seed, round)`).
const INFERENCE_SALT: u64 = 0x1AF3_0000_0000_0001;
const EVALUATOR_SALT: u64 = 0x1AF3_0000_0000_0002;

impl Population {
    /// Parses and validates a population from TOML (feature `toml`).
    #[cfg(feature = "toml")]
    pub fn from_toml(text: &str) -> Result<Self> {
        let p: Population =
            toml::from_str(text).map_err(|e| SimError::Parse { path: "<toml>".into(), message: e.to_string() })?;
        p.validate()?;
        Ok(p)
    }

    /// Parses and validates a population from JSON (feature `json`).
    #[cfg(feature = "json")]
    pub fn from_json(text: &str) -> Result<Self> {
        let p: Population = serde_json::from_str(text)
            .map_err(|e| SimError::Parse { path: "<json>".into(), message: e.to_string() })?;
        p.validate()?;
        Ok(p)
    }

    /// Reads a `.toml` (feature `toml`) or JSON (feature `json`) population file and validates it.
    #[cfg(all(feature = "toml", feature = "json"))]
    pub fn from_path(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| SimError::Io { path: path.into(), source })?;
        let is_toml = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("toml"));
        let p = if is_toml { Self::from_toml(&text) } else { Self::from_json(&text) };
        p.map_err(|e| match e {
            SimError::Parse { message, .. } => SimError::Parse { path: path.into(), message },
            other => other,
        })
    }

    /// Checks every field; the error names the first bad one (`evaluators[1].adversary.share`).
    pub fn validate(&self) -> Result<()> {
        if self.inference.is_empty() {
            return Err(SimError::invalid("inference", "at least one class is needed"));
        }
        if self.evaluators.is_empty() {
            return Err(SimError::invalid("evaluators", "at least one class is needed"));
        }
        if self.inference.len() + self.evaluators.len() > usize::from(u16::MAX) {
            return Err(SimError::invalid("inference", "too many classes (at most 65,535 in all)"));
        }
        self.reward.validate().map_err(SimError::core("reward"))?;
        if self.rounds == 0 || self.rounds > u64::from(u32::MAX) {
            return Err(SimError::invalid("rounds", format!("must be in 1..=2^32-1 (got {})", self.rounds)));
        }
        // Payout sums are fixed point (2^-24) in i64: bound Σx² over a node's payouts.
        let bound = [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)]
            .iter()
            .map(|&(q, c)| poq_core::RewardRule::reward(&self.reward, q, c).abs())
            .fold(1.0, f64::max);
        if self.rounds as f64 * bound * bound * crate::popsim::SCALE > 4e18 {
            return Err(SimError::invalid(
                "rounds",
                format!(
                    "too many for this reward rule's range (|R| up to {bound}): at most {:.0}",
                    4e18 / (bound * bound * crate::popsim::SCALE)
                ),
            ));
        }
        for (key, sel) in [("serving", self.serving), ("sampling", self.sampling)] {
            if sel == Selection::Trust {
                return Err(SimError::invalid(key, "populations draw `uniform` or by `stake`"));
            }
        }
        positive("ci_width", self.ci_width)?;
        let d = &self.detection;
        if !(d.rate > 0.0 && d.rate <= 1.0) {
            return Err(SimError::invalid("detection.rate", format!("must be in (0, 1] (got {})", d.rate)));
        }
        positive("detection.half_life", d.half_life)?;
        if !(d.margin.is_finite() && d.margin >= 1.0) {
            return Err(SimError::invalid("detection.margin", format!("must be finite and >= 1 (got {})", d.margin)));
        }
        positive("detection.tau", d.tau)?;
        if let Some(t) = &self.trust {
            if t.epoch_rounds == 0 || self.rounds.div_ceil(t.epoch_rounds) > 100_000 {
                return Err(SimError::invalid(
                    "trust.epoch_rounds",
                    format!("must be at least 1 and give at most 100,000 updates (got {})", t.epoch_rounds),
                ));
            }
            if !(t.w_min > 0.0 && t.w_min <= 1.0) {
                return Err(SimError::invalid("trust.w_min", format!("must be in (0, 1] (got {})", t.w_min)));
            }
        }
        if let Some(c) = &self.churn {
            if c.epoch_rounds == 0 || self.rounds.div_ceil(c.epoch_rounds) >= u64::from(NEVER) {
                return Err(SimError::invalid(
                    "churn.epoch_rounds",
                    format!("must be at least 1 and leave fewer than 65,535 epochs (got {})", c.epoch_rounds),
                ));
            }
            non_negative("churn.join", c.join)?;
            in_range("churn.leave", c.leave, 0.0, 1.0)?;
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, c) in self.inference.iter().enumerate() {
            let f = format!("inference[{i}]");
            if c.name.is_empty() || !names.insert(c.name.as_str()) {
                return Err(SimError::invalid(format!("{f}.name"), "must be non-empty and unique"));
            }
            in_range(&format!("{f}.quality"), c.quality, 0.0, 10.0)?;
            non_negative(&format!("{f}.quality_sd"), c.quality_sd)?;
            non_negative(&format!("{f}.quality_spread"), c.quality_spread)?;
            c.cost.profile(&format!("{f}.cost"))?;
            non_negative(&format!("{f}.cost_spread"), c.cost_spread)?;
            c.stake.validate(&format!("{f}.stake"))?;
        }
        let served: usize = self.inference.iter().map(|c| c.count).sum();
        if served == 0 {
            return Err(SimError::invalid("inference", "the classes must hold at least one node"));
        }
        for (i, c) in self.evaluators.iter().enumerate() {
            let f = format!("evaluators[{i}]");
            if c.name.is_empty() || !names.insert(c.name.as_str()) {
                return Err(SimError::invalid(format!("{f}.name"), "must be non-empty and unique across classes"));
            }
            non_negative(&format!("{f}.sd"), c.sd)?;
            finite(&format!("{f}.bias"), c.bias)?;
            c.cost.profile(&format!("{f}.cost"))?;
            non_negative(&format!("{f}.cost_spread"), c.cost_spread)?;
            c.stake.validate(&format!("{f}.stake"))?;
            if let Some(a) = &c.adversary {
                in_range(&format!("{f}.adversary.share"), a.share, 0.0, 1.0)?;
                let fa = format!("{f}.adversary");
                match &a.attack {
                    PopulationAttack::Boost { amount } | PopulationAttack::Sabotage { amount } => {
                        non_negative(&format!("{fa}.amount"), *amount)?;
                    }
                    PopulationAttack::Collusion { ring, amount } => {
                        non_negative(&format!("{fa}.amount"), *amount)?;
                        if !self.inference.iter().any(|c| &c.name == ring) {
                            return Err(SimError::invalid(
                                format!("{fa}.ring"),
                                format!("`{ring}` is no inference class"),
                            ));
                        }
                    }
                    PopulationAttack::Noise { sd } => {
                        non_negative(&format!("{fa}.sd"), *sd)?;
                    }
                    PopulationAttack::Lazy { score } => {
                        in_range(&format!("{fa}.score"), *score, 0.0, 10.0)?;
                    }
                }
            }
        }
        let pool: usize = self.evaluators.iter().map(|c| c.count).sum();
        if self.k == 0 || self.k > crate::MAX_K || self.k > pool {
            return Err(SimError::invalid(
                "k",
                format!(
                    "must be in 1..={} (the evaluator classes hold {pool}) (got {})",
                    pool.min(crate::MAX_K),
                    self.k
                ),
            ));
        }
        Ok(())
    }

    /// Number of epochs the run spans (1 without churn; validated below 65,535).
    pub(crate) fn epochs(&self) -> u16 {
        match &self.churn {
            Some(c) => u16::try_from(self.rounds.div_ceil(c.epoch_rounds)).unwrap_or(NEVER - 1),
            None => 1,
        }
    }

    /// Nodes of each class, joined at each epoch: the starting count at epoch 0, then
    /// `round(join · count)` per later epoch.
    pub(crate) fn joins_per_epoch(&self, count: usize) -> usize {
        self.churn.map_or(0, |c| (c.join * count as f64).round() as usize)
    }

    /// Validates and expands every node (see the module notes).
    pub(crate) fn expand(&self) -> Result<Expanded> {
        self.validate()?;
        let epochs = self.epochs();
        let inference = self.expand_pool(
            INFERENCE_SALT,
            epochs,
            self.inference.iter().map(|c| (c.count, c.cost.latency_ms(), c.cost_spread, c.stake)).collect(),
            |class, rng| {
                let c = &self.inference[class];
                let mean = (c.quality + c.quality_spread * rng.normal()).clamp(0.0, 10.0);
                (mean as f32, c.quality_sd as f32, HONEST)
            },
        )?;
        let evaluators = self.expand_pool(
            EVALUATOR_SALT,
            epochs,
            self.evaluators.iter().map(|c| (c.count, c.cost.latency_ms(), c.cost_spread, c.stake)).collect(),
            |class, rng| {
                let c = &self.evaluators[class];
                let bad = c.adversary.as_ref().is_some_and(|a| rng.uniform() < a.share);
                (c.bias as f32, c.sd as f32, if bad { 1 } else { HONEST })
            },
        )?;
        Ok(Expanded { inference, evaluators, epochs })
    }

    /// One pool: per class (count, latency ms, latency spread, stake), nodes laid out epoch by
    /// epoch (all of epoch 0's classes, then epoch 1's joiners, ...), each from `(seed, id)`.
    fn expand_pool(
        &self,
        salt: u64,
        epochs: u16,
        classes: Vec<(usize, f64, f64, StakeDist)>,
        node: impl Fn(usize, &mut RoundRng) -> (f32, f32, u8),
    ) -> Result<Nodes> {
        let mut nodes = Nodes::default();
        let mut latency = Vec::new();
        let leave = self.churn.map_or(0.0, |c| c.leave);
        for epoch in 0..epochs {
            for (class, &(count, ms, spread, stake)) in classes.iter().enumerate() {
                let n = if epoch == 0 { count } else { self.joins_per_epoch(count) };
                for _ in 0..n {
                    let id = nodes.len() as u64;
                    let mut rng = RoundRng::new(self.seed ^ salt, id);
                    let (centre, sd, attack) = node(class, &mut rng);
                    latency.push(ms * (spread * rng.normal()).exp());
                    nodes.stake.push(stake.draw(&mut rng));
                    // Lifetime in whole epochs: geometric, leaving at each epoch end with `leave`.
                    let life = if leave <= 0.0 {
                        f64::INFINITY
                    } else if leave >= 1.0 {
                        1.0
                    } else {
                        ((1.0 - rng.uniform()).ln() / (1.0 - leave).ln()).floor() + 1.0
                    };
                    let leaves = f64::from(epoch) + life;
                    nodes.hot.push(Hot { centre, spread: sd, cost: 0.0, class: class as u16, attack });
                    nodes.joins.push(epoch);
                    nodes.leaves.push(if leaves >= f64::from(NEVER) { NEVER } else { leaves as u16 });
                }
            }
        }
        if nodes.len() > u32::MAX as usize {
            return Err(SimError::invalid("inference", "at most 2^32 nodes per pool"));
        }
        // Min-max normalized latency over the pool, as for listed nodes.
        let (lo, hi) = latency.iter().fold((f64::MAX, f64::MIN), |(l, h), &x| (l.min(x), h.max(x)));
        for (h, &x) in nodes.hot.iter_mut().zip(&latency) {
            h.cost = if hi > lo { ((x - lo) / (hi - lo)) as f32 } else { 0.0 };
        }
        Ok(nodes)
    }
}

impl Nodes {
    /// Stakes of the nodes active in `epoch` (0 for the others); `uniform`: 1 for active nodes.
    pub(crate) fn weights(&self, epoch: u16, uniform: bool) -> Vec<f64> {
        (0..self.len())
            .map(|i| match (self.active_in(i, epoch), uniform) {
                (false, _) => 0.0,
                (true, true) => 1.0,
                (true, false) => self.stake[i],
            })
            .collect()
    }

    /// Nodes active in `epoch`.
    pub(crate) fn active(&self, epoch: u16) -> usize {
        (0..self.len()).filter(|&i| self.active_in(i, epoch)).count()
    }
}
