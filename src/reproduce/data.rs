//! Stage 1: the prompts. SQuAD v1.1 dev and CNN/DailyMail test, seeded sample per task.
//!
//! Each data set is read from, in order: the file given (`--squad`, `--cnndm`); the shared data
//! folder (`../shared/data` or `$POQ_DATA_DIR`); the copy fetched into `data_dir`; a fresh fetch
//! (SQuAD from its official URL, CNN/DailyMail only from a mirror the user names); and only when
//! none of that works, the small sample bundled with poq, with a loud warning.

use super::{Config, Result};
use crate::fetch::FetchError;
use crate::fetch::data::{CNNDM_TEST, Dataset, SQUAD_DEV};
use poq_core::Sample;
use poq_eval::datasets::{cnndm_test_path, load_cnndm_csv, load_cnndm_jsonl, load_squad, sample_n, squad_dev_path};
use std::path::{Path, PathBuf};

/// Where a data set came from, for the report and the manifest.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DataSource {
    /// `squad` or `cnndm`.
    pub name: &'static str,
    /// The file read, relative to the working directory (`../shared/data/...`) when it was absolute.
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

/// The file to read for one data set (see the module docs for the order), and whether it is the
/// bundled sample.
fn locate(
    cfg: &Config,
    ds: &Dataset,
    given: &Option<PathBuf>,
    shared: Option<PathBuf>,
    url: Option<&str>,
    sample: &str,
) -> Result<(PathBuf, bool)> {
    if let Some(p) = given.clone().or(shared) {
        return Ok((p, false));
    }
    if let Some(p) = ds.present(&cfg.data_dir)? {
        return Ok((p, false));
    }
    let why = if cfg.offline {
        "fetching is off (--offline)".to_owned()
    } else {
        match ds.fetch(&cfg.data_dir, url, true) {
            Ok(p) => return Ok((p, false)),
            // Bytes that do not match the pin are not "unavailable": a wrong mirror must be seen.
            Err(e @ (FetchError::Checksum { .. } | FetchError::Size { .. })) => return Err(e.into()),
            Err(e) => e.to_string(),
        }
    };
    warn_bundled(ds, &why, sample);
    Ok((bundled(sample), true))
}

/// A warning nobody can miss: a run on the bundled sample measures almost nothing.
fn warn_bundled(ds: &Dataset, why: &str, sample: &str) {
    let how = match ds.url {
        Some(url) => {
            format!("let reproduce fetch it (drop --offline; needs HTTPS to {url}), or pass --{} FILE", ds.name)
        }
        None => format!(
            "pass --{0} FILE, or --{0}-url URL (or ${1}) of a mirror serving the file with sha256 {2} \
             (docs/reproduce.md says how the file was built)",
            ds.name, ds.url_env, ds.sha256
        ),
    };
    let rule = "=".repeat(100);
    eprintln!(
        "\n{rule}\nWARNING: {name}: the real data set is not available, so this run uses the SMALL SAMPLE BUNDLED \
         with poq\n  (examples/data/{sample}, a few prompts). Its figures are NOT the paper's measurement.\n  \
         Why: {why}\n  To use the real data: {how}\n{rule}\n",
        name = ds.name
    );
}

/// Loads both data sets and samples `per_task` prompts of each with `seed` (fewer when a file has
/// fewer, which the sources say).
pub fn load_prompts(cfg: &Config) -> Result<(Vec<Sample>, Vec<DataSource>)> {
    let (squad_path, squad_bundled) =
        locate(cfg, &SQUAD_DEV, &cfg.squad, squad_dev_path(), cfg.squad_url.as_deref(), "squad-sample.json")?;
    let (cnndm_path, cnndm_bundled) =
        locate(cfg, &CNNDM_TEST, &cfg.cnndm, cnndm_test_path(), cfg.cnndm_url.as_deref(), "cnndm-sample.jsonl")?;

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
        let path = relative_to_cwd(&path);
        sources.push(DataSource { name, path, bundled: is_bundled, available: all.len(), sampled: picked.len() });
        prompts.extend(picked);
    }
    Ok((prompts, sources))
}

/// `path` as reports and manifests show it: relative to the working directory (the shared data
/// reads `../shared/data/squad/dev-v1.1.json`), so that a report does not carry the absolute layout
/// of the machine it ran on, and the path still opens from where the run started. A relative path
/// stays as given; a path that cannot be related (no working directory, another drive) stays whole.
pub(crate) fn relative_to_cwd(path: &Path) -> PathBuf {
    match std::env::current_dir() {
        Ok(cwd) if path.is_absolute() => relative_to(path, &cwd).unwrap_or_else(|| path.to_path_buf()),
        _ => path.to_path_buf(),
    }
}

/// `path` relative to the folder `base`, both absolute: symbolic links and `..` resolved first
/// where the file exists. `None` when they share no root (another drive or prefix).
fn relative_to(path: &Path, base: &Path) -> Option<PathBuf> {
    use std::path::Component;
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let base = std::fs::canonicalize(base).unwrap_or_else(|_| base.to_path_buf());
    let (p, b): (Vec<Component>, Vec<Component>) = (path.components().collect(), base.components().collect());
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return None;
    }
    let mut out: PathBuf = b[common..].iter().map(|_| Component::ParentDir).collect();
    out.extend(&p[common..]);
    Some(if out.as_os_str().is_empty() { PathBuf::from(".") } else { out })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::data::tests::serve;

    #[test]
    fn report_paths_are_relative_to_the_working_directory() {
        let rel = |p: &str, base: &str| relative_to(Path::new(p), Path::new(base)).unwrap();
        assert_eq!(
            rel("/nonexistent-poq/shared/data/squad/dev.json", "/nonexistent-poq/main"),
            PathBuf::from("../shared/data/squad/dev.json")
        );
        assert_eq!(rel("/nonexistent-poq/main/models/a.gguf", "/nonexistent-poq/main"), PathBuf::from("models/a.gguf"));
        assert_eq!(rel("/nonexistent-poq/main", "/nonexistent-poq/main"), PathBuf::from("."));
        assert_eq!(rel("/tmp-poq-x/f.json", "/nonexistent-poq/main"), PathBuf::from("../../tmp-poq-x/f.json"));
        // `..` in the middle of a path (the shared folder as poq-eval spells it) is resolved.
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("main/crates/x")).unwrap();
        std::fs::create_dir_all(dir.path().join("shared")).unwrap();
        std::fs::write(dir.path().join("shared/d.json"), "{}").unwrap();
        let spelled = dir.path().join("main/crates/x/../../../shared/d.json");
        assert_eq!(relative_to(&spelled, &dir.path().join("main")).unwrap(), PathBuf::from("../shared/d.json"));
        // Relative paths are the working directory's already.
        assert_eq!(relative_to_cwd(Path::new("data/squad.json")), PathBuf::from("data/squad.json"));
        let here = std::env::current_dir().unwrap().join("Cargo.toml");
        assert_eq!(relative_to_cwd(&here), PathBuf::from("Cargo.toml"));
    }

    fn cfg(data_dir: &Path, offline: bool) -> Config {
        Config { data_dir: data_dir.to_path_buf(), offline, ..Config::default() }
    }

    #[test]
    fn given_and_shared_files_come_first_and_offline_falls_back_to_the_bundled_sample() {
        let dir = tempfile::tempdir().unwrap();
        let c = cfg(dir.path(), true);
        let (given, shared) = (PathBuf::from("given.json"), PathBuf::from("shared.json"));
        let first = |g: Option<&PathBuf>| locate(&c, &SQUAD_DEV, &g.cloned(), Some(shared.clone()), None, "x").unwrap();
        assert_eq!(first(Some(&given)), (given.clone(), false));
        assert_eq!(first(None), (shared.clone(), false));
        let (path, is_bundled) = locate(&c, &SQUAD_DEV, &None, None, None, "squad-sample.json").unwrap();
        assert!(is_bundled && path.ends_with("examples/data/squad-sample.json") && path.is_file(), "{path:?}");
        // Nothing was written while offline.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn the_copy_in_the_data_folder_is_used_without_fetching() {
        let Some(shared) = squad_dev_path() else {
            eprintln!("skipped: no shared SQuAD file to stand for a fetched copy");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let copy = SQUAD_DEV.path(dir.path());
        std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
        std::fs::copy(&shared, &copy).unwrap();
        let (path, is_bundled) = locate(&cfg(dir.path(), true), &SQUAD_DEV, &None, None, None, "x").unwrap();
        assert_eq!((path, is_bundled), (copy, false));
    }

    #[test]
    fn a_mirror_is_fetched_and_a_wrong_one_is_an_error_not_a_fallback() {
        let dir = tempfile::tempdir().unwrap();
        let c = cfg(dir.path(), false);
        // A mirror serving other bytes: a typed checksum error, and no file left in data/.
        let url = serve(b"{}\n".to_vec());
        let e = locate(&c, &CNNDM_TEST, &None, None, Some(&url), "cnndm-sample.jsonl").unwrap_err();
        assert!(matches!(&e, super::super::Error::Fetch(FetchError::Size { .. })), "{e}");
        assert!(!CNNDM_TEST.path(dir.path()).exists());
        // The real file, when this machine has it, through a loopback mirror.
        if let Some(shared) = cnndm_test_path() {
            let url = serve(std::fs::read(&shared).unwrap());
            let (path, is_bundled) = locate(&c, &CNNDM_TEST, &None, None, Some(&url), "x").unwrap();
            assert_eq!((path.clone(), is_bundled), (CNNDM_TEST.path(dir.path()), false));
            assert_eq!(std::fs::read(path).unwrap(), std::fs::read(shared).unwrap());
        }
    }
}
