//! The structure dimension: length against the expected length, repetition, truncation, garbling.

use super::dimension::Dimension;
use super::item::QualityItem;
use crate::Result;
use poq_core::{Score, Task};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// A truncated answer keeps this share of its structure score: it may still hold the answer, but
/// the budget cut it mid-way.
pub const TRUNCATION_FACTOR: f64 = 0.5;

/// The four factors of a structure score, each in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StructureBreakdown {
    /// `L = min(r, 1/r)` with `r` = words / expected words (1 when no expected length is known).
    pub length: f64,
    /// `R` = distinct word n-grams / all word n-grams, lower-cased (1 below n words).
    pub repetition: f64,
    /// `T` = [`TRUNCATION_FACTOR`] when the token budget cut the answer, else 1 (1 when unknown).
    pub truncation: f64,
    /// `C` = share of words holding a letter or digit and no replacement or control character.
    pub clean: f64,
}

impl StructureBreakdown {
    /// `10 · L · R · T · C`: any one failure pulls the score down in proportion.
    #[must_use]
    pub fn score(&self) -> f64 {
        10.0 * self.length * self.repetition * self.truncation * self.clean
    }
}

/// Structure quality (name `structure`): `10 · L · R · T · C` of [`StructureBreakdown`]; an empty
/// or all-whitespace answer scores 0.
///
/// The expected length is the per-task override ([`StructureDimension::with_expected_words`]) when
/// the item's task has one, else the mean word count of the item's references. Truncation is read
/// from [`GenerationFacts`](super::GenerationFacts) (finish reason `length`, or the whole budget
/// used); without them an answer counts as not truncated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StructureDimension {
    /// Word n-gram length of the repetition check (default 3).
    pub ngram: usize,
    /// Expected words per task, overriding the references' length.
    pub expected_words: BTreeMap<Task, f64>,
}

impl Default for StructureDimension {
    fn default() -> Self {
        StructureDimension { ngram: 3, expected_words: BTreeMap::new() }
    }
}

impl StructureDimension {
    /// The same dimension expecting `words` words for `task`; `words` must be finite and ≥ 1.
    pub fn with_expected_words(mut self, task: Task, words: f64) -> Result<Self> {
        if !(words.is_finite() && words >= 1.0) {
            return Err(crate::Error::InvalidArgument {
                name: "expected_words",
                message: format!("{words} for {} is not a finite count of at least 1", task.short_name()),
            });
        }
        self.expected_words.insert(task, words);
        Ok(self)
    }

    /// The four factors for one item.
    #[must_use]
    pub fn breakdown(&self, item: &QualityItem) -> StructureBreakdown {
        let words: Vec<&str> = item.eval.candidate.split_whitespace().collect();
        if words.is_empty() {
            return StructureBreakdown { length: 0.0, repetition: 0.0, truncation: 1.0, clean: 0.0 };
        }
        let expected = item.task.and_then(|t| self.expected_words.get(&t).copied()).or_else(|| {
            let refs = &item.eval.references;
            (!refs.is_empty())
                .then(|| refs.iter().map(|r| r.split_whitespace().count()).sum::<usize>() as f64 / refs.len() as f64)
        });
        let length = expected.map_or(1.0, |e| {
            let r = words.len() as f64 / e.max(1.0);
            r.min(1.0 / r)
        });
        let truncation = match item.generation {
            Some(g) if g.truncated() => TRUNCATION_FACTOR,
            _ => 1.0,
        };
        StructureBreakdown {
            length,
            repetition: distinct_ngram_share(&words, self.ngram),
            truncation,
            clean: clean_share(&words),
        }
    }
}

/// Distinct lower-cased word n-grams over all n-grams; 1 when there are fewer than `n` words.
fn distinct_ngram_share(words: &[&str], n: usize) -> f64 {
    let n = n.max(1);
    if words.len() < n {
        return 1.0;
    }
    let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    let grams: Vec<&[String]> = lower.windows(n).collect();
    let distinct: HashSet<&[String]> = grams.iter().copied().collect();
    distinct.len() as f64 / grams.len() as f64
}

/// Share of words with a letter or digit and no U+FFFD or control character.
fn clean_share(words: &[&str]) -> f64 {
    let clean = words
        .iter()
        .filter(|w| w.chars().any(char::is_alphanumeric) && !w.chars().any(|c| c == '\u{FFFD}' || c.is_control()))
        .count();
    clean as f64 / words.len() as f64
}

impl Dimension for StructureDimension {
    fn name(&self) -> &str {
        "structure"
    }

    fn score_items(&self, items: &[QualityItem]) -> Result<Vec<Score>> {
        items.iter().map(|it| Ok(Score::clamped(self.breakdown(it).score())?)).collect()
    }
}
