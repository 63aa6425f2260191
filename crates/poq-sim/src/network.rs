//! The built-in `network` population: three model classes on two hardware tiers, from the
//! measurements in `docs/results.md` (2-core CPU) and `docs/gpu.md` (H200).
//!
//! Measured: each model's mean MiniLM score of its answers (its quality: Qwen2.5-Coder-0.5B 7.13,
//! SmolLM2-135M 5.29, Gemma-3-270M 3.42) and its mean latency per answer on the 2-core CPU
//! (1,496, 758 and 1,072 ms); MiniLM's 3.5 ms and MPNet's 17.4 ms per scored item on that CPU, and
//! MiniLM's 8,952 sentences/s on the H200 (0.11 ms per item). **Assumed**: an inference node on a
//! GPU answers in a quarter of the CPU latency (we measured no full answer on a GPU), the
//! per-answer and per-node spreads, the stake distributions, the class sizes, churn and the
//! adversaries.

use crate::population::{
    AdversaryShare, Churn, EvaluatorClass, InferenceClass, Population, PopulationAttack, StakeDist,
};
use crate::scenario::{Cost, Selection};

/// (model, mean quality 0–10, CPU latency ms, share of inference nodes).
pub const NETWORK_MODELS: [(&str, f64, f64, f64); 3] = [
    ("qwen2.5-coder-0.5b", 7.13, 1496.0, 0.3),
    ("smollm2-135m", 5.29, 758.0, 0.4),
    ("gemma-3-270m", 3.42, 1072.0, 0.3),
];

/// (tier, latency factor against the measured CPU latency, share of each model's nodes).
pub const NETWORK_TIERS: [(&str, f64, f64); 2] = [("cpu", 1.0, 0.8), ("gpu", 0.25, 0.2)];

/// The `network` population with `inference` nodes and `evaluators` evaluators (the built-in
/// uses 10^6 and 10^5): stake-weighted serving and sampling, K = 3, 10 % of the CPU MiniLM
/// evaluators in a collusion ring for Gemma-3-270M on CPU and 5 % of MPNet boosting, 1 % of
/// nodes joining and 1 % leaving per epoch of 10^6 rounds, relative spot-check trust updated
/// every 10^6 rounds.
#[must_use]
pub fn network_population(inference: usize, evaluators: usize) -> Population {
    let mut inf = Vec::new();
    for &(model, quality, ms, share) in &NETWORK_MODELS {
        for &(tier, factor, tier_share) in &NETWORK_TIERS {
            inf.push(InferenceClass {
                name: format!("{model}@{tier}"),
                count: (inference as f64 * share * tier_share).round() as usize,
                quality,
                quality_sd: 2.0,
                quality_spread: 0.3,
                cost: Cost::Latency(ms * factor),
                cost_spread: 0.2,
                stake: StakeDist::LogNormal { mu: 0.0, sigma: 1.0 },
            });
        }
    }
    let ev = |name: &str, share: f64, sd: f64, ms: f64, adversary: Option<AdversaryShare>| EvaluatorClass {
        name: name.into(),
        count: (evaluators as f64 * share).round() as usize,
        sd,
        bias: 0.0,
        cost: Cost::Latency(ms),
        cost_spread: 0.1,
        stake: StakeDist::Pareto { scale: 1.0, shape: 1.5 },
        adversary,
    };
    let ring = format!("{}@cpu", NETWORK_MODELS[2].0);
    Population {
        name: "network".into(),
        inference: inf,
        evaluators: vec![
            ev(
                "minilm@cpu",
                0.6,
                1.0,
                3.5,
                Some(AdversaryShare { share: 0.1, attack: PopulationAttack::Collusion { ring, amount: 3.0 } }),
            ),
            ev("minilm@gpu", 0.2, 1.0, 1000.0 / 8952.0, None),
            ev(
                "mpnet@cpu",
                0.2,
                0.8,
                17.4,
                Some(AdversaryShare { share: 0.05, attack: PopulationAttack::Boost { amount: 3.0 } }),
            ),
        ],
        k: 3,
        serving: Selection::Stake,
        sampling: Selection::Stake,
        reward: poq_core::Reward::default(),
        rounds: 10_000_000,
        seed: 42,
        churn: Some(Churn { epoch_rounds: 1_000_000, join: 0.01, leave: 0.01 }),
        ci_width: 0.05,
        detection: crate::population::Detection::default(),
        trust: Some(crate::population::PopulationTrust::default()),
    }
}
