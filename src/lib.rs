//! # poq
//!
//! Cost-aware Proof of Quality for decentralized LLM inference: the facade over the poq crates.
//!
//! Each crate can be used alone; this package re-exports them behind features:
//!
//! | module | crate | feature |
//! |---|---|---|
//! | [`core`] | poq-core: types, traits, rewards, costs, consensus | always |
//! | [`fetch`] | the real model weights and data sets, pinned by sha256 | always |
//! | `eval` | poq-eval: evaluators, datasets, statistics | `eval` |
//! | `infer` | poq-infer: generators | `infer` |
//! | `profile` | poq-profile: cost profiling | `profile` |
//! | `sim` | poq-sim: Monte Carlo simulation (with its `json`, `toml`, `csv`, `progress` and `transcripts` features) | `sim` |
//!
//! ## Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `eval`, `infer`, `profile`, `sim` | yes | the crate re-exported under that name |
//! | `server` | yes | poq-infer's node server: `infer::serve` (axum, tokio); implies `infer` |
//! | `hub` | no | models by Hugging Face id in poq-eval and poq-infer; implies `eval`, `infer` |
//! | `cuda` | no | CUDA devices in poq-eval and poq-infer; implies `eval`, `infer` |
//! | `metal` | no | Metal devices in poq-eval and poq-infer; implies `eval`, `infer` |
//!
//! With `default-features = false` none of the machine-learning crates is built: [`core`] remains,
//! beside the modules of this repository's own examples ([`fetch`], [`cache`], [`table`], [`svg`]).
//! A program that needs one piece is lighter depending on that crate alone: poq-infer, for one,
//! has no default features and so no HTTP server.
#![deny(missing_docs)]

pub mod cache;
pub mod fetch;
#[cfg(all(feature = "eval", feature = "infer", feature = "profile", feature = "sim"))]
pub mod reproduce;
pub mod table;

pub use poq_core as core;
pub mod svg;
#[cfg(feature = "eval")]
pub use poq_eval as eval;
#[cfg(feature = "infer")]
pub use poq_infer as infer;
#[cfg(feature = "profile")]
pub use poq_profile as profile;
#[cfg(feature = "sim")]
pub use poq_sim as sim;

/// The README's Rust snippets, compiled and run as doctests so that they work as pasted.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
