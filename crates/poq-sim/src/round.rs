//! One PoQ round: the hot path. No allocation unless a budget, a non-mean consensus or a
//! transcript is asked for; per-round arrays live on the stack, buffers are reused per chunk.

use crate::engine::{Engine, InferenceAct, MAX_K};
use crate::error::Result;
use crate::error::SimError;
use crate::rng::RoundRng;
use crate::scenario::{Selection, Serving};
use crate::stats::ChunkAcc;
use crate::transcript::Transcript;
#[cfg(feature = "transcripts")]
use crate::transcript::{AnswerRecord, commitment, salt};
use crate::trust::TrustState;
#[cfg(test)]
use poq_core::Mean;
use poq_core::{Aggregator, Reward, RewardRule, Score, agreement, split_budget};
use std::any::Any;
use std::ops::Range;

fn in_round(round: u64, source: poq_core::Error) -> SimError {
    SimError::Round { round, source }
}

/// Buffers reused across the rounds of a chunk.
#[derive(Debug)]
pub(crate) struct Scratch {
    truths: Vec<f64>,
    stake_left: Vec<f64>,
    // Per-round and per-answer arrays, kept here so they are not re-zeroed every answer.
    pub(crate) ids: [usize; MAX_K],
    /// The round's evaluators' normalized costs, looked up once per round rather than per answer.
    costs: [f64; MAX_K],
    active: [bool; MAX_K],
    scores: [Score; MAX_K],
    weights: [f64; MAX_K],
    pay: [f64; MAX_K + 1],
    slashed: [bool; MAX_K + 1],
}

impl Scratch {
    pub(crate) fn new<A, R>(e: &Engine<A, R>) -> Self {
        Scratch {
            truths: vec![f64::NAN; e.outputs.len()],
            stake_left: Vec::with_capacity(e.evaluators.len().max(e.inference.len())),
            ids: [0; MAX_K],
            costs: [0.0; MAX_K],
            active: [false; MAX_K],
            scores: [Score::MIN; MAX_K],
            weights: [0.0; MAX_K],
            pay: [0.0; MAX_K + 1],
            slashed: [false; MAX_K + 1],
        }
    }
}

/// One draw in proportion to `weights` (not all zero); returns the index.
fn weighted_pick(weights: &[f64], total: f64, rng: &mut RoundRng) -> usize {
    let target = rng.uniform() * total;
    let mut cum = 0.0;
    let mut last = 0;
    for (i, &w) in weights.iter().enumerate() {
        if w > 0.0 {
            cum += w;
            last = i;
            if target < cum {
                return i;
            }
        }
    }
    last // rounding left the target past the sum: the last positive weight
}

impl<A: Aggregator + 'static, R: RewardRule + 'static> Engine<A, R> {
    /// Draws the `k` evaluators of a round into `ids` (without replacement); `trust` holds the
    /// current trust weights when the scenario samples by them.
    #[inline]
    fn sample_evaluators(&self, scratch: &mut Scratch, rng: &mut RoundRng, trust: Option<&[f64]>) {
        let ids = &mut scratch.ids;
        let (m, k) = (self.evaluators.len(), self.k);
        match self.scenario.sampling {
            Selection::Uniform if k == m => (0..m).for_each(|i| ids[i] = i),
            Selection::Uniform => {
                // Floyd's algorithm: exactly k draws, a uniform k-subset.
                for (n, j) in (m - k..m).enumerate() {
                    let t = rng.index(j + 1);
                    ids[n] = if ids[..n].contains(&t) { j } else { t };
                }
            }
            Selection::Stake | Selection::Trust => {
                scratch.stake_left.clear();
                match trust {
                    Some(w) if self.scenario.sampling == Selection::Trust => {
                        scratch.stake_left.extend(self.evaluator_stakes.iter().zip(w).map(|(s, w)| s * w))
                    }
                    _ => scratch.stake_left.extend_from_slice(&self.evaluator_stakes),
                }
                let mut total: f64 = scratch.stake_left.iter().sum();
                for id in ids.iter_mut().take(k) {
                    let i = rng.detached(|g| weighted_pick(&scratch.stake_left, total, g));
                    *id = i;
                    total -= scratch.stake_left[i];
                    scratch.stake_left[i] = 0.0;
                }
            }
        }
    }

    /// Plays `rounds` in order, adding their payouts and consensus errors to `acc`. poq-core's
    /// [`Reward`] enum is matched here once, so that each payout below is the chosen rule's inlined
    /// formula, not a match; any other rule type is its own monomorphized loop already.
    pub(crate) fn play_rounds(
        &self,
        rounds: Range<u64>,
        scratch: &mut Scratch,
        acc: &mut ChunkAcc,
        trust: Option<&mut TrustState>,
        record: Option<&mut Vec<Transcript>>,
    ) -> Result<()> {
        let any: &dyn Any = &self.reward;
        match any.downcast_ref::<Reward>() {
            Some(Reward::Linear(rule)) => self.play_rounds_with(rule, rounds, scratch, acc, trust, record),
            Some(Reward::QualityPerCost(rule)) => self.play_rounds_with(rule, rounds, scratch, acc, trust, record),
            Some(Reward::Power(rule)) => self.play_rounds_with(rule, rounds, scratch, acc, trust, record),
            None => self.play_rounds_with(&self.reward, rounds, scratch, acc, trust, record),
        }
    }

    /// The start of round `r`, shared by every path: its generator, after drawing the prompt, the
    /// serving node(s) and the evaluators (into `scratch.ids`; `trust`: the current trust weights).
    #[inline(always)]
    pub(crate) fn begin_round(
        &self,
        r: u64,
        scratch: &mut Scratch,
        trust: Option<&[f64]>,
    ) -> (RoundRng, usize, Range<usize>) {
        let mut rng = RoundRng::new(self.scenario.seed, r);
        let prompt = rng.index(self.scenario.prompts);
        let nf = self.inference.len();
        let served = match self.scenario.serving {
            Serving::All => 0..nf,
            Serving::Uniform => {
                let i = rng.index(nf);
                i..i + 1
            }
            Serving::Stake => {
                let total = self.inference_stakes.iter().sum();
                let i = rng.detached(|g| weighted_pick(&self.inference_stakes, total, g));
                i..i + 1
            }
        };
        self.sample_evaluators(scratch, &mut rng, trust);
        (rng, prompt, served)
    }

    /// [`play_rounds`](Self::play_rounds) with the rule known: honest rounds (asked for without
    /// trust or transcripts) take the loop in `honest.rs`, all others the general round below.
    fn play_rounds_with<Rule: RewardRule>(
        &self,
        rule: &Rule,
        rounds: Range<u64>,
        scratch: &mut Scratch,
        acc: &mut ChunkAcc,
        mut trust: Option<&mut TrustState>,
        mut record: Option<&mut Vec<Transcript>>,
    ) -> Result<()> {
        if let (Some(h), None, None) = (&self.honest, &trust, &record) {
            self.play_honest(h, rule, rounds, scratch, acc);
            return Ok(());
        }
        for r in rounds {
            self.play_round(rule, r, scratch, acc, trust.as_deref_mut(), record.as_deref_mut())?;
        }
        Ok(())
    }

    /// Plays round `r` with reward rule `rule`.
    fn play_round<Rule: RewardRule>(
        &self,
        rule: &Rule,
        r: u64,
        scratch: &mut Scratch,
        acc: &mut ChunkAcc,
        mut trust: Option<&mut TrustState>,
        record: Option<&mut Vec<Transcript>>,
    ) -> Result<()> {
        let seed = self.scenario.seed;
        let (mut rng, prompt, served) = self.begin_round(r, scratch, trust.as_deref().map(TrustState::weights));
        let nf = self.inference.len();
        let k = self.k.min(MAX_K); // always true (checked at build); lets the compiler drop bounds checks
        let Scratch { truths, ids, costs, active, scores, weights, pay, slashed, .. } = scratch;
        for j in 0..k {
            let e = &self.evaluators[ids[j]];
            costs[j] = e.cost;
            active[j] = match &e.act {
                Some(a) => rng.chance(a.p),
                None => false,
            };
        }
        // Adaptive trust has no spot checks: chance(0) draws nothing, as before.
        let spot = trust.as_deref().is_some_and(|t| rng.chance(t.spot_rate()));
        if self.shared_outputs {
            truths.iter_mut().for_each(|t| *t = f64::NAN);
        }
        #[cfg(not(feature = "transcripts"))]
        let _ = (seed, &record);
        #[cfg(feature = "transcripts")]
        let mut tx = record.as_ref().map(|_| Transcript {
            seed,
            round: r,
            prompt,
            evaluators: ids[..k].to_vec(),
            absent: Vec::new(),
            answers: Vec::new(),
        });

        for f in served {
            let node = &self.inference[f];
            let (output, true_ms) = match node.act {
                InferenceAct::Downgrade { p, output, ms } if rng.chance(p) => (output, ms),
                InferenceAct::Copycat { p, victim, ms } if rng.chance(p) => (self.inference[victim].own_output, ms),
                _ => (node.own_output, node.true_ms),
            };
            // One truth per output per round: a copycat's answer is its victim's answer.
            let truth = if !self.shared_outputs {
                self.outputs[output].sample(prompt, &mut rng)
            } else if truths[output].is_nan() {
                let t = self.outputs[output].sample(prompt, &mut rng);
                truths[output] = t;
                t
            } else {
                truths[output]
            };

            let mut sum = 0.0;
            for j in 0..k {
                let e = &self.evaluators[ids[j]];
                let mut s = e.scorer.score(truth, output, prompt, &mut rng);
                if active[j]
                    && let Some(a) = &e.act
                {
                    s = rng.detached(|g| a.act.apply(s, f, g));
                }
                scores[j] = Score::clamped(s).map_err(|e| in_round(r, e))?;
                sum += scores[j].value();
            }
            let scores = &scores[..k];
            let consensus = match trust.as_deref_mut() {
                None if self.mean_fast => Score::clamped(sum / k as f64).map_err(|e| in_round(r, e))?,
                None => self.consensus.aggregate(scores, None).map_err(|e| in_round(r, e))?,
                Some(TrustState::Adaptive(t)) => {
                    for j in 0..k {
                        weights[j] = t.weights()[ids[j]];
                    }
                    t.round(&ids[..k], scores).map_err(|e| in_round(r, e))?
                }
                Some(t @ (TrustState::SpotCheck(_) | TrustState::Relative(_))) => {
                    for j in 0..k {
                        weights[j] = t.weights()[ids[j]];
                    }
                    let c = self.consensus.aggregate(scores, Some(&weights[..k])).map_err(|e| in_round(r, e))?;
                    if spot {
                        for j in 0..k {
                            t.observe(ids[j], scores[j].value(), truth);
                        }
                    }
                    c
                }
            };
            acc.error.add(consensus.value() - truth);

            pay[0] = rule.reward(consensus.quality(), node.cost);
            for j in 0..k {
                pay[j + 1] = rule.reward(agreement(scores[j], consensus), costs[j]);
            }
            if let Some(pool) = self.scenario.budget {
                let split = split_budget(pool, &pay[..=k]).map_err(|e| in_round(r, e))?;
                pay[..=k].copy_from_slice(&split);
            }
            // With audits off nothing is ever slashed: `slashed` keeps its initial all-false.
            if self.audit.rate > 0.0 {
                slashed[0] = rng.chance(self.audit.rate) && self.audit_fails(node.reported_ms, true_ms);
                for j in 0..k {
                    let e = &self.evaluators[ids[j]];
                    let ms = match &e.act {
                        Some(a) if active[j] => a.ms.unwrap_or(e.true_ms),
                        _ => e.true_ms,
                    };
                    slashed[j + 1] = rng.chance(self.audit.rate) && self.audit_fails(e.reported_ms, ms);
                }
                for j in 0..=k {
                    if slashed[j] {
                        let sums = &mut acc.nodes[if j == 0 { f } else { nf + ids[j - 1] }];
                        pay[j] -= self.audit.penalty;
                        sums.slashes += 1;
                        sums.slashed += self.audit.penalty;
                    }
                }
            }
            acc.nodes[f].add(pay[0]);
            for j in 0..k {
                acc.nodes[nf + ids[j]].add(pay[j + 1]);
            }

            #[cfg(feature = "transcripts")]
            if let Some(tx) = tx.as_mut() {
                let salts: Vec<u64> = (0..k).map(|j| salt(seed, r, f, ids[j])).collect();
                tx.answers.push(AnswerRecord {
                    node: f,
                    truth: (!truth.is_nan()).then_some(truth),
                    commitments: (0..k).map(|j| commitment(r, f, ids[j], scores[j].value(), salts[j])).collect(),
                    salts,
                    scores: scores.iter().map(|s| s.value()).collect(),
                    weights: trust.as_ref().map(|_| weights[..k].to_vec()),
                    consensus: consensus.value(),
                    inference_slashed: slashed[0],
                    evaluator_slashed: slashed[1..=k].to_vec(),
                    inference_payout: pay[0],
                    evaluator_payouts: pay[1..=k].to_vec(),
                    measured_cost: None,
                    measured_evaluator_costs: None,
                });
            }
        }
        if spot && let Some(t) = trust {
            t.end_spot_round();
        }
        #[cfg(feature = "transcripts")]
        if let (Some(out), Some(tx)) = (record, tx) {
            out.push(tx);
        }
        Ok(())
    }
}

#[cfg(test)]
impl Engine {
    /// The mean consensus fast path agrees with poq-core's [`Mean`] (checked in tests).
    pub(crate) fn fast_mean(scores: &[Score]) -> Score {
        let sum: f64 = scores.iter().map(|s| s.value()).sum();
        Score::clamped(sum / scores.len() as f64).unwrap_or(Score::MIN)
    }

    pub(crate) fn core_mean(scores: &[Score]) -> Score {
        Mean.aggregate(scores, None).unwrap_or(Score::MIN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn fast_mean_is_bitwise_poq_core_mean(v in proptest::collection::vec(0.0f64..=10.0, 1..MAX_K)) {
            let s: Vec<Score> = v.iter().map(|&x| Score::new(x).unwrap()).collect();
            prop_assert_eq!(Engine::fast_mean(&s).value().to_bits(), Engine::core_mean(&s).value().to_bits());
        }
    }

    #[test]
    fn weighted_pick_follows_weights_and_skips_zeros() {
        let w = [0.0, 1.0, 0.0, 3.0];
        let mut counts = [0usize; 4];
        for r in 0..40_000 {
            counts[weighted_pick(&w, 4.0, &mut RoundRng::new(5, r))] += 1;
        }
        assert_eq!((counts[0], counts[2]), (0, 0));
        assert!((counts[3] as f64 / 40_000.0 - 0.75).abs() < 0.01, "{counts:?}");
    }
}
