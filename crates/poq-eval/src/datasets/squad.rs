//! The official SQuAD v1.1 JSON format.

use crate::error::{Error, Result};
use poq_core::{Sample, Task};
use serde::Deserialize;
use std::path::Path;

#[derive(Deserialize)]
struct File {
    data: Vec<Article>,
}

#[derive(Deserialize)]
struct Article {
    paragraphs: Vec<Paragraph>,
}

#[derive(Deserialize)]
struct Paragraph {
    context: String,
    qas: Vec<Qa>,
}

#[derive(Deserialize)]
struct Qa {
    id: String,
    question: String,
    answers: Vec<Answer>,
}

#[derive(Deserialize)]
struct Answer {
    text: String,
}

/// Loads every question of an official SQuAD v1.1 file (`{"data":[{"paragraphs":[{"context","qas"}]}]}`).
///
/// Each question becomes a [`Task::QuestionAnswering`] sample: the paragraph as input, the question,
/// and all its answer texts (duplicates kept, as the official metric does) as references.
pub fn load_squad(path: impl AsRef<Path>) -> Result<Vec<Sample>> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.into(), source })?;
    parse_squad(&text, path)
}

pub(crate) fn parse_squad(text: &str, path: &Path) -> Result<Vec<Sample>> {
    let file: File = serde_json::from_str(text).map_err(|e| Error::Format {
        path: path.into(),
        location: format!("line {} column {}", e.line(), e.column()),
        message: e.to_string(),
    })?;
    let mut out = Vec::new();
    for (a, article) in file.data.into_iter().enumerate() {
        for (p, para) in article.paragraphs.into_iter().enumerate() {
            for (q, qa) in para.qas.into_iter().enumerate() {
                if qa.answers.is_empty() {
                    return Err(Error::Format {
                        path: path.into(),
                        location: format!("data[{a}].paragraphs[{p}].qas[{q}].answers"),
                        message: format!("question {} has no answers", qa.id),
                    });
                }
                out.push(Sample {
                    id: qa.id,
                    task: Task::QuestionAnswering,
                    input: para.context.clone(),
                    question: Some(qa.question),
                    references: qa.answers.into_iter().map(|x| x.text).collect(),
                });
            }
        }
    }
    Ok(out)
}
