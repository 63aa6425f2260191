//! Population rounds: one inference node answers (drawn from an alias table), `k` evaluators
//! score it (alias table and rejection of repeats), mean consensus, every participant paid.
//!
//! Payouts are summed in fixed point (2^-24 reward units) in per-thread arrays: integer sums do
//! not depend on the order of addition, so merging the threads' arrays gives the same bits for
//! any thread count and any split of the rounds, with no per-chunk merge of million-node arrays.

use crate::alias::AliasTable;
use crate::engine::MAX_K;
use crate::error::{Result, SimError};
use crate::poptrust::{SpotSums, TrustPop};
use crate::population::{Expanded, HONEST, Hot, Population, PopulationAttack};
use crate::rng::RoundRng;
use crate::scenario::Selection;
use poq_core::{Reward, RewardRule};
use rayon::prelude::*;

/// Rounds per block of the round loop (see `rounds`).
const BLOCK: usize = 16;

/// Fixed-point scale of payouts and errors.
pub(crate) const SCALE: f64 = (1u64 << 24) as f64;

/// One node's sums: payouts, Σx and Σx² in fixed point (24 bytes, one cache line mostly).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NodeSums {
    pub(crate) s1: i64,
    pub(crate) s2: i64,
    pub(crate) n: u32,
}

/// Per-node sums of one pool, by node id.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sums(pub(crate) Vec<NodeSums>);

/// `x` in fixed point, truncated toward zero (one instruction; a bias below 2^-24 per payout).
#[inline(always)]
fn fixed(x: f64) -> i64 {
    (x * SCALE) as i64
}

impl Sums {
    fn new(len: usize) -> Self {
        Sums(vec![NodeSums::default(); len])
    }

    #[inline(always)]
    fn add(&mut self, i: usize, x: f64) {
        let s = &mut self.0[i];
        s.n += 1;
        s.s1 += fixed(x);
        s.s2 += fixed(x * x);
    }

    fn merge(&mut self, o: &Sums) {
        for (a, b) in self.0.iter_mut().zip(&o.0) {
            a.n += b.n;
            a.s1 += b.s1;
            a.s2 += b.s2;
        }
    }
}

/// Every node's payout sums and the consensus error of a population run ([`PopulationRun::play`]).
#[derive(Debug, Clone)]
pub struct PopulationSums {
    pub(crate) inference: Sums,
    pub(crate) evaluators: Sums,
    /// Spot checks of the current trust epoch, per evaluator (empty without trust).
    pub(crate) spot: Vec<SpotSums>,
    /// The trust state at the end (with trust).
    pub(crate) trust: Option<TrustPop>,
    /// Consensus error: answers, Σ|e|, Σe², Σe (fixed point).
    pub(crate) errors: u64,
    pub(crate) abs: i64,
    pub(crate) sq: i64,
    pub(crate) signed: i64,
}

impl PopulationSums {
    /// Answers scored (one per round).
    #[must_use]
    pub fn answers(&self) -> u64 {
        self.errors
    }

    fn new(nf: usize, ne: usize, trust: bool) -> Self {
        PopulationSums {
            inference: Sums::new(nf),
            evaluators: Sums::new(ne),
            spot: if trust { vec![SpotSums::default(); ne] } else { Vec::new() },
            trust: None,
            errors: 0,
            abs: 0,
            sq: 0,
            signed: 0,
        }
    }

    fn merge(&mut self, o: &PopulationSums) {
        self.inference.merge(&o.inference);
        self.evaluators.merge(&o.evaluators);
        self.errors += o.errors;
        self.abs += o.abs;
        self.sq += o.sq;
        self.signed += o.signed;
    }
}

/// What the rounds of one segment share: the alias tables, and with trust the weights and the
/// spot-check rate.
struct Segment<'a> {
    serve: &'a AliasTable,
    sample: &'a AliasTable,
    weights: Option<&'a [f32]>,
    spot_rate: f64,
}

/// A compiled evaluator attack of one class: signed shift per inference class, noise, or constant.
#[derive(Debug, Clone)]
enum Act {
    Shift(Vec<f64>),
    Noise(f64),
    Constant(f64),
}

/// A population ready to run.
#[derive(Debug, Clone)]
pub struct PopulationRun {
    pub(crate) spec: Population,
    pub(crate) nodes: Expanded,
    /// Per evaluator class, its attack (for nodes whose `attack` code is not honest).
    acts: Vec<Option<Act>>,
}

impl PopulationRun {
    /// Validates and expands `spec`.
    ///
    /// # Errors
    /// The first invalid field, named ([`SimError::Invalid`]).
    pub fn new(spec: &Population) -> Result<Self> {
        let nodes = spec.expand()?;
        let acts = spec
            .evaluators
            .iter()
            .map(|c| {
                c.adversary.as_ref().map(|a| match &a.attack {
                    PopulationAttack::Boost { amount } => Act::Shift(vec![*amount; spec.inference.len()]),
                    PopulationAttack::Sabotage { amount } => Act::Shift(vec![-*amount; spec.inference.len()]),
                    PopulationAttack::Collusion { ring, amount } => Act::Shift(
                        spec.inference.iter().map(|c| if &c.name == ring { *amount } else { -*amount }).collect(),
                    ),
                    PopulationAttack::Noise { sd } => Act::Noise(*sd),
                    PopulationAttack::Lazy { score } => Act::Constant(*score),
                })
            })
            .collect();
        Ok(PopulationRun { spec: spec.clone(), nodes, acts })
    }

    /// The population.
    #[must_use]
    pub fn spec(&self) -> &Population {
        &self.spec
    }

    /// Number of inference nodes and of evaluators ever present (churn included).
    #[must_use]
    pub fn sizes(&self) -> (usize, usize) {
        (self.nodes.inference.len(), self.nodes.evaluators.len())
    }

    /// Stakes of every inference node and of every evaluator, by node id.
    #[must_use]
    pub fn stakes(&self) -> (&[f64], &[f64]) {
        (&self.nodes.inference.stake, &self.nodes.evaluators.stake)
    }

    /// Which evaluators are adversaries, by node id.
    #[must_use]
    pub fn adversaries(&self) -> Vec<bool> {
        (0..self.nodes.evaluators.len()).map(|i| self.nodes.evaluators.is_adversary(i)).collect()
    }

    /// Active inference nodes and evaluators in each epoch.
    #[must_use]
    pub fn active_per_epoch(&self) -> Vec<(usize, usize)> {
        (0..self.nodes.epochs).map(|e| (self.nodes.inference.active(e), self.nodes.evaluators.active(e))).collect()
    }

    /// Plays every round: segments in order (a segment ends at every churn epoch and every trust
    /// epoch), each segment's rounds split over the current rayon pool.
    /// [`run`](Self::run) is this and [`summarize`](Self::summarize); benches time this alone.
    ///
    /// # Errors
    /// An epoch with fewer than `k` evaluators, or no inference node, to draw from.
    pub fn play(&self) -> Result<PopulationSums> {
        let (nf, ne) = self.sizes();
        let sp = &self.spec;
        let threads = rayon::current_num_threads().max(1);
        let mut accs: Vec<PopulationSums> =
            (0..threads).map(|_| PopulationSums::new(nf, ne, sp.trust.is_some())).collect();
        let mut trust = sp.trust.map(|t| TrustPop::new(ne, sp.detection, t));
        let churn_rounds = sp.churn.map_or(sp.rounds, |c| c.epoch_rounds);
        let trust_rounds = sp.trust.map_or(sp.rounds, |t| t.epoch_rounds);
        let mut start = 0;
        let mut serve: Option<(u16, AliasTable)> = None;
        while start < sp.rounds {
            let end = (start / churn_rounds + 1).saturating_mul(churn_rounds);
            let end = end.min((start / trust_rounds + 1).saturating_mul(trust_rounds)).min(sp.rounds);
            let epoch = u16::try_from(start / churn_rounds).unwrap_or(u16::MAX);
            if serve.as_ref().is_none_or(|(e, _)| *e != epoch) {
                serve = Some((epoch, self.table("inference", &self.nodes.inference, epoch, sp.serving, None)?));
            }
            let weights = trust.as_ref().map(|t| t.weight.as_slice());
            let sample = self.table("evaluators", &self.nodes.evaluators, epoch, sp.sampling, weights)?;
            if sample.positive() < sp.k {
                return Err(SimError::invalid(
                    "evaluators",
                    format!("epoch {epoch} has {} evaluators to draw from, fewer than k = {}", sample.positive(), sp.k),
                ));
            }
            let Some((_, serve)) = serve.as_ref() else { break };
            let seg = Segment { serve, sample: &sample, weights, spot_rate: sp.detection.rate };
            let per = (end - start).div_ceil(threads as u64);
            let job = |(t, acc): (usize, &mut PopulationSums)| {
                let a = (start + t as u64 * per).min(end);
                let b = (a + per).min(end);
                match sp.reward {
                    Reward::Linear(rule) => self.rounds(&rule, a..b, &seg, acc),
                    Reward::QualityPerCost(rule) => self.rounds(&rule, a..b, &seg, acc),
                    Reward::Power(rule) => self.rounds(&rule, a..b, &seg, acc),
                }
            };
            accs.par_iter_mut().enumerate().for_each(job);
            if let Some(t) = trust.as_mut() {
                // Integer sums over threads: the same for any split of the rounds.
                let mut spot = vec![SpotSums::default(); ne];
                for acc in &mut accs {
                    for (total, s) in spot.iter_mut().zip(acc.spot.iter_mut()) {
                        total.n += s.n;
                        total.s += s.s;
                        *s = SpotSums::default();
                    }
                }
                t.update(&spot, &self.nodes.evaluators, epoch, end);
            }
            start = end;
        }
        let mut total = accs.pop().unwrap_or_else(|| PopulationSums::new(nf, ne, false));
        for a in &accs {
            total.merge(a);
        }
        total.trust = trust;
        Ok(total)
    }

    /// The alias table of a pool in `epoch`, stakes (or 1) of active nodes times `trust` weights.
    fn table(
        &self,
        field: &str,
        nodes: &crate::population::Nodes,
        epoch: u16,
        sel: Selection,
        trust: Option<&[f32]>,
    ) -> Result<AliasTable> {
        let mut w = nodes.weights(epoch, sel == Selection::Uniform);
        if let Some(t) = trust {
            w.iter_mut().zip(t).for_each(|(w, t)| *w *= f64::from(*t));
        }
        AliasTable::new(&format!("{field} (epoch {epoch})"), &w)
            .map_err(|e| SimError::invalid(field, format!("no node to draw in epoch {epoch}: {e}")))
    }

    /// The round loop (see the module notes). Each round draws, in order: the inference node,
    /// the `k` evaluators, the truth, then each evaluator's noise (and its attack's, if any).
    ///
    /// Rounds go in blocks of [`BLOCK`], each block in three passes: draw every round's nodes,
    /// load their parameters, then score and pay. A round's draws are the same as in one pass;
    /// what changes is that the passes have no dependency from one round to the next, so the
    /// processor overlaps the cache misses of a block's random nodes (a million-node pool does not
    /// fit in cache) instead of waiting for each in turn. Integer sums make the order of the
    /// payouts irrelevant.
    fn rounds<Rule: RewardRule>(
        &self,
        rule: &Rule,
        rounds: std::ops::Range<u64>,
        seg: &Segment<'_>,
        acc: &mut PopulationSums,
    ) {
        let (serve, sample) = (seg.serve, seg.sample);
        let k = self.spec.k.min(MAX_K);
        let (inf, ev) = (&self.nodes.inference, &self.nodes.evaluators);
        // Per-block buffers, set up once per call (zeroing them per block would cost more than
        // the rounds).
        let mut rngs: [Option<RoundRng>; BLOCK] = [const { None }; BLOCK];
        let mut served = [0usize; BLOCK];
        let mut ids = [[0usize; MAX_K]; BLOCK];
        let mut hot = [[Hot::default(); MAX_K + 1]; BLOCK];
        let mut block_start = rounds.start;
        while block_start < rounds.end {
            let len = (rounds.end - block_start).min(BLOCK as u64) as usize;
            for b in 0..len {
                let mut rng = RoundRng::new(self.spec.seed, block_start + b as u64);
                served[b] = serve.sample(&mut rng);
                sample.distinct(&mut rng, &mut ids[b][..k]);
                rngs[b] = Some(rng);
            }
            // Also read each payout's sums now, so that their cache lines are loaded together.
            let mut touch = 0u32;
            for b in 0..len {
                hot[b][0] = inf.hot[served[b]];
                touch ^= acc.inference.0[served[b]].n;
                for j in 0..k {
                    hot[b][j + 1] = ev.hot[ids[b][j]];
                    touch ^= acc.evaluators.0[ids[b][j]].n;
                }
            }
            std::hint::black_box(touch);
            for b in 0..len {
                if let Some(rng) = rngs[b].as_mut() {
                    self.score_and_pay(rule, rng, (served[b], &ids[b][..k], &hot[b][..=k]), seg, acc);
                }
            }
            block_start += len as u64;
        }
    }

    /// The rest of a round once its nodes are drawn (`drawn`: the inference node's id, the
    /// evaluators' ids, and their parameters, the inference node's first): truth, scores,
    /// consensus, payouts.
    #[inline(always)]
    fn score_and_pay<Rule: RewardRule>(
        &self,
        rule: &Rule,
        rng: &mut RoundRng,
        drawn: (usize, &[usize], &[Hot]),
        seg: &Segment<'_>,
        acc: &mut PopulationSums,
    ) {
        let (f, ids, hot) = drawn;
        let k = ids.len().min(MAX_K);
        let node = hot[0];
        let mut scores = [0.0f64; MAX_K];
        let truth = (f64::from(node.centre) + f64::from(node.spread) * rng.normal()).clamp(0.0, 10.0);
        let mut sum = 0.0;
        for j in 0..k {
            let e = hot[j + 1];
            let mut s = truth + f64::from(e.centre) + f64::from(e.spread) * rng.normal();
            if e.attack != HONEST
                && let Some(act) = &self.acts[usize::from(e.class)]
            {
                s = match act {
                    Act::Shift(d) => s + d[usize::from(node.class)],
                    Act::Noise(sd) => s + sd * rng.normal(),
                    Act::Constant(v) => *v,
                };
            }
            scores[j] = s.clamp(0.0, 10.0);
            sum += scores[j];
        }
        let consensus = match seg.weights {
            None => (sum / k as f64).clamp(0.0, 10.0),
            Some(w) => {
                let (mut ws, mut wsum) = (0.0, 0.0);
                for j in 0..k {
                    let wj = f64::from(w[ids[j]]);
                    ws += wj * scores[j];
                    wsum += wj;
                }
                (ws / wsum).clamp(0.0, 10.0)
            }
        };
        let err = consensus - truth;
        acc.errors += 1;
        acc.abs += fixed(err.abs());
        acc.sq += fixed(err * err);
        acc.signed += fixed(err);
        acc.inference.add(f, rule.reward(consensus / 10.0, f64::from(node.cost)));
        for j in 0..k {
            let agreement = 1.0 - (scores[j] - consensus).abs() / 10.0;
            acc.evaluators.add(ids[j], rule.reward(agreement, f64::from(hot[j + 1].cost)));
        }
        // With trust, a spot check (drawn last, so rounds without trust draw nothing more).
        if seg.weights.is_some() && rng.chance(seg.spot_rate) {
            for j in 0..k {
                let s = &mut acc.spot[ids[j]];
                s.n += 1;
                s.s += fixed((scores[j] - truth).abs() / 10.0);
            }
        }
    }
}
