//! What a profile ran on: CPU model and thread count.

use serde::{Deserialize, Serialize};

/// The host a profile was measured on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    /// CPU model (`model name` in `/proc/cpuinfo`), or `unknown`.
    pub cpu_model: String,
    /// Threads available to this process (`std::thread::available_parallelism`).
    pub threads: usize,
    /// Operating system (`linux`, `macos`, ...).
    pub os: String,
    /// CPU architecture (`x86_64`, `aarch64`, ...).
    pub arch: String,
}

impl Machine {
    /// Describes the current host.
    pub fn detect() -> Machine {
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| parse_cpu_model(&t))
            .unwrap_or_else(|| "unknown".to_owned());
        Machine {
            cpu_model,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            os: std::env::consts::OS.to_owned(),
            arch: std::env::consts::ARCH.to_owned(),
        }
    }
}

/// The first `model name` (x86) or `Model` (some ARM kernels) value of a `/proc/cpuinfo` text.
///
/// ```
/// let t = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t: fpu\n";
/// assert_eq!(poq_profile::parse_cpu_model(t).as_deref(), Some("AMD EPYC 7B13"));
/// ```
pub fn parse_cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        let key = key.trim();
        let value = value.trim();
        ((key == "model name" || key == "Model") && !value.is_empty()).then(|| value.to_owned())
    })
}
