//! Consensus per second by K (evaluators per round): the stateless rules (mean, median, 20%
//! trimmed mean, Yuma with κ = 0.5) and one adaptive-trust round (consensus + weight update).
//!
//! Each iteration aggregates 256 different rounds of K scores, so the reported elements/s are
//! consensuses per second.
//!
//! `cargo bench --bench aggregate --no-default-features -- --warm-up-time 1 --measurement-time 2`

// Constants known valid: a bench that is wrong should stop loudly.
#![allow(clippy::expect_used)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use poq::core::{AdaptiveTrust, Aggregator, Mean, Median, Score, TrimmedMean, YumaConsensus};
use std::hint::black_box;

const ROUNDS: usize = 256;
const KS: [usize; 5] = [1, 3, 5, 7, 15];

/// `ROUNDS` rounds of `k` scores in [0, 10], from a fixed linear congruential sequence so every
/// run measures the same inputs.
fn rounds(k: usize) -> Vec<Vec<Score>> {
    let mut state: u64 = 42;
    let mut next = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64 * 10.0
    };
    (0..ROUNDS).map(|_| (0..k).map(|_| Score::clamped(next()).expect("finite")).collect()).collect()
}

fn aggregate(c: &mut Criterion) {
    let mut g = c.benchmark_group("aggregate");
    g.throughput(Throughput::Elements(ROUNDS as u64));
    let trimmed = TrimmedMean::new(0.2).expect("0.2 is a valid fraction");
    let yuma = YumaConsensus::new(0.5).expect("0.5 is a valid kappa");
    let rules: [(&str, &dyn Aggregator); 4] =
        [("mean", &Mean), ("median", &Median), ("trimmed_mean_0.2", &trimmed), ("yuma_0.5", &yuma)];
    for k in KS {
        let data = rounds(k);
        for (name, rule) in rules {
            g.bench_with_input(BenchmarkId::new(name, k), &data, |b, data| {
                b.iter(|| {
                    for scores in data {
                        black_box(rule.aggregate(black_box(scores), None).expect("valid scores"));
                    }
                })
            });
        }
        let ids: Vec<usize> = (0..k).collect();
        let mut trust = AdaptiveTrust::new(k, 0.1, 0.1, 3.0).expect("valid trust parameters");
        g.bench_with_input(BenchmarkId::new("adaptive_trust_round", k), &data, |b, data| {
            b.iter(|| {
                for scores in data {
                    black_box(trust.round(black_box(&ids), black_box(scores)).expect("valid round"));
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, aggregate);
criterion_main!(benches);
