//! Seeded sampling of prompts: the same seed always gives the same prompts, in data-set order.

use crate::error::{Error, Result};
use poq_core::{Sample, Task};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::collections::BTreeMap;

/// `n` samples drawn without replacement with a seeded `StdRng`, kept in their original order.
///
/// Asking for more samples than there are is an error, not a silent shortfall.
pub fn sample_n(samples: &[Sample], n: usize, seed: u64) -> Result<Vec<Sample>> {
    if n > samples.len() {
        return Err(Error::InvalidArgument {
            name: "n",
            message: format!("asked for {n} samples but there are only {}", samples.len()),
        });
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut idx = rand::seq::index::sample(&mut rng, samples.len(), n).into_vec();
    idx.sort_unstable();
    Ok(idx.into_iter().map(|i| samples[i].clone()).collect())
}

/// `n` samples of every task present (tasks in a fixed order, each with its own seed derived from
/// `seed`), concatenated. The paper's split is 200 QA + 200 summarization prompts with seed 42.
pub fn sample_per_task(samples: &[Sample], n: usize, seed: u64) -> Result<Vec<Sample>> {
    let mut by_task: BTreeMap<Task, Vec<Sample>> = BTreeMap::new();
    for s in samples {
        by_task.entry(s.task).or_default().push(s.clone());
    }
    let mut out = Vec::with_capacity(n * by_task.len());
    for (k, (task, group)) in by_task.iter().enumerate() {
        let picked = sample_n(group, n, seed.wrapping_add(k as u64)).map_err(|_| Error::InvalidArgument {
            name: "n",
            message: format!("asked for {n} {} samples but there are only {}", task.short_name(), group.len()),
        })?;
        out.extend(picked);
    }
    Ok(out)
}
