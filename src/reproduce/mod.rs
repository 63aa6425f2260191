//! The paper's pipeline end to end (arXiv 2512.16317): data → generations → scores → costs →
//! Monte Carlo rewards → report.
//!
//! Every stage is cached on disk under the output folder (`cache/`), keyed by the model file hashes,
//! the sample and the settings, so an interrupted run resumes where it stopped. What cannot run
//! (no generator found, no evaluator found) is skipped with a message saying how to get it, and
//! the rest still runs.

mod analysis;
mod attacks;
mod data;
mod fetching;
mod nodes;
mod quality;
mod report;
mod run;

pub use data::{DataSource, load_prompts};
pub use fetching::fetch_default_models;
pub use nodes::{EvaluatorSpec, GeneratorSource, GeneratorSpec, default_evaluators, default_generators, default_judge};
pub use run::{DEFAULT_JUDGE_SAMPLE, Outcome, run};

use std::path::PathBuf;

/// Everything the reproduction can be told (the `reproduce` example's flags).
#[derive(Debug, Clone)]
pub struct Config {
    /// Output folder: report.md, CSVs, SVGs, manifest.json, cache/.
    pub out: PathBuf,
    /// SQuAD v1.1 JSON (default: the shared data folder, else the copy fetched into `data_dir`,
    /// else the bundled sample).
    pub squad: Option<PathBuf>,
    /// CNN/DailyMail JSONL or CSV (default: the shared data folder, else the copy fetched into
    /// `data_dir`, else the bundled sample).
    pub cnndm: Option<PathBuf>,
    /// Where fetched data sets are kept (`data/`, git-ignored).
    pub data_dir: PathBuf,
    /// A mirror of SQuAD v1.1 dev (default: `$POQ_SQUAD_URL`, else the official URL).
    pub squad_url: Option<String>,
    /// A mirror of the pinned CNN/DailyMail file (default: `$POQ_CNNDM_URL`; no public URL serves it).
    pub cnndm_url: Option<String>,
    /// Never download: missing default models are an error, missing data the bundled sample.
    pub offline: bool,
    /// Prompts per task (the paper: 200).
    pub per_task: usize,
    /// Seed of prompt sampling and of the Monte Carlo simulation.
    pub seed: u64,
    /// Inference models; empty means the ones found in `models_dir`.
    pub generators: Vec<GeneratorSpec>,
    /// Evaluators besides token F1; empty means the ones found in `models_dir`.
    pub evaluators: Vec<EvaluatorSpec>,
    /// The LLM judge; None means the fetched default (Qwen2.5-Coder-1.5B-Instruct) when present.
    pub judge: Option<GeneratorSpec>,
    /// Run no judge at all (a quick look).
    pub no_judge: bool,
    /// Answers the judge scores, sampled with the seed evenly over (model, task); None means
    /// [`DEFAULT_JUDGE_SAMPLE`], at most one answer in eight.
    pub judge_sample: Option<usize>,
    /// Folder searched for default models.
    pub models_dir: PathBuf,
    /// Monte Carlo rounds (the paper: 5,000).
    pub rounds: u64,
    /// Measured repetitions per profiled test (after one warm-up).
    pub profile_repetitions: usize,
    /// Show progress bars (off when stderr is not a terminal).
    pub progress: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            out: PathBuf::from("results/reproduce"),
            squad: None,
            cnndm: None,
            data_dir: PathBuf::from("data"),
            squad_url: None,
            cnndm_url: None,
            offline: false,
            per_task: 200,
            seed: 42,
            generators: Vec::new(),
            evaluators: Vec::new(),
            judge: None,
            no_judge: false,
            judge_sample: None,
            models_dir: PathBuf::from("models"),
            rounds: 5000,
            profile_repetitions: 3,
            progress: true,
        }
    }
}

/// What can stop the reproduction.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A command-line spec could not be understood.
    #[error("invalid {what} spec `{spec}`: {reason}")]
    Spec {
        /// generator, evaluator or judge.
        what: &'static str,
        /// The spec as given.
        spec: String,
        /// What is wrong.
        reason: String,
    },
    /// Loading data or an evaluator, scoring, statistics.
    #[error(transparent)]
    Eval(#[from] poq_eval::Error),
    /// Loading or running a generator.
    #[error(transparent)]
    Infer(#[from] poq_infer::Error),
    /// Profiling.
    #[error(transparent)]
    Profile(#[from] poq_profile::Error),
    /// Simulation.
    #[error(transparent)]
    Sim(#[from] poq_sim::SimError),
    /// The on-disk cache.
    #[error(transparent)]
    Cache(#[from] crate::cache::CacheError),
    /// A core value (score, cost) out of range.
    #[error(transparent)]
    Core(#[from] poq_core::Error),
    /// Writing JSON.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// Fetching a default model or a data set.
    #[error(transparent)]
    Fetch(#[from] crate::fetch::FetchError),
    /// Nothing to measure: no inference model given and none in the models folder.
    #[error(
        "no inference model to run: none given (--generator) and none in {} (run `bash scripts/fetch-models.sh`)",
        models_dir.display()
    )]
    NoGenerator {
        /// The folder searched.
        models_dir: PathBuf,
    },
}

/// `Result` of the reproduction.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.to_path_buf(), source }
}
