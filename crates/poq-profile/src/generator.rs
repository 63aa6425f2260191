//! Profiling a [`Generator`] prompt by prompt, llama-bench style: prefill and decode apart.

use crate::error::{Error, Result};
use crate::memory::MemoryProbe;
use crate::profiler::{CRATE_VERSION, Profiler, ms};
use crate::record::{ProfileRecord, PromptPoint, SubjectKind, Target};
use crate::stats::Summary;
use poq_core::{CostProfile, Generation, GenerationRequest, Generator};
use std::time::Duration;

/// One measured run: what the generator reported and the wall time around it.
struct Run {
    generation: Generation,
    wall: Duration,
}

/// Tokens per second of `d`, or `None` when nothing was timed.
fn rate(tokens: usize, d: Duration) -> Option<f64> {
    (d > Duration::ZERO).then(|| tokens as f64 * 1e9 / d.as_nanos() as f64)
}

impl Profiler {
    /// Profiles `generator` on each request of `prompts`.
    ///
    /// For each prompt the generator runs [`warmup`](crate::ProfileConfig::warmup) times unmeasured,
    /// then [`repetitions`](crate::ProfileConfig::repetitions) times measured. Prefill and decode
    /// times are the generator's own ([`Generation::prefill`], [`Generation::decode`]); the
    /// headline cost pools every measured run of every prompt: latency per request, requests per
    /// second, and prefill/decode tokens per second as total tokens over total time.
    ///
    /// Errors: no prompts ([`Error::InvalidConfig`]); the generator failing ([`Error::Subject`],
    /// naming it, the prompt and the run).
    pub fn profile_generator<G: Generator + ?Sized>(
        &self,
        generator: &mut G,
        target: &Target,
        prompts: &[GenerationRequest],
    ) -> Result<ProfileRecord> {
        if prompts.is_empty() {
            return Err(Error::InvalidConfig { name: "prompts", reason: "at least one prompt is needed".into() });
        }
        let name = generator.name().to_owned();
        let probe = MemoryProbe::start();
        let mut points = Vec::with_capacity(prompts.len());
        let mut all: Vec<Run> = Vec::new();
        for (index, request) in prompts.iter().enumerate() {
            let mut run = |phase: String| -> Result<Run> {
                let (out, wall) = self.timed(|| generator.generate(request));
                let generation = out.map_err(|source| Error::Subject {
                    kind: SubjectKind::Generator,
                    name: name.clone(),
                    phase,
                    source,
                })?;
                Ok(Run { generation, wall })
            };
            for i in 0..self.config.warmup {
                run(format!("warm-up run {} of prompt {index}", i + 1))?;
            }
            let runs = (0..self.config.repetitions)
                .map(|i| run(format!("measured run {} of prompt {index}", i + 1)))
                .collect::<Result<Vec<Run>>>()?;
            points.push(prompt_point(&name, index, &runs)?);
            all.extend(runs);
        }
        let memory = probe.finish();

        let latency_ms: Vec<f64> = all.iter().map(|r| ms(r.generation.latency())).collect();
        let total_ms: f64 = latency_ms.iter().sum();
        let latency = Summary::of(&format!("{name}: latency ms"), &latency_ms)?;
        let total = |f: fn(&Generation) -> (usize, Duration)| {
            all.iter().map(|r| f(&r.generation)).fold((0usize, Duration::ZERO), |(n, t), (k, d)| (n + k, t + d))
        };
        let (prompt_tokens, prefill) = total(|g| (g.prompt_tokens, g.prefill));
        let (generated_tokens, decode) = total(|g| (g.generated_tokens, g.decode));
        let cost = CostProfile {
            latency_mean_ms: latency.mean,
            latency_p50_ms: latency.p50,
            latency_p95_ms: latency.p95,
            throughput_items_per_s: if total_ms > 0.0 { 1e3 * latency.n as f64 / total_ms } else { 0.0 },
            prefill_tokens_per_s: rate(prompt_tokens, prefill),
            decode_tokens_per_s: rate(generated_tokens, decode),
            peak_memory_mb: memory.megabytes(),
            energy_j: None,
            device: target.device.clone(),
            batch_size: 1,
        };
        cost.validate().map_err(|source| Error::Cost { name: name.clone(), source })?;
        Ok(ProfileRecord {
            name,
            kind: SubjectKind::Generator,
            machine: self.machine.clone(),
            device: target.device.clone(),
            dtype: target.dtype.clone(),
            crate_version: CRATE_VERSION.to_owned(),
            warmup: self.config.warmup,
            repetitions: self.config.repetitions,
            memory,
            cost,
            batches: Vec::new(),
            knee_batch_size: None,
            prompts: points,
        })
    }
}

fn prompt_point(name: &str, index: usize, runs: &[Run]) -> Result<PromptPoint> {
    let what = |q: &str| format!("{name}: {q} of prompt {index}");
    let col = |f: &dyn Fn(&Run) -> f64| runs.iter().map(f).collect::<Vec<f64>>();
    let rates = |q: &str, f: &dyn Fn(&Generation) -> Option<f64>| -> Result<Option<Summary>> {
        let v: Vec<f64> = runs.iter().filter_map(|r| f(&r.generation)).collect();
        if v.is_empty() { Ok(None) } else { Summary::of(&what(q), &v).map(Some) }
    };
    Ok(PromptPoint {
        index,
        prompt_tokens: runs.first().map_or(0, |r| r.generation.prompt_tokens),
        generated_tokens: Summary::of(&what("generated tokens"), &col(&|r| r.generation.generated_tokens as f64))?,
        prefill_ms: Summary::of(&what("prefill ms"), &col(&|r| ms(r.generation.prefill)))?,
        prefill_tokens_per_s: rates("prefill tokens per s", &|g| rate(g.prompt_tokens, g.prefill))?,
        decode_ms: Summary::of(&what("decode ms"), &col(&|r| ms(r.generation.decode)))?,
        decode_tokens_per_s: rates("decode tokens per s", &|g| rate(g.generated_tokens, g.decode))?,
        latency_ms: Summary::of(&what("latency ms"), &col(&|r| ms(r.generation.latency())))?,
        wall_ms: Summary::of(&what("wall ms"), &col(&|r| ms(r.wall)))?,
    })
}
