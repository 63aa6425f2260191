//! # poq-eval
//!
//! Evaluators for cost-aware PoQ: token F1, STS bi-encoders, cross-encoders, LLM judge; datasets and statistics.
#![deny(missing_docs)]

mod error;

pub use error::{Error, Result};
