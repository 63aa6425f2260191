//! The one error type of poq-eval.

use std::path::PathBuf;

/// Everything that can go wrong while loading data or models and scoring.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file was read but its content is wrong; `location` names the line or field.
    #[error("{path}: {location}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// Line number, JSON path or field name.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// A required model file is missing from a model folder.
    #[error("model folder {dir} has no {file}")]
    MissingFile {
        /// The model folder.
        dir: PathBuf,
        /// The missing file's name.
        file: String,
    },
    /// The model's architecture or configuration is not supported.
    #[error("unsupported model: {0}")]
    Unsupported(String),
    /// A tensor operation failed in candle. Shown as candle's message and context, without the
    /// backtrace candle captures when `RUST_BACKTRACE` is set (`{:?}` still shows it).
    #[error("candle: {}", candle_message(.0))]
    Candle(candle_core::Error),
    /// The tokenizer failed.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// A parameter is out of its domain.
    #[error("invalid argument `{name}`: {message}")]
    InvalidArgument {
        /// The argument's name.
        name: &'static str,
        /// What it must satisfy.
        message: String,
    },
    /// A model could not be resolved through the Hugging Face hub (offline, unknown id, ...).
    #[error("hugging face hub: {0}")]
    Hub(String),
    /// An LLM judge replied twice without a usable 0–10 score.
    #[error("judge {judge} gave no 0-10 score (asked twice): first reply {first:?}, second reply {second:?}")]
    JudgeReply {
        /// The judge's name.
        judge: String,
        /// The first reply.
        first: String,
        /// The reply to the re-ask.
        second: String,
    },
    /// A lock around a shared backend was poisoned by a panic in another thread.
    #[error("{what} is unusable: a thread panicked while holding it")]
    Poisoned {
        /// What was locked.
        what: &'static str,
    },
    /// A failure of poq-candle (model folders, devices, hub downloads) of a kind this enum has
    /// no variant for yet; the kinds it has come as those variants ([`Error::MissingFile`], ...).
    #[error(transparent)]
    Model(poq_candle::Error),
    /// An error from poq-core (an invalid score, a generator failure).
    #[error(transparent)]
    Core(#[from] poq_core::Error),
}

/// `Result` with poq-eval's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for poq_core::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Core(inner) => inner,
            other => poq_core::Error::backend("poq-eval", other),
        }
    }
}

impl From<candle_core::Error> for Error {
    fn from(e: candle_core::Error) -> Self {
        Error::Candle(e)
    }
}

/// poq-candle's errors (model folders, devices, hub downloads) as the variants of the same name,
/// so a caller matches one `Error::Format` (say) whichever layer found the problem.
impl From<poq_candle::Error> for Error {
    fn from(e: poq_candle::Error) -> Self {
        use poq_candle::Error as E;
        match e {
            E::Io { path, source } => Error::Io { path, source },
            E::Format { path, location, message } => Error::Format { path, location, message },
            E::MissingFile { dir, file } => Error::MissingFile { dir, file },
            E::Unsupported(message) => Error::Unsupported(message),
            E::Candle(e) => Error::Candle(e),
            E::Tokenizer(message) => Error::Tokenizer(message),
            E::Hub(message) => Error::Hub(message),
            other => Error::Model(other),
        }
    }
}

// One helper for both candle crates: candle errors without candle's captured backtrace.
pub(crate) use poq_candle::candle_message;
