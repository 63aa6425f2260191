//! Trust inside population rounds: the relative spot-check rule, updated once per trust epoch.
//!
//! Rounds within a trust epoch run in parallel with the weights fixed; each spot check (a round
//! with probability `detection.rate`) adds the sampled evaluators' errors `|s − t|/10` to
//! per-thread integer sums. At the epoch's end the sums are merged (order-free, so any thread
//! count gives the same bits) and each evaluator's decaying error takes its `m` new observations
//! of mean `ē` at once, `E ← (1 − η)^m·E + (1 − (1 − η)^m)·ē` (the sequential rule when the
//! observations are equal; their order within an epoch is not kept). Weights are then
//! `max(w_min, exp(−max(0, E − margin·Ẽ)/τ))` against the median `Ẽ` of the active evaluators that
//! have been checked, and they weight the consensus and the stake of the next epoch's draws.
//! A newcomer has no error yet and weight 1: trusted until its spot checks say otherwise (a
//! distrusted newcomer would rarely be drawn, so rarely checked, and could not recover).

use crate::popsim::SCALE;
use crate::population::{Detection, Nodes, PopulationTrust};

/// Spot-check sums of one evaluator within a trust epoch, fixed point.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SpotSums {
    pub(crate) n: u32,
    pub(crate) s: i64,
}

/// The evaluators' trust state, by node id.
#[derive(Debug, Clone)]
pub(crate) struct TrustPop {
    rule: Detection,
    w_min: f64,
    eta: f64,
    /// Decaying spot-check error; NaN until first checked.
    error: Vec<f64>,
    pub(crate) weight: Vec<f32>,
    /// Spot checks so far.
    pub(crate) checks: Vec<u32>,
    /// Round at whose end the weight first fell below 1/2 (u64::MAX: never), and the checks by then.
    pub(crate) down_at: Vec<u64>,
    pub(crate) checks_at_down: Vec<u32>,
    scratch: Vec<f64>,
}

impl TrustPop {
    pub(crate) fn new(n: usize, rule: Detection, trust: PopulationTrust) -> Self {
        TrustPop {
            rule,
            w_min: trust.w_min,
            eta: 1.0 - 0.5f64.powf(1.0 / rule.half_life),
            error: vec![f64::NAN; n],
            weight: vec![1.0; n],
            checks: vec![0; n],
            down_at: vec![u64::MAX; n],
            checks_at_down: vec![0; n],
            scratch: Vec::new(),
        }
    }

    /// Takes one trust epoch's spot checks (`spot`, merged over threads) ending at round `end`;
    /// `nodes` and `epoch` say who is active (the median is theirs).
    pub(crate) fn update(&mut self, spot: &[SpotSums], nodes: &Nodes, epoch: u16, end: u64) {
        self.scratch.clear();
        let checked = |e: f64, i: usize| !e.is_nan() && nodes.active_in(i, epoch);
        self.scratch.extend((0..self.error.len()).filter(|&i| checked(self.error[i], i)).map(|i| self.error[i]));
        let mut old_median = median(&mut self.scratch);
        if old_median.is_none() {
            // The first checks of all: start everyone from the median of this epoch's means, not
            // from a node's own few (noisy) checks.
            self.scratch.clear();
            self.scratch.extend(spot.iter().filter(|s| s.n > 0).map(|s| s.s as f64 / SCALE / f64::from(s.n)));
            old_median = median(&mut self.scratch);
        }
        for (i, s) in spot.iter().enumerate() {
            if s.n == 0 {
                continue;
            }
            let mean = s.s as f64 / SCALE / f64::from(s.n);
            let keep = (1.0 - self.eta).powi(i32::try_from(s.n).unwrap_or(i32::MAX));
            // A first check starts from the pool's median (or its own mean when there is none).
            let start = if self.error[i].is_nan() { old_median.unwrap_or(mean) } else { self.error[i] };
            self.error[i] = keep * start + (1.0 - keep) * mean;
            self.checks[i] += s.n;
        }
        self.scratch.clear();
        self.scratch.extend((0..self.error.len()).filter(|&i| checked(self.error[i], i)).map(|i| self.error[i]));
        let Some(reference) = median(&mut self.scratch) else { return };
        let bar = self.rule.margin * reference;
        for i in 0..self.error.len() {
            if self.error[i].is_nan() {
                continue;
            }
            let w = (-(self.error[i] - bar).max(0.0) / self.rule.tau).exp().max(self.w_min);
            self.weight[i] = w as f32;
            if w < 0.5 && self.down_at[i] == u64::MAX {
                self.down_at[i] = end;
                self.checks_at_down[i] = self.checks[i];
            }
        }
    }
}

/// The (upper) median of `v`, reordering it; None when empty.
fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mid = v.len() / 2;
    Some(*v.select_nth_unstable_by(mid, f64::total_cmp).1)
}
