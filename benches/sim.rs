//! Simulator throughput: rounds per second of the `bench` scenario (five inference nodes serve
//! every round, K = 3 of 3 evaluators, normal noise, mean consensus, linear rewards), the same
//! rounds as `scripts/bench/numpy_sim.py`, the same with cost audits (the general round, not the
//! honest one), and the 5,000-round `paper` scenario. Group `population`: rounds of the built-in
//! `network` population (stake-weighted serving and sampling, K = 3) at 10^6 inference nodes and
//! 10^5 evaluators, and at 10^4 and 10^3, without trust; and at 10^6 with trust in the rounds
//! (spot checks, weighted consensus, a weight update every 10^6 rounds). Expansion and the report
//! are outside the timing.
//!
//! `cargo bench --bench sim --no-default-features --features sim`

#![allow(clippy::expect_used)] // a bench whose scenario does not build should stop loudly

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use poq::sim::{Engine, PopulationRun, RunOptions, bench, network_population, paper};
use std::hint::black_box;

fn sim(c: &mut Criterion) {
    let mut g = c.benchmark_group("sim");
    g.sample_size(10);
    let rounds = 2_000_000;
    let engine = Engine::new(&bench(rounds)).expect("bench scenario is valid");
    g.throughput(Throughput::Elements(rounds));
    g.bench_function("bench_2M_rounds", |b| b.iter(|| black_box(engine.run(RunOptions::default()).expect("runs"))));
    // The same rounds with cost audits on: they take the general round (adversaries, defences).
    let mut audited = bench(rounds);
    audited.audit.rate = 0.05;
    let engine = Engine::new(&audited).expect("audited bench scenario is valid");
    g.bench_function("bench_2M_rounds_audited", |b| {
        b.iter(|| black_box(engine.run(RunOptions::default()).expect("runs")))
    });
    let engine = Engine::new(&paper()).expect("paper scenario is valid");
    g.throughput(Throughput::Elements(5000));
    g.bench_function("paper_5000_rounds", |b| b.iter(|| black_box(engine.run(RunOptions::default()).expect("runs"))));
    g.finish();
}

fn population(c: &mut Criterion) {
    let mut g = c.benchmark_group("population");
    g.sample_size(10);
    let rounds = 4_000_000;
    for (nf, ne, trust, label) in [
        (1_000_000, 100_000, false, "1e6_nodes"),
        (10_000, 1_000, false, "1e4_nodes"),
        (1_000_000, 100_000, true, "1e6_nodes_trust"),
    ] {
        let mut p = network_population(nf, ne);
        p.rounds = rounds;
        p.churn = None; // one epoch: no alias rebuild inside the timing
        if !trust {
            p.trust = None;
        }
        let run = PopulationRun::new(&p).expect("network population is valid");
        g.throughput(Throughput::Elements(rounds));
        g.bench_function(format!("network_{label}_k3_stake_4M_rounds"), |b| {
            b.iter(|| black_box(run.play().expect("runs").answers()))
        });
    }
    g.finish();
}

criterion_group!(benches, sim, population);
criterion_main!(benches);
