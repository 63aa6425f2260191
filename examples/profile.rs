//! Profile evaluators and generators on this machine and write their cost profiles.
//!
//! ```text
//! cargo run --release --example profile -- \
//!     --evaluator sts=models/all-MiniLM-L6-v2 --evaluator f1 \
//!     --generator models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf \
//!     --out costs.json
//! ```
//! Evaluators are `sts=DIR` (bi-encoder), `cross=DIR` (cross-encoder) or `f1` (token F1); each
//! is swept over batch sizes 1, 2, 4, … up to `--max-batch`. Generators are `.gguf` files or model
//! folders, run greedily on a few built-in prompts. The Markdown table goes to stdout, the JSON to
//! `--out` and a tidy CSV beside it (same name, `.csv`). Models are loaded one at a time, right
//! before they are profiled, and peak memory is the process's resident high-water mark
//! (`process_vmhwm`), reset before each model's runs.

use clap::Parser;
use poq::core::{EvalItem, Evaluator, GenerationRequest};
use poq::eval::{CrossEncoder, StsEvaluator, TokenF1};
use poq::infer::gguf::GgufPrecision;
use poq::infer::{LoadOptions, LocalGenerator};
use poq::profile::{ProfileConfig, ProfileRecord, ProfileReport, Profiler, Target, powers_of_two};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(about = "Profile evaluators and generators into cost profiles (JSON, CSV, Markdown)")]
struct Args {
    /// `sts=DIR`, `cross=DIR` or `f1` (repeatable).
    #[arg(long)]
    evaluator: Vec<String>,
    /// A `.gguf` file or a safetensors model folder (repeatable).
    #[arg(long)]
    generator: Vec<String>,
    /// Where to write the JSON; the CSV goes beside it.
    #[arg(long, default_value = "costs.json")]
    out: PathBuf,
    /// Unmeasured runs before each batch size or prompt.
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Measured runs per batch size or prompt.
    #[arg(long, default_value_t = 5)]
    repetitions: usize,
    /// Largest evaluator batch size of the sweep (powers of two up to it).
    #[arg(long, default_value_t = 128)]
    max_batch: usize,
    /// How many of the built-in prompts to run each generator on (1 to 3).
    #[arg(long, default_value_t = 3)]
    prompts: usize,
    /// Upper bound on generated tokens per prompt (generation is greedy).
    #[arg(long, default_value_t = 64)]
    max_new_tokens: usize,
    /// How GGUF weights are multiplied: f32, int8 (8-bit activations when decoding), q8_0 or
    /// native (see the generate example); other than f32, the record's dtype names it.
    #[arg(long, default_value = "f32")]
    gguf: GgufPrecision,
}

/// Answers scored against references, of the lengths evaluators see in a round: short QA answers
/// and one-sentence summaries, `n` of them, all different.
fn items(n: usize) -> Vec<EvalItem> {
    let pairs: [(&str, &[&str]); 8] = [
        ("The capital of France is Paris.", &["Paris"]),
        ("Denver Broncos", &["Denver Broncos", "The Denver Broncos"]),
        ("It was founded in 1891 by Leland Stanford.", &["1891"]),
        ("the Amazon rainforest", &["Amazon rainforest", "the Amazon"]),
        ("Water boils at 100 degrees Celsius at sea level.", &["100 degrees Celsius"]),
        (
            "The city council approved a new budget that raises spending on schools and roads next year.",
            &["Council passes budget with more money for schools and roads."],
        ),
        (
            "Researchers found that the drug reduced symptoms in most patients during the trial.",
            &["A clinical trial shows the new drug eased symptoms for most patients."],
        ),
        (
            "Heavy storms caused flooding across the region, and thousands of homes lost power.",
            &["Storms flood the region and cut power to thousands of homes."],
        ),
    ];
    // Distinct texts for every item of the largest batch: the STS evaluator embeds each distinct
    // text once per batch, so repeated items would measure a cache, not a batch.
    (0..n)
        .map(|i| {
            let (c, refs) = pairs[i % pairs.len()];
            let round = i / pairs.len();
            let refs = refs.iter().map(|r| format!("{r} (case {round})")).collect();
            EvalItem::new(format!("{c} (case {round})"), refs)
        })
        .collect()
}

/// A QA prompt with context, a summarization prompt and an open question.
fn prompts(n: usize, max_new_tokens: usize) -> Vec<GenerationRequest> {
    let texts = [
        "Context: Super Bowl 50 was an American football game to determine the champion of the National \
         Football League for the 2015 season. The American Football Conference champion Denver Broncos \
         defeated the National Football Conference champion Carolina Panthers 24-10.\n\
         Question: Which team won Super Bowl 50?\nAnswer briefly.",
        "Summarize in one sentence: The city council met on Tuesday and approved next year's budget. \
         Spending on schools rises by eight percent, and two major roads will be repaired. Some members \
         objected to the cost, but the measure passed by a wide margin.",
        "What is the boiling point of water at sea level?",
    ];
    texts.iter().take(n.clamp(1, texts.len())).map(|t| GenerationRequest::user(*t, max_new_tokens)).collect()
}

/// The quantization tag of a GGUF file name (`….Q4_1.gguf` → `q4_1`), else `gguf`.
fn gguf_dtype(path: &Path) -> String {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    let tag = stem.rsplit(['.', '-']).next().unwrap_or_default().to_ascii_lowercase();
    let quant = ["q", "iq", "f16", "f32", "bf16"].iter().any(|p| tag.starts_with(p))
        && tag.chars().skip(1).any(|c| c.is_ascii_digit());
    if quant { tag } else { "gguf".to_owned() }
}

fn profile_evaluator(
    profiler: &Profiler,
    spec: &str,
    sizes: &[usize],
) -> Result<ProfileRecord, Box<dyn std::error::Error>> {
    let items = items(sizes.iter().copied().max().unwrap_or(1));
    let (kind, dir) = spec.split_once('=').map_or((spec, None), |(k, d)| (k, Some(d)));
    let label = |dir: &str| Path::new(dir).file_name().map_or(dir.to_owned(), |n| n.to_string_lossy().into_owned());
    // Each model lives only while it is profiled, so the next one's peak memory excludes it.
    let (mut record, name) = match (kind, dir) {
        ("sts", Some(dir)) => {
            let e = StsEvaluator::from_dir(dir)?;
            (profiler.profile_evaluator(&e, &Target::new("cpu", "f32"), &items, sizes)?, format!("sts:{}", label(dir)))
        }
        ("cross", Some(dir)) => {
            let e = CrossEncoder::from_dir(dir)?;
            (
                profiler.profile_evaluator(&e, &Target::new("cpu", "f32"), &items, sizes)?,
                format!("cross:{}", label(dir)),
            )
        }
        ("f1", None) => (
            profiler.profile_evaluator(&TokenF1, &Target::new("cpu", "none"), &items, sizes)?,
            TokenF1.name().to_owned(),
        ),
        _ => return Err(format!("--evaluator `{spec}`: expected sts=DIR, cross=DIR or f1").into()),
    };
    record.name = name;
    Ok(record)
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    if args.evaluator.is_empty() && args.generator.is_empty() {
        return Err("nothing to profile: pass --evaluator and/or --generator".into());
    }
    let config = ProfileConfig { warmup: args.warmup, repetitions: args.repetitions, ..ProfileConfig::default() };
    let profiler = Profiler::new(config)?;
    let sizes = powers_of_two(args.max_batch);
    let mut records = Vec::new();
    for spec in &args.evaluator {
        eprintln!("profiling evaluator {spec} at batch sizes {sizes:?}");
        records.push(profile_evaluator(&profiler, spec, &sizes)?);
    }
    for model in &args.generator {
        eprintln!("profiling generator {model}");
        let options = LoadOptions { gguf_precision: args.gguf, ..LoadOptions::default() };
        let path = Path::new(model);
        let dtype = if path.is_file() {
            match args.gguf {
                GgufPrecision::Dequantized => gguf_dtype(path),
                precision => format!("{} ({precision:?})", gguf_dtype(path)),
            }
        } else {
            "f32".to_owned()
        };
        let mut generator = LocalGenerator::load(model, &options)?;
        let prompts = prompts(args.prompts, args.max_new_tokens);
        records.push(profiler.profile_generator(&mut generator, &Target::new("cpu", dtype), &prompts)?);
    }
    let report = ProfileReport::new(records);
    println!("{}", report.markdown());
    report.write_json(&args.out)?;
    let csv = args.out.with_extension("csv");
    report.write_csv(&csv)?;
    eprintln!("wrote {} and {}", args.out.display(), csv.display());
    Ok(())
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
