//! # poq-app
//!
//! The application of the poq repository, not a library to embed (that is the [`poq`] facade and
//! the crates under `crates/`): the paper's reproduction pipeline ([`reproduce`], run by
//! `cargo run --release --example reproduce`), the pinned model and data fetcher ([`fetch`]), the
//! on-disk cache of generations and scores ([`cache`]), the live network's report ([`network`], run
//! by `cargo run --release --example network`), and the report's Markdown tables
//! ([`table`]) and SVG figures ([`svg`]). The examples, benches and end-to-end tests of the
//! repository belong to this package.
//!
//! Features (`eval`, `infer`, `profile`, `sim`, `server`, `net`, all default; `hub`, `cuda`,
//! `metal`) are forwarded to [`poq`]; [`reproduce`] needs the first four, [`network`] `net`. With `default-features = false`
//! only the fetcher, cache, tables and figures are built (no machine-learning crate), which is how
//! `scripts/fetch-models.sh` fetches before anything heavy compiles.
#![deny(missing_docs)]

pub mod cache;
pub mod fetch;
#[cfg(feature = "net")]
pub mod network;
#[cfg(all(feature = "eval", feature = "infer", feature = "profile", feature = "sim"))]
pub mod reproduce;
pub mod svg;
pub mod table;

/// The README's Rust snippets, compiled and run as doctests so that they work as pasted.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
