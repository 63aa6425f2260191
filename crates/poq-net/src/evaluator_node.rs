//! The evaluator node: any [`Evaluator`] behind HTTP, with commit–reveal for rounds.
//!
//! Routes: `POST /v1/score` (a batch scored at once), `POST /v1/commit` then `POST /v1/reveal`
//! (a round's scores, committed before any is shown), `GET /v1/models`, `GET /health`. Every
//! answer carries the node's own timing claim; the coordinator measures for itself and compares.

use crate::error::Result;
use crate::http::{ApiError, NodeHandle, NodeLimits, admit, read_body, serve_router, with_fallbacks};
use crate::wire::{
    CommitRequest, CommitResponse, NodeTimings, Reveal, RevealRequest, RevealResponse, ScoreItem, ScoreRequest,
    ScoreResponse,
};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use poq_core::{EvalItem, Evaluator};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::Semaphore;

/// Settings of an evaluator node.
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluatorNodeConfig {
    /// Connection, body, queue and time limits.
    pub limits: NodeLimits,
    /// Most items in one request (default 256); more gets 400.
    pub max_items: usize,
    /// Scorings run at once (default 1: a model already uses every core); the rest wait in the
    /// admission queue.
    pub max_concurrent: usize,
    /// Commitments kept for their reveal (default 1024 rounds); the oldest is dropped past it.
    pub max_pending: usize,
}

impl Default for EvaluatorNodeConfig {
    fn default() -> Self {
        EvaluatorNodeConfig { limits: NodeLimits::default(), max_items: 256, max_concurrent: 1, max_pending: 1024 }
    }
}

/// Scores committed and not yet revealed, by (round, evaluator), bounded in count.
#[derive(Debug, Default)]
struct Pending {
    reveals: HashMap<(u64, usize), Vec<Reveal>>,
    order: VecDeque<(u64, usize)>,
}

struct NodeState {
    evaluator: Arc<dyn Evaluator>,
    config: EvaluatorNodeConfig,
    admission: Arc<Semaphore>,
    running: Arc<Semaphore>,
    pending: Mutex<Pending>,
}

/// Serves `evaluator` on `addr` (port 0 picks a free port) from a background thread. Returns once
/// the socket is bound.
///
/// Protection as for the inference node: bodies over the limit get 413, invalid JSON 400 naming
/// the field, more than `max_queue` admitted requests 503 with `Retry-After`, a scoring not done
/// within `request_timeout` 504 (its admission slot is held until it really ends), slow clients
/// are cut off.
pub fn serve_evaluator(
    addr: SocketAddr,
    evaluator: Arc<dyn Evaluator>,
    config: EvaluatorNodeConfig,
) -> Result<NodeHandle> {
    let limits = config.limits.clone();
    let state = Arc::new(NodeState {
        evaluator,
        admission: Arc::new(Semaphore::new(config.limits.max_queue.max(1))),
        running: Arc::new(Semaphore::new(config.max_concurrent.max(1))),
        pending: Mutex::new(Pending::default()),
        config,
    });
    let router = Router::new()
        .route("/v1/score", post(score))
        .route("/v1/commit", post(commit))
        .route("/v1/reveal", post(reveal))
        .route("/v1/models", get(models))
        .route("/health", get(health));
    serve_router(addr, with_fallbacks(router).with_state(state), &limits)
}

async fn health(State(st): State<Arc<NodeState>>) -> Response {
    let admitted = st.config.limits.max_queue.max(1) - st.admission.available_permits();
    let body = serde_json::json!({
        "status": "ok",
        "model": st.evaluator.name(),
        "role": "evaluator",
        "admitted": admitted,
        "max_queue": st.config.limits.max_queue,
    });
    axum::Json(body).into_response()
}

async fn models(State(st): State<Arc<NodeState>>) -> Response {
    let card = serde_json::json!({ "id": st.evaluator.name(), "object": "model", "owned_by": "poq" });
    axum::Json(serde_json::json!({ "object": "list", "data": [card] })).into_response()
}

fn into_response<T: serde::Serialize>(r: Result<T, ApiError>) -> Response {
    match r {
        Ok(body) => axum::Json(body).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn score(State(st): State<Arc<NodeState>>, req: Request) -> Response {
    into_response(score_route(&st, req).await)
}

async fn score_route(st: &Arc<NodeState>, req: Request) -> Result<ScoreResponse, ApiError> {
    let body = read_body(req, &st.config.limits).await?;
    let parsed: ScoreRequest = parse_json(&body)?;
    let (scores, score_ms) = run_scoring(st, parsed.items, "items").await?;
    Ok(ScoreResponse { model: st.evaluator.name().to_owned(), scores, timings: NodeTimings { score_ms } })
}

async fn commit(State(st): State<Arc<NodeState>>, req: Request) -> Response {
    into_response(commit_route(&st, req).await)
}

async fn commit_route(st: &Arc<NodeState>, req: Request) -> Result<CommitResponse, ApiError> {
    let body = read_body(req, &st.config.limits).await?;
    let parsed: CommitRequest = parse_json(&body)?;
    let key = (parsed.round, parsed.evaluator);
    if lock(&st.pending).reveals.contains_key(&key) {
        return Err(already_committed(key));
    }
    let nodes: Vec<usize> = parsed.answers.iter().map(|a| a.node).collect();
    let items = parsed.answers.into_iter().map(|a| a.item).collect();
    let (scores, score_ms) = run_scoring(st, items, "answers").await?;
    let mut reveals = Vec::with_capacity(scores.len());
    for (&node, &score) in nodes.iter().zip(&scores) {
        let salt = getrandom::u64().map_err(|e| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "no_randomness", None, format!("no salt: {e}"))
        })?;
        reveals.push(Reveal { node, score, salt });
    }
    let commitments =
        reveals.iter().map(|r| poq_sim::commitment(parsed.round, r.node, parsed.evaluator, r.score, r.salt)).collect();
    let mut pending = lock(&st.pending);
    // Checked again: a concurrent commit for the same key may have finished while this one scored.
    if pending.reveals.contains_key(&key) {
        return Err(already_committed(key));
    }
    pending.reveals.insert(key, reveals);
    pending.order.push_back(key);
    while pending.order.len() > st.config.max_pending.max(1) {
        if let Some(old) = pending.order.pop_front() {
            pending.reveals.remove(&old);
        }
    }
    Ok(CommitResponse { commitments, timings: NodeTimings { score_ms } })
}

fn already_committed((round, evaluator): (u64, usize)) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "already_committed",
        Some("round"),
        format!("evaluator {evaluator} already committed in round {round}"),
    )
}

async fn reveal(State(st): State<Arc<NodeState>>, req: Request) -> Response {
    into_response(reveal_route(&st, req).await)
}

async fn reveal_route(st: &Arc<NodeState>, req: Request) -> Result<RevealResponse, ApiError> {
    let body = read_body(req, &st.config.limits).await?;
    let parsed: RevealRequest = parse_json(&body)?;
    let key = (parsed.round, parsed.evaluator);
    let mut pending = lock(&st.pending);
    let reveals = pending.reveals.remove(&key).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_commitment",
            Some("round"),
            format!("no pending commitment of evaluator {} in round {}", parsed.evaluator, parsed.round),
        )
    })?;
    pending.order.retain(|k| *k != key);
    Ok(RevealResponse { reveals })
}

/// Parses a JSON body, naming the field, line and column of the first problem.
fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = format!("invalid JSON at line {} column {}: {inner}", inner.line(), inner.column());
        let param = (path != ".").then_some(path);
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", param.as_deref(), message)
    })
}

/// A poisoned lock only means another request panicked mid-update of a plain map: keep serving.
fn lock(m: &Mutex<Pending>) -> std::sync::MutexGuard<'_, Pending> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Checks the items, then scores them on a blocking thread under the admission and concurrency
/// bounds: the scores and the time inside the evaluator, milliseconds.
async fn run_scoring(st: &Arc<NodeState>, items: Vec<ScoreItem>, field: &str) -> Result<(Vec<f64>, f64), ApiError> {
    if items.is_empty() {
        return Err(ApiError::invalid(field, "must hold at least one item"));
    }
    if items.len() > st.config.max_items {
        return Err(ApiError::invalid(field, format!("{} items, at most {}", items.len(), st.config.max_items)));
    }
    if let Some(i) = items.iter().position(|it| it.references.is_empty()) {
        return Err(ApiError::invalid(&format!("{field}[{i}].references"), "must hold at least one reference"));
    }
    let eval_items: Vec<EvalItem> = items
        .into_iter()
        .map(|it| {
            let item = EvalItem::new(it.candidate, it.references);
            match it.input {
                Some(input) => item.with_input(input),
                None => item,
            }
        })
        .collect();
    let admitted = admit(&st.admission, st.config.limits.max_queue.max(1))?;
    let (running, evaluator) = (st.running.clone(), st.evaluator.clone());
    let work = async move {
        let slot = running.acquire_owned().await;
        // The permits travel with the blocking job: released when the scoring really ends, even
        // when the client was already answered 504.
        tokio::task::spawn_blocking(move || {
            let (_admitted, _slot) = (admitted, slot);
            let start = Instant::now();
            let scores = evaluator.score_batch(&eval_items);
            (scores, start.elapsed().as_secs_f64() * 1e3, eval_items.len())
        })
        .await
    };
    let timeout = st.config.limits.request_timeout;
    match tokio::time::timeout(timeout, work).await {
        Err(_) => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            None,
            format!("scoring did not finish within {timeout:?}"),
        )),
        Ok(Err(_join)) => {
            Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "evaluator_panicked", None, "the evaluator failed"))
        }
        Ok(Ok((Err(e), _, _))) => Err(evaluator_error(&e)),
        Ok(Ok((Ok(scores), ms, n))) if scores.len() == n => Ok((scores.iter().map(|s| s.value()).collect(), ms)),
        Ok(Ok((Ok(scores), _, n))) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "evaluator_failed",
            None,
            format!("the evaluator returned {} scores for {n} items", scores.len()),
        )),
    }
}

/// The request's fault (400) when poq-core says an input is invalid, the node's (500) otherwise.
fn evaluator_error(e: &poq_core::Error) -> ApiError {
    use poq_core::Error as C;
    match e {
        C::InvalidParameter { .. } | C::Empty { .. } => {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_value", None, e.to_string())
        }
        _ => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "evaluator_failed", None, e.to_string()),
    }
}
