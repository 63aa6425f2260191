//! Every attack and defence claim, each against a baseline so the assertion can fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

mod common;

use common::pool;
use poq_core::Consensus;
use poq_sim::{
    Audit, Cost, EvaluatorAdversary, EvaluatorAttack, InferenceAttack, LazyScore, QualityModel, SpotCheck, Trust,
    paper, simulate,
};

fn mean_of(sc: &poq_sim::Scenario, node: &str) -> f64 {
    simulate(sc).unwrap().node(node).unwrap().mean_reward
}

#[test]
fn misreporting_cost_loses_money_at_the_recommended_audit_rate() {
    let mut honest = paper();
    honest.audit = Audit::RECOMMENDED; // 5 %, 10 % tolerance, 25 units
    let mut liar = honest.clone();
    liar.inference[4].adversary = Some(InferenceAttack::Misreport { factor: 0.3 });
    let (h, l) = (mean_of(&honest, "Phi-3-mini"), mean_of(&liar, "Phi-3-mini"));
    assert!(l < h, "misreporting paid: {l} vs honest {h}");
    let r = simulate(&liar).unwrap();
    assert!(r.node("Phi-3-mini").unwrap().slashes > 100);
    // Without audits the same lie pays: the defence is what makes the difference.
    honest.audit.rate = 0.0;
    liar.audit.rate = 0.0;
    assert!(mean_of(&liar, "Phi-3-mini") > mean_of(&honest, "Phi-3-mini") + 0.05);
    // Evaluators too.
    let mut ev = paper();
    ev.audit = Audit::RECOMMENDED;
    let base = mean_of(&ev, "cross-encoder-b");
    ev.evaluators[2].adversary = Some(EvaluatorAdversary::always(EvaluatorAttack::Misreport { factor: 0.2 }));
    assert!(mean_of(&ev, "cross-encoder-b") < base);
}

#[test]
fn colluders_saturate_adaptive_trust_but_not_spot_check_trust() {
    let mut sc = pool(6, 0.5);
    sc.rounds = 4000;
    for e in &mut sc.evaluators[4..] {
        e.adversary =
            Some(EvaluatorAdversary::always(EvaluatorAttack::Collusion { ring: "Phi-3-mini".into(), amount: 3.0 }));
    }
    sc.trust = Trust::Adaptive { lambda: 0.2, w_min: 0.1, w_max: 3.0 };
    let adaptive = simulate(&sc).unwrap();
    sc.trust = Trust::SpotCheck(SpotCheck::default());
    let spot = simulate(&sc).unwrap();
    let w = |r: &poq_sim::Report, i: usize| r.node(&format!("e{i}")).unwrap().trust_weight.unwrap();
    // poq-core's rule: honest and colluding evaluators all end at w_max.
    for i in 0..6 {
        assert_eq!(w(&adaptive, i), 3.0, "adaptive weight of e{i}");
    }
    // The spot-check rule: bounded below w_max, colluders far below honest evaluators.
    let w_max = SpotCheck::default().w_max;
    for i in 0..4 {
        assert!(w(&spot, i) < w_max && w(&spot, i) > 0.5, "honest e{i}: {}", w(&spot, i));
    }
    for i in 4..6 {
        assert!(w(&spot, i) < 0.2 * w(&spot, 0), "colluder e{i}: {} vs honest {}", w(&spot, i), w(&spot, 0));
    }
    // And so the consensus error is lower with spot-check weights than with adaptive trust.
    assert!(spot.consensus.mae < adaptive.consensus.mae, "{} vs {}", spot.consensus.mae, adaptive.consensus.mae);
}

#[test]
fn median_resists_a_minority_of_boosters_that_moves_the_mean() {
    let mut sc = pool(5, 0.5);
    sc.rounds = 3000;
    for e in &mut sc.evaluators[3..] {
        e.adversary = Some(EvaluatorAdversary::always(EvaluatorAttack::Boost { amount: 4.0, targets: vec![] }));
    }
    let mean = simulate(&sc).unwrap().consensus;
    sc.consensus = Consensus::Median;
    let median = simulate(&sc).unwrap().consensus;
    assert!(mean.bias > 1.0, "boosters move the mean by {}", mean.bias);
    assert!(median.bias.abs() < 0.4 * mean.bias, "median bias {} vs mean {}", median.bias, mean.bias);
    assert!(median.mae < mean.mae);
}

#[test]
fn sabotage_hits_only_its_targets() {
    let base = paper();
    let mut sc = base.clone();
    sc.evaluators[0].adversary =
        Some(EvaluatorAdversary::always(EvaluatorAttack::Sabotage { amount: 3.0, targets: vec!["Gemma-2-2B".into()] }));
    let (b, s) = (simulate(&base).unwrap(), simulate(&sc).unwrap());
    assert!(s.node("Gemma-2-2B").unwrap().mean_reward < b.node("Gemma-2-2B").unwrap().mean_reward - 0.03);
    // Sabotage draws no randomness, so untargeted nodes see exactly the same rounds.
    assert_eq!(s.node("Llama-3.2-3B").unwrap().mean_reward, b.node("Llama-3.2-3B").unwrap().mean_reward);
}

#[test]
fn collusion_ring_lifts_its_node_and_sinks_the_rest() {
    let base = pool(5, 0.5);
    let mut sc = base.clone();
    for e in &mut sc.evaluators[3..] {
        e.adversary =
            Some(EvaluatorAdversary::always(EvaluatorAttack::Collusion { ring: "Phi-3-mini".into(), amount: 3.0 }));
    }
    let (b, c) = (simulate(&base).unwrap(), simulate(&sc).unwrap());
    assert!(c.node("Phi-3-mini").unwrap().mean_reward > b.node("Phi-3-mini").unwrap().mean_reward + 0.05);
    assert!(c.node("Llama-3.2-3B").unwrap().mean_reward < b.node("Llama-3.2-3B").unwrap().mean_reward - 0.05);
}

#[test]
fn noise_and_intermittent_manipulation() {
    let base = pool(3, 0.5);
    let mut noisy = base.clone();
    noisy.evaluators[2].adversary = Some(EvaluatorAdversary::always(EvaluatorAttack::Noise { sd: 4.0 }));
    assert!(simulate(&noisy).unwrap().consensus.mae > simulate(&base).unwrap().consensus.mae + 0.3);
    // Boosting by 3 with probability p shifts the mean consensus by about p · 3 / K.
    let mut always = base.clone();
    always.evaluators[2].adversary =
        Some(EvaluatorAdversary::always(EvaluatorAttack::Boost { amount: 3.0, targets: vec![] }));
    let mut half = base.clone();
    half.evaluators[2].adversary =
        Some(EvaluatorAdversary { attack: EvaluatorAttack::Boost { amount: 3.0, targets: vec![] }, probability: 0.5 });
    let b0 = simulate(&base).unwrap().consensus.bias;
    let b1 = simulate(&always).unwrap().consensus.bias - b0;
    let bh = simulate(&half).unwrap().consensus.bias - b0;
    assert!((bh / b1 - 0.5).abs() < 0.08, "intermittent shift {bh} vs always {b1}");
}

#[test]
fn lazy_evaluators_are_caught_by_audits() {
    let mut sc = pool(3, 0.5);
    sc.audit = Audit::RECOMMENDED;
    sc.evaluators[2].adversary = Some(EvaluatorAdversary::always(EvaluatorAttack::Lazy {
        score: LazyScore::Constant(5.0),
        cost: Cost::Latency(0.1),
    }));
    let r = simulate(&sc).unwrap();
    let lazy = r.node("e2").unwrap();
    assert!(lazy.slashes > 0 && lazy.mean_reward < r.node("e1").unwrap().mean_reward);
    sc.audit.rate = 0.0;
    assert_eq!(simulate(&sc).unwrap().node("e2").unwrap().slashes, 0);
    sc.evaluators[2].adversary =
        Some(EvaluatorAdversary::always(EvaluatorAttack::Lazy { score: LazyScore::Random, cost: Cost::Latency(0.1) }));
    assert!(simulate(&sc).unwrap().consensus.mae > simulate(&pool(3, 0.5)).unwrap().consensus.mae);
}

#[test]
fn downgrade_and_copycat_pay_without_audits_and_lose_with_them() {
    let mut base = paper();
    base.audit.rate = 0.0;
    let mut down = base.clone();
    down.inference[0].adversary = Some(InferenceAttack::Downgrade {
        probability: 0.5,
        model: "Llama-3.2-1B".into(),
        quality: QualityModel::Normal { mean: 4.0, sd: 2.0 },
        cost: Cost::Latency(300.0),
    });
    // Serving a worse model lowers the paid quality, and audits add slashing on top.
    let b = mean_of(&base, "Llama-3.2-3B");
    assert!(mean_of(&down, "Llama-3.2-3B") < b);
    down.audit = Audit::RECOMMENDED;
    let r = simulate(&down).unwrap();
    assert!(r.node("Llama-3.2-3B").unwrap().slashes > 0);

    let mut copy = base.clone();
    copy.inference[4].adversary =
        Some(InferenceAttack::Copycat { victim: "Llama-3.2-3B".into(), probability: 1.0, cost: Cost::Latency(5.0) });
    let honest_phi = mean_of(&base, "Phi-3-mini");
    let copied = simulate(&copy).unwrap();
    // Replaying Llama's answers earns Llama's quality at Phi's reported cost.
    let gain = copied.node("Phi-3-mini").unwrap().mean_reward - honest_phi;
    assert!(gain > 0.05, "copycat gain {gain}");
    copy.audit = Audit::RECOMMENDED;
    assert!(mean_of(&copy, "Phi-3-mini") < honest_phi);
}
