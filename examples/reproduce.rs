//! Reproduces the paper end to end: data → generations → scores → costs → Monte Carlo → report.
//!
//! ```sh
//! cargo run --release --example reproduce -- --out results/reproduce
//! ```
//! Missing default models are fetched first (pinned, sha256-checked; `bash scripts/fetch-models.sh`
//! does the same alone), and missing data too; `--offline` turns all downloads off.
//! With the paper's five models and three evaluators (see docs/reproduce.md):
//! `--generator llama=PATH --generator gemma=PATH ... --evaluator sts=DIR --evaluator ce=DIR`.

use clap::Parser;
use poq_app::reproduce::{Config, EvaluatorSpec, GeneratorSpec, fetch_default_models, run};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// Reproduce arXiv 2512.16317 (cost-aware Proof of Quality) on this machine.
#[derive(Debug, Parser)]
struct Args {
    /// Output folder (report.md, CSVs, SVGs, manifest.json, cache/).
    #[arg(long, default_value = "results/reproduce")]
    out: PathBuf,
    /// SQuAD v1.1 JSON (default: ../shared/data, else the copy fetched into --data, else the
    /// bundled sample).
    #[arg(long)]
    squad: Option<PathBuf>,
    /// CNN/DailyMail JSONL or CSV (default: ../shared/data, else the copy fetched into --data, else
    /// the bundled sample).
    #[arg(long)]
    cnndm: Option<PathBuf>,
    /// Folder for fetched data sets.
    #[arg(long, default_value = "data")]
    data: PathBuf,
    /// A mirror of SQuAD v1.1 dev (default: $POQ_SQUAD_URL, else the official URL).
    #[arg(long)]
    squad_url: Option<String>,
    /// A mirror of the pinned CNN/DailyMail file (default: $POQ_CNNDM_URL; no public URL serves it).
    #[arg(long)]
    cnndm_url: Option<String>,
    /// Download nothing: missing default models are an error, missing data the bundled sample.
    #[arg(long)]
    offline: bool,
    /// Prompts per task.
    #[arg(long, default_value_t = 200)]
    per_task: usize,
    /// Seed of prompt sampling and simulation.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Inference model: [NAME=]PATH (.gguf or folder) or [NAME=]MODEL@URL; repeatable.
    /// Default: every model found in --models.
    #[arg(long = "generator")]
    generators: Vec<String>,
    /// Evaluator: sts[=DIR] or ce=DIR; repeatable. Default: every evaluator found in --models.
    #[arg(long = "evaluator")]
    evaluators: Vec<String>,
    /// LLM judge: [NAME=]PATH or [NAME=]MODEL@URL. Default: Qwen2.5-Coder-1.5B-Instruct in --models.
    #[arg(long)]
    judge: Option<String>,
    /// Run no judge (a quick look).
    #[arg(long, conflicts_with = "judge")]
    no_judge: bool,
    /// Answers the judge scores, sampled evenly over (model, task). Default: 150, at most one in eight.
    #[arg(long)]
    judge_sample: Option<usize>,
    /// Folder searched for default models.
    #[arg(long, default_value = "models")]
    models: PathBuf,
    /// Monte Carlo rounds.
    #[arg(long, default_value_t = 5000)]
    rounds: u64,
    /// Measured repetitions per profiled test (after one warm-up).
    #[arg(long, default_value_t = 3)]
    profile_repetitions: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut notices = Vec::new();
    let result = build(args).and_then(|cfg| {
        // The default models first: a fresh clone must measure something, never exit 0 empty.
        notices = fetch_default_models(&cfg)?;
        run(&cfg)
    });
    // Again at the end, where the eye lands (the fetch printed them too).
    for n in &notices {
        eprintln!("note: {n}");
    }
    match result {
        Ok(outcome) => {
            for s in &outcome.skipped {
                eprintln!("skipped: {s}");
            }
            let total: f64 = outcome.stages.iter().map(|(_, d)| d.as_secs_f64()).sum();
            println!("report: {} ({total:.0} s)", outcome.report.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn build(a: Args) -> poq_app::reproduce::Result<Config> {
    Ok(Config {
        generators: a.generators.iter().map(|s| s.parse()).collect::<Result<Vec<GeneratorSpec>, _>>()?,
        evaluators: a.evaluators.iter().map(|s| EvaluatorSpec::parse(s, &a.models)).collect::<Result<_, _>>()?,
        judge: a.judge.as_deref().map(str::parse).transpose()?,
        no_judge: a.no_judge,
        judge_sample: a.judge_sample,
        out: a.out,
        squad: a.squad,
        cnndm: a.cnndm,
        data_dir: a.data,
        squad_url: a.squad_url,
        cnndm_url: a.cnndm_url,
        offline: a.offline,
        per_task: a.per_task,
        seed: a.seed,
        models_dir: a.models,
        rounds: a.rounds,
        profile_repetitions: a.profile_repetitions,
        progress: std::io::stderr().is_terminal(),
    })
}
