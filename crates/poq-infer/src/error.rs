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
    /// A model could not be resolved through the Hugging Face hub (offline, unknown id, ...).
    #[error("hugging face hub: {0}")]
    Hub(String),
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
    /// A failure of poq-candle (model folders, devices, hub downloads) of a kind this enum has
    /// no variant for yet; the kinds it has come as those variants ([`Error::MissingFile`], ...).
    #[error(transparent)]
    Model(poq_candle::Error),
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
