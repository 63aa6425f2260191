//! Monte Carlo PoQ rounds: the paper's experiment, any scenario file, and sweeps.
//!
//! ```text
//! cargo run --release --example simulate -- --scenario paper --rounds 5000 --seed 42 --out DIR
//! cargo run --release --example simulate -- --scenario my.toml --sweep beta=0,0.25,0.5,1 --out DIR
//! cargo run --release --example simulate -- --scenario paper --sweep k=1,2,3 --shard 0/2 --out DIR
//! cargo run --release --example simulate -- --merge --out DIR     # joins DIR/rewards.shard-*.csv
//! cargo run --release --example simulate -- --scenario network --rounds 10000000 --out DIR [--nodes-csv]
//! ```
//! Writes `DIR/rewards.csv` (one row per node and sweep point, scenario parameters as columns),
//! `DIR/summary.json`, and for each numeric sweep axis `DIR/reward_vs_<axis>.svg`.
//!
//! `--scenario network` is a population (10^6 inference nodes of three models on two hardware
//! tiers, 10^5 evaluators; `--inference N --evaluators M` to resize): it writes
//! `DIR/population.json` (the distribution report), `DIR/classes.csv` (one row per class),
//! `DIR/nodes.csv` with `--nodes-csv`, and the figures `reward_distribution.svg`, `lorenz.svg` and
//! `ci_convergence.svg`. `--population FILE` runs a population file the same way. With `--sweep`
//! (keys in poq-sim's `sweep` module, e.g. `leave=0,0.01,0.05`) it writes one row per class and
//! point to `DIR/classes.csv`, sharded with `--shard i/n` and joined by `--merge`.

use clap::Parser;
use poq::sim::output::{merge_csv, write_csv_file, write_json_file};
use poq::sim::sweep::{Shard, Sweep, run_population_sweep, run_sweep, write_population_csv};
use poq::sim::{
    CI_GRID, Engine, NodeKind, Population, PopulationReport, PopulationRun, Report, RunOptions, Scenario, builtin,
    network_population,
};
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
    /// A population file (.toml or .json, docs/population.md): run it as `--scenario network` runs.
    #[arg(long)]
    population: Option<PathBuf>,
    /// `--scenario network`: inference nodes.
    #[arg(long, default_value_t = 1_000_000)]
    inference: usize,
    /// `--scenario network`: evaluators.
    #[arg(long, default_value_t = 100_000)]
    evaluators: usize,
    /// `--scenario network`: also stream one CSV row per node to DIR/nodes.csv.
    #[arg(long)]
    nodes_csv: bool,
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
        // Scenario sweeps write rewards.shard-*.csv, population sweeps classes.shard-*.csv.
        for stem in ["rewards", "classes"] {
            let prefix = format!("{stem}.shard-");
            let mut shards: Vec<PathBuf> = std::fs::read_dir(&args.out)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".csv"))
                })
                .collect();
            if shards.is_empty() {
                continue;
            }
            shards.sort();
            let merged = args.out.join(format!("{stem}.csv"));
            let rows = merge_csv(&shards, &merged)?;
            println!("merged {} shards ({rows} rows) into {}", shards.len(), merged.display());
        }
        return Ok(());
    }
    if let Some(n) = args.threads {
        rayon::ThreadPoolBuilder::new().num_threads(n).build_global()?;
    }
    if args.scenario == "network" || args.population.is_some() {
        return network(&args);
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

/// The `network` population: run, report, figures.
fn network(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut p = match &args.population {
        Some(path) => Population::from_path(path)?,
        None => network_population(args.inference, args.evaluators),
    };
    if let Some(r) = args.rounds {
        p.rounds = r;
    }
    if let Some(s) = args.seed {
        p.seed = s;
    }
    let sweep = Sweep::parse(&args.sweep)?;
    if !sweep.is_empty() {
        return population_sweep(args, &p, &sweep);
    }
    let start = std::time::Instant::now();
    let run = PopulationRun::new(&p)?;
    let expanded = start.elapsed().as_secs_f64();
    let sums = run.play()?;
    let played = start.elapsed().as_secs_f64() - expanded;
    let result = run.summarize(sums);
    let (nf, ne) = run.sizes();
    println!(
        "population `{}`: {nf} inference nodes and {ne} evaluators ever present, {} rounds, seed {}; \
         expanded in {:.2} s, rounds in {:.2} s ({:.3e} rounds/s), report in {:.2} s\n",
        p.name,
        p.rounds,
        p.seed,
        expanded,
        played,
        p.rounds as f64 / played,
        start.elapsed().as_secs_f64() - expanded - played
    );
    let r = &result.report;
    print!("{}", r.table());
    write_json_file(&args.out.join("population.json"), r)?;
    std::fs::write(args.out.join("classes.csv"), classes_csv(r))?;
    if args.nodes_csv {
        let f = std::fs::File::create(args.out.join("nodes.csv"))?;
        result.write_nodes_csv(&run, std::io::BufWriter::new(f))?;
    }
    std::fs::write(args.out.join("reward_distribution.svg"), reward_distribution(r))?;
    std::fs::write(args.out.join("lorenz.svg"), lorenz_chart(r))?;
    std::fs::write(args.out.join("ci_convergence.svg"), ci_convergence(r, p.ci_width))?;
    println!(
        "\nwrote {}/population.json, classes.csv{}, reward_distribution.svg, lorenz.svg, ci_convergence.svg",
        args.out.display(),
        if args.nodes_csv { ", nodes.csv" } else { "" }
    );
    Ok(())
}

/// A sweep over the population's parameters (sharded with `--shard`): one CSV row per class and
/// point in DIR/classes.csv (or DIR/classes.shard-i-of-n.csv, merged by `--merge`).
fn population_sweep(args: &Args, base: &Population, sweep: &Sweep) -> Result<(), Box<dyn std::error::Error>> {
    let shard = args.shard.as_deref().map(Shard::parse).transpose()?;
    let reports = run_population_sweep(base, sweep, shard)?;
    for (p, r) in &reports {
        let label: Vec<String> = sweep.point(*p).iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!("== point {p}: {}", label.join(" "));
        print!("{}", r.table());
    }
    let path = match shard {
        Some(s) => args.out.join(format!("classes.shard-{}-of-{}.csv", s.index, s.count)),
        None => args.out.join("classes.csv"),
    };
    let rows: Vec<(usize, &PopulationReport)> = reports.iter().map(|(p, r)| (*p, r)).collect();
    write_population_csv(std::io::BufWriter::new(std::fs::File::create(&path)?), sweep, &rows)?;
    println!("wrote {}", path.display());
    Ok(())
}

/// One row per class: its distributions flattened.
fn classes_csv(r: &PopulationReport) -> String {
    let mut s = String::from(
        "class,kind,nodes,active_at_end,mean_reward,p5,p25,p50,p75,p95,pool_share,gini,top1_share,rounds_to_ci_p50,rounds_to_ci_p95,settled\n",
    );
    for c in &r.classes {
        let q = &c.mean_reward.quantiles;
        s += &format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            c.class,
            c.kind,
            c.nodes,
            c.active_at_end,
            c.mean_reward.mean,
            q[0],
            q[1],
            q[2],
            q[3],
            q[4],
            c.pool_share,
            c.gini,
            c.top1_share,
            c.rounds_to_ci.quantiles[2],
            c.rounds_to_ci.quantiles[4],
            c.settled
        );
    }
    s
}

/// Quantiles of each class's node mean rewards, as grouped bars.
fn reward_distribution(r: &PopulationReport) -> String {
    let names = ["p5", "p25", "p50", "p75", "p95"];
    BarChart {
        title: format!("Mean reward per payout across each class's nodes ({} rounds)", r.rounds),
        y_label: "node mean reward".into(),
        groups: r.classes.iter().map(|c| c.class.clone()).collect(),
        series: names
            .iter()
            .enumerate()
            .map(|(i, n)| ((*n).to_owned(), r.classes.iter().map(|c| c.mean_reward.quantiles[i]).collect()))
            .collect(),
        dividers: (1..r.classes.len()).filter(|&i| r.classes[i].kind != r.classes[i - 1].kind).collect(),
    }
    .to_svg()
}

/// Lorenz curves of total payouts, per pool, with the line of equality.
fn lorenz_chart(r: &PopulationReport) -> String {
    LineChart {
        title: format!("Lorenz curves of total payouts (Gini {:.3} inference, {:.3} evaluators)", r.gini.0, r.gini.1),
        x_label: "share of nodes, poorest first".into(),
        y_label: "share of payouts".into(),
        series: vec![
            Series { name: "equality".into(), points: vec![(0.0, 0.0), (1.0, 1.0)] },
            Series { name: "inference nodes".into(), points: r.lorenz.0.clone() },
            Series { name: "evaluators".into(), points: r.lorenz.1.clone() },
        ],
    }
    .to_svg()
}

/// Fraction of each class's nodes whose 95 % interval is narrower than `width` after 10^x rounds.
fn ci_convergence(r: &PopulationReport, width: f64) -> String {
    LineChart {
        title: format!(
            "Nodes whose 95% CI of mean reward is narrower than {width} (grid 10^{}..10^{})",
            CI_GRID.0, CI_GRID.1
        ),
        x_label: "log10 rounds of the network".into(),
        y_label: "fraction of the class's nodes".into(),
        series: r.classes.iter().map(|c| Series { name: c.class.clone(), points: c.ci_cdf.clone() }).collect(),
    }
    .to_svg()
}
