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

/// A candle error as a user reads it: its message, with its context and path, on one line. candle
/// wraps errors in `WithBacktrace` (a captured stack of some 20 frames) whenever `RUST_BACKTRACE`
/// or `RUST_LIB_BACKTRACE` is set; that belongs in a debugger, not in an error message.
pub(crate) fn candle_message(e: &candle_core::Error) -> String {
    use candle_core::Error as E;
    match e {
        E::WithBacktrace { inner, .. } => candle_message(inner),
        E::Context { inner, context } => format!("{context}: {}", candle_message(inner)),
        E::WithPath { inner, path } => format!("{}: {}", path.display(), candle_message(inner)),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A candle error as candle builds one when a backtrace is asked for.
    fn with_backtrace(inner: candle_core::Error) -> candle_core::Error {
        candle_core::Error::WithBacktrace {
            inner: Box::new(inner),
            backtrace: Box::new(std::backtrace::Backtrace::force_capture()),
        }
    }

    #[test]
    fn candle_errors_show_message_and_context_not_the_backtrace() {
        let raw = with_backtrace(candle_core::Error::Msg("header declares 272 tensors, 976 bytes remain".into()));
        assert!(raw.to_string().lines().count() > 1, "candle's own Display carries the frames: {raw}");
        let e = Error::from(with_backtrace(raw).context("reading tensor blk.0").with_path("m.gguf"));
        let shown = e.to_string();
        assert_eq!(shown, "candle: m.gguf: reading tensor blk.0: header declares 272 tensors, 976 bytes remain");
        // The frames stay reachable for a developer who asks for them.
        assert!(format!("{e:?}").lines().count() > 1, "{e:?}");
    }
}
