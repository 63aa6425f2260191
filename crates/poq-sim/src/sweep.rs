//! Cartesian sweeps over scenario parameters, sharded for batch schedulers.
//!
//! A sweep is a list of axes `key=v1,v2,...`; its points are the cartesian product (the last axis
//! varies fastest), numbered from 0. `--shard i/n` runs the points with `index % n == i`, and
//! [`merge_csv`](crate::output::merge_csv) joins the shards' CSVs in point order, so a Slurm array,
//! Kubernetes jobs or GNU parallel can run a large sweep without new code. Every output row carries
//! its point, its parameters and its seed.
//!
//! Keys: `alpha`, `beta`, `k`, `consensus` (`mean`, `median`, `trimmed_mean:0.2`, `yuma:0.5`),
//! `attack` and `malicious_ratio` (see [`inject`]), `audit_rate`, `audit_penalty`, `rounds`, `seed`,
//! `sampling` (`uniform`, `stake`, `trust`), `serving` (`all`, `uniform`, `stake`), `trust` (`none`,
//! `adaptive`, `spot_check`, `relative_spot_check`), `budget`, `warmup`. Populations
//! ([`run_population_sweep`]): `k`, `rounds`, `seed`, `serving`, `sampling`, `alpha`, `beta`,
//! `join`, `leave`, `epoch_rounds`, `ci_width`, `adversary_share`.

use crate::adversary::{EvaluatorAdversary, EvaluatorAttack, LazyScore};
use crate::engine::Engine;
use crate::error::{Result, SimError};
use crate::popsweep::POPULATION_KEYS;
#[cfg(feature = "csv")]
pub use crate::popsweep::write_population_csv;
pub use crate::popsweep::{apply_population, run_population_sweep};
use crate::report::Report;
use crate::run::{Progress, RunOptions};
use crate::scenario::{Cost, Scenario, Selection, Serving};
use crate::trust::{RelativeSpotCheck, SpotCheck, Trust};
use poq_core::{Consensus, Linear, Reward};
use rayon::prelude::*;

/// One swept parameter and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// The parameter.
    pub key: String,
    /// Its values, as written.
    pub values: Vec<String>,
}

/// A cartesian product of axes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sweep {
    /// The axes; the last varies fastest.
    pub axes: Vec<Axis>,
}

const KEYS: [&str; 15] = [
    "alpha",
    "beta",
    "k",
    "consensus",
    "attack",
    "malicious_ratio",
    "audit_rate",
    "audit_penalty",
    "rounds",
    "seed",
    "sampling",
    "serving",
    "trust",
    "budget",
    "warmup",
];

impl Sweep {
    /// Parses `key=v1,v2,...` specifications (one per axis).
    pub fn parse<S: AsRef<str>>(specs: &[S]) -> Result<Sweep> {
        let mut axes = Vec::new();
        for spec in specs {
            let spec = spec.as_ref();
            let bad = |reason: &str| SimError::Sweep { spec: spec.into(), reason: reason.into() };
            let (key, values) = spec.split_once('=').ok_or_else(|| bad("expected key=v1,v2,..."))?;
            let key = key.trim();
            if !KEYS.contains(&key) && !POPULATION_KEYS.contains(&key) {
                return Err(bad(&format!(
                    "unknown key `{key}`; known: {}, and for populations {}",
                    KEYS.join(", "),
                    POPULATION_KEYS.join(", ")
                )));
            }
            let values: Vec<String> =
                values.split(',').map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).collect();
            if values.is_empty() {
                return Err(bad("no values"));
            }
            if axes.iter().any(|a: &Axis| a.key == key) {
                return Err(bad("key given twice"));
            }
            axes.push(Axis { key: key.into(), values });
        }
        Ok(Sweep { axes })
    }

    /// Number of points (1 for an empty sweep: the base scenario).
    #[must_use]
    pub fn len(&self) -> usize {
        self.axes.iter().map(|a| a.values.len()).product()
    }

    /// Whether the sweep has no axes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.axes.is_empty()
    }

    /// The (key, value) pairs of point `index`.
    #[must_use]
    pub fn point(&self, mut index: usize) -> Vec<(&str, &str)> {
        let mut out = Vec::with_capacity(self.axes.len());
        for a in self.axes.iter().rev() {
            out.push((a.key.as_str(), a.values[index % a.values.len()].as_str()));
            index /= a.values.len();
        }
        out.reverse();
        out
    }

    /// The base scenario with point `index` applied and validated.
    pub fn scenario(&self, base: &Scenario, index: usize) -> Result<Scenario> {
        let mut sc = base.clone();
        let (mut attack, mut ratio) = (None, None);
        for (key, value) in self.point(index) {
            match key {
                "attack" => attack = Some(value),
                "malicious_ratio" => ratio = Some(parse::<f64>(key, value)?),
                _ => apply(&mut sc, key, value)?,
            }
        }
        if attack.is_some() || ratio.is_some() {
            inject(&mut sc, attack.unwrap_or("collusion"), ratio.unwrap_or(0.2))?;
        }
        sc.validate()?;
        Ok(sc)
    }
}

/// `i/n`: this process runs sweep points with `index % n == i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, in `0..count`.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl Shard {
    /// Parses `i/n` with `i < n`.
    pub fn parse(s: &str) -> Result<Shard> {
        let bad = |reason: &str| SimError::Sweep { spec: s.into(), reason: reason.into() };
        let (i, n) = s.split_once('/').ok_or_else(|| bad("expected i/n"))?;
        let index = i.trim().parse().map_err(|_| bad("i must be an integer"))?;
        let count = n.trim().parse().map_err(|_| bad("n must be an integer"))?;
        if count == 0 || index >= count {
            return Err(bad("need 0 <= i < n"));
        }
        Ok(Shard { index, count })
    }

    /// Whether point `p` belongs to this shard.
    #[must_use]
    pub fn owns(&self, p: usize) -> bool {
        p % self.count == self.index
    }
}

fn parse<T: std::str::FromStr>(key: &str, value: &str) -> Result<T> {
    value
        .parse()
        .map_err(|_| SimError::Sweep { spec: format!("{key}={value}"), reason: "cannot parse the value".into() })
}

/// Sets one parameter of a scenario from its sweep text.
pub fn apply(sc: &mut Scenario, key: &str, value: &str) -> Result<()> {
    let bad = |reason: &str| SimError::Sweep { spec: format!("{key}={value}"), reason: reason.into() };
    match key {
        "alpha" | "beta" => {
            let v: f64 = parse(key, value)?;
            let Reward::Linear(rule) = sc.reward else {
                return Err(bad("alpha and beta apply to the linear reward rule only"));
            };
            let (alpha, beta) = if key == "alpha" { (v, rule.beta()) } else { (rule.alpha(), v) };
            sc.reward = Reward::Linear(Linear::new(alpha, beta).map_err(SimError::core(key))?);
        }
        "k" => sc.k = parse(key, value)?,
        "consensus" => {
            let (rule, arg) = value.split_once(':').map_or((value, None), |(r, a)| (r, Some(a)));
            let arg = |d: f64| arg.map_or(Ok(d), |a| parse::<f64>(key, a));
            sc.consensus = match rule {
                "mean" => Consensus::Mean,
                "median" => Consensus::Median,
                "trimmed_mean" => Consensus::TrimmedMean { fraction: arg(0.2)? },
                "yuma" => Consensus::Yuma { kappa: arg(0.5)? },
                _ => return Err(bad("expected mean, median, trimmed_mean[:f] or yuma[:kappa]")),
            };
        }
        "audit_rate" => sc.audit.rate = parse(key, value)?,
        "audit_penalty" => sc.audit.penalty = parse(key, value)?,
        "rounds" => sc.rounds = parse(key, value)?,
        "seed" => sc.seed = parse(key, value)?,
        "sampling" => {
            sc.sampling = match value {
                "uniform" => Selection::Uniform,
                "stake" => Selection::Stake,
                "trust" => Selection::Trust,
                _ => return Err(bad("expected uniform, stake or trust")),
            }
        }
        "serving" => {
            sc.serving = match value {
                "all" => Serving::All,
                "uniform" => Serving::Uniform,
                "stake" => Serving::Stake,
                _ => return Err(bad("expected all, uniform or stake")),
            }
        }
        "trust" => {
            sc.trust = match value {
                "none" => Trust::None,
                "adaptive" => Trust::Adaptive { lambda: 0.2, w_min: 0.1, w_max: 3.0 },
                "spot_check" => Trust::SpotCheck(SpotCheck::default()),
                "relative_spot_check" => Trust::RelativeSpotCheck(RelativeSpotCheck::default()),
                _ => return Err(bad("expected none, adaptive, spot_check or relative_spot_check")),
            }
        }
        "warmup" => sc.warmup = parse(key, value)?,
        "budget" => sc.budget = if value == "none" { None } else { Some(parse(key, value)?) },
        _ => return Err(bad("unknown key")),
    }
    Ok(())
}

/// Makes the last `round(ratio · M)` evaluators adversaries running `attack` (clearing any other
/// evaluator adversary). Attacks: `none`, `noise[:sd]`, `boost[:b]`, `sabotage[:b]`,
/// `collusion[:b]` (the ring is the inference node with the lowest mean quality), `lazy[:score]`,
/// `lazy_random`, `intermittent[:p]` (boost by 3 with probability p, default 0.5),
/// `misreport[:m]` (evaluators report m × their cost, default 0.5). Defaults: 3 points, sd 3.
pub fn inject(sc: &mut Scenario, attack: &str, ratio: f64) -> Result<()> {
    let bad = |reason: &str| SimError::Sweep { spec: format!("attack={attack}"), reason: reason.into() };
    if !(0.0..=1.0).contains(&ratio) {
        return Err(SimError::Sweep { spec: format!("malicious_ratio={ratio}"), reason: "must be in [0, 1]".into() });
    }
    let (name, arg) = attack.split_once(':').map_or((attack, None), |(a, b)| (a, Some(b)));
    let arg = |d: f64| arg.map_or(Ok(d), |a| parse::<f64>("attack", a));
    let weakest = sc
        .inference
        .iter()
        .min_by(|a, b| a.quality.moments().0.total_cmp(&b.quality.moments().0))
        .map(|n| n.name.clone())
        .ok_or_else(|| bad("the scenario has no inference node"))?;
    let adversary = match name {
        "none" => None,
        "noise" => Some(EvaluatorAdversary::always(EvaluatorAttack::Noise { sd: arg(3.0)? })),
        "boost" => Some(EvaluatorAdversary::always(EvaluatorAttack::Boost { amount: arg(3.0)?, targets: vec![] })),
        "sabotage" => {
            Some(EvaluatorAdversary::always(EvaluatorAttack::Sabotage { amount: arg(3.0)?, targets: vec![] }))
        }
        "collusion" => {
            Some(EvaluatorAdversary::always(EvaluatorAttack::Collusion { ring: weakest, amount: arg(3.0)? }))
        }
        "lazy" => Some(EvaluatorAdversary::always(EvaluatorAttack::Lazy {
            score: LazyScore::Constant(arg(5.0)?),
            cost: Cost::Latency(0.1),
        })),
        "lazy_random" => Some(EvaluatorAdversary::always(EvaluatorAttack::Lazy {
            score: LazyScore::Random,
            cost: Cost::Latency(0.1),
        })),
        "intermittent" => Some(EvaluatorAdversary {
            attack: EvaluatorAttack::Boost { amount: 3.0, targets: vec![] },
            probability: arg(0.5)?,
        }),
        "misreport" => Some(EvaluatorAdversary::always(EvaluatorAttack::Misreport { factor: arg(0.5)? })),
        _ => return Err(bad("unknown attack")),
    };
    let m = sc.evaluators.len();
    let bad_count = if adversary.is_some() { (ratio * m as f64).round() as usize } else { 0 };
    for (j, e) in sc.evaluators.iter_mut().enumerate() {
        e.adversary = if j >= m - bad_count.min(m) { adversary.clone() } else { None };
    }
    Ok(())
}

/// Runs the points of `sweep` owned by `shard` (all when None), in parallel, returning
/// `(point, report)` in point order. `progress` draws a bar on stderr (feature `progress`).
pub fn run_sweep(base: &Scenario, sweep: &Sweep, shard: Option<Shard>, progress: bool) -> Result<Vec<(usize, Report)>> {
    let points: Vec<usize> = (0..sweep.len()).filter(|&p| shard.is_none_or(|s| s.owns(p))).collect();
    let bar = Progress::new(points.len() as u64, progress);
    let out = points
        .par_iter()
        .map(|&p| {
            let sc = sweep.scenario(base, p)?;
            let r = Engine::new(&sc)?.run(RunOptions::default())?;
            bar.inc(1);
            Ok((p, r))
        })
        .collect::<Result<Vec<_>>>();
    bar.finish();
    out
}
