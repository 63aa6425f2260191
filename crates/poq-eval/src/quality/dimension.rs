//! The [`Dimension`] trait: one aspect of an answer's quality, scored on 0–10.

use super::item::QualityItem;
use crate::Result;
use poq_core::Score;

/// Scores one aspect of an answer's quality on the 0–10 scale.
///
/// Unlike an [`Evaluator`](poq_core::Evaluator), a dimension sees the [`QualityItem`] context
/// (task, generation facts, node), so structure checks can read the token budget and priors the
/// node. Every implementation documents its formula.
pub trait Dimension: Send + Sync + std::fmt::Debug {
    /// The dimension's name in audits and in a fitted composite (`structure`, `semantic:sts`, ...).
    fn name(&self) -> &str;

    /// One score per item, in order.
    fn score_items(&self, items: &[QualityItem]) -> Result<Vec<Score>>;
}

impl<D: Dimension + ?Sized> Dimension for Box<D> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn score_items(&self, items: &[QualityItem]) -> Result<Vec<Score>> {
        (**self).score_items(items)
    }
}
