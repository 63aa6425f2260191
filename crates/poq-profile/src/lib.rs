//! # poq-profile
//!
//! Latency, throughput and memory profiling of PoQ evaluators and generators into cost profiles.
//!
//! This crate is being built; it exposes nothing yet beyond re-exporting [`poq_core`].
#![deny(missing_docs)]

pub use poq_core;
