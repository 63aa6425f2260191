//! Serve a local chat model as a PoQ inference node on an OpenAI-compatible API.
//!
//! ```text
//! cargo run --release --example serve -- \
//!     --model models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf --addr 127.0.0.1:8080
//! curl -s http://127.0.0.1:8080/v1/chat/completions -H 'content-type: application/json' \
//!     -d '{"messages":[{"role":"user","content":"What is the capital of France?"}],"max_tokens":32}'
//! ```
//! Routes: `POST /v1/chat/completions` (JSON or `"stream": true` server-sent events, sent as the
//! tokens are decoded), `GET /v1/models`, `GET /health`, `GET /metrics` (Prometheus text).
//! Concurrent requests are decoded together (continuous batching, up to `--max-batch` at once for
//! GGUF models; one at a time for the others). A `poq_infer::RemoteGenerator` with base URL
//! `http://ADDR/v1` talks to it. Requests naming another model than `--model-id` (by default the
//! model's file or folder name) get 404 unless `--accept-any-model`. Stop with Ctrl-C.

use clap::Parser;
use poq::infer::gguf::GgufPrecision;
use poq::infer::{DEFAULT_MAX_BATCH, LoadOptions, LocalGenerator, ServerConfig, serve_local};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(about = "Serve a local chat model on an OpenAI-compatible /v1/chat/completions")]
struct Args {
    /// A .gguf file, a model folder, or (with the `hub` feature) a Hugging Face model id.
    #[arg(long)]
    model: String,
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// The model id clients name (default: the generator's name).
    #[arg(long)]
    model_id: Option<String>,
    /// Serve requests that name any model.
    #[arg(long)]
    accept_any_model: bool,
    /// A tokenizer.json to use instead of the one in the GGUF metadata.
    #[arg(long)]
    tokenizer: Option<PathBuf>,
    /// How GGUF weights are multiplied: f32, int8 (8-bit activations when decoding: much faster
    /// batches on AVX-512 VNNI, llama.cpp's arithmetic), q8_0 or native (see the generate
    /// example).
    #[arg(long, default_value = "f32")]
    gguf: GgufPrecision,
    /// Run on the CPU even when a GPU build finds a GPU.
    #[arg(long)]
    cpu: bool,
    /// Requests admitted at once (running plus waiting); more get 503.
    #[arg(long, default_value_t = 16)]
    max_queue: usize,
    /// Seconds from admission to answer; longer gets 504.
    #[arg(long, default_value_t = 300)]
    request_timeout_s: u64,
    /// Largest request body in bytes; larger gets 413.
    #[arg(long, default_value_t = 1 << 20)]
    max_body_bytes: usize,
    /// `max_tokens` when a request has none.
    #[arg(long, default_value_t = 256)]
    default_max_tokens: usize,
    /// Sequences decoded together at most (models that decode one at a time take one).
    #[arg(long, default_value_t = DEFAULT_MAX_BATCH)]
    max_batch: usize,
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut options = if args.cpu { LoadOptions::default() } else { LoadOptions::best()? };
    options.tokenizer = args.tokenizer.clone();
    options.gguf_precision = args.gguf;
    let generator = LocalGenerator::load(&args.model, &options)?.with_max_batch(args.max_batch);
    let config = ServerConfig {
        model_id: args.model_id,
        accept_any_model: args.accept_any_model,
        max_queue: args.max_queue,
        request_timeout: Duration::from_secs(args.request_timeout_s),
        max_body_bytes: args.max_body_bytes,
        default_max_tokens: args.default_max_tokens,
        ..ServerConfig::default()
    };
    let server = serve_local(args.addr, generator, config)?;
    eprintln!("serving {} on http://{} (OpenAI base URL {})", args.model, server.addr(), server.base_url());
    server.wait();
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
