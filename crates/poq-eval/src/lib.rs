//! # poq-eval
//!
//! Evaluators for cost-aware PoQ: token F1, STS bi-encoders, cross-encoders, LLM judge; datasets and statistics.
//!
//! This crate is being built; it exposes nothing yet beyond re-exporting [`poq_core`].
#![deny(missing_docs)]

pub use poq_core;
