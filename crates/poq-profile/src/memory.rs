//! Peak memory: which high-water mark is measured, and reading it.
//!
//! Two sources, chosen automatically: the [`CountingAllocator`] when a binary has installed it
//! (peak heap bytes), otherwise the process's resident-set high-water mark `VmHWM` from
//! `/proc/self/status` on Linux. Before each measurement the mark is reset where possible (the
//! allocator's peak, or `VmHWM` by writing `5` to `/proc/self/clear_refs`); when `VmHWM` cannot be
//! reset, it is the peak of the whole process so far, and the output says so (`reset: false`).
//! Device (GPU) memory is not measured by this crate.

use crate::alloc::CountingAllocator;
use serde::{Deserialize, Serialize};

/// Which high-water mark a [`PeakMemory`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemorySource {
    /// Peak live heap bytes counted by the installed [`CountingAllocator`].
    CountingAllocator,
    /// The process's peak resident set size (`VmHWM` in `/proc/self/status`).
    ProcessVmhwm,
    /// Nothing could be measured on this platform; bytes are 0.
    Unavailable,
}

impl MemorySource {
    /// The name used in outputs: `counting_allocator`, `process_vmhwm`, `unavailable`.
    pub fn as_str(self) -> &'static str {
        match self {
            MemorySource::CountingAllocator => "counting_allocator",
            MemorySource::ProcessVmhwm => "process_vmhwm",
            MemorySource::Unavailable => "unavailable",
        }
    }
}

impl std::fmt::Display for MemorySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A measured peak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeakMemory {
    /// What was measured.
    pub source: MemorySource,
    /// The peak, bytes.
    pub bytes: u64,
    /// Whether the mark was reset when the measurement began (if not, it covers the whole process
    /// lifetime up to the end of the measurement).
    pub reset: bool,
}

impl PeakMemory {
    /// The peak in MB (10^6 bytes), the unit of [`poq_core::CostProfile::peak_memory_mb`].
    pub fn megabytes(&self) -> f64 {
        self.bytes as f64 / 1e6
    }

    /// The larger of two peaks of the same measurement (reset only if both were).
    pub fn max(self, other: PeakMemory) -> PeakMemory {
        PeakMemory { source: self.source, bytes: self.bytes.max(other.bytes), reset: self.reset && other.reset }
    }
}

/// Measures the peak memory over a stretch of work: [`MemoryProbe::start`] before, [`MemoryProbe::finish`] after.
#[derive(Debug, Clone, Copy)]
pub struct MemoryProbe {
    source: MemorySource,
    reset: bool,
}

impl MemoryProbe {
    /// Picks the source and resets its mark where possible.
    pub fn start() -> MemoryProbe {
        if CountingAllocator::is_active() {
            CountingAllocator::reset_peak();
            return MemoryProbe { source: MemorySource::CountingAllocator, reset: true };
        }
        if read_vmhwm_bytes().is_some() {
            trim_heap();
            // "5" resets the peak RSS (Linux ≥ 4.0); a sandbox may refuse, which we report.
            let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
            return MemoryProbe { source: MemorySource::ProcessVmhwm, reset };
        }
        MemoryProbe { source: MemorySource::Unavailable, reset: false }
    }

    /// The peak since [`start`](Self::start).
    pub fn finish(self) -> PeakMemory {
        let bytes = match self.source {
            MemorySource::CountingAllocator => CountingAllocator::peak_bytes() as u64,
            MemorySource::ProcessVmhwm => read_vmhwm_bytes().unwrap_or(0),
            MemorySource::Unavailable => 0,
        };
        PeakMemory { source: self.source, bytes, reset: self.reset }
    }
}

/// Hands the allocator's free memory back to the system, so that a reset resident mark starts from
/// what is live, not from what earlier work freed: glibc keeps freed blocks resident once its
/// mmap threshold has grown (a generator's key/value caches left ~500 MB behind for the next
/// profile).
fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers and only releases memory glibc's heap holds free.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The process's `VmHWM` in bytes, or `None` where `/proc/self/status` is missing or lacks it.
pub fn read_vmhwm_bytes() -> Option<u64> {
    parse_vmhwm(&std::fs::read_to_string("/proc/self/status").ok()?)
}

/// Parses the `VmHWM:   1234 kB` line of a `/proc/<pid>/status` text into bytes (the kernel's
/// "kB" is KiB).
///
/// ```
/// assert_eq!(poq_profile::parse_vmhwm("Name:\tx\nVmHWM:\t    2048 kB\n"), Some(2048 * 1024));
/// assert_eq!(poq_profile::parse_vmhwm("Name:\tx\n"), None);
/// ```
pub fn parse_vmhwm(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    let mut parts = line.split_whitespace();
    let value: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") => value.checked_mul(1024),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vmhwm_needs_the_unit() {
        assert_eq!(parse_vmhwm("VmHWM:\t12 MB\n"), None);
        assert_eq!(parse_vmhwm("VmHWM:\tlots kB\n"), None);
        assert_eq!(parse_vmhwm("VmRSS:\t1 kB\nVmHWM:\t3 kB\n"), Some(3072));
    }

    #[test]
    fn probe_without_allocator_reads_vmhwm_on_linux() {
        let peak = MemoryProbe::start().finish();
        if cfg!(target_os = "linux") {
            assert_eq!(peak.source, MemorySource::ProcessVmhwm);
            assert!(peak.bytes > 0);
        }
    }
}
