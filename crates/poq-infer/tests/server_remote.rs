//! The remote generator against the node server on loopback, and the server's hardening against
//! hostile clients. Everything binds 127.0.0.1 port 0; every wait is bounded.
#![cfg(feature = "server")]
// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use poq_core::{FinishReason, Generation, GenerationRequest, Generator};
use poq_infer::{Error, RemoteConfig, RemoteGenerator, ServerHandle, serve};
use poq_infer::{ServerConfig, parse_chat_request};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A deterministic test generator: answers "echo:" and the words of the last message, one word per
/// token, up to `max_new_tokens`; sleeps `delay` first; fails its first `fail_first` calls.
struct Scripted {
    delay: Duration,
    fail_first: usize,
    calls: Arc<AtomicUsize>,
    last: Arc<Mutex<Option<GenerationRequest>>>,
}

impl Scripted {
    fn new(delay: Duration) -> Self {
        Scripted { delay, fail_first: 0, calls: Arc::default(), last: Arc::default() }
    }
}

impl Generator for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }

    fn generate(&mut self, request: &GenerationRequest) -> poq_core::Result<Generation> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        *self.last.lock().unwrap() = Some(request.clone());
        if n < self.fail_first {
            return Err(poq_core::Error::backend("scripted", std::io::Error::other(format!("scripted failure {n}"))));
        }
        std::thread::sleep(self.delay);
        let prompt: Vec<&str> = request.messages.iter().flat_map(|m| m.content.split_whitespace()).collect();
        let last = request.messages.last().map(|m| m.content.as_str()).unwrap_or("");
        let words: Vec<&str> = std::iter::once("echo:").chain(last.split_whitespace()).collect();
        let taken = words.len().min(request.max_new_tokens);
        Ok(Generation {
            text: words[..taken].join(" "),
            prompt_tokens: prompt.len(),
            generated_tokens: taken,
            prefill: self.delay / 2,
            decode: self.delay / 2,
            finish_reason: if taken < words.len() { FinishReason::Length } else { FinishReason::Stop },
        })
    }
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn start(g: Scripted, config: ServerConfig) -> ServerHandle {
    serve(loopback(), Box::new(g), config).unwrap()
}

fn client(server: &ServerHandle, stream: bool) -> RemoteConfig {
    let mut c = RemoteConfig::new(server.base_url(), "scripted");
    c.stream = stream;
    c.connect_timeout = Duration::from_secs(2);
    c.read_timeout = Duration::from_secs(10);
    c.total_timeout = Duration::from_secs(20);
    c.initial_backoff = Duration::from_millis(10);
    c.max_backoff = Duration::from_millis(50);
    c
}

/// The poq-infer error inside a generator's poq-core error.
fn infer_error(e: &poq_core::Error) -> &Error {
    match e {
        poq_core::Error::Backend { source, .. } => source.downcast_ref::<Error>().expect("a poq-infer error"),
        other => panic!("not a backend error: {other}"),
    }
}

/// Sends raw bytes, reads until the server closes (bounded), returns status and body.
fn raw(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    parse_http(&out)
}

fn parse_http(out: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(out).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

fn post(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn health(addr: SocketAddr) -> u16 {
    raw(addr, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").0
}

const HELLO: &str = r#"{"model":"scripted","messages":[{"role":"user","content":"hello there"}]}"#;

#[test]
fn streamed_generation_comes_through_with_counts_and_timings() {
    let g = Scripted::new(Duration::from_millis(40));
    let last = g.last.clone();
    let server = start(g, ServerConfig::default());
    let mut remote = RemoteGenerator::new(client(&server, true)).unwrap();
    let mut req = GenerationRequest::user("the capital of France is Paris", 4);
    req.sampling.temperature = 0.5;
    req.sampling.seed = 7;
    req.stop = vec!["\n\n".into()];
    let out = remote.generate(&req).unwrap();
    assert_eq!(out.text, "echo: the capital of");
    assert_eq!(out.prompt_tokens, 6);
    assert_eq!(out.generated_tokens, 4);
    assert_eq!(out.finish_reason, FinishReason::Length);
    assert!(out.prefill >= Duration::from_millis(40), "time to first token {:?}", out.prefill);
    assert!(out.latency() >= out.prefill);
    assert_eq!(remote.last_attempts(), 1);
    // What the generator saw is what the client asked for.
    let seen = last.lock().unwrap().clone().unwrap();
    assert_eq!(seen, req);
    server.shutdown();
}

#[test]
fn non_streamed_generation_comes_through() {
    let server = start(Scripted::new(Duration::from_millis(20)), ServerConfig::default());
    let mut remote = RemoteGenerator::new(client(&server, false)).unwrap();
    let out = remote.generate(&GenerationRequest::user("short", 16)).unwrap();
    assert_eq!(out.text, "echo: short");
    assert_eq!((out.prompt_tokens, out.generated_tokens), (1, 2));
    assert_eq!(out.finish_reason, FinishReason::Stop);
    assert!(out.prefill >= Duration::from_millis(20));
    assert_eq!(out.decode, Duration::ZERO);
    server.shutdown();
}

#[test]
fn server_error_is_typed_after_counted_retries() {
    let mut g = Scripted::new(Duration::ZERO);
    g.fail_first = usize::MAX;
    let calls = g.calls.clone();
    let server = start(g, ServerConfig::default());
    let mut cfg = client(&server, true);
    cfg.max_retries = 2;
    let mut remote = RemoteGenerator::new(cfg).unwrap();
    let e = remote.generate(&GenerationRequest::user("x", 4)).unwrap_err();
    match infer_error(&e) {
        Error::HttpStatus { status: 500, body, .. } => assert!(body.contains("scripted failure"), "{body}"),
        other => panic!("expected HTTP 500, got {other}"),
    }
    assert_eq!(remote.last_attempts(), 3);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(health(server.addr()), 200);
    server.shutdown();
}

#[test]
fn retries_recover_from_transient_failures() {
    let mut g = Scripted::new(Duration::ZERO);
    g.fail_first = 2;
    let calls = g.calls.clone();
    let server = start(g, ServerConfig::default());
    let mut remote = RemoteGenerator::new(client(&server, false)).unwrap();
    let out = remote.generate(&GenerationRequest::user("again", 8)).unwrap();
    assert_eq!(out.text, "echo: again");
    assert_eq!(remote.last_attempts(), 3);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    server.shutdown();
}

#[test]
fn stalled_node_gives_a_timeout_on_the_client() {
    let server = start(Scripted::new(Duration::from_millis(1500)), ServerConfig::default());
    for stream in [true, false] {
        let mut cfg = client(&server, stream);
        cfg.read_timeout = Duration::from_millis(200);
        let mut remote = RemoteGenerator::new(cfg).unwrap();
        let t = Instant::now();
        let e = remote.generate(&GenerationRequest::user("x", 4)).unwrap_err();
        assert!(matches!(infer_error(&e), Error::Timeout { .. }), "{e}");
        assert!(t.elapsed() < Duration::from_millis(1400), "took {:?}", t.elapsed());
        assert_eq!(remote.last_attempts(), 1, "a read timeout is not retried");
    }
    server.shutdown();
}

#[test]
fn server_request_timeout_answers_504() {
    let cfg = ServerConfig { request_timeout: Duration::from_millis(150), ..ServerConfig::default() };
    let server = start(Scripted::new(Duration::from_millis(500)), cfg);
    let mut c = client(&server, true);
    c.max_retries = 0;
    let mut remote = RemoteGenerator::new(c).unwrap();
    let e = remote.generate(&GenerationRequest::user("x", 4)).unwrap_err();
    assert!(matches!(infer_error(&e), Error::HttpStatus { status: 504, .. }), "{e}");
    assert_eq!(health(server.addr()), 200);
    server.shutdown();
}

#[test]
fn unreachable_node_is_retried_then_reported() {
    let port = TcpListener::bind(loopback()).unwrap().local_addr().unwrap().port();
    let mut c = RemoteConfig::new(format!("http://127.0.0.1:{port}/v1"), "m");
    c.max_retries = 2;
    c.initial_backoff = Duration::from_millis(5);
    let mut remote = RemoteGenerator::new(c).unwrap();
    let e = remote.generate(&GenerationRequest::user("x", 4)).unwrap_err();
    assert!(matches!(infer_error(&e), Error::Transport { .. }), "{e}");
    assert_eq!(remote.last_attempts(), 3);
}

#[test]
fn unknown_model_is_404_and_not_retried() {
    let server = start(Scripted::new(Duration::ZERO), ServerConfig::default());
    let mut c = client(&server, true);
    c.model = "gpt-99".into();
    let mut remote = RemoteGenerator::new(c).unwrap();
    let e = remote.generate(&GenerationRequest::user("x", 4)).unwrap_err();
    match infer_error(&e) {
        Error::HttpStatus { status: 404, body, .. } => assert!(body.contains("model_not_found"), "{body}"),
        other => panic!("{other}"),
    }
    assert_eq!(remote.last_attempts(), 1);
    server.shutdown();
}

/// A one-shot fake endpoint that answers every connection with `reply` (a whole HTTP response).
fn canned(reply: &'static str, connections: usize) -> SocketAddr {
    let l = TcpListener::bind(loopback()).unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming().take(connections) {
            let mut s = s.unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = vec![0u8; 64 << 10];
            let _ = s.read(&mut buf);
            let _ = s.write_all(reply.as_bytes());
        }
    });
    addr
}

fn json_reply(body: &'static str) -> &'static str {
    Box::leak(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_boxed_str(),
    )
}

fn remote_at(addr: SocketAddr, stream: bool) -> RemoteGenerator {
    let mut c = RemoteConfig::new(format!("http://{addr}/v1"), "m");
    c.stream = stream;
    c.max_retries = 0;
    RemoteGenerator::new(c).unwrap()
}

#[test]
fn malformed_replies_name_the_field() {
    let cases: [(&str, &str); 3] = [
        (
            r#"{"choices":[{"message":{"role":"assistant"}}],"usage":{"prompt_tokens":1,"completion_tokens":1}}"#,
            "choices[0].message.content",
        ),
        (
            r#"{"choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":-3,"completion_tokens":1}}"#,
            "usage.prompt_tokens",
        ),
        (r#"{"id":"x"}"#, "choices"),
    ];
    for (body, field) in cases {
        let mut remote = remote_at(canned(json_reply(body), 1), false);
        let e = remote.generate(&GenerationRequest::user("x", 4)).unwrap_err();
        match infer_error(&e) {
            Error::MalformedResponse { field: f, .. } => assert_eq!(f, field),
            other => panic!("{body}: {other}"),
        }
    }
    let mut remote = remote_at(canned(json_reply("not json"), 1), false);
    let e = remote.generate(&GenerationRequest::user("x", 4)).unwrap_err();
    assert!(matches!(infer_error(&e), Error::MalformedResponse { .. }), "{e}");
    let mut remote = remote_at(canned(json_reply(r#"{"choices":[]}"#), 1), false);
    let e = remote.generate(&GenerationRequest::user("x", 4)).unwrap_err();
    assert!(matches!(infer_error(&e), Error::EmptyChoices { .. }), "{e}");
}

#[test]
fn stream_from_another_server_is_read_and_its_errors_are_typed() {
    // llama.cpp-like: comments, CRLF lines, usage in the last chunk, no [DONE].
    const SSE: &str = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n\
        : ping\r\n\r\n\
        data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\r\n\r\n\
        data: {\"choices\":[{\"delta\":{\"content\":\"Pa\"}}]}\r\n\r\n\
        data: {\"choices\":[{\"delta\":{\"content\":\"ris\"}}]}\r\n\r\n\
        data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2}}\r\n\r\n";
    let out = remote_at(canned(SSE, 1), true).generate(&GenerationRequest::user("x", 4)).unwrap();
    assert_eq!(out.text, "Paris");
    assert_eq!((out.prompt_tokens, out.generated_tokens), (9, 2));
    assert_eq!(out.finish_reason, FinishReason::Stop);

    const ERR: &str = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n\
        data: {\"error\":{\"message\":\"out of memory\"}}\n\n";
    let e = remote_at(canned(ERR, 1), true).generate(&GenerationRequest::user("x", 4)).unwrap_err();
    match infer_error(&e) {
        Error::Remote { message, .. } => assert_eq!(message, "out of memory"),
        other => panic!("{other}"),
    }

    const CUT: &str = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n\
        data: {\"choices\":[{\"delta\":{\"content\":\"Pa\"}}]}\n\n";
    let e = remote_at(canned(CUT, 1), true).generate(&GenerationRequest::user("x", 4)).unwrap_err();
    assert!(matches!(infer_error(&e), Error::MalformedResponse { field, .. } if field == "stream"), "{e}");

    const BAD: &str = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n\
        data: {\"choices\":[{\"delta\":{\"content\":5}}]}\n\n";
    let e = remote_at(canned(BAD, 1), true).generate(&GenerationRequest::user("x", 4)).unwrap_err();
    match infer_error(&e) {
        Error::MalformedResponse { field, .. } => assert!(field.ends_with("choices[0].delta.content"), "{field}"),
        other => panic!("{other}"),
    }
}

#[test]
fn throttled_node_is_retried_after_its_retry_after() {
    const BUSY: &str =
        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy";
    let mut c = RemoteConfig::new(format!("http://{}/v1", canned(BUSY, 3)), "m");
    c.max_retries = 2;
    let mut remote = RemoteGenerator::new(c).unwrap();
    let t = Instant::now();
    let e = remote.generate(&GenerationRequest::user("x", 4)).unwrap_err();
    assert!(matches!(infer_error(&e), Error::HttpStatus { status: 429, body, .. } if body == "busy"), "{e}");
    assert_eq!(remote.last_attempts(), 3);
    // Retry-After: 0 overrides the default 250 ms backoff.
    assert!(t.elapsed() < Duration::from_millis(400), "{:?}", t.elapsed());
}

#[test]
fn oversize_bodies_get_413_and_the_server_keeps_serving() {
    let server = start(Scripted::new(Duration::ZERO), ServerConfig::default());
    let addr = server.addr();
    // Declared too large: refused before reading.
    let head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\nConnection: close\r\n\r\n";
    let (status, body) = raw(addr, head);
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("request_too_large"), "{body}");
    // Chunked, no length: cut off at the limit.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        );
        let chunk = vec![b'a'; 64 << 10];
        for _ in 0..40 {
            if w.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).is_err()
                || w.write_all(&chunk).is_err()
                || w.write_all(b"\r\n").is_err()
            {
                break;
            }
        }
    });
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let _ = writer.join();
    assert_eq!(parse_http(&out).0, 413, "{}", String::from_utf8_lossy(&out[..out.len().min(300)]));
    assert_eq!(health(addr), 200);
    server.shutdown();
}

#[test]
fn malformed_json_gets_400_naming_the_problem() {
    let server = start(Scripted::new(Duration::ZERO), ServerConfig::default());
    let addr = server.addr();
    let (status, body) = raw(addr, &post("/v1/chat/completions", r#"{"model":"scripted","messages":[{"role":"user""#));
    assert_eq!(status, 400);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "invalid_json");
    assert!(v["error"]["message"].as_str().unwrap().contains("line 1 column"), "{body}");
    let (status, body) =
        raw(addr, &post("/v1/chat/completions", r#"{"messages":[{"role":"user","content":"x"}],"temperature":9}"#));
    assert_eq!(status, 400);
    assert!(body.contains(r#""param":"temperature""#), "{body}");
    let (status, _) = raw(addr, &post("/v1/nothing", "{}"));
    assert_eq!(status, 404);
    let (status, _) = raw(addr, b"GET /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(status, 405);
    let (status, body) = raw(addr, b"GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(status, 200);
    assert!(body.contains(r#""id":"scripted""#), "{body}");
    let (status, body) = raw(addr, &post("/v1/chat/completions", HELLO));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("echo: hello there"), "{body}");
    server.shutdown();
}

#[test]
fn many_concurrent_requests_are_answered_or_cleanly_refused() {
    let cfg = ServerConfig { max_queue: 8, ..ServerConfig::default() };
    let g = Scripted::new(Duration::from_millis(50));
    let calls = g.calls.clone();
    let server = start(g, cfg);
    let addr = server.addr();
    let threads: Vec<_> = (0..64)
        .map(|_| {
            std::thread::spawn(move || {
                let (status, body) = raw(addr, &post("/v1/chat/completions", HELLO));
                if status == 503 {
                    assert!(body.contains("overloaded"), "{body}");
                }
                status
            })
        })
        .collect();
    let statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let ok = statuses.iter().filter(|&&s| s == 200).count();
    let busy = statuses.iter().filter(|&&s| s == 503).count();
    assert_eq!(ok + busy, 64, "{statuses:?}");
    assert!(ok >= 8, "{ok} answered");
    assert!(busy > 0, "the queue limit of 8 never refused any of 64");
    assert_eq!(calls.load(Ordering::SeqCst), ok);
    assert_eq!(health(addr), 200);
    assert_eq!(raw(addr, &post("/v1/chat/completions", HELLO)).0, 200);
    server.shutdown();
}

#[test]
fn slow_clients_are_cut_off() {
    let cfg = ServerConfig {
        header_read_timeout: Duration::from_millis(300),
        body_read_timeout: Duration::from_millis(300),
        ..ServerConfig::default()
    };
    let server = start(Scripted::new(Duration::ZERO), cfg);
    let addr = server.addr();
    // Headers begun, never finished: the connection is closed.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n").unwrap();
    let t = Instant::now();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    assert!(t.elapsed() < Duration::from_secs(3), "header stall held {:?}", t.elapsed());
    // Body promised, never sent: 408.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"mess").unwrap();
    let t = Instant::now();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    assert_eq!(parse_http(&buf).0, 408, "{}", String::from_utf8_lossy(&buf));
    assert!(t.elapsed() < Duration::from_secs(3));
    assert_eq!(health(addr), 200);
    server.shutdown();
}

#[test]
fn shutdown_stops_listening() {
    let server = start(Scripted::new(Duration::ZERO), ServerConfig::default());
    let addr = server.addr();
    assert_eq!(health(addr), 200);
    server.shutdown();
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
    #[test]
    fn request_parsing_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
        let _ = parse_chat_request(&bytes, &ServerConfig::default());
    }

    #[test]
    fn json_shaped_requests_never_panic(
        role in "[a-z]{0,10}",
        content in ".{0,40}",
        max_tokens in proptest::prelude::any::<i64>(),
        temperature in proptest::prelude::any::<f64>(),
    ) {
        let body = serde_json::json!({
            "messages": [{"role": role, "content": content}],
            "max_tokens": max_tokens,
            "temperature": if temperature.is_finite() { serde_json::json!(temperature) } else { serde_json::Value::Null },
        });
        let _ = parse_chat_request(body.to_string().as_bytes(), &ServerConfig::default());
    }
}

/// Panics on every request whose last message is "boom".
struct Panicky;

impl Generator for Panicky {
    fn name(&self) -> &str {
        "scripted"
    }
    fn generate(&mut self, request: &GenerationRequest) -> poq_core::Result<Generation> {
        if request.messages.last().is_some_and(|m| m.content == "boom") {
            panic!("scripted panic");
        }
        Scripted::new(Duration::ZERO).generate(request)
    }
}

#[test]
fn a_panicking_generator_gives_500_and_the_server_keeps_serving() {
    let server = serve(loopback(), Box::new(Panicky), ServerConfig::default()).unwrap();
    let addr = server.addr();
    let boom = r#"{"messages":[{"role":"user","content":"boom"}]}"#;
    let (status, body) = raw(addr, &post("/v1/chat/completions", boom));
    assert_eq!(status, 500);
    assert!(body.contains("generator_panicked"), "{body}");
    let (status, body) = raw(addr, &post("/v1/chat/completions", HELLO));
    assert_eq!(status, 200, "{body}");
    server.shutdown();
}
