//! # poq-core
//!
//! The vocabulary of cost-aware Proof of Quality (PoQ), with no machine learning in it.
//!
//! In a PoQ network, inference nodes answer prompts and a few sampled evaluator nodes score each
//! answer on a 0–10 scale. The scores are aggregated into a consensus, and every node is paid
//! `R = α·quality − β·cost` (arXiv 2512.16317). This crate holds exactly the parts every other
//! piece needs to agree on, and nothing heavier:
//!
//! - values: [`Score`] (checked 0–10), [`Sample`], [`EvalItem`], [`GenerationRequest`],
//!   [`Generation`], [`CostProfile`];
//! - one narrow trait per role: [`Evaluator`] and [`Generator`] for backends (implemented in
//!   poq-eval and poq-infer), [`Aggregator`] for consensus, [`RewardRule`] for payment;
//! - the mechanism's math: cost normalization ([`normalize_costs`], [`combine_costs`]), reward rules
//!   ([`Linear`], [`QualityPerCost`], [`Power`], [`split_budget`], [`normalize_rewards`]) and
//!   consensus rules ([`Mean`], [`Median`], [`TrimmedMean`], [`YumaConsensus`], [`AdaptiveTrust`]).
//!
//! The design decision is where checks live: a score or cost enters through a checked constructor
//! that names the offending field, so the hot paths (the simulator calls reward rules millions of
//! times a second) take plain `f64`s that are known to be in range.
//!
//! ```
//! use poq_core::{agreement, normalize_costs, Aggregator, Linear, Mean, Normalization, RewardRule, Score};
//!
//! // Three evaluators score one answer; the consensus is their mean.
//! let scores = [Score::new(7.0)?, Score::new(8.0)?, Score::new(6.0)?];
//! let consensus = Mean.aggregate(&scores, None)?;
//! // The inference node's latency among its pool, min-max normalized.
//! let cost = normalize_costs(&[120.0, 480.0, 300.0], Normalization::MinMax)?[0];
//! let rule = Linear::new(1.0, 0.5)?;
//! assert_eq!(rule.reward(consensus.quality(), cost), 0.7);
//! // The first evaluator is paid for agreeing with the consensus.
//! assert_eq!(agreement(scores[0], consensus), 1.0);
//! # Ok::<(), poq_core::Error>(())
//! ```
//!
//! ## Features
//!
//! None: the crate depends on serde and thiserror only.
#![deny(missing_docs)]

mod aggregate;
mod cost;
mod error;
mod reward;
mod score;
mod traits;
mod types;

pub use aggregate::{AdaptiveTrust, Aggregator, Consensus, Mean, Median, TrimmedMean, YumaConsensus};
pub use cost::{CostWeights, Normalization, combine_costs, normalize_costs};
pub use error::{Error, Result};
pub use reward::{Linear, Power, QualityPerCost, Reward, RewardRule, agreement, normalize_rewards, split_budget};
pub use score::Score;
pub use traits::{Evaluator, Generator};
pub use types::{
    ChatMessage, CostProfile, EvalItem, FinishReason, Generation, GenerationRequest, Role, Sample, Sampling, Task,
    duration_ms,
};

/// The crate README's snippets, compiled (and run where not `no_run`) as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
