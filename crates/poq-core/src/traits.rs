//! The two backend roles: [`Evaluator`] (scores answers) and [`Generator`] (answers prompts).
//!
//! Each is small and object-safe so that a network can hold `Box<dyn Evaluator>` values of very
//! different kinds (token F1, an embedding model, an LLM judge) side by side.

use crate::error::Result;
use crate::score::Score;
use crate::types::{EvalItem, Generation, GenerationRequest};
use std::sync::Arc;

/// Scores candidates against references on the 0–10 scale. An evaluator node's model.
///
/// ```
/// use poq_core::{EvalItem, Evaluator, Result, Score};
///
/// /// Gives 10 to exact matches and 0 to everything else.
/// struct Exact;
/// impl Evaluator for Exact {
///     fn name(&self) -> &str { "exact" }
///     fn score_batch(&self, items: &[EvalItem]) -> Result<Vec<Score>> {
///         Ok(items.iter().map(|it| {
///             if it.references.iter().any(|r| *r == it.candidate) { Score::MAX } else { Score::MIN }
///         }).collect())
///     }
/// }
///
/// let item = EvalItem::new("Paris", vec!["Paris".into()]);
/// assert_eq!(Exact.score(&item)?.value(), 10.0);
/// # Ok::<(), poq_core::Error>(())
/// ```
pub trait Evaluator: Send + Sync {
    /// A short name used in reports and output columns (`f1`, `sts`, ...).
    fn name(&self) -> &str;

    /// Scores every item; the result has one score per item, in order.
    fn score_batch(&self, items: &[EvalItem]) -> Result<Vec<Score>>;

    /// Scores one item.
    fn score(&self, item: &EvalItem) -> Result<Score> {
        let mut scores = self.score_batch(std::slice::from_ref(item))?;
        scores.pop().ok_or(crate::Error::Empty { what: "evaluator output" })
    }
}

/// Answers prompts. An inference node's model (local or remote).
///
/// `generate` takes `&mut self` because local models keep a KV cache and a sampler.
pub trait Generator: Send {
    /// A short name used in reports (model id or file name).
    fn name(&self) -> &str;

    /// Generates one answer and reports what it took.
    fn generate(&mut self, request: &GenerationRequest) -> Result<Generation>;

    /// Generates answers for several requests, in order. Backends that batch override this.
    fn generate_batch(&mut self, requests: &[GenerationRequest]) -> Result<Vec<Generation>> {
        requests.iter().map(|r| self.generate(r)).collect()
    }
}

impl<E: Evaluator + ?Sized> Evaluator for Box<E> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn score_batch(&self, items: &[EvalItem]) -> Result<Vec<Score>> {
        (**self).score_batch(items)
    }
}

impl<E: Evaluator + ?Sized> Evaluator for Arc<E> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn score_batch(&self, items: &[EvalItem]) -> Result<Vec<Score>> {
        (**self).score_batch(items)
    }
}

impl<E: Evaluator + ?Sized> Evaluator for &E {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn score_batch(&self, items: &[EvalItem]) -> Result<Vec<Score>> {
        (**self).score_batch(items)
    }
}

impl<G: Generator + ?Sized> Generator for Box<G> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn generate(&mut self, request: &GenerationRequest) -> Result<Generation> {
        (**self).generate(request)
    }
    fn generate_batch(&mut self, requests: &[GenerationRequest]) -> Result<Vec<Generation>> {
        (**self).generate_batch(requests)
    }
}

impl<G: Generator + ?Sized> Generator for &mut G {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn generate(&mut self, request: &GenerationRequest) -> Result<Generation> {
        (**self).generate(request)
    }
    fn generate_batch(&mut self, requests: &[GenerationRequest]) -> Result<Vec<Generation>> {
        (**self).generate_batch(requests)
    }
}
