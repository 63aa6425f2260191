use crate::error::{Error, Result};
use crate::openai::{ChatCompletionRequest, parse_finish_reason};
use poq_core::{FinishReason, Generation, GenerationRequest, Generator};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::time::{Duration, Instant};

/// Where and how to reach a remote node.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteConfig {
    /// Base URL including the API version, e.g. `http://127.0.0.1:8080/v1`; `/chat/completions`
    /// is appended.
    pub base_url: String,
    /// The model to ask for.
    pub model: String,
    /// Name of the environment variable holding the API key (sent as a bearer token), if any.
    pub api_key_env: Option<String>,
    /// Time allowed to open the connection.
    pub connect_timeout: Duration,
    /// Longest silence allowed while waiting for any byte of the reply.
    pub read_timeout: Duration,
    /// Time allowed for one whole exchange (request, generation, reply).
    pub total_timeout: Duration,
    /// Retries after the first attempt on connection errors, 429 and 5xx.
    pub max_retries: u32,
    /// Wait before the first retry; doubled for each further retry.
    pub initial_backoff: Duration,
    /// Upper bound on one wait (also bounds a server's `Retry-After`).
    pub max_backoff: Duration,
    /// Ask for server-sent events (measures time to first token).
    pub stream: bool,
    /// Largest reply read, in bytes; a longer one is cut off and reported as malformed.
    pub max_response_bytes: u64,
}

impl RemoteConfig {
    /// Defaults for `base_url` and `model`: streamed, 10 s to connect, 120 s of silence, 600 s in
    /// all, 3 retries from 250 ms up to 8 s, replies up to 16 MiB, no API key.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        RemoteConfig {
            base_url: base_url.into(),
            model: model.into(),
            api_key_env: None,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(120),
            total_timeout: Duration::from_secs(600),
            max_retries: 3,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
            stream: true,
            max_response_bytes: 16 << 20,
        }
    }

    /// The same configuration reading its API key from `var`.
    pub fn with_api_key_env(mut self, var: impl Into<String>) -> Self {
        self.api_key_env = Some(var.into());
        self
    }

    /// The wait before retry number `retry` (0-based), honouring a server's `Retry-After` seconds.
    pub fn backoff(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self.initial_backoff.saturating_mul(1u32.checked_shl(retry).unwrap_or(u32::MAX));
        retry_after.unwrap_or(exp).min(self.max_backoff)
    }
}

/// An API key that never shows in `Debug` output or errors.
#[derive(Clone)]
struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A generator backed by a remote OpenAI-compatible endpoint.
///
/// A [`Generator`] that asks an OpenAI-compatible chat-completions endpoint (vLLM, llama.cpp's
/// server, TGI, OpenAI, or our own node server, `serve` with the `server` feature). This is how a
/// PoQ network talks to inference nodes it does not run.
///
/// Timing is measured on the client, because that is the latency the network pays:
/// - streamed (the default): prefill is the time from sending the request to the first non-empty
///   content delta (time to first token), decode is the rest up to the end of the stream;
/// - not streamed: the first token cannot be seen, so the whole latency counts as prefill and decode
///   is zero; [`Generation::latency`] is exact either way.
///
/// The clock starts at the attempt that succeeds; earlier failed attempts (see
/// [`RemoteGenerator::last_attempts`]) and their backoff are not counted as the node's latency.
///
/// Token counts come from the reply's `usage`. A streamed reply without a usage chunk (a server
/// that ignores `stream_options.include_usage`) falls back to counting content chunks as generated
/// tokens and reports zero prompt tokens.
#[derive(Debug)]
pub struct RemoteGenerator {
    config: RemoteConfig,
    url: String,
    api_key: Option<Secret>,
    agent: ureq::Agent,
    last_attempts: u32,
}

impl RemoteGenerator {
    /// A generator for `config`. Fails when `api_key_env` names a variable that is not set.
    pub fn new(config: RemoteConfig) -> Result<Self> {
        let api_key = match &config.api_key_env {
            Some(var) => Some(Secret(std::env::var(var).map_err(|_| Error::MissingEnv { var: var.clone() })?)),
            None => None,
        };
        let url = format!("{}/chat/completions", config.base_url.trim_end_matches('/'));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(config.connect_timeout))
            .timeout_per_read(Some(config.read_timeout))
            .timeout_global(Some(config.total_timeout))
            .user_agent(concat!("poq-infer/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(RemoteGenerator { config, url, api_key, agent, last_attempts: 0 })
    }

    /// The endpoint asked (`.../chat/completions`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The configuration.
    pub fn config(&self) -> &RemoteConfig {
        &self.config
    }

    /// How many HTTP attempts the last `generate` made (1 when it needed no retry).
    pub fn last_attempts(&self) -> u32 {
        self.last_attempts
    }

    /// Sends `body`, retrying as configured; returns the first 2xx reply and when its attempt began.
    fn send(&mut self, body: &[u8]) -> Result<(ureq::http::Response<ureq::Body>, Instant)> {
        let accept = if self.config.stream { "text/event-stream" } else { "application/json" };
        let mut retry = 0;
        loop {
            self.last_attempts = retry + 1;
            let mut req =
                self.agent.post(&self.url).header("content-type", "application/json").header("accept", accept);
            if let Some(Secret(key)) = &self.api_key {
                req = req.header("authorization", format!("Bearer {key}"));
            }
            let start = Instant::now();
            let (err, retry_after, retryable) = match req.send(body) {
                Ok(resp) if resp.status().is_success() => return Ok((resp, start)),
                Ok(mut resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let bytes = resp.body_mut().with_config().limit(64 << 10).read_to_vec().unwrap_or_default();
                    let err = Error::HttpStatus { url: self.url.clone(), status, body: excerpt(&bytes) };
                    (err, retry_after, status == 429 || status >= 500)
                }
                Err(e) => {
                    let retryable = is_connect_error(&e);
                    (map_ureq(&self.url, e), None, retryable)
                }
            };
            if !retryable || retry >= self.config.max_retries {
                return Err(err);
            }
            std::thread::sleep(self.config.backoff(retry, retry_after));
            retry += 1;
        }
    }

    fn read_full(&self, resp: ureq::http::Response<ureq::Body>, start: Instant) -> Result<Generation> {
        let bytes = resp
            .into_body()
            .into_with_config()
            .limit(self.config.max_response_bytes)
            .read_to_vec()
            .map_err(|e| map_ureq(&self.url, e))?;
        let latency = start.elapsed();
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| self.malformed("$", e.to_string()))?;
        let choices = v.get("choices").and_then(Value::as_array).ok_or_else(|| self.malformed("choices", "missing"))?;
        let first = choices.first().ok_or_else(|| Error::EmptyChoices { url: self.url.clone() })?;
        let text = first
            .pointer("/message/content")
            .and_then(Value::as_str)
            .ok_or_else(|| self.malformed("choices[0].message.content", "missing or not a string"))?;
        let finish = self.finish_reason(first, "choices[0].finish_reason")?;
        let usage = v.get("usage").ok_or_else(|| self.malformed("usage", "missing"))?;
        let (prompt_tokens, generated_tokens) = self.usage(usage, "usage")?;
        Ok(Generation {
            text: text.to_owned(),
            prompt_tokens,
            generated_tokens,
            prefill: latency,
            decode: Duration::ZERO,
            finish_reason: finish,
        })
    }

    fn read_stream(&self, resp: ureq::http::Response<ureq::Body>, start: Instant) -> Result<Generation> {
        // A server that ignores `stream` answers with one JSON object.
        let is_sse = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if !is_sse {
            return self.read_full(resp, start);
        }
        let reader = resp.into_body().into_reader().take(self.config.max_response_bytes);
        let mut reader = BufReader::new(reader);
        let mut state = StreamState::default();
        let mut line = String::new();
        let mut data = String::new();
        let mut line_no = 0usize;
        loop {
            line.clear();
            let n = reader.read_line(&mut line).map_err(|e| map_io(&self.url, e))?;
            line_no += 1;
            let trimmed = line.trim_end_matches(['\r', '\n']);
            if n == 0 || trimmed.is_empty() {
                // A blank line ends an event; the end of the body ends the last one.
                if !data.is_empty() && self.on_event(&data, line_no, &mut state)? {
                    break;
                }
                data.clear();
                if n == 0 {
                    break;
                }
                continue;
            }
            if let Some(payload) = trimmed.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(payload.strip_prefix(' ').unwrap_or(payload));
            }
            // Comments (`:`), `event:`, `id:` and `retry:` lines carry nothing we use.
        }
        let end = Instant::now();
        if !state.saw_choice {
            return Err(Error::EmptyChoices { url: self.url.clone() });
        }
        if !state.done && state.finish.is_none() {
            return Err(self.malformed("stream", "ended before a finish_reason or [DONE]"));
        }
        let first = state.first_token.unwrap_or(end);
        let (prompt_tokens, generated_tokens) = state.usage.unwrap_or((0, state.content_chunks));
        Ok(Generation {
            text: state.text,
            prompt_tokens,
            generated_tokens,
            prefill: first.duration_since(start),
            decode: end.duration_since(first),
            finish_reason: state.finish.unwrap_or(FinishReason::Stop),
        })
    }

    /// Handles one SSE event; returns true at `[DONE]`.
    fn on_event(&self, data: &str, line_no: usize, st: &mut StreamState) -> Result<bool> {
        if data.trim() == "[DONE]" {
            st.done = true;
            return Ok(true);
        }
        let at = |field: &str| format!("event ending at line {line_no}: {field}");
        let v: Value = serde_json::from_str(data).map_err(|e| self.malformed(&at("data"), e.to_string()))?;
        if let Some(err) = v.get("error") {
            let message = err.get("message").and_then(Value::as_str).map(str::to_owned).unwrap_or(err.to_string());
            return Err(Error::Remote { url: self.url.clone(), message: excerpt(message.as_bytes()) });
        }
        if let Some(usage) = v.get("usage").filter(|u| !u.is_null()) {
            st.usage = Some(self.usage(usage, &at("usage"))?);
        }
        let choices = match v.get("choices") {
            Some(Value::Array(c)) => c,
            Some(Value::Null) | None => return Ok(false),
            Some(_) => return Err(self.malformed(&at("choices"), "not an array")),
        };
        let Some(first) = choices.first() else { return Ok(false) };
        st.saw_choice = true;
        match first.pointer("/delta/content") {
            Some(Value::String(s)) if !s.is_empty() => {
                st.first_token.get_or_insert_with(Instant::now);
                st.text.push_str(s);
                st.content_chunks += 1;
            }
            Some(Value::String(_) | Value::Null) | None => {}
            Some(_) => return Err(self.malformed(&at("choices[0].delta.content"), "not a string")),
        }
        if first.get("finish_reason").is_some_and(|f| !f.is_null()) {
            st.finish = Some(self.finish_reason(first, &at("choices[0].finish_reason"))?);
        }
        Ok(false)
    }

    fn finish_reason(&self, choice: &Value, field: &str) -> Result<FinishReason> {
        match choice.get("finish_reason") {
            Some(Value::String(s)) => Ok(parse_finish_reason(s)),
            Some(Value::Null) | None => Ok(FinishReason::Stop),
            Some(_) => Err(self.malformed(field, "not a string")),
        }
    }

    fn usage(&self, usage: &Value, field: &str) -> Result<(usize, usize)> {
        let count = |name: &str| {
            usage
                .get(name)
                .and_then(Value::as_u64)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| self.malformed(&format!("{field}.{name}"), "missing or not a non-negative integer"))
        };
        Ok((count("prompt_tokens")?, count("completion_tokens")?))
    }

    fn malformed(&self, field: &str, message: impl Into<String>) -> Error {
        Error::MalformedResponse { url: self.url.clone(), field: field.to_owned(), message: message.into() }
    }
}

#[derive(Default)]
struct StreamState {
    text: String,
    first_token: Option<Instant>,
    content_chunks: usize,
    usage: Option<(usize, usize)>,
    finish: Option<FinishReason>,
    saw_choice: bool,
    done: bool,
}

impl Generator for RemoteGenerator {
    fn name(&self) -> &str {
        &self.config.model
    }

    fn generate(&mut self, request: &GenerationRequest) -> poq_core::Result<Generation> {
        let wire = ChatCompletionRequest::from_request(&self.config.model, request, self.config.stream);
        let body = serde_json::to_vec(&wire)
            .map_err(|e| Error::InvalidArgument { name: "request", message: format!("cannot serialize: {e}") })?;
        let (resp, start) = self.send(&body)?;
        let g = if self.config.stream { self.read_stream(resp, start) } else { self.read_full(resp, start) };
        Ok(g?)
    }
}

/// The first 300 characters of a body, lossily decoded, for error messages.
fn excerpt(bytes: &[u8]) -> String {
    const MAX: usize = 300;
    let s = String::from_utf8_lossy(bytes);
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.into_owned(),
    }
}

/// Errors worth a retry: the request most likely never reached a generator.
fn is_connect_error(e: &ureq::Error) -> bool {
    use std::io::ErrorKind as K;
    match e {
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => true,
        ureq::Error::Timeout(ureq::Timeout::Connect | ureq::Timeout::Resolve) => true,
        ureq::Error::Io(io) => {
            matches!(io.kind(), K::ConnectionRefused | K::ConnectionReset | K::ConnectionAborted | K::NotConnected)
        }
        _ => false,
    }
}

fn map_ureq(url: &str, e: ureq::Error) -> Error {
    use ureq::Timeout as T;
    match e {
        ureq::Error::Timeout(t) => {
            let phase = match t {
                T::Connect | T::Resolve => "connect",
                T::PerRead => "read",
                T::RecvResponse => "response",
                T::RecvBody => "body",
                T::Global | T::PerCall => "total",
                _ => "send",
            };
            Error::Timeout { url: url.to_owned(), phase: phase.into() }
        }
        ureq::Error::Io(io) => map_io(url, io),
        ureq::Error::BodyExceedsLimit(n) => Error::MalformedResponse {
            url: url.to_owned(),
            field: "$".into(),
            message: format!("reply longer than the {n}-byte limit"),
        },
        other => Error::Transport { url: url.to_owned(), message: other.to_string() },
    }
}

fn map_io(url: &str, e: std::io::Error) -> Error {
    if matches!(e.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) {
        return Error::Timeout { url: url.to_owned(), phase: "read".into() };
    }
    // ureq's body reader wraps its own errors (timeouts among them) in io::Error.
    if e.get_ref().is_some_and(|inner| inner.is::<ureq::Error>()) {
        if let Some(inner) = e.into_inner().and_then(|b| b.downcast::<ureq::Error>().ok()) {
            return map_ureq(url, *inner);
        }
        return Error::Transport { url: url.to_owned(), message: "connection error".into() };
    }
    Error::Transport { url: url.to_owned(), message: e.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let mut c = RemoteConfig::new("http://x/v1", "m");
        c.initial_backoff = Duration::from_millis(100);
        c.max_backoff = Duration::from_millis(1000);
        assert_eq!(c.backoff(0, None), Duration::from_millis(100));
        assert_eq!(c.backoff(2, None), Duration::from_millis(400));
        assert_eq!(c.backoff(40, None), Duration::from_millis(1000));
        assert_eq!(c.backoff(0, Some(Duration::from_secs(60))), Duration::from_millis(1000));
    }

    #[test]
    fn missing_key_variable_is_named_and_key_is_never_shown() {
        let c = RemoteConfig::new("http://x/v1", "m").with_api_key_env("POQ_TEST_SURELY_UNSET_VAR_71");
        let e = RemoteGenerator::new(c).unwrap_err().to_string();
        assert!(e.contains("POQ_TEST_SURELY_UNSET_VAR_71"), "{e}");
        assert_eq!(format!("{:?}", Secret("sk-123".into())), "<redacted>");
    }

    #[test]
    fn excerpt_cuts_long_bodies_on_char_boundaries() {
        let long = "é".repeat(1000);
        let e = excerpt(long.as_bytes());
        assert_eq!(e.chars().count(), 301);
        assert_eq!(excerpt(b"short"), "short");
    }
}
