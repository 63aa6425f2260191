//! poq-profile alone: measure what scoring costs with the MiniLM STS evaluator, over batch sizes,
//! into the cost profile that reward rules and simulations use.
//!
//! `cargo run --release --example profile_evaluator` (the model: `cargo run --release --example fetch`)

use std::path::Path;

use poq_core::EvalItem;
use poq_eval::StsEvaluator;
use poq_profile::{ProfileConfig, ProfileReport, Profiler, Target};

const MODEL: &str = "models/all-MiniLM-L6-v2";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if !Path::new(MODEL).is_dir() {
        return Err(format!("{MODEL} is missing: fetch it with `cargo run --release --example fetch`").into());
    }
    let sts = StsEvaluator::from_dir(MODEL)?; // on the CPU
    // Distinct answers: the evaluator embeds each distinct text once per batch.
    let items: Vec<EvalItem> = (0..8)
        .map(|i| EvalItem::new(format!("The meeting moved to room {i}."), vec![format!("Room {i} hosts it.")]))
        .collect();
    // One unmeasured run, then five measured ones, at each batch size.
    let profiler = Profiler::new(ProfileConfig { warmup: 1, repetitions: 5, ..Default::default() })?;
    let record = profiler.profile_evaluator(&sts, &Target::new("cpu", "f32"), &items, &[1, 2, 4, 8])?;
    let cost = &record.cost;
    println!("{}: {:.2} ms per call at batch size {}", record.name, cost.latency_mean_ms, cost.batch_size);
    println!("{:.0} items/s, peak {:.0} MB", cost.throughput_items_per_s, cost.peak_memory_mb);
    // Every batch size, as the Markdown table poq-profile writes.
    println!("{}", ProfileReport::new(vec![record]).markdown());
    Ok(())
}
