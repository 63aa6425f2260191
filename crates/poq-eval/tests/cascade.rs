//! The cascade escalates exactly the uncertain items, keeps order, and counts stage two.

// Test helpers outside #[test] fns may unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use poq_core::{EvalItem, Evaluator, Score};
use poq_eval::{Cascade, TokenF1};
use std::sync::Mutex;

/// Scores every item 9 and records which candidates it saw.
#[derive(Debug)]
struct Costly(Mutex<Vec<String>>);

impl Evaluator for Costly {
    fn name(&self) -> &str {
        "costly"
    }
    fn score_batch(&self, items: &[EvalItem]) -> poq_core::Result<Vec<Score>> {
        self.0.lock().unwrap().extend(items.iter().map(|i| i.candidate.clone()));
        Ok(vec![Score::new(9.0)?; items.len()])
    }
}

/// Returns one score too few.
#[derive(Debug)]
struct Short;
impl Evaluator for Short {
    fn name(&self) -> &str {
        "short"
    }
    fn score_batch(&self, items: &[EvalItem]) -> poq_core::Result<Vec<Score>> {
        Ok(vec![Score::MIN; items.len().saturating_sub(1)])
    }
}

fn items() -> Vec<EvalItem> {
    [("Paris", "Paris"), ("London", "Paris"), ("in Paris", "Paris"), ("Paris France", "Paris France")]
        .iter()
        .map(|(c, r)| EvalItem::new(*c, vec![r.to_string()]))
        .collect()
}

#[test]
fn only_the_uncertain_band_goes_to_stage_two() {
    // F1 scores: 10, 0, 6.67, 10; band [1, 9] escalates only "in Paris".
    let c = Cascade::new(TokenF1, Costly(Mutex::new(vec![])), 1.0, 9.0).unwrap();
    assert_eq!(c.name(), "cascade(f1>costly)");
    let s: Vec<f64> = c.score_batch(&items()).unwrap().iter().map(|s| s.value()).collect();
    assert_eq!(s, [10.0, 0.0, 9.0, 10.0]);
    assert_eq!((c.stage_two_count(), c.items_seen()), (1, 4));
    c.score_batch(&items()).unwrap();
    assert_eq!(c.stage_two_fraction(), 0.25);
    c.reset_counts();
    assert_eq!((c.stage_two_count(), c.items_seen()), (0, 0));
}

#[test]
fn band_edges_are_inclusive_and_checked() {
    let c = Cascade::new(TokenF1, Costly(Mutex::new(vec![])), 0.0, 0.0).unwrap().with_name("c");
    assert_eq!(c.name(), "c");
    let s = c.score_batch(&items()).unwrap();
    assert_eq!(s[1].value(), 9.0);
    assert_eq!(c.stage_two_count(), 1);
    assert!(Cascade::new(TokenF1, Short, 5.0, 4.0).is_err());
    assert!(Cascade::new(TokenF1, Short, -1.0, 4.0).unwrap_err().to_string().contains("band"));
}

#[test]
fn counts_are_shared_across_threads() {
    let c = Cascade::new(TokenF1, Costly(Mutex::new(vec![])), 0.0, 10.0).unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| c.score_batch(&items()).unwrap());
        }
    });
    assert_eq!((c.stage_two_count(), c.items_seen()), (16, 16));
}

#[test]
fn a_short_costly_answer_is_an_error_and_counts_nothing() {
    let c = Cascade::new(TokenF1, Short, 0.0, 10.0).unwrap();
    let e = c.score_batch(&items()).unwrap_err().to_string();
    assert!(e.contains("costly evaluator scores"), "{e}");
    assert_eq!(c.stage_two_count(), 0);
}
