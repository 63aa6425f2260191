//! The SQuAD normalizer and token F1 / exact match on arbitrary text: never panics, F1 in [0, 1],
//! a text compared with itself is a perfect match, and TokenF1 gives a valid score.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poq_core::{EvalItem, Evaluator};
use poq_eval::{exact_match_score, f1_score, max_f1, normalize_answer};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // The first NUL splits prediction from the references (themselves split on '\n').
    let (pred, refs) = text.split_once('\0').unwrap_or((&text, ""));
    let norm = normalize_answer(pred);
    // Normalizing is idempotent.
    assert_eq!(normalize_answer(&norm), norm);
    let refs: Vec<&str> = refs.split('\n').collect();
    for r in &refs {
        let f = f1_score(pred, r);
        assert!((0.0..=1.0).contains(&f), "f1 {f}");
        assert_eq!(exact_match_score(pred, r), normalize_answer(pred) == normalize_answer(r));
    }
    let best = max_f1(pred, refs.iter().copied());
    assert!(best.is_some_and(|f| (0.0..=1.0).contains(&f)));
    if !norm.is_empty() {
        assert_eq!(f1_score(pred, pred), 1.0);
    }
    let item = EvalItem::new(pred, refs.iter().map(|s| s.to_string()).collect());
    let score = poq_eval::TokenF1.score(&item).expect("references are present");
    assert!((0.0..=10.0).contains(&score.value()));
});
