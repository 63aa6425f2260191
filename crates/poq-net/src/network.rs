//! The network file: who the nodes are, where they listen, their stake, and the round rules.
//!
//! ```toml
//! k = 2                                   # evaluators sampled per round
//! seed = 7                                # round r draws from (seed, r) alone
//! consensus = { rule = "median" }         # poq-core's rules, as in scenario files
//! reward = { rule = "linear", alpha = 1.0, beta = 0.5 }
//!
//! [[inference]]
//! name = "smollm2"
//! url = "http://127.0.0.1:8101/v1"        # OpenAI-compatible base URL
//! stake = 1.0
//!
//! [[evaluators]]
//! name = "minilm"
//! url = "http://127.0.0.1:8201"
//! stake = 2.0
//! ```

use crate::error::{NetError, Result, config};
use poq_core::{Consensus, Normalization, Reward};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

/// One node of the network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeEntry {
    /// Unique within its pool, not empty.
    pub name: String,
    /// Base URL: an inference node's OpenAI-compatible base (`http://HOST:PORT/v1`), an evaluator
    /// node's root (`http://HOST:PORT`).
    pub url: String,
    /// Weight in stake-weighted sampling, finite and ≥ 0 (default 1).
    #[serde(default = "one")]
    pub stake: f64,
}

fn one() -> f64 {
    1.0
}

/// A network and its round rules. [`Network::from_toml`] reads one; every key but the node lists
/// has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Inference nodes; every one answers every round.
    pub inference: Vec<NodeEntry>,
    /// Evaluator nodes; `k` of them score each round.
    pub evaluators: Vec<NodeEntry>,
    /// Evaluators sampled per round, 1 ≤ k ≤ evaluators (default 2).
    #[serde(default = "Network::default_k")]
    pub k: usize,
    /// Round `r`'s prompt, sampled evaluators and audit draw come from `(seed, r)` alone (default 42).
    #[serde(default = "Network::default_seed")]
    pub seed: u64,
    /// Sample evaluators in proportion to stake (default) or uniformly.
    #[serde(default = "yes")]
    pub stake_weighted: bool,
    /// How the revealed scores become the consensus (default mean).
    #[serde(default)]
    pub consensus: Consensus,
    /// How quality and measured cost become pay (default the paper's linear rule).
    #[serde(default)]
    pub reward: Reward,
    /// How a round's measured latencies become costs on [0, 1], per pool (default min-max).
    #[serde(default)]
    pub normalization: Normalization,
    /// Longest wait for one node's answer, seconds (default 120); then the node has not answered.
    #[serde(default = "Network::default_timeout_s")]
    pub timeout_s: f64,
    /// Share of rounds in which one answer is asked again and compared, in [0, 1] (default 0.1).
    #[serde(default = "Network::default_audit_rate")]
    pub audit_rate: f64,
    /// Reward units taken from an answer whose node misreported its time or failed an audit
    /// (default 25, as poq-sim's recommended audit).
    #[serde(default = "Network::default_penalty")]
    pub penalty: f64,
    /// A timing claim is a misreport when it is below `(1 − tolerance)·measured − slack` or above
    /// `measured + slack` (default 0.25: a node's own time excludes transport and queueing).
    #[serde(default = "Network::default_tolerance")]
    pub timing_tolerance: f64,
    /// Absolute slack of the timing check, milliseconds (default 50).
    #[serde(default = "Network::default_slack_ms")]
    pub timing_slack_ms: f64,
}

fn yes() -> bool {
    true
}

impl Network {
    fn default_k() -> usize {
        2
    }
    fn default_seed() -> u64 {
        42
    }
    fn default_timeout_s() -> f64 {
        120.0
    }
    fn default_audit_rate() -> f64 {
        0.1
    }
    fn default_penalty() -> f64 {
        25.0
    }
    fn default_tolerance() -> f64 {
        0.25
    }
    fn default_slack_ms() -> f64 {
        50.0
    }

    /// A network of these nodes with every rule at its default.
    #[must_use]
    pub fn new(inference: Vec<NodeEntry>, evaluators: Vec<NodeEntry>) -> Self {
        Network {
            inference,
            evaluators,
            k: Self::default_k(),
            seed: Self::default_seed(),
            stake_weighted: true,
            consensus: Consensus::default(),
            reward: Reward::default(),
            normalization: Normalization::default(),
            timeout_s: Self::default_timeout_s(),
            audit_rate: Self::default_audit_rate(),
            penalty: Self::default_penalty(),
            timing_tolerance: Self::default_tolerance(),
            timing_slack_ms: Self::default_slack_ms(),
        }
    }

    /// Reads a network from TOML and checks it; errors name the key (`evaluators[1].stake`).
    pub fn from_toml(text: &str) -> Result<Self> {
        let de = toml::Deserializer::parse(text).map_err(|e| config("file", e.to_string()))?;
        let net: Network = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            config(if path == "." { "file".into() } else { path }, e.into_inner().message().to_owned())
        })?;
        net.validate()?;
        Ok(net)
    }

    /// [`from_toml`](Self::from_toml) on a file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| NetError::Io { path: path.to_path_buf(), source })?;
        Self::from_toml(&text).map_err(|e| match e {
            NetError::Config { field, reason } => {
                NetError::Config { field: format!("{field} in {}", path.display()), reason }
            }
            other => other,
        })
    }

    /// Checks every value, naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        for (pool, nodes) in [("inference", &self.inference), ("evaluators", &self.evaluators)] {
            if nodes.is_empty() {
                return Err(config(pool, "must list at least one node"));
            }
            for (i, n) in nodes.iter().enumerate() {
                if n.name.trim().is_empty() {
                    return Err(config(format!("{pool}[{i}].name"), "must not be empty"));
                }
                if nodes[..i].iter().any(|m| m.name == n.name) {
                    return Err(config(format!("{pool}[{i}].name"), format!("`{}` is listed twice", n.name)));
                }
                if !(n.url.starts_with("http://") || n.url.starts_with("https://")) {
                    return Err(config(format!("{pool}[{i}].url"), format!("must be an http(s) URL, got `{}`", n.url)));
                }
                if !(n.stake.is_finite() && n.stake >= 0.0) {
                    return Err(config(
                        format!("{pool}[{i}].stake"),
                        format!("must be finite and >= 0, got {}", n.stake),
                    ));
                }
            }
        }
        if self.k == 0 || self.k > self.evaluators.len() {
            return Err(config("k", format!("must be in 1..={}, got {}", self.evaluators.len(), self.k)));
        }
        let staked = self.evaluators.iter().filter(|e| e.stake > 0.0).count();
        if self.stake_weighted && staked < self.k {
            return Err(config("k", format!("{} evaluators to sample by stake, {staked} have stake > 0", self.k)));
        }
        self.consensus.validate()?;
        self.reward.validate()?;
        let checks = [
            ("timeout_s", self.timeout_s, self.timeout_s.is_finite() && self.timeout_s > 0.0, "> 0"),
            ("audit_rate", self.audit_rate, (0.0..=1.0).contains(&self.audit_rate), "in [0, 1]"),
            ("penalty", self.penalty, self.penalty.is_finite() && self.penalty >= 0.0, ">= 0"),
            ("timing_tolerance", self.timing_tolerance, (0.0..1.0).contains(&self.timing_tolerance), "in [0, 1)"),
            (
                "timing_slack_ms",
                self.timing_slack_ms,
                self.timing_slack_ms.is_finite() && self.timing_slack_ms >= 0.0,
                ">= 0",
            ),
        ];
        for (field, value, ok, what) in checks {
            if !ok {
                return Err(config(field, format!("must be {what}, got {value}")));
            }
        }
        Ok(())
    }

    /// The per-node timeout.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout_s)
    }

    /// Whether a node claiming `claimed_ms` for work measured at `measured_ms` misreported.
    #[must_use]
    pub fn misreported(&self, claimed_ms: f64, measured_ms: f64) -> bool {
        !claimed_ms.is_finite()
            || claimed_ms > measured_ms + self.timing_slack_ms
            || claimed_ms < (1.0 - self.timing_tolerance) * measured_ms - self.timing_slack_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        k = 1
        [[inference]]
        name = "a"
        url = "http://127.0.0.1:1/v1"
        [[evaluators]]
        name = "e"
        url = "http://127.0.0.1:2"
        stake = 2.0
    "#;

    #[test]
    fn reads_a_network_with_defaults() {
        let n = Network::from_toml(GOOD).unwrap();
        assert_eq!((n.k, n.seed, n.evaluators[0].stake, n.inference[0].stake), (1, 42, 2.0, 1.0));
        assert_eq!(n.reward, Reward::default());
        assert_eq!(n.timeout(), Duration::from_secs(120));
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            (GOOD.replace("k = 1", "k = 2"), "k"),
            (GOOD.replace("stake = 2.0", "stake = -1.0"), "evaluators[0].stake"),
            (GOOD.replace("stake = 2.0", "stake = nan"), "evaluators[0].stake"),
            (GOOD.replace("http://127.0.0.1:2", "127.0.0.1:2"), "evaluators[0].url"),
            (GOOD.replace("name = \"a\"", "name = \"\""), "inference[0].name"),
            (GOOD.replace("k = 1", "k = 1\naudit_rate = 1.5"), "audit_rate"),
            (GOOD.replace("k = 1", "k = 1\nreward = { rule = \"linear\", alpha = 1.0, beta = -1.0 }"), "beta"),
            (GOOD.replace("k = 1", "k = 1\nkk = 3"), "kk"),
            (GOOD.replace("stake = 2.0", "stake = \"x\""), "evaluators[0].stake"),
        ];
        for (text, key) in cases {
            let e = Network::from_toml(&text).unwrap_err().to_string();
            assert!(e.contains(key), "{key}: {e}");
        }
    }

    #[test]
    fn misreport_rule() {
        let n = Network::from_toml(GOOD).unwrap();
        // Honest: own time a little under the measured round trip.
        assert!(!n.misreported(480.0, 500.0));
        assert!(!n.misreported(0.0, 40.0), "tiny jobs are within the slack");
        // Ten times faster than measured, or slower than the round trip itself.
        assert!(n.misreported(50.0, 500.0));
        assert!(n.misreported(600.0, 500.0));
        assert!(n.misreported(f64::NAN, 500.0));
    }
}
