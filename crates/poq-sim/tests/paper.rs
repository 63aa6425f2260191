//! The built-in `paper` scenario reproduces the paper's ranking and calibration targets.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

use poq_sim::{NodeKind, paper, simulate};

#[test]
fn paper_ranking_llama_top_phi_lowest() {
    let r = simulate(&paper()).unwrap();
    println!("{}", r.table());
    let inf: Vec<_> = r.nodes.iter().filter(|n| n.kind == NodeKind::Inference).collect();
    let top = inf.iter().max_by(|a, b| a.normalized_reward.total_cmp(&b.normalized_reward)).unwrap();
    let low = inf.iter().min_by(|a, b| a.normalized_reward.total_cmp(&b.normalized_reward)).unwrap();
    assert_eq!(top.node, "Llama-3.2-3B");
    assert_eq!(low.node, "Phi-3-mini");
    assert_eq!(top.normalized_reward, 1.0);
    assert_eq!(low.normalized_reward, 0.0);
    // The rule-range scaling lands near the reported 0.62 and 0.13 (calibrated, see docs/mechanism.md).
    let llama = r.node("Llama-3.2-3B").unwrap().scaled_reward;
    let phi = r.node("Phi-3-mini").unwrap().scaled_reward;
    assert!((llama - 0.62).abs() < 0.05, "Llama scaled reward {llama}");
    assert!((phi - 0.13).abs() < 0.05, "Phi scaled reward {phi}");
    // Gemma is second: Llama and Gemma are the two best.
    let mut order: Vec<_> = inf.iter().map(|n| (n.mean_reward, n.node.as_str())).collect();
    order.sort_by(|a, b| b.0.total_cmp(&a.0));
    assert_eq!(order[1].1, "Gemma-2-2B");
    // Confidence intervals separate the top two from the rest.
    let gemma = r.node("Gemma-2-2B").unwrap();
    assert!(gemma.ci_low > r.node("TinyLlama-1.1B").unwrap().ci_high);
    // Every answer is scored by all three evaluators.
    assert_eq!(r.consensus.answers, 5 * 5000);
    assert!(r.nodes.iter().filter(|n| n.kind == NodeKind::Evaluator).all(|n| n.answers == 25_000));
}

#[test]
fn paper_calibration_quality_per_ms_and_evaluator_correlation() {
    use poq_sim::{PAPER_EVALUATORS, PAPER_INFERENCE};
    let qpm = |name: &str| {
        let &(_, q, _, ms) = PAPER_INFERENCE.iter().find(|n| n.0 == name).unwrap();
        q / ms
    };
    let ratio = qpm("Llama-3.2-3B") / qpm("Qwen2-1.5B");
    assert!((ratio - 7.0).abs() < 0.1, "quality per ms ratio {ratio}");
    assert!((PAPER_EVALUATORS[0].1 - 0.66).abs() < 1e-12);
    assert!(PAPER_EVALUATORS[1].1.abs() < 0.1 && PAPER_EVALUATORS[2].1 < 0.0);
    let fastest = PAPER_INFERENCE.iter().min_by(|a, b| a.3.total_cmp(&b.3)).unwrap().0;
    let slowest = PAPER_INFERENCE.iter().max_by(|a, b| a.3.total_cmp(&b.3)).unwrap().0;
    assert_eq!((fastest, slowest), ("Llama-3.2-3B", "Phi-3-mini"));
}
