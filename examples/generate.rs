//! Generate an answer with a local model (a `.gguf` file, a model folder or, with poq-infer's
//! `hub` feature, a Hugging Face id) through its chat template.
//!
//! ```text
//! cargo run --release --example generate -- \
//!     --model models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf \
//!     --prompt "What is the capital of France?" --max-new-tokens 32 --json
//! ```
//! With `--json` the last line printed is
//! `{"text", "prompt_tokens", "generated_tokens", "prefill_ms", "decode_ms"}`.

use clap::Parser;
use poq::core::{ChatMessage, GenerationRequest, Generator, Sampling};
use poq::infer::gguf::GgufPrecision;
use poq::infer::{LoadOptions, LocalGenerator};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(about = "Generate an answer with a local chat model")]
struct Args {
    /// A .gguf file, a model folder, or (with the `hub` feature) a Hugging Face model id.
    #[arg(long)]
    model: String,
    /// The user message.
    #[arg(long)]
    prompt: String,
    /// An optional system message.
    #[arg(long)]
    system: Option<String>,
    /// Upper bound on generated tokens.
    #[arg(long, default_value_t = 64)]
    max_new_tokens: usize,
    /// Sampling temperature; 0 is greedy.
    #[arg(long, default_value_t = 0.0)]
    temperature: f64,
    /// Keep only the k most likely tokens.
    #[arg(long)]
    top_k: Option<usize>,
    /// Nucleus sampling mass.
    #[arg(long)]
    top_p: Option<f64>,
    /// Repetition penalty (1 is off).
    #[arg(long, default_value_t = 1.0)]
    repetition_penalty: f32,
    /// Seed of the sampler.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Stop strings (repeatable); they are not returned.
    #[arg(long)]
    stop: Vec<String>,
    /// A tokenizer.json to use instead of the one in the GGUF metadata.
    #[arg(long)]
    tokenizer: Option<PathBuf>,
    /// How GGUF weights are multiplied: f32 (f32 activations on the packed weights, the
    /// default), int8 (our kernels with llama.cpp-style 8-bit activations when decoding), q8_0
    /// (re-quantized at load, candle's kernels) or native (candle's kernels on the file's own
    /// quantization, 8-bit activations).
    #[arg(long, default_value = "f32")]
    gguf: GgufPrecision,
    /// Run on the CPU even when a GPU build finds a GPU.
    #[arg(long)]
    cpu: bool,
    /// Print the result as JSON on the last line.
    #[arg(long)]
    json: bool,
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut options = if args.cpu { LoadOptions::default() } else { LoadOptions::best()? };
    options.tokenizer = args.tokenizer.clone();
    options.gguf_precision = args.gguf;
    let mut generator = LocalGenerator::load(&args.model, &options)?;
    let mut messages = Vec::new();
    if let Some(s) = &args.system {
        messages.push(ChatMessage::system(s.clone()));
    }
    messages.push(ChatMessage::user(args.prompt.clone()));
    let request = GenerationRequest {
        messages,
        max_new_tokens: args.max_new_tokens,
        sampling: Sampling {
            temperature: args.temperature,
            top_k: args.top_k,
            top_p: args.top_p,
            repetition_penalty: args.repetition_penalty,
            seed: args.seed,
        },
        stop: args.stop.clone(),
    };
    let out = generator.generate(&request)?;
    if args.json {
        let line = serde_json::json!({
            "text": out.text,
            "prompt_tokens": out.prompt_tokens,
            "generated_tokens": out.generated_tokens,
            "prefill_ms": out.prefill.as_secs_f64() * 1e3,
            "decode_ms": out.decode.as_secs_f64() * 1e3,
        });
        println!("{line}");
    } else {
        println!("{}", out.text);
        eprintln!(
            "[{}] prompt {} tokens, prefill {:.1} ms; generated {} tokens, decode {:.1} ms ({:.1} tok/s); {:?}",
            generator.name(),
            out.prompt_tokens,
            out.prefill.as_secs_f64() * 1e3,
            out.generated_tokens,
            out.decode.as_secs_f64() * 1e3,
            out.decode_tokens_per_s().unwrap_or(0.0),
            out.finish_reason
        );
    }
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
