//! Dimensions built on evaluators: semantic similarity to the reference, query–output alignment,
//! and the agreement of several evaluators.

use super::dimension::Dimension;
use super::item::QualityItem;
use crate::{Error, Result};
use poq_core::{EvalItem, Evaluator, Score};

/// Semantic quality (name `semantic:<evaluator>`): the wrapped evaluator's 0–10 score of the
/// candidate against the references, unchanged. With an [`StsEvaluator`](crate::StsEvaluator) that
/// is `10 · max(0, cos(candidate, reference))`, best over references.
pub struct SemanticDimension<E> {
    evaluator: E,
    name: String,
}

impl<E: Evaluator> SemanticDimension<E> {
    /// Wraps `evaluator`.
    pub fn new(evaluator: E) -> Self {
        let name = format!("semantic:{}", evaluator.name());
        SemanticDimension { evaluator, name }
    }

    /// The same dimension under another name (two STS models are both `sts`).
    #[must_use]
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
}

// By name: any evaluator fits, boxed trait objects (which have no `Debug`) included.
impl<E> std::fmt::Debug for SemanticDimension<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SemanticDimension").field("name", &self.name).finish()
    }
}

impl<E: Evaluator> Dimension for SemanticDimension<E> {
    fn name(&self) -> &str {
        &self.name
    }

    fn score_items(&self, items: &[QualityItem]) -> Result<Vec<Score>> {
        let evals: Vec<EvalItem> = items.iter().map(|it| it.eval.clone()).collect();
        Ok(self.evaluator.score_batch(&evals)?)
    }
}

/// Query–output alignment (name `alignment:<evaluator>`), reference-free: the wrapped evaluator's
/// score of the candidate against the item's `input` (the question, or the source) instead of the
/// references. With an [`StsEvaluator`](crate::StsEvaluator) that is the bi-encoder's
/// `10 · max(0, cos(question, answer))`. An empty answer scores 0; an item without input is an
/// error naming the item.
pub struct AlignmentDimension<E> {
    evaluator: E,
    name: String,
}

impl<E: Evaluator> AlignmentDimension<E> {
    /// Wraps `evaluator` (a bi-encoder is the intended one).
    pub fn new(evaluator: E) -> Self {
        let name = format!("alignment:{}", evaluator.name());
        AlignmentDimension { evaluator, name }
    }

    /// The same dimension under another name.
    #[must_use]
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
}

// By name: any evaluator fits, boxed trait objects (which have no `Debug`) included.
impl<E> std::fmt::Debug for AlignmentDimension<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlignmentDimension").field("name", &self.name).finish()
    }
}

impl<E: Evaluator> Dimension for AlignmentDimension<E> {
    fn name(&self) -> &str {
        &self.name
    }

    fn score_items(&self, items: &[QualityItem]) -> Result<Vec<Score>> {
        let mut pairs = Vec::with_capacity(items.len());
        for (i, it) in items.iter().enumerate() {
            let Some(input) = &it.eval.input else {
                return Err(Error::InvalidArgument {
                    name: "input",
                    message: format!("item {i} has no input (question or source) to align the answer with"),
                });
            };
            pairs.push(EvalItem::new(it.eval.candidate.clone(), vec![input.clone()]));
        }
        let scores = self.evaluator.score_batch(&pairs)?;
        Ok(items
            .iter()
            .zip(scores)
            .map(|(it, s)| if it.eval.candidate.trim().is_empty() { Score::MIN } else { s })
            .collect())
    }
}

/// The agreement score of several evaluators' scores of one answer: `10 · (1 − sd / 5)`, with `sd`
/// the population standard deviation. Scores in [0, 10] have `sd ≤ 5`, so full agreement gives 10
/// and a 0-versus-10 split gives 0. Fewer than two scores or a non-finite one is an error.
pub fn agreement_score(scores: &[f64]) -> Result<Score> {
    if scores.len() < 2 {
        return Err(Error::InvalidArgument {
            name: "scores",
            message: format!("agreement needs at least 2 evaluators' scores, got {}", scores.len()),
        });
    }
    if let Some(i) = scores.iter().position(|v| !v.is_finite()) {
        return Err(Error::InvalidArgument {
            name: "scores",
            message: format!("score {} at index {i} is not finite", scores[i]),
        });
    }
    let n = scores.len() as f64;
    let mean = scores.iter().sum::<f64>() / n;
    let sd = (scores.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
    Ok(Score::clamped(10.0 * (1.0 - sd / 5.0))?)
}

/// Agreement/uncertainty (name `agreement`): [`agreement_score`] of the wrapped evaluators' scores
/// of the same answer; high when they agree, low when the answer is contested.
pub struct AgreementDimension {
    evaluators: Vec<Box<dyn Evaluator>>,
}

impl std::fmt::Debug for AgreementDimension {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.evaluators.iter().map(|e| e.name()).collect();
        f.debug_struct("AgreementDimension").field("evaluators", &names).finish()
    }
}

impl AgreementDimension {
    /// At least two evaluators.
    pub fn new(evaluators: Vec<Box<dyn Evaluator>>) -> Result<Self> {
        if evaluators.len() < 2 {
            return Err(Error::InvalidArgument {
                name: "evaluators",
                message: format!("agreement needs at least 2 evaluators, got {}", evaluators.len()),
            });
        }
        Ok(AgreementDimension { evaluators })
    }
}

impl Dimension for AgreementDimension {
    fn name(&self) -> &str {
        "agreement"
    }

    fn score_items(&self, items: &[QualityItem]) -> Result<Vec<Score>> {
        let evals: Vec<EvalItem> = items.iter().map(|it| it.eval.clone()).collect();
        let per_evaluator: Vec<Vec<Score>> =
            self.evaluators.iter().map(|e| e.score_batch(&evals)).collect::<poq_core::Result<_>>()?;
        (0..items.len())
            .map(|i| {
                let row: Vec<f64> = per_evaluator.iter().map(|s| s.get(i).map_or(f64::NAN, |s| s.value())).collect();
                agreement_score(&row)
            })
            .collect()
    }
}
