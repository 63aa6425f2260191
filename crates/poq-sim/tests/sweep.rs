//! Sweeps: cartesian points, shards that partition them, and a merge that restores the whole.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

use poq_sim::output::{merge_csv, write_csv_file};
use poq_sim::sweep::{Shard, Sweep, run_sweep};
use poq_sim::{Report, paper};

fn csv_of(reports: &[(usize, Report)], path: &std::path::Path) {
    let rows: Vec<(usize, &Report)> = reports.iter().map(|(p, r)| (*p, r)).collect();
    write_csv_file(path, &rows).unwrap();
}

#[test]
fn points_shards_and_merge() {
    let mut base = paper();
    base.rounds = 400;
    let sweep =
        Sweep::parse(&["beta=0,0.5,1", "consensus=mean,median", "attack=none,boost", "malicious_ratio=0.34"]).unwrap();
    assert_eq!(sweep.len(), 12);
    assert_eq!(
        sweep.point(0),
        vec![("beta", "0"), ("consensus", "mean"), ("attack", "none"), ("malicious_ratio", "0.34")]
    );
    assert_eq!(
        sweep.point(11),
        vec![("beta", "1"), ("consensus", "median"), ("attack", "boost"), ("malicious_ratio", "0.34")]
    );
    let p = sweep.scenario(&base, 3).unwrap();
    assert_eq!(p.alpha_beta(), Some((1.0, 0.0)));
    assert_eq!(p.evaluators.iter().filter(|e| e.adversary.is_some()).count(), 1);

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let full = run_sweep(&base, &sweep, None, false).unwrap();
    assert_eq!(full.iter().map(|r| r.0).collect::<Vec<_>>(), (0..12).collect::<Vec<_>>());
    csv_of(&full, &dir.join("full.csv"));
    let mut shards = Vec::new();
    for i in 0..3 {
        let s = Shard::parse(&format!("{i}/3")).unwrap();
        let part = run_sweep(&base, &sweep, Some(s), false).unwrap();
        assert!(part.iter().all(|(p, _)| p % 3 == i));
        let path = dir.join(format!("shard-{i}.csv"));
        csv_of(&part, &path);
        shards.push(path);
    }
    shards.reverse(); // order of inputs does not matter
    let rows = merge_csv(&shards, &dir.join("merged.csv")).unwrap();
    assert_eq!(rows, 12 * 8);
    let full_text = std::fs::read_to_string(dir.join("full.csv")).unwrap();
    assert_eq!(std::fs::read_to_string(dir.join("merged.csv")).unwrap(), full_text);

    // Every row carries its point, parameters and seed.
    let mut rd = csv::Reader::from_path(dir.join("full.csv")).unwrap();
    let h = rd.headers().unwrap().clone();
    for col in ["point", "seed", "beta", "consensus", "attack", "malicious_ratio", "k", "node", "mean_reward", "ci_low"]
    {
        assert!(h.iter().any(|c| c == col), "missing column {col}");
    }
    let beta = h.iter().position(|c| c == "beta").unwrap();
    let seed = h.iter().position(|c| c == "seed").unwrap();
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
    assert!(rows.iter().all(|r| &r[seed] == "42"));
    assert_eq!(&rows[0][beta], "0");
    assert_eq!(&rows[12 * 8 - 1][beta], "1");
}

#[test]
fn bad_specs_are_rejected() {
    assert!(Sweep::parse(&["betta=1"]).unwrap_err().to_string().contains("betta"));
    assert!(Sweep::parse(&["beta"]).is_err());
    assert!(Sweep::parse(&["beta="]).is_err());
    assert!(Shard::parse("3/3").is_err());
    assert!(Shard::parse("a/3").is_err());
    let s = Sweep::parse(&["k=9"]).unwrap();
    assert!(s.scenario(&paper(), 0).unwrap_err().to_string().contains("`k`"));
    let s = Sweep::parse(&["attack=teleport"]).unwrap();
    assert!(s.scenario(&paper(), 0).is_err());
}
