//! poq-infer alone: answer a question with SmolLM2-135M-Instruct (a 4-bit GGUF file) on the CPU.
//!
//! `cargo run --release --example infer_generate` (the model: `cargo run --release --example fetch`)

use std::path::Path;

use poq_core::{GenerationRequest, Generator};
use poq_infer::{LoadOptions, LocalGenerator};

const MODEL: &str = "models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if !Path::new(MODEL).is_file() {
        return Err(format!("{MODEL} is missing: fetch it with `cargo run --release --example fetch`").into());
    }
    // The file carries its tokenizer and chat template; the options pick the CPU.
    let mut generator = LocalGenerator::load(MODEL, &LoadOptions::default())?;
    // One user message, at most 32 new tokens, greedy decoding (the request's default).
    let out = generator.generate(&GenerationRequest::user("What is the capital of France?", 32))?;
    println!("{}", out.text.trim());
    // What a node's cost is computed from: tokens and the time spent on them.
    println!(
        "{} prompt tokens in {:.1?}, {} new tokens in {:.1?}",
        out.prompt_tokens, out.prefill, out.generated_tokens, out.decode
    );
    Ok(())
}
