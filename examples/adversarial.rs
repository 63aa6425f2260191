//! Attacks against PoQ consensus: attack × malicious ratio × K × aggregator × trust defence.
//!
//! ```text
//! cargo run --release --example adversarial -- --out DIR [--rounds 5000] [--warmup 1000] [--evaluators 10]
//! ```
//! The base network is the paper's five inference nodes with a pool of honest evaluators that
//! track truth (`t + N(0, 1)`); the last `ratio · M` evaluators are replaced by adversaries. Each
//! point runs under every defence in [`DEFENCES`] (a trust rule, and whether evaluators are drawn
//! by trust); consensus error is measured after the first `--warmup` rounds, the trust rules'
//! warm-up. Writes `DIR/adversarial.csv` (one row per node and sweep point, parameters as
//! columns), `DIR/adversarial_summary.csv` (one row per point), `DIR/convergence.csv` (consensus
//! error per window of rounds under 30 % adversaries), and SVG figures: consensus error and
//! honest-evaluator payout against the malicious ratio per aggregator and per defence, consensus
//! error against K, and each defence's convergence.

use clap::Parser;
use poq::sim::output::write_csv_file;
use poq::sim::sweep::{Sweep, apply, inject, run_sweep};
use poq::sim::{
    Audit, ConsensusAccuracy, Cost, Engine, EvaluatorNode, PAPER_INFERENCE, Report, Scenario, ScoreModel,
    inference_node,
};
use poq_app::svg::{LineChart, Series};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(about = "Sweep attacks against PoQ consensus")]
struct Args {
    /// Output directory.
    #[arg(long, default_value = "adversarial-out")]
    out: PathBuf,
    /// Rounds per sweep point.
    #[arg(long, default_value_t = 5000)]
    rounds: u64,
    /// Rounds at the start of each point left out of the consensus error (the trust rules' warm-up).
    #[arg(long, default_value_t = 1000)]
    warmup: u64,
    /// Size of the evaluator pool.
    #[arg(long, default_value_t = 10)]
    evaluators: usize,
    /// Seed (shared by all points: common random numbers make points comparable).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Rounds per window of the convergence curves.
    #[arg(long, default_value_t = 50)]
    window: u64,
    /// Hide the progress bar.
    #[arg(long)]
    quiet: bool,
}

const ATTACKS: &str = "noise,boost,sabotage,collusion,lazy,intermittent,misreport";
const RATIOS: [&str; 6] = ["0", "0.1", "0.2", "0.3", "0.4", "0.5"];
const KS: &str = "1,3,5,7";
const AGGREGATORS: &str = "mean,median,trimmed_mean:0.2,yuma:0.5";
/// (label, `trust` sweep value, `sampling` sweep value) of each defence.
const DEFENCES: [(&str, &str, &str); 6] = [
    ("none", "none", "uniform"),
    ("adaptive", "adaptive", "uniform"),
    ("spot_check", "spot_check", "uniform"),
    ("spot_check+sampling", "spot_check", "trust"),
    ("relative", "relative_spot_check", "uniform"),
    ("relative+sampling", "relative_spot_check", "trust"),
];
/// K and ratio at which the per-attack figures and the K figure are drawn.
const FIGURE_K: &str = "5";
const FIGURE_RATIO: &str = "0.3";
/// Attacks whose convergence under each defence is traced.
const CONVERGENCE_ATTACKS: [&str; 3] = ["boost", "sabotage", "collusion"];

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn base(args: &Args) -> Scenario {
    let inference = PAPER_INFERENCE.iter().map(|&(n, m, sd, ms)| inference_node(n, m, sd, ms)).collect();
    let evaluators = (0..args.evaluators)
        .map(|i| EvaluatorNode {
            name: format!("evaluator-{i:02}"),
            scoring: ScoreModel::Noisy { bias: 0.0, sd: 1.0 },
            cost: Cost::Latency(20.0 + 5.0 * i as f64),
            reported_cost: None,
            stake: 1.0,
            adversary: None,
        })
        .collect();
    let mut sc = Scenario::new(inference, evaluators);
    sc.name = "adversarial".into();
    sc.audit = Audit::RECOMMENDED;
    sc.rounds = args.rounds;
    sc.seed = args.seed;
    sc.warmup = args.warmup;
    sc
}

/// The base scenario under defence `d`.
fn defended(base: &Scenario, d: (&str, &str, &str)) -> Result<Scenario, Box<dyn std::error::Error>> {
    let mut sc = base.clone();
    apply(&mut sc, "trust", d.1)?;
    apply(&mut sc, "sampling", d.2)?;
    Ok(sc)
}

/// One summary row: (attack, ratio, k, consensus, defence, MAE after warm-up, honest payout).
struct Row<'a> {
    attack: &'a str,
    ratio: &'a str,
    k: &'a str,
    consensus: &'a str,
    defence: &'a str,
    mae: f64,
    honest_payout: f64,
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(&args.out)?;
    let base = base(&args);
    let sweep = Sweep::parse(&[
        format!("attack={ATTACKS}"),
        format!("malicious_ratio={}", RATIOS.join(",")),
        format!("k={KS}"),
        format!("consensus={AGGREGATORS}"),
    ])?;
    let start = std::time::Instant::now();
    // Each defence is the same sweep on a defended base; points are numbered defence-major.
    let mut reports = Vec::new();
    for (d, &defence) in DEFENCES.iter().enumerate() {
        let part = run_sweep(&defended(&base, defence)?, &sweep, None, !args.quiet)?;
        reports.extend(part.into_iter().map(|(p, r)| (d * sweep.len() + p, d, p, r)));
    }
    println!(
        "{} sweep points × {} rounds ({} warm-up) in {:.2} s",
        reports.len(),
        args.rounds,
        args.warmup,
        start.elapsed().as_secs_f64()
    );
    let rows: Vec<(usize, &Report)> = reports.iter().map(|(p, _, _, r)| (*p, r)).collect();
    write_csv_file(&args.out.join("adversarial.csv"), &rows)?;

    // One row per point: the figures' data.
    // Every field is a number or a bare identifier, so plain comma joining is valid CSV.
    let mut summary = String::from(
        "point,attack,malicious_ratio,k,consensus,defence,trust,sampling,seed,rounds,warmup,consensus_mae,consensus_rmse,honest_evaluator_payout,adversary_payout\n",
    );
    let mut table = Vec::new();
    for (point, d, p, r) in &reports {
        let pt = sweep.point(*p);
        let (honest, adv) = r.evaluator_payouts();
        let (label, trust, sampling) = DEFENCES[*d];
        let row = [
            point.to_string(),
            pt[0].1.to_owned(),
            pt[1].1.to_owned(),
            pt[2].1.to_owned(),
            pt[3].1.to_owned(),
            label.to_owned(),
            trust.to_owned(),
            sampling.to_owned(),
            args.seed.to_string(),
            args.rounds.to_string(),
            args.warmup.to_string(),
            r.consensus.mae.to_string(),
            r.consensus.rmse.to_string(),
            honest.to_string(),
            adv.to_string(),
        ];
        summary += &row.join(",");
        summary.push('\n');
        table.push(Row {
            attack: pt[0].1,
            ratio: pt[1].1,
            k: pt[2].1,
            consensus: pt[3].1,
            defence: label,
            mae: r.consensus.mae,
            honest_payout: honest,
        });
    }
    std::fs::write(args.out.join("adversarial_summary.csv"), summary)?;
    let x = |r: &Row| r.ratio.parse::<f64>().unwrap_or(f64::NAN);

    let aggregators: Vec<&str> = AGGREGATORS.split(',').collect();
    for attack in ATTACKS.split(',') {
        let mut err = Vec::new();
        let mut pay = Vec::new();
        for agg in &aggregators {
            let pts: Vec<&Row> = table
                .iter()
                .filter(|t| t.attack == attack && t.k == FIGURE_K && t.consensus == *agg && t.defence == "none")
                .collect();
            err.push(Series { name: (*agg).into(), points: pts.iter().map(|t| (x(t), t.mae)).collect() });
            pay.push(Series { name: (*agg).into(), points: pts.iter().map(|t| (x(t), t.honest_payout)).collect() });
        }
        let e = LineChart {
            title: format!("Consensus error under `{attack}` (K = {FIGURE_K}, no defence)"),
            x_label: "malicious ratio".into(),
            y_label: "consensus MAE vs truth".into(),
            series: err,
        };
        std::fs::write(args.out.join(format!("consensus_error_{attack}.svg")), e.to_svg())?;
        let h = LineChart {
            title: format!("Honest evaluator payout under `{attack}` (K = {FIGURE_K}, no defence)"),
            x_label: "malicious ratio".into(),
            y_label: "mean payout per answer".into(),
            series: pay,
        };
        std::fs::write(args.out.join(format!("honest_payout_{attack}.svg")), h.to_svg())?;
        let by_defence = DEFENCES
            .iter()
            .map(|&(label, ..)| Series {
                name: label.into(),
                points: table
                    .iter()
                    .filter(|t| t.attack == attack && t.k == FIGURE_K && t.consensus == "mean" && t.defence == label)
                    .map(|t| (x(t), t.mae))
                    .collect(),
            })
            .collect();
        let d = LineChart {
            title: format!("Consensus error under `{attack}` by defence (K = {FIGURE_K}, mean, after warm-up)"),
            x_label: "malicious ratio".into(),
            y_label: "consensus MAE vs truth".into(),
            series: by_defence,
        };
        std::fs::write(args.out.join(format!("consensus_error_defences_{attack}.svg")), d.to_svg())?;
    }
    let by_k: Vec<Series> = aggregators
        .iter()
        .map(|agg| Series {
            name: (*agg).into(),
            points: table
                .iter()
                .filter(|t| {
                    t.attack == "collusion" && t.ratio == FIGURE_RATIO && t.consensus == *agg && t.defence == "none"
                })
                .map(|t| (t.k.parse::<f64>().unwrap_or(f64::NAN), t.mae))
                .collect(),
        })
        .collect();
    let k = LineChart {
        title: format!("Consensus error under collusion (ratio {FIGURE_RATIO}) against K"),
        x_label: "K".into(),
        y_label: "consensus MAE vs truth".into(),
        series: by_k,
    };
    std::fs::write(args.out.join("consensus_error_vs_k.svg"), k.to_svg())?;

    let mae = |attack: &str, ratio: &str, agg: &str, defence: &str| {
        table
            .iter()
            .find(|t| {
                t.attack == attack && t.ratio == ratio && t.k == FIGURE_K && t.consensus == agg && t.defence == defence
            })
            .map_or(f64::NAN, |t| t.mae)
    };
    println!(
        "\nconsensus MAE at K = {FIGURE_K}, ratio {FIGURE_RATIO}, no defence (after {} warm-up rounds):",
        args.warmup
    );
    println!("{:<14} {}", "attack", aggregators.iter().map(|a| format!("{a:>18}")).collect::<String>());
    for attack in ATTACKS.split(',') {
        let cells: String =
            aggregators.iter().map(|agg| format!("{:>18.3}", mae(attack, FIGURE_RATIO, agg, "none"))).collect();
        println!("{attack:<14} {cells}");
    }
    let honest = mae("collusion", "0", "mean", "none"); // ratio 0: no adversary
    println!(
        "\nconsensus MAE at K = {FIGURE_K}, ratio {FIGURE_RATIO}, mean consensus, by defence (honest: {honest:.3}):"
    );
    println!("{:<14} {}", "attack", DEFENCES.iter().map(|d| format!("{:>20}", d.0)).collect::<String>());
    for attack in ATTACKS.split(',') {
        let cells: String = DEFENCES
            .iter()
            .map(|d| {
                let v = mae(attack, FIGURE_RATIO, "mean", d.0);
                format!("{:>12.3} ({:>+4.0}%)", v, 100.0 * (v / honest - 1.0))
            })
            .collect();
        println!("{attack:<14} {cells}");
    }
    convergence(&args, &base)?;
    println!(
        "\nwrote {}/adversarial.csv, adversarial_summary.csv, convergence.csv and SVG figures",
        args.out.display()
    );
    Ok(())
}

/// Sums of absolute consensus errors and answers per window, from the curve of `sc`.
fn curve(sc: &Scenario, window: u64) -> Result<Vec<(u64, ConsensusAccuracy)>, Box<dyn std::error::Error>> {
    Ok(Engine::new(sc)?.consensus_curve(window)?)
}

/// Windows per block in [`settled_after`]: a block of 5 × 50 rounds holds 1,250 answers, enough
/// that the honest network's own block-to-block spread (about 2 %) stays well inside 10 %.
const BLOCK: usize = 5;

/// The round from which every block of [`BLOCK`] consecutive windows has a consensus error
/// within 10 % of the honest network's over the same rounds, if any.
fn settled_after(attacked: &[(u64, ConsensusAccuracy)], honest: &[(u64, ConsensusAccuracy)]) -> Option<u64> {
    let abs = |c: &ConsensusAccuracy| c.mae * c.answers as f64;
    let blocks = attacked.len().checked_sub(BLOCK - 1)?;
    let ok: Vec<bool> = (0..blocks)
        .map(|i| {
            let a: f64 = attacked[i..i + BLOCK].iter().map(|(_, c)| abs(c)).sum();
            let h: f64 = honest[i..i + BLOCK].iter().map(|(_, c)| abs(c)).sum();
            a <= 1.1 * h
        })
        .collect();
    let first = ok.iter().rposition(|&b| !b).map_or(0, |i| i + 1);
    (first < blocks).then(|| if first == 0 { 0 } else { attacked[first - 1].0 })
}

/// Consensus error per window under 30 % adversaries (K = 5, mean consensus) for each defence:
/// `convergence.csv`, `convergence_<attack>.svg`, and after how many rounds each settles.
fn convergence(args: &Args, base: &Scenario) -> Result<(), Box<dyn std::error::Error>> {
    let mut base = base.clone();
    base.k = FIGURE_K.parse()?;
    base.warmup = 0;
    let per_evaluator = base.k as f64 / base.evaluators.len() as f64;
    let honest = curve(&base, args.window)?;
    let mut csv = String::from("attack,defence,round_end,rounds_per_evaluator,window_mae\n");
    for (end, c) in &honest {
        csv += &format!("none,none,{end},{},{}\n", *end as f64 * per_evaluator, c.mae);
    }
    println!(
        "\nrounds until the consensus error stays within 10% of honest ({} rounds, K = {}, ratio {FIGURE_RATIO}, mean):",
        base.rounds, base.k
    );
    println!("{:<12} {}", "attack", DEFENCES.iter().map(|d| format!("{:>22}", d.0)).collect::<String>());
    for attack in CONVERGENCE_ATTACKS {
        let mut series = vec![Series {
            name: "honest network".into(),
            points: honest.iter().map(|(e, c)| (*e as f64 * per_evaluator, c.mae)).collect(),
        }];
        let mut cells = String::new();
        for &defence in &DEFENCES {
            let mut sc = defended(&base, defence)?;
            inject(&mut sc, attack, FIGURE_RATIO.parse()?)?;
            let c = curve(&sc, args.window)?;
            for (end, a) in &c {
                csv += &format!("{attack},{},{end},{},{}\n", defence.0, *end as f64 * per_evaluator, a.mae);
            }
            cells += &match settled_after(&c, &honest) {
                Some(r) => format!("{:>22}", format!("{r} ({:.0}/eval)", r as f64 * per_evaluator)),
                None => format!("{:>22}", "never"),
            };
            series.push(Series {
                name: defence.0.into(),
                points: c.iter().map(|(e, a)| (*e as f64 * per_evaluator, a.mae)).collect(),
            });
        }
        println!("{attack:<12} {cells}");
        let chart = LineChart {
            title: format!(
                "Convergence under `{attack}` (ratio {FIGURE_RATIO}, K = {}, windows of {} rounds)",
                base.k, args.window
            ),
            x_label: "rounds per evaluator".into(),
            y_label: "consensus MAE in the window".into(),
            series,
        };
        std::fs::write(args.out.join(format!("convergence_{attack}.svg")), chart.to_svg())?;
    }
    std::fs::write(args.out.join("convergence.csv"), csv)?;
    Ok(())
}
