//! A bounded load test of the node server on loopback (ignored by default; it measures, it does not
//! judge speed). Run it with `scripts/bench/load_server.sh` or
//! `cargo test --release -p poq-infer --test server_load -- --ignored --nocapture`.
//!
//! Knobs (environment): `POQ_LOAD_REQUESTS` (default 4000 per phase), `POQ_LOAD_CONCURRENCY`
//! (default 16), `POQ_LOAD_SECONDS` (default 20, a hard cap per phase).
#![cfg(feature = "server")]
// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use poq_core::{FinishReason, Generation, GenerationRequest, Generator};
use poq_infer::{RemoteConfig, RemoteGenerator, ServerConfig, serve};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Answers a fixed 8-token text after `work` of busy time: the server's own overhead is what is
/// measured when `work` is zero.
struct Fixed {
    work: Duration,
}

impl Generator for Fixed {
    fn name(&self) -> &str {
        "fixed"
    }
    fn generate(&mut self, r: &GenerationRequest) -> poq_core::Result<Generation> {
        let t = Instant::now();
        while t.elapsed() < self.work {
            std::hint::spin_loop();
        }
        Ok(Generation {
            text: "one two three four five six seven eight".into(),
            prompt_tokens: r.messages.iter().map(|m| m.content.split_whitespace().count()).sum(),
            generated_tokens: 8,
            prefill: self.work / 2,
            decode: self.work / 2,
            finish_reason: FinishReason::Stop,
        })
    }
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Outcome {
    ok: usize,
    busy: usize,
    other: usize,
    wall: Duration,
    latencies: Vec<Duration>,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn rss_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// Sends `total` requests from `concurrency` threads (each with a keep-alive agent), stopping at
/// the time cap.
fn run(url: &str, body: &'static str, total: usize, concurrency: usize, cap: Duration) -> Outcome {
    let next = Arc::new(AtomicUsize::new(0));
    let results = Arc::new(Mutex::new(Vec::with_capacity(total)));
    let start = Instant::now();
    let threads: Vec<_> = (0..concurrency)
        .map(|_| {
            let (next, results, url) = (next.clone(), results.clone(), url.to_owned());
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(10)))
                    .build()
                    .into();
                let mut mine = Vec::new();
                while next.fetch_add(1, Ordering::Relaxed) < total && start.elapsed() < cap {
                    let t = Instant::now();
                    let status = match agent.post(&url).header("content-type", "application/json").send(body) {
                        Ok(mut r) => {
                            let _ = r.body_mut().read_to_vec();
                            r.status().as_u16()
                        }
                        Err(_) => 0,
                    };
                    mine.push((status, t.elapsed()));
                }
                results.lock().unwrap().extend(mine);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let wall = start.elapsed();
    let results = std::mem::take(&mut *results.lock().unwrap());
    let mut latencies: Vec<Duration> = results.iter().filter(|r| r.0 == 200).map(|r| r.1).collect();
    latencies.sort();
    Outcome {
        ok: latencies.len(),
        busy: results.iter().filter(|r| r.0 == 503).count(),
        other: results.iter().filter(|r| r.0 != 200 && r.0 != 503).count(),
        wall,
        latencies,
    }
}

fn report(name: &str, o: &Outcome) {
    let rps = o.ok as f64 / o.wall.as_secs_f64();
    println!(
        "{name:<28} ok {:>6}  503 {:>5}  other {:>3}  {:>8.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
        o.ok,
        o.busy,
        o.other,
        rps,
        percentile(&o.latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&o.latencies, 0.99).as_secs_f64() * 1e3,
        o.latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

const PLAIN: &str =
    r#"{"model":"fixed","messages":[{"role":"user","content":"what is the capital of France"}],"max_tokens":8}"#;
const STREAM: &str = r#"{"model":"fixed","messages":[{"role":"user","content":"what is the capital of France"}],"max_tokens":8,"stream":true,"stream_options":{"include_usage":true}}"#;

#[test]
#[ignore = "load test: run explicitly with --ignored --nocapture"]
fn load_loopback() {
    let total = env("POQ_LOAD_REQUESTS", 4000) as usize;
    let concurrency = env("POQ_LOAD_CONCURRENCY", 16) as usize;
    let cap = Duration::from_secs(env("POQ_LOAD_SECONDS", 20));
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!("load test: {total} requests per phase, {concurrency} clients, cap {cap:?}, {threads} CPUs");
    let rss0 = rss_kb();

    // Server overhead: a generator that takes no time, a queue that never fills.
    let cfg = ServerConfig { max_queue: concurrency * 2, ..ServerConfig::default() };
    let server = serve("127.0.0.1:0".parse().unwrap(), Box::new(Fixed { work: Duration::ZERO }), cfg).unwrap();
    let url = format!("{}/chat/completions", server.base_url());
    let warm = run(&url, PLAIN, 200, concurrency, cap);
    assert_eq!(warm.ok, 200);
    let plain = run(&url, PLAIN, total, concurrency, cap);
    report("json, 0 ms generator", &plain);
    assert_eq!(plain.busy + plain.other, 0);
    let stream = run(&url, STREAM, total, concurrency, cap);
    report("sse, 0 ms generator", &stream);
    assert_eq!(stream.busy + stream.other, 0);

    // Through the RemoteGenerator client (one client, sequential): its own overhead.
    let mut remote = RemoteGenerator::new(RemoteConfig::new(server.base_url(), "fixed")).unwrap();
    let n = (total / 4).max(1);
    let mut lat = Vec::with_capacity(n);
    let t = Instant::now();
    for _ in 0..n {
        let s = Instant::now();
        remote.generate(&GenerationRequest::user("what is the capital of France", 8)).unwrap();
        lat.push(s.elapsed());
        if t.elapsed() > cap {
            break;
        }
    }
    lat.sort();
    report(
        "RemoteGenerator sse, 1 client",
        &Outcome { ok: lat.len(), busy: 0, other: 0, wall: t.elapsed(), latencies: lat },
    );
    server.shutdown();

    // Overload: 4x more clients than admission slots, each generation 2 ms of busy work.
    let cfg = ServerConfig { max_queue: 8, ..ServerConfig::default() };
    let server =
        serve("127.0.0.1:0".parse().unwrap(), Box::new(Fixed { work: Duration::from_millis(2) }), cfg).unwrap();
    let url = format!("{}/chat/completions", server.base_url());
    let over = run(&url, PLAIN, total, 32, cap);
    report("overload: 32 clients, queue 8", &over);
    assert_eq!(over.other, 0, "only 200 and 503 under overload");
    assert!(over.ok > 0);
    let after = run(&url, PLAIN, 50, 1, cap);
    assert_eq!(after.ok, 50, "the server serves normally after overload");
    server.shutdown();
    if let (Some(a), Some(b)) = (rss0, rss_kb()) {
        println!("process RSS: {a} kB before, {b} kB after all phases");
    }
}
