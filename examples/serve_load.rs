//! Throughput of the inference-node server under concurrent clients: continuous batching.
//!
//! ```text
//! cargo run --release --no-default-features --features server --example serve_load -- \
//!     --model models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf
//! ```
//! Starts `serve_local` on 127.0.0.1 (port 0) in this process, then for each client count in
//! `--clients` (default 1 and 8) has every client send `--requests` streamed chat requests one
//! after the other (greedy, `--max-tokens` each, questions taken in turn from a fixed list, so
//! every phase asks the same questions). Prints generated tokens per second, requests per second,
//! the time to the first streamed token and the whole request's time (p50 and p95 from the
//! client's side), and each phase's speed-up over the first. It measures; it judges nothing.
//! Every request has a time limit and every phase a wall-time cap.

use clap::Parser;
use poq::infer::gguf::GgufPrecision;
use poq::infer::{LoadOptions, LocalGenerator, ServerConfig, serve_local};
use std::io::{BufRead, BufReader, Read};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(about = "Throughput of serve_local with 1 and 8 concurrent clients on loopback")]
struct Args {
    /// A .gguf file or a model folder.
    #[arg(long, default_value = "models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf")]
    model: String,
    /// Client counts, one phase each.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 8])]
    clients: Vec<usize>,
    /// Requests per client in each phase.
    #[arg(long, default_value_t = 4)]
    requests: usize,
    /// `max_tokens` of each request.
    #[arg(long, default_value_t = 64)]
    max_tokens: usize,
    /// Sequences the server decodes together.
    #[arg(long, default_value_t = 8)]
    max_batch: usize,
    /// How GGUF weights are multiplied: f32 (the default) or int8 (8-bit activations when
    /// decoding, llama.cpp's arithmetic; see the generate example's `--gguf`).
    #[arg(long, default_value = "f32")]
    gguf: GgufPrecision,
    /// Wall-time cap of one phase, seconds (clients stop sending after it).
    #[arg(long, default_value_t = 300)]
    phase_cap_s: u64,
}

const QUESTIONS: &[&str] = &[
    "What is the capital of France?",
    "Explain photosynthesis in one paragraph.",
    "Name three rivers in Europe and say where they flow.",
    "Why is the sky blue?",
    "Give two tips for writing clear emails.",
    "What does a compiler do?",
    "Describe the water cycle briefly.",
    "Who wrote Romeo and Juliet, and what is it about?",
];

/// One streamed request as the client saw it.
struct Sample {
    first_token: Duration,
    total: Duration,
    tokens: u64,
}

/// Sends one streamed request and reads it to the end.
fn ask(agent: &ureq::Agent, url: &str, question: &str, max_tokens: usize) -> Result<Sample, String> {
    let body = serde_json::json!({
        "messages": [{"role": "user", "content": question}],
        "max_tokens": max_tokens,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    let start = Instant::now();
    let resp =
        agent.post(url).header("content-type", "application/json").send(body.to_string()).map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(resp.into_body().into_reader().take(16 << 20));
    let (mut first_token, mut tokens, mut line) = (None, None, String::new());
    loop {
        line.clear();
        if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            return Err("the stream ended before [DONE]".into());
        }
        let Some(data) = line.trim().strip_prefix("data:").map(str::trim) else { continue };
        if data == "[DONE]" {
            break;
        }
        let v: serde_json::Value = serde_json::from_str(data).map_err(|e| e.to_string())?;
        if let Some(e) = v.get("error") {
            return Err(e.to_string());
        }
        if let Some(n) = v["usage"]["completion_tokens"].as_u64() {
            tokens = Some(n);
        }
        let content = v["choices"][0]["delta"]["content"].as_str().unwrap_or_default();
        if first_token.is_none() && !content.is_empty() {
            first_token = Some(start.elapsed());
        }
    }
    let total = start.elapsed();
    Ok(Sample { first_token: first_token.unwrap_or(total), total, tokens: tokens.ok_or("no usage chunk")? })
}

/// A client with a time limit per request.
fn agent(limit: Duration) -> ureq::Agent {
    ureq::Agent::config_builder().timeout_global(Some(limit)).build().into()
}

struct Phase {
    clients: usize,
    wall: Duration,
    samples: Vec<Sample>,
    errors: Vec<String>,
}

/// `clients` threads, each asking `requests` questions one after the other.
fn phase(url: &str, clients: usize, args: &Args) -> Phase {
    let cap = Duration::from_secs(args.phase_cap_s);
    let start = Instant::now();
    let results: Vec<Result<Sample, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                s.spawn(move || {
                    let agent = agent(Duration::from_secs(120));
                    let mut out = Vec::new();
                    for i in 0..args.requests {
                        if start.elapsed() > cap {
                            break;
                        }
                        let q = QUESTIONS[(c * args.requests + i) % QUESTIONS.len()];
                        out.push(ask(&agent, url, q, args.max_tokens));
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    let wall = start.elapsed();
    let (ok, errors): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
    Phase {
        clients,
        wall,
        samples: ok.into_iter().filter_map(Result::ok).collect(),
        errors: errors.into_iter().filter_map(Result::err).collect(),
    }
}

fn percentile(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    v.get(((v.len().max(1) - 1) as f64 * p).round() as usize).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Prints one phase; returns its generated tokens per second.
fn report(p: &Phase, base: Option<f64>) -> f64 {
    let tokens: u64 = p.samples.iter().map(|s| s.tokens).sum();
    let tps = tokens as f64 / p.wall.as_secs_f64();
    let ttft: Vec<Duration> = p.samples.iter().map(|s| s.first_token).collect();
    let total: Vec<Duration> = p.samples.iter().map(|s| s.total).collect();
    println!(
        "{:>2} clients: {:>3} requests ({} failed), {:>5} tokens in {:>6.1} s: {:>6.1} tok/s, {:>5.2} req/s; \
         first token p50 {:>6.0} ms p95 {:>6.0} ms; request p50 {:>6.0} ms p95 {:>6.0} ms{}",
        p.clients,
        p.samples.len(),
        p.errors.len(),
        tokens,
        p.wall.as_secs_f64(),
        tps,
        p.samples.len() as f64 / p.wall.as_secs_f64(),
        ms(percentile(ttft.clone(), 0.5)),
        ms(percentile(ttft, 0.95)),
        ms(percentile(total.clone(), 0.5)),
        ms(percentile(total, 0.95)),
        base.map(|b| format!("; {:.2}x the first phase's tok/s", tps / b)).unwrap_or_default(),
    );
    for e in p.errors.iter().take(3) {
        println!("    error: {e}");
    }
    tps
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let options = LoadOptions { gguf_precision: args.gguf, ..LoadOptions::default() };
    let generator = LocalGenerator::load(&args.model, &options)?.with_max_batch(args.max_batch);
    let most = args.clients.iter().copied().max().unwrap_or(1);
    let config = ServerConfig { max_queue: most.max(1) * 2, ..ServerConfig::default() };
    let server = serve_local("127.0.0.1:0".parse()?, generator, config)?;
    let url = format!("{}/chat/completions", server.base_url());
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!(
        "{} ({:?}): {} requests per client, max_tokens {}, batch {}, {threads} CPUs",
        args.model, args.gguf, args.requests, args.max_tokens, args.max_batch
    );
    ask(&agent(Duration::from_secs(60)), &url, QUESTIONS[0], 8)?; // warm-up: page in the weights
    let mut base = None;
    for &clients in &args.clients {
        let tps = report(&phase(&url, clients.max(1), args), base);
        base.get_or_insert(tps);
    }
    let metrics = ureq::get(&format!("http://{}/metrics", server.addr())).call()?.body_mut().read_to_string()?;
    let wanted = ["poq_requests_total", "poq_generated_tokens_total", "poq_time_per_output_token_seconds_sum"];
    for line in metrics.lines().filter(|l| wanted.iter().any(|w| l.starts_with(w))) {
        println!("    /metrics: {line}");
    }
    server.shutdown();
    Ok(())
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
