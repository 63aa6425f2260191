//! # poq-infer
//!
//! Generators for cost-aware PoQ: candle chat models, GGUF quantized models, remote
//! OpenAI-compatible nodes, a node server.
//!
//! Local generation is one loop ([`LocalGenerator`]) over one small trait ([`CausalLm`]) that
//! both backends implement: safetensors models of the paper's families ([`candle`]) and GGUF
//! quantized models ([`gguf`]). Prompts go through the model's own chat template
//! ([`ChatTemplate`]), decoding through a seeded [`Sampler`], and every [`poq_core::Generation`]
//! carries the prefill and decode times that costs are computed from.
//!
//! ```no_run
//! use poq_core::{GenerationRequest, Generator};
//! use poq_infer::{LoadOptions, LocalGenerator};
//!
//! let mut g = LocalGenerator::load("models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf",
//!                                  &LoadOptions::default())?;
//! let out = g.generate(&GenerationRequest::user("What is the capital of France?", 32))?;
//! println!("{} ({} tokens)", out.text, out.generated_tokens);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `server` | no | `serve`, `serve_local`, `ServerConfig`, `ServerHandle`, `parse_chat_request`: any generator as an OpenAI-compatible inference node (axum, tokio, hyper) |
//! | `hub` | no | Hugging Face ids besides local folders in [`ModelDir::resolve`] and [`LocalGenerator::load`] (hf-hub, ureq) |
//! | `cuda` | no | CUDA devices for safetensors models and candle's quantized GGUF kernels |
//! | `metal` | no | Metal devices, likewise |
//!
//! [`ModelDir`], [`best_device`] and [`default_dtype`] come from poq-candle (shared with
//! poq-eval); their error, [`ModelError`], turns into this crate's [`Error`] with `?`, kind for
//! kind.
//!
//! Without features: local safetensors and GGUF models on the CPU, and remote endpoints
//! ([`RemoteGenerator`]), with no HTTP server or async runtime in the dependency tree.
#![deny(missing_docs)]

#[cfg(feature = "server")]
mod batch_loop;
pub mod candle;
mod chat_template;
mod continuous;
mod device;
mod error;
mod few_shot;
pub mod gguf;
mod local;
#[cfg(feature = "server")]
mod metrics;
mod model_dir;
pub mod openai;
pub mod quant;
mod remote;
mod sampling;
#[cfg(feature = "server")]
mod server;
mod tokenizer;

pub use chat_template::ChatTemplate;
pub use continuous::{Admitted, Event, Scheduler, SequenceEvent, SequenceId};
pub use device::{LoadOptions, best_device, default_dtype};
pub use error::{Error, Result};
pub use few_shot::FewShot;
pub use local::{BatchLm, CausalLm, DEFAULT_MAX_BATCH, LocalGenerator, TokenGeneration};
pub use model_dir::{ModelDir, TokenizerConfig};
pub use poq_candle::Error as ModelError;
pub use remote::{RemoteConfig, RemoteGenerator};
pub use sampling::{Sampler, apply_repetition_penalty, argmax};
#[cfg(feature = "server")]
pub use server::{ApiError, ParsedRequest, ServerConfig, ServerHandle, parse_chat_request, serve, serve_local};
pub use tokenizer::TextTokenizer;

/// The crate README's snippets, compiled (and run where not `no_run`) as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
