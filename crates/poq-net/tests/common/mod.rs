//! Test nodes: a word-overlap evaluator behind the real evaluator server, and small
//! OpenAI-compatible inference nodes whose behaviour a test chooses (honest, slow, lying, garbage).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::Router;
use axum::routing::post;
use poq_core::{EvalItem, Evaluator, GenerationRequest, Score};
use poq_net::{EvaluatorNodeConfig, Network, NodeEntry, NodeHandle, NodeLimits, Prompt, serve_evaluator, serve_router};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// 10 × the share of the first reference's words that are words of the candidate.
#[derive(Debug, Clone, Copy)]
pub struct Overlap {
    pub delay: Duration,
}

impl Evaluator for Overlap {
    fn name(&self) -> &str {
        "overlap"
    }
    fn score_batch(&self, items: &[EvalItem]) -> poq_core::Result<Vec<Score>> {
        std::thread::sleep(self.delay);
        items
            .iter()
            .map(|it| {
                let words: Vec<&str> = it.references[0].split_whitespace().collect();
                let candidate: Vec<&str> = it.candidate.split_whitespace().collect();
                let hit = words.iter().filter(|w| candidate.contains(w)).count();
                Score::new(10.0 * hit as f64 / words.len().max(1) as f64)
            })
            .collect()
    }
}

pub fn evaluator_node(delay_ms: u64) -> NodeHandle {
    let e: Arc<dyn Evaluator> = Arc::new(Overlap { delay: Duration::from_millis(delay_ms) });
    serve_evaluator("127.0.0.1:0".parse().unwrap(), e, EvaluatorNodeConfig::default()).unwrap()
}

/// How a test inference node behaves.
#[derive(Debug, Clone, Copy)]
pub struct Behaviour {
    /// Time it takes per answer.
    pub delay_ms: u64,
    /// Its timing claim as a multiple of the real time (1 is honest).
    pub claim: f64,
    /// Answers differ from call to call (fails audits).
    pub fickle: bool,
    /// Answers with JSON that is not a chat completion.
    pub garbage: bool,
    /// Answer quality: the share of the prompt's answer words it repeats (0 to 1).
    pub quality: f64,
}

impl Behaviour {
    pub fn honest(delay_ms: u64, quality: f64) -> Self {
        Behaviour { delay_ms, claim: 1.0, fickle: false, garbage: false, quality }
    }
}

/// An OpenAI-compatible node: answers with the first `quality` share of "alpha beta ... kappa".
pub fn inference_node(b: Behaviour) -> NodeHandle {
    let calls = Arc::new(AtomicU64::new(0));
    let router = Router::new().route(
        "/v1/chat/completions",
        post(move |_body: axum::body::Bytes| {
            let calls = calls.clone();
            async move {
                let n = calls.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(b.delay_ms)).await;
                if b.garbage {
                    return axum::Json(serde_json::json!({ "hello": "world" }));
                }
                let words: Vec<&str> = ANSWER.split_whitespace().collect();
                let keep = (b.quality * words.len() as f64).round() as usize;
                let mut text = words[..keep].join(" ");
                if b.fickle {
                    text.push_str(&format!(" #{n}"));
                }
                let claimed = b.delay_ms as f64 * b.claim;
                axum::Json(serde_json::json!({
                    "choices": [{ "index": 0, "message": { "role": "assistant", "content": text }, "finish_reason": "stop" }],
                    "usage": { "prompt_tokens": 5, "completion_tokens": keep, "total_tokens": 5 + keep },
                    "timings": { "prompt_n": 5, "prompt_ms": claimed * 0.2, "predicted_n": keep, "predicted_ms": claimed * 0.8 },
                }))
            }
        }),
    );
    serve_router("127.0.0.1:0".parse().unwrap(), router, &NodeLimits::default()).unwrap()
}

pub const ANSWER: &str = "alpha beta gamma delta epsilon zeta eta theta iota kappa";

pub fn prompts() -> Vec<Prompt> {
    (0..5)
        .map(|i| Prompt {
            id: format!("p{i}"),
            request: GenerationRequest::user(format!("question {i}"), 16),
            references: vec![ANSWER.into()],
            input: Some(format!("question {i}")),
        })
        .collect()
}

pub fn network(inference: &[&NodeHandle], evaluators: &[&NodeHandle]) -> Network {
    let entry =
        |prefix: &str, i: usize, url: String| NodeEntry { name: format!("{prefix}{i}"), url, stake: 1.0 + i as f64 };
    let mut n = Network::new(
        inference.iter().enumerate().map(|(i, h)| entry("inf", i, format!("{}/v1", h.url()))).collect(),
        evaluators.iter().enumerate().map(|(i, h)| entry("eval", i, h.url())).collect(),
    );
    n.k = evaluators.len().min(2);
    n.timeout_s = 5.0;
    n
}
