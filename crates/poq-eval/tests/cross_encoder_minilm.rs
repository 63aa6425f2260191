//! The real all-MiniLM-L6-v2 encoder with a seeded classifier head (committed alone, 1.7 kB) against
//! transformers' BertForSequenceClassification. Fixtures: tests/fixtures/tiny/generate.py.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::PathBuf;

use poq_eval::LogitRule;
use poq_eval::{CrossEncoder, DeviceChoice, ModelDir};
use serde_json::Value;

/// The model folder, when fetched.
fn minilm() -> Option<PathBuf> {
    common::real_model("all-MiniLM-L6-v2/model.safetensors").and_then(|f| f.parent().map(PathBuf::from))
}

#[test]
fn minilm_with_seeded_head_matches_transformers() {
    let Some(dir) = minilm() else { return };
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny");
    let all: Value = serde_json::from_str(&std::fs::read_to_string(fixtures.join("expected.json")).unwrap()).unwrap();
    let e = &all["minilm-head"];
    let md = ModelDir::open(&dir).unwrap().with_extra_weights(fixtures.join("minilm-head.safetensors")).unwrap();
    let ce = CrossEncoder::load(&md, DeviceChoice::Cpu).unwrap().with_batch_size(3);
    assert_eq!(ce.rule(), LogitRule::Sigmoid);
    let pairs: Vec<(&str, &str)> =
        e["pairs"].as_array().unwrap().iter().map(|p| (p[0].as_str().unwrap(), p[1].as_str().unwrap())).collect();
    let got = ce.logits(&pairs).unwrap();
    for (i, (g, w)) in got.iter().zip(e["logits"].as_array().unwrap()).enumerate() {
        let w = w[0].as_f64().unwrap();
        assert!((f64::from(g[0]) - w).abs() < 1e-4, "pair {i}: {} vs {w}", g[0]);
    }
}

#[test]
fn minilm_without_head_is_not_a_cross_encoder() {
    let Some(dir) = minilm() else { return };
    let err = CrossEncoder::from_dir(&dir).unwrap_err();
    assert!(err.to_string().contains("classifier.weight"), "{err}");
}
