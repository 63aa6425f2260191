//! scripts/slurm: the job array's per-task command, run here for every shard as Slurm would run
//! it (SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT set), then the merge step, gives the same
//! rewards.csv, byte for byte, as the unsharded sweep.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `sweep` example of this crate (built by `cargo test`; built here when missing).
fn sweep_example() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let path = profile_dir.join("examples").join(format!("sweep{}", std::env::consts::EXE_SUFFIX));
    if !path.exists() {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        let mut build = Command::new(env!("CARGO"));
        build.args(["build", "--example", "sweep", "--features", "csv,toml,json", "--manifest-path"]).arg(&manifest);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        assert!(build.status().unwrap().success(), "cannot build the sweep example");
    }
    assert!(path.exists(), "{} missing", path.display());
    path
}

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/slurm")
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_shard_of_the_job_array_then_the_merge_equals_the_unsharded_sweep() {
    let exe = sweep_example();
    let tmp = tempfile::tempdir().unwrap();
    let (sharded, full) = (tmp.path().join("sharded"), tmp.path().join("full"));
    let axes = "beta=0,0.5,1 consensus=mean,median attack=none,boost malicious_ratio=0.34";
    let count = 3;
    for task in 0..count {
        // What Slurm runs for array task `task`: sweep.sbatch, which runs task.sh.
        run(Command::new("bash")
            .arg(scripts().join("sweep.sbatch"))
            .env("SLURM_ARRAY_TASK_ID", task.to_string())
            .env("SLURM_ARRAY_TASK_COUNT", count.to_string())
            .env("POQ_SLURM_DIR", scripts())
            .env("POQ_SIMULATE", &exe)
            .env("POQ_SCENARIO", "paper")
            .env("POQ_SWEEP", axes)
            .env("POQ_ROUNDS", "300")
            .env("POQ_OUT", &sharded));
        assert!(sharded.join(format!("rewards.shard-{task}-of-{count}.csv")).exists());
    }
    run(Command::new("bash").arg(scripts().join("merge.sbatch")).env("POQ_SIMULATE", &exe).env("POQ_OUT", &sharded));
    let mut unsharded = Command::new(&exe);
    unsharded.args(["--scenario", "paper", "--rounds", "300", "--out"]).arg(&full);
    for axis in axes.split(' ') {
        unsharded.args(["--sweep", axis]);
    }
    run(&mut unsharded);
    let merged = std::fs::read_to_string(sharded.join("rewards.csv")).unwrap();
    let whole = std::fs::read_to_string(full.join("rewards.csv")).unwrap();
    assert_eq!(merged.lines().count(), 1 + 12 * 8, "header and 12 points × 8 nodes");
    assert_eq!(merged, whole);
    // The comparison can fail: a shard left out changes the merge.
    std::fs::remove_file(sharded.join(format!("rewards.shard-1-of-{count}.csv"))).unwrap();
    run(Command::new("bash").arg(scripts().join("merge.sbatch")).env("POQ_SIMULATE", &exe).env("POQ_OUT", &sharded));
    assert_ne!(std::fs::read_to_string(sharded.join("rewards.csv")).unwrap(), whole);
}

#[test]
fn the_per_task_command_refuses_to_run_without_a_shard() {
    let out = Command::new("bash")
        .arg(scripts().join("task.sh"))
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("TASK")
        .env("POQ_SWEEP", "beta=0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("TASK"));
}
