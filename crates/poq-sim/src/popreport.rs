//! What a population run produces: distributions per class instead of one row per node.
//!
//! Per class: the spread of node mean rewards (mean and quantiles), the class's share of all
//! payouts, inequality within it (Gini, top-1 % share), and how many rounds a node needs before
//! the 95 % interval of its mean reward is narrower than `ci_width`: `n* = (2·1.96·sd/width)²`
//! payouts from its measured sd, over its measured payouts per round. Per adversarial class: the
//! rounds until each adversary is down-weighted by the relative spot-check rule, from a replay of
//! that rule on the node's own spot checks (see [`PopulationReport::detection`]).

use crate::error::Result;
use crate::popsim::{NodeSums, PopulationRun, PopulationSums, SCALE, Sums};
use crate::population::{NEVER, Nodes, Population};
use crate::report::ConsensusAccuracy;
use crate::rng::RoundRng;
use serde::{Deserialize, Serialize};

/// Quantiles reported for every distribution.
pub const QUANTILES: [f64; 5] = [0.05, 0.25, 0.5, 0.75, 0.95];

/// A distribution over nodes: count, mean and [`QUANTILES`] (NaN when empty).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    /// Nodes with a value.
    pub count: usize,
    /// Their mean.
    pub mean: f64,
    /// Values at [`QUANTILES`].
    pub quantiles: Vec<f64>,
}

impl Distribution {
    /// Of `values` (sorted here; NaNs are dropped).
    #[must_use]
    pub fn of(mut values: Vec<f64>) -> Self {
        values.retain(|v| !v.is_nan());
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let mean = if n == 0 { f64::NAN } else { values.iter().sum::<f64>() / n as f64 };
        let quantiles = QUANTILES.iter().map(|&q| quantile(&values, q)).collect();
        Distribution { count: n, mean, quantiles }
    }
}

/// Fraction of `values` (NaN counted as never) at or below `10^x` for x on [`CI_GRID`].
fn cdf(values: &[f64]) -> Curve {
    let mut v: Vec<f64> = values.iter().map(|x| if x.is_nan() { f64::INFINITY } else { *x }).collect();
    v.sort_by(f64::total_cmp);
    let (lo, hi, n) = CI_GRID;
    (0..n)
        .map(|i| {
            let x = lo + (hi - lo) * i as f64 / (n - 1) as f64;
            let below = v.partition_point(|&r| r <= 10f64.powf(x));
            (x, below as f64 / v.len().max(1) as f64)
        })
        .collect()
}

/// Linear-interpolated quantile of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        n => {
            let x = q * (n - 1) as f64;
            let (i, f) = (x.floor() as usize, x - x.floor());
            sorted[i] + (sorted[(i + 1).min(n - 1)] - sorted[i]) * f
        }
    }
}

/// Gini coefficient of non-negative amounts (0: equal, → 1: one holds all).
#[must_use]
pub fn gini(amounts: &[f64]) -> f64 {
    let mut v: Vec<f64> = amounts.iter().map(|x| x.max(0.0)).collect();
    v.sort_by(f64::total_cmp);
    let (n, total) = (v.len() as f64, v.iter().sum::<f64>());
    if v.is_empty() || total <= 0.0 {
        return 0.0;
    }
    let weighted: f64 = v.iter().enumerate().map(|(i, x)| (i as f64 + 1.0) * x).sum();
    (2.0 * weighted) / (n * total) - (n + 1.0) / n
}

/// Share of the total held by the top `fraction` of nodes (at least one node).
#[must_use]
pub fn top_share(amounts: &[f64], fraction: f64) -> f64 {
    let mut v: Vec<f64> = amounts.iter().map(|x| x.max(0.0)).collect();
    v.sort_by(|a, b| b.total_cmp(a));
    let total: f64 = v.iter().sum();
    let top = ((fraction * v.len() as f64).ceil() as usize).clamp(1, v.len().max(1));
    if total <= 0.0 { 0.0 } else { v.iter().take(top).sum::<f64>() / total }
}

/// Lorenz curve at `points + 1` evenly spaced population shares: (share of nodes, share of rewards).
#[must_use]
pub fn lorenz(amounts: &[f64], points: usize) -> Vec<(f64, f64)> {
    let mut v: Vec<f64> = amounts.iter().map(|x| x.max(0.0)).collect();
    v.sort_by(f64::total_cmp);
    let total: f64 = v.iter().sum();
    let mut cum = Vec::with_capacity(v.len() + 1);
    cum.push(0.0);
    for x in &v {
        cum.push(cum[cum.len() - 1] + x);
    }
    (0..=points)
        .map(|p| {
            let share = p as f64 / points as f64;
            let i = (share * v.len() as f64).round() as usize;
            (share, if total > 0.0 { cum[i] / total } else { share })
        })
        .collect()
}

/// Points `(x, y)` of a curve.
pub type Curve = Vec<(f64, f64)>;

/// One class's distributions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassStats {
    /// Class name.
    pub class: String,
    /// `inference` or `evaluator`.
    pub kind: String,
    /// Nodes ever present.
    pub nodes: usize,
    /// Nodes active in the last epoch.
    pub active_at_end: usize,
    /// Mean reward per payout of its nodes (nodes with at least one payout).
    pub mean_reward: Distribution,
    /// Share of its pool's positive payouts.
    pub pool_share: f64,
    /// Gini of its nodes' total payouts.
    pub gini: f64,
    /// Share of the class's payouts taken by its top 1 % of nodes.
    pub top1_share: f64,
    /// Rounds until a node's 95 % interval is narrower than `ci_width` (nodes with ≥ 2 payouts).
    pub rounds_to_ci: Distribution,
    /// Fraction of its nodes whose interval was that narrow by the end of the run.
    pub settled: f64,
    /// Convergence: `(log10 rounds, fraction of nodes whose interval is narrower than
    /// `ci_width` after that many rounds)`, at [`CI_GRID`].
    pub ci_cdf: Curve,
}

/// The grid of `log10 rounds` at which [`ClassStats::ci_cdf`] is given: 10^2 to 10^11.
pub const CI_GRID: (f64, f64, usize) = (2.0, 11.0, 37);

/// Down-weighting of one adversarial class by the relative spot-check rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectionStats {
    /// Evaluator class.
    pub class: String,
    /// Its attack.
    pub attack: String,
    /// Its adversarial nodes.
    pub adversaries: usize,
    /// Spot checks until down-weighted (weight < 1/2), per adversary that ever is.
    pub spot_checks: Distribution,
    /// The same in rounds of the network, at each node's measured rate of being drawn.
    pub rounds: Distribution,
    /// Fraction never down-weighted (within 10,000 spot checks when replayed; by the end of the
    /// run when measured).
    pub never: f64,
    /// Measured in the rounds (population `trust` on), or replayed per node (off).
    pub measured: bool,
}

/// The result of a population run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PopulationReport {
    /// Population name.
    pub name: String,
    /// Rounds played.
    pub rounds: u64,
    /// Seed.
    pub seed: u64,
    /// Inference nodes and evaluators ever present.
    pub nodes: (usize, usize),
    /// Consensus against truth over all answers.
    pub consensus: ConsensusAccuracy,
    /// Per class.
    pub classes: Vec<ClassStats>,
    /// Gini of all inference nodes' and of all evaluators' total payouts.
    pub gini: (f64, f64),
    /// Top-1 % share of the inference pool and of the evaluator pool.
    pub top1_share: (f64, f64),
    /// Lorenz curves (inference, evaluators), 100 steps.
    pub lorenz: (Curve, Curve),
    /// Error of the honest evaluators' spot checks, median over nodes (the rule's reference `Ẽ`),
    /// and the error above which a node's weight falls below 1/2.
    pub detection_threshold: (f64, f64),
    /// Per adversarial evaluator class. The replay assumes the median stays at its honest value
    /// (adversaries a minority) and that down-weighting does not change who is drawn during the
    /// run: the round loop itself does not weight by trust (that needs rounds in order; the
    /// small-scale `adversarial` sweep does it).
    pub detection: Vec<DetectionStats>,
    /// With `trust`: the fraction of honest evaluators ever down-weighted (false positives).
    pub honest_down_weighted: Option<f64>,
}

/// Per-node figures derived from the sums.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NodeFigures {
    pub(crate) n: u32,
    pub(crate) mean: f64,
    #[cfg_attr(not(feature = "csv"), allow(dead_code))] // read by the per-node CSV only
    pub(crate) sd: f64,
    pub(crate) total: f64,
    /// Rounds it was active.
    pub(crate) active_rounds: u64,
    pub(crate) rounds_to_ci: f64,
}

impl PopulationRun {
    /// Rounds node `i` of `nodes` was active.
    fn active_rounds(&self, nodes: &Nodes, i: usize) -> u64 {
        let epoch = self.spec.churn.map_or(self.spec.rounds, |c| c.epoch_rounds);
        let start = u64::from(nodes.joins[i]) * epoch;
        let end = if nodes.leaves[i] == NEVER { self.spec.rounds } else { u64::from(nodes.leaves[i]) * epoch };
        let end = end.min(self.spec.rounds);
        end.saturating_sub(start)
    }

    pub(crate) fn figures(&self, nodes: &Nodes, sums: &Sums, i: usize) -> NodeFigures {
        let NodeSums { s1, s2, n } = sums.0[i];
        let nf = f64::from(n);
        let (s1, s2) = (s1 as f64 / SCALE, s2 as f64 / SCALE);
        let mean = if n == 0 { f64::NAN } else { s1 / nf };
        let sd = if n < 2 { f64::NAN } else { ((s2 - nf * mean * mean) / (nf - 1.0)).max(0.0).sqrt() };
        let active_rounds = self.active_rounds(nodes, i);
        let needed = (2.0 * 1.96 * sd / self.spec.ci_width).powi(2).max(2.0);
        let rate = nf / active_rounds.max(1) as f64;
        NodeFigures { n, mean, sd, total: s1, active_rounds, rounds_to_ci: needed / rate }
    }

    /// Plays every round and summarizes.
    ///
    /// # Errors
    /// An epoch with fewer than `k` evaluators to draw from, or no inference node.
    pub fn run(&self) -> Result<PopulationResult> {
        Ok(self.summarize(self.play()?))
    }

    /// The distributions of a run's sums (from [`play`](Self::play) on this population).
    #[must_use]
    pub fn summarize(&self, sums: PopulationSums) -> PopulationResult {
        let report = self.report(&sums);
        PopulationResult { report, sums }
    }

    fn report(&self, acc: &PopulationSums) -> PopulationReport {
        let sp = &self.spec;
        let last = self.nodes.epochs.saturating_sub(1);
        let mut classes = Vec::new();
        let mut pools = Vec::new();
        for (kind, nodes, sums, names) in [
            (
                "inference",
                &self.nodes.inference,
                &acc.inference,
                sp.inference.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
            ),
            (
                "evaluator",
                &self.nodes.evaluators,
                &acc.evaluators,
                sp.evaluators.iter().map(|c| c.name.clone()).collect(),
            ),
        ] {
            let figs: Vec<NodeFigures> = (0..nodes.len()).map(|i| self.figures(nodes, sums, i)).collect();
            let totals: Vec<f64> = figs.iter().map(|f| f.total).collect();
            let positive: f64 = totals.iter().map(|t| t.max(0.0)).sum();
            for (c, name) in names.into_iter().enumerate() {
                let members: Vec<usize> = (0..nodes.len()).filter(|&i| nodes.class(i) == c).collect();
                let class_totals: Vec<f64> = members.iter().map(|&i| totals[i]).collect();
                let ci: Vec<f64> = members.iter().map(|&i| figs[i].rounds_to_ci).collect();
                let settled = members.iter().filter(|&&i| figs[i].rounds_to_ci <= figs[i].active_rounds as f64).count();
                classes.push(ClassStats {
                    class: name,
                    kind: kind.into(),
                    nodes: members.len(),
                    active_at_end: members
                        .iter()
                        .filter(|&&i| nodes.joins[i] <= last && last < nodes.leaves[i])
                        .count(),
                    mean_reward: Distribution::of(members.iter().map(|&i| figs[i].mean).collect()),
                    pool_share: if positive > 0.0 {
                        class_totals.iter().map(|t| t.max(0.0)).sum::<f64>() / positive
                    } else {
                        0.0
                    },
                    gini: gini(&class_totals),
                    top1_share: top_share(&class_totals, 0.01),
                    rounds_to_ci: Distribution::of(ci.clone()),
                    settled: settled as f64 / members.len().max(1) as f64,
                    ci_cdf: cdf(&ci),
                });
            }
            pools.push(totals);
        }
        let (inf, ev) = (&pools[0], &pools[1]);
        let (reference, threshold, mut detection) = self.detection(acc);
        let mut honest_down_weighted = None;
        if let Some(t) = &acc.trust {
            detection = self.measured_detection(t);
            let ev = &self.nodes.evaluators;
            let honest: Vec<usize> = (0..ev.len()).filter(|&i| !ev.is_adversary(i)).collect();
            let down = honest.iter().filter(|&&i| t.down_at[i] != u64::MAX).count();
            honest_down_weighted = Some(down as f64 / honest.len().max(1) as f64);
        }
        let n = acc.errors.max(1) as f64;
        PopulationReport {
            name: sp.name.clone(),
            rounds: sp.rounds,
            seed: sp.seed,
            nodes: self.sizes(),
            consensus: ConsensusAccuracy {
                answers: acc.errors,
                mae: acc.abs as f64 / SCALE / n,
                rmse: (acc.sq as f64 / SCALE / n).sqrt(),
                bias: acc.signed as f64 / SCALE / n,
            },
            classes,
            gini: (gini(inf), gini(ev)),
            top1_share: (top_share(inf, 0.01), top_share(ev, 0.01)),
            lorenz: (lorenz(inf, 100), lorenz(ev, 100)),
            detection_threshold: (reference, threshold),
            detection,
            honest_down_weighted,
        }
    }

    /// One spot-check error `|s − t|/10` of an evaluator of class `c` (attack applied when
    /// `bad`), on an answer drawn from the inference pool (class by count, then the class's model).
    fn spot_error(&self, c: usize, bad: bool, rng: &mut RoundRng) -> f64 {
        let sp = &self.spec;
        let total: usize = sp.inference.iter().map(|x| x.count).sum();
        let mut pick = rng.index(total.max(1));
        let f = sp.inference.iter().position(|x| {
            let hit = pick < x.count;
            pick = pick.saturating_sub(x.count);
            hit
        });
        let Some(f) = f else { return 0.0 };
        let m = &sp.inference[f];
        let t = (m.quality + m.quality_spread * rng.normal() + m.quality_sd * rng.normal()).clamp(0.0, 10.0);
        let e = &sp.evaluators[c];
        let mut s = t + e.bias + e.sd * rng.normal();
        if bad && let Some(a) = &e.adversary {
            use crate::population::PopulationAttack as A;
            s = match &a.attack {
                A::Boost { amount } => s + amount,
                A::Sabotage { amount } => s - amount,
                A::Collusion { ring, amount } => s + if &m.name == ring { *amount } else { -*amount },
                A::Noise { sd } => s + sd * rng.normal(),
                A::Lazy { score } => *score,
            };
        }
        (s.clamp(0.0, 10.0) - t).abs() / 10.0
    }

    /// Detection as it happened in the rounds: from each adversary's first round to the end of the
    /// trust epoch in which its weight fell below 1/2.
    fn measured_detection(&self, t: &crate::poptrust::TrustPop) -> Vec<DetectionStats> {
        let sp = &self.spec;
        let ev = &self.nodes.evaluators;
        let churn_rounds = sp.churn.map_or(sp.rounds, |c| c.epoch_rounds);
        sp.evaluators
            .iter()
            .enumerate()
            .filter_map(|(c, class)| {
                let a = class.adversary.as_ref()?;
                let members: Vec<usize> = (0..ev.len()).filter(|&i| ev.class(i) == c && ev.is_adversary(i)).collect();
                let caught: Vec<usize> = members.iter().copied().filter(|&i| t.down_at[i] != u64::MAX).collect();
                let joined = |i: usize| u64::from(ev.joins[i]) * churn_rounds;
                Some(DetectionStats {
                    class: class.name.clone(),
                    attack: a.attack.label().into(),
                    adversaries: members.len(),
                    spot_checks: Distribution::of(caught.iter().map(|&i| f64::from(t.checks_at_down[i])).collect()),
                    rounds: Distribution::of(
                        caught.iter().map(|&i| t.down_at[i].saturating_sub(joined(i)) as f64).collect(),
                    ),
                    never: (members.len() - caught.len()) as f64 / members.len().max(1) as f64,
                    measured: true,
                })
            })
            .collect()
    }

    /// The rule's reference error, its threshold, and each adversarial class's detection times.
    fn detection(&self, acc: &PopulationSums) -> (f64, f64, Vec<DetectionStats>) {
        const SALT: u64 = 0xDE7E_C700_0000_0003;
        let sp = &self.spec;
        let d = sp.detection;
        let ev = &self.nodes.evaluators;
        // Honest steady-state error per class (4,096 spot checks), then the median over nodes.
        let mut by_class: Vec<(f64, usize)> = sp
            .evaluators
            .iter()
            .enumerate()
            .map(|(c, class)| {
                let mut rng = RoundRng::new(sp.seed ^ SALT, c as u64);
                let e = (0..4096).map(|_| self.spot_error(c, false, &mut rng)).sum::<f64>() / 4096.0;
                let honest = (0..ev.len()).filter(|&i| ev.class(i) == c && !ev.is_adversary(i)).count();
                (e, if class.count == 0 { 0 } else { honest })
            })
            .collect();
        by_class.sort_by(|a, b| a.0.total_cmp(&b.0));
        let half = by_class.iter().map(|x| x.1).sum::<usize>().div_ceil(2);
        let mut seen = 0;
        let reference = by_class.iter().find(|x| {
            seen += x.1;
            seen >= half.max(1)
        });
        let reference = reference.map_or(f64::NAN, |x| x.0);
        let threshold = d.margin * reference + d.tau * std::f64::consts::LN_2;
        let eta = 1.0 - 0.5f64.powf(1.0 / d.half_life);
        let stats = sp
            .evaluators
            .iter()
            .enumerate()
            .filter_map(|(c, class)| {
                let a = class.adversary.as_ref()?;
                let members: Vec<usize> = (0..ev.len()).filter(|&i| ev.class(i) == c && ev.is_adversary(i)).collect();
                let mut checks = Vec::new();
                let mut rounds = Vec::new();
                let mut never = 0;
                for &i in &members {
                    let mut rng = RoundRng::new(sp.seed ^ SALT, (1 << 32) + i as u64);
                    // From a trusted start (the honest median): how long until the rule reacts.
                    let mut err = reference;
                    let hit = (1..=10_000u32).find(|_| {
                        err += eta * (self.spot_error(c, true, &mut rng) - err);
                        err > threshold
                    });
                    match hit {
                        Some(m) => {
                            checks.push(f64::from(m));
                            let fig = self.figures(ev, &acc.evaluators, i);
                            let per_round = f64::from(fig.n) / fig.active_rounds.max(1) as f64 * d.rate;
                            rounds.push(if per_round > 0.0 { f64::from(m) / per_round } else { f64::NAN });
                        }
                        None => never += 1,
                    }
                }
                Some(DetectionStats {
                    class: class.name.clone(),
                    attack: a.attack.label().into(),
                    adversaries: members.len(),
                    spot_checks: Distribution::of(checks),
                    rounds: Distribution::of(rounds),
                    never: never as f64 / members.len().max(1) as f64,
                    measured: false,
                })
            })
            .collect();
        (reference, threshold, stats)
    }
}

/// A population run's report and its per-node sums (for [`PopulationResult::write_nodes_csv`]).
#[derive(Debug, Clone)]
pub struct PopulationResult {
    /// The distributions.
    pub report: PopulationReport,
    pub(crate) sums: PopulationSums,
}

impl PopulationResult {
    /// Total payouts of every inference node, then every evaluator, by node id.
    #[must_use]
    pub fn totals(&self) -> (Vec<f64>, Vec<f64>) {
        let t = |s: &Sums| s.0.iter().map(|x| x.s1 as f64 / SCALE).collect();
        (t(&self.sums.inference), t(&self.sums.evaluators))
    }

    /// Payouts received by every inference node, then every evaluator, by node id.
    #[must_use]
    pub fn payouts(&self) -> (Vec<u32>, Vec<u32>) {
        let n = |s: &Sums| s.0.iter().map(|x| x.n).collect();
        (n(&self.sums.inference), n(&self.sums.evaluators))
    }

    /// Streams one CSV row per node (feature `csv`): kind, id, class, stake, adversary, joined
    /// and left epochs, payouts, mean reward, sd, 95 % interval, rounds to `ci_width`.
    #[cfg(feature = "csv")]
    pub fn write_nodes_csv<W: std::io::Write>(&self, run: &PopulationRun, out: W) -> Result<()> {
        use crate::error::SimError;
        let err = |source| SimError::Csv { path: "<nodes>".into(), source };
        let mut w = csv::Writer::from_writer(out);
        w.write_record([
            "kind",
            "id",
            "class",
            "stake",
            "adversary",
            "joined_epoch",
            "left_epoch",
            "payouts",
            "mean_reward",
            "sd",
            "ci_low",
            "ci_high",
            "rounds_to_ci",
        ])
        .map_err(err)?;
        let sp = run.spec();
        for (kind, nodes, sums) in [
            ("inference", &run.nodes.inference, &self.sums.inference),
            ("evaluator", &run.nodes.evaluators, &self.sums.evaluators),
        ] {
            for i in 0..nodes.len() {
                let f = run.figures(nodes, sums, i);
                let c = nodes.class(i);
                let (class, adversary) = if kind == "inference" {
                    (sp.inference[c].name.as_str(), "honest")
                } else {
                    let e = &sp.evaluators[c];
                    let a = e.adversary.as_ref().filter(|_| nodes.is_adversary(i));
                    (e.name.as_str(), a.map_or("honest", |a| a.attack.label()))
                };
                let half = if f.n >= 2 {
                    crate::special::t_975(f64::from(f.n) - 1.0) * f.sd / f64::from(f.n).sqrt()
                } else {
                    f64::NAN
                };
                let left = if nodes.leaves[i] == NEVER { String::new() } else { nodes.leaves[i].to_string() };
                w.write_record([
                    kind.to_owned(),
                    i.to_string(),
                    class.to_owned(),
                    nodes.stake[i].to_string(),
                    adversary.to_owned(),
                    nodes.joins[i].to_string(),
                    left,
                    f.n.to_string(),
                    f.mean.to_string(),
                    f.sd.to_string(),
                    (f.mean - half).to_string(),
                    (f.mean + half).to_string(),
                    f.rounds_to_ci.to_string(),
                ])
                .map_err(err)?;
            }
        }
        w.flush().map_err(|source| SimError::Io { path: "<nodes>".into(), source })?;
        Ok(())
    }
}

impl PopulationReport {
    /// A plain-text summary: one line per class, then detection.
    #[must_use]
    pub fn table(&self) -> String {
        let mut s = format!(
            "{:<22} {:<9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7} {:>6} {:>6} {:>12} {:>8}\n",
            "class", "kind", "nodes", "mean", "p5", "p50", "p95", "share", "gini", "top1%", "ci rounds p50", "settled"
        );
        for c in &self.classes {
            let q = &c.mean_reward.quantiles;
            s += &format!(
                "{:<22} {:<9} {:>9} {:>9.4} {:>9.4} {:>9.4} {:>9.4} {:>7.3} {:>6.3} {:>6.3} {:>12.0} {:>8.3}\n",
                c.class,
                c.kind,
                c.nodes,
                c.mean_reward.mean,
                q[0],
                q[2],
                q[4],
                c.pool_share,
                c.gini,
                c.top1_share,
                c.rounds_to_ci.quantiles[2],
                c.settled
            );
        }
        s += &format!(
            "pools: Gini {:.3} (inference), {:.3} (evaluators); top-1% share {:.3}, {:.3}\n",
            self.gini.0, self.gini.1, self.top1_share.0, self.top1_share.1
        );
        s += &format!(
            "consensus vs truth over {} answers: MAE {:.4}, RMSE {:.4}, bias {:+.4}\n",
            self.consensus.answers, self.consensus.mae, self.consensus.rmse, self.consensus.bias
        );
        for d in &self.detection {
            s += &format!(
                "detection of `{}` ({}, {} nodes, {}): spot checks p50 {:.0} p95 {:.0}; rounds p50 {:.0} p95 {:.0}; never {:.3}\n",
                d.class,
                d.attack,
                d.adversaries,
                if d.measured { "measured in the rounds" } else { "replayed" },
                d.spot_checks.quantiles[2],
                d.spot_checks.quantiles[4],
                d.rounds.quantiles[2],
                d.rounds.quantiles[4],
                d.never
            );
        }
        if let Some(f) = self.honest_down_weighted {
            s += &format!("honest evaluators ever down-weighted: {f:.4}\n");
        }
        s
    }
}

/// Validates, expands and runs a population.
///
/// # Errors
/// The first invalid field ([`SimError::Invalid`](crate::SimError::Invalid)).
pub fn simulate_population(spec: &Population) -> Result<PopulationResult> {
    PopulationRun::new(spec)?.run()
}
