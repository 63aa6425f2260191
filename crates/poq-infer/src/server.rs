use crate::batch_loop::{Reply, Submission, reply_capacity};
use crate::error::{Error, Result};
use crate::local::LocalGenerator;
use crate::metrics::Metrics;
use crate::openai::{
    ChatCompletionChunk, ChatCompletionRequest, ChatCompletionResponse, Choice, ChunkChoice, Content, Delta, ModelCard,
    ModelList, ResponseMessage, Usage, WireMessage, finish_reason_str, timings_of,
};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use poq_core::{ChatMessage, Generation, GenerationRequest, Generator, Role, Sampling};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore, mpsc};

/// Limits and names of a node server. [`ServerConfig::default`] suits a single CPU node.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// The model id clients ask for; `None` uses the generator's name.
    pub model_id: Option<String>,
    /// Serve requests naming any model instead of answering 404.
    pub accept_any_model: bool,
    /// Largest request body, bytes (default 1 MiB); larger gets 413.
    pub max_body_bytes: usize,
    /// Requests admitted at once, running plus waiting (default 16); more get 503.
    pub max_queue: usize,
    /// Time from admission to answer, queueing included (default 300 s); longer gets 504.
    pub request_timeout: Duration,
    /// Time for a client to send the request headers (default 10 s); the connection is then closed.
    pub header_read_timeout: Duration,
    /// Time for a client to send the request body (default 10 s); longer gets 408.
    pub body_read_timeout: Duration,
    /// Open connections at once (default 256); more wait in the listen backlog.
    pub max_connections: usize,
    /// `max_tokens` when the request has none (default 256).
    pub default_max_tokens: usize,
    /// Largest `max_tokens` accepted (default 4096); larger gets 400.
    pub max_tokens_limit: usize,
    /// Largest number of stop strings (default 16).
    pub max_stop: usize,
    /// Time given to open connections and running generations at shutdown (default 10 s).
    pub shutdown_grace: Duration,
    /// Tokio worker threads for the HTTP side (default 2; generation runs on its own thread).
    pub worker_threads: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            model_id: None,
            accept_any_model: false,
            max_body_bytes: 1 << 20,
            max_queue: 16,
            request_timeout: Duration::from_secs(300),
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            max_connections: 256,
            default_max_tokens: 256,
            max_tokens_limit: 4096,
            max_stop: 16,
            shutdown_grace: Duration::from_secs(10),
            worker_threads: 2,
        }
    }
}

/// An HTTP error answer in OpenAI's shape (poq-net's, shared by every node server).
pub use poq_net::ApiError;

impl ServerConfig {
    /// The connection, body, queue and time limits, as poq-net's node plumbing takes them.
    fn limits(&self) -> poq_net::NodeLimits {
        poq_net::NodeLimits {
            max_body_bytes: self.max_body_bytes,
            max_queue: self.max_queue,
            request_timeout: self.request_timeout,
            header_read_timeout: self.header_read_timeout,
            body_read_timeout: self.body_read_timeout,
            max_connections: self.max_connections,
            shutdown_grace: self.shutdown_grace,
            worker_threads: self.worker_threads,
        }
    }
}

/// A chat request checked and turned into a [`GenerationRequest`].
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedRequest {
    /// The model the client named (empty when it named none).
    pub model: String,
    /// What to generate.
    pub request: GenerationRequest,
    /// Answer as server-sent events.
    pub stream: bool,
    /// Send a usage chunk at the end of the stream.
    pub include_usage: bool,
}

/// Parses and checks a `/v1/chat/completions` body. Never panics, whatever the bytes; every
/// rejection names the field at fault. This is the function the server's fuzz target drives.
pub fn parse_chat_request(body: &[u8], config: &ServerConfig) -> Result<ParsedRequest, ApiError> {
    let req: ChatCompletionRequest = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            None,
            format!("request body is not a valid chat completion request: {e}"),
        )
    })?;
    if req.messages.is_empty() {
        return Err(ApiError::invalid("messages", "`messages` must hold at least one message"));
    }
    let messages = parse_messages(&req.messages)?;
    let (field, max) = match (req.max_completion_tokens, req.max_tokens) {
        (Some(n), _) => ("max_completion_tokens", n),
        (None, Some(n)) => ("max_tokens", n),
        (None, None) => ("max_tokens", config.default_max_tokens as u64),
    };
    if max == 0 || max > config.max_tokens_limit as u64 {
        return Err(ApiError::invalid(field, format!("must be in 1..={}, got {max}", config.max_tokens_limit)));
    }
    let sampling = parse_sampling(&req)?;
    if let Some(n) = req.n.filter(|&n| n != 1) {
        return Err(ApiError::invalid("n", format!("only n = 1 is served, got {n}")));
    }
    let stop = req.stop.map(|s| s.into_vec()).unwrap_or_default();
    if stop.len() > config.max_stop {
        return Err(ApiError::invalid("stop", format!("at most {} stop strings, got {}", config.max_stop, stop.len())));
    }
    if let Some(i) = stop.iter().position(String::is_empty) {
        return Err(ApiError::invalid(&format!("stop[{i}]"), "stop strings must not be empty"));
    }
    let max_new_tokens = usize::try_from(max).map_err(|_| ApiError::invalid(field, "too large"))?;
    Ok(ParsedRequest {
        model: req.model,
        request: GenerationRequest { messages, max_new_tokens, sampling, stop },
        stream: req.stream,
        include_usage: req.stream_options.is_some_and(|o| o.include_usage),
    })
}

/// The request's messages as chat messages: roles checked, content parts joined (text only).
fn parse_messages(raw: &[WireMessage]) -> Result<Vec<ChatMessage>, ApiError> {
    let mut messages = Vec::with_capacity(raw.len());
    for (i, m) in raw.iter().enumerate() {
        let role = match m.role.as_str() {
            "system" | "developer" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            other => {
                return Err(ApiError::invalid(
                    &format!("messages[{i}].role"),
                    format!("unsupported role `{other}` (system, developer, user or assistant)"),
                ));
            }
        };
        let content = match &m.content {
            Content::Text(t) => t.clone(),
            Content::Parts(parts) => {
                let mut text = String::new();
                for (j, p) in parts.iter().enumerate() {
                    match (p.kind.as_str(), &p.text) {
                        ("text", Some(t)) => text.push_str(t),
                        ("text", None) => {
                            return Err(ApiError::invalid(&format!("messages[{i}].content[{j}].text"), "missing"));
                        }
                        (other, _) => {
                            return Err(ApiError::invalid(
                                &format!("messages[{i}].content[{j}].type"),
                                format!("unsupported content part `{other}` (only text)"),
                            ));
                        }
                    }
                }
                text
            }
        };
        messages.push(ChatMessage { role, content });
    }
    Ok(messages)
}

/// The request's sampling settings, each checked against its range.
fn parse_sampling(req: &ChatCompletionRequest) -> Result<Sampling, ApiError> {
    let mut sampling = Sampling::default();
    if let Some(t) = req.temperature {
        if !(0.0..=2.0).contains(&t) {
            return Err(ApiError::invalid("temperature", format!("must be in [0, 2], got {t}")));
        }
        sampling.temperature = t;
    }
    if let Some(p) = req.top_p {
        if !(p > 0.0 && p <= 1.0) {
            return Err(ApiError::invalid("top_p", format!("must be in (0, 1], got {p}")));
        }
        sampling.top_p = (p < 1.0).then_some(p);
    }
    if let Some(k) = req.top_k {
        // 0 (and -1 in some clients, which fails to parse as u64) means "off".
        sampling.top_k = usize::try_from(k).ok().filter(|&k| k > 0);
    }
    if let Some(r) = req.repetition_penalty {
        if !(r.is_finite() && r > 0.0) {
            return Err(ApiError::invalid("repetition_penalty", format!("must be positive, got {r}")));
        }
        sampling.repetition_penalty = r;
    }
    if let Some(seed) = req.seed {
        sampling.seed = seed;
    }
    Ok(sampling)
}

/// What answers the requests.
enum Backend {
    /// Any generator, one request at a time, whole answers.
    Whole(Arc<Mutex<Box<dyn Generator>>>),
    /// A local model behind the scheduler thread: continuous batching, tokens as they come.
    Batched(SyncSender<Submission>),
}

struct AppState {
    backend: Backend,
    limits: poq_net::NodeLimits,
    metrics: Arc<Metrics>,
    model_id: String,
    config: ServerConfig,
    admission: Arc<Semaphore>,
    next_id: AtomicU64,
    started: u64,
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// The router, without the connection handling of [`serve`].
fn router(state: Arc<AppState>) -> Router {
    let router = Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/models", get(models))
        .route("/health", get(health))
        .route("/metrics", get(metrics));
    poq_net::with_fallbacks(router).with_state(state)
}

async fn health(State(st): State<Arc<AppState>>) -> Response {
    let admitted = st.config.max_queue - st.admission.available_permits();
    axum::Json(serde_json::json!({
        "status": "ok",
        "model": st.model_id,
        "admitted": admitted,
        "max_queue": st.config.max_queue,
    }))
    .into_response()
}

async fn metrics(State(st): State<Arc<AppState>>) -> Response {
    let mut resp = Response::new(Body::from(st.metrics.render()));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    resp
}

async fn models(State(st): State<Arc<AppState>>) -> Response {
    axum::Json(ModelList {
        object: "list".into(),
        data: vec![ModelCard {
            id: st.model_id.clone(),
            object: "model".into(),
            created: st.started,
            owned_by: "poq".into(),
        }],
    })
    .into_response()
}

async fn chat_completions(State(st): State<Arc<AppState>>, req: Request) -> Response {
    let resp = match answer(&st, req).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    };
    st.metrics.answered(resp.status().as_u16());
    resp
}

async fn answer(st: &AppState, req: Request) -> Result<Response, ApiError> {
    let arrived = Instant::now();
    let body = poq_net::read_body(req, &st.limits).await?;
    let parsed = parse_chat_request(&body, &st.config)?;
    drop(body);
    if !st.config.accept_any_model && !parsed.model.is_empty() && parsed.model != st.model_id {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "model_not_found",
            Some("model"),
            format!("model `{}` is not served here (this node serves `{}`)", parsed.model, st.model_id),
        ));
    }
    let permit = st.admission.clone().try_acquire_owned().map_err(|_| overloaded(&st.config))?;
    let id = format!("chatcmpl-{:x}-{}", st.started, st.next_id.fetch_add(1, Ordering::Relaxed));
    let model = if parsed.model.is_empty() { st.model_id.clone() } else { parsed.model.clone() };
    let reply = ReplyTo { id, model, stream: parsed.stream, include_usage: parsed.include_usage };
    match &st.backend {
        Backend::Whole(generator) => answer_whole(st, generator, parsed.request, permit, arrived, reply).await,
        Backend::Batched(submit) => answer_batched(st, submit, parsed.request, permit, arrived, reply).await,
    }
}

/// Who an answer goes to and in which form.
struct ReplyTo {
    id: String,
    model: String,
    stream: bool,
    include_usage: bool,
}

fn overloaded(config: &ServerConfig) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "overloaded",
        None,
        format!("{} requests already admitted; retry later", config.max_queue),
    )
}

fn timed_out(limit: Duration) -> ApiError {
    ApiError::new(StatusCode::GATEWAY_TIMEOUT, "timeout", None, format!("generation did not finish within {limit:?}"))
}

fn scheduler_stopped() -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "generator_stopped",
        None,
        "the generation loop stopped unexpectedly",
    )
}

/// A whole answer from any generator, one request at a time; a stream is sent once it is done.
async fn answer_whole(
    st: &AppState,
    generator: &Arc<Mutex<Box<dyn Generator>>>,
    request: GenerationRequest,
    permit: OwnedSemaphorePermit,
    arrived: Instant,
    reply: ReplyTo,
) -> Result<Response, ApiError> {
    let generator = generator.clone();
    let metrics = st.metrics.clone();
    let work = async move {
        // Counted as queued while it waits for the lock, also if the deadline drops this wait.
        let queued = Queued::new(&metrics);
        let mut guard = generator.lock_owned().await;
        drop(queued);
        // The permit and the lock travel with the blocking job: they are released when the
        // generation ends, even if the client was already answered 504.
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            metrics.started();
            let out = guard.generate(&request);
            if let Ok(g) = &out {
                record_whole(&metrics, g, arrived.elapsed());
            }
            metrics.ended(false);
            out
        })
        .await
    };
    let generation = match tokio::time::timeout(st.config.request_timeout, work).await {
        Err(_) => return Err(timed_out(st.config.request_timeout)),
        Ok(Err(_join)) => {
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "generator_panicked",
                None,
                "the generator failed unexpectedly",
            ));
        }
        Ok(Ok(Err(e))) => return Err(generator_error(&e)),
        Ok(Ok(Ok(g))) => g,
    };
    Ok(if reply.stream {
        sse_response(&reply.id, &reply.model, &generation, reply.include_usage)
    } else {
        completion_response(reply, &generation)
    })
}

/// A request waiting in the queue gauge for as long as this lives.
struct Queued<'a>(&'a Metrics);

impl<'a> Queued<'a> {
    fn new(metrics: &'a Metrics) -> Self {
        metrics.enqueued();
        Queued(metrics)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.dequeued();
    }
}

/// The metrics of a whole answer: its first token is seen when all of it is.
fn record_whole(metrics: &Metrics, g: &Generation, latency: Duration) {
    metrics.prompt(g.prompt_tokens);
    let per_token = (g.generated_tokens > 1).then(|| g.decode / (g.generated_tokens - 1) as u32);
    metrics.tokens(g.generated_tokens, per_token);
    metrics.first_token(latency);
    metrics.completed(latency);
}

/// An answer from the scheduler thread: the request joins the running batch; a stream sends
/// each piece of text as soon as it is decoded. Dropping the reply channel (the client left, or
/// the deadline passed) cancels the generation.
async fn answer_batched(
    st: &AppState,
    submit: &SyncSender<Submission>,
    request: GenerationRequest,
    permit: OwnedSemaphorePermit,
    arrived: Instant,
    reply: ReplyTo,
) -> Result<Response, ApiError> {
    let deadline = tokio::time::Instant::now() + st.config.request_timeout;
    let (replies, mut rx) = mpsc::channel(reply_capacity(request.max_new_tokens));
    st.metrics.enqueued();
    if let Err(e) = submit.try_send(Submission { request, replies, arrived, permit }) {
        st.metrics.dequeued();
        return Err(match e {
            TrySendError::Full(_) => overloaded(&st.config),
            TrySendError::Disconnected(_) => scheduler_stopped(),
        });
    }
    // The prompt is prefilled (or refused) before any header goes out: a bad request gets its status.
    match tokio::time::timeout_at(deadline, rx.recv()).await {
        Err(_) => return Err(timed_out(st.config.request_timeout)),
        Ok(Some(Reply::Started)) => {}
        Ok(Some(Reply::Failed(e))) => return Err(infer_error(&e)),
        Ok(Some(Reply::Text(_) | Reply::Done(_)) | None) => return Err(scheduler_stopped()),
    }
    if reply.stream {
        return Ok(stream_response(reply, rx, deadline, st.config.request_timeout));
    }
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Err(_) => return Err(timed_out(st.config.request_timeout)),
            Ok(Some(Reply::Done(g))) => return Ok(completion_response(reply, &g)),
            Ok(Some(Reply::Failed(e))) => return Err(infer_error(&e)),
            Ok(Some(Reply::Started | Reply::Text(_))) => {}
            Ok(None) => return Err(scheduler_stopped()),
        }
    }
}

fn completion_response(reply: ReplyTo, generation: &Generation) -> Response {
    axum::Json(ChatCompletionResponse {
        id: reply.id,
        object: "chat.completion".into(),
        created: unix_now(),
        model: reply.model,
        choices: vec![Choice {
            index: 0,
            message: ResponseMessage { role: "assistant".into(), content: Some(generation.text.clone()) },
            finish_reason: Some(finish_reason_str(generation.finish_reason).into()),
        }],
        usage: Some(usage_of(generation)),
        timings: Some(timings_of(generation)),
    })
    .into_response()
}

/// A poq-infer error from the scheduler: the request's fault (400) for invalid arguments, the
/// server's (500) otherwise.
fn infer_error(e: &Error) -> ApiError {
    let is_request = match e {
        Error::InvalidArgument { .. } => true,
        Error::Core(c) => matches!(
            c,
            poq_core::Error::InvalidParameter { .. }
                | poq_core::Error::Empty { .. }
                | poq_core::Error::InvalidScore { .. }
        ),
        _ => false,
    };
    if is_request {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_value", None, e.to_string())
    } else {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "generation_failed", None, e.to_string())
    }
}

/// A generator error: the request's fault (400) when poq-core says a parameter is invalid,
/// the server's (500) otherwise.
fn generator_error(e: &poq_core::Error) -> ApiError {
    use poq_core::Error as C;
    let is_request = match e {
        C::InvalidParameter { .. } | C::Empty { .. } | C::InvalidScore { .. } => true,
        C::Backend { source, .. } => {
            source.downcast_ref::<Error>().is_some_and(|inner| matches!(inner, Error::InvalidArgument { .. }))
        }
        _ => false,
    };
    if is_request {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_value", None, e.to_string())
    } else {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "generation_failed", None, e.to_string())
    }
}

fn usage_of(g: &Generation) -> Usage {
    let (p, c) = (g.prompt_tokens as u64, g.generated_tokens as u64);
    Usage { prompt_tokens: p, completion_tokens: c, total_tokens: p + c }
}

/// Writes the server-sent events of one streamed answer.
struct SseWriter {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
}

impl SseWriter {
    fn new(reply: ReplyTo) -> Self {
        SseWriter { id: reply.id, model: reply.model, created: unix_now(), include_usage: reply.include_usage }
    }

    fn event(&self, delta: Delta, finish: Option<String>, usage: Option<&Generation>) -> String {
        let chunk = ChatCompletionChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".into(),
            created: self.created,
            model: self.model.clone(),
            choices: if usage.is_some() {
                Vec::new()
            } else {
                vec![ChunkChoice { index: 0, delta, finish_reason: finish }]
            },
            usage: usage.map(usage_of),
            timings: usage.map(timings_of),
        };
        // Serializing these plain structs cannot fail; an empty event would be skipped by clients.
        format!("data: {}\n\n", serde_json::to_string(&chunk).unwrap_or_default())
    }

    /// The first event: the assistant's role.
    fn role(&self) -> String {
        self.event(Delta { role: Some("assistant".into()), content: Some(String::new()) }, None, None)
    }

    fn text(&self, text: String) -> String {
        self.event(Delta { role: None, content: Some(text) }, None, None)
    }

    /// The finish event, the usage event when asked, and `[DONE]`.
    fn end(&self, g: &Generation) -> String {
        let mut out = self.event(Delta::default(), Some(finish_reason_str(g.finish_reason).into()), None);
        if self.include_usage {
            out.push_str(&self.event(Delta::default(), None, Some(g)));
        }
        out.push_str("data: [DONE]\n\n");
        out
    }

    /// An error inside a stream whose headers are sent: OpenAI's `{"error": ...}` event; the
    /// stream then ends without `[DONE]`.
    fn error(&self, e: ApiError) -> String {
        format!("data: {}\n\n", serde_json::json!({ "error": e.error }))
    }
}

fn event_stream(body: Body) -> Response {
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// A whole answer as one burst of server-sent events.
fn sse_response(id: &str, model: &str, g: &Generation, include_usage: bool) -> Response {
    let w = SseWriter::new(ReplyTo { id: id.to_owned(), model: model.to_owned(), stream: true, include_usage });
    let mut body = w.role();
    if !g.text.is_empty() {
        body.push_str(&w.text(g.text.clone()));
    }
    body.push_str(&w.end(g));
    event_stream(Body::from(body))
}

/// An answer streamed as its text is decoded.
fn stream_response(
    reply: ReplyTo,
    replies: mpsc::Receiver<Reply>,
    deadline: tokio::time::Instant,
    timeout: Duration,
) -> Response {
    let writer = SseWriter::new(reply);
    let first = Some(axum::body::Bytes::from(writer.role()));
    let body = SseBody {
        writer,
        replies,
        deadline: Box::pin(tokio::time::sleep_until(deadline)),
        timeout,
        first,
        done: false,
    };
    event_stream(Body::new(body))
}

/// The body of a streamed answer: one frame per reply from the scheduler thread. Dropping it
/// (the client disconnected) drops the reply channel, which cancels the generation.
struct SseBody {
    writer: SseWriter,
    replies: mpsc::Receiver<Reply>,
    deadline: Pin<Box<tokio::time::Sleep>>,
    timeout: Duration,
    first: Option<axum::body::Bytes>,
    done: bool,
}

impl SseBody {
    /// The frame of one reply, and whether the stream ends with it.
    fn frame_of(&self, reply: Option<Reply>) -> Option<(String, bool)> {
        match reply {
            Some(Reply::Started) => None,
            Some(Reply::Text(t)) => Some((self.writer.text(t), false)),
            Some(Reply::Done(g)) => Some((self.writer.end(&g), true)),
            Some(Reply::Failed(e)) => Some((self.writer.error(infer_error(&e)), true)),
            None => Some((self.writer.error(scheduler_stopped()), true)),
        }
    }
}

impl hyper::body::Body for SseBody {
    type Data = axum::body::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let data = |s: String| Poll::Ready(Some(Ok(hyper::body::Frame::data(axum::body::Bytes::from(s)))));
        if let Some(first) = this.first.take() {
            return Poll::Ready(Some(Ok(hyper::body::Frame::data(first))));
        }
        if this.done {
            return Poll::Ready(None);
        }
        // Replies first: an answer that is ready wins over a deadline reached at the same time.
        while let Poll::Ready(reply) = this.replies.poll_recv(cx) {
            if let Some((frame, last)) = this.frame_of(reply) {
                this.done = last;
                return data(frame);
            }
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            this.done = true;
            return data(this.writer.error(timed_out(this.timeout)));
        }
        Poll::Pending
    }
}

/// A running server. Dropping it asks the server to stop without waiting.
#[derive(Debug)]
pub struct ServerHandle {
    node: poq_net::NodeHandle,
}

impl ServerHandle {
    /// The address it listens on (the real port when bound to port 0).
    pub fn addr(&self) -> SocketAddr {
        self.node.addr()
    }

    /// The base URL for a [`RemoteConfig`](crate::RemoteConfig): `http://ADDR/v1`.
    pub fn base_url(&self) -> String {
        format!("{}/v1", self.node.url())
    }

    /// Stops accepting, lets open connections finish within the grace period, and returns when the
    /// server is down.
    pub fn shutdown(self) {
        self.node.shutdown();
    }

    /// Blocks while the server runs: nothing else can stop it once the handle is given up here, so
    /// this serves until the process ends (what a node binary wants).
    pub fn wait(self) {
        self.node.wait();
    }
}

/// Serves `generator` on `addr` (port 0 picks a free port) from a background thread with its own
/// runtime. Returns once the socket is bound.
///
/// The inference-node server puts any [`Generator`] behind an OpenAI-compatible HTTP API, so that a
/// machine can join a PoQ network as an inference node and be reached with a
/// [`RemoteGenerator`](crate::RemoteGenerator).
///
/// Routes: `POST /v1/chat/completions` (plain JSON or server-sent events with `"stream": true`),
/// `GET /v1/models` and `GET /health`. Errors are OpenAI-style JSON
/// (`{"error": {"message", "type", "param", "code"}}`).
///
/// Any generator serves one request at a time here (it is behind a mutex and runs on a blocking
/// thread); [`serve_local`] decodes concurrent requests of a [`LocalGenerator`] together and
/// streams their tokens as they come. `GET /metrics` gives the server's counters and histograms
/// in Prometheus' text format. The server protects itself and the generator:
/// - bodies over [`ServerConfig::max_body_bytes`] get 413, unreadable or invalid JSON gets 400
///   naming the problem (field, line and column);
/// - a request naming another model gets 404 `model_not_found`, unless
///   [`ServerConfig::accept_any_model`]; an empty or missing `model` means the served one;
/// - at most [`ServerConfig::max_queue`] requests are admitted (running plus waiting); more get 503
///   with `Retry-After`;
/// - a request not answered within [`ServerConfig::request_timeout`] gets 504. The generator cannot
///   be interrupted, so its admission slot is held until the generation really ends: the queue
///   bound counts work, not just waiting clients;
/// - slow clients: request headers must arrive within [`ServerConfig::header_read_timeout`]
///   (idle keep-alive connections are closed after it too) and the body within
///   [`ServerConfig::body_read_timeout`] (else 408); at most [`ServerConfig::max_connections`] are open.
///
/// The `Generator` trait returns whole answers, so here a streamed reply is sent once the
/// generation is done (role chunk, one content chunk, the finish chunk, a usage chunk when asked,
/// `[DONE]`): the wire format streaming clients expect, but a client's time to first token is the
/// whole generation time. [`serve_local`] streams token by token.
pub fn serve(addr: SocketAddr, generator: Box<dyn Generator>, config: ServerConfig) -> Result<ServerHandle> {
    let model_id = config.model_id.clone().unwrap_or_else(|| generator.name().to_owned());
    let backend = Backend::Whole(Arc::new(Mutex::new(generator)));
    start_server(addr, backend, model_id, Arc::new(Metrics::default()), config, None)
}

/// Serves a local model on `addr` like [`serve`], with continuous batching and real streaming.
///
/// A scheduler thread owns `generator` and runs a [`Scheduler`](crate::Scheduler): a request
/// is prefilled as soon as a slot is free and joins the running batch at the next decoding step
/// (up to [`LocalGenerator::with_max_batch`] sequences; one at a time for models without batched
/// decoding), so concurrent clients share each pass over the weights. Handlers hand requests to
/// that thread through a channel bounded by [`ServerConfig::max_queue`] and get each request's
/// text back as it is decoded: with `"stream": true` the role chunk goes out once the prompt is
/// prefilled, then one content chunk per piece of text (never a broken UTF-8 character, never part
/// of a stop string), the finish chunk, the usage chunk when asked, and `[DONE]`. A request's
/// tokens are those [`Generator::generate`] gives it alone.
///
/// Limits are [`serve`]'s, with two differences: a client that disconnects, or a request past
/// [`ServerConfig::request_timeout`] (504, or an error event and the end of a stream already
/// started), cancels its generation at its next token, freeing its slot and admission at once.
pub fn serve_local(addr: SocketAddr, generator: LocalGenerator, config: ServerConfig) -> Result<ServerHandle> {
    let model_id = config.model_id.clone().unwrap_or_else(|| generator.name().to_owned());
    let metrics = Arc::new(Metrics::default());
    let (submit, scheduler) = crate::batch_loop::spawn(generator, config.max_queue, metrics.clone())
        .map_err(|source| Error::Server { addr: addr.to_string(), source })?;
    start_server(addr, Backend::Batched(submit), model_id, metrics, config, Some(scheduler))
}

/// Binds `addr` and runs the server from a background thread with its own runtime; once the
/// server is down, waits for `worker` (the scheduler thread, which ends when its channel does).
fn start_server(
    addr: SocketAddr,
    backend: Backend,
    model_id: String,
    metrics: Arc<Metrics>,
    config: ServerConfig,
    worker: Option<std::thread::JoinHandle<()>>,
) -> Result<ServerHandle> {
    let limits = config.limits();
    let state = Arc::new(AppState {
        backend,
        metrics,
        model_id,
        admission: Arc::new(Semaphore::new(config.max_queue.max(1))),
        next_id: AtomicU64::new(0),
        started: unix_now(),
        limits: limits.clone(),
        config,
    });
    let after = move || {
        if let Some(w) = worker {
            let _ = w.join();
        }
    };
    let node = poq_net::serve_router_then(addr, router(state), &limits, after).map_err(|e| match e {
        poq_net::NetError::Server { addr, source } => Error::Server { addr, source },
        other => Error::Server { addr: addr.to_string(), source: std::io::Error::other(other.to_string()) },
    })?;
    Ok(ServerHandle { node })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<ParsedRequest, ApiError> {
        parse_chat_request(s.as_bytes(), &ServerConfig::default())
    }

    #[test]
    fn parses_a_full_request() {
        let p = parse(
            r#"{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}],
               "max_completion_tokens":5,"max_tokens":9,"temperature":0.7,"top_p":0.9,"seed":3,"stop":"\n",
               "stream":true,"stream_options":{"include_usage":true}}"#,
        )
        .unwrap();
        assert_eq!(p.request.max_new_tokens, 5);
        assert_eq!(p.request.messages[0].role, Role::System);
        assert_eq!(p.request.sampling.temperature, 0.7);
        assert_eq!(p.request.sampling.top_p, Some(0.9));
        assert_eq!(p.request.sampling.seed, 3);
        assert_eq!(p.request.stop, vec!["\n".to_string()]);
        assert!(p.stream && p.include_usage);
        let d = parse(r#"{"messages":[{"role":"user","content":"x"}]}"#).unwrap();
        assert_eq!(d.request.max_new_tokens, 256);
        assert_eq!(d.request.sampling, Sampling::default());
    }

    #[test]
    fn rejections_name_the_field() {
        let cases = [
            (r#"{"messages":[]}"#, "messages"),
            (r#"{"messages":[{"role":"tool","content":"x"}]}"#, "messages[0].role"),
            (r#"{"messages":[{"role":"user","content":[{"type":"image_url"}]}]}"#, "messages[0].content[0].type"),
            (r#"{"messages":[{"role":"user","content":"x"}],"max_tokens":0}"#, "max_tokens"),
            (r#"{"messages":[{"role":"user","content":"x"}],"max_completion_tokens":99999}"#, "max_completion_tokens"),
            (r#"{"messages":[{"role":"user","content":"x"}],"temperature":3}"#, "temperature"),
            (r#"{"messages":[{"role":"user","content":"x"}],"top_p":0}"#, "top_p"),
            (r#"{"messages":[{"role":"user","content":"x"}],"n":2}"#, "n"),
            (r#"{"messages":[{"role":"user","content":"x"}],"stop":["a",""]}"#, "stop[1]"),
        ];
        for (body, field) in cases {
            let e = parse(body).unwrap_err();
            assert_eq!(e.status, 400, "{body}");
            assert_eq!(e.error.param.as_deref(), Some(field), "{body}: {e:?}");
        }
        let e = parse(r#"{"messages": [{"role":"user"}]}"#).unwrap_err();
        assert_eq!(e.error.code.as_deref(), Some("invalid_json"));
        assert!(e.error.message.contains("content"), "{}", e.error.message);
    }
}
