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
//! - [`serve_router`] and its limits ([`NodeLimits`], [`ApiError`]): the plumbing every node server
//!   shares, poq-infer's inference node included. It is all that remains without the default
//!   `network` feature (no poq-sim, no HTTP client).
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

#[cfg(feature = "network")]
mod client;
#[cfg(feature = "network")]
mod coordinator;
mod error;
#[cfg(feature = "network")]
mod evaluator_node;
mod http;
#[cfg(feature = "network")]
mod monte_carlo;
#[cfg(feature = "network")]
mod network;
#[cfg(feature = "network")]
mod round;
#[cfg(feature = "network")]
pub mod wire;

#[cfg(feature = "network")]
pub use coordinator::{Coordinator, Prompt, RunSummary, read_lines, verify_transcript};
pub use error::{NetError, Result};
#[cfg(feature = "network")]
pub use evaluator_node::{EvaluatorNodeConfig, serve_evaluator};
pub use http::{
    ApiError, ErrorBody, NodeHandle, NodeLimits, admit, read_body, serve_router, serve_router_then, with_fallbacks,
};
#[cfg(feature = "network")]
pub use monte_carlo::monte_carlo;
#[cfg(feature = "network")]
pub use network::{Network, NodeEntry};
#[cfg(feature = "network")]
pub use round::{AuditOutcome, EvaluatorOutcome, Fault, InferenceOutcome, RoundLine, verifier, verify_line};

/// The crate README's snippets, compiled as doctests.
#[cfg(all(doctest, feature = "network"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
