//! # poq-sim
//!
//! Monte Carlo simulation of cost-aware PoQ rounds: scenarios, adversaries, audits and sweeps.
//!
//! This crate is being built; it exposes nothing yet beyond re-exporting [`poq_core`].
#![deny(missing_docs)]

pub use poq_core;
