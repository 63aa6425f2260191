//! Prefill and decode speed of SmolLM2-135M-Instruct Q4_1 (GGUF) on the CPU, to compare with
//! llama.cpp on the same file (scripts/bench/llama_cpp_reference.py).
//!
//! ```text
//! RAYON_NUM_THREADS=2 cargo bench --bench generate --no-default-features --features infer
//! ```
//! `prefill/128` runs a 128-token prompt from an empty cache; `decode/64` runs 64 single-token
//! steps after a short prompt (greedy, sampling included); `decode_batchN/64` runs them for N
//! sequences decoded together. Throughput is in tokens (elements) per
//! second. Skips when the model is absent (run scripts/fetch-models.sh).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use poq::infer::gguf;
use poq::infer::sampling::argmax;
use poq::infer::{CausalLm, LoadOptions, TextTokenizer};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const PREFILL_TOKENS: usize = 128;
const DECODE_TOKENS: usize = 64;

fn model_path() -> Option<PathBuf> {
    let root = std::env::var_os("POQ_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models"));
    let p = root.join("SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf");
    p.is_file().then_some(p)
}

/// A prompt of exactly `n` tokens cut from a fixed English paragraph.
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

fn bench(c: &mut Criterion) {
    let Some(path) = model_path() else {
        eprintln!("skipping: SmolLM2-135M-Instruct Q4_1 GGUF not found; run scripts/fetch-models.sh");
        return;
    };
    let file = gguf::load(&path, &LoadOptions::default().device).unwrap();
    let mut model = file.model;
    let tok = file.tokenizer.tokenizer;
    let long = prompt_ids(&tok, PREFILL_TOKENS);
    let short = prompt_ids(&tok, 16);

    let mut g = c.benchmark_group("smollm2_q4_1");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(PREFILL_TOKENS as u64));
    g.bench_function(format!("prefill/{PREFILL_TOKENS}"), |b| {
        b.iter(|| {
            model.reset().unwrap();
            model.forward(&long, 0).unwrap()
        })
    });
    g.throughput(Throughput::Elements(DECODE_TOKENS as u64));
    g.bench_function(format!("decode/{DECODE_TOKENS}"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                model.reset().unwrap();
                let mut logits = model.forward(&short, 0).unwrap();
                let start = Instant::now();
                for i in 0..DECODE_TOKENS {
                    let next = argmax(&logits);
                    logits = model.forward(&[next], short.len() + i).unwrap();
                }
                total += start.elapsed();
            }
            total
        })
    });
    // Several sequences decoded together: each step reads the weights once for all of them.
    for width in [4, 8] {
        g.throughput(Throughput::Elements((width * DECODE_TOKENS) as u64));
        g.bench_function(format!("decode_batch{width}/{DECODE_TOKENS}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let batch = model.batch().unwrap();
                    let slots: Vec<usize> = (0..width).collect();
                    let mut next: Vec<u32> =
                        slots.iter().map(|&s| argmax(&batch.start(s, &short[s % 4..]).unwrap())).collect();
                    let start = Instant::now();
                    for _ in 0..DECODE_TOKENS {
                        next = batch.step(&slots, &next).unwrap().iter().map(|l| argmax(l)).collect();
                    }
                    total += start.elapsed();
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
