//! A sweep, a shard of one, or the merge of shards, with the flags and file names of the
//! application's `simulate` example, on poq-sim alone (what `scripts/slurm/task.sh` needs):
//!
//! ```text
//! cargo run --release -p poq-sim --features csv,toml,json --example sweep -- \
//!     --scenario paper --sweep beta=0,0.5 --shard 0/2 --out DIR   # DIR/rewards.shard-0-of-2.csv
//! cargo run --release -p poq-sim --features csv,toml,json --example sweep -- --merge --out DIR
//! ```

use poq_sim::output::{merge_csv, write_csv_file};
use poq_sim::sweep::{Shard, Sweep, run_sweep};
use poq_sim::{Report, Scenario, builtin};
use std::path::PathBuf;

fn main() {
    if let Err(e) = run(std::env::args().skip(1).collect()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: Vec<String>) -> Result<(), Box<dyn std::error::Error>> {
    let (mut scenario, mut out, mut sweep, mut shard, mut rounds, mut merge) =
        ("paper".to_owned(), PathBuf::from("sweep-out"), Vec::new(), None, None, false);
    let mut it = args.into_iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--scenario" => scenario = value()?,
            "--out" => out = value()?.into(),
            "--sweep" => sweep.push(value()?),
            "--shard" => shard = Some(Shard::parse(&value()?)?),
            "--rounds" => rounds = Some(value()?.parse::<u64>()?),
            "--merge" => merge = true,
            "--quiet" => {}
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    std::fs::create_dir_all(&out)?;
    if merge {
        let mut shards: Vec<PathBuf> = std::fs::read_dir(&out)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("rewards.shard-") && n.ends_with(".csv"))
            })
            .collect();
        shards.sort();
        let rows = merge_csv(&shards, &out.join("rewards.csv"))?;
        println!("merged {} shards ({rows} rows)", shards.len());
        return Ok(());
    }
    let mut base = match builtin(&scenario) {
        Some(sc) => sc,
        None => Scenario::from_path(&scenario)?,
    };
    if let Some(r) = rounds {
        base.rounds = r;
    }
    let sweep = Sweep::parse(&sweep)?;
    let reports = run_sweep(&base, &sweep, shard, false)?;
    let rows: Vec<(usize, &Report)> = reports.iter().map(|(p, r)| (*p, r)).collect();
    let csv = match shard {
        Some(s) => out.join(format!("rewards.shard-{}-of-{}.csv", s.index, s.count)),
        None => out.join("rewards.csv"),
    };
    write_csv_file(&csv, &rows)?;
    println!("wrote {} ({} points)", csv.display(), reports.len());
    Ok(())
}
