//! # poq-eval
//!
//! The evaluators of cost-aware Proof of Quality (PoQ, arXiv 2512.16317), with the paper's data
//! sets and the statistics that judge an evaluator against a yardstick.
//!
//! In a PoQ network a few sampled evaluator nodes score each answer an inference node gives on a
//! 0–10 scale. Every evaluator here implements one narrow trait from poq-core,
//! [`poq_core::Evaluator`]: `score_batch(&[EvalItem]) -> Vec<Score>`, where an
//! [`EvalItem`](poq_core::EvalItem) is a candidate answer, its reference answers and optionally the
//! question or source. A score is a checked [`Score`](poq_core::Score) in 0–10, so aggregators and
//! reward rules downstream never see a NaN.
//!
//! ## Evaluators
//!
//! | evaluator | name | what it computes | needs |
//! |---|---|---|---|
//! | [`TokenF1`] | `f1` | 10 × the official SQuAD v1.1 token F1, best over references | nothing |
//! | [`ExactMatch`] | `em` | 10 when the normalized answer equals a normalized reference | nothing |
//! | [`StsEvaluator`] | `sts` | 10 × max(0, cos) of sentence embeddings (bi-encoder) | a sentence-transformers folder |
//! | [`CrossEncoder`] | `ce` | a pair classifier's probability × 10 (BERT, RoBERTa, DeBERTa-v2 heads) | a cross-encoder folder |
//! | [`LlmJudge`] | `judge` | any [`poq_core::Generator`] asked to grade on 0–10 | a generator (poq-infer) |
//! | [`Cascade`] | `cascade(cheap>costly)` | a cheap evaluator, and a costly one only for cheap scores inside a band | two evaluators |
//!
//! The neural evaluators run our own candle implementation of BERT-, RoBERTa- and MPNet-family
//! encoders ([`SentenceEncoder`]; pooling and normalization read from the folder's
//! sentence-transformers files, [`ModelDir`]) on the device chosen by [`DeviceChoice`]. Token F1
//! agrees character for character with the official `evaluate-v1.1.py`
//! ([`normalize_answer`], [`f1_score`], [`max_f1`]).
//!
//! Beside the evaluators: [`datasets`] loads SQuAD v1.1 and CNN/DailyMail into
//! [`Sample`](poq_core::Sample)s, samples them with a seed and turns them into prompts; [`stats`]
//! correlates an evaluator with F1 or a judge (Pearson, Spearman, Kendall with p-values and
//! bootstrap intervals) and calibrates its scale; [`quality`] splits an answer's quality into
//! audited dimensions and fits them into one calibrated composite evaluator.
//!
//! ## Example
//!
//! ```no_run
//! use poq_core::{EvalItem, Evaluator};
//! use poq_eval::{Cascade, DeviceChoice, ModelDir, StsEvaluator, TokenF1};
//!
//! let items = [EvalItem::new("in Paris", vec!["Paris".into(), "Paris, France".into()])];
//! // Token F1 needs no model.
//! let f1 = TokenF1.score_batch(&items)?;
//! // An STS bi-encoder from a local sentence-transformers folder, on the CPU.
//! let sts = StsEvaluator::load(&ModelDir::open("models/all-MiniLM-L6-v2")?, DeviceChoice::Cpu)?;
//! let sts_scores = sts.score_batch(&items)?;
//! println!("f1 {} sts {}", f1[0].value(), sts_scores[0].value());
//! // F1 decides where it is sure (above 8); the encoder re-scores F1 scores in [0, 8].
//! let cascade = Cascade::new(TokenF1, sts, 0.0, 8.0)?;
//! cascade.score_batch(&items)?;
//! println!("{} of {} items went to stage two", cascade.stage_two_count(), cascade.items_seen());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Errors
//!
//! One error type, [`Error`]: a missing or malformed file names the file and the line, JSON path or
//! field at fault. [`ModelDir`] and [`DeviceChoice`] come from poq-candle (shared with poq-infer)
//! and return its error, [`ModelError`]; `?` turns that into this one, kind for kind (a missing
//! file is [`Error::MissingFile`] either way). Into poq-core's error (what
//! [`poq_core::Evaluator`] returns) it converts with `?`.
//!
//! ## Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `hub` | no | `ModelDir::from_hub`: models by Hugging Face id, downloaded once into the hub cache (hf-hub, ureq) |
//! | `cuda` | no | [`DeviceChoice::Cuda`] and [`DeviceChoice::Best`] on NVIDIA GPUs (candle's CUDA backend) |
//! | `metal` | no | [`DeviceChoice::Metal`] and [`DeviceChoice::Best`] on Apple GPUs (candle's Metal backend) |
//!
//! Without features everything runs on the CPU from local folders.
#![deny(missing_docs)]

mod cascade;
mod cross_encoder;
pub mod datasets;
mod device;
mod encoder;
mod error;
mod f1;
mod judge;
mod model_dir;
pub mod quality;
pub mod stats;
mod sts;

pub use cascade::Cascade;
pub use cross_encoder::{CrossEncoder, LogitRule, PairInput};
pub use device::DeviceChoice;
pub use encoder::{
    Activation, DEFAULT_BATCH_SIZE, EncoderConfig, Family, Pooling, RELATIVE_BUCKETS, SentenceEncoder, relative_bucket,
};
pub use error::{Error, Result};
pub use f1::{
    ExactMatch, F1_REFERENCE_VERSION, TokenF1, exact_match_score, f1_score, max_exact_match, max_f1, normalize_answer,
};
pub use judge::{DEFAULT_RUBRIC, JUDGE_REASK, LlmJudge, parse_score};
pub use model_dir::{ModelDir, SentenceConfig};
pub use poq_candle::Error as ModelError;
pub use sts::{ScoreMapping, StsEvaluator, cosine};

/// The crate README's snippets, compiled (and run where not `no_run`) as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
