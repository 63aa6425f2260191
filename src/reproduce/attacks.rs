//! Quality signals under evaluator attacks, on the held-out answers (issue 18): each signal is the
//! honest evaluators' scoring in a pool where a share of evaluators boost, sabotage or collude,
//! under mean, median and spot-check trust, swept with poq-sim's `inject` and `run_sweep`.

use super::Result;
use poq_sim::sweep::{Sweep, apply, run_sweep};
use poq_sim::{Audit, Cost, EvaluatorNode, InferenceNode, NodeKind, QualityModel, Report, Scenario, ScoreModel};
use std::collections::BTreeMap;

/// Evaluators in every pool: ten, so shares 0.1 … 0.5 are whole evaluators.
pub(crate) const POOL: usize = 10;
/// Evaluators sampled per round (examples/adversarial.rs draws its figures at K = 5).
pub(crate) const K: usize = 5;
pub(crate) const ATTACKS: [&str; 3] = ["boost", "sabotage", "collusion"];
pub(crate) const SHARES: [&str; 6] = ["0", "0.1", "0.2", "0.3", "0.4", "0.5"];
/// (label, `consensus` sweep value, `trust` sweep value). Spot-check trust is poq-sim's relative
/// rule: it judges each evaluator's spot-check error against its own pool's median, so a signal
/// whose honest error against F1 is large (STS, ~2.5 points) is not punished for that, and every
/// signal meets the same rule; the absolute rule's weights would depend on each signal's accuracy.
pub(crate) const DEFENCES: [(&str, &str, &str); 3] =
    [("mean", "mean", "none"), ("median", "median", "none"), ("spot-check", "mean", "relative_spot_check")];

/// One quality signal as an evaluator pool: evaluator `j` reads `tables[j % tables.len()]`
/// (`tables[t][model][prompt]`) plus its own `N(0, noise_sd²)`.
#[derive(Debug, Clone)]
pub(crate) struct Signal {
    pub name: String,
    pub tables: Vec<BTreeMap<String, Vec<f64>>>,
    pub noise_sd: f64,
}

/// Rounds, warm-up (left out of the consensus error) and seed of every point.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub rounds: u64,
    pub warmup: u64,
    pub seed: u64,
}

/// One sweep point.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub signal: String,
    pub attack: &'static str,
    pub defence: &'static str,
    pub share: f64,
    pub adversaries: usize,
    pub noise_sd: f64,
    pub mae: f64,
    pub rmse: f64,
    pub honest_payout: f64,
    pub adversary_payout: f64,
    /// Inference nodes ranked by mean reward as the rule ranks them with F1 × 10 as consensus.
    pub ranking_kept: bool,
}

/// The whole sweep.
#[derive(Debug, Clone)]
pub(crate) struct AttackSweep {
    pub settings: Settings,
    pub prompts: usize,
    pub rows: Vec<Row>,
    /// Inference nodes by mean reward when the consensus is the truth (F1 × 10), best first.
    pub oracle_ranking: Vec<String>,
    /// Whether the pools' noise was measured (two or more evaluators) or the 1-point default.
    pub noise_measured: bool,
}

fn base(
    inference: &[InferenceNode],
    evaluators: Vec<EvaluatorNode>,
    k: usize,
    prompts: usize,
    s: Settings,
) -> Scenario {
    let mut sc = Scenario::new(inference.to_vec(), evaluators);
    sc.name = "held-out attacks".into();
    sc.audit = Audit::RECOMMENDED;
    sc.k = k;
    sc.prompts = prompts;
    sc.rounds = s.rounds;
    sc.seed = s.seed;
    sc.warmup = s.warmup;
    sc
}

/// An evaluator reading `table` plus noise; every pool member costs the same, so payouts differ
/// by agreement only.
pub(crate) fn table_evaluator(name: &str, table: BTreeMap<String, Vec<f64>>, noise_sd: f64) -> EvaluatorNode {
    let mut e = poq_sim::evaluator_node(name, 1.0, 0.0, 1.0, 1.0);
    e.scoring = ScoreModel::Empirical { scores: table, bias: 0.0, sd: noise_sd };
    e.cost = Cost::Latency(1.0);
    e
}

fn ranking(r: &Report) -> Vec<String> {
    let mut nodes: Vec<_> = r.nodes.iter().filter(|n| n.kind == NodeKind::Inference).collect();
    nodes.sort_by(|a, b| b.mean_reward.total_cmp(&a.mean_reward));
    nodes.into_iter().map(|n| n.node.clone()).collect()
}

/// Runs every signal × defence × attack × share. Inference nodes carry their true quality as
/// `QualityModel::Empirical` over `prompts` prompts.
pub(crate) fn sweep(inference: &[InferenceNode], signals: &[Signal], s: Settings) -> Result<AttackSweep> {
    let prompts = match inference.first().map(|n| &n.quality) {
        Some(QualityModel::Empirical { scores }) => scores.len(),
        _ => 0,
    };
    // The ranking the rule gives when the consensus is the truth itself.
    let truth: BTreeMap<String, Vec<f64>> = inference
        .iter()
        .filter_map(|n| match &n.quality {
            QualityModel::Empirical { scores } => Some((n.name.clone(), scores.clone())),
            _ => None,
        })
        .collect();
    let oracle = poq_sim::simulate(&base(inference, vec![table_evaluator("F1 × 10", truth, 0.0)], 1, prompts, s))?;
    let oracle_ranking = ranking(&oracle);
    let axes =
        Sweep::parse(&[format!("attack={}", ATTACKS.join(",")), format!("malicious_ratio={}", SHARES.join(","))])?;
    let mut rows = Vec::new();
    for signal in signals {
        let pool = (0..POOL)
            .map(|j| {
                let table = signal.tables[j % signal.tables.len()].clone();
                table_evaluator(&format!("{}-{j:02}", signal.name), table, signal.noise_sd)
            })
            .collect();
        let plain = base(inference, pool, K, prompts, s);
        for &(defence, consensus, trust) in &DEFENCES {
            let mut sc = plain.clone();
            apply(&mut sc, "consensus", consensus)?;
            apply(&mut sc, "trust", trust)?;
            for (p, r) in run_sweep(&sc, &axes, None, false)? {
                let point = axes.point(p);
                let attack = ATTACKS.iter().find(|a| **a == point[0].1).copied().unwrap_or("none");
                let share: f64 = point[1].1.parse().unwrap_or(f64::NAN);
                let (honest_payout, adversary_payout) = r.evaluator_payouts();
                rows.push(Row {
                    signal: signal.name.clone(),
                    attack,
                    defence,
                    share,
                    adversaries: r
                        .nodes
                        .iter()
                        .filter(|n| n.kind == NodeKind::Evaluator && n.adversary != "honest")
                        .count(),
                    noise_sd: signal.noise_sd,
                    mae: r.consensus.mae,
                    rmse: r.consensus.rmse,
                    honest_payout,
                    adversary_payout,
                    ranking_kept: ranking(&r) == oracle_ranking,
                });
            }
        }
    }
    Ok(AttackSweep { settings: s, prompts, rows, oracle_ranking, noise_measured: false })
}

impl AttackSweep {
    /// The point's row.
    pub(crate) fn find(&self, signal: &str, attack: &str, defence: &str, share: f64) -> Option<&Row> {
        self.rows.iter().find(|r| {
            r.signal == signal && r.attack == attack && r.defence == defence && (r.share - share).abs() < 1e-9
        })
    }

    /// The signals, in sweep order.
    pub(crate) fn signals(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for r in &self.rows {
            if !out.contains(&r.signal.as_str()) {
                out.push(&r.signal);
            }
        }
        out
    }

    /// One row per point; every field is a number, a bare word or a quoted signal name.
    pub(crate) fn csv(&self) -> String {
        let s = self.settings;
        let mut out = String::from(
            "signal,attack,defence,consensus,trust,adversary_share,adversaries,pool,k,prompts,rounds,warmup,seed,\
             noise_sd,consensus_mae,consensus_rmse,honest_evaluator_payout,adversary_payout,ranking_kept\n",
        );
        for r in &self.rows {
            let (_, consensus, trust) = DEFENCES.iter().find(|d| d.0 == r.defence).copied().unwrap_or(("", "", ""));
            let cells = [
                super::report::csv_quoted(&r.signal),
                r.attack.to_owned(),
                r.defence.to_owned(),
                consensus.to_owned(),
                trust.to_owned(),
                r.share.to_string(),
                r.adversaries.to_string(),
                POOL.to_string(),
                K.to_string(),
                self.prompts.to_string(),
                s.rounds.to_string(),
                s.warmup.to_string(),
                s.seed.to_string(),
                r.noise_sd.to_string(),
                r.mae.to_string(),
                r.rmse.to_string(),
                r.honest_payout.to_string(),
                r.adversary_payout.to_string(),
                r.ranking_kept.to_string(),
            ];
            out += &cells.join(",");
            out.push('\n');
        }
        out
    }

    /// Consensus error against the adversary share, one line per signal, for one attack and defence.
    pub(crate) fn chart(&self, attack: &str, defence: &str) -> crate::svg::LineChart {
        let series = self
            .signals()
            .into_iter()
            .map(|sig| crate::svg::Series {
                name: sig.to_owned(),
                points: self
                    .rows
                    .iter()
                    .filter(|r| r.signal == sig && r.attack == attack && r.defence == defence)
                    .map(|r| (r.share, r.mae))
                    .collect(),
            })
            .collect();
        crate::svg::LineChart {
            title: format!("`{attack}` under {defence} (K = {K} of {POOL}, after warm-up)"),
            x_label: "adversary share of the evaluator pool".into(),
            y_label: "consensus MAE vs F1 × 10".into(),
            series,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Three models on 40 prompts; a good signal (truth plus a little) and a biased one.
    fn fixture() -> (Vec<InferenceNode>, Vec<Signal>) {
        let prompts = 40;
        let truth = |g: usize, p: usize| ((g * 3 + p * 7) % 11) as f64 * (0.3 + 0.3 * g as f64);
        let inference: Vec<InferenceNode> = (0..3)
            .map(|g| {
                let mut n = poq_sim::inference_node(&format!("m{g}"), 5.0, 0.0, 100.0 * (g + 1) as f64);
                n.quality = QualityModel::Empirical { scores: (0..prompts).map(|p| truth(g, p).min(10.0)).collect() };
                n
            })
            .collect();
        let table = |f: &dyn Fn(f64) -> f64| -> BTreeMap<String, Vec<f64>> {
            (0..3).map(|g| (format!("m{g}"), (0..prompts).map(|p| f(truth(g, p).min(10.0))).collect())).collect()
        };
        let good = Signal { name: "good".into(), tables: vec![table(&|t| (t + 0.3).min(10.0))], noise_sd: 0.0 };
        let biased = Signal {
            name: "biased".into(),
            tables: vec![table(&|t| (t * 0.5 + 4.0).min(10.0)), table(&|t| (t * 0.4 + 4.5).min(10.0))],
            noise_sd: 0.5,
        };
        (inference, vec![good, biased])
    }

    const SETTINGS: Settings = Settings { rounds: 400, warmup: 100, seed: 7 };

    #[test]
    fn no_adversary_is_the_plain_monte_carlo_and_collusion_hurts_the_mean() {
        let (inference, signals) = fixture();
        let s = sweep(&inference, &signals, SETTINGS).unwrap();
        assert_eq!(s.rows.len(), signals.len() * DEFENCES.len() * ATTACKS.len() * SHARES.len());
        // Ten noise-free copies of one table at share 0 give the table's own Monte Carlo: one
        // evaluator, the same rounds, seed and warm-up.
        let plain = base(&inference, vec![table_evaluator("good", signals[0].tables[0].clone(), 0.0)], 1, 40, SETTINGS);
        let plain = poq_sim::simulate(&plain).unwrap();
        for attack in ATTACKS {
            for defence in ["mean", "median"] {
                let r = s.find("good", attack, defence, 0.0).unwrap();
                assert_eq!(r.adversaries, 0);
                assert!(
                    (r.mae - plain.consensus.mae).abs() < 1e-9,
                    "{attack} {defence}: {} vs {}",
                    r.mae,
                    plain.consensus.mae
                );
            }
        }
        // An accurate signal loses to colluders; one that overrates every answer can even gain from
        // sabotage of most answers (as the STS evaluators do on the real answers).
        let (at0, at50) =
            (s.find("good", "collusion", "mean", 0.0).unwrap(), s.find("good", "collusion", "mean", 0.5).unwrap());
        assert_eq!(at50.adversaries, 5);
        assert!(at50.mae > at0.mae + 0.5, "{} vs {}", at50.mae, at0.mae);
        let sabotage = |share| s.find("biased", "sabotage", "mean", share).unwrap().mae;
        assert!(sabotage(0.3) < sabotage(0.0));
        // Boosting a signal that already overrates every answer only adds error.
        let boost = |share| s.find("biased", "boost", "mean", share).unwrap().mae;
        assert!(boost(0.3) > boost(0.0));
        assert!(s.find("good", "boost", "mean", 0.0).unwrap().ranking_kept);
        assert_eq!(s.csv().lines().count(), s.rows.len() + 1);
        assert!(s.chart("collusion", "spot-check").to_svg().starts_with("<svg"));
    }

    #[test]
    fn spot_check_trust_holds_off_a_minority_of_colluders() {
        let (inference, signals) = fixture();
        let s = sweep(&inference, &signals[..1], SETTINGS).unwrap();
        let mae = |d, share| s.find("good", "collusion", d, share).unwrap().mae;
        assert!(mae("spot-check", 0.3) < mae("mean", 0.3), "{} vs {}", mae("spot-check", 0.3), mae("mean", 0.3));
    }
}
