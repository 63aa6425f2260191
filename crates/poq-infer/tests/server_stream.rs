//! The node server over a local model (`serve_local`): tokens are streamed as they are decoded,
//! concurrent requests are decoded together and answered as they would be one by one, `/metrics`
//! counts what happened, and a client that leaves frees its slot. An in-process echo model makes
//! the timing checks exact; the real SmolLM2 GGUF repeats the equality check (skips when absent).
//! Everything binds 127.0.0.1 port 0; every wait is bounded.
#![cfg(feature = "server")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod echo;

use poq_infer::{LoadOptions, LocalGenerator, ServerConfig, ServerHandle, serve_local};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

fn start(g: LocalGenerator, config: ServerConfig) -> ServerHandle {
    serve_local("127.0.0.1:0".parse().unwrap(), g, config).unwrap()
}

fn request(prompt: &str, max_tokens: usize, stream: bool) -> Value {
    json!({
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "stream": stream,
        "stream_options": {"include_usage": true},
    })
}

/// A response read straight off the socket: status, headers, and the body's chunks as they come.
struct Http {
    reader: BufReader<TcpStream>,
    status: u16,
    headers: BTreeMap<String, String>,
    chunked: bool,
    /// Body bytes received and not yet split into events.
    pending: String,
}

impl Http {
    fn send(addr: SocketAddr, method: &str, path: &str, body: &str) -> Http {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(body.as_bytes()).unwrap();
        let mut reader = BufReader::new(s);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let status = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let mut headers = BTreeMap::new();
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            let Some((k, v)) = line.trim_end().split_once(':') else { break };
            headers.insert(k.to_ascii_lowercase(), v.trim().to_owned());
        }
        let chunked = headers.get("transfer-encoding").is_some_and(|v| v.contains("chunked"));
        Http { reader, status, headers, chunked, pending: String::new() }
    }

    fn post(addr: SocketAddr, body: &Value) -> Http {
        Http::send(addr, "POST", "/v1/chat/completions", &body.to_string())
    }

    /// The next body chunk, None at the end.
    fn chunk(&mut self) -> Option<String> {
        if !self.chunked {
            let mut rest = String::new();
            self.reader.read_to_string(&mut rest).ok()?;
            return (!rest.is_empty()).then_some(rest);
        }
        let mut size = String::new();
        self.reader.read_line(&mut size).ok()?;
        let n = usize::from_str_radix(size.trim(), 16).ok()?;
        if n == 0 {
            return None;
        }
        let mut data = vec![0; n + 2];
        self.reader.read_exact(&mut data).ok()?;
        data.truncate(n);
        Some(String::from_utf8(data).unwrap())
    }

    /// The next server-sent event's data and when it arrived; None at the end of the body.
    fn event(&mut self) -> Option<(Instant, String)> {
        loop {
            if let Some(i) = self.pending.find("\n\n") {
                let event: String = self.pending.drain(..i + 2).collect();
                let data = event.trim().strip_prefix("data:").expect("a data line").trim().to_owned();
                return Some((Instant::now(), data));
            }
            let c = self.chunk()?;
            self.pending.push_str(&c);
        }
    }

    fn body(mut self) -> String {
        let mut all = String::new();
        while let Some(c) = self.chunk() {
            all.push_str(&c);
        }
        all
    }

    fn json(self) -> Value {
        serde_json::from_str(&self.body()).unwrap()
    }
}

/// A streamed answer: each content piece with its arrival time, the finish reason, the usage.
#[derive(Debug)]
struct Streamed {
    pieces: Vec<(Instant, String)>,
    finish: String,
    usage: Value,
    done_at: Instant,
}

impl Streamed {
    fn text(&self) -> String {
        self.pieces.iter().map(|p| p.1.as_str()).collect()
    }
}

fn read_stream(mut h: Http) -> Streamed {
    assert_eq!(h.status, 200);
    assert_eq!(h.headers.get("content-type").map(String::as_str), Some("text/event-stream"));
    let (_, role) = h.event().unwrap();
    let role: Value = serde_json::from_str(&role).unwrap();
    assert_eq!(role["choices"][0]["delta"]["role"], "assistant");
    let (mut pieces, mut finish, mut usage) = (Vec::new(), None, Value::Null);
    loop {
        let (at, data) = h.event().expect("the stream ended before [DONE]");
        if data == "[DONE]" {
            return Streamed { pieces, finish: finish.expect("a finish chunk"), usage, done_at: at };
        }
        let v: Value = serde_json::from_str(&data).unwrap();
        assert!(v.get("error").is_none(), "error event: {v}");
        if let Some(u) = v.get("usage").filter(|u| !u.is_null()) {
            usage = u.clone();
            continue;
        }
        let choice = &v["choices"][0];
        if let Some(f) = choice["finish_reason"].as_str() {
            finish = Some(f.to_owned());
        } else if let Some(c) = choice["delta"]["content"].as_str() {
            assert!(!c.is_empty(), "empty content chunk");
            pieces.push((at, c.to_owned()));
        }
    }
}

/// `name{labels}` → value, from Prometheus' text format; every line must parse.
fn scrape(addr: SocketAddr) -> BTreeMap<String, f64> {
    let h = Http::send(addr, "GET", "/metrics", "");
    assert_eq!(h.status, 200);
    assert!(h.headers["content-type"].starts_with("text/plain; version=0.0.4"));
    let mut out = BTreeMap::new();
    for line in h.body().lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("bad line {line:?}"));
        let value = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        assert!(out.insert(key.to_owned(), value).is_none(), "duplicate {key}");
    }
    out
}

/// A histogram's buckets never decrease and end at its count.
fn check_histogram(m: &BTreeMap<String, f64>, name: &str) -> f64 {
    let buckets: Vec<(f64, f64)> = m
        .iter()
        .filter_map(|(k, v)| {
            let le = k.strip_prefix(&format!("{name}_bucket{{le=\""))?.strip_suffix("\"}")?;
            Some((if le == "+Inf" { f64::INFINITY } else { le.parse().unwrap() }, *v))
        })
        .collect();
    let mut sorted = buckets.clone();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(sorted.len() > 3, "{name} has buckets");
    assert!(sorted.windows(2).all(|w| w[0].1 <= w[1].1), "{name} buckets are cumulative: {sorted:?}");
    let count = m[&format!("{name}_count")];
    assert_eq!(sorted.last().unwrap(), &(f64::INFINITY, count));
    assert!(m[&format!("{name}_sum")] >= 0.0);
    count
}

/// Waits (bounded) until `/metrics` satisfies `ok`.
fn wait_for_metrics(addr: SocketAddr, ok: impl Fn(&BTreeMap<String, f64>) -> bool) -> BTreeMap<String, f64> {
    let t = Instant::now();
    loop {
        let m = scrape(addr);
        if ok(&m) {
            return m;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "metrics never got there: {m:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

const SENTENCE: &str = "Streaming sends each piece of the answer as soon as it is decoded: ünïcödé ✓ 日本語.";

#[test]
fn the_first_token_arrives_while_the_answer_is_still_being_generated() {
    let step = Duration::from_millis(15);
    let (g, log) = echo::generator(step, 4, true, 1024);
    let server = start(g, ServerConfig::default());
    let sent = Instant::now();
    let s = read_stream(Http::post(server.addr(), &request(SENTENCE, 200, true)));
    let last_step = log.lock().unwrap().last_step.unwrap();
    let (first_at, _) = s.pieces[0];
    // The client had its first piece before the model had decoded the last token, and the rest
    // kept coming for many steps after.
    assert!(first_at < last_step, "first piece at {:?}, last step at {:?}", first_at - sent, last_step - sent);
    assert!(s.done_at - first_at > step * 10, "first {:?} done {:?}", first_at - sent, s.done_at - sent);
    assert!(s.pieces.len() > 10, "{} pieces", s.pieces.len());
    assert!(s.pieces.windows(2).all(|w| w[0].0 <= w[1].0));
    assert_eq!(s.text(), SENTENCE);
    assert_eq!(s.finish, "stop");
    let tokens = echo::tokenizer().encode(SENTENCE, false).unwrap().len() as u64;
    assert_eq!(s.usage["completion_tokens"], tokens + 1, "the answer and EOS");
    assert_eq!(s.usage["prompt_tokens"], tokens);
    // The same request unstreamed gives the same answer.
    let v = Http::post(server.addr(), &request(SENTENCE, 200, false)).json();
    assert_eq!(v["choices"][0]["message"]["content"], SENTENCE);
    assert_eq!(v["usage"], s.usage);
    server.shutdown();
}

/// Prompts for the concurrency checks, with budgets that end some answers early.
fn mixed_requests(stream_every: usize) -> Vec<Value> {
    let prompts = [
        ("What is the capital of France?", 24),
        ("Name three colours.", 16),
        ("Write a word.", 12),
        ("Tell me about the sea in one sentence.", 20),
        ("Say hi.", 6),
        ("Count to five.", 18),
    ];
    prompts
        .iter()
        .enumerate()
        .map(|(i, (p, n))| {
            let mut r = request(p, *n, i % stream_every == 0);
            if i % 2 == 1 {
                r["temperature"] = json!(0.9);
                r["top_k"] = json!(40);
                r["seed"] = json!(100 + i);
            }
            r
        })
        .collect()
}

/// The text, finish reason and token counts of each request, answered from `clients` threads.
fn answers(addr: SocketAddr, requests: &[Value], clients: usize) -> Vec<(String, String, Value)> {
    let answer = |r: &Value| {
        let h = Http::post(addr, r);
        if r["stream"].as_bool().unwrap() {
            let s = read_stream(h);
            (s.text(), s.finish.clone(), s.usage.clone())
        } else {
            assert_eq!(h.status, 200);
            let v = h.json();
            let c = &v["choices"][0];
            (
                c["message"]["content"].as_str().unwrap().to_owned(),
                c["finish_reason"].as_str().unwrap().to_owned(),
                v["usage"].clone(),
            )
        }
    };
    if clients == 1 {
        return requests.iter().map(answer).collect();
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = requests.iter().map(|r| s.spawn(move || answer(r))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn concurrent_requests_get_the_answers_of_sequential_ones() {
    let (g, log) = echo::generator(Duration::from_millis(2), 4, true, 1024);
    let server = start(g, ServerConfig::default());
    let requests = mixed_requests(2);
    let one_by_one = answers(server.addr(), &requests, 1);
    assert!(log.lock().unwrap().widths.iter().all(|&w| w == 1));
    log.lock().unwrap().widths.clear();
    let together = answers(server.addr(), &requests, requests.len());
    assert_eq!(together, one_by_one);
    let widths = log.lock().unwrap().widths.clone();
    assert!(widths.iter().any(|&w| w > 1), "requests were decoded together: {widths:?}");
    assert!(widths.iter().all(|&w| w <= 4), "never more than the slots: {widths:?}");
    server.shutdown();
}

#[test]
fn smollm2_concurrent_requests_get_the_answers_of_sequential_ones() {
    let Some(p) = common::real_model("SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf") else { return };
    let g = LocalGenerator::load(p.to_str().unwrap(), &LoadOptions::default()).unwrap();
    let server = start(g.with_max_batch(4), ServerConfig::default());
    let requests = mixed_requests(3);
    let one_by_one = answers(server.addr(), &requests, 1);
    let together = answers(server.addr(), &requests, requests.len());
    assert_eq!(together, one_by_one);
    assert!(one_by_one[0].0.contains("Paris"), "{:?}", one_by_one[0]);
    server.shutdown();
}

#[test]
fn metrics_count_requests_tokens_and_latencies() {
    let (g, _) = echo::generator(Duration::from_millis(1), 4, true, 1024);
    let server = start(g, ServerConfig::default());
    let addr = server.addr();
    let before = scrape(addr);
    assert_eq!(before["poq_generated_tokens_total"], 0.0);
    assert_eq!(before["poq_request_duration_seconds_count"], 0.0);
    let mut usage = Vec::new();
    for (prompt, n) in [("one two three", 50), ("a longer prompt for the echo model", 5), ("ünï ✓", 50)] {
        usage.push(Http::post(addr, &request(prompt, n, false)).json()["usage"].clone());
    }
    usage.push(read_stream(Http::post(addr, &request("streamed one", 50, true))).usage);
    assert_eq!(Http::post(addr, &request("x", 0, false)).status, 400);
    let mut other = request("x", 4, false);
    other["model"] = json!("another-model");
    assert_eq!(Http::post(addr, &other).status, 404);

    let m = scrape(addr);
    assert_eq!(m["poq_requests_total{status=\"200\"}"], 4.0);
    assert_eq!(m["poq_requests_total{status=\"400\"}"], 1.0);
    assert_eq!(m["poq_requests_total{status=\"404\"}"], 1.0);
    let sum = |k: &str| usage.iter().map(|u| u[k].as_f64().unwrap()).sum::<f64>();
    assert_eq!(m["poq_generated_tokens_total"], sum("completion_tokens"));
    assert_eq!(m["poq_prompt_tokens_total"], sum("prompt_tokens"));
    assert_eq!(m["poq_queue_depth"], 0.0);
    assert_eq!(m["poq_running_sequences"], 0.0);
    assert_eq!(m["poq_cancelled_total"], 0.0);
    assert_eq!(check_histogram(&m, "poq_request_duration_seconds"), 4.0);
    assert_eq!(check_histogram(&m, "poq_time_to_first_token_seconds"), 4.0);
    // One interval between each two tokens of an answer.
    assert_eq!(check_histogram(&m, "poq_time_per_output_token_seconds"), sum("completion_tokens") - 4.0);
    // Time to first token never exceeds the whole request's time.
    assert!(m["poq_time_to_first_token_seconds_sum"] <= m["poq_request_duration_seconds_sum"]);
    server.shutdown();
}

/// A long answer: about `tokens` tokens of echo.
fn long_prompt(tokens: usize) -> String {
    let word_tokens = echo::tokenizer().encode(" alpha", false).unwrap().len();
    " alpha".repeat(tokens / word_tokens)
}

#[test]
fn a_client_that_disconnects_frees_its_slot() {
    // One slot, 10 ms a step: the abandoned answer would hold it for 4 s.
    let (g, log) = echo::generator(Duration::from_millis(10), 1, true, 2048);
    let server = start(g, ServerConfig::default());
    let addr = server.addr();
    let mut h = Http::post(addr, &request(&long_prompt(400), 1000, true));
    h.event().unwrap(); // role
    h.event().unwrap(); // first content
    wait_for_metrics(addr, |m| m["poq_running_sequences"] == 1.0);
    drop(h);
    let m = wait_for_metrics(addr, |m| m["poq_running_sequences"] == 0.0);
    assert_eq!(m["poq_cancelled_total"], 1.0);
    let steps_at_cancel = log.lock().unwrap().widths.len();
    assert!(steps_at_cancel < 200, "cancelled after {steps_at_cancel} of 400 steps");
    // The slot is free: a new request is served at once, and the abandoned one never resumes.
    let t = Instant::now();
    let v = Http::post(addr, &request("next", 10, false)).json();
    assert_eq!(v["choices"][0]["message"]["content"], "next");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    let steps = log.lock().unwrap().widths.len();
    assert!(steps <= steps_at_cancel + 4, "{steps_at_cancel} steps at cancel, {steps} after");
    server.shutdown();
}

#[test]
fn the_deadline_cancels_the_generation_and_answers_504() {
    let (g, _) = echo::generator(Duration::from_millis(10), 2, true, 2048);
    let config = ServerConfig { request_timeout: Duration::from_millis(300), ..Default::default() };
    let server = start(g, config);
    let addr = server.addr();
    let h = Http::post(addr, &request(&long_prompt(300), 1000, false));
    assert_eq!(h.status, 504);
    assert_eq!(h.json()["error"]["code"], "timeout");
    // A stream already started ends with an error event instead of [DONE].
    let mut h = Http::post(addr, &request(&long_prompt(300), 1000, true));
    assert_eq!(h.status, 200);
    let mut last = String::new();
    while let Some((_, data)) = h.event() {
        last = data;
    }
    let v: Value = serde_json::from_str(&last).unwrap();
    assert_eq!(v["error"]["code"], "timeout", "{last}");
    let m = wait_for_metrics(addr, |m| m["poq_running_sequences"] == 0.0);
    assert_eq!(m["poq_cancelled_total"], 2.0);
    assert_eq!(m["poq_requests_total{status=\"504\"}"], 1.0);
    server.shutdown();
}

#[test]
fn admission_limits_and_bad_prompts_keep_their_status() {
    let (g, _) = echo::generator(Duration::from_millis(30), 1, true, 64);
    let server = start(g, ServerConfig { max_queue: 2, ..Default::default() });
    let addr = server.addr();
    // A prompt past the context is refused before any header goes out, streamed or not.
    for stream in [false, true] {
        let h = Http::post(addr, &request(&"word ".repeat(100), 4, stream));
        assert_eq!(h.status, 400, "stream {stream}");
        let v = h.json();
        assert!(v["error"]["message"].as_str().unwrap().contains("context"), "{v}");
    }
    // Two admitted (one running, one queued): the third gets 503 with Retry-After.
    let mut a = Http::post(addr, &request(&long_prompt(28), 30, true));
    a.event().unwrap();
    let b = std::thread::spawn(move || Http::post(addr, &request("queued answer", 40, false)).json());
    wait_for_metrics(addr, |m| m["poq_queue_depth"] == 1.0);
    let c = Http::post(addr, &request("refused", 4, false));
    assert_eq!(c.status, 503);
    assert_eq!(c.headers.get("retry-after").map(String::as_str), Some("1"));
    assert_eq!(c.json()["error"]["code"], "overloaded");
    while a.event().is_some() {}
    assert_eq!(b.join().unwrap()["choices"][0]["message"]["content"], "queued answer");
    server.shutdown();
}

/// A generator without streaming: five tokens of fixed text after `delay`.
struct Whole {
    delay: Duration,
}

impl poq_core::Generator for Whole {
    fn name(&self) -> &str {
        "whole"
    }

    fn generate(&mut self, r: &poq_core::GenerationRequest) -> poq_core::Result<poq_core::Generation> {
        std::thread::sleep(self.delay);
        Ok(poq_core::Generation {
            text: "one two three four five".into(),
            prompt_tokens: r.messages.len() * 3,
            generated_tokens: 5,
            prefill: self.delay / 2,
            decode: self.delay / 2,
            finish_reason: poq_core::FinishReason::Stop,
        })
    }
}

#[test]
fn any_generator_served_whole_has_metrics_too() {
    let config = ServerConfig { request_timeout: Duration::from_millis(150), ..Default::default() };
    let server =
        poq_infer::serve("127.0.0.1:0".parse().unwrap(), Box::new(Whole { delay: Duration::from_millis(100) }), config)
            .unwrap();
    let addr = server.addr();
    assert_eq!(Http::post(addr, &request("hi", 8, false)).status, 200);
    assert_eq!(read_stream(Http::post(addr, &request("hi", 8, true))).text(), "one two three four five");
    // Two at once: the second waits for the first past its deadline (504) and leaves the queue.
    let first = std::thread::spawn(move || Http::post(addr, &request("hi", 8, false)).status);
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(Http::post(addr, &request("hi", 8, false)).status, 504);
    assert_eq!(first.join().unwrap(), 200);
    let m = wait_for_metrics(addr, |m| m["poq_running_sequences"] == 0.0);
    assert_eq!(m["poq_requests_total{status=\"200\"}"], 3.0);
    assert_eq!(m["poq_requests_total{status=\"504\"}"], 1.0);
    assert_eq!(m["poq_queue_depth"], 0.0);
    // The timed-out request still ran once the lock was free: its tokens count, it is no answer.
    assert_eq!(m["poq_generated_tokens_total"], 20.0);
    assert_eq!(check_histogram(&m, "poq_request_duration_seconds"), 4.0);
    assert_eq!(check_histogram(&m, "poq_time_per_output_token_seconds"), 16.0);
    server.shutdown();
}
