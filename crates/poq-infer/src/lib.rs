//! # poq-infer
//!
//! Generators for cost-aware PoQ: candle chat models, GGUF quantized models, remote OpenAI-compatible nodes, a node server.
#![deny(missing_docs)]

mod error;

pub use error::{Error, Result};
