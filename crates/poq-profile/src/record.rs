//! The records a profile produces: per-batch-size and per-prompt measurements, wrapped with what
//! was measured, where, and the [`CostProfile`] that rewards use.

use crate::machine::Machine;
use crate::memory::PeakMemory;
use crate::stats::Summary;
use poq_core::CostProfile;
use serde::{Deserialize, Serialize};

/// What kind of node model was profiled; costs are normalized within one kind's pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    /// A [`poq_core::Evaluator`].
    Evaluator,
    /// A [`poq_core::Generator`].
    Generator,
}

impl SubjectKind {
    /// `evaluator` or `generator`.
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::Evaluator => "evaluator",
            SubjectKind::Generator => "generator",
        }
    }
}

impl std::fmt::Display for SubjectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a subject runs and at what precision; the traits do not say, so the caller does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// `cpu`, `cuda:0`, `remote`, ...
    pub device: String,
    /// `f32`, `q4_1`, ...
    pub dtype: String,
}

impl Target {
    /// A target from its device and dtype names.
    pub fn new(device: impl Into<String>, dtype: impl Into<String>) -> Self {
        Target { device: device.into(), dtype: dtype.into() }
    }
}

/// An evaluator measured at one batch size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchPoint {
    /// Items per `score_batch` call.
    pub batch_size: usize,
    /// Latency of one call, milliseconds.
    pub batch_latency_ms: Summary,
    /// Latency of one call divided by the batch size, milliseconds.
    pub item_latency_ms: Summary,
    /// Items per second of each repetition (`batch_size / latency`); its mean is the mean of
    /// per-repetition rates, as llama-bench reports, while [`CostProfile::throughput_items_per_s`]
    /// is total items over total time.
    pub items_per_s: Summary,
    /// Peak memory while this batch size ran.
    pub memory: PeakMemory,
    /// The cost at this batch size: per-item latency, total items over total time, peak memory.
    pub cost: CostProfile,
}

/// A generator measured on one prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptPoint {
    /// Position of the prompt in the profiled list.
    pub index: usize,
    /// Tokens in the rendered prompt (as the generator reported on the first measured run).
    pub prompt_tokens: usize,
    /// Tokens generated per run.
    pub generated_tokens: Summary,
    /// Prefill (prompt processing) time, milliseconds.
    pub prefill_ms: Summary,
    /// Prompt tokens per second of prefill; `None` when no run timed its prefill.
    pub prefill_tokens_per_s: Option<Summary>,
    /// Decode (token generation after the first) time, milliseconds.
    pub decode_ms: Summary,
    /// Generated tokens per second of decode; `None` when no run timed its decode.
    pub decode_tokens_per_s: Option<Summary>,
    /// End-to-end latency as the generator reports it: prefill + decode, milliseconds.
    pub latency_ms: Summary,
    /// Wall-clock time around the `generate` call (adds templating and tokenization), milliseconds.
    pub wall_ms: Summary,
}

/// One profiled evaluator or generator: the measurements, the context, and its headline cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileRecord {
    /// The subject's name (`Evaluator::name` / `Generator::name`).
    pub name: String,
    /// Evaluator or generator.
    pub kind: SubjectKind,
    /// The host.
    pub machine: Machine,
    /// Where the subject ran.
    pub device: String,
    /// Its precision or quantization.
    pub dtype: String,
    /// The poq-profile version that measured it.
    pub crate_version: String,
    /// Warm-up runs before each measured batch size or prompt (not in the statistics).
    pub warmup: usize,
    /// Measured runs per batch size or prompt.
    pub repetitions: usize,
    /// Peak memory over the whole profile, with the source that was measured.
    pub memory: PeakMemory,
    /// The headline cost: an evaluator's at batch size 1 (the smallest profiled when 1 is not),
    /// since a round scores one answer at a time; a generator's per request over all prompts.
    pub cost: CostProfile,
    /// Evaluators: one point per batch size, ascending. Empty for generators.
    pub batches: Vec<BatchPoint>,
    /// Evaluators: the throughput knee (see [`throughput_knee`](crate::throughput_knee)).
    pub knee_batch_size: Option<usize>,
    /// Generators: one point per prompt. Empty for evaluators.
    pub prompts: Vec<PromptPoint>,
}

impl ProfileRecord {
    /// Every cost profile of the record: one per batch size for evaluators, the headline for
    /// generators.
    pub fn cost_profiles(&self) -> Vec<&CostProfile> {
        if self.batches.is_empty() { vec![&self.cost] } else { self.batches.iter().map(|b| &b.cost).collect() }
    }
}
