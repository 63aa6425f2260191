//! What a quality dimension reads: an evaluation item plus the context an [`EvalItem`] lacks.

use poq_core::{EvalItem, FinishReason, Generation, Task};
use serde::{Deserialize, Serialize};

/// The facts of a generation that structure checks need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerationFacts {
    /// Tokens the model generated.
    pub generated_tokens: usize,
    /// The request's token budget, when known.
    pub max_new_tokens: Option<usize>,
    /// Why generation ended.
    pub finish_reason: FinishReason,
}

impl GenerationFacts {
    /// The facts of `generation`, with the request's budget when known.
    #[must_use]
    pub fn from_generation(generation: &Generation, max_new_tokens: Option<usize>) -> Self {
        GenerationFacts {
            generated_tokens: generation.generated_tokens,
            max_new_tokens,
            finish_reason: generation.finish_reason,
        }
    }

    /// The answer was cut by the token budget: the generator says so, or it used the whole budget.
    #[must_use]
    pub fn truncated(&self) -> bool {
        self.finish_reason == FinishReason::Length || self.max_new_tokens.is_some_and(|m| self.generated_tokens >= m)
    }
}

/// One answer to score on every dimension: the [`EvalItem`] (candidate, references, question or
/// source as `input`) and, where known, its task, its generation and the node that produced it.
///
/// A plain [`poq_core::Evaluator`] call only has the `EvalItem`; the other fields are then `None`
/// and each dimension documents what it does without them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct QualityItem {
    /// Candidate, references and input.
    pub eval: EvalItem,
    /// The prompt's task.
    #[serde(default)]
    pub task: Option<Task>,
    /// How the candidate was generated.
    #[serde(default)]
    pub generation: Option<GenerationFacts>,
    /// The inference node that answered (for priors).
    #[serde(default)]
    pub node: Option<String>,
}

impl QualityItem {
    /// An item with nothing but the evaluation item.
    #[must_use]
    pub fn new(eval: EvalItem) -> Self {
        QualityItem { eval, ..QualityItem::default() }
    }

    /// The same item with its task.
    #[must_use]
    pub fn with_task(mut self, task: Task) -> Self {
        self.task = Some(task);
        self
    }

    /// The same item with its generation facts.
    #[must_use]
    pub fn with_generation(mut self, facts: GenerationFacts) -> Self {
        self.generation = Some(facts);
        self
    }

    /// The same item with the node that answered.
    #[must_use]
    pub fn with_node(mut self, node: impl Into<String>) -> Self {
        self.node = Some(node.into());
        self
    }
}
