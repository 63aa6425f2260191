//! Attacks against PoQ consensus: attack × malicious ratio × K × aggregator.
//!
//! ```text
//! cargo run --release --example adversarial -- --out DIR [--rounds 5000] [--evaluators 10]
//! ```
//! The base network is the paper's five inference nodes with a pool of honest evaluators that
//! track truth (`t + N(0, 1)`); the last `ratio · M` evaluators are replaced by adversaries. Writes
//! `DIR/adversarial.csv` (one row per node and sweep point, parameters as columns),
//! `DIR/adversarial_summary.csv` (one row per point), and SVG figures of consensus error and
//! honest-evaluator payout against the malicious ratio, and of consensus error against K.

use clap::Parser;
use poq::sim::output::write_csv_file;
use poq::sim::sweep::{Sweep, run_sweep};
use poq::sim::{Audit, Cost, EvaluatorNode, NodeKind, PAPER_INFERENCE, Report, Scenario, ScoreModel, inference_node};
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
    /// Size of the evaluator pool.
    #[arg(long, default_value_t = 10)]
    evaluators: usize,
    /// Seed (shared by all points: common random numbers make points comparable).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Hide the progress bar.
    #[arg(long)]
    quiet: bool,
}

const ATTACKS: &str = "noise,boost,sabotage,collusion,lazy,intermittent,misreport";
const RATIOS: [&str; 6] = ["0", "0.1", "0.2", "0.3", "0.4", "0.5"];
const KS: &str = "1,3,5,7";
const AGGREGATORS: &str = "mean,median,trimmed_mean:0.2,yuma:0.5";
/// K and ratio at which the per-attack figures and the K figure are drawn.
const FIGURE_K: &str = "5";
const FIGURE_RATIO: &str = "0.3";

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
    sc
}

/// Mean payout per answer of honest evaluators, and of adversarial ones.
fn payouts(r: &Report) -> (f64, f64) {
    let mean = |honest: bool| {
        let (s, n) = r
            .nodes
            .iter()
            .filter(|n| n.kind == NodeKind::Evaluator && (n.adversary == "honest") == honest && n.answers > 0)
            .fold((0.0, 0u64), |(s, c), n| (s + n.total_paid, c + n.answers));
        if n == 0 { f64::NAN } else { s / n as f64 }
    };
    (mean(true), mean(false))
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
    let reports = run_sweep(&base, &sweep, None, !args.quiet)?;
    println!("{} sweep points × {} rounds in {:.2} s", reports.len(), args.rounds, start.elapsed().as_secs_f64());
    let rows: Vec<(usize, &Report)> = reports.iter().map(|(p, r)| (*p, r)).collect();
    write_csv_file(&args.out.join("adversarial.csv"), &rows)?;

    // One row per point: the figures' data.
    // Every field is a number or a bare identifier, so plain comma joining is valid CSV.
    let mut summary = String::from(
        "point,attack,malicious_ratio,k,consensus,seed,rounds,consensus_mae,consensus_rmse,honest_evaluator_payout,adversary_payout\n",
    );
    let mut table = Vec::new();
    for (p, r) in &reports {
        let pt = sweep.point(*p);
        let (honest, adv) = payouts(r);
        let row = [
            p.to_string(),
            pt[0].1.to_owned(),
            pt[1].1.to_owned(),
            pt[2].1.to_owned(),
            pt[3].1.to_owned(),
            args.seed.to_string(),
            args.rounds.to_string(),
            r.consensus.mae.to_string(),
            r.consensus.rmse.to_string(),
            honest.to_string(),
            adv.to_string(),
        ];
        summary += &row.join(",");
        summary.push('\n');
        table.push((pt[0].1, pt[1].1, pt[2].1, pt[3].1, r.consensus.mae, honest));
    }
    std::fs::write(args.out.join("adversarial_summary.csv"), summary)?;

    let aggregators: Vec<&str> = AGGREGATORS.split(',').collect();
    for attack in ATTACKS.split(',') {
        let mut err = Vec::new();
        let mut pay = Vec::new();
        for agg in &aggregators {
            let pts: Vec<_> = table.iter().filter(|t| t.0 == attack && t.2 == FIGURE_K && t.3 == *agg).collect();
            let x = |t: &&(&str, &str, &str, &str, f64, f64)| t.1.parse::<f64>().unwrap_or(f64::NAN);
            err.push(Series { name: (*agg).into(), points: pts.iter().map(|t| (x(t), t.4)).collect() });
            pay.push(Series { name: (*agg).into(), points: pts.iter().map(|t| (x(t), t.5)).collect() });
        }
        let e = LineChart {
            title: format!("Consensus error under `{attack}` (K = {FIGURE_K})"),
            x_label: "malicious ratio".into(),
            y_label: "consensus MAE vs truth".into(),
            series: err,
        };
        std::fs::write(args.out.join(format!("consensus_error_{attack}.svg")), e.to_svg())?;
        let h = LineChart {
            title: format!("Honest evaluator payout under `{attack}` (K = {FIGURE_K})"),
            x_label: "malicious ratio".into(),
            y_label: "mean payout per answer".into(),
            series: pay,
        };
        std::fs::write(args.out.join(format!("honest_payout_{attack}.svg")), h.to_svg())?;
    }
    let by_k: Vec<Series> = aggregators
        .iter()
        .map(|agg| Series {
            name: (*agg).into(),
            points: table
                .iter()
                .filter(|t| t.0 == "collusion" && t.1 == FIGURE_RATIO && t.3 == *agg)
                .map(|t| (t.2.parse::<f64>().unwrap_or(f64::NAN), t.4))
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

    println!("\nconsensus MAE at K = {FIGURE_K}, ratio {FIGURE_RATIO}:");
    println!("{:<14} {}", "attack", aggregators.iter().map(|a| format!("{a:>18}")).collect::<String>());
    for attack in ATTACKS.split(',') {
        let cells: String = aggregators
            .iter()
            .map(|agg| {
                let v = table
                    .iter()
                    .find(|t| t.0 == attack && t.1 == FIGURE_RATIO && t.2 == FIGURE_K && t.3 == *agg)
                    .map_or(f64::NAN, |t| t.4);
                format!("{v:>18.3}")
            })
            .collect();
        println!("{attack:<14} {cells}");
    }
    println!("\nwrote {}/adversarial.csv, adversarial_summary.csv and SVG figures", args.out.display());
    Ok(())
}
