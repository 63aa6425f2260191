//! # poq-sim
//!
//! Monte Carlo simulation of cost-aware Proof of Quality (PoQ) rounds (arXiv 2512.16317 and its
//! follow-up 2601.21189): the paper's 5,000-round experiment as a tool for designing a network, with
//! adversaries, defences (audited costs, spot-check trust, commit-reveal transcripts) and sweeps.
//!
//! In each round a prompt is drawn, inference nodes answer it (their true quality drawn from a
//! [`QualityModel`]), `k` sampled evaluators score every answer (a [`ScoreModel`], then any
//! adversary), the scores are aggregated into a consensus, and every node is paid by a reward rule
//! from its quality and its normalized cost. A [`Report`] holds each node's mean reward with a 95 %
//! confidence interval, its share, and how close the consensus came to the truth.
//!
//! - [`Scenario`]: the nodes and the rules of the round, plain data, built in code or read from TOML
//!   or JSON. Every key of the file format, with its default, each adversary and each defence:
//!   [`docs/scenario.md`](https://github.com/poq-rs/poq/blob/main/docs/scenario.md).
//! - [`Engine`]: a validated, compiled scenario. [`Engine::new`] uses the scenario's own consensus
//!   and reward rules (poq-core's [`Consensus`] and [`Reward`]); [`Engine::with_rules`] runs any
//!   [`Aggregator`] and [`RewardRule`], your own included, in the same monomorphized loops.
//! - [`simulate`] and [`simulate_with`]: validate and run in one call.
//! - [`sweep`]: cartesian sweeps over scenario parameters, sharded for batch schedulers;
//!   [`output`]: tidy CSV and JSON.
//! - [`Population`] and [`PopulationRun`]: networks of 10^4–10^6 nodes given by classes, drawn
//!   from alias tables, with churn, reported as distributions per class ([`PopulationReport`]):
//!   [`docs/population.md`](https://github.com/poq-rs/poq/blob/main/docs/population.md).
//!
//! Randomness is counter-based: round `r` draws everything from a generator seeded by
//! `(seed, r)` alone, so rounds run in any order on any number of threads and give byte-identical
//! results, in constant memory. Runs use the current rayon thread pool (`RAYON_NUM_THREADS`, or
//! your own pool's `install`).
//!
//! ```
//! use poq_sim::poq_core::{Aggregator, Result, Score};
//! use poq_sim::{evaluator_node, inference_node, simulate, simulate_with, Scenario};
//!
//! // Two inference nodes (mean quality, sd, latency ms) and three evaluators (correlation with
//! // the truth, bias, scale, latency ms); every other setting at its documented default.
//! let mut sc = Scenario::new(
//!     vec![inference_node("big", 7.5, 1.5, 900.0), inference_node("small", 4.0, 1.5, 300.0)],
//!     vec![
//!         evaluator_node("sts", 0.7, 0.0, 2.0, 12.0),
//!         evaluator_node("cross-a", 0.4, -1.0, 2.0, 45.0),
//!         evaluator_node("cross-b", 0.2, -1.0, 2.0, 60.0),
//!     ],
//! );
//! sc.rounds = 2000;
//! let report = simulate(&sc)?;
//! // R = q − 0.5·c: the cheap node out-earns the better one (about 0.40 − 0 against 0.75 − 0.5).
//! assert!(report.node("small").unwrap().mean_reward > report.node("big").unwrap().mean_reward);
//!
//! /// A consensus of your own: the lowest score.
//! struct Min;
//! impl Aggregator for Min {
//!     fn name(&self) -> &str { "min" }
//!     fn aggregate(&self, scores: &[Score], _weights: Option<&[f64]>) -> Result<Score> {
//!         scores.iter().copied().min_by(|a, b| a.value().total_cmp(&b.value()))
//!             .ok_or(poq_sim::poq_core::Error::Empty { what: "scores" })
//!     }
//! }
//! let strict = simulate_with(&sc, Min, sc.reward)?;
//! assert_eq!(strict.params["consensus"], "min");
//! assert!(strict.consensus.bias < report.consensus.bias);
//! # Ok::<(), poq_sim::SimError>(())
//! ```
//!
//! The same scenario from a TOML file (feature `toml`), with one colluding evaluator:
//!
//! ```
//! # #[cfg(feature = "toml")] {
//! let sc = poq_sim::Scenario::from_toml(r#"
//!     rounds = 2000
//!     [[inference]]
//!     name = "big"
//!     quality = { model = "normal", mean = 7.5, sd = 1.5 }
//!     cost = 900.0
//!     [[inference]]
//!     name = "small"
//!     quality = { model = "normal", mean = 4.0, sd = 1.5 }
//!     cost = 300.0
//!     [[evaluators]]
//!     name = "sts"
//!     scoring = { model = "correlated", correlation = 0.7, scale = 2.0 }
//!     cost = 12.0
//!     [[evaluators]]
//!     name = "cross-a"
//!     scoring = { model = "noisy", sd = 1.5 }
//!     cost = 45.0
//!     [[evaluators]]
//!     name = "ring"
//!     scoring = { model = "noisy", sd = 1.0 }
//!     cost = 20.0
//!     adversary = { attack = "collusion", ring = "small", amount = 3.0 }
//! "#)?;
//! let report = poq_sim::simulate(&sc)?;
//! assert_eq!(report.params["attack"], "collusion");
//! # }
//! # Ok::<(), poq_sim::SimError>(())
//! ```
//!
//! ## Features
//!
//! None is on by default: the default build simulates scenarios built in code (22 crates in all).
//!
//! | feature | adds | crate it pulls |
//! |---|---|---|
//! | `json` | [`Scenario::from_json`], JSON in [`Scenario::from_path`], [`output::write_json_file`] | serde_json |
//! | `toml` | [`Scenario::from_toml`], `.toml` files in [`Scenario::from_path`] | toml |
//! | `csv` | [`output::write_csv`], [`output::write_csv_file`], [`output::merge_csv`] | csv |
//! | `progress` | a progress bar on stderr ([`RunOptions::progress`](method@RunOptions::progress), [`sweep::run_sweep`]) | indicatif |
//! | `transcripts` | commit-reveal transcripts: [`Engine::transcripts`], [`Engine::verify`], [`RunOptions::transcripts`](method@RunOptions::transcripts), [`commitment`] (implies `json`) | sha2 |
#![cfg_attr(
    not(all(feature = "json", feature = "toml", feature = "csv", feature = "progress", feature = "transcripts")),
    allow(rustdoc::broken_intra_doc_links)
)]
#![deny(missing_docs)]

mod adversary;
mod alias;
mod engine;
mod error;
mod honest;
mod models;
mod network;
pub mod output;
mod paper;
mod popreport;
mod popsim;
mod popsweep;
mod poptrust;
mod population;
mod report;
mod rng;
mod round;
mod run;
mod scenario;
mod special;
mod stats;
pub mod sweep;
#[cfg(feature = "transcripts")]
mod transcript;
#[cfg(not(feature = "transcripts"))]
mod transcript {
    /// Without feature `transcripts` no round is written down: this type has no value.
    #[derive(Debug)]
    pub(crate) enum Transcript {}
}
mod trust;

pub use adversary::{EvaluatorAdversary, EvaluatorAttack, InferenceAttack, LazyScore};
pub use engine::{Engine, MAX_K};
pub use error::{Result, SimError};
pub use models::{QualityModel, ScoreModel};
pub use network::{NETWORK_MODELS, NETWORK_TIERS, network_population};
pub use paper::{PAPER_EVALUATORS, PAPER_INFERENCE, bench, builtin, evaluator_node, inference_node, paper};
pub use popreport::{
    CI_GRID, ClassStats, Curve, DetectionStats, Distribution, PopulationReport, PopulationResult, QUANTILES, gini,
    lorenz, simulate_population, top_share,
};
pub use popsim::{PopulationRun, PopulationSums};
pub use population::{
    AdversaryShare, Churn, Detection, EvaluatorClass, InferenceClass, Population, PopulationAttack, PopulationTrust,
    StakeDist,
};
pub use poq_core;
pub use poq_core::{Aggregator, Consensus, Reward, RewardRule};
pub use report::{ConsensusAccuracy, NodeKind, NodeStats, Report};
pub use run::{RunOptions, simulate, simulate_with};
pub use scenario::{Audit, Cost, EvaluatorNode, InferenceNode, Scenario, Selection, Serving};
pub use stats::mean_ci95;
#[cfg(feature = "transcripts")]
pub use transcript::{AnswerRecord, Transcript, commitment};
pub use trust::{RelativeSpotCheck, RelativeSpotCheckTrust, SpotCheck, SpotCheckTrust, Trust};

/// The crate README's snippets, compiled (and run where not `no_run`) as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
