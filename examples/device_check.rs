//! Checks a GPU build (`--features cuda` or `metal`) on the machine it runs on: parity of the tiny
//! committed checkpoints against their transformers / sentence-transformers fixtures on the best
//! device, and encoder and decoder throughput there. `scripts/gpu/check.sh` runs every step beside
//! the Python references; each step prints one JSON line.
//!
//! ```text
//! cargo run --release --features cuda --example device_check -- parity
//! cargo run --release --features cuda --example device_check -- sts --model DIR --sentences FILE
//! cargo run --release --features cuda --example device_check -- decode --model DIR --dtype bf16
//! ```

use clap::{Parser, Subcommand};
use poq::core::Sampling;
use poq::eval::{CrossEncoder, DeviceChoice, ModelDir, StsEvaluator};
use poq::infer::{LoadOptions, LocalGenerator, best_device};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(Debug, Parser)]
#[command(about = "Parity and throughput of this build on its best device")]
struct Args {
    #[command(subcommand)]
    step: Step,
}

#[derive(Debug, Subcommand)]
enum Step {
    /// The tiny generator and encoder checkpoints against their committed reference outputs.
    Parity,
    /// Sentence-encoder throughput; writes the embeddings of the first 64 sentences.
    Sts {
        /// A sentence-transformers folder.
        #[arg(long)]
        model: PathBuf,
        /// One sentence per line.
        #[arg(long)]
        sentences: PathBuf,
        /// Where the first 64 embeddings go (JSON).
        #[arg(long)]
        out: PathBuf,
    },
    /// Prefill and greedy-decode throughput of a causal LM folder; writes the prompt logits.
    Decode {
        /// A safetensors model folder.
        #[arg(long)]
        model: PathBuf,
        /// f32, bf16 or f16.
        #[arg(long, default_value = "bf16")]
        dtype: String,
        /// Tokens to generate.
        #[arg(long, default_value_t = 128)]
        tokens: usize,
        /// Where the prompt ids, logits and greedy ids go (JSON).
        #[arg(long)]
        out: PathBuf,
    },
}

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    let args = Args::parse();
    let run = match args.step {
        Step::Parity => parity(),
        Step::Sts { model, sentences, out } => sts(&model, &sentences, &out),
        Step::Decode { model, dtype, tokens, out } => decode(&model, &dtype, tokens, &out),
    };
    match run {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn read_json(path: &Path) -> Res<Value> {
    Ok(serde_json::from_str(&std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?)?)
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().map(|a| a.iter().filter_map(Value::as_f64).collect()).unwrap_or_default()
}

/// The largest difference over rows of `got` and the JSON rows `want` (∞ when the counts differ).
fn max_rows_diff(got: &[Vec<f32>], want: &Value) -> f64 {
    let want = want.as_array().map(Vec::as_slice).unwrap_or_default();
    if got.len() != want.len() {
        return f64::INFINITY;
    }
    got.iter().zip(want).map(|(g, w)| max_abs_diff(g, &floats(w))).fold(0.0, f64::max)
}

fn max_abs_diff(got: &[f32], want: &[f64]) -> f64 {
    if got.len() != want.len() {
        return f64::INFINITY;
    }
    got.iter().zip(want).map(|(g, w)| (f64::from(*g) - w).abs()).fold(0.0, f64::max)
}

/// One JSON line per checkpoint and precision; false when an f32 result is off.
fn parity() -> Res<bool> {
    let device = best_device()?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates");
    let mut ok = true;
    for family in ["llama", "qwen2", "gemma2", "phi3"] {
        let dir = root.join("poq-infer/tests/fixtures/tiny").join(family);
        let ex = read_json(&dir.join("expected.json"))?;
        let prompt: Vec<u32> = serde_json::from_value(ex["prompt_ids"].clone())?;
        let want_ids: Vec<u32> = serde_json::from_value(ex["greedy_ids"].clone())?;
        for dtype in [candle_core::DType::F32, candle_core::DType::BF16] {
            let options = LoadOptions { device: device.clone(), dtype: Some(dtype), ..LoadOptions::default() };
            let mut g = LocalGenerator::load(&dir.to_string_lossy(), &options)?;
            let diff = max_abs_diff(&g.prompt_logits(&prompt)?, &floats(&ex["first_logits"]));
            let ids =
                g.generate_tokens(&prompt, want_ids.len(), &Sampling::default(), false, &mut |_| Ok(false))?.tokens;
            let same = ids.iter().zip(&want_ids).take_while(|(a, b)| a == b).count();
            let pass = dtype != candle_core::DType::F32 || (diff < 1e-3 && same == want_ids.len());
            ok &= pass;
            let line = json!({"check": "generator", "model": family, "dtype": format!("{dtype:?}"),
                "device": format!("{device:?}"), "max_logit_diff": diff, "greedy_ids_matching": same,
                "greedy_ids": want_ids.len(), "pass": pass});
            println!("{line}");
        }
    }
    let tiny = root.join("poq-eval/tests/fixtures/tiny");
    let expected = read_json(&tiny.join("expected.json"))?;
    for model in ["bert-cls", "roberta-cls", "deberta-nli"] {
        let e = &expected[model];
        let pairs: Vec<(String, String)> = serde_json::from_value(e["pairs"].clone())?;
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let ce = CrossEncoder::load(&ModelDir::open(tiny.join(model))?, DeviceChoice::Best)?.with_batch_size(3);
        let diff = max_rows_diff(&ce.logits(&refs)?, &e["logits"]);
        let pass = diff < 1e-4;
        ok &= pass;
        println!("{}", json!({"check": "cross_encoder", "model": model, "max_logit_diff": diff, "pass": pass}));
    }
    let e = &expected["roberta-st"];
    let sentences: Vec<String> = serde_json::from_value(e["sentences"].clone())?;
    let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let sts = StsEvaluator::load(&ModelDir::open(tiny.join("roberta-st"))?, DeviceChoice::Best)?.with_batch_size(4);
    let diff = max_rows_diff(&sts.embed(&refs)?, &e["embeddings"]);
    let pass = diff < 1e-4;
    ok &= pass;
    println!("{}", json!({"check": "sentence_encoder", "model": "roberta-st", "max_diff": diff, "pass": pass}));
    Ok(ok)
}

/// Sentences per second at two batch sizes, after one warm-up pass.
fn sts(model: &Path, sentences: &Path, out: &Path) -> Res<bool> {
    let text = std::fs::read_to_string(sentences).map_err(|e| format!("{}: {e}", sentences.display()))?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let dir = ModelDir::open(model)?;
    for batch in [32, 128] {
        let sts = StsEvaluator::load(&dir, DeviceChoice::Best)?.with_batch_size(batch);
        sts.embed(&lines[..lines.len().min(2 * batch)])?;
        let start = Instant::now();
        let emb = sts.embed(&lines)?;
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{}",
            json!({"check": "sts_throughput", "batch": batch, "sentences": lines.len(),
            "seconds": secs, "sentences_per_s": lines.len() as f64 / secs})
        );
        if batch == 32 {
            let first: Vec<&Vec<f32>> = emb.iter().take(64).collect();
            std::fs::write(out, serde_json::to_string(&first)?)?;
        }
    }
    Ok(true)
}

/// Prompt logits (for parity with the reference) and decode tokens per second.
fn decode(model: &Path, dtype: &str, tokens: usize, out: &Path) -> Res<bool> {
    let dtype = match dtype {
        "f32" => candle_core::DType::F32,
        "bf16" => candle_core::DType::BF16,
        "f16" => candle_core::DType::F16,
        other => return Err(format!("--dtype {other}: expected f32, bf16 or f16").into()),
    };
    let options = LoadOptions { device: best_device()?, dtype: Some(dtype), ..LoadOptions::default() };
    let mut g = LocalGenerator::load(&model.to_string_lossy(), &options)?;
    // Fixed ids under every vocabulary: the check is about arithmetic, not text.
    let prompt: Vec<u32> = (0..64u32).map(|i| 3 + (i * 37) % 300).collect();
    let logits = g.prompt_logits(&prompt)?;
    g.generate_tokens(&prompt, 8, &Sampling::default(), false, &mut |_| Ok(false))?;
    let run = g.generate_tokens(&prompt, tokens, &Sampling::default(), false, &mut |_| Ok(false))?;
    let decode_s = run.decode.as_secs_f64();
    println!(
        "{}",
        json!({"check": "decode_throughput", "dtype": format!("{dtype:?}"), "prompt_tokens": prompt.len(),
        "prefill_ms": run.prefill.as_secs_f64() * 1e3, "generated": run.tokens.len(),
        "decode_tokens_per_s": (run.tokens.len().saturating_sub(1)) as f64 / decode_s})
    );
    std::fs::write(
        out,
        serde_json::to_string(&json!({"prompt_ids": prompt, "logits": logits, "greedy_ids": run.tokens}))?,
    )?;
    Ok(true)
}
