//! Honest rounds, the common case: no adversary, audit, budget or trust weighting, mean
//! consensus, clipped-normal quality and linear scorers (`Noisy`, `Correlated`). The paper's
//! scenario and the bench are such rounds. Their loop has nothing to match or check per score.
//!
//! It draws the same numbers in the same order and does the same arithmetic, in the same order,
//! as the general round in `round.rs`, so a run gives bit for bit the same report either way
//! (checked in tests by forcing the general path).

use crate::engine::{Engine, MAX_K};
use crate::models::{Quality, Scorer};
use crate::round::Scratch;
use crate::stats::{ChunkAcc, ChunkSums};
use crate::trust::Trust;
use poq_core::{Aggregator, RewardRule};
use std::ops::Range;

/// An evaluator's linear scorer, `intercept + slope·truth + noise_sd·ε`, and its normalized cost.
#[derive(Debug, Clone, Copy, Default)]
struct LinearEvaluator {
    intercept: f64,
    slope: f64,
    noise_sd: f64,
    cost: f64,
}

/// An inference node's clipped-normal quality model and its normalized cost.
#[derive(Debug, Clone, Copy)]
struct NormalInference {
    mean: f64,
    sd: f64,
    cost: f64,
}

/// An honest scenario's models, flattened for the loop below.
#[derive(Debug, Clone)]
pub(crate) struct Honest {
    /// Per inference node.
    inference: Vec<NormalInference>,
    /// Per evaluator.
    evaluators: Vec<LinearEvaluator>,
}

impl Honest {
    /// The flattened models when every round of `e` is honest, else `None`.
    pub(crate) fn of<A, R>(e: &Engine<A, R>) -> Option<Self> {
        let sc = &e.scenario;
        let plain_rules = e.mean_fast
            && sc.trust == Trust::None
            && sc.budget.is_none()
            && sc.audit.rate == 0.0
            && !e.shared_outputs
            && e.evaluators.iter().all(|v| v.act.is_none());
        if !plain_rules {
            return None;
        }
        let inference = e
            .inference
            .iter()
            .map(|n| match e.outputs[n.own_output] {
                Quality::Normal { mean, sd } => Some(NormalInference { mean, sd, cost: n.cost }),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?;
        // With coefficients this bounded (truth is at most 10, a normal draw far below 1e100) no
        // score can overflow into a NaN, the one per-score error the general round checks for.
        let bounded = |x: f64| x.abs() <= 1e100;
        let evaluators = e
            .evaluators
            .iter()
            .map(|v| match v.scorer {
                Scorer::Linear { intercept, slope, noise_sd }
                    if bounded(intercept) && bounded(slope) && bounded(noise_sd) =>
                {
                    Some(LinearEvaluator { intercept, slope, noise_sd, cost: v.cost })
                }
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Honest { inference, evaluators })
    }
}

impl<A: Aggregator + 'static, R: RewardRule + 'static> Engine<A, R> {
    /// Plays honest `rounds` with reward rule `rule` (see the module notes): one round at a time
    /// until every node has a first payout in `acc` (its sums' shift), then the rest with no
    /// per-payout check for it.
    pub(crate) fn play_honest<Rule: RewardRule>(
        &self,
        h: &Honest,
        rule: &Rule,
        rounds: Range<u64>,
        scratch: &mut Scratch,
        acc: &mut ChunkAcc,
    ) {
        let mut r = rounds.start;
        while r < rounds.end && acc.nodes.iter().any(|n| n.n == 0) {
            self.honest_rounds::<Rule, false>(h, rule, r..r + 1, scratch, acc);
            r += 1;
        }
        self.honest_rounds::<Rule, true>(h, rule, r..rounds.end, scratch, acc);
    }

    /// The loop itself; `SHIFTED`: every node's sums in `acc` already have their shift.
    #[inline(always)]
    fn honest_rounds<Rule: RewardRule, const SHIFTED: bool>(
        &self,
        h: &Honest,
        rule: &Rule,
        rounds: Range<u64>,
        scratch: &mut Scratch,
        acc: &mut ChunkAcc,
    ) {
        let add = |s: &mut ChunkSums, x: f64| if SHIFTED { s.add_shifted(x) } else { s.add(x) };
        let k = self.k.min(MAX_K); // always true (checked at build); drops bounds checks
        let nf = self.inference.len();
        // The round's sampled evaluators, copied out of `h` once per round.
        let mut sampled = [LinearEvaluator::default(); MAX_K];
        let mut scores = [0.0; MAX_K];
        for r in rounds {
            let (mut rng, _prompt, served) = self.begin_round(r, scratch, None);
            let ids = &scratch.ids;
            for j in 0..k {
                sampled[j] = h.evaluators[ids[j]];
            }
            for f in served {
                let NormalInference { mean, sd, cost } = h.inference[f];
                let truth = (mean + sd * rng.normal()).clamp(0.0, 10.0);
                let mut sum = 0.0;
                for j in 0..k {
                    let LinearEvaluator { intercept, slope, noise_sd, .. } = sampled[j];
                    let noise = if noise_sd > 0.0 { noise_sd * rng.normal() } else { 0.0 };
                    scores[j] = (intercept + slope * truth + noise).clamp(0.0, 10.0);
                    sum += scores[j];
                }
                let consensus = (sum / k as f64).clamp(0.0, 10.0);
                acc.error.add(consensus - truth);
                add(&mut acc.nodes[f], rule.reward(consensus / 10.0, cost));
                for j in 0..k {
                    let agreement = 1.0 - (scores[j] - consensus).abs() / 10.0;
                    add(&mut acc.nodes[nf + ids[j]], rule.reward(agreement, sampled[j].cost));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adversary::{EvaluatorAdversary, EvaluatorAttack};
    use crate::models::{QualityModel, ScoreModel};
    use crate::run::RunOptions;
    use crate::scenario::{Scenario, Selection, Serving};
    use crate::{bench, paper};
    use poq_core::{Consensus, Power, QualityPerCost, Reward};

    /// The report's JSON from the honest loop and from the general round.
    fn both_paths(sc: &Scenario) -> (String, String) {
        let fast = Engine::new(sc).unwrap();
        assert!(fast.honest.is_some(), "{} should be honest", sc.name);
        let mut general = fast.clone();
        general.honest = None;
        let json = |e: &Engine| serde_json::to_string(&e.run(RunOptions::default()).unwrap()).unwrap();
        (json(&fast), json(&general))
    }

    #[test]
    fn honest_rounds_are_bit_for_bit_the_general_rounds() {
        let mut cases = Vec::new();
        for base in [paper(), bench(10_000)] {
            let mut sc = base;
            sc.rounds = 10_000;
            cases.push(sc.clone());
            let mut v = sc.clone();
            v.serving = Serving::Uniform;
            cases.push(v);
            let mut v = sc.clone();
            v.serving = Serving::Stake;
            v.inference[1].stake = 3.0;
            v.inference[2].stake = 0.0;
            cases.push(v);
            let mut v = sc.clone();
            v.k = 2;
            cases.push(v);
            let mut v = sc.clone();
            v.sampling = Selection::Stake;
            v.evaluators[0].stake = 4.0;
            cases.push(v);
            let mut v = sc.clone();
            v.reward = Reward::QualityPerCost(QualityPerCost::new(0.1).unwrap());
            cases.push(v);
            let mut v = sc.clone();
            v.reward = Reward::Power(Power::new(2.0, 1.0).unwrap());
            cases.push(v);
            // A noiseless scorer draws no normal: the two paths must skip the same draws.
            let mut v = sc;
            v.evaluators[1].scoring = ScoreModel::Noisy { bias: 0.3, sd: 0.0 };
            cases.push(v);
        }
        for sc in &cases {
            let (fast, general) = both_paths(sc);
            assert_eq!(fast, general, "{sc:?}");
        }
    }

    #[test]
    fn attacks_defences_and_other_models_take_the_general_round() {
        let honest = |sc: &Scenario| Engine::new(sc).unwrap().honest.is_some();
        let sc = bench(1000);
        assert!(honest(&sc));
        let mut v = sc.clone();
        v.audit.rate = 0.1;
        assert!(!honest(&v));
        let mut v = sc.clone();
        v.budget = Some(1.0);
        assert!(!honest(&v));
        let mut v = sc.clone();
        v.consensus = Consensus::Median;
        assert!(!honest(&v));
        let mut v = sc.clone();
        v.trust = Trust::Adaptive { lambda: 0.1, w_min: 0.1, w_max: 1.0 };
        assert!(!honest(&v));
        let mut v = sc.clone();
        v.evaluators[0].adversary =
            Some(EvaluatorAdversary { attack: EvaluatorAttack::Noise { sd: 1.0 }, probability: 0.5 });
        assert!(!honest(&v));
        let mut v = sc.clone();
        v.inference[0].quality = QualityModel::Beta { mean: 5.0, concentration: 4.0 };
        assert!(!honest(&v));
        // A scorer correlated with a near-constant truth has a huge slope: scores could overflow.
        let mut v = sc.clone();
        v.inference.iter_mut().for_each(|n| n.quality = QualityModel::Normal { mean: 0.0, sd: 1e-95 });
        v.evaluators[0].scoring = ScoreModel::Correlated { correlation: 1.0, bias: 0.0, scale: 1e10 };
        assert!(!honest(&v));
        let mut v = sc;
        v.prompts = 1;
        v.evaluators[0].scoring = ScoreModel::Empirical {
            scores: v.inference.iter().map(|n| (n.name.clone(), vec![5.0])).collect(),
            bias: 0.0,
            sd: 0.0,
        };
        assert!(!honest(&v));
    }
}
