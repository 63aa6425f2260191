//! The one error type of poq-infer.

use std::path::PathBuf;

/// Everything that can go wrong while loading models and generating.
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
    /// A chat template failed to compile or render (including its own `raise_exception`).
    #[error("chat template: {0}")]
    Template(String),
    /// A tensor in a weights file has the wrong shape or is missing.
    #[error("{path}: tensor `{tensor}`: {message}")]
    Tensor {
        /// The weights file or folder.
        path: PathBuf,
        /// The tensor's name.
        tensor: String,
        /// What is wrong (expected and found shapes, or missing).
        message: String,
    },
    /// A parameter is out of its domain.
    #[error("invalid argument `{name}`: {message}")]
    InvalidArgument {
        /// The argument's name.
        name: &'static str,
        /// What it must satisfy.
        message: String,
    },
    /// An error from poq-core (an invalid request).
    #[error(transparent)]
    Core(#[from] poq_core::Error),
    /// A remote endpoint did not answer in time.
    #[error("{url}: timed out ({phase})")]
    Timeout {
        /// The endpoint.
        url: String,
        /// Which wait ran out: `connect`, `read`, `response`, `body`, `total`.
        phase: String,
    },
    /// A remote endpoint could not be reached or the connection broke.
    #[error("{url}: {message}")]
    Transport {
        /// The endpoint.
        url: String,
        /// What happened.
        message: String,
    },
    /// A remote endpoint answered with an error status.
    #[error("{url}: HTTP {status}: {body}")]
    HttpStatus {
        /// The endpoint.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the response body (at most a few hundred characters).
        body: String,
    },
    /// A remote endpoint's reply is not the JSON expected; `field` names where it breaks.
    #[error("{url}: malformed reply at `{field}`: {message}")]
    MalformedResponse {
        /// The endpoint.
        url: String,
        /// The JSON path or field at fault (`choices[0].message.content`, `usage`, line numbers of SSE).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A remote endpoint reported an error inside an otherwise successful (streamed) reply.
    #[error("{url}: the endpoint reported an error: {message}")]
    Remote {
        /// The endpoint.
        url: String,
        /// The error as the endpoint put it (shortened).
        message: String,
    },
    /// A remote endpoint replied without any choice.
    #[error("{url}: the reply has no choices")]
    EmptyChoices {
        /// The endpoint.
        url: String,
    },
    /// An environment variable that must hold a secret (an API key) is not set. Its value is never shown.
    #[error("environment variable {var} is not set or not unicode")]
    MissingEnv {
        /// The variable's name.
        var: String,
    },
    /// The node server could not start.
    #[error("server on {addr}: {source}")]
    Server {
        /// The address it was to listen on.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// `Result` with poq-infer's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for poq_core::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Core(inner) => inner,
            other => poq_core::Error::backend("poq-infer", other),
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
