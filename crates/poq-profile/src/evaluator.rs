//! Profiling an [`Evaluator`] over a batch-size sweep.

use crate::error::{Error, Result};
use crate::memory::{MemoryProbe, PeakMemory};
use crate::profiler::{CRATE_VERSION, Profiler, ms};
use crate::record::{BatchPoint, ProfileRecord, SubjectKind, Target};
use crate::stats::Summary;
use poq_core::{CostProfile, EvalItem, Evaluator};

/// The batch sizes 1, 2, 4, … up to and including the largest power of two ≤ `max` (empty for 0).
///
/// ```
/// assert_eq!(poq_profile::powers_of_two(128), vec![1, 2, 4, 8, 16, 32, 64, 128]);
/// assert_eq!(poq_profile::powers_of_two(5), vec![1, 2, 4]);
/// ```
pub fn powers_of_two(max: usize) -> Vec<usize> {
    std::iter::successors(Some(1usize), |&b| b.checked_mul(2)).take_while(|&b| b <= max).collect()
}

/// The throughput knee of a batch-size sweep: the smallest batch size whose throughput reaches
/// `fraction` of the sweep's best throughput. `None` for an empty sweep.
///
/// Past the knee, larger batches buy at most `1 − fraction` more throughput while each answer
/// waits for the whole batch, so it is the batch size worth running at.
///
/// ```
/// // Throughput saturating at 500 items/s: 90% of the best (≈ 498) is first reached at 8.
/// let sweep: Vec<(usize, f64)> = poq_profile::powers_of_two(128)
///     .into_iter()
///     .map(|b| (b, 1000.0 * b as f64 / (2.0 * b as f64 + 1.0)))
///     .collect();
/// assert_eq!(poq_profile::throughput_knee(&sweep, 0.9), Some(8));
/// ```
pub fn throughput_knee(sweep: &[(usize, f64)], fraction: f64) -> Option<usize> {
    let best = sweep.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    sweep.iter().filter(|p| p.1 >= fraction * best).map(|p| p.0).min()
}

impl Profiler {
    /// Profiles `evaluator` at each batch size in `batch_sizes` (deduplicated and sorted).
    ///
    /// Batches are filled by cycling through `items`. Evaluators may embed a repeated text once
    /// per batch (the STS evaluator does), so pass at least as many distinct items as the largest
    /// batch size, or the large batches measure a cache. At each batch size the evaluator runs
    /// [`warmup`](crate::ProfileConfig::warmup) times unmeasured, then
    /// [`repetitions`](crate::ProfileConfig::repetitions) times measured.
    ///
    /// Errors: no items, no batch sizes or a batch size of 0 ([`Error::InvalidConfig`]); the
    /// evaluator failing ([`Error::Subject`], naming it and the run) or returning the wrong number
    /// of scores ([`Error::OutputLength`]).
    pub fn profile_evaluator<E: Evaluator + ?Sized>(
        &self,
        evaluator: &E,
        target: &Target,
        items: &[EvalItem],
        batch_sizes: &[usize],
    ) -> Result<ProfileRecord> {
        if items.is_empty() {
            return Err(Error::InvalidConfig { name: "items", reason: "at least one item is needed".into() });
        }
        if batch_sizes.is_empty() {
            return Err(Error::InvalidConfig { name: "batch_sizes", reason: "at least one is needed".into() });
        }
        if batch_sizes.contains(&0) {
            return Err(Error::InvalidConfig {
                name: "batch_sizes",
                reason: "a batch size of 0 scores nothing".into(),
            });
        }
        let mut sizes = batch_sizes.to_vec();
        sizes.sort_unstable();
        sizes.dedup();

        let batches = sizes
            .iter()
            .map(|&b| self.batch_point(evaluator, target, items, b))
            .collect::<Result<Vec<BatchPoint>>>()?;
        let sweep: Vec<(usize, f64)> = batches.iter().map(|p| (p.batch_size, p.cost.throughput_items_per_s)).collect();
        let knee_batch_size = throughput_knee(&sweep, self.config.knee_fraction);
        let memory = batches.iter().map(|p| p.memory).reduce(PeakMemory::max).unwrap_or(batches[0].memory);
        // The smallest batch size is first after sorting: batch size 1 when it was profiled.
        let cost = batches[0].cost.clone();
        Ok(ProfileRecord {
            name: evaluator.name().to_owned(),
            kind: SubjectKind::Evaluator,
            machine: self.machine.clone(),
            device: target.device.clone(),
            dtype: target.dtype.clone(),
            crate_version: CRATE_VERSION.to_owned(),
            warmup: self.config.warmup,
            repetitions: self.config.repetitions,
            memory,
            cost,
            batches,
            knee_batch_size,
            prompts: Vec::new(),
        })
    }

    fn batch_point<E: Evaluator + ?Sized>(
        &self,
        evaluator: &E,
        target: &Target,
        items: &[EvalItem],
        b: usize,
    ) -> Result<BatchPoint> {
        let batch: Vec<EvalItem> = items.iter().cycle().take(b).cloned().collect();
        let run = |phase: String| -> Result<std::time::Duration> {
            let (scores, took) = self.timed(|| evaluator.score_batch(&batch));
            let scores = scores.map_err(|source| Error::Subject {
                kind: SubjectKind::Evaluator,
                name: evaluator.name().to_owned(),
                phase: phase.clone(),
                source,
            })?;
            if scores.len() != b {
                return Err(Error::OutputLength {
                    name: evaluator.name().to_owned(),
                    expected: b,
                    got: scores.len(),
                    phase,
                });
            }
            Ok(took)
        };

        let probe = MemoryProbe::start();
        for i in 0..self.config.warmup {
            run(format!("warm-up run {} at batch size {b}", i + 1))?;
        }
        let mut batch_ms = Vec::with_capacity(self.config.repetitions);
        for i in 0..self.config.repetitions {
            batch_ms.push(ms(run(format!("measured run {} at batch size {b}", i + 1))?));
        }
        let memory = probe.finish();

        let bf = b as f64;
        let what = |q: &str| format!("{}: {q} at batch size {b}", evaluator.name());
        let item_ms: Vec<f64> = batch_ms.iter().map(|t| t / bf).collect();
        // A run too fast for the clock has no rate; it still counts in the latency statistics.
        let rates: Vec<f64> = batch_ms.iter().filter(|&&t| t > 0.0).map(|t| 1e3 * bf / t).collect();
        let batch_latency_ms = Summary::of(&what("batch latency ms"), &batch_ms)?;
        let item_latency_ms = Summary::of(&what("item latency ms"), &item_ms)?;
        let items_per_s = if rates.is_empty() {
            Summary::of(&what("items per s"), &[0.0])?
        } else {
            Summary::of(&what("items per s"), &rates)?
        };
        let total_ms: f64 = batch_ms.iter().sum();
        let cost = CostProfile {
            latency_mean_ms: item_latency_ms.mean,
            latency_p50_ms: item_latency_ms.p50,
            latency_p95_ms: item_latency_ms.p95,
            throughput_items_per_s: if total_ms > 0.0 { 1e3 * bf * batch_ms.len() as f64 / total_ms } else { 0.0 },
            prefill_tokens_per_s: None,
            decode_tokens_per_s: None,
            peak_memory_mb: memory.megabytes(),
            energy_j: None,
            device: target.device.clone(),
            batch_size: b,
        };
        cost.validate().map_err(|source| Error::Cost { name: evaluator.name().to_owned(), source })?;
        Ok(BatchPoint { batch_size: b, batch_latency_ms, item_latency_ms, items_per_s, memory, cost })
    }
}
