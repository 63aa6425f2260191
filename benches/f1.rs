//! Token F1 throughput (items/s) against the official SQuAD v1.1 metric in Python.
//!
//! Items: each of the 10,570 SQuAD dev questions (from ../shared/data or $POQ_DATA_DIR) with its first
//! answer as candidate and its other answers as references (the first answer when there is no other),
//! exactly the items `scripts/bench/f1_official.py` times in Python. Without the data, the 2,066
//! pairs of poq-eval's parity fixture stand in.
//!
//! `cargo bench --bench f1 --no-default-features --features eval`
//! `/opt/refpy/bin/python scripts/bench/f1_official.py`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use poq::core::{EvalItem, Evaluator};
use poq::eval::datasets::{load_squad, squad_dev_path};
use poq::eval::max_f1;
use poq::eval::{ExactMatch, TokenF1};
use std::hint::black_box;
use std::path::PathBuf;

fn items() -> Result<(Vec<EvalItem>, &'static str), String> {
    if let Some(path) = squad_dev_path() {
        let samples = load_squad(&path).map_err(|e| e.to_string())?;
        let items = samples
            .into_iter()
            .map(|s| {
                let cand = s.references[0].clone();
                let refs = if s.references.len() > 1 { s.references[1..].to_vec() } else { s.references };
                EvalItem::new(cand, refs)
            })
            .collect();
        return Ok((items, "squad_dev"));
    }
    eprintln!("../shared/data is absent: benchmarking the parity fixture pairs instead of SQuAD dev");
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("crates/poq-eval/tests/fixtures/text/f1_parity.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let items = json["pairs"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    let s = |k: &str| p[k].as_str().unwrap_or_default().to_owned();
                    EvalItem::new(s("pred"), vec![s("truth")])
                })
                .collect()
        })
        .unwrap_or_default();
    Ok((items, "fixture"))
}

fn bench(c: &mut Criterion) {
    let (items, source) = match items() {
        Ok(x) => x,
        Err(e) => {
            eprintln!("skipping the f1 bench: {e}");
            return;
        }
    };
    let mut group = c.benchmark_group(format!("f1_{source}"));
    group.throughput(Throughput::Elements(items.len() as u64));
    group.bench_function("f1_score_batch", |b| b.iter(|| TokenF1.score_batch(black_box(&items))));
    group.bench_function("f1_one_thread", |b| {
        b.iter(|| {
            items
                .iter()
                .map(|it| max_f1(&it.candidate, it.references.iter().map(String::as_str)))
                .fold(0.0, |a, f| a + f.unwrap_or(0.0))
        })
    });
    group.bench_function("em_score_batch", |b| b.iter(|| ExactMatch.score_batch(black_box(&items))));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
