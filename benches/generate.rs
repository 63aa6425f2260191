//! Load, prefill and decode speed of our GGUF forward on the CPU, on the files the main job runs
//! (SmolLM2-135M-Instruct Q4_1 and Qwen2.5-Coder-0.5B-Instruct Q4_K_M), to compare with llama.cpp
//! on the same files and prompts (scripts/bench/llama_cpp_reference.py).
//!
//! ```text
//! RAYON_NUM_THREADS=2 cargo bench --bench generate --no-default-features --features infer
//! ```
//! Per model group: `load` opens the file and runs a 16-token prompt (a node's start-up);
//! `prefill/830` runs an 830-token prompt (a CNN/DailyMail prompt's length) from an empty cache;
//! `decode/64` runs 64 single-token greedy steps after a 16-token prompt, `decode_long/64` after
//! the 830-token one; `decode_batch8/64` runs them for 8 sequences decoded together; `int8_*`
//! the same with 8-bit activations (`GgufPrecision::Int8`, llama.cpp's arithmetic).
//! Throughput is in tokens (elements) per second. A missing model is skipped (run
//! scripts/fetch-models.sh).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use poq::infer::argmax;
use poq::infer::gguf;
use poq::infer::{CausalLm, LoadOptions, TextTokenizer};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const SHORT_TOKENS: usize = 16;
const LONG_TOKENS: usize = 830;
const DECODE_TOKENS: usize = 64;
const BATCH: usize = 8;

/// (group name, file under models/).
const MODELS: [(&str, &str); 2] = [
    ("smollm2_q4_1", "SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf"),
    ("qwen05_q4_k_m", "Qwen2.5-Coder-0.5B-Instruct/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"),
];

fn models_dir() -> PathBuf {
    std::env::var_os("POQ_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models"))
}

/// A prompt of exactly `n` tokens cut from a fixed English paragraph, repeated.
fn prompt_ids(tok: &TextTokenizer, n: usize) -> Vec<u32> {
    let para = "The Normans were the people who in the 10th and 11th centuries gave their name to \
                Normandy, a region in France. They were descended from Norse raiders and pirates \
                from Denmark, Iceland and Norway who, under their leader Rollo, agreed to swear \
                fealty to King Charles III of West Francia. ";
    let mut ids = Vec::new();
    while ids.len() < n {
        ids.extend(tok.encode(para, false).unwrap_or_default());
    }
    ids.truncate(n);
    ids
}

/// Time of `DECODE_TOKENS` greedy steps after `prompt`.
fn decode(model: &mut gguf::GgufModel, prompt: &[u32]) -> Duration {
    model.reset().unwrap();
    let mut logits = model.forward(prompt, 0).unwrap();
    let start = Instant::now();
    for i in 0..DECODE_TOKENS {
        let next = argmax(&logits);
        logits = model.forward(&[next], prompt.len() + i).unwrap();
    }
    start.elapsed()
}

fn bench_model(c: &mut Criterion, name: &str, path: &Path) {
    let device = LoadOptions::default().device;
    let file = gguf::load(path, &device).unwrap();
    let mut model = file.model;
    let tok = file.tokenizer.tokenizer;
    let long = prompt_ids(&tok, LONG_TOKENS);
    let short = prompt_ids(&tok, SHORT_TOKENS);

    let mut g = c.benchmark_group(name);
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(1));
    g.bench_function("load", |b| {
        b.iter(|| {
            let mut m = gguf::load(path, &device).unwrap().model;
            m.forward(&short, 0).unwrap()
        })
    });
    g.throughput(Throughput::Elements(LONG_TOKENS as u64));
    g.bench_function(format!("prefill/{LONG_TOKENS}"), |b| {
        b.iter(|| {
            model.reset().unwrap();
            model.forward(&long, 0).unwrap()
        })
    });
    g.throughput(Throughput::Elements(DECODE_TOKENS as u64));
    g.bench_function(format!("decode/{DECODE_TOKENS}"), |b| {
        b.iter_custom(|iters| (0..iters).map(|_| decode(&mut model, &short)).sum())
    });
    g.bench_function(format!("decode_long/{DECODE_TOKENS}"), |b| {
        b.iter_custom(|iters| (0..iters).map(|_| decode(&mut model, &long)).sum())
    });
    // Several sequences decoded together: each step reads the weights once for all of them.
    g.throughput(Throughput::Elements((BATCH * DECODE_TOKENS) as u64));
    g.bench_function(format!("decode_batch{BATCH}/{DECODE_TOKENS}"), |b| {
        b.iter_custom(|iters| (0..iters).map(|_| decode_batch(&mut model, &short)).sum())
    });
    // The opt-in 8-bit activations (llama.cpp's arithmetic) for decoding steps.
    let mut int8 = gguf::load_with(path, &device, gguf::GgufPrecision::Int8).unwrap().model;
    g.throughput(Throughput::Elements(DECODE_TOKENS as u64));
    g.bench_function(format!("int8_decode/{DECODE_TOKENS}"), |b| {
        b.iter_custom(|iters| (0..iters).map(|_| decode(&mut int8, &short)).sum())
    });
    g.throughput(Throughput::Elements((BATCH * DECODE_TOKENS) as u64));
    g.bench_function(format!("int8_decode_batch{BATCH}/{DECODE_TOKENS}"), |b| {
        b.iter_custom(|iters| (0..iters).map(|_| decode_batch(&mut int8, &short)).sum())
    });
    g.finish();
}

/// Time of `DECODE_TOKENS` greedy steps of `BATCH` sequences decoded together.
fn decode_batch(model: &mut gguf::GgufModel, short: &[u32]) -> Duration {
    let batch = model.batch().unwrap();
    let slots: Vec<usize> = (0..BATCH).collect();
    let mut next: Vec<u32> = slots.iter().map(|&s| argmax(&batch.start(s, &short[s % 4..]).unwrap())).collect();
    let start = Instant::now();
    for _ in 0..DECODE_TOKENS {
        next = batch.step(&slots, &next).unwrap().iter().map(|l| argmax(l)).collect();
    }
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    for (name, file) in MODELS {
        let path = models_dir().join(file);
        if path.is_file() {
            bench_model(c, name, &path);
        } else {
            eprintln!("skipping {name}: {} not found; run scripts/fetch-models.sh", path.display());
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
