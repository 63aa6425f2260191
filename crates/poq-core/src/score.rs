//! [`Score`]: the checked 0–10 quality value every evaluator returns.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A quality score on the paper's 0–10 scale.
///
/// The only way in is a checked constructor, so every `Score` in the system is finite and in range:
/// NaN or out-of-range values are errors at the boundary where they enter, never inside.
///
/// ```
/// use poq_core::Score;
/// let s = Score::new(7.5)?;
/// assert_eq!(s.value(), 7.5);
/// assert_eq!(s.quality(), 0.75);
/// assert!(Score::new(10.5).is_err());
/// assert!(Score::new(f64::NAN).is_err());
/// // Evaluator outputs may stray out of range; clamping is explicit.
/// assert_eq!(Score::clamped(11.2)?.value(), 10.0);
/// # Ok::<(), poq_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Score(f64);

impl Score {
    /// The lowest score.
    pub const MIN: Score = Score(0.0);
    /// The highest score.
    pub const MAX: Score = Score(10.0);

    /// A score from a value in [0, 10]; anything else (NaN included) is [`Error::InvalidScore`].
    pub fn new(value: f64) -> Result<Score> {
        Self::named("score", value)
    }

    /// Like [`Score::new`], naming `field` in the error.
    pub fn named(field: &str, value: f64) -> Result<Score> {
        if (0.0..=10.0).contains(&value) {
            Ok(Score(value))
        } else {
            Err(Error::InvalidScore { field: field.to_owned(), value })
        }
    }

    /// Clamps a finite or infinite value into [0, 10]; only NaN is an error.
    ///
    /// Meant for raw model outputs (a logit mapped to 0–10 may overshoot by rounding).
    #[inline] // the simulator calls this per score, millions of times a second
    pub fn clamped(value: f64) -> Result<Score> {
        if value.is_nan() {
            return Err(Error::InvalidScore { field: "score".to_owned(), value });
        }
        Ok(Score(value.clamp(0.0, 10.0)))
    }

    /// The value in [0, 10].
    #[must_use]
    pub fn value(self) -> f64 {
        self.0
    }

    /// The value scaled to [0, 1]: an inference node's quality `q` in the reward.
    #[must_use]
    pub fn quality(self) -> f64 {
        self.0 / 10.0
    }
}

impl TryFrom<f64> for Score {
    type Error = Error;
    fn try_from(value: f64) -> Result<Score> {
        Score::new(value)
    }
}

impl From<Score> for f64 {
    fn from(s: Score) -> f64 {
        s.0
    }
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_inclusive_and_nan_is_rejected() {
        assert!(Score::new(0.0).is_ok());
        assert!(Score::new(10.0).is_ok());
        assert!(Score::new(-1e-12).is_err());
        assert!(Score::new(10.000001).is_err());
        assert!(Score::new(f64::INFINITY).is_err());
        assert!(Score::clamped(f64::NAN).is_err());
        assert_eq!(Score::clamped(f64::NEG_INFINITY).unwrap().value(), 0.0);
    }

    #[test]
    fn error_names_the_field() {
        let e = Score::named("sts[3]", 12.0).unwrap_err().to_string();
        assert!(e.contains("sts[3]") && e.contains("12"), "{e}");
    }

    #[test]
    fn serde_checks_on_the_way_in() {
        let s: Score = serde_json::from_str("4.5").unwrap();
        assert_eq!(s.value(), 4.5);
        assert_eq!(serde_json::to_string(&s).unwrap(), "4.5");
        assert!(serde_json::from_str::<Score>("-3").is_err());
    }
}
