//! One played round as the coordinator writes it down, and the check that replays it.
//!
//! A [`RoundLine`] is one JSON line of the transcript: what each node did (answer, measured and
//! claimed time, faults, pay), the audit, and the poq-sim [`Transcript`] of the round's
//! commitments, reveals, consensus and payouts. [`verify_line`] replays the transcript with
//! poq-sim's verifier, then checks what only a live network has: the costs recompute from the
//! measured latencies, the faults from the claims, the pay per node from the transcript.

use crate::error::{NetError, Result};
use crate::network::Network;
use poq_core::normalize_costs;
use poq_sim::{Engine, Transcript};
use serde::{Deserialize, Serialize};

/// What went wrong with a node in a round. Faults are recorded, never fatal: the round goes on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// No answer within the network's timeout.
    Timeout {
        /// What timed out.
        detail: String,
    },
    /// No connection (the node is down or not listening).
    Unreachable {
        /// The transport error.
        detail: String,
    },
    /// An HTTP error status.
    HttpError {
        /// The status code.
        status: u16,
        /// The start of the reply.
        detail: String,
    },
    /// A reply that breaks the protocol: not the expected JSON, wrong counts, no text.
    Garbage {
        /// What was wrong.
        detail: String,
    },
    /// The node's own timing claim departs from the coordinator's measurement (slashed).
    Misreport {
        /// What the node said its work took, milliseconds.
        claimed_ms: f64,
        /// What the coordinator measured, milliseconds.
        measured_ms: f64,
    },
    /// A reveal that does not match its commitment (the evaluator is left out).
    BadReveal {
        /// What did not match.
        detail: String,
    },
    /// The same request asked again gave another answer (slashed).
    AuditMismatch {
        /// The two answers' lengths or the re-ask's fault.
        detail: String,
    },
}

impl Fault {
    /// Whether the node's work is left out of the round (no answer, no valid score): it is paid 0.
    #[must_use]
    pub fn drops_work(&self) -> bool {
        !self.slashes()
    }

    /// Whether the node keeps its part in the round but loses the network's penalty on it.
    #[must_use]
    pub fn slashes(&self) -> bool {
        matches!(self, Fault::Misreport { .. } | Fault::AuditMismatch { .. })
    }
}

/// An inference node in one round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InferenceOutcome {
    /// Its name in the network.
    pub name: String,
    /// Its answer, when it gave one.
    pub answer: Option<String>,
    /// Tokens it says it generated.
    pub generated_tokens: u64,
    /// Request to last byte, measured by the coordinator, milliseconds.
    pub measured_ms: f64,
    /// The node's own claim (prefill plus decode), milliseconds, when it made one.
    pub claimed_ms: Option<f64>,
    /// What went wrong, in order.
    pub faults: Vec<Fault>,
    /// Its pay for the round.
    pub payout: f64,
}

impl InferenceOutcome {
    /// Whether its answer takes part in the round.
    #[must_use]
    pub fn answered(&self) -> bool {
        self.answer.is_some() && !self.faults.iter().any(Fault::drops_work)
    }

    /// Whether it loses the penalty.
    #[must_use]
    pub fn slashed(&self) -> bool {
        self.faults.iter().any(Fault::slashes)
    }
}

/// A sampled evaluator in one round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluatorOutcome {
    /// Its name in the network.
    pub name: String,
    /// Its index in the network.
    pub id: usize,
    /// Its commit call (the scoring), measured by the coordinator, milliseconds.
    pub measured_ms: f64,
    /// The node's own claim, milliseconds.
    pub claimed_ms: Option<f64>,
    /// What went wrong, in order.
    pub faults: Vec<Fault>,
    /// Its pay for the round: the sum over the answers it scored.
    pub payout: f64,
}

impl EvaluatorOutcome {
    /// Whether its scores take part in the round.
    #[must_use]
    pub fn revealed(&self) -> bool {
        !self.faults.iter().any(Fault::drops_work)
    }

    /// Whether it loses the penalty on each answer it scored.
    #[must_use]
    pub fn slashed(&self) -> bool {
        self.faults.iter().any(Fault::slashes)
    }
}

/// A spot audit: one answer asked for again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditOutcome {
    /// The audited inference node's index.
    pub node: usize,
    /// Whether the second answer equals the first (`None` when the re-ask failed).
    pub same_answer: Option<bool>,
    /// The re-ask, measured, milliseconds.
    pub measured_ms: f64,
}

/// One round, as one line of the transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundLine {
    /// The round index (line `r` of a transcript holds round `r`).
    pub round: u64,
    /// The prompt's id.
    pub prompt_id: String,
    /// Every inference node, in network order.
    pub inference: Vec<InferenceOutcome>,
    /// The sampled evaluators, in sampling order.
    pub evaluators: Vec<EvaluatorOutcome>,
    /// The spot audit, in rounds that drew one.
    pub audit: Option<AuditOutcome>,
    /// Commitments, reveals, consensus and payouts, as poq-sim verifies them.
    pub transcript: Transcript,
}

/// The poq-sim engine that verifies a network's transcripts: the network's k, rules and penalty.
/// Node quality and cost models are placeholders, as the transcript carries measured costs.
pub fn verifier(network: &Network) -> Result<Engine> {
    let inference = network.inference.iter().map(|n| poq_sim::inference_node(&n.name, 5.0, 1.0, 1.0)).collect();
    let evaluators = network.evaluators.iter().map(|n| poq_sim::evaluator_node(&n.name, 1.0, 0.0, 1.0, 1.0)).collect();
    let mut sc = poq_sim::Scenario::new(inference, evaluators);
    sc.name = "live".into();
    sc.k = network.k;
    sc.seed = network.seed;
    sc.consensus = network.consensus;
    sc.reward = network.reward;
    sc.normalization = network.normalization;
    sc.audit = poq_sim::Audit { rate: 0.0, tolerance: network.timing_tolerance, penalty: network.penalty };
    Ok(Engine::new(&sc)?)
}

/// Replays one line: poq-sim's verifier on its transcript, then the live parts (costs from the
/// measured latencies, faults from the claims, pay per node). The error says what differs.
pub fn verify_line(network: &Network, engine: &Engine, line: &RoundLine) -> Result<(), String> {
    let t = &line.transcript;
    engine.verify(t).map_err(|e| e.to_string())?;
    if t.round != line.round || t.seed != network.seed {
        return Err(format!("round {} / seed {} recorded for round {}", t.round, t.seed, line.round));
    }
    if line.inference.len() != network.inference.len() {
        return Err(format!("{} inference outcomes for {} nodes", line.inference.len(), network.inference.len()));
    }
    for (i, o) in line.inference.iter().enumerate() {
        check_claims(network, &o.name, o.claimed_ms, o.measured_ms, &o.faults)?;
        if o.answer.is_none() && !o.faults.iter().any(Fault::drops_work) {
            return Err(format!("node {i} has no answer and no fault"));
        }
    }
    for o in &line.evaluators {
        check_claims(network, &o.name, o.claimed_ms, o.measured_ms, &o.faults)?;
    }
    check_membership(line)?;
    if t.answers.is_empty() {
        let paid = line.inference.iter().map(|o| o.payout).chain(line.evaluators.iter().map(|o| o.payout));
        return match paid.into_iter().find(|p| *p != 0.0) {
            Some(p) => Err(format!("nothing was scored, yet a node is paid {p}")),
            None => Ok(()),
        };
    }
    check_costs_and_pay(network, line)
}

/// A misreport fault exactly when the network's rule says so, with the recorded numbers.
fn check_claims(
    network: &Network,
    name: &str,
    claimed: Option<f64>,
    measured: f64,
    faults: &[Fault],
) -> Result<(), String> {
    let recorded = faults.iter().find_map(|f| match f {
        Fault::Misreport { claimed_ms, measured_ms } => Some((*claimed_ms, *measured_ms)),
        _ => None,
    });
    let expected = claimed.filter(|&c| network.misreported(c, measured)).map(|c| (c, measured));
    if recorded.map(|(c, m)| (c.to_bits(), m.to_bits())) != expected.map(|(c, m)| (c.to_bits(), m.to_bits())) {
        return Err(format!("{name}: misreport recorded as {recorded:?}, the claims give {expected:?}"));
    }
    Ok(())
}

/// Answered nodes are the transcript's answers, revealed evaluators its evaluators, the rest absent.
fn check_membership(line: &RoundLine) -> Result<(), String> {
    let t = &line.transcript;
    let answered: Vec<usize> = (0..line.inference.len()).filter(|&i| line.inference[i].answered()).collect();
    let scored: Vec<usize> = t.answers.iter().map(|a| a.node).collect();
    if !t.answers.is_empty() && answered != scored {
        return Err(format!("answered nodes {answered:?}, transcript scores {scored:?}"));
    }
    let revealed: Vec<usize> = line.evaluators.iter().filter(|e| e.revealed()).map(|e| e.id).collect();
    let absent: Vec<usize> = line.evaluators.iter().filter(|e| !e.revealed()).map(|e| e.id).collect();
    if !t.answers.is_empty() && (revealed != t.evaluators || absent != t.absent) {
        return Err(format!(
            "revealed {revealed:?} / absent {absent:?}, transcript has {:?} / {:?}",
            t.evaluators, t.absent
        ));
    }
    Ok(())
}

fn check_costs_and_pay(network: &Network, line: &RoundLine) -> Result<(), String> {
    let t = &line.transcript;
    let answered: Vec<&InferenceOutcome> = line.inference.iter().filter(|o| o.answered()).collect();
    let revealed: Vec<&EvaluatorOutcome> = line.evaluators.iter().filter(|e| e.revealed()).collect();
    let costs = |ms: Vec<f64>| normalize_costs(&ms, network.normalization).map_err(|e| e.to_string());
    let inference_costs = costs(answered.iter().map(|o| o.measured_ms).collect())?;
    let evaluator_costs = costs(revealed.iter().map(|o| o.measured_ms).collect())?;
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let mut evaluator_pay = vec![0.0; revealed.len()];
    for ((a, o), cost) in t.answers.iter().zip(&answered).zip(&inference_costs) {
        if a.measured_cost.map(f64::to_bits) != Some(cost.to_bits()) {
            return Err(format!("{}: cost {:?}, its measured latency gives {cost}", o.name, a.measured_cost));
        }
        if a.measured_evaluator_costs.as_deref().map(bits) != Some(bits(&evaluator_costs)) {
            return Err(format!("node {}: evaluator costs differ from their measured latencies", a.node));
        }
        if a.inference_slashed != o.slashed() {
            return Err(format!("{}: slashed {} against its faults", o.name, a.inference_slashed));
        }
        if a.inference_payout.to_bits() != o.payout.to_bits() {
            return Err(format!("{}: paid {}, the transcript gives {}", o.name, o.payout, a.inference_payout));
        }
        for (j, e) in revealed.iter().enumerate() {
            if a.evaluator_slashed[j] != e.slashed() {
                return Err(format!("{}: slashed {} against its faults", e.name, a.evaluator_slashed[j]));
            }
            evaluator_pay[j] += a.evaluator_payouts[j];
        }
    }
    for o in line.inference.iter().filter(|o| !o.answered()) {
        if o.payout != 0.0 {
            return Err(format!("{}: gave no answer, yet is paid {}", o.name, o.payout));
        }
    }
    for (e, pay) in revealed.iter().zip(&evaluator_pay) {
        if e.payout.to_bits() != pay.to_bits() {
            return Err(format!("{}: paid {}, the transcript gives {pay}", e.name, e.payout));
        }
    }
    if let Some(e) = line.evaluators.iter().find(|e| !e.revealed() && e.payout != 0.0) {
        return Err(format!("{}: revealed nothing, yet is paid {}", e.name, e.payout));
    }
    Ok(())
}

/// [`verify_line`] over a whole transcript, naming the first line that does not replay.
pub fn verify_lines(network: &Network, lines: &[RoundLine], path: &std::path::Path) -> Result<()> {
    let engine = verifier(network)?;
    for (i, line) in lines.iter().enumerate() {
        let fail = |reason: String| NetError::Transcript { path: path.to_path_buf(), line: i + 1, reason };
        if line.round != i as u64 {
            return Err(fail(format!("holds round {}, expected round {i}", line.round)));
        }
        verify_line(network, &engine, line).map_err(fail)?;
    }
    Ok(())
}
