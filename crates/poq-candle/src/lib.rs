//! # poq-candle
//!
//! What poq's two candle crates, poq-eval (encoders that score answers) and poq-infer (chat models
//! that write them), share, kept in one place:
//!
//! - [`ModelDir`]: a checked Hugging Face model folder. Opening it checks `config.json`, the
//!   safetensors weights (single or sharded) and `tokenizer.json`, and reads the
//!   sentence-transformers files ([`SentenceConfig`]), so a missing or malformed file names itself
//!   before any weights are read. Chat models' files are read on demand
//!   ([`ModelDir::tokenizer_config`], [`ModelDir::eos_token_ids`]).
//! - [`DeviceChoice`], [`best_device`] and [`default_dtype`]: where models run (CPU by default,
//!   CUDA or Metal behind features) and in which precision.
//! - With the `hub` feature, `ModelDir::from_hub`: a model by Hugging Face id, downloaded once into
//!   the hub cache.
//! - [`Error`]: every failure names the file and the line or field at fault; candle errors show
//!   their message without the backtrace candle captures ([`candle_message`]).
//!
//! Most users reach these through poq-eval and poq-infer, which re-export them.
//!
//! ```no_run
//! use poq_candle::{DeviceChoice, ModelDir};
//!
//! let dir = ModelDir::open("models/all-MiniLM-L6-v2")?;
//! println!("{} ({}), pooling {:?}", dir.name(), dir.model_type()?, dir.sentence_config().pooling);
//! let tensors = dir.load_tensors(&DeviceChoice::Best.resolve()?)?;
//! println!("{} tensors in {} file(s)", tensors.len(), dir.weight_files().len());
//! # Ok::<(), poq_candle::Error>(())
//! ```
//!
//! ## Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `hub` | no | `ModelDir::from_hub`, and Hugging Face ids in [`ModelDir::resolve`] (hf-hub, ureq) |
//! | `cuda` | no | [`DeviceChoice::Cuda`] and [`DeviceChoice::Best`] on NVIDIA GPUs (candle's CUDA backend) |
//! | `metal` | no | [`DeviceChoice::Metal`] and [`DeviceChoice::Best`] on Apple GPUs (candle's Metal backend) |
#![deny(missing_docs)]

mod chat;
mod device;
mod error;
#[cfg(feature = "hub")]
mod hub;
mod model_dir;
mod sentence;

pub use chat::TokenizerConfig;
pub use device::{DeviceChoice, best_device, default_dtype};
pub use error::{Error, Result, candle_message};
pub use model_dir::ModelDir;
pub use sentence::{Pooling, SentenceConfig};

/// The crate README's snippets, compiled (and run where not `no_run`) as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
