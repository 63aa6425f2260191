//! The one error type of poq-profile.

use std::path::PathBuf;

use crate::record::SubjectKind;

/// Everything that can go wrong while profiling or reading and writing profiles.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A profiler setting or argument is unusable (zero repetitions, no batch sizes, ...).
    #[error("invalid profiler setting `{name}`: {reason}")]
    InvalidConfig {
        /// The setting or argument.
        name: &'static str,
        /// What it must satisfy.
        reason: String,
    },
    /// The evaluator or generator being profiled failed.
    #[error("{kind} `{name}` failed during {phase}: {source}")]
    Subject {
        /// Evaluator or generator.
        kind: SubjectKind,
        /// Its name.
        name: String,
        /// What the profiler was doing (`warm-up run 1 at batch size 4`, ...).
        phase: String,
        /// The subject's own error.
        #[source]
        source: poq_core::Error,
    },
    /// An evaluator returned a different number of scores than it was given items.
    #[error("evaluator `{name}` returned {got} scores for a batch of {expected} during {phase}")]
    OutputLength {
        /// The evaluator's name.
        name: String,
        /// Items given.
        expected: usize,
        /// Scores returned.
        got: usize,
        /// What the profiler was doing.
        phase: String,
    },
    /// A set of measurements could not be summarized (empty, or a non-finite value).
    #[error("cannot summarize `{what}`: {reason}")]
    Statistics {
        /// Which measurement.
        what: String,
        /// Why.
        reason: String,
    },
    /// A measured cost profile failed poq-core's validation.
    #[error("cost profile of `{name}` is invalid: {source}")]
    Cost {
        /// The subject's name.
        name: String,
        /// poq-core's validation error (it names the field).
        #[source]
        source: poq_core::Error,
    },
    /// A CSV profile file has a bad value in a known column.
    #[error("bad CSV profile `{path}`, line {line}, column `{column}`: {message}")]
    CsvColumn {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The column's header.
        column: String,
        /// What is wrong with the value.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("cannot access `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON profile file is malformed (the message carries line and column).
    #[error("bad JSON profile `{path}`: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },
    /// A CSV profile file is malformed (the message carries the record and field).
    #[error("bad CSV profile `{path}`: {source}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// The csv crate's error.
        #[source]
        source: csv::Error,
    },
}

/// `Result` with poq-profile's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
