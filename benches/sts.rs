//! STS bi-encoder throughput (sentences/s) with the real all-MiniLM-L6-v2 (by batch size) and
//! all-mpnet-base-v2 (batch 32).
//!
//! Needs `models/all-MiniLM-L6-v2` and `models/all-mpnet-base-v2` (`bash scripts/fetch-models.sh`,
//! or set POQ_MODELS_DIR); a missing model's group is skipped.
//! The sentences are the 54 parity sentences of poq-eval's fixtures (short, unicode, empty and
//! three past 256 tokens) repeated 4 times; `scripts/bench/sts_reference.py` times
//! sentence-transformers on the same list (`--model all-mpnet-base-v2` for MPNet). Threads:
//! RAYON_NUM_THREADS (candle's pool), e.g. `RAYON_NUM_THREADS=2 cargo bench --bench sts`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use poq::eval::StsEvaluator;

fn models_dir() -> PathBuf {
    std::env::var_os("POQ_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models"))
}

/// The benchmark sentences, shared with the Python reference.
fn sentences() -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("crates/poq-eval/tests/fixtures/minilm/embeddings.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let one: Vec<String> = json["sentences"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    one.iter().cycle().take(one.len() * 4).cloned().collect()
}

/// Times `model` at each batch size in the group `sts_<name>`.
fn bench_model(c: &mut Criterion, model: &str, name: &str, batches: &[usize]) {
    let dir = models_dir().join(model);
    if !dir.join("model.safetensors").is_file() {
        eprintln!("skipping sts_{name}: {} is missing; run `bash scripts/fetch-models.sh`", dir.display());
        return;
    }
    let sentences = sentences();
    let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let mut group = c.benchmark_group(format!("sts_{name}"));
    group.sample_size(10);
    group.throughput(Throughput::Elements(refs.len() as u64));
    for &batch in batches {
        let sts = match StsEvaluator::from_dir(&dir) {
            Ok(s) => s.with_batch_size(batch),
            Err(e) => panic!("loading {}: {e}", dir.display()),
        };
        group.bench_with_input(BenchmarkId::new("batch", batch), &batch, |b, _| {
            b.iter(|| sts.embed(&refs).map(|v| v.len()).unwrap_or(0))
        });
    }
    group.finish();
}

fn bench(c: &mut Criterion) {
    bench_model(c, "all-MiniLM-L6-v2", "minilm", &[1, 8, 16, 32, 64]);
    // Twelve 768-wide layers: batch 32 only (the reference's batch), about 10 s a sample.
    bench_model(c, "all-mpnet-base-v2", "mpnet", &[32]);
}

criterion_group!(benches, bench);
criterion_main!(benches);
