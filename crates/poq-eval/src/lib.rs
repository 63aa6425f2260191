//! # poq-eval
//!
//! Evaluators for cost-aware PoQ: token F1, STS bi-encoders, cross-encoders, LLM judge; datasets and statistics.
#![deny(missing_docs)]

pub mod cascade;
pub mod cross_encoder;
pub mod datasets;
pub mod device;
pub mod encoder;
mod error;
pub mod f1;
pub mod judge;
pub mod model_dir;
pub mod stats;
pub mod sts;

pub use cascade::Cascade;
pub use cross_encoder::{CrossEncoder, PairInput};
pub use device::DeviceChoice;
pub use encoder::{Pooling, SentenceEncoder};
pub use error::{Error, Result};
pub use f1::{ExactMatch, TokenF1};
pub use judge::LlmJudge;
pub use model_dir::{ModelDir, SentenceConfig};
pub use sts::{ScoreMapping, StsEvaluator};
