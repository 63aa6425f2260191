use crate::error::{Error, Result};
use poq_core::{EvalItem, Evaluator, Score};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Cheap evaluator first; the costly one only for cheap scores in `[low, high]`.
///
/// A two-stage evaluator: a cheap one scores everything, a costly one re-scores only the items whose
/// cheap score is uncertain (inside a band), and the cascade counts how many went to stage two.
///
/// ```
/// use poq_core::{EvalItem, Evaluator};
/// use poq_eval::{Cascade, ExactMatch, TokenF1};
/// // Exact match is sure about 0 and 10 only when it is 10; let F1 look at the rest.
/// let c = Cascade::new(ExactMatch, TokenF1, 0.0, 5.0)?;
/// let items = vec![EvalItem::new("Paris", vec!["paris".into()]), EvalItem::new("in Paris", vec!["Paris".into()])];
/// let s = c.score_batch(&items)?;
/// assert_eq!(s[0].value(), 10.0);
/// assert_eq!(c.stage_two_count(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Cascade<C, E> {
    cheap: C,
    costly: E,
    low: f64,
    high: f64,
    name: String,
    seen: AtomicUsize,
    escalated: AtomicUsize,
}

impl<C: Evaluator, E: Evaluator> Cascade<C, E> {
    /// A cascade escalating cheap scores `s` with `low <= s <= high` (both on the 0–10 scale).
    pub fn new(cheap: C, costly: E, low: f64, high: f64) -> Result<Self> {
        if !(0.0..=10.0).contains(&low) || !(0.0..=10.0).contains(&high) || low > high {
            return Err(Error::InvalidArgument {
                name: "band",
                message: format!("[{low}, {high}] must satisfy 0 <= low <= high <= 10"),
            });
        }
        let name = format!("cascade({}>{})", cheap.name(), costly.name());
        Ok(Cascade { cheap, costly, low, high, name, seen: AtomicUsize::new(0), escalated: AtomicUsize::new(0) })
    }

    /// Renames the evaluator (the output column).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Items that reached the costly evaluator since creation or the last [`reset_counts`](Self::reset_counts).
    pub fn stage_two_count(&self) -> usize {
        self.escalated.load(Ordering::Relaxed)
    }

    /// Items scored since creation or the last reset.
    pub fn items_seen(&self) -> usize {
        self.seen.load(Ordering::Relaxed)
    }

    /// Share of items that reached stage two (0 when nothing was scored).
    pub fn stage_two_fraction(&self) -> f64 {
        let seen = self.items_seen();
        if seen == 0 { 0.0 } else { self.stage_two_count() as f64 / seen as f64 }
    }

    /// Sets both counters to zero.
    pub fn reset_counts(&self) {
        self.seen.store(0, Ordering::Relaxed);
        self.escalated.store(0, Ordering::Relaxed);
    }

    fn uncertain(&self, s: Score) -> bool {
        (self.low..=self.high).contains(&s.value())
    }
}

impl<C: Evaluator, E: Evaluator> Evaluator for Cascade<C, E> {
    fn name(&self) -> &str {
        &self.name
    }

    fn score_batch(&self, items: &[EvalItem]) -> poq_core::Result<Vec<Score>> {
        let mut scores = self.cheap.score_batch(items)?;
        if scores.len() != items.len() {
            return Err(poq_core::Error::LengthMismatch {
                left: "cheap evaluator scores",
                left_len: scores.len(),
                right: "items",
                right_len: items.len(),
            });
        }
        let picked: Vec<usize> = (0..items.len()).filter(|&i| self.uncertain(scores[i])).collect();
        if !picked.is_empty() {
            let subset: Vec<EvalItem> = picked.iter().map(|&i| items[i].clone()).collect();
            let second = self.costly.score_batch(&subset)?;
            if second.len() != subset.len() {
                return Err(poq_core::Error::LengthMismatch {
                    left: "costly evaluator scores",
                    left_len: second.len(),
                    right: "escalated items",
                    right_len: subset.len(),
                });
            }
            for (&i, s) in picked.iter().zip(second) {
                scores[i] = s;
            }
        }
        self.seen.fetch_add(items.len(), Ordering::Relaxed);
        self.escalated.fetch_add(picked.len(), Ordering::Relaxed);
        Ok(scores)
    }
}
