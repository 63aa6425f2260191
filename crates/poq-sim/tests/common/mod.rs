//! Shared helpers for the integration tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test
#![allow(dead_code)]

use poq_sim::{Audit, Cost, EvaluatorNode, PAPER_INFERENCE, Scenario, ScoreModel, inference_node};

/// The paper's inference nodes with `m` honest evaluators scoring `t + N(0, sd²)`, K = m, and the
/// recommended cost audits.
pub fn pool(m: usize, sd: f64) -> Scenario {
    let inference = PAPER_INFERENCE.iter().map(|&(n, q, s, ms)| inference_node(n, q, s, ms)).collect();
    let evaluators = (0..m)
        .map(|i| EvaluatorNode {
            name: format!("e{i}"),
            scoring: ScoreModel::Noisy { bias: 0.0, sd },
            cost: Cost::Latency(20.0 + i as f64),
            reported_cost: None,
            stake: 1.0,
            adversary: None,
        })
        .collect();
    let mut sc = Scenario::new(inference, evaluators);
    sc.k = m;
    sc.audit = Audit::RECOMMENDED;
    sc
}
