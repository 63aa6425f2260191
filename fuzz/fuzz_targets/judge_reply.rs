//! The LLM-judge reply parser, directly and through LlmJudge with a generator that replies with
//! the fuzz text: a score in [0, 10], None, or a typed error; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poq_core::{EvalItem, Generation, GenerationRequest, Generator};
use poq_eval::LlmJudge;
use poq_eval::parse_score;
use std::time::Duration;

/// Replies with the same text to every request.
#[derive(Debug)]
struct Scripted(String);

impl Generator for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }
    fn generate(&mut self, _request: &GenerationRequest) -> poq_core::Result<Generation> {
        Ok(Generation {
            text: self.0.clone(),
            prompt_tokens: 1,
            generated_tokens: 1,
            prefill: Duration::from_millis(1),
            decode: Duration::from_millis(1),
            finish_reason: poq_core::FinishReason::Stop,
        })
    }
}

fuzz_target!(|data: &[u8]| {
    let reply = String::from_utf8_lossy(data).into_owned();
    let direct = parse_score(&reply);
    if let Some(s) = direct {
        assert!((0.0..=10.0).contains(&s), "parsed {s}");
    }
    let judge = LlmJudge::new(Scripted(reply));
    let item = EvalItem::new("a candidate", vec!["a reference".into()]).with_input("a question");
    match judge.judge(&item) {
        Ok(score) => assert_eq!(Some(score.value()), direct),
        Err(_) => assert!(direct.is_none()),
    }
});
