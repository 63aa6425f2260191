//! Cross-encoder throughput (pairs/s): the tiny seeded BERT / RoBERTa / DeBERTa-v2 checkpoints of
//! poq-eval's fixtures, and the real all-MiniLM-L6-v2 encoder with the seeded classifier head
//! (skipped with a message when `models/` lacks it: `bash scripts/fetch-models.sh`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use poq::eval::{CrossEncoder, DeviceChoice, ModelDir};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn pairs() -> Vec<(String, String)> {
    let base = [
        ("What is the capital of France?", "Paris is the capital and most populous city of France."),
        ("Who won Super Bowl 50?", "The Denver Broncos defeated the Carolina Panthers 24-10."),
        ("the cat sat on the mat", "a cat is sitting on a mat"),
        ("Where was the game played?", "At Levi's Stadium in the San Francisco Bay Area at Santa Clara, California."),
    ];
    (0..64).map(|i| base[i % base.len()]).map(|(a, b)| (a.to_owned(), b.to_owned())).collect()
}

fn bench(c: &mut Criterion) {
    let pairs = pairs();
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let mut group = c.benchmark_group("cross_encoder");
    group.sample_size(10);
    group.throughput(Throughput::Elements(refs.len() as u64));
    let fixtures = root().join("crates/poq-eval/tests/fixtures/tiny");
    for name in ["bert-cls", "roberta-cls", "deberta-nli"] {
        let ce = match CrossEncoder::from_dir(fixtures.join(name)) {
            Ok(ce) => ce.with_batch_size(32),
            Err(e) => panic!("{name}: {e}"),
        };
        group.bench_with_input(BenchmarkId::new("tiny", name), &name, |b, _| {
            b.iter(|| ce.logits(&refs).map(|v| v.len()).unwrap_or(0))
        });
    }
    let minilm = std::env::var_os("POQ_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("models"))
        .join("all-MiniLM-L6-v2");
    if minilm.join("model.safetensors").is_file() {
        let ce = ModelDir::open(&minilm)
            .and_then(|md| md.with_extra_weights(fixtures.join("minilm-head.safetensors")))
            .map_err(poq::eval::Error::from)
            .and_then(|md| CrossEncoder::load(&md, DeviceChoice::Cpu));
        let ce = match ce {
            Ok(ce) => ce.with_batch_size(32),
            Err(e) => panic!("minilm head: {e}"),
        };
        group.bench_function("minilm_head", |b| b.iter(|| ce.logits(&refs).map(|v| v.len()).unwrap_or(0)));
    } else {
        eprintln!("skipping minilm_head: {} is missing; run `bash scripts/fetch-models.sh`", minilm.display());
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
