//! The profiler's JSON feeds the cost side of a scenario: profiles → file → poq-core's
//! normalization gives the costs a reward rule subtracts.
// Helpers outside #[test] functions may unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use common::{FixedCostEvaluator, FixedGenerator, StepClock, items, prompts};
use poq_core::{CostWeights, Linear, Normalization, RewardRule, combine_costs, normalize_costs};
use poq_profile::{ProfileConfig, ProfileReport, Profiler, SubjectKind, Target};
use std::sync::Arc;

#[test]
fn json_costs_normalize_within_each_pool() {
    let clock = Arc::new(StepClock::default());
    let p = Profiler::new(ProfileConfig { warmup: 1, repetitions: 2, ..Default::default() })
        .unwrap()
        .with_clock(clock.clone());
    let t = Target::new("cpu", "f32");
    // Evaluators at batch size 1: 3, 5 and 11 ms per item.
    let f1 = FixedCostEvaluator::new("f1", clock.clone(), 1, 2);
    let sts = FixedCostEvaluator::new("sts", clock.clone(), 1, 4);
    let judge = FixedCostEvaluator::new("judge", clock.clone(), 1, 10);
    let mut records = Vec::new();
    for e in [&f1, &sts, &judge] {
        records.push(p.profile_evaluator(e, &t, &items(), &[1, 4]).unwrap());
    }
    // Two generators: decode cycles of 1 (always 10 ms) and 3 (10, 20, 30 ms over the 3 calls).
    for cycle in [1, 3] {
        let mut g = FixedGenerator::new(clock.clone(), cycle);
        let mut r = p.profile_generator(&mut g, &t, &prompts(1)).unwrap();
        r.name = format!("gen-cycle{cycle}");
        records.push(r);
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    let path = file.path();
    ProfileReport::new(records).write_json(path).unwrap();

    // The scenario side reads the file back.
    let report = ProfileReport::read_json(path).unwrap();
    let evals = report.normalized_costs(SubjectKind::Evaluator, CostWeights::default(), Normalization::MinMax).unwrap();
    let names: Vec<&str> = evals.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["f1", "sts", "judge"]);
    // Min-max of 3, 5, 11 ms.
    let costs: Vec<f64> = evals.iter().map(|e| e.1).collect();
    assert_eq!(costs, vec![0.0, 0.25, 1.0]);
    // The same numbers as poq-core on the raw latencies.
    assert_eq!(costs, normalize_costs(&[3.0, 5.0, 11.0], Normalization::MinMax).unwrap());

    // Generators: latency 5 + 10 = 15 ms (cycle 1); 5 + {20, 30} → 30 ms mean (cycle 3: the warm-up took the 10).
    let gens = report.costs(SubjectKind::Generator);
    assert_eq!(gens.iter().map(|g| g.1.latency_mean_ms).collect::<Vec<_>>(), vec![15.0, 30.0]);
    let g =
        report.normalized_costs(SubjectKind::Generator, CostWeights::default(), Normalization::DivideByMax).unwrap();
    assert_eq!(g.iter().map(|x| x.1).collect::<Vec<_>>(), vec![0.5, 1.0]);

    // Costs feed the reward: the paper's rule with α = 1, β = 0.5 for an 8/10 answer.
    let rule = Linear::default();
    assert_eq!(rule.reward(0.8, costs[1]), 0.8 - 0.5 * 0.25);

    // With memory in the weights the combination is poq-core's.
    let w = CostWeights { latency: 1.0, memory: 1.0, energy: 0.0 };
    let pool: Vec<_> = report.costs(SubjectKind::Evaluator).into_iter().map(|(_, c)| c.clone()).collect();
    let combined = report.normalized_costs(SubjectKind::Evaluator, w, Normalization::MinMax).unwrap();
    assert_eq!(
        combined.iter().map(|x| x.1).collect::<Vec<_>>(),
        combine_costs(&pool, w, Normalization::MinMax).unwrap()
    );
}
