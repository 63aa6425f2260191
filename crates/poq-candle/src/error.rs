//! The error of model folders, device choice and hub downloads.

use std::path::PathBuf;

/// Everything that can go wrong while opening a model folder, choosing a device or downloading a
/// model. poq-eval and poq-infer wrap it in their own errors (shown as is).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or folder could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or folder.
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
    /// A model file, module or device this build does not support.
    #[error("unsupported model: {0}")]
    Unsupported(String),
    /// A tensor operation failed in candle. Shown as candle's message and context, without the
    /// backtrace candle captures when `RUST_BACKTRACE` is set (`{:?}` still shows it).
    #[error("candle: {}", candle_message(.0))]
    Candle(candle_core::Error),
    /// The tokenizer could not be set up.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// A model could not be fetched from the Hugging Face hub (offline, unknown id, ...).
    #[error("hugging face hub: {0}")]
    Hub(String),
}

/// `Result` with poq-candle's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<candle_core::Error> for Error {
    fn from(e: candle_core::Error) -> Self {
        Error::Candle(e)
    }
}

/// A candle error as a user reads it: its message, with its context and path, on one line.
///
/// candle wraps errors in `WithBacktrace` (a captured stack of some 20 frames) whenever
/// `RUST_BACKTRACE` or `RUST_LIB_BACKTRACE` is set; that belongs in a debugger, not in an error
/// message. poq-eval and poq-infer show their candle errors through this too.
#[must_use]
pub fn candle_message(e: &candle_core::Error) -> String {
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
