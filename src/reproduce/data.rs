//! Stage 1: the prompts. SQuAD v1.1 dev and CNN/DailyMail test, seeded sample per task.

use super::{Config, Result};
use poq_core::Sample;
use poq_eval::datasets::{cnndm_test_path, load_cnndm_csv, load_cnndm_jsonl, load_squad, sample_n, squad_dev_path};
use std::path::{Path, PathBuf};

/// Where a data set came from, for the report and the manifest.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DataSource {
    /// `squad` or `cnndm`.
    pub name: &'static str,
    /// The file read.
    pub path: PathBuf,
    /// Whether it is the small sample bundled with poq (the real data was not found).
    pub bundled: bool,
    /// Examples in the file.
    pub available: usize,
    /// Examples sampled.
    pub sampled: usize,
}

fn bundled(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data").join(file)
}

/// Loads both data sets and samples `per_task` prompts of each with `seed` (fewer when a file has
/// fewer, which the sources say).
pub fn load_prompts(cfg: &Config) -> Result<(Vec<Sample>, Vec<DataSource>)> {
    let pick = |given: &Option<PathBuf>, shared: Option<PathBuf>, file: &str| match given {
        Some(p) => (p.clone(), false),
        None => shared.map_or_else(|| (bundled(file), true), |p| (p, false)),
    };
    let (squad_path, squad_bundled) = pick(&cfg.squad, squad_dev_path(), "squad-sample.json");
    let (cnndm_path, cnndm_bundled) = pick(&cfg.cnndm, cnndm_test_path(), "cnndm-sample.jsonl");

    let squad = load_squad(&squad_path)?;
    let cnndm = if cnndm_path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) {
        load_cnndm_csv(&cnndm_path)?
    } else {
        load_cnndm_jsonl(&cnndm_path)?
    };
    let mut prompts = Vec::new();
    let mut sources = Vec::new();
    // Each data set gets its own stream derived from the seed, so changing one file's size does
    // not change the other's sample.
    for (name, path, is_bundled, all, seed) in [
        ("squad", squad_path, squad_bundled, squad, cfg.seed),
        ("cnndm", cnndm_path, cnndm_bundled, cnndm, cfg.seed.wrapping_add(1)),
    ] {
        let n = cfg.per_task.min(all.len());
        let picked = sample_n(&all, n, seed)?;
        let path = std::fs::canonicalize(&path).unwrap_or(path);
        sources.push(DataSource { name, path, bundled: is_bundled, available: all.len(), sampled: picked.len() });
        prompts.extend(picked);
    }
    Ok((prompts, sources))
}
