//! A live cost-aware Proof of Quality network on real processes.
//!
//! - [`serve_evaluator`]: any `poq_core::Evaluator` behind HTTP, scoring batches and committing to
//!   a round's scores before revealing them. (Inference nodes are poq-infer's `serve`.)
//! - [`Network`]: the nodes (role, URL, stake) and the round rules, from a TOML file.
//! - [`Coordinator`]: plays rounds against the nodes — a prompt to every inference node, `k`
//!   evaluators sampled by stake, commit–reveal, consensus and pay by quality and the cost the
//!   coordinator measured itself — and appends one [`RoundLine`] per round to a transcript that
//!   poq-sim's verifier replays bit for bit ([`verify_transcript`]). Nodes that time out, die,
//!   answer garbage, misreport their timings or change their answer when audited are faults in the
//!   line, paid as docs/network.md says; the round goes on. The transcript is the state: a
//!   restarted coordinator resumes after its last line.
//! - [`monte_carlo`]: the poq-sim scenario with the qualities, score noise and costs a transcript
//!   measured, to set the live rewards beside the simulated ones.
//!
//! ```no_run
//! use poq_net::{Coordinator, Network, Prompt};
//! use poq_core::GenerationRequest;
//!
//! # fn main() -> poq_net::Result<()> {
//! let network = Network::from_path("network.toml")?;
//! let prompts = vec![Prompt {
//!     id: "q1".into(),
//!     request: GenerationRequest::user("What is the capital of France?", 16),
//!     references: vec!["Paris".into()],
//!     input: None,
//! }];
//! let coordinator = Coordinator::new(network, prompts)?;
//! let summary = coordinator.run(100, "transcript.jsonl".as_ref(), |line| eprintln!("round {}", line.round))?;
//! let lines = poq_net::verify_transcript(coordinator.network(), "transcript.jsonl".as_ref())?;
//! assert_eq!(lines.len() as u64, summary.resumed_at + summary.played);
//! # Ok(())
//! # }
//! ```

mod client;
mod coordinator;
mod error;
mod evaluator_node;
mod http;
mod monte_carlo;
mod network;
mod round;
pub mod wire;

pub use coordinator::{Coordinator, Prompt, RunSummary, read_lines, verify_transcript};
pub use error::{NetError, Result};
pub use evaluator_node::{EvaluatorNodeConfig, serve_evaluator};
pub use http::{ApiError, ErrorBody, NodeHandle, NodeLimits, serve_router};
pub use monte_carlo::monte_carlo;
pub use network::{Network, NodeEntry};
pub use round::{AuditOutcome, EvaluatorOutcome, Fault, InferenceOutcome, RoundLine, verifier, verify_line};

/// The crate README's snippets, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
