//! STS bi-encoder throughput (sentences/s) with the real all-MiniLM-L6-v2 (by batch size) and
//! all-mpnet-base-v2 (batch 32), on two workloads.
//!
//! Needs `models/all-MiniLM-L6-v2` and `models/all-mpnet-base-v2` (`bash scripts/fetch-models.sh`,
//! or set POQ_MODELS_DIR); a missing model's group is skipped.
//! The sentences are the 54 parity sentences of poq-eval's fixtures (short, unicode, empty and
//! three past 256 tokens) repeated 4 times; `scripts/bench/sts_reference.py` times
//! sentence-transformers on the same list (`--model all-mpnet-base-v2` for MPNet). Threads:
//! RAYON_NUM_THREADS (candle's pool), e.g. `RAYON_NUM_THREADS=2 cargo bench --bench sts`.
//!
//! Groups `sts_minilm_real` and `sts_mpnet_real` (batch 32) time texts as long as those the main
//! job scores (answers and highlights of ~55 words), built from the shared data by the rule in
//! [`real_texts`]; `sts_reference.py --workload real` builds the same list. Without the data
//! (`$POQ_DATA_DIR`, else `../shared/data`, else `data/`) these groups are skipped. Both print the
//! workload's texts, words and characters, which must agree. MPNet takes ~30 s a sample here.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

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

/// Words kept from an article or a SQuAD context.
const LEAD_WORDS: usize = 55;
/// Every this-many-th SQuAD paragraph is used.
const SQUAD_EVERY: usize = 7;

/// The first folder holding both data files: `$POQ_DATA_DIR` (else `../shared/data`), then `data/`.
fn data_dir() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let first = std::env::var_os("POQ_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("../shared/data"));
    [first, root.join("data")]
        .into_iter()
        .find(|d| d.join("cnndm/test-250.jsonl").is_file() && d.join("squad/dev-v1.1.json").is_file())
}

/// The first `LEAD_WORDS` whitespace-separated words, joined by one space.
fn lead(text: &str) -> String {
    text.split_whitespace().take(LEAD_WORDS).collect::<Vec<_>>().join(" ")
}

/// The real-length workload, in this order: every CNN/DM highlight set whole (file order), the
/// first 55 words of every article, then the first 55 words of every 7th SQuAD context (0, 7, 14,
/// ... in file order). 796 texts of 55.0 words on average with the shared files.
fn real_texts(dir: &Path) -> Vec<String> {
    let read = |p: PathBuf| std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let rows: Vec<serde_json::Value> = read(dir.join("cnndm/test-250.jsonl"))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("cnndm line"))
        .collect();
    let squad: serde_json::Value = serde_json::from_str(&read(dir.join("squad/dev-v1.1.json"))).expect("squad");
    let field = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or_else(|| panic!("no `{k}`")).to_owned();
    let contexts: Vec<String> = squad["data"]
        .as_array()
        .expect("squad data")
        .iter()
        .flat_map(|a| a["paragraphs"].as_array().expect("paragraphs").iter().map(|p| field(p, "context")))
        .collect();
    let mut out: Vec<String> = rows.iter().map(|r| field(r, "highlights")).collect();
    out.extend(rows.iter().map(|r| lead(&field(r, "article"))));
    out.extend(contexts.iter().step_by(SQUAD_EVERY).map(|c| lead(c)));
    out
}

/// Times `model` on `sentences` at each batch size in the group `sts_<name>`.
fn bench_model(c: &mut Criterion, model: &str, name: &str, batches: &[usize], sentences: &[String]) {
    let dir = models_dir().join(model);
    if !dir.join("model.safetensors").is_file() {
        eprintln!("skipping sts_{name}: {} is missing; run `bash scripts/fetch-models.sh`", dir.display());
        return;
    }
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
    let parity = sentences();
    bench_model(c, "all-MiniLM-L6-v2", "minilm", &[1, 8, 16, 32, 64], &parity);
    // Twelve 768-wide layers: batch 32 only (the reference's batch), about 10 s a sample.
    bench_model(c, "all-mpnet-base-v2", "mpnet", &[32], &parity);
    let Some(dir) = data_dir() else {
        eprintln!("skipping sts_minilm_real, sts_mpnet_real: no cnndm/test-250.jsonl and squad/dev-v1.1.json");
        return;
    };
    let real = real_texts(&dir);
    let words: usize = real.iter().map(|s| s.split_whitespace().count()).sum();
    let chars: usize = real.iter().map(|s| s.chars().count()).sum();
    eprintln!(
        "real workload: {} texts, {words} words ({:.1} a text), {chars} characters",
        real.len(),
        words as f64 / real.len() as f64
    );
    bench_model(c, "all-MiniLM-L6-v2", "minilm_real", &[32], &real);
    bench_model(c, "all-mpnet-base-v2", "mpnet_real", &[32], &real);
}

criterion_group!(benches, bench);
criterion_main!(benches);
