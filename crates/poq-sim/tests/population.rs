//! Populations: stake-weighted sampling frequencies (chi-square), churn counts, seed-stable
//! expansion, thread-count determinism at 10^5 nodes, and field-naming errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

use poq_sim::{
    AdversaryShare, Churn, Cost, EvaluatorClass, InferenceClass, Population, PopulationAttack, PopulationRun,
    PopulationTrust, Selection, StakeDist, gini, lorenz, network_population, simulate_population, top_share,
};

fn inference(name: &str, count: usize, quality: f64, ms: f64, stake: StakeDist) -> InferenceClass {
    InferenceClass {
        name: name.into(),
        count,
        quality,
        quality_sd: 1.5,
        quality_spread: 0.0,
        cost: Cost::Latency(ms),
        cost_spread: 0.0,
        stake,
    }
}

fn evaluators(name: &str, count: usize, stake: StakeDist, adversary: Option<AdversaryShare>) -> EvaluatorClass {
    EvaluatorClass {
        name: name.into(),
        count,
        sd: 1.0,
        bias: 0.0,
        cost: Cost::Latency(20.0),
        cost_spread: 0.0,
        stake,
        adversary,
    }
}

fn small(nf: usize, ne: usize, k: usize, rounds: u64) -> Population {
    let lognormal = StakeDist::LogNormal { mu: 0.0, sigma: 0.8 };
    Population {
        name: "test".into(),
        inference: vec![
            inference("good", nf / 2, 7.0, 900.0, lognormal),
            inference("cheap", nf - nf / 2, 4.0, 300.0, lognormal),
        ],
        evaluators: vec![evaluators("ev", ne, lognormal, None)],
        k,
        serving: Selection::Stake,
        sampling: Selection::Stake,
        reward: Default::default(),
        rounds,
        seed: 7,
        churn: None,
        ci_width: 0.05,
        detection: Default::default(),
        trust: None,
    }
}

/// Pearson's chi-square of `counts` against expected probabilities `p`.
fn chi_square(counts: &[u32], p: &[f64], draws: f64) -> f64 {
    counts.iter().zip(p).map(|(&c, &p)| (f64::from(c) - draws * p).powi(2) / (draws * p)).sum()
}

#[test]
fn draws_follow_stakes_chi_square() {
    // K = 1: each pool's draws are proportional to stake. 24 nodes each: 23 degrees of freedom,
    // 99.9 % critical value 49.7.
    let pop = small(24, 24, 1, 400_000);
    let run = PopulationRun::new(&pop).unwrap();
    let r = run.run().unwrap();
    let (fs, es) = run.stakes();
    let (fc, ec) = r.payouts();
    for (stakes, counts) in [(fs, &fc), (es, &ec)] {
        let total: f64 = stakes.iter().sum();
        let p: Vec<f64> = stakes.iter().map(|s| s / total).collect();
        let x2 = chi_square(counts, &p, 400_000.0);
        assert!(x2 < 49.7, "chi-square {x2} with 23 df: {counts:?}");
    }
    // The same counts against uniform probabilities must fail: the test can tell.
    let uniform = vec![1.0 / 24.0; 24];
    assert!(chi_square(&ec, &uniform, 400_000.0) > 200.0);
}

#[test]
fn k_distinct_draws_follow_successive_stake_draws_chi_square() {
    // K = 3 of 7 without replacement: inclusion probabilities of successive draws in proportion to
    // the stake not yet drawn, by enumerating every ordered triple.
    let pop = small(4, 7, 3, 300_000);
    let run = PopulationRun::new(&pop).unwrap();
    let r = run.run().unwrap();
    let (_, w) = run.stakes();
    let total: f64 = w.iter().sum();
    let mut incl = [0.0; 7];
    for a in 0..7 {
        for b in (0..7).filter(|&b| b != a) {
            for c in (0..7).filter(|&c| c != a && c != b) {
                let p = w[a] / total * w[b] / (total - w[a]) * w[c] / (total - w[a] - w[b]);
                for i in [a, b, c] {
                    incl[i] += p;
                }
            }
        }
    }
    let (_, counts) = r.payouts();
    // Inclusion counts: 3 per round; divide by K for probabilities summing to 1 (6 df; 99.9 %: 22.5).
    let p: Vec<f64> = incl.iter().map(|x| x / 3.0).collect();
    let x2 = chi_square(&counts, &p, 900_000.0);
    assert!(x2 < 22.5 * 3.0, "chi-square {x2}: {counts:?} vs {incl:?}"); // draws within a round are dependent: allow K×
    // Draws with replacement (K × share) would be told apart by the same statistic.
    let with_replacement: Vec<f64> = w.iter().map(|x| x / total).collect();
    let x2_wrong = chi_square(&counts, &with_replacement, 900_000.0);
    assert!(x2_wrong > 10.0 * 22.5 * 3.0, "{x2_wrong}");
}

#[test]
fn churn_keeps_counts_as_specified() {
    let mut pop = small(2000, 1000, 3, 20_000);
    let (join, leave) = (0.05, 0.1);
    pop.churn = Some(Churn { epoch_rounds: 1000, join, leave });
    let run = PopulationRun::new(&pop).unwrap();
    // Exactly round(join × count) nodes per class join at each of the 19 later epochs.
    let per_epoch = 2 * (0.05f64 * 1000.0).round() as usize;
    assert_eq!(run.sizes(), (2000 + 19 * per_epoch, 1000 + 19 * 50));
    // Each node leaves at each epoch end with probability `leave`: active counts follow
    // N(1 − l)^e + J Σ (1 − l)^i, within 4 binomial standard deviations.
    for (e, &(f, v)) in run.active_per_epoch().iter().enumerate() {
        for (active, n0, j) in [(f, 2000.0, per_epoch as f64), (v, 1000.0, 50.0)] {
            let mut mean = n0 * (1.0 - leave).powi(e as i32);
            let mut var = n0 * (1.0 - leave).powi(e as i32) * (1.0 - (1.0 - leave).powi(e as i32));
            for i in 0..e {
                let s = (1.0 - leave).powi(i as i32);
                mean += j * s;
                var += j * s * (1.0 - s);
            }
            assert!((active as f64 - mean).abs() < 4.0 * var.sqrt() + 1.0, "epoch {e}: {active} vs {mean}");
        }
    }
    // Nodes are paid only while active: a node that joined in the last epoch has at most its
    // share of one epoch's payouts, and the run still pays one inference node per round.
    let r = run.run().unwrap();
    let (fc, _) = r.payouts();
    assert_eq!(fc.iter().map(|&n| u64::from(n)).sum::<u64>(), 20_000);
    let last_joiners = &fc[fc.len() - per_epoch..];
    let early = &fc[..2000];
    let mean = |v: &[u32]| v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64;
    assert!(mean(last_joiners) < 0.5 * mean(early), "{} vs {}", mean(last_joiners), mean(early));
    assert!(r.report.classes.iter().all(|c| c.active_at_end <= c.nodes));
}

#[test]
fn expansion_is_seed_stable_and_per_node() {
    let a = PopulationRun::new(&small(100, 50, 3, 10)).unwrap();
    let b = PopulationRun::new(&small(100, 50, 3, 10)).unwrap();
    assert_eq!(a.stakes(), b.stakes());
    // A node's parameters depend on (seed, id) only: growing the last class keeps earlier nodes.
    let mut bigger = small(100, 50, 3, 10);
    bigger.evaluators[0].count = 80;
    let c = PopulationRun::new(&bigger).unwrap();
    assert_eq!(&c.stakes().1[..50], a.stakes().1);
    let mut other = small(100, 50, 3, 10);
    other.seed += 1;
    assert_ne!(PopulationRun::new(&other).unwrap().stakes(), a.stakes());
}

#[test]
fn results_are_identical_at_any_thread_count_at_1e5_nodes() {
    let mut pop = small(100_000, 10_000, 3, 300_000);
    pop.churn = Some(Churn { epoch_rounds: 100_000, join: 0.02, leave: 0.02 });
    pop.trust = Some(PopulationTrust { epoch_rounds: 40_000, w_min: 0.001 }); // segments not aligned with epochs
    pop.evaluators[0].adversary =
        Some(AdversaryShare { share: 0.1, attack: PopulationAttack::Collusion { ring: "cheap".into(), amount: 3.0 } });
    let run = PopulationRun::new(&pop).unwrap();
    let go = |threads| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let r = run.run().unwrap();
            let mut csv = Vec::new();
            r.write_nodes_csv(&run, &mut csv).unwrap();
            (serde_json::to_string(&r.report).unwrap(), csv)
        })
    };
    let one = go(1);
    assert_eq!(one, go(2));
    assert_eq!(one, go(3));
    pop.seed += 1;
    let other = PopulationRun::new(&pop).unwrap().run().unwrap();
    assert_ne!(serde_json::to_string(&other.report).unwrap(), one.0);
}

#[test]
fn rewards_rank_classes_and_detection_spares_the_honest() {
    let mut pop = small(2000, 400, 3, 200_000);
    pop.reward = poq_sim::Reward::Linear(poq_sim::poq_core::Linear::new(1.0, 0.0).unwrap()); // quality only
    pop.evaluators.push(evaluators(
        "ring",
        100,
        StakeDist::Constant { value: 1.0 },
        Some(AdversaryShare { share: 1.0, attack: PopulationAttack::Collusion { ring: "cheap".into(), amount: 3.0 } }),
    ));
    pop.evaluators.push(evaluators(
        "harmless",
        100,
        StakeDist::Constant { value: 1.0 },
        Some(AdversaryShare { share: 1.0, attack: PopulationAttack::Boost { amount: 0.0 } }),
    ));
    let r = simulate_population(&pop).unwrap().report;
    let class = |n: &str| r.classes.iter().find(|c| c.class == n).unwrap();
    assert!(class("good").mean_reward.mean > class("cheap").mean_reward.mean);
    let det = |n: &str| r.detection.iter().find(|d| d.class == n).unwrap();
    assert_eq!(det("ring").adversaries, 100);
    assert_eq!(det("ring").never, 0.0);
    assert!(det("ring").spot_checks.quantiles[4] < 30.0, "{:?}", det("ring").spot_checks);
    // A "boost" of 0 is honest behaviour: never down-weighted.
    assert_eq!(det("harmless").never, 1.0);
    assert!(r.consensus.mae > 0.0 && r.consensus.answers == 200_000);
}

#[test]
fn inequality_measures() {
    assert_eq!(gini(&[1.0, 1.0, 1.0, 1.0]), 0.0);
    assert!((gini(&[0.0, 0.0, 0.0, 1.0]) - 0.75).abs() < 1e-12);
    assert_eq!(top_share(&[1.0; 200], 0.01), 0.01);
    assert_eq!(top_share(&[0.0, 0.0, 5.0], 0.01), 1.0);
    let l = lorenz(&[1.0, 3.0], 2);
    assert_eq!(l, vec![(0.0, 0.0), (0.5, 0.25), (1.0, 1.0)]);
}

#[test]
fn bad_fields_are_named_not_panicked_on() {
    type Edit = Box<dyn Fn(&mut Population)>;
    let cases: Vec<(&str, Edit)> = vec![
        ("churn.leave", Box::new(|p| p.churn = Some(Churn { epoch_rounds: 10, join: 0.1, leave: -0.1 }))),
        ("churn.join", Box::new(|p| p.churn = Some(Churn { epoch_rounds: 10, join: f64::NAN, leave: 0.1 }))),
        ("inference[0].quality", Box::new(|p| p.inference[0].quality = f64::NAN)),
        ("inference[1].stake.value", Box::new(|p| p.inference[1].stake = StakeDist::Constant { value: 0.0 })),
        (
            "evaluators[0].stake.shape",
            Box::new(|p| p.evaluators[0].stake = StakeDist::Pareto { scale: 1.0, shape: -2.0 }),
        ),
        (
            "evaluators[0].adversary.share",
            Box::new(|p| {
                p.evaluators[0].adversary =
                    Some(AdversaryShare { share: 1.5, attack: PopulationAttack::Boost { amount: 1.0 } })
            }),
        ),
        (
            "evaluators[0].adversary.ring",
            Box::new(|p| {
                p.evaluators[0].adversary = Some(AdversaryShare {
                    share: 0.5,
                    attack: PopulationAttack::Collusion { ring: "nobody".into(), amount: 1.0 },
                })
            }),
        ),
        ("inference[0].cost", Box::new(|p| p.inference[0].cost = Cost::Latency(-5.0))),
        ("`k`", Box::new(|p| p.k = 0)),
        ("ci_width", Box::new(|p| p.ci_width = 0.0)),
        ("sampling", Box::new(|p| p.sampling = Selection::Trust)),
    ];
    for (field, edit) in cases {
        let mut p = small(10, 10, 3, 100);
        edit(&mut p);
        let e = PopulationRun::new(&p).unwrap_err().to_string();
        assert!(e.contains(field), "{field}: {e}");
    }
    // Stake draws of zero everywhere leave nobody to draw: an error, not a hang.
    let mut p = small(10, 10, 3, 100);
    p.evaluators[0].count = 2;
    assert!(PopulationRun::new(&p).unwrap_err().to_string().contains("`k`"));
}

#[test]
fn the_builtin_network_expands_to_the_requested_sizes() {
    let p = network_population(10_000, 1_000);
    let run = PopulationRun::new(&p).unwrap();
    let (nf, ne) = run.active_per_epoch()[0];
    assert_eq!((nf, ne), (10_000, 1_000));
    assert_eq!(p.inference.len(), 6);
    assert_eq!(p.evaluators.len(), 3);
    let bad = run.adversaries().iter().filter(|&&b| b).count();
    assert!((bad as f64 - 70.0).abs() < 25.0, "{bad}"); // 10 % of 600 + 5 % of 200
}

#[test]
fn population_sweeps_shard_and_merge_to_the_whole() {
    use poq_sim::output::merge_csv;
    use poq_sim::sweep::{Shard, Sweep, run_population_sweep, write_population_csv};
    let base = small(400, 60, 3, 5_000);
    let sweep = Sweep::parse(&["k=1,3", "leave=0,0.2", "epoch_rounds=1000"]).unwrap();
    assert_eq!(sweep.population(&base, 3).unwrap().k, 3);
    assert_eq!(sweep.population(&base, 3).unwrap().churn.unwrap().leave, 0.2);
    let tmp = tempfile::tempdir().unwrap();
    let write = |name: &str, shard: Option<Shard>| {
        let reports = run_population_sweep(&base, &sweep, shard).unwrap();
        let rows: Vec<_> = reports.iter().map(|(p, r)| (*p, r)).collect();
        let path = tmp.path().join(name);
        write_population_csv(std::fs::File::create(&path).unwrap(), &sweep, &rows).unwrap();
        (path, reports)
    };
    let (whole, reports) = write("whole.csv", None);
    // Churn does something: more inference nodes over the run at leave = 0.2 than at 0.
    assert!(
        reports[1].1.nodes.0 == reports[0].1.nodes.0
            && reports[0].1.classes[0].active_at_end > reports[1].1.classes[0].active_at_end
    );
    let shards: Vec<_> = (0..3).map(|i| write(&format!("s{i}.csv"), Some(Shard { index: i, count: 3 })).0).collect();
    let merged = tmp.path().join("merged.csv");
    assert_eq!(merge_csv(&shards, &merged).unwrap(), 4 * 3);
    assert_eq!(std::fs::read_to_string(merged).unwrap(), std::fs::read_to_string(whole).unwrap());
    // Scenario-only keys are refused for populations, with the key named.
    let bad = Sweep::parse(&["audit_rate=0.1"]).unwrap();
    assert!(bad.population(&base, 0).unwrap_err().to_string().contains("audit_rate"));
    let bad = Sweep::parse(&["leave=2"]).unwrap();
    assert!(bad.population(&base, 0).unwrap_err().to_string().contains("churn.leave"));
}

#[test]
fn trust_in_the_rounds_down_weights_colluders_and_spares_the_honest() {
    let mut pop = small(2_000, 300, 3, 600_000);
    pop.sampling = Selection::Uniform;
    pop.evaluators[0].stake = StakeDist::Constant { value: 1.0 };
    pop.evaluators[0].adversary =
        Some(AdversaryShare { share: 0.2, attack: PopulationAttack::Collusion { ring: "cheap".into(), amount: 3.0 } });
    let plain = simulate_population(&pop).unwrap().report;
    pop.trust = Some(PopulationTrust { epoch_rounds: 20_000, w_min: 0.001 });
    let run = PopulationRun::new(&pop).unwrap();
    let r = run.run().unwrap().report;
    let d = &r.detection[0];
    assert!(d.measured);
    // Each evaluator is checked about 600,000 × 3/300 × 0.1 = 600 times: every colluder is caught,
    // within a few dozen checks, and no honest evaluator is.
    assert_eq!(d.never, 0.0, "{d:?}");
    assert!(d.spot_checks.quantiles[4] < 40.0, "{d:?}");
    assert_eq!(r.honest_down_weighted, Some(0.0));
    // Down-weighted colluders are drawn less and weigh less: the consensus error falls.
    assert!(r.consensus.mae < 0.8 * plain.consensus.mae, "{} vs {}", r.consensus.mae, plain.consensus.mae);
    let (_, payouts) = run.run().unwrap().payouts();
    let bad = run.adversaries();
    let mean = |want: bool| {
        let v: Vec<f64> = (0..bad.len()).filter(|&i| bad[i] == want).map(|i| f64::from(payouts[i])).collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    assert!(mean(true) < 0.5 * mean(false), "colluders drawn {} vs honest {}", mean(true), mean(false));
    // Bad settings are named.
    pop.trust = Some(PopulationTrust { epoch_rounds: 0, w_min: 0.001 });
    assert!(PopulationRun::new(&pop).unwrap_err().to_string().contains("trust.epoch_rounds"));
    pop.trust = Some(PopulationTrust { epoch_rounds: 10, w_min: 0.0 });
    assert!(PopulationRun::new(&pop).unwrap_err().to_string().contains("trust.w_min"));
}
