//! # poq-sim
//!
//! Monte Carlo simulation of cost-aware Proof of Quality rounds (arXiv 2512.16317 and its
//! follow-up 2601.21189): the paper's 5,000-round experiment as a tool for designing a network,
//! with adversaries, defences (audited costs, spot-check trust, commit-reveal transcripts) and
//! sweeps.
//!
//! A [`Scenario`] (serde: TOML or JSON, or built in code) lists inference and evaluator nodes, their
//! quality or scoring models, true and reported costs, stakes and adversaries, and the rules of the
//! round (K, sampling, serving, poq-core's [`Consensus`](poq_core::Consensus) and
//! [`Reward`](poq_core::Reward), audits, trust). [`Engine::new`] validates and compiles it;
//! [`Engine::run`] plays the rounds and returns a [`Report`].
//!
//! The design decision is counter-based randomness: round `r` draws everything from a generator
//! seeded by `(seed, r)` alone, so rounds can run in any order on any number of threads and give
//! byte-identical results, and memory stays constant (streaming accumulators merged in a fixed
//! chunk order).
//!
//! ```
//! use poq_sim::{paper, simulate};
//! let mut sc = paper();
//! sc.rounds = 2000;
//! let report = simulate(&sc)?;
//! let top = report.nodes.iter().filter(|n| n.kind == poq_sim::NodeKind::Inference)
//!     .max_by(|a, b| a.mean_reward.total_cmp(&b.mean_reward)).map(|n| n.node.as_str());
//! assert_eq!(top, Some("Llama-3.2-3B"));
//! # Ok::<(), poq_sim::SimError>(())
//! ```
#![deny(missing_docs)]

mod adversary;
mod engine;
mod error;
mod honest;
mod models;
pub mod output;
mod paper;
mod report;
mod rng;
mod round;
mod run;
mod scenario;
mod stats;
pub mod sweep;
mod transcript;
mod trust;

pub use adversary::{EvaluatorAdversary, EvaluatorAttack, InferenceAttack, LazyScore};
pub use engine::{Engine, MAX_K};
pub use error::{Result, SimError};
pub use models::{QualityModel, ScoreModel};
pub use paper::{PAPER_EVALUATORS, PAPER_INFERENCE, bench, builtin, evaluator_node, inference_node, paper};
pub use poq_core;
pub use report::{ConsensusError, NodeKind, NodeStats, Report};
pub use rng::RoundRng;
pub use run::{CHUNK, RunOptions, init_threads, progress_bar, simulate};
pub use scenario::{Audit, Cost, EvaluatorNode, InferenceNode, Scenario, Selection, Serving};
pub use stats::Welford;
pub use transcript::{AnswerRecord, Transcript, commitment};
pub use trust::{SpotCheck, SpotCheckTrust, Trust};
