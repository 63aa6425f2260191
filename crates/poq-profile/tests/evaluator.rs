//! Evaluator profiles on a step clock: every statistic is exact.
// Helpers outside #[test] functions may unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use common::{FixedCostEvaluator, StepClock, close, items};
use poq_profile::{Error, ProfileConfig, Profiler, SubjectKind, Target, powers_of_two, throughput_knee};
use std::sync::Arc;

fn profiler(clock: &Arc<StepClock>, warmup: usize, repetitions: usize) -> Profiler {
    Profiler::new(ProfileConfig { warmup, repetitions, knee_fraction: 0.9 }).unwrap().with_clock(clock.clone())
}

#[test]
fn sweep_latencies_throughput_and_knee_are_exact() {
    let clock = Arc::new(StepClock::default());
    // A call of b items takes (1 + 2b) ms.
    let eval = FixedCostEvaluator::new("fake-sts", clock.clone(), 1, 2);
    let sizes = powers_of_two(128);
    let r = profiler(&clock, 2, 4).profile_evaluator(&eval, &Target::new("cpu", "f32"), &items(), &sizes).unwrap();

    assert_eq!(
        (r.name.as_str(), r.kind, r.device.as_str(), r.dtype.as_str()),
        ("fake-sts", SubjectKind::Evaluator, "cpu", "f32")
    );
    assert_eq!(r.crate_version, env!("CARGO_PKG_VERSION"));
    assert_eq!((r.warmup, r.repetitions), (2, 4));
    assert_eq!(r.batches.iter().map(|b| b.batch_size).collect::<Vec<_>>(), sizes);
    for p in &r.batches {
        let b = p.batch_size as f64;
        let call = 1.0 + 2.0 * b;
        assert_eq!(p.batch_latency_ms.n, 4);
        assert_eq!((p.batch_latency_ms.mean, p.batch_latency_ms.p95, p.batch_latency_ms.std), (call, call, 0.0));
        assert!(close(p.item_latency_ms.mean, call / b));
        assert!(close(p.cost.latency_mean_ms, call / b));
        assert!(close(p.cost.throughput_items_per_s, 1e3 * b / call), "{}", p.cost.throughput_items_per_s);
        assert!(close(p.items_per_s.mean, 1e3 * b / call));
        assert_eq!(p.cost.batch_size, p.batch_size);
        assert_eq!(p.cost.device, "cpu");
    }
    // 1000b/(2b+1): best 498.05 at 128; 90% = 448.2; b=4 gives 444.4, b=8 gives 470.6.
    assert_eq!(r.knee_batch_size, Some(8));
    // Headline cost: batch size 1, 3 ms per item.
    assert_eq!((r.cost.batch_size, r.cost.latency_mean_ms), (1, 3.0));
    // Warm-up runs happened but are not in the statistics (all calls cost the same, so count them).
    assert_eq!(eval.calls(), sizes.len() * (2 + 4));
}

#[test]
fn warmup_runs_are_excluded_from_statistics() {
    let clock = Arc::new(StepClock::default());
    // Slow first calls: a warm-up of 1 absorbs exactly the one slow call.
    #[derive(Debug)]
    struct ColdStart {
        clock: Arc<StepClock>,
        calls: std::sync::atomic::AtomicUsize,
    }
    impl poq_core::Evaluator for ColdStart {
        fn name(&self) -> &str {
            "cold"
        }
        fn score_batch(&self, items: &[poq_core::EvalItem]) -> poq_core::Result<Vec<poq_core::Score>> {
            let k = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let ms = if k == 0 { 1000 } else { 10 + k as u64 };
            self.clock.advance(std::time::Duration::from_millis(ms));
            Ok(vec![poq_core::Score::MIN; items.len()])
        }
    }
    let eval = ColdStart { clock: clock.clone(), calls: Default::default() };
    let r = profiler(&clock, 1, 3).profile_evaluator(&eval, &Target::new("cpu", "f32"), &items(), &[1]).unwrap();
    let s = &r.batches[0].batch_latency_ms;
    // Measured calls are k = 1, 2, 3 → 11, 12, 13 ms.
    assert_eq!((s.n, s.min, s.max, s.mean, s.p50), (3, 11.0, 13.0, 12.0, 12.0));
    assert!((s.p95 - 12.9).abs() < 1e-12);
    assert_eq!(eval.calls.load(std::sync::atomic::Ordering::SeqCst), 4);
}

#[test]
fn batch_sizes_are_sorted_deduplicated_and_filled_by_cycling() {
    let clock = Arc::new(StepClock::default());
    #[derive(Debug)]
    struct Lengths(std::sync::Mutex<Vec<(usize, usize)>>);
    impl poq_core::Evaluator for Lengths {
        fn name(&self) -> &str {
            "lengths"
        }
        fn score_batch(&self, items: &[poq_core::EvalItem]) -> poq_core::Result<Vec<poq_core::Score>> {
            let lyon = items.iter().filter(|i| i.candidate == "Lyon").count();
            self.0.lock().unwrap().push((items.len(), lyon));
            Ok(vec![poq_core::Score::MAX; items.len()])
        }
    }
    let eval = Lengths(Default::default());
    let r =
        profiler(&clock, 0, 1).profile_evaluator(&eval, &Target::new("cpu", "f32"), &items(), &[4, 1, 4, 3]).unwrap();
    assert_eq!(r.batches.iter().map(|b| b.batch_size).collect::<Vec<_>>(), vec![1, 3, 4]);
    // Items alternate Paris, Lyon, Paris, ...
    assert_eq!(*eval.0.lock().unwrap(), vec![(1, 0), (3, 1), (4, 2)]);
}

#[test]
fn knee_on_synthetic_curves() {
    // Linear growth: only the largest batch reaches 90%.
    let linear: Vec<(usize, f64)> = powers_of_two(64).into_iter().map(|b| (b, 10.0 * b as f64)).collect();
    assert_eq!(throughput_knee(&linear, 0.9), Some(64));
    // Flat: batching buys nothing, the knee is batch size 1.
    assert_eq!(throughput_knee(&[(1, 100.0), (2, 100.0), (4, 99.0)], 0.9), Some(1));
    // Peak then collapse (memory pressure): the knee is before the peak, not after it.
    let peaked = [(1, 100.0), (2, 180.0), (4, 300.0), (8, 320.0), (16, 150.0)];
    assert_eq!(throughput_knee(&peaked, 0.9), Some(4));
    assert_eq!(throughput_knee(&peaked, 1.0), Some(8));
    assert_eq!(throughput_knee(&[], 0.9), None);
}

#[test]
fn real_clock_sleeping_evaluator_takes_at_least_its_sleep() {
    #[derive(Debug)]
    struct Sleepy;
    impl poq_core::Evaluator for Sleepy {
        fn name(&self) -> &str {
            "sleepy"
        }
        fn score_batch(&self, items: &[poq_core::EvalItem]) -> poq_core::Result<Vec<poq_core::Score>> {
            std::thread::sleep(std::time::Duration::from_millis(2 * items.len() as u64));
            Ok(vec![poq_core::Score::MIN; items.len()])
        }
    }
    let p = Profiler::new(ProfileConfig { warmup: 0, repetitions: 2, knee_fraction: 0.9 }).unwrap();
    let r = p.profile_evaluator(&Sleepy, &Target::new("cpu", "none"), &items(), &[1, 4]).unwrap();
    assert!(r.batches[0].batch_latency_ms.min >= 2.0);
    assert!(r.batches[1].batch_latency_ms.min >= 8.0);
    assert!(r.batches[1].item_latency_ms.min >= 2.0);
    assert!(r.cost.throughput_items_per_s <= 500.0);
}

#[test]
fn bad_settings_are_typed_errors() {
    let clock = Arc::new(StepClock::default());
    let eval = FixedCostEvaluator::new("e", clock.clone(), 0, 1);
    let t = Target::new("cpu", "f32");
    let e = Profiler::new(ProfileConfig { repetitions: 0, ..Default::default() }).unwrap_err();
    assert!(matches!(e, Error::InvalidConfig { name: "repetitions", .. }), "{e}");
    let e = Profiler::new(ProfileConfig { knee_fraction: 0.0, ..Default::default() }).unwrap_err();
    assert!(matches!(e, Error::InvalidConfig { name: "knee_fraction", .. }), "{e}");
    let p = profiler(&clock, 0, 1);
    let e = p.profile_evaluator(&eval, &t, &items(), &[]).unwrap_err();
    assert!(matches!(e, Error::InvalidConfig { name: "batch_sizes", .. }), "{e}");
    let e = p.profile_evaluator(&eval, &t, &items(), &[1, 0]).unwrap_err();
    assert!(matches!(e, Error::InvalidConfig { name: "batch_sizes", .. }), "{e}");
    let e = p.profile_evaluator(&eval, &t, &[], &[1]).unwrap_err();
    assert!(matches!(e, Error::InvalidConfig { name: "items", .. }), "{e}");
    assert_eq!(eval.calls(), 0);
}

#[test]
fn a_failing_evaluator_is_named_with_the_run() {
    let clock = Arc::new(StepClock::default());
    let mut eval = FixedCostEvaluator::new("flaky-sts", clock.clone(), 0, 1);
    // Calls 0, 1 are batch size 1's warm-up; 2 is its first measured run.
    eval.fail_on = Some(2);
    let e = profiler(&clock, 2, 3).profile_evaluator(&eval, &Target::new("cpu", "f32"), &items(), &[1, 2]).unwrap_err();
    match &e {
        Error::Subject { kind, name, phase, source } => {
            assert_eq!(
                (*kind, name.as_str(), phase.as_str()),
                (SubjectKind::Evaluator, "flaky-sts", "measured run 1 at batch size 1")
            );
            assert!(source.to_string().contains("fell over"));
        }
        other => panic!("unexpected {other}"),
    }
    let msg = e.to_string();
    assert!(msg.contains("evaluator `flaky-sts`") && msg.contains("fell over"), "{msg}");
}

#[test]
fn an_evaluator_returning_too_few_scores_is_an_error() {
    let clock = Arc::new(StepClock::default());
    let mut eval = FixedCostEvaluator::new("short", clock.clone(), 0, 1);
    eval.short = true;
    let e = profiler(&clock, 1, 1).profile_evaluator(&eval, &Target::new("cpu", "f32"), &items(), &[4]).unwrap_err();
    assert!(matches!(e, Error::OutputLength { expected: 4, got: 3, .. }), "{e}");
    assert!(e.to_string().contains("warm-up run 1 at batch size 4"), "{e}");
}
