//! Where the profiler reads time from.
//!
//! Real runs use [`MonotonicClock`] (`std::time::Instant`). The trait exists so tests can drive the
//! whole profiler with a clock that a fake evaluator advances by known amounts, making every
//! statistic exact instead of "roughly what the sleep took".

use std::fmt::Debug;
use std::time::{Duration, Instant};

/// A monotonic clock: `now` never decreases.
pub trait Clock: Send + Sync + Debug {
    /// Time elapsed since an arbitrary fixed origin.
    fn now(&self) -> Duration;
}

/// The system's monotonic clock, measured from when this value was created.
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    origin: Instant,
}

impl MonotonicClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        MonotonicClock { origin: Instant::now() }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MonotonicClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}
