//! The Monte Carlo beside the live run: a poq-sim scenario built from what a transcript measured.

use crate::error::Result;
use crate::network::Network;
use crate::round::RoundLine;
use poq_sim::{Cost, EvaluatorNode, InferenceNode, QualityModel, Scenario, ScoreModel};

/// The scenario of `network` with what `lines` measured: each inference node's quality is a
/// normal with the mean and spread of its consensus scores, each evaluator scores with the bias
/// and spread of its revealed scores around the consensus (the network's best estimate of the
/// truth), each node's cost is its mean measured latency. A node that never took part gets
/// quality 0 and the mean latency of its pool. Rules, `k`, stake and seed are the network's;
/// `rounds` as given.
pub fn monte_carlo(network: &Network, lines: &[RoundLine], rounds: u64) -> Result<Scenario> {
    let n_inf = network.inference.len();
    let mut quality = vec![Vec::new(); n_inf];
    let mut inference_ms = vec![Vec::new(); n_inf];
    let mut deviation = vec![Vec::new(); network.evaluators.len()];
    let mut evaluator_ms = vec![Vec::new(); network.evaluators.len()];
    for line in lines {
        for (i, o) in line.inference.iter().enumerate().filter(|(_, o)| o.answered()) {
            inference_ms[i].push(o.measured_ms);
        }
        for e in line.evaluators.iter().filter(|e| e.revealed() && e.measured_ms > 0.0) {
            evaluator_ms[e.id].push(e.measured_ms);
        }
        for a in &line.transcript.answers {
            quality[a.node].push(a.consensus);
            for (&e, s) in line.transcript.evaluators.iter().zip(&a.scores) {
                deviation[e].push(s - a.consensus);
            }
        }
    }
    let pool_mean = |v: &[Vec<f64>]| mean(&v.iter().flatten().copied().collect::<Vec<_>>()).unwrap_or(1.0);
    let (inf_default, eval_default) = (pool_mean(&inference_ms), pool_mean(&evaluator_ms));
    let inference = network
        .inference
        .iter()
        .enumerate()
        .map(|(i, n)| InferenceNode {
            name: n.name.clone(),
            quality: QualityModel::Normal { mean: mean(&quality[i]).unwrap_or(0.0), sd: sd(&quality[i]) },
            cost: Cost::Latency(mean(&inference_ms[i]).unwrap_or(inf_default)),
            reported_cost: None,
            stake: n.stake,
            adversary: None,
        })
        .collect();
    let evaluators = network
        .evaluators
        .iter()
        .enumerate()
        .map(|(j, n)| EvaluatorNode {
            name: n.name.clone(),
            scoring: ScoreModel::Noisy { bias: mean(&deviation[j]).unwrap_or(0.0), sd: sd(&deviation[j]) },
            cost: Cost::Latency(mean(&evaluator_ms[j]).unwrap_or(eval_default)),
            reported_cost: None,
            stake: n.stake,
            adversary: None,
        })
        .collect();
    let mut sc = Scenario::new(inference, evaluators);
    sc.name = "live-measured".into();
    sc.k = network.k;
    sc.seed = network.seed;
    sc.rounds = rounds;
    sc.sampling = if network.stake_weighted { poq_sim::Selection::Stake } else { poq_sim::Selection::Uniform };
    sc.consensus = network.consensus;
    sc.reward = network.reward;
    sc.normalization = network.normalization;
    sc.validate()?;
    Ok(sc)
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Sample standard deviation; 0 below two values.
fn sd(v: &[f64]) -> f64 {
    match mean(v) {
        Some(m) if v.len() > 1 => (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt(),
        _ => 0.0,
    }
}
