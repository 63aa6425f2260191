//! Parity of the STS bi-encoder with sentence-transformers on the real all-mpnet-base-v2, on the
//! packed CPU path and on candle's padded graph (the GPU path). Fixtures: tests/fixtures/mpnet/generate.py
//! (the MiniLM fixtures' sentences and pairs).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::PathBuf;

use poq_core::{EvalItem, Evaluator};
use poq_eval::StsEvaluator;
use serde_json::Value;

const TOL: f64 = 1e-4;

/// The model folder, when fetched.
fn mpnet() -> Option<PathBuf> {
    common::real_model("all-mpnet-base-v2/model.safetensors").and_then(|f| f.parent().map(PathBuf::from))
}

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mpnet").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Checks `sts`'s embeddings of the fixture sentences; returns the largest difference.
fn check_embeddings(sts: &StsEvaluator, path: &str) -> f64 {
    let fx = fixture("embeddings.json");
    let sentences: Vec<&str> = fx["sentences"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert!(sentences.len() >= 50);
    assert!(sentences.contains(&""));
    let got = sts.embed(&sentences).unwrap();
    let mut worst = 0.0f64;
    for (i, (row, want)) in got.iter().zip(fx["embeddings"].as_array().unwrap()).enumerate() {
        let want = want.as_array().unwrap();
        assert_eq!(row.len(), want.len(), "sentence {i}");
        for (g, w) in row.iter().zip(want) {
            let d = (f64::from(*g) - w.as_f64().unwrap()).abs();
            assert!(d < TOL, "{path} path, sentence {i} ({:?}): off by {d}", sentences[i]);
            worst = worst.max(d);
        }
    }
    eprintln!("{path} path: max abs difference over {} sentences: {worst:.2e}", sentences.len());
    worst
}

#[test]
fn mpnet_embeddings_match_sentence_transformers() {
    let Some(dir) = mpnet() else { return };
    // Batch size 7 mixes lengths across batches; results must not depend on it.
    let sts = StsEvaluator::from_dir(&dir).unwrap().with_batch_size(7);
    assert_eq!(sts.encoder().max_len(), 384);
    assert_eq!(sts.encoder().dim(), 768);
    check_embeddings(&sts, "packed");
}

#[test]
fn mpnet_graph_embeddings_match_sentence_transformers() {
    let Some(dir) = mpnet() else { return };
    let sts = StsEvaluator::from_dir(&dir).unwrap();
    let graph = StsEvaluator::from_encoder(sts.encoder().clone().with_packed(false)).with_batch_size(7);
    check_embeddings(&graph, "graph");
}

#[test]
fn mpnet_sts_scores_match_sentence_transformers() {
    let Some(dir) = mpnet() else { return };
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
