//! Empty and 1 MB candidates through token F1 and the STS evaluator: valid scores (the long one
//! truncated to the encoder's window), never a panic; items without references are typed errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(feature = "eval")]

use poq::core::{EvalItem, Evaluator};
use poq::eval::{ExactMatch, StsEvaluator, TokenF1};
use std::path::PathBuf;

/// About 1 MB of text: words, punctuation and multi-byte characters.
fn megabyte() -> String {
    let unit = "The capital of France is Paris, née Lutèce — 巴黎. ";
    unit.repeat((1 << 20) / unit.len() + 1)
}

#[test]
fn token_f1_empty_and_huge_candidates() {
    let big = megabyte();
    assert!(big.len() >= 1 << 20);
    let items = vec![
        EvalItem::new("", vec!["Paris".into()]),
        EvalItem::new("Paris", vec!["".into()]),
        EvalItem::new("", vec!["".into()]),
        EvalItem::new(" \t\n.,;!", vec!["the a an".into()]),
        EvalItem::new(big.clone(), vec!["Paris".into()]),
        EvalItem::new("Paris", vec![big.clone()]),
        EvalItem::new(big.clone(), vec![big.clone()]),
    ];
    let f1: Vec<f64> = TokenF1.score_batch(&items).unwrap().iter().map(|s| s.value()).collect();
    // SQuAD v1.1 semantics: no common token is F1 0, even empty against empty (EM says 1).
    assert_eq!(&f1[..4], &[0.0, 0.0, 0.0, 0.0]);
    assert!(f1[4] > 0.0 && f1[4] < 0.01, "{}", f1[4]);
    assert!(f1[5] > 0.0 && f1[5] < 0.01, "{}", f1[5]);
    assert_eq!(f1[6], 10.0);
    let em: Vec<f64> = ExactMatch.score_batch(&items).unwrap().iter().map(|s| s.value()).collect();
    assert_eq!(em, vec![0.0, 0.0, 10.0, 10.0, 0.0, 0.0, 10.0]);

    let err = TokenF1.score(&EvalItem::new("Paris", vec![])).unwrap_err();
    assert!(err.to_string().contains("references"), "{err}");
}

fn minilm() -> Option<PathBuf> {
    let models = std::env::var_os("POQ_MODELS_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models"), PathBuf::from);
    let dir = models.join("all-MiniLM-L6-v2");
    if dir.join("model.safetensors").is_file() {
        return Some(dir);
    }
    assert!(std::env::var("POQ_REQUIRE_MODELS").as_deref() != Ok("1"), "{} is missing", dir.display());
    eprintln!("skipped: {} is missing; run scripts/fetch-models.sh", dir.display());
    None
}

#[test]
fn sts_empty_and_huge_candidates() {
    let Some(dir) = minilm() else { return };
    let sts = StsEvaluator::from_dir(dir).unwrap();
    let big = megabyte();
    let items = vec![
        EvalItem::new("", vec!["Paris is the capital of France.".into()]),
        EvalItem::new(big.clone(), vec!["Paris is the capital of France.".into()]),
        EvalItem::new("Paris is the capital of France.", vec![big.clone()]),
        EvalItem::new("", vec!["".into()]),
    ];
    let scores: Vec<f64> = sts.score_batch(&items).unwrap().iter().map(|s| s.value()).collect();
    assert!(scores.iter().all(|s| (0.0..=10.0).contains(s)), "{scores:?}");
    // Truncated to the first 256 word pieces, the long text is still about Paris.
    assert!(scores[1] > 5.0, "{scores:?}");
    assert!((scores[1] - scores[2]).abs() < 1e-9, "{scores:?}");
    // The truncated text embeds like its own first few hundred characters.
    let head: String = big.chars().take(2000).collect();
    let cos = sts.similarity(&big, &head).unwrap();
    assert!(cos > 0.999, "{cos}");

    let err = sts.score(&EvalItem::new("x", vec![])).unwrap_err();
    assert!(err.to_string().contains("references"), "{err}");
}
