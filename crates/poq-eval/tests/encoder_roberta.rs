//! A RoBERTa sentence encoder (max pooling, normalization, max_seq_length 20) against
//! sentence-transformers. Fixtures: tests/fixtures/tiny/generate.py.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use poq_core::{EvalItem, Evaluator};
use poq_eval::{ModelDir, Pooling, StsEvaluator};
use serde_json::Value;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny/roberta-st")
}

#[test]
fn roberta_embeddings_match_sentence_transformers() {
    let all: Value = serde_json::from_str(&std::fs::read_to_string(dir().join("../expected.json")).unwrap()).unwrap();
    let e = &all["roberta-st"];
    let sentences: Vec<&str> = e["sentences"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    let md = ModelDir::open(dir()).unwrap();
    assert_eq!(md.sentence_config().pooling, vec![Pooling::Max]);
    assert!(md.sentence_config().normalize);
    let sts = StsEvaluator::from_dir(dir()).unwrap().with_batch_size(4);
    assert_eq!(sts.encoder().max_len(), 20);
    let got = sts.embed(&sentences).unwrap();
    for (i, (g, w)) in got.iter().zip(e["embeddings"].as_array().unwrap()).enumerate() {
        let w = w.as_array().unwrap();
        assert_eq!(g.len(), w.len());
        for (x, y) in g.iter().zip(w) {
            assert!((f64::from(*x) - y.as_f64().unwrap()).abs() < 1e-4, "sentence {i}: {x} vs {y}");
        }
    }
    // Identical texts score 10, and the evaluator works on this family too.
    let s = sts.score_batch(&[EvalItem::new(sentences[2], vec![sentences[2].into()])]).unwrap();
    assert!((s[0].value() - 10.0).abs() < 1e-4);
}
