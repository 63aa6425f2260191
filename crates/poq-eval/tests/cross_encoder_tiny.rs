//! Parity of the cross-encoder heads with transformers on tiny seeded checkpoints.
//! Fixtures: tests/fixtures/tiny/generate.py.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use poq_core::{EvalItem, Evaluator};
use poq_eval::LogitRule;
use poq_eval::{CrossEncoder, PairInput};
use serde_json::Value;

const TOL: f64 = 1e-4;

fn tiny(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny").join(name)
}

fn expected(model: &str) -> (Vec<(String, String)>, Vec<Vec<f64>>) {
    let all: Value = serde_json::from_str(&std::fs::read_to_string(tiny("expected.json")).unwrap()).unwrap();
    let e = &all[model];
    let pairs = e["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_str().unwrap().to_owned(), p[1].as_str().unwrap().to_owned()))
        .collect();
    let logits = e["logits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect())
        .collect();
    (pairs, logits)
}

/// Checks logits for several batch sizes (1 = no padding, 3 = mixed lengths, 64 = one batch).
fn check_logits(ce: CrossEncoder, model: &str) -> CrossEncoder {
    let (pairs, want) = expected(model);
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let mut ce = ce;
    for bs in [1, 3, 64] {
        ce = ce.with_batch_size(bs);
        let got = ce.logits(&refs).unwrap();
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g.len(), w.len(), "{model} pair {i}");
            for (x, y) in g.iter().zip(w) {
                assert!((f64::from(*x) - y).abs() < TOL, "{model} pair {i} batch {bs}: {g:?} vs {w:?}");
            }
        }
    }
    ce
}

fn sigmoid10(x: f64) -> f64 {
    10.0 / (1.0 + (-x).exp())
}

#[test]
fn bert_sequence_classification_matches_transformers() {
    let ce = check_logits(CrossEncoder::from_dir(tiny("bert-cls")).unwrap(), "bert-cls");
    assert_eq!(ce.rule(), LogitRule::Sigmoid);
    let (pairs, want) = expected("bert-cls");
    let item = EvalItem::new(pairs[0].1.clone(), vec![pairs[0].0.clone(), pairs[1].0.clone()]);
    // Max over references: the candidate paired with each reference.
    let (_, w2) = {
        let ce2 = CrossEncoder::from_dir(tiny("bert-cls")).unwrap();
        let l = ce2.logits(&[(pairs[1].0.as_str(), pairs[0].1.as_str())]).unwrap();
        ((), f64::from(l[0][0]))
    };
    let s = ce.score_batch(&[item]).unwrap()[0].value();
    assert!((s - sigmoid10(want[0][0]).max(sigmoid10(w2))).abs() < 1e-3);
    assert_eq!(ce.name(), "ce");
}

#[test]
fn roberta_sequence_classification_matches_transformers() {
    let ce = check_logits(CrossEncoder::from_dir(tiny("roberta-cls")).unwrap(), "roberta-cls");
    let (pairs, want) = expected("roberta-cls");
    let scores = ce.score_pairs(&[(pairs[2].0.as_str(), pairs[2].1.as_str())]).unwrap();
    assert!((scores[0].value() - sigmoid10(want[2][0])).abs() < 1e-3);
}

#[test]
fn deberta_v2_nli_matches_transformers_and_uses_entailment() {
    let ce = check_logits(CrossEncoder::from_dir(tiny("deberta-nli")).unwrap(), "deberta-nli");
    // id2label names "ENTAILMENT" at index 1: matched case-insensitively.
    assert_eq!(ce.rule(), LogitRule::Softmax { label: 1 });
    let (pairs, want) = expected("deberta-nli");
    let l = &want[3];
    let z: f64 = l.iter().map(|x| x.exp()).sum();
    let p_entail = l[1].exp() / z;
    let s = ce.score_pairs(&[(pairs[3].0.as_str(), pairs[3].1.as_str())]).unwrap()[0].value();
    assert!((s - 10.0 * p_entail).abs() < 1e-3, "{s} vs {}", 10.0 * p_entail);
}

#[test]
fn input_candidate_pairs_use_the_input() {
    let ce = CrossEncoder::from_dir(tiny("bert-cls")).unwrap().with_pair_input(PairInput::InputCandidate);
    let (pairs, want) = expected("bert-cls");
    let item = EvalItem::new(pairs[1].1.clone(), vec!["ignored reference".into()]).with_input(pairs[1].0.clone());
    let s = ce.score_batch(&[item]).unwrap()[0].value();
    assert!((s - sigmoid10(want[1][0])).abs() < 1e-3);
    // Without an input the item cannot be scored.
    assert!(ce.score_batch(&[EvalItem::new("x", vec!["y".into()])]).is_err());
}

#[test]
fn scores_keep_input_order_and_items_need_references() {
    let ce = CrossEncoder::from_dir(tiny("roberta-cls")).unwrap().with_batch_size(2);
    let (pairs, want) = expected("roberta-cls");
    let items: Vec<EvalItem> = pairs.iter().map(|(r, c)| EvalItem::new(c.clone(), vec![r.clone()])).collect();
    let scores = ce.score_batch(&items).unwrap();
    for (s, w) in scores.iter().zip(&want) {
        assert!((s.value() - sigmoid10(w[0])).abs() < 1e-3);
    }
    assert!(ce.score_batch(&[EvalItem::new("x", vec![])]).is_err());
}
