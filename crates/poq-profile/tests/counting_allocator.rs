//! With the counting allocator installed, profiles report peak heap bytes and say so.
// Helpers outside #[test] functions may unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use poq_core::{EvalItem, Evaluator, Score};
use poq_profile::{CountingAllocator, MemorySource, ProfileConfig, Profiler, Target};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

/// Allocates (and frees) 8 MB per call, like a model's activations.
#[derive(Debug)]
struct Hungry;

impl Evaluator for Hungry {
    fn name(&self) -> &str {
        "hungry"
    }
    fn score_batch(&self, items: &[EvalItem]) -> poq_core::Result<Vec<Score>> {
        let scratch = vec![1u8; 8_000_000];
        let s = Score::new(f64::from(scratch[items.len() % 7]))?;
        Ok(vec![s; items.len()])
    }
}

#[test]
fn peak_heap_is_measured_with_the_allocator() {
    assert!(CountingAllocator::is_active());
    let before = CountingAllocator::live_bytes();
    let p = Profiler::new(ProfileConfig { warmup: 0, repetitions: 2, ..Default::default() }).unwrap();
    let r = p
        .profile_evaluator(&Hungry, &Target::new("cpu", "none"), &[EvalItem::new("a", vec!["a".into()])], &[1])
        .unwrap();
    assert_eq!(r.memory.source, MemorySource::CountingAllocator);
    assert!(r.memory.reset);
    // At least the 8 MB scratch on top of what was live before (other tests may add more).
    assert!(r.memory.bytes as usize >= before + 8_000_000, "{} < {before} + 8e6", r.memory.bytes);
    assert!(r.cost.peak_memory_mb >= 8.0);
    // The scratch was freed: the live count fell back (other threads' allocations aside).
    assert!(CountingAllocator::live_bytes() < before + 8_000_000);
}
