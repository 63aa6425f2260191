//! # poq-profile
//!
//! Measures what running a PoQ node's model costs, the same way for every [`poq_core::Evaluator`]
//! and [`poq_core::Generator`], and turns the measurements into [`poq_core::CostProfile`]s that
//! cost normalization ([`poq_core::combine_costs`]) and simulation scenarios take as input.
//!
//! - **Evaluators** are swept over batch sizes ([`powers_of_two`]`(128)` = 1, 2, 4, …, 128): per
//!   batch size the latency of a call and per item and the items per second, with the throughput
//!   knee marked ([`throughput_knee`]: the smallest batch size reaching 90% of the best throughput).
//! - **Generators** are measured per prompt, llama-bench style: prefill time and tokens/s, decode
//!   tokens/s and end-to-end latency, from the [`poq_core::Generation`]'s own prefill/decode
//!   durations, plus wall time around the call.
//! - Every test runs `warmup` unmeasured times, then `repetitions` measured times, summarized by
//!   [`Summary`] (mean, sample std, p50/p95/p99 by numpy's linear interpolation, min, max).
//! - **Peak memory** is the [`CountingAllocator`]'s peak heap when a binary installs it, otherwise
//!   the process's resident high-water mark (`process_vmhwm`, from `/proc/self/status`); every
//!   record says which ([`MemorySource`]). Device memory is not measured.
//! - Records carry the machine (CPU model, threads), device, dtype and crate version, and are
//!   written as JSON and tidy CSV ([`ProfileReport`]) or printed as a Markdown table.
//!
//! The design decision is that the profiler only sees the narrow traits: it cannot know a model's
//! device or dtype, so the caller states them in a [`Target`], and it trusts the generator's own
//! prefill/decode split, which only the backend can time.
//!
//! ```
//! use poq_core::{EvalItem, Evaluator, Result as CoreResult, Score};
//! use poq_profile::{ProfileConfig, ProfileReport, Profiler, SubjectKind, Target};
//!
//! struct Exact;
//! impl Evaluator for Exact {
//!     fn name(&self) -> &str { "exact" }
//!     fn score_batch(&self, items: &[EvalItem]) -> CoreResult<Vec<Score>> {
//!         Ok(items.iter().map(|it| if it.references.contains(&it.candidate) { Score::MAX } else { Score::MIN }).collect())
//!     }
//! }
//!
//! let profiler = Profiler::new(ProfileConfig { warmup: 1, repetitions: 3, ..Default::default() })?;
//! let items = [EvalItem::new("Paris", vec!["Paris".into()])];
//! let record = profiler.profile_evaluator(&Exact, &Target::new("cpu", "none"), &items, &[1, 2, 4])?;
//! assert_eq!(record.batches.len(), 3);
//! assert_eq!(record.cost.batch_size, 1);
//! let report = ProfileReport::new(vec![record]);
//! assert_eq!(report.costs(SubjectKind::Evaluator).len(), 1);
//! assert!(report.markdown().contains("| exact"));
//! # Ok::<(), poq_profile::Error>(())
//! ```
//!
//! ## Features
//!
//! None. On Linux with glibc the profiler hands freed heap back to the system before each resident
//! memory mark (`malloc_trim`, through libc); elsewhere it does without.
#![deny(missing_docs)]

mod alloc;
mod clock;
mod error;
mod evaluator;
mod generator;
mod machine;
mod memory;
mod profiler;
mod record;
mod report;
mod stats;
mod table;

pub use alloc::CountingAllocator;
pub use clock::{Clock, MonotonicClock};
pub use error::{Error, Result};
pub use evaluator::{powers_of_two, throughput_knee};
pub use machine::{Machine, parse_cpu_model};
pub use memory::{MemoryProbe, MemorySource, PeakMemory, parse_vmhwm, read_vmhwm_bytes};
pub use poq_core;
pub use profiler::{ProfileConfig, Profiler};
pub use record::{BatchPoint, ProfileRecord, PromptPoint, SubjectKind, Target};
pub use report::{CsvRow, ProfileReport};
pub use stats::{Summary, percentile_sorted};

/// The crate README's snippets, compiled (and run where not `no_run`) as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
