//! Trust defences against colluding evaluators: relative spot-check trust, sampling by trust,
//! warm-up and convergence curves. Each claim is checked against a baseline so it can fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

mod common;

use common::pool;
use poq_sim::sweep::inject;
use poq_sim::{Engine, RelativeSpotCheck, RunOptions, Scenario, Selection, SpotCheck, Trust, simulate};

/// The adversarial example's network: 10 evaluators scoring `t + N(0, 1)`, K = 5.
fn network() -> Scenario {
    let mut sc = pool(10, 1.0);
    sc.k = 5;
    sc.rounds = 3000;
    sc.warmup = 1000;
    sc
}

fn defended(trust: Trust, sampling: Selection) -> Scenario {
    let mut sc = network();
    sc.trust = trust;
    sc.sampling = sampling;
    sc
}

const RELATIVE: Trust = Trust::RelativeSpotCheck(RelativeSpotCheck {
    rate: 0.1,
    half_life: 20.0,
    prior_error: 0.15,
    margin: 1.5,
    tau: 0.01,
    w_min: 0.001,
});

#[test]
fn relative_trust_with_trust_sampling_restores_the_honest_error_under_30_percent_colluders() {
    let honest = simulate(&network()).unwrap().consensus.mae;
    for attack in ["collusion", "boost", "sabotage"] {
        let mut undefended = network();
        inject(&mut undefended, attack, 0.3).unwrap();
        let bad = simulate(&undefended).unwrap().consensus.mae;
        let mut sc = defended(RELATIVE, Selection::Trust);
        inject(&mut sc, attack, 0.3).unwrap();
        let r = simulate(&sc).unwrap();
        assert!(bad > 1.5 * honest, "{attack}: the attack must hurt first ({bad} vs {honest})");
        assert!(r.consensus.mae < 1.1 * honest, "{attack}: {} vs honest {honest}", r.consensus.mae);
        // The three adversaries (the last evaluators) end at w_min, the seven honest at full weight.
        for (i, n) in r.nodes.iter().filter(|n| n.kind == poq_sim::NodeKind::Evaluator).enumerate() {
            let w = n.trust_weight.unwrap();
            if i < 7 {
                assert_eq!(w, 1.0, "{attack}: honest {} down-weighted", n.node);
            } else {
                assert!(w < 0.01, "{attack}: adversary {} kept weight {w}", n.node);
            }
        }
        // Weighting alone (uniform sampling) leaves fewer honest scores per answer: not enough.
        let mut weighted_only = defended(RELATIVE, Selection::Uniform);
        inject(&mut weighted_only, attack, 0.3).unwrap();
        let w = simulate(&weighted_only).unwrap().consensus.mae;
        assert!(w > 1.1 * honest && w < 0.6 * bad, "{attack}: weighting only gives {w}");
    }
}

#[test]
fn relative_trust_does_not_punish_honest_evaluators() {
    // No attacker, and honest evaluators of mixed noise (sd 0.8 to 1.25): every weight stays 1 and
    // the consensus error is the undefended one within noise.
    let mut sc = defended(RELATIVE, Selection::Trust);
    for (i, e) in sc.evaluators.iter_mut().enumerate() {
        e.scoring = poq_sim::ScoreModel::Noisy { bias: 0.0, sd: 0.8 + 0.05 * i as f64 };
    }
    let r = simulate(&sc).unwrap();
    let mut plain = sc.clone();
    plain.trust = Trust::None;
    plain.sampling = Selection::Uniform;
    let base = simulate(&plain).unwrap();
    for n in r.nodes.iter().filter(|n| n.kind == poq_sim::NodeKind::Evaluator) {
        assert_eq!(n.trust_weight, Some(1.0), "{}", n.node);
    }
    assert!((r.consensus.mae / base.consensus.mae - 1.0).abs() < 0.05, "{} vs {}", r.consensus.mae, base.consensus.mae);
    // Each honest evaluator is still drawn about K/M = half the time and paid like the others.
    for n in r.nodes.iter().filter(|n| n.kind == poq_sim::NodeKind::Evaluator) {
        let share = n.answers as f64 / (5.0 * sc.rounds as f64);
        assert!((share - 0.5).abs() < 0.05, "{} drawn {share}", n.node);
    }
}

#[test]
fn the_absolute_spot_check_rule_spreads_honest_weights_the_relative_one_does_not() {
    let mut abs = defended(Trust::SpotCheck(SpotCheck::default()), Selection::Uniform);
    inject(&mut abs, "collusion", 0.3).unwrap();
    let r = simulate(&abs).unwrap();
    let honest: Vec<f64> = r.nodes[5..12].iter().map(|n| n.trust_weight.unwrap()).collect();
    let (lo, hi) = honest.iter().fold((f64::MAX, 0.0f64), |(l, h), &w| (l.min(w), h.max(w)));
    assert!(hi / lo > 1.02, "absolute rule: honest weights {honest:?}");
}

#[test]
fn warmup_rounds_leave_the_error_statistics_but_not_the_payouts() {
    let mut sc = defended(RELATIVE, Selection::Trust);
    inject(&mut sc, "collusion", 0.3).unwrap();
    let e = Engine::new(&sc).unwrap();
    let with = e.run(RunOptions::default()).unwrap();
    let mut cold = sc.clone();
    cold.warmup = 0;
    let without = simulate(&cold).unwrap();
    assert_eq!(with.consensus.answers, 5 * (sc.rounds - sc.warmup));
    assert_eq!(without.consensus.answers, 5 * sc.rounds);
    assert!(with.consensus.mae < without.consensus.mae, "the warm-up holds the large errors");
    assert_eq!(with.nodes[0].answers, without.nodes[0].answers);
    assert_eq!(with.nodes[0].mean_reward.to_bits(), without.nodes[0].mean_reward.to_bits());
    // The curve is the same rounds: its windows after the warm-up add up to the report.
    let curve = e.consensus_curve(100).unwrap();
    assert_eq!(curve.len(), 30);
    assert_eq!(curve[9].0, 1000);
    let (abs, n) = curve[10..].iter().fold((0.0, 0), |(a, n), (_, c)| (a + c.mae * c.answers as f64, n + c.answers));
    assert_eq!(n, with.consensus.answers);
    assert!((abs / n as f64 - with.consensus.mae).abs() < 1e-12);
    // Early windows (prior weights) are worse than late ones.
    assert!(curve[0].1.mae > 1.5 * curve[29].1.mae, "{} vs {}", curve[0].1.mae, curve[29].1.mae);
}

#[test]
fn bad_defence_settings_name_their_field() {
    let mut sc = network();
    sc.sampling = Selection::Trust;
    assert!(simulate(&sc).unwrap_err().to_string().contains("`sampling`"));
    let mut sc = network();
    sc.warmup = sc.rounds;
    assert!(simulate(&sc).unwrap_err().to_string().contains("`warmup`"));
    for (field, p) in [
        ("trust.margin", RelativeSpotCheck { margin: 0.5, ..Default::default() }),
        ("trust.tau", RelativeSpotCheck { tau: f64::NAN, ..Default::default() }),
        ("trust.w_min", RelativeSpotCheck { w_min: 0.0, ..Default::default() }),
        ("trust.rate", RelativeSpotCheck { rate: -0.1, ..Default::default() }),
        ("trust.prior_error", RelativeSpotCheck { prior_error: 2.0, ..Default::default() }),
    ] {
        let mut sc = network();
        sc.trust = Trust::RelativeSpotCheck(p);
        let e = simulate(&sc).unwrap_err().to_string();
        assert!(e.contains(field), "{field}: {e}");
    }
    assert!(Engine::new(&network()).unwrap().consensus_curve(0).is_err());
}

#[test]
fn trust_sampled_runs_are_identical_across_thread_pools() {
    let mut sc = defended(RELATIVE, Selection::Trust);
    inject(&mut sc, "boost", 0.3).unwrap();
    let run = |threads| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| serde_json::to_string(&simulate(&sc).unwrap()).unwrap())
    };
    assert_eq!(run(1), run(2));
}
