//! The LLM judge with a scripted fake generator: prompts, greedy decoding, parsing, one re-ask.

// Test helpers outside #[test] fns may unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use poq_core::{EvalItem, Evaluator, FinishReason, Generation, GenerationRequest, Generator, Role};
use poq_eval::{Error, LlmJudge};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Replies from a script and records every request.
struct Scripted {
    replies: VecDeque<String>,
    seen: Arc<Mutex<Vec<GenerationRequest>>>,
}

impl Generator for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }
    fn generate(&mut self, request: &GenerationRequest) -> poq_core::Result<Generation> {
        self.seen.lock().unwrap().push(request.clone());
        let text = self.replies.pop_front().ok_or(poq_core::Error::Empty { what: "script" })?;
        Ok(Generation {
            text,
            prompt_tokens: 10,
            generated_tokens: 2,
            prefill: Duration::from_millis(1),
            decode: Duration::from_millis(1),
            finish_reason: FinishReason::Stop,
        })
    }
}

fn judge(replies: &[&str]) -> (LlmJudge<Scripted>, Arc<Mutex<Vec<GenerationRequest>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let g = Scripted { replies: replies.iter().map(|s| s.to_string()).collect(), seen: seen.clone() };
    (LlmJudge::new(g), seen)
}

fn item() -> EvalItem {
    EvalItem::new("in {Paris}", vec!["Paris".into(), "the city of Paris".into()]).with_input("Where is the Louvre?")
}

#[test]
fn scores_replies_and_sends_a_greedy_rubric_prompt() {
    let (j, seen) = judge(&["Score: 7/10", "**8**", "7.5 out of 10", "10"]);
    let items = vec![item(); 4];
    let scores: Vec<f64> = j.score_batch(&items).unwrap().iter().map(|s| s.value()).collect();
    assert_eq!(scores, [7.0, 8.0, 7.5, 10.0]);
    assert_eq!(j.name(), "judge");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 4);
    let req = &seen[0];
    assert_eq!(req.sampling.temperature, 0.0);
    assert_eq!(req.messages.len(), 1);
    let p = &req.messages[0].content;
    assert!(p.contains("Where is the Louvre?") && p.contains("- Paris\n- the city of Paris"), "{p}");
    assert!(p.contains("in {Paris}") && p.contains("0 to 10"), "{p}");
}

#[test]
fn re_asks_once_then_succeeds() {
    let (j, seen) = judge(&["It is quite good.", "6"]);
    assert_eq!(j.score(&item()).unwrap().value(), 6.0);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    let second = &seen[1].messages;
    assert_eq!(second.len(), 3);
    assert_eq!((second[1].role, second[1].content.as_str()), (Role::Assistant, "It is quite good."));
    assert!(second[2].content.contains("single number"));
}

#[test]
fn two_unusable_replies_are_a_typed_error() {
    for (first, second) in [("11", "-3"), ("none", "between 3 and 5")] {
        let (j, seen) = judge(&[first, second, "5"]);
        let e = j.judge(&item()).unwrap_err();
        assert!(matches!(&e, Error::JudgeReply { first: f, second: s, .. } if f == first && s == second), "{e}");
        assert_eq!(seen.lock().unwrap().len(), 2, "asks exactly twice");
        // Through the Evaluator trait it is a poq_core backend error that keeps the message.
        let (j, _) = judge(&[first, second]);
        let e = j.score_batch(&[item()]).unwrap_err().to_string();
        assert!(e.contains("asked twice"), "{e}");
    }
}

#[test]
fn generator_failures_propagate_and_the_generator_comes_back() {
    let (j, _) = judge(&[]);
    assert!(j.judge(&item()).is_err());
    let j = j.with_name("smol-judge").with_max_new_tokens(8).with_rubric("Q {input} R {references} C {candidate}");
    assert_eq!(j.name(), "smol-judge");
    assert_eq!(j.prompt(&EvalItem::new("x", vec!["y".into()])), "Q (not given) R - y C x");
    let g = j.into_inner().unwrap();
    assert_eq!(g.seen.lock().unwrap().len(), 1);
}
