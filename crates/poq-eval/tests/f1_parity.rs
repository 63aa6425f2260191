//! The token F1 and exact match agree with the official SQuAD v1.1 script (run by
//! scripts/gen_f1_fixture.py) on tricky pairs: unicode casing, punctuation, articles, whitespace.

// Test helpers outside #[test] fns may unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use poq_core::{EvalItem, Evaluator};
use poq_eval::{ExactMatch, TokenF1};
use poq_eval::{exact_match_score, f1_score, max_f1, normalize_answer};
use proptest::prelude::*;
use serde_json::Value;

fn fixture() -> Vec<Value> {
    let text = include_str!("fixtures/text/f1_parity.json");
    let v: Value = serde_json::from_str(text).unwrap();
    v["pairs"].as_array().unwrap().clone()
}

#[test]
fn matches_the_official_metric_on_every_fixture_pair() {
    let pairs = fixture();
    assert!(pairs.len() > 1000);
    let mut nonzero = 0;
    for (i, row) in pairs.iter().enumerate() {
        let pred = row["pred"].as_str().unwrap();
        let truth = row["truth"].as_str().unwrap();
        let want = row["f1"].as_f64().unwrap();
        assert_eq!(normalize_answer(pred), row["norm_pred"].as_str().unwrap(), "pair {i}: normalize {pred:?}");
        let got = f1_score(pred, truth);
        assert!((got - want).abs() < 1e-12, "pair {i}: f1({pred:?}, {truth:?}) = {got}, python {want}");
        assert_eq!(exact_match_score(pred, truth), row["em"].as_bool().unwrap(), "pair {i}: em {pred:?} {truth:?}");
        nonzero += usize::from(want > 0.0);
    }
    // The fixture must exercise partial overlaps, not only zeros.
    assert!(nonzero > 200, "{nonzero}");
}

#[test]
fn evaluators_scale_by_ten_and_take_the_best_reference() {
    let items: Vec<EvalItem> = fixture()
        .chunks(3)
        .map(|c| {
            let refs = c.iter().map(|r| r["truth"].as_str().unwrap().to_owned()).collect();
            EvalItem::new(c[0]["pred"].as_str().unwrap(), refs)
        })
        .collect();
    // Long enough to take the parallel path as well.
    let f1 = TokenF1.score_batch(&items).unwrap();
    let em = ExactMatch.score_batch(&items).unwrap();
    for ((item, f), e) in items.iter().zip(&f1).zip(&em) {
        let best = item.references.iter().map(|r| f1_score(&item.candidate, r)).fold(0.0, f64::max);
        assert_eq!(f.value(), 10.0 * best);
        let any = item.references.iter().any(|r| exact_match_score(&item.candidate, r));
        assert_eq!(e.value(), if any { 10.0 } else { 0.0 });
    }
    assert_eq!(TokenF1.score_batch(&items[..10]).unwrap(), f1[..10]);
}

proptest! {
    #[test]
    fn f1_is_bounded_and_symmetric(a in "\\PC{0,30}", b in "(the |a |[xyzΣİß😀 .,\u{301}\u{a0}]){0,12}") {
        let ab = f1_score(&a, &b);
        let ba = f1_score(&b, &a);
        prop_assert!((0.0..=1.0).contains(&ab));
        prop_assert!((ab - ba).abs() < 1e-15);
        // A string matches itself fully unless it normalizes to nothing.
        let self_f1 = f1_score(&a, &a);
        prop_assert_eq!(self_f1, if normalize_answer(&a).is_empty() { 0.0 } else { 1.0 });
        prop_assert!(exact_match_score(&a, &a));
        // Normalization is idempotent, and F1 only depends on the normalized text.
        let n = normalize_answer(&a);
        prop_assert_eq!(normalize_answer(&n), n.clone());
        prop_assert_eq!(f1_score(&n, &b), ab);
    }

    #[test]
    fn max_over_references_is_the_max(a in "[a-c ]{0,12}", refs in proptest::collection::vec("[a-c ]{0,12}", 1..5)) {
        let best = refs.iter().map(|r| f1_score(&a, r)).fold(0.0, f64::max);
        prop_assert_eq!(max_f1(&a, refs.iter().map(String::as_str)), Some(best));
    }
}

/// The sums that scripts/bench/f1_official.py prints for the official metric on the SQuAD dev set.
#[test]
fn matches_the_official_metric_on_squad_dev_when_present() {
    let Some(path) = poq_eval::datasets::squad_dev_path() else {
        eprintln!("skipping: ../shared/data/squad/dev-v1.1.json (or $POQ_DATA_DIR) is not present");
        return;
    };
    let want: Value = serde_json::from_str(include_str!("fixtures/text/squad_dev_sums.json")).unwrap();
    let samples = poq_eval::datasets::load_squad(path).unwrap();
    let (mut f1_sum, mut em_sum, mut pairs) = (0.0, 0u64, 0usize);
    for s in &samples {
        let refs = if s.references.len() > 1 { &s.references[1..] } else { &s.references[..] };
        let cand = &s.references[0];
        pairs += refs.len();
        f1_sum += max_f1(cand, refs.iter().map(String::as_str)).unwrap();
        em_sum += u64::from(refs.iter().any(|r| exact_match_score(cand, r)));
    }
    assert_eq!(samples.len() as u64, want["items"].as_u64().unwrap());
    assert_eq!(pairs as u64, want["pairs"].as_u64().unwrap());
    assert!((f1_sum - want["f1_sum"].as_f64().unwrap()).abs() < 1e-9, "{f1_sum}");
    assert_eq!(em_sum, want["em_sum"].as_u64().unwrap());
}
