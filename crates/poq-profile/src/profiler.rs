//! [`Profiler`]: the settings shared by evaluator and generator profiles.

use crate::clock::{Clock, MonotonicClock};
use crate::error::{Error, Result};
use crate::machine::Machine;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// How much to run and how to read the results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileConfig {
    /// Unmeasured runs before each batch size (evaluators) or prompt (generators): they fill
    /// caches, fault in weights and let lazy initialization happen outside the statistics.
    pub warmup: usize,
    /// Measured runs per batch size or prompt; at least 1.
    pub repetitions: usize,
    /// The knee is the smallest batch size reaching this fraction of the best throughput; in (0, 1].
    pub knee_fraction: f64,
}

impl Default for ProfileConfig {
    /// 1 warm-up, 5 repetitions, knee at 90% of the best throughput.
    fn default() -> Self {
        ProfileConfig { warmup: 1, repetitions: 5, knee_fraction: 0.9 }
    }
}

impl ProfileConfig {
    /// Checks the settings, naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        if self.repetitions == 0 {
            return Err(Error::InvalidConfig { name: "repetitions", reason: "must be at least 1".into() });
        }
        if !(self.knee_fraction > 0.0 && self.knee_fraction <= 1.0) {
            return Err(Error::InvalidConfig {
                name: "knee_fraction",
                reason: format!("{} is not in (0, 1]", self.knee_fraction),
            });
        }
        Ok(())
    }
}

/// Profiles evaluators ([`Profiler::profile_evaluator`]) and generators
/// ([`Profiler::profile_generator`]) into [`ProfileRecord`](crate::ProfileRecord)s.
#[derive(Debug, Clone)]
pub struct Profiler {
    pub(crate) config: ProfileConfig,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) machine: Machine,
}

impl Profiler {
    /// A profiler on the system clock, describing the current host.
    pub fn new(config: ProfileConfig) -> Result<Profiler> {
        config.validate()?;
        Ok(Profiler { config, clock: Arc::new(MonotonicClock::new()), machine: Machine::detect() })
    }

    /// The same profiler reading time from `clock`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Profiler {
        self.clock = clock;
        self
    }

    /// The settings.
    pub fn config(&self) -> &ProfileConfig {
        &self.config
    }

    /// The host the records will name.
    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    /// Runs `f` and returns its result with the time it took on the profiler's clock.
    pub(crate) fn timed<T>(&self, f: impl FnOnce() -> T) -> (T, Duration) {
        let start = self.clock.now();
        let out = f();
        (out, self.clock.now().saturating_sub(start))
    }
}

/// Milliseconds of a duration, from integer nanoseconds so whole milliseconds stay exact.
pub(crate) fn ms(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1e6
}

/// The crate version written into records.
pub(crate) const CRATE_VERSION: &str = env!("CARGO_PKG_VERSION");
