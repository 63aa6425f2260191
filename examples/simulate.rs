//! Monte Carlo PoQ rounds: the paper's experiment, any scenario file, and sweeps.
//!
//! ```text
//! cargo run --release --example simulate -- --scenario paper --rounds 5000 --seed 42 --out DIR
//! cargo run --release --example simulate -- --scenario my.toml --sweep beta=0,0.25,0.5,1 --out DIR
//! cargo run --release --example simulate -- --scenario paper --sweep k=1,2,3 --shard 0/2 --out DIR
//! cargo run --release --example simulate -- --merge --out DIR     # joins DIR/rewards.shard-*.csv
//! ```
//! Writes `DIR/rewards.csv` (one row per node and sweep point, scenario parameters as columns),
//! `DIR/summary.json`, and for each numeric sweep axis `DIR/reward_vs_<axis>.svg`.

use clap::Parser;
use poq::sim::output::{merge_csv, write_csv_file, write_json_file};
use poq::sim::sweep::{Shard, Sweep, run_sweep};
use poq::sim::{Engine, NodeKind, Report, RunOptions, Scenario, builtin};
use poq_app::svg::{BarChart, LineChart, Series};
use std::path::{Path, PathBuf};

#[derive(Parser, Debug)]
#[command(about = "Simulate cost-aware PoQ rounds")]
struct Args {
    /// `paper`, `bench`, or a scenario file (.toml or .json).
    #[arg(long, default_value = "paper")]
    scenario: String,
    /// Override the number of rounds.
    #[arg(long)]
    rounds: Option<u64>,
    /// Override the seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Output directory.
    #[arg(long, default_value = "sim-out")]
    out: PathBuf,
    /// Sweep axis `key=v1,v2,...` (repeatable; cartesian product).
    #[arg(long)]
    sweep: Vec<String>,
    /// Run only sweep points with index % n == i.
    #[arg(long)]
    shard: Option<String>,
    /// Merge DIR/rewards.shard-*.csv into DIR/rewards.csv and exit.
    #[arg(long)]
    merge: bool,
    /// Write and verify the transcripts of the first N rounds (DIR/transcripts.jsonl).
    #[arg(long)]
    transcripts: Option<u64>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Hide the progress bar.
    #[arg(long)]
    quiet: bool,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn load(name: &str) -> Result<Scenario, Box<dyn std::error::Error>> {
    match builtin(name) {
        Some(sc) => Ok(sc),
        None => Ok(Scenario::from_path(name)?),
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(&args.out)?;
    if args.merge {
        let mut shards: Vec<PathBuf> = std::fs::read_dir(&args.out)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("rewards.shard-") && n.ends_with(".csv"))
            })
            .collect();
        shards.sort();
        let rows = merge_csv(&shards, &args.out.join("rewards.csv"))?;
        println!("merged {} shards ({rows} rows) into {}", shards.len(), args.out.join("rewards.csv").display());
        return Ok(());
    }
    if let Some(n) = args.threads {
        rayon::ThreadPoolBuilder::new().num_threads(n).build_global()?;
    }
    let mut base = load(&args.scenario)?;
    if let Some(r) = args.rounds {
        base.rounds = r;
    }
    if let Some(s) = args.seed {
        base.seed = s;
    }
    let sweep = Sweep::parse(&args.sweep)?;
    let shard = args.shard.as_deref().map(Shard::parse).transpose()?;

    if sweep.is_empty() {
        let engine = Engine::new(&base)?;
        let start = std::time::Instant::now();
        let report = engine.run(RunOptions::default().progress(!args.quiet))?;
        let secs = start.elapsed().as_secs_f64();
        println!(
            "scenario `{}`: {} rounds, seed {}, {:.1} ms ({:.3e} rounds/s)\n",
            base.name,
            base.rounds,
            base.seed,
            secs * 1e3,
            base.rounds as f64 / secs
        );
        print!("{}", report.table());
        write_csv_file(&args.out.join("rewards.csv"), &[(0, &report)])?;
        write_json_file(&args.out.join("summary.json"), &report)?;
        std::fs::write(args.out.join("rewards.svg"), reward_bars(&report))?;
        if let Some(n) = args.transcripts {
            write_transcripts(&engine, n, &args.out.join("transcripts.jsonl"))?;
        }
        println!("\nwrote {}/rewards.csv, summary.json, rewards.svg", args.out.display());
        return Ok(());
    }

    let reports = run_sweep(&base, &sweep, shard, !args.quiet)?;
    let rows: Vec<(usize, &Report)> = reports.iter().map(|(p, r)| (*p, r)).collect();
    let csv = match shard {
        Some(s) => args.out.join(format!("rewards.shard-{}-of-{}.csv", s.index, s.count)),
        None => args.out.join("rewards.csv"),
    };
    write_csv_file(&csv, &rows)?;
    let summary: Vec<serde_json::Value> =
        reports.iter().map(|(p, r)| serde_json::json!({ "point": p, "sweep": sweep.point(*p), "report": r })).collect();
    let json = match shard {
        Some(s) => args.out.join(format!("summary.shard-{}-of-{}.json", s.index, s.count)),
        None => args.out.join("summary.json"),
    };
    write_json_file(&json, &summary)?;
    for (p, r) in &reports {
        let label: Vec<String> = sweep.point(*p).iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!("== point {p}: {}", label.join(" "));
        print!("{}", r.table());
    }
    if shard.is_none() {
        for (axis, a) in sweep.axes.iter().enumerate() {
            if let Some(svg) = reward_vs_axis(&sweep, axis, &reports) {
                let path = args.out.join(format!("reward_vs_{}.svg", a.key));
                std::fs::write(&path, svg)?;
                println!("wrote {}", path.display());
            }
        }
    }
    println!("wrote {} and {}", csv.display(), json.display());
    Ok(())
}

/// Grouped bars of the mean reward of every node.
fn reward_bars(r: &Report) -> String {
    let kinds = [NodeKind::Inference, NodeKind::Evaluator];
    let groups: Vec<String> = r.nodes.iter().map(|n| n.node.clone()).collect();
    BarChart {
        title: format!("Mean reward per answer ({} rounds)", r.params.get("rounds").map_or("?", |s| s.as_str())),
        y_label: "reward".into(),
        groups,
        series: kinds
            .iter()
            .map(|&k| {
                (
                    k.as_str().to_owned(),
                    r.nodes.iter().map(|n| if n.kind == k { n.mean_reward } else { f64::NAN }).collect(),
                )
            })
            .collect(),
        dividers: (1..r.nodes.len()).filter(|&i| r.nodes[i].kind != r.nodes[i - 1].kind).collect(),
    }
    .to_svg()
}

/// Mean reward of each node against a numeric sweep axis, other axes at their first value.
fn reward_vs_axis(sweep: &Sweep, axis: usize, reports: &[(usize, Report)]) -> Option<String> {
    let key = &sweep.axes[axis].key;
    let mut series: Vec<Series> = Vec::new();
    for (p, r) in reports {
        let point = sweep.point(*p);
        let others_first = point.iter().enumerate().all(|(i, (_, v))| i == axis || *v == sweep.axes[i].values[0]);
        let x: f64 = point[axis].1.parse().ok()?;
        if !others_first {
            continue;
        }
        for n in &r.nodes {
            let name = format!("{} ({})", n.node, n.kind.as_str());
            match series.iter_mut().find(|s| s.name == name) {
                Some(s) => s.points.push((x, n.mean_reward)),
                None => series.push(Series { name, points: vec![(x, n.mean_reward)] }),
            }
        }
    }
    Some(
        LineChart {
            title: format!("Mean reward against {key}"),
            x_label: key.clone(),
            y_label: "mean reward".into(),
            series,
        }
        .to_svg(),
    )
}

/// Writes the first `n` rounds' transcripts and recomputes every payout from them.
fn write_transcripts(engine: &Engine, n: u64, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let txs = engine.transcripts(0..n)?;
    let mut text = String::new();
    for t in &txs {
        engine.verify(t)?;
        text += &serde_json::to_string(t)?;
        text.push('\n');
    }
    std::fs::write(path, text)?;
    println!("wrote {} transcripts to {}; every payout recomputes exactly", txs.len(), path.display());
    Ok(())
}
