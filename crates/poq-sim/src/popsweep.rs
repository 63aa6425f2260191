//! Sweeps over a population's parameters: the same cartesian points and shards as scenario
//! sweeps ([`Sweep`], [`Shard`]), one CSV row per class and point, merged by `merge_csv`.
//!
//! Keys: `k`, `rounds`, `seed`, `serving`, `sampling` (`uniform`, `stake`), `alpha`, `beta`,
//! `join`, `leave`, `epoch_rounds` (churn; setting one turns churn on with the others at 0 and
//! 10^6 rounds), `ci_width`, `adversary_share` (the share of every class that has an adversary).

use crate::error::{Result, SimError};
use crate::popreport::PopulationReport;
use crate::popsim::PopulationRun;
use crate::population::{Churn, Population};
use crate::scenario::Selection;
use crate::sweep::{Shard, Sweep};
use poq_core::{Linear, Reward};

/// Keys only a population sweep understands (it takes `k`, `rounds`, `seed`, `serving`,
/// `sampling`, `alpha` and `beta` too).
pub(crate) const POPULATION_KEYS: [&str; 5] = ["join", "leave", "epoch_rounds", "ci_width", "adversary_share"];

fn parse<T: std::str::FromStr>(key: &str, value: &str) -> Result<T> {
    value
        .parse()
        .map_err(|_| SimError::Sweep { spec: format!("{key}={value}"), reason: "cannot parse the value".into() })
}

/// Sets one parameter of a population from its sweep text.
pub fn apply_population(p: &mut Population, key: &str, value: &str) -> Result<()> {
    let bad = |reason: &str| SimError::Sweep { spec: format!("{key}={value}"), reason: reason.into() };
    let churn = |p: &mut Population| *p.churn.get_or_insert(Churn { epoch_rounds: 1_000_000, join: 0.0, leave: 0.0 });
    match key {
        "k" => p.k = parse(key, value)?,
        "rounds" => p.rounds = parse(key, value)?,
        "seed" => p.seed = parse(key, value)?,
        "serving" | "sampling" => {
            let sel = match value {
                "uniform" => Selection::Uniform,
                "stake" => Selection::Stake,
                _ => return Err(bad("expected uniform or stake")),
            };
            if key == "serving" { p.serving = sel } else { p.sampling = sel }
        }
        "alpha" | "beta" => {
            let v: f64 = parse(key, value)?;
            let Reward::Linear(rule) = p.reward else {
                return Err(bad("alpha and beta apply to the linear reward rule only"));
            };
            let (alpha, beta) = if key == "alpha" { (v, rule.beta()) } else { (rule.alpha(), v) };
            p.reward = Reward::Linear(Linear::new(alpha, beta).map_err(SimError::core(key))?);
        }
        "join" => p.churn = Some(Churn { join: parse(key, value)?, ..churn(p) }),
        "leave" => p.churn = Some(Churn { leave: parse(key, value)?, ..churn(p) }),
        "epoch_rounds" => p.churn = Some(Churn { epoch_rounds: parse(key, value)?, ..churn(p) }),
        "ci_width" => p.ci_width = parse(key, value)?,
        "adversary_share" => {
            let share: f64 = parse(key, value)?;
            p.evaluators.iter_mut().filter_map(|c| c.adversary.as_mut()).for_each(|a| a.share = share);
        }
        _ => return Err(bad("not a population key")),
    }
    Ok(())
}

impl Sweep {
    /// The base population with point `index` applied and validated.
    pub fn population(&self, base: &Population, index: usize) -> Result<Population> {
        let mut p = base.clone();
        for (key, value) in self.point(index) {
            apply_population(&mut p, key, value)?;
        }
        p.validate()?;
        Ok(p)
    }
}

/// Runs the points of `sweep` owned by `shard` (all when None) one after another (each point
/// uses the whole rayon pool), returning `(point, report)` in point order.
///
/// # Errors
/// The first bad point (its key or value, or the population it makes).
pub fn run_population_sweep(
    base: &Population,
    sweep: &Sweep,
    shard: Option<Shard>,
) -> Result<Vec<(usize, PopulationReport)>> {
    (0..sweep.len())
        .filter(|&p| shard.is_none_or(|s| s.owns(p)))
        .map(|p| Ok((p, PopulationRun::new(&sweep.population(base, p)?)?.run()?.report)))
        .collect()
}

/// Writes one CSV row per class and point: `point`, the sweep's keys, then the class's figures
/// (feature `csv`). Shards' files merge with [`merge_csv`](crate::output::merge_csv).
#[cfg(feature = "csv")]
pub fn write_population_csv<W: std::io::Write>(
    w: W,
    sweep: &Sweep,
    reports: &[(usize, &PopulationReport)],
) -> Result<()> {
    let err = |source| SimError::Csv { path: "<csv>".into(), source };
    let mut out = csv::Writer::from_writer(w);
    let stats = [
        "class",
        "kind",
        "nodes",
        "active_at_end",
        "mean_reward",
        "p5",
        "p25",
        "p50",
        "p75",
        "p95",
        "pool_share",
        "gini",
        "top1_share",
        "rounds_to_ci_p50",
        "rounds_to_ci_p95",
        "settled",
        "consensus_mae",
        "seed",
        "rounds",
    ];
    let header = std::iter::once("point").chain(sweep.axes.iter().map(|a| a.key.as_str())).chain(stats);
    out.write_record(header).map_err(err)?;
    for (point, r) in reports {
        for c in &r.classes {
            let q = &c.mean_reward.quantiles;
            let mut row = vec![point.to_string()];
            row.extend(sweep.point(*point).iter().map(|(_, v)| (*v).to_owned()));
            row.extend([c.class.clone(), c.kind.clone(), c.nodes.to_string(), c.active_at_end.to_string()]);
            row.extend(
                [c.mean_reward.mean, q[0], q[1], q[2], q[3], q[4], c.pool_share, c.gini, c.top1_share]
                    .map(|x| x.to_string()),
            );
            row.extend(
                [c.rounds_to_ci.quantiles[2], c.rounds_to_ci.quantiles[4], c.settled, r.consensus.mae]
                    .map(|x| x.to_string()),
            );
            row.extend([r.seed.to_string(), r.rounds.to_string()]);
            out.write_record(&row).map_err(err)?;
        }
    }
    out.flush().map_err(|source| SimError::Io { path: "<csv>".into(), source })?;
    Ok(())
}
