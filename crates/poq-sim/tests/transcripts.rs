//! Commit-reveal transcripts: payouts recompute exactly; tampering is detected.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

use poq_sim::{Audit, Consensus, Engine, RunOptions, SpotCheck, Transcript, Trust, paper};

fn check_all(sc: &poq_sim::Scenario) {
    let e = Engine::new(sc).unwrap();
    let txs = e.transcripts(0..300).unwrap();
    assert_eq!(txs.len(), 300);
    for t in &txs {
        // Through JSON and back, as a verifier would read it.
        let back: Transcript = serde_json::from_str(&serde_json::to_string(t).unwrap()).unwrap();
        e.verify(&back).unwrap();
    }
}

#[test]
fn payouts_recompute_exactly_under_every_rule() {
    let mut sc = paper();
    sc.audit = Audit::RECOMMENDED;
    check_all(&sc);
    sc.consensus = Consensus::Median;
    sc.budget = Some(10.0);
    check_all(&sc);
    sc.consensus = Consensus::Yuma { kappa: 0.5 };
    sc.trust = Trust::SpotCheck(SpotCheck::default());
    check_all(&sc);
    sc.trust = Trust::Adaptive { lambda: 0.2, w_min: 0.1, w_max: 3.0 };
    check_all(&sc);
}

#[test]
fn tampering_is_detected() {
    let e = Engine::new(&paper()).unwrap();
    let t = e.transcripts(7..8).unwrap().remove(0);
    e.verify(&t).unwrap();
    let mut bad = t.clone();
    bad.answers[0].scores[1] += 0.5;
    assert!(e.verify(&bad).unwrap_err().to_string().contains("commitment"));
    let mut bad = t.clone();
    bad.answers[1].inference_payout += 1e-12;
    assert!(e.verify(&bad).unwrap_err().to_string().contains("payout"));
    let mut bad = t.clone();
    bad.answers[2].consensus = 9.9;
    assert!(e.verify(&bad).unwrap_err().to_string().contains("consensus"));
    let mut bad = t;
    bad.evaluators[0] = 99;
    assert!(e.verify(&bad).is_err());
}

#[test]
fn transcripts_do_not_change_results_and_match_the_totals() {
    let mut sc = paper();
    sc.rounds = 500;
    let e = Engine::new(&sc).unwrap();
    let plain = e.run(RunOptions::default()).unwrap();
    let mut sink = Vec::new();
    let with = e.run(RunOptions::default().transcripts(&mut sink)).unwrap();
    assert_eq!(plain, with);
    let lines: Vec<Transcript> =
        String::from_utf8(sink).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 500);
    // Summing the transcripts' payouts gives the report's totals.
    let llama: f64 = lines.iter().flat_map(|t| &t.answers).filter(|a| a.node == 0).map(|a| a.inference_payout).sum();
    let total = plain.node("Llama-3.2-3B").unwrap().total_paid;
    assert!((llama - total).abs() < 1e-9, "{llama} vs {total}");
}

#[test]
fn measured_costs_and_absent_evaluators_are_replayed() {
    // A live network pays on the cost it measured in the round, not the scenario's.
    let e = Engine::new(&paper()).unwrap();
    let t = e.transcripts(3..4).unwrap().remove(0);
    assert!(!t.answers[0].inference_slashed);
    let mut live = t.clone();
    live.answers[0].measured_cost = Some(0.75);
    assert!(e.verify(&live).unwrap_err().to_string().contains("payout"), "the old payout must no longer match");
    let (alpha, beta) = paper().alpha_beta().unwrap();
    live.answers[0].inference_payout = alpha * live.answers[0].consensus / 10.0 - beta * 0.75;
    e.verify(&live).unwrap();
    // Evaluator costs likewise, one per revealed evaluator.
    let mut live2 = t.clone();
    live2.answers[0].measured_evaluator_costs = Some(vec![0.0; t.evaluators.len() - 1]);
    assert!(e.verify(&live2).unwrap_err().to_string().contains("entries"));
    // Sampled but absent evaluators count towards k; an evaluator cannot be both.
    let mut absent = t.clone();
    absent.absent.push(absent.evaluators[0]);
    assert!(e.verify(&absent).unwrap_err().to_string().contains("absent"));
    let mut absent = t;
    let gone = absent.evaluators.pop().unwrap();
    absent.absent.push(gone);
    absent.answers.clear();
    e.verify(&absent).unwrap();
    absent.absent.push(absent.evaluators[0]);
    absent.evaluators.remove(0);
    assert!(e.verify(&absent).is_ok(), "rounds without reveals and without answers verify");
}
