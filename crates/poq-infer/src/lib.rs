//! # poq-infer
//!
//! Generators for cost-aware PoQ: candle chat models, GGUF quantized models, remote OpenAI-compatible nodes, a node server.
#![deny(missing_docs)]

mod error;
pub mod openai;
pub mod remote;
#[cfg(feature = "server")]
pub mod server;

pub use error::{Error, Result};
pub use remote::{RemoteConfig, RemoteGenerator};
#[cfg(feature = "server")]
pub use server::{ServerConfig, ServerHandle, serve};
