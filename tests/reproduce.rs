//! End-to-end test of the reproduction on the bundled sample: with the real small models when they
//! are fetched (required in CI), and with none at all.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(all(feature = "eval", feature = "infer", feature = "profile", feature = "sim"))]

use poq_app::reproduce::{Config, EvaluatorSpec, run};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn models_dir() -> PathBuf {
    std::env::var_os("POQ_MODELS_DIR").map_or_else(|| root().join("models"), PathBuf::from)
}

/// Writes into `out`, which removes the output when the test ends.
fn config(out: &TempDir, models: PathBuf) -> Config {
    Config {
        out: out.path().to_path_buf(),
        squad: Some(root().join("examples/data/squad-sample.json")),
        cnndm: Some(root().join("examples/data/cnndm-sample.jsonl")),
        per_task: 2,
        rounds: 300,
        profile_repetitions: 1,
        models_dir: models,
        progress: false,
        ..Config::default()
    }
}

#[test]
fn runs_end_to_end_with_the_real_models_and_resumes_from_cache() {
    let models = models_dir();
    let gguf = models.join("SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf");
    if !gguf.is_file() || !models.join("all-MiniLM-L6-v2/model.safetensors").is_file() {
        assert!(std::env::var("POQ_REQUIRE_MODELS").is_err(), "models missing: run scripts/fetch-models.sh");
        eprintln!("skipped: models missing, run scripts/fetch-models.sh");
        return;
    }
    let out = tempfile::tempdir().unwrap();
    // One model of each kind, named: the other fetched models have their own test below.
    let cfg = Config {
        generators: vec![gguf.display().to_string().parse().unwrap()],
        evaluators: vec![EvaluatorSpec::parse("sts", &models).unwrap()],
        no_judge: true,
        ..config(&out, models)
    };
    let outcome = run(&cfg).unwrap();
    let report = std::fs::read_to_string(&outcome.report).unwrap();
    for section in [
        "## Evaluator agreement",
        "## Quality and latency per model",
        "## Measured costs",
        "## Monte Carlo PoQ rewards from the measurements",
        "## Composite quality signal (calibrated, held out)",
        "## The paper's scenario",
    ] {
        assert!(report.contains(section), "report lacks {section}:\n{report}");
    }
    assert!(report.contains("SmolLM2-135M-Instruct (Q4_1)") && report.contains("sts:all-MiniLM-L6-v2"));
    // One row per (model, prompt, evaluator): 1 × 4 × 1, plus the header.
    let scores = std::fs::read_to_string(cfg.out.join("scores.csv")).unwrap();
    assert_eq!(scores.lines().count(), 5, "{scores}");
    // The composite under attacks: 2 signals (the one evaluator, the composite) × 3 attacks × 3
    // defences × 6 shares, and one figure per attack × defence.
    assert!(report.contains("### The signals under evaluator attacks") && report.contains("### Per-task composites"));
    let attacks = std::fs::read_to_string(cfg.out.join("attacks.csv")).unwrap();
    assert_eq!(attacks.lines().count(), 1 + 2 * 3 * 3 * 6, "{attacks}");
    assert!(
        attacks.lines().skip(1).all(|l| l.starts_with("\"sts:all-MiniLM-L6-v2\",") || l.starts_with("\"composite\","))
    );
    let routed = std::fs::read_to_string(cfg.out.join("composite_per_task.json")).unwrap();
    assert!(routed.contains("\"fallback\""), "{routed}");
    let figures = ["boost", "sabotage", "collusion"]
        .into_iter()
        .flat_map(|a| ["mean", "median", "spot_check"].map(|d| format!("attacks_{a}_{d}.svg")));
    for svg in ["quality_latency.svg", "rewards_measured.svg", "beta_sweep_measured.svg", "rewards_paper.svg"]
        .map(str::to_owned)
        .into_iter()
        .chain(figures)
    {
        let text = std::fs::read_to_string(cfg.out.join(&svg)).unwrap();
        assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>"), "{svg}");
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cfg.out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(
        manifest["generators"][0]["files"][0]["sha256"],
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    );
    assert_eq!(manifest["seed"], 42);

    // A second run finds every generation and score in the cache: nothing is appended.
    let cache = |f: &str| std::fs::read_to_string(cfg.out.join("cache").join(f)).unwrap();
    let (gens, scored) = (cache("generations.jsonl"), cache("scores.jsonl"));
    assert_eq!(gens.lines().count(), 4);
    run(&cfg).unwrap();
    assert_eq!(cache("generations.jsonl"), gens);
    assert_eq!(cache("scores.jsonl"), scored);
}

#[test]
fn the_default_run_measures_three_models_two_evaluators_and_a_judge() {
    let models = models_dir();
    let needed = [
        "SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf",
        "Qwen2.5-Coder-0.5B-Instruct/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        "gemma-3-270m/gemma-3-270m-q4_k_m.gguf",
        "Qwen2.5-Coder-1.5B-Instruct/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        "all-MiniLM-L6-v2/model.safetensors",
        "all-mpnet-base-v2/model.safetensors",
    ];
    if let Some(missing) = needed.iter().find(|f| !models.join(f).is_file()) {
        assert!(std::env::var("POQ_REQUIRE_MODELS").is_err(), "{missing} missing: run scripts/fetch-models.sh");
        eprintln!("skipped: {missing} missing, run scripts/fetch-models.sh");
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let cfg = Config { per_task: 1, judge_sample: Some(3), ..config(&out, models) };
    let outcome = run(&cfg).unwrap();
    let report = std::fs::read_to_string(&outcome.report).unwrap();
    // The judge is not an inference node; it scored its sample.
    let rewards = std::fs::read_to_string(cfg.out.join("rewards_measured.csv")).unwrap();
    assert!(!rewards.contains("1.5B"), "{rewards}");
    for node in ["SmolLM2-135M-Instruct", "qwen2.5-coder-0.5b", "gemma-3-270m", "all-MiniLM-L6-v2", "all-mpnet-base-v2"]
    {
        assert!(rewards.contains(node), "{node} missing from {rewards}");
    }
    assert!(report.contains("seeded sample of 3 answers"), "{report}");
    assert!(report.contains("## The paper beside this run") && report.contains("judge:qwen2.5-coder-1.5b"));
    let agreement = std::fs::read_to_string(cfg.out.join("agreement.csv")).unwrap();
    assert!(agreement.lines().any(|l| l.contains("judge:") && l.contains("sts:all-mpnet-base-v2")), "{agreement}");
}

#[test]
fn without_models_it_still_runs_what_needs_none_and_says_what_it_skipped() {
    let empty = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let cfg = config(&out, empty.path().to_path_buf());
    let outcome = run(&cfg).unwrap();
    assert!(outcome.skipped.iter().any(|s| s.contains("no inference model") && s.contains("fetch-models.sh")));
    assert!(outcome.skipped.iter().any(|s| s.contains("model evaluators")));
    let report = std::fs::read_to_string(&outcome.report).unwrap();
    assert!(report.contains("Skipped: it needs at least one inference model"));
    assert!(report.contains("## Composite quality signal"), "{report}");
    // The calibrated paper scenario still runs and ranks Llama-3.2-3B above Phi-3-mini.
    let rewards = std::fs::read_to_string(cfg.out.join("rewards_paper.csv")).unwrap();
    assert!(rewards.contains("Llama-3.2-3B") && rewards.contains("Phi-3-mini"));
    assert!(report.find("| Llama-3.2-3B").is_some());
}

#[test]
fn a_bad_spec_is_a_clear_error() {
    let err = "@http://127.0.0.1:1/v1".parse::<poq_app::reproduce::GeneratorSpec>().unwrap_err().to_string();
    assert!(err.contains("generator") && err.contains("model name"), "{err}");
    let out = tempfile::tempdir().unwrap();
    let mut cfg = config(&out, models_dir());
    cfg.squad = Some(root().join("examples/data/missing.json"));
    let err = run(&cfg).unwrap_err().to_string();
    assert!(err.contains("missing.json"), "{err}");
}
