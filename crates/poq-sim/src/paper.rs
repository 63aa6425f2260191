//! The built-in `paper` scenario: five inference nodes and three evaluators calibrated to what
//! arXiv 2512.16317 reports. **Calibrated, not measured**: the numbers below are chosen so that the
//! simulation reproduces the paper's qualitative findings; they are not measurements of the models.
//!
//! - The STS bi-encoder tracks truth (Pearson 0.66); the two cross-encoders are near zero (0.05)
//!   and negative (−0.10).
//! - Llama-3.2-3B and Gemma-2-2B have the best quality and the lowest latency, about 7× the quality
//!   per millisecond of Qwen2-1.5B; Phi-3-mini is slow and low quality.
//! - Llama-3.2-3B earns the top normalized reward and Phi-3-mini the lowest.

use crate::models::{QualityModel, ScoreModel};
use crate::scenario::{Cost, EvaluatorNode, InferenceNode, Scenario};

/// (name, mean quality, sd, mean latency ms) of the five inference nodes.
pub const PAPER_INFERENCE: [(&str, f64, f64, f64); 5] = [
    ("Llama-3.2-3B", 7.5, 1.5, 900.0),
    ("Gemma-2-2B", 7.2, 1.5, 1000.0),
    ("Qwen2-1.5B", 2.8, 1.5, 2350.0),
    ("TinyLlama-1.1B", 3.5, 1.5, 1500.0),
    ("Phi-3-mini", 1.8, 1.5, 4200.0),
];

/// (name, correlation with truth, bias, scale, mean latency ms) of the three evaluators.
pub const PAPER_EVALUATORS: [(&str, f64, f64, f64, f64); 3] = [
    ("sts-bi-encoder", 0.66, -0.5, 5.0, 12.0),
    ("cross-encoder-a", 0.05, -1.8, 2.0, 45.0),
    ("cross-encoder-b", -0.10, -2.0, 2.0, 60.0),
];

/// An honest inference node with a clipped-normal quality model and a latency cost.
#[must_use]
pub fn inference_node(name: &str, mean: f64, sd: f64, latency_ms: f64) -> InferenceNode {
    InferenceNode {
        name: name.into(),
        quality: QualityModel::Normal { mean, sd },
        cost: Cost::Latency(latency_ms),
        reported_cost: None,
        stake: 1.0,
        adversary: None,
    }
}

/// An honest evaluator with a correlated scoring model and a latency cost.
#[must_use]
pub fn evaluator_node(name: &str, correlation: f64, bias: f64, scale: f64, latency_ms: f64) -> EvaluatorNode {
    EvaluatorNode {
        name: name.into(),
        scoring: ScoreModel::Correlated { correlation, bias, scale },
        cost: Cost::Latency(latency_ms),
        reported_cost: None,
        stake: 1.0,
        adversary: None,
    }
}

/// The paper's experiment: every node answers every round, K = 3 of 3 evaluators, mean consensus,
/// `R = q − 0.5·c`, 5,000 rounds, seed 42, audits and trust off (the paper has neither).
#[must_use]
pub fn paper() -> Scenario {
    let inference = PAPER_INFERENCE.iter().map(|&(n, m, sd, ms)| inference_node(n, m, sd, ms)).collect();
    let evaluators = PAPER_EVALUATORS.iter().map(|&(n, r, b, s, ms)| evaluator_node(n, r, b, s, ms)).collect();
    let mut sc = Scenario::new(inference, evaluators);
    sc.name = "paper".into();
    sc.audit.rate = 0.0;
    sc
}

/// The benchmark scenario shared with `scripts/bench/numpy_sim.py`: five inference nodes serve every
/// round, K = 3 of 3 evaluators with normal noise per score (`t + N(0, 1)`), mean consensus, linear
/// rewards, no audits.
#[must_use]
pub fn bench(rounds: u64) -> Scenario {
    let inference = PAPER_INFERENCE.iter().map(|&(n, m, sd, ms)| inference_node(n, m, sd, ms)).collect();
    let evaluators = [(0.0, 1.0, 12.0), (0.5, 1.5, 45.0), (-0.5, 2.0, 60.0)]
        .iter()
        .enumerate()
        .map(|(i, &(bias, sd, ms))| EvaluatorNode {
            name: format!("evaluator-{i}"),
            scoring: ScoreModel::Noisy { bias, sd },
            cost: Cost::Latency(ms),
            reported_cost: None,
            stake: 1.0,
            adversary: None,
        })
        .collect();
    let mut sc = Scenario::new(inference, evaluators);
    sc.name = "bench".into();
    sc.audit.rate = 0.0;
    sc.rounds = rounds;
    sc
}

/// A built-in scenario by name: `paper` or `bench`.
#[must_use]
pub fn builtin(name: &str) -> Option<Scenario> {
    match name {
        "paper" => Some(paper()),
        "bench" => Some(bench(1_000_000)),
        _ => None,
    }
}
