//! The one error type of poq-core.

/// Everything that can go wrong in poq-core, and the error type of the traits, so that a backend
/// crate can hand its own failures through [`Error::Backend`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A score was NaN or outside [0, 10].
    #[error("invalid score {value} for `{field}`: a score must be a finite number in [0, 10]")]
    InvalidScore {
        /// What the value was meant to be (a field, an evaluator, an index).
        field: String,
        /// The offending value.
        value: f64,
    },
    /// A cost was NaN, infinite or negative.
    #[error("invalid cost {value} for `{field}`: a cost must be finite and non-negative")]
    InvalidCost {
        /// Which cost (field and pool index).
        field: String,
        /// The offending value.
        value: f64,
    },
    /// A parameter of a rule or aggregator is out of its domain.
    #[error("invalid parameter `{name}` = {value}: {reason}")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// The offending value.
        value: f64,
        /// What the parameter must satisfy.
        reason: &'static str,
    },
    /// An operation needs at least one element.
    #[error("`{what}` is empty: at least one is needed")]
    Empty {
        /// What was empty.
        what: &'static str,
    },
    /// Two slices that go together have different lengths.
    #[error("length mismatch: {left} has {left_len} elements but {right} has {right_len}")]
    LengthMismatch {
        /// Name of the first slice.
        left: &'static str,
        /// Its length.
        left_len: usize,
        /// Name of the second slice.
        right: &'static str,
        /// Its length.
        right_len: usize,
    },
    /// An index refers to nothing (an evaluator id past the trust table, say).
    #[error("`{what}` index {index} is out of range (there are {len})")]
    OutOfRange {
        /// What was indexed.
        what: &'static str,
        /// The index.
        index: usize,
        /// How many there are.
        len: usize,
    },
    /// A failure inside an evaluator or generator backend, with what it was doing.
    #[error("{context}: {source}")]
    Backend {
        /// What the backend was doing (model name, file, step).
        context: String,
        /// The backend's own error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

impl Error {
    /// Wraps a backend error with a description of what was being done.
    pub fn backend(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        Error::Backend { context: context.into(), source: source.into() }
    }
}

/// `Result` with poq-core's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Checks that `value` is finite and non-negative; names `field` otherwise.
pub(crate) fn check_cost(field: impl FnOnce() -> String, value: f64) -> Result<f64> {
    if value.is_finite() && value >= 0.0 { Ok(value) } else { Err(Error::InvalidCost { field: field(), value }) }
}

/// Checks a parameter with a predicate; `reason` says what the predicate demands.
pub(crate) fn check_param(name: &'static str, value: f64, ok: bool, reason: &'static str) -> Result<f64> {
    if ok && !value.is_nan() { Ok(value) } else { Err(Error::InvalidParameter { name, value, reason }) }
}
