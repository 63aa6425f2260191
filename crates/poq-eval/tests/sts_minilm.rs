//! Parity of the STS bi-encoder with sentence-transformers on the real all-MiniLM-L6-v2.
//! Fixtures: tests/fixtures/minilm/generate.py.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::PathBuf;

use poq_core::{EvalItem, Evaluator};
use poq_eval::StsEvaluator;
use serde_json::Value;

const TOL: f64 = 1e-4;

/// The model folder, when fetched.
fn minilm() -> Option<PathBuf> {
    common::real_model("all-MiniLM-L6-v2/model.safetensors").and_then(|f| f.parent().map(PathBuf::from))
}

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minilm").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn embeddings_match_sentence_transformers() {
    let Some(dir) = minilm() else { return };
    let fx = fixture("embeddings.json");
    let sentences: Vec<&str> = fx["sentences"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert!(sentences.len() >= 50);
    assert!(sentences.contains(&""));
    // Batch size 7 mixes lengths across batches; results must not depend on it.
    let sts = StsEvaluator::from_dir(&dir).unwrap().with_batch_size(7);
    assert_eq!(sts.encoder().max_len(), 256);
    let got = sts.embed(&sentences).unwrap();
    let mut worst = 0.0f64;
    for (i, (row, want)) in got.iter().zip(fx["embeddings"].as_array().unwrap()).enumerate() {
        let want = want.as_array().unwrap();
        assert_eq!(row.len(), want.len(), "sentence {i}");
        for (g, w) in row.iter().zip(want) {
            let d = (f64::from(*g) - w.as_f64().unwrap()).abs();
            assert!(d < TOL, "sentence {i} ({:?}): off by {d}", sentences[i]);
            worst = worst.max(d);
        }
    }
    eprintln!("max abs difference over {} sentences: {worst:.2e}", sentences.len());
}

#[test]
fn embeddings_do_not_depend_on_batching() {
    let Some(dir) = minilm() else { return };
    let texts = ["short", "", "a somewhat longer sentence with several words in it", "short"];
    let one = StsEvaluator::from_dir(&dir).unwrap().with_batch_size(1).embed(&texts).unwrap();
    let all = StsEvaluator::from_dir(&dir).unwrap().with_batch_size(64).embed(&texts).unwrap();
    for (a, b) in one.iter().zip(&all) {
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-5);
        }
    }
    assert_eq!(one[0], one[3]);
}

#[test]
fn sts_scores_match_sentence_transformers() {
    let Some(dir) = minilm() else { return };
    let fx = fixture("sts.json");
    let items: Vec<EvalItem> = fx["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|it| {
            let refs = it["references"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_owned()).collect();
            EvalItem::new(it["candidate"].as_str().unwrap(), refs)
        })
        .collect();
    assert!(items.len() >= 30);
    let sts = StsEvaluator::from_dir(&dir).unwrap();
    assert_eq!(sts.name(), "sts");
    let scores = sts.score_batch(&items).unwrap();
    for (i, (s, it)) in scores.iter().zip(fx["items"].as_array().unwrap()).enumerate() {
        let want = it["score"].as_f64().unwrap();
        assert!((s.value() - want).abs() < TOL, "pair {i}: {} vs {want}", s.value());
    }
}

#[test]
fn item_without_references_is_an_error() {
    let Some(dir) = minilm() else { return };
    let sts = StsEvaluator::from_dir(&dir).unwrap();
    assert!(sts.score_batch(&[EvalItem::new("x", vec![])]).is_err());
}
