//! The semantic, alignment and agreement dimensions with the real all-MiniLM-L6-v2 on hand-made
//! answers: on-topic above off-topic, empty answers at 0.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use poq_core::{EvalItem, Task};
use poq_eval::quality::{AgreementDimension, AlignmentDimension, Dimension, QualityItem, SemanticDimension};
use poq_eval::{StsEvaluator, TokenF1};
use std::path::PathBuf;

fn minilm() -> Option<StsEvaluator> {
    let dir = common::real_model("all-MiniLM-L6-v2/model.safetensors").and_then(|f| f.parent().map(PathBuf::from))?;
    Some(StsEvaluator::from_dir(dir).unwrap())
}

const QUESTION: &str = "Which team won Super Bowl 50?";
const REFERENCE: &str = "Denver Broncos";

fn item(candidate: &str) -> QualityItem {
    QualityItem::new(EvalItem::new(candidate, vec![REFERENCE.to_owned()]).with_input(QUESTION))
        .with_task(Task::QuestionAnswering)
}

fn scores(dim: &dyn Dimension, candidates: &[&str]) -> Vec<f64> {
    let items: Vec<QualityItem> = candidates.iter().map(|c| item(c)).collect();
    dim.score_items(&items).unwrap().iter().map(|s| s.value()).collect()
}

#[test]
fn semantic_puts_the_right_answer_above_an_off_topic_one() {
    let Some(sts) = minilm() else { return };
    let dim = SemanticDimension::new(sts);
    assert_eq!(dim.name(), "semantic:sts");
    let s = scores(&dim, &["The Denver Broncos won Super Bowl 50.", "Bananas are rich in potassium."]);
    assert!(s[0] > 5.0 && s[0] - s[1] > 4.0, "{s:?}");
    assert!(s[1] < 3.0, "{s:?}");
}

#[test]
fn alignment_reads_the_question_not_the_reference() {
    let Some(sts) = minilm() else { return };
    let dim = AlignmentDimension::new(sts);
    assert_eq!(dim.name(), "alignment:sts");
    let s = scores(
        &dim,
        &[
            "The Denver Broncos won Super Bowl 50.",
            "Bananas are rich in potassium.",
            "",
            // Wrong team, same topic: alignment is reference-free, so it still aligns.
            "The Carolina Panthers won Super Bowl 50.",
        ],
    );
    assert!(s[0] > 5.0 && s[1] < 2.0, "{s:?}");
    assert!(s[0] - s[1] > 4.0, "{s:?}");
    assert_eq!(s[2], 0.0, "an empty answer aligns with nothing");
    assert!(s[3] > 5.0, "{s:?}");
    let no_input = QualityItem::new(EvalItem::new("Denver", vec![REFERENCE.to_owned()]));
    let err = dim.score_items(&[item("x"), no_input]).unwrap_err().to_string();
    assert!(err.contains("input") && err.contains("item 1"), "{err}");
}

#[test]
fn agreement_of_sts_and_f1_is_high_on_a_clear_answer_and_low_on_a_paraphrase() {
    let Some(sts) = minilm() else { return };
    let dim = AgreementDimension::new(vec![Box::new(sts), Box::new(TokenF1)]).unwrap();
    // Exact: both near 10. A paraphrase without shared tokens: STS high, F1 0.
    let s = scores(&dim, &["Denver Broncos", "the team from Colorado's capital"]);
    assert!(s[0] > 9.0, "{s:?}");
    assert!(s[1] < s[0] - 2.0, "{s:?}");
}
