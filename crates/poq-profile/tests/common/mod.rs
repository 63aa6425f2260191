//! Deterministic fakes shared by the integration tests.
#![allow(dead_code)] // Each test binary uses a different subset.

use poq_core::{EvalItem, Evaluator, FinishReason, Generation, GenerationRequest, Generator, Score};
use poq_profile::Clock;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// A clock that only moves when a fake subject advances it.
#[derive(Debug, Default)]
pub struct StepClock {
    nanos: AtomicU64,
}

impl StepClock {
    pub fn advance(&self, d: Duration) {
        self.nanos.fetch_add(d.as_nanos() as u64, Ordering::SeqCst);
    }
}

impl Clock for StepClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}

/// An evaluator whose call of `b` items takes exactly `overhead + b · per_item` on the step clock.
#[derive(Debug)]
pub struct FixedCostEvaluator {
    pub name: String,
    pub clock: Arc<StepClock>,
    pub overhead: Duration,
    pub per_item: Duration,
    pub calls: AtomicUsize,
    /// Fail on this call number (0-based), if set.
    pub fail_on: Option<usize>,
    /// Return one score too few.
    pub short: bool,
}

impl FixedCostEvaluator {
    pub fn new(name: &str, clock: Arc<StepClock>, overhead_ms: u64, per_item_ms: u64) -> Self {
        FixedCostEvaluator {
            name: name.to_owned(),
            clock,
            overhead: Duration::from_millis(overhead_ms),
            per_item: Duration::from_millis(per_item_ms),
            calls: AtomicUsize::new(0),
            fail_on: None,
            short: false,
        }
    }
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Evaluator for FixedCostEvaluator {
    fn name(&self) -> &str {
        &self.name
    }
    fn score_batch(&self, items: &[EvalItem]) -> poq_core::Result<Vec<Score>> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        if self.fail_on == Some(call) {
            return Err(poq_core::Error::backend("scoring", "the model fell over"));
        }
        self.clock.advance(self.overhead + self.per_item * items.len() as u32);
        let n = if self.short { items.len() - 1 } else { items.len() };
        Ok(vec![Score::new(5.0)?; n])
    }
}

/// A generator reporting fixed durations: prompt `i` (by its text `"prompt i"`) has
/// `10·(i+1)` prompt tokens and `5·(i+1)` ms of prefill; every run generates 20 tokens in
/// `10·(k mod cycle + 1)` ms, `k` counting this prompt's calls. It advances the step clock by the
/// latency it reports, so wall time equals it.
#[derive(Debug)]
pub struct FixedGenerator {
    pub clock: Arc<StepClock>,
    pub cycle: usize,
    pub calls: Vec<usize>,
    pub fail_on_prompt: Option<usize>,
}

impl FixedGenerator {
    pub fn new(clock: Arc<StepClock>, cycle: usize) -> Self {
        FixedGenerator { clock, cycle, calls: vec![0; 16], fail_on_prompt: None }
    }
}

pub fn prompts(n: usize) -> Vec<GenerationRequest> {
    (0..n).map(|i| GenerationRequest::user(format!("prompt {i}"), 20)).collect()
}

impl Generator for FixedGenerator {
    fn name(&self) -> &str {
        "fixed-gen"
    }
    fn generate(&mut self, request: &GenerationRequest) -> poq_core::Result<Generation> {
        let text = &request.messages[0].content;
        let i: usize = text.trim_start_matches("prompt ").parse().map_err(|e| poq_core::Error::backend("parse", e))?;
        if self.fail_on_prompt == Some(i) {
            return Err(poq_core::Error::backend("decoding", "out of memory"));
        }
        let k = self.calls[i];
        self.calls[i] += 1;
        let g = Generation {
            text: "ok".into(),
            prompt_tokens: 10 * (i + 1),
            generated_tokens: 20,
            prefill: Duration::from_millis(5 * (i as u64 + 1)),
            decode: Duration::from_millis(10 * ((k % self.cycle) as u64 + 1)),
            finish_reason: FinishReason::Length,
        };
        self.clock.advance(g.latency());
        Ok(g)
    }
}

pub fn items() -> Vec<EvalItem> {
    vec![EvalItem::new("Paris", vec!["Paris".into()]), EvalItem::new("Lyon", vec!["Paris".into()])]
}

pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}
