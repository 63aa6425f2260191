//! # poq-infer
//!
//! Generators for cost-aware PoQ: candle chat models, GGUF quantized models, remote OpenAI-compatible nodes.
//!
//! This crate is being built; it exposes nothing yet beyond re-exporting [`poq_core`].
#![deny(missing_docs)]

pub use poq_core;
