//! # poq
//!
//! Cost-aware Proof of Quality for decentralized LLM inference: the facade over the poq crates.
//! Every node — inference and evaluator alike — is paid `R = α·quality − β·cost`, with the cost
//! measured (latency, throughput, memory) rather than claimed.
//!
//! This crate only re-exports the others, behind features:
//!
//! | module | crate | feature |
//! |---|---|---|
//! | [`core`] | poq-core: types, traits, rewards, costs, consensus | always |
//! | `eval` | poq-eval: evaluators (F1, STS, cross-encoders, judges), datasets, statistics | `eval` |
//! | `infer` | poq-infer: generators (candle, GGUF on our own kernels, remote endpoints) | `infer` |
//! | `profile` | poq-profile: cost profiling | `profile` |
//! | `sim` | poq-sim: Monte Carlo simulation (with its `json`, `toml`, `csv`, `progress` and `transcripts` features) | `sim` |
//! | `net` | poq-net: a live network over HTTP (evaluator node server, coordinator, transcripts) | `net` |
//!
//! ## Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `eval`, `infer`, `profile`, `sim` | yes | the crate re-exported under that name |
//! | `server` | no | poq-infer's node server: `infer::serve` (axum, tokio); implies `infer` |
//! | `net` | no | poq-net re-exported as `net` (axum, tokio, ureq) |
//! | `hub` | no | models by Hugging Face id in poq-eval and poq-infer; implies `eval`, `infer` |
//! | `cuda` | no | CUDA devices in poq-eval and poq-infer; implies `eval`, `infer` |
//! | `metal` | no | Metal devices in poq-eval and poq-infer; implies `eval`, `infer` |
//!
//! With `default-features = false` only [`core`] remains. A program that needs one piece is
//! lighter depending on that crate alone.
//!
//! ```
//! use poq::core::{Linear, RewardRule};
//! let rule = Linear::new(1.0, 0.5)?;
//! assert!((rule.reward(0.8, 0.4) - 0.6).abs() < 1e-12);
//! # Ok::<(), poq::core::Error>(())
//! ```
#![deny(missing_docs)]

/// The README's snippet, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub use poq_core as core;
#[cfg(feature = "eval")]
pub use poq_eval as eval;
#[cfg(feature = "infer")]
pub use poq_infer as infer;
#[cfg(feature = "net")]
pub use poq_net as net;
#[cfg(feature = "profile")]
pub use poq_profile as profile;
#[cfg(feature = "sim")]
pub use poq_sim as sim;
