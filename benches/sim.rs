//! Simulator throughput: rounds per second of the `bench` scenario (five inference nodes serve
//! every round, K = 3 of 3 evaluators, normal noise, mean consensus, linear rewards), the same
//! rounds as `scripts/bench/numpy_sim.py`, the same with cost audits (the general round, not the
//! honest one), and the 5,000-round `paper` scenario.
//!
//! `cargo bench --bench sim --no-default-features --features sim`

#![allow(clippy::expect_used)] // a bench whose scenario does not build should stop loudly

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use poq::sim::{Engine, RunOptions, bench, paper};
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

criterion_group!(benches, sim);
criterion_main!(benches);
