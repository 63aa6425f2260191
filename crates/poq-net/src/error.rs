//! Errors of the network layer. A node's misbehaviour is not an error: it is a [`Fault`](crate::Fault)
//! written into the round's transcript line, and the round goes on.

use std::path::PathBuf;

/// What can stop a coordinator or a node server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// A network file or network value that cannot be used, with the field at fault.
    #[error("invalid network {field}: {reason}")]
    Config {
        /// The field (`evaluators[1].stake`) or file.
        field: String,
        /// What it must satisfy.
        reason: String,
    },
    /// Reading or writing a file.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A transcript line that cannot be read or does not replay.
    #[error("{}: line {line}: {reason}", path.display())]
    Transcript {
        /// The transcript file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A node server that could not start (bind, runtime).
    #[error("node server on {addr}: {source}")]
    Server {
        /// The address it was to listen on.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A rule of poq-core refused its input (a cost pool, a score).
    #[error(transparent)]
    Core(#[from] poq_core::Error),
    /// poq-sim refused the scenario built from the network, or a transcript.
    #[cfg(feature = "network")]
    #[error(transparent)]
    Sim(#[from] poq_sim::SimError),
}

/// `Result` with [`NetError`].
pub type Result<T, E = NetError> = std::result::Result<T, E>;

#[cfg(feature = "network")]
pub(crate) fn config(field: impl Into<String>, reason: impl Into<String>) -> NetError {
    NetError::Config { field: field.into(), reason: reason.into() }
}
