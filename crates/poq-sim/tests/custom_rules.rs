//! A consensus rule and a reward rule defined here, outside poq-sim, simulated like the built-ins.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

use poq_sim::poq_core::{self, Aggregator, Linear, Mean, RewardRule, Score};
use poq_sim::{Engine, Reward, RunOptions, SimError, paper, simulate, simulate_with};

/// The highest score: any booster sets the consensus alone.
struct Max;
impl Aggregator for Max {
    fn name(&self) -> &str {
        "max"
    }
    fn aggregate(&self, scores: &[Score], _weights: Option<&[f64]>) -> poq_core::Result<Score> {
        scores
            .iter()
            .copied()
            .max_by(|a, b| a.value().total_cmp(&b.value()))
            .ok_or(poq_core::Error::Empty { what: "scores" })
    }
}

/// Pays a flat 1 for quality above one half, whatever the cost.
struct Flat;
impl RewardRule for Flat {
    fn name(&self) -> &str {
        "flat"
    }
    fn reward(&self, q: f64, _c: f64) -> f64 {
        if q > 0.5 { 1.0 } else { 0.0 }
    }
}

/// Fails on purpose, to check how a rule's error surfaces.
struct Broken;
impl Aggregator for Broken {
    fn name(&self) -> &str {
        "broken"
    }
    fn aggregate(&self, _: &[Score], _: Option<&[f64]>) -> poq_core::Result<Score> {
        Err(poq_core::Error::Empty { what: "patience" })
    }
}

#[test]
fn a_user_defined_aggregator_and_rule_run_and_change_the_outcome() {
    let mut sc = paper();
    sc.rounds = 3000;
    let mean = simulate(&sc).unwrap();
    let max = simulate_with(&sc, Max, sc.reward).unwrap();
    // The max of three scores sits above their mean: the consensus is biased upwards.
    assert!(max.consensus.bias > mean.consensus.bias + 0.5, "{} vs {}", max.consensus.bias, mean.consensus.bias);
    assert_eq!((max.params["consensus"].as_str(), max.params["reward"].as_str()), ("max", "linear"));

    let flat = Engine::with_rules(&sc, Mean, Flat).unwrap().run(RunOptions::default()).unwrap();
    assert_eq!(flat.params["reward"], "flat");
    assert_eq!(flat.params["alpha"], "");
    // Every payout is 0 or 1, so every mean reward is a frequency.
    assert!(flat.nodes.iter().all(|n| (0.0..=1.0).contains(&n.mean_reward)));
    let (llama, phi) = (flat.node("Llama-3.2-3B").unwrap().mean_reward, flat.node("Phi-3-mini").unwrap().mean_reward);
    assert!(llama > phi + 0.1, "{llama} vs {phi}");
}

#[test]
fn built_in_rules_given_as_types_match_the_scenario_enums_bit_for_bit() {
    // poq-core's `Mean` and `Linear` structs take the same fast paths as `Consensus::Mean` and
    // `Reward::Linear`: the same statistics, to the bit (the parameter columns differ: given rules
    // leave alpha and beta blank).
    let same = |a: &poq_sim::Report, b: &poq_sim::Report| {
        assert_eq!(serde_json::to_string(&a.nodes).unwrap(), serde_json::to_string(&b.nodes).unwrap());
        assert_eq!(a.consensus, b.consensus);
    };
    let mut sc = paper();
    sc.rounds = 5000;
    let from_file = simulate(&sc).unwrap();
    let Reward::Linear(rule) = sc.reward else { panic!("paper() is linear") };
    let typed = simulate_with(&sc, Mean, Linear::new(rule.alpha(), rule.beta()).unwrap()).unwrap();
    same(&from_file, &typed);
    // With cost audits (the general round) too.
    sc.audit = poq_sim::Audit::RECOMMENDED;
    let from_file = simulate(&sc).unwrap();
    let typed = simulate_with(&sc, Mean, rule).unwrap();
    same(&from_file, &typed);
}

#[test]
fn a_failing_rule_stops_the_run_naming_the_round() {
    let err = simulate_with(&paper(), Broken, Linear::default()).unwrap_err();
    assert!(matches!(err, SimError::Round { round: _, .. }), "{err:?}");
    assert!(err.to_string().contains("round") && err.to_string().contains("patience"), "{err}");
}

#[test]
fn poq_core_errors_convert_with_question_mark() {
    fn checked(v: f64) -> poq_sim::Result<Score> {
        Ok(Score::new(v)?)
    }
    let err = checked(11.0).unwrap_err();
    assert!(matches!(err, SimError::PoqCore(poq_core::Error::InvalidScore { .. })), "{err:?}");
    assert!(err.to_string().contains("11"), "{err}");
}
