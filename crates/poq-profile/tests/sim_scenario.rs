//! The profiler's JSON feeds a poq-sim scenario: costs read from the file become the scenario's
//! node costs, and the simulator normalizes them exactly as the report does.

// Helpers outside #[test] functions may unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use common::{FixedCostEvaluator, FixedGenerator, StepClock, items, prompts};
use poq_profile::{ProfileConfig, ProfileReport, Profiler, SubjectKind, Target};
use poq_sim::{Cost, Engine, RunOptions, evaluator_node, inference_node, paper};
use std::sync::Arc;

#[test]
fn profiles_from_json_become_scenario_costs() {
    let clock = Arc::new(StepClock::default());
    let p = Profiler::new(ProfileConfig { warmup: 1, repetitions: 2, ..Default::default() })
        .unwrap()
        .with_clock(clock.clone());
    let t = Target::new("cpu", "f32");
    let mut records = Vec::new();
    // Evaluators at batch size 1: 3, 5 and 11 ms per item.
    for (name, per_item) in [("f1", 2), ("sts", 4), ("judge", 10)] {
        let e = FixedCostEvaluator::new(name, clock.clone(), 1, per_item);
        records.push(p.profile_evaluator(&e, &t, &items(), &[1, 2]).unwrap());
    }
    // Generators: 15 ms and a mean of 30 ms per request.
    for cycle in [1, 3] {
        let mut g = FixedGenerator::new(clock.clone(), cycle);
        let mut r = p.profile_generator(&mut g, &t, &prompts(1)).unwrap();
        r.name = format!("gen{cycle}");
        records.push(r);
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    let path = file.path();
    ProfileReport::new(records).write_json(path).unwrap();
    let report = ProfileReport::read_json(path).unwrap();

    // The paper's scenario with these nodes: identical scoring and quality, only costs differ.
    let mut sc = paper();
    sc.rounds = 600;
    sc.evaluators = report
        .costs(SubjectKind::Evaluator)
        .into_iter()
        .map(|(name, cost)| {
            let mut n = evaluator_node(name, 0.9, 0.0, 1.0, 0.0);
            n.cost = Cost::Profile(cost.clone());
            n
        })
        .collect();
    sc.inference = report
        .costs(SubjectKind::Generator)
        .into_iter()
        .map(|(name, cost)| {
            let mut n = inference_node(name, 7.0, 1.0, 0.0);
            n.cost = Cost::Profile(cost.clone());
            n
        })
        .collect();
    let engine = Engine::new(&sc).unwrap();

    let want = |kind| -> Vec<f64> {
        report.normalized_costs(kind, sc.cost_weights, sc.normalization).unwrap().into_iter().map(|x| x.1).collect()
    };
    assert_eq!(engine.evaluator_costs(), want(SubjectKind::Evaluator));
    assert_eq!(engine.evaluator_costs(), vec![0.0, 0.25, 1.0]);
    assert_eq!(engine.inference_costs(), want(SubjectKind::Generator));
    assert_eq!(engine.inference_costs(), vec![0.0, 1.0]);

    // Same scoring, different cost: the cheapest evaluator earns more than the costliest.
    let out = engine.run(RunOptions::default()).unwrap();
    let reward = |n: &str| out.node(n).unwrap().mean_reward;
    assert!(reward("f1") > reward("judge") + 0.25, "{} vs {}", reward("f1"), reward("judge"));
    assert!(reward("gen1") > reward("gen3"));
}
