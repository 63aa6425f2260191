//! Prompt templates that turn a [`Sample`] into a [`GenerationRequest`].

use crate::error::{Error, Result};
use poq_core::{GenerationRequest, Sample, Task};

/// New-token budget for QA answers: a SQuAD answer is a short span (the workspace defaults are
/// listed in the repository's `docs/architecture.md`, section Defaults).
pub const QA_MAX_NEW_TOKENS: usize = 64;
/// New-token budget for summaries: a three-sentence CNN/DailyMail highlight (same defaults).
pub const SUMMARY_MAX_NEW_TOKENS: usize = 128;

/// Templates with `{context}`, `{question}` (QA) and `{article}` (summarization) placeholders.
///
/// ```
/// use poq_core::{Sample, Task};
/// use poq_eval::datasets::PromptTemplates;
/// let s = Sample { id: "q1".into(), task: Task::QuestionAnswering, input: "Paris is in France.".into(),
///                  question: Some("Where is Paris?".into()), references: vec!["France".into()] };
/// let req = PromptTemplates::default().request(&s)?;
/// assert_eq!(req.max_new_tokens, 64);
/// assert!(req.messages[0].content.contains("Where is Paris?"));
/// # Ok::<(), poq_eval::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PromptTemplates {
    /// The QA prompt.
    pub qa: String,
    /// The summarization prompt.
    pub summarization: String,
    /// New tokens for QA.
    pub qa_max_new_tokens: usize,
    /// New tokens for summaries.
    pub summary_max_new_tokens: usize,
}

impl Default for PromptTemplates {
    fn default() -> Self {
        PromptTemplates {
            qa: "Answer the question with a short phrase taken from the context.\n\n\
                 Context: {context}\n\nQuestion: {question}\nAnswer:"
                .to_owned(),
            summarization: "Summarize the following news article in two or three sentences.\n\n\
                            Article: {article}\n\nSummary:"
                .to_owned(),
            qa_max_new_tokens: QA_MAX_NEW_TOKENS,
            summary_max_new_tokens: SUMMARY_MAX_NEW_TOKENS,
        }
    }
}

impl PromptTemplates {
    /// The prompt text for a sample. A QA sample without a question is an error naming its id.
    pub fn prompt(&self, sample: &Sample) -> Result<String> {
        match sample.task {
            Task::QuestionAnswering => {
                let question = sample.question.as_deref().ok_or_else(|| Error::InvalidArgument {
                    name: "question",
                    message: format!("QA sample {} has no question", sample.id),
                })?;
                Ok(fill(&self.qa, &[("context", &sample.input), ("question", question)]))
            }
            Task::Summarization | Task::Other => Ok(fill(&self.summarization, &[("article", &sample.input)])),
        }
    }

    /// A greedy single-turn request with the task's token budget.
    pub fn request(&self, sample: &Sample) -> Result<GenerationRequest> {
        let max_new_tokens = match sample.task {
            Task::QuestionAnswering => self.qa_max_new_tokens,
            Task::Summarization | Task::Other => self.summary_max_new_tokens,
        };
        Ok(GenerationRequest::user(self.prompt(sample)?, max_new_tokens))
    }
}

/// Replaces `{key}` placeholders of the template in one pass, so braces inside values are kept as is.
pub(crate) fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + values.iter().map(|(_, v)| v.len()).sum::<usize>());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let hit = values.iter().find(|(k, _)| after.starts_with(k) && after[k.len()..].starts_with('}'));
        match hit {
            Some((k, v)) => {
                out.push_str(v);
                rest = &after[k.len() + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_is_single_pass() {
        assert_eq!(fill("{a}+{b}={c}", &[("a", "{b}"), ("b", "2")]), "{b}+2={c}");
        assert_eq!(fill("{", &[]), "{");
    }
}
