//! Generator profiles from generators that report fixed durations: every statistic is exact.
// Helpers outside #[test] functions may unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use common::{FixedGenerator, StepClock, prompts};
use poq_profile::{Error, ProfileConfig, Profiler, SubjectKind, Target};
use std::sync::Arc;

fn profiler(clock: &Arc<StepClock>, warmup: usize, repetitions: usize) -> Profiler {
    Profiler::new(ProfileConfig { warmup, repetitions, ..Default::default() }).unwrap().with_clock(clock.clone())
}

#[test]
fn per_prompt_and_pooled_statistics_are_exact() {
    let clock = Arc::new(StepClock::default());
    // 5 calls per prompt; decode takes 10, 20 (warm-up) then 30, 40, 50 ms (measured).
    let mut g = FixedGenerator::new(clock.clone(), 5);
    let r = profiler(&clock, 2, 3).profile_generator(&mut g, &Target::new("cpu", "q4_1"), &prompts(2)).unwrap();
    assert_eq!((r.kind, r.name.as_str(), r.dtype.as_str()), (SubjectKind::Generator, "fixed-gen", "q4_1"));
    assert_eq!(&g.calls[..2], &[5, 5]);
    assert!(r.batches.is_empty() && r.knee_batch_size.is_none());
    assert_eq!(r.prompts.len(), 2);

    let p0 = &r.prompts[0];
    assert_eq!((p0.index, p0.prompt_tokens), (0, 10));
    assert_eq!((p0.decode_ms.mean, p0.decode_ms.std, p0.decode_ms.min, p0.decode_ms.max), (40.0, 10.0, 30.0, 50.0));
    assert!((p0.decode_ms.p95 - 49.0).abs() < 1e-12 && (p0.decode_ms.p99 - 49.8).abs() < 1e-12);
    // Decode tokens/s per run: 20/0.03, 20/0.04, 20/0.05.
    let tg = p0.decode_tokens_per_s.as_ref().unwrap();
    assert!((tg.mean - (2000.0 / 3.0 + 500.0 + 400.0) / 3.0).abs() < 1e-9, "{}", tg.mean);
    assert!((tg.max - 2000.0 / 3.0).abs() < 1e-9);
    // Prefill: 10 tokens in 5 ms, every run.
    let pp = p0.prefill_tokens_per_s.as_ref().unwrap();
    assert_eq!((pp.mean, pp.std), (2000.0, 0.0));
    assert_eq!(p0.prefill_ms.mean, 5.0);
    assert_eq!((p0.latency_ms.mean, p0.latency_ms.min, p0.latency_ms.max), (45.0, 35.0, 55.0));
    // The generator advances the clock by what it reports.
    assert_eq!(p0.wall_ms, p0.latency_ms);
    assert_eq!(p0.generated_tokens.mean, 20.0);
    assert_eq!(r.prompts[1].prompt_tokens, 20);
    assert_eq!(r.prompts[1].latency_ms.mean, 50.0);

    // Pooled over both prompts: latencies 35, 45, 55, 40, 50, 60 ms.
    let c = &r.cost;
    assert_eq!((c.latency_mean_ms, c.latency_p50_ms, c.latency_p95_ms), (47.5, 47.5, 58.75));
    assert!((c.throughput_items_per_s - 6.0 / 0.285).abs() < 1e-9);
    // (3·10 + 3·20) tokens over (3·5 + 3·10) ms; 120 tokens over 240 ms.
    assert!((c.prefill_tokens_per_s.unwrap() - 2000.0).abs() < 1e-9);
    assert!((c.decode_tokens_per_s.unwrap() - 500.0).abs() < 1e-9);
    assert_eq!((c.batch_size, c.device.as_str()), (1, "cpu"));
}

#[test]
fn zero_decode_time_has_no_rate() {
    #[derive(Debug)]
    struct OneToken;
    impl poq_core::Generator for OneToken {
        fn name(&self) -> &str {
            "one"
        }
        fn generate(&mut self, _: &poq_core::GenerationRequest) -> poq_core::Result<poq_core::Generation> {
            Ok(poq_core::Generation {
                text: ".".into(),
                prompt_tokens: 4,
                generated_tokens: 1,
                prefill: std::time::Duration::from_millis(2),
                decode: std::time::Duration::ZERO,
                finish_reason: poq_core::FinishReason::Stop,
            })
        }
    }
    let r = Profiler::new(ProfileConfig::default())
        .unwrap()
        .profile_generator(&mut OneToken, &Target::new("cpu", "f32"), &prompts(1))
        .unwrap();
    assert!(r.prompts[0].decode_tokens_per_s.is_none());
    assert_eq!(r.cost.decode_tokens_per_s, None);
    assert_eq!(r.cost.prefill_tokens_per_s, Some(2000.0));
    // The table says there is no decode rate rather than printing 0 or inf.
    let md = poq_profile::ProfileReport::new(vec![r]).markdown();
    assert!(md.lines().any(|l| l.contains("tg1") && l.contains("n/a")), "{md}");
}

#[test]
fn a_failing_generator_is_named_with_the_prompt() {
    let clock = Arc::new(StepClock::default());
    let mut g = FixedGenerator::new(clock.clone(), 5);
    g.fail_on_prompt = Some(1);
    let e = profiler(&clock, 1, 2).profile_generator(&mut g, &Target::new("cpu", "q4_1"), &prompts(3)).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::Subject { kind: SubjectKind::Generator, .. }));
    assert!(
        msg.contains("generator `fixed-gen`")
            && msg.contains("warm-up run 1 of prompt 1")
            && msg.contains("out of memory"),
        "{msg}"
    );
}

#[test]
fn no_prompts_is_an_error() {
    let clock = Arc::new(StepClock::default());
    let mut g = FixedGenerator::new(clock.clone(), 5);
    let e = profiler(&clock, 0, 1).profile_generator(&mut g, &Target::new("cpu", "q4_1"), &[]).unwrap_err();
    assert!(matches!(e, Error::InvalidConfig { name: "prompts", .. }), "{e}");
}
