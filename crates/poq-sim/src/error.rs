//! The one error type of poq-sim.

use std::path::PathBuf;

/// Everything that can go wrong while loading, running or writing a simulation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// A scenario field is out of its domain; `field` is a path such as `evaluators[2].stake`.
    #[error("invalid scenario field `{field}`: {reason}")]
    Invalid {
        /// Path of the offending field.
        field: String,
        /// What it must satisfy (with the value seen).
        reason: String,
    },
    /// A rule of poq-core rejected a parameter of the scenario.
    #[error("scenario field `{field}`: {source}")]
    Core {
        /// Path of the offending field.
        field: String,
        /// poq-core's error.
        #[source]
        source: poq_core::Error,
    },
    /// A poq-core error that no scenario field explains: from `?` on a poq-core call, or from a
    /// rule during a run (a user's own [`Aggregator`](poq_core::Aggregator) or
    /// [`RewardRule`](poq_core::RewardRule) may fail; the built-in rules do not on checked input).
    #[error(transparent)]
    PoqCore(#[from] poq_core::Error),
    /// A rule failed in round `round` of a run.
    #[error("round {round}: {source}")]
    Round {
        /// The round.
        round: u64,
        /// The rule's error.
        #[source]
        source: poq_core::Error,
    },
    /// A scenario or sweep file could not be parsed.
    #[error("cannot parse {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (it names line and column).
        message: String,
    },
    /// A sweep or shard specification is malformed.
    #[error("bad sweep specification `{spec}`: {reason}")]
    Sweep {
        /// The offending text.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A transcript does not verify.
    #[error("transcript of round {round} does not verify: {reason}")]
    Transcript {
        /// The round.
        round: u64,
        /// What differed.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Writing or reading CSV failed.
    #[cfg(feature = "csv")]
    #[error("CSV {path}: {source}")]
    Csv {
        /// The file (or `-`).
        path: PathBuf,
        /// The csv crate's error.
        #[source]
        source: csv::Error,
    },
    /// JSON serialization failed.
    #[cfg(feature = "json")]
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl SimError {
    /// An [`SimError::Invalid`] for `field`.
    #[must_use]
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        SimError::Invalid { field: field.into(), reason: reason.into() }
    }

    /// Wraps a poq-core error with the scenario field it came from.
    pub fn core(field: impl Into<String>) -> impl FnOnce(poq_core::Error) -> Self {
        let field = field.into();
        move |source| SimError::Core { field, source }
    }
}

/// `Result` with [`SimError`].
pub type Result<T, E = SimError> = std::result::Result<T, E>;
