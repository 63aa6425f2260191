//! What every node server needs around its routes — poq-net's evaluator node and poq-infer's
//! inference node alike: a bounded accept loop with slow-client timeouts, bounded bodies, an
//! admission bound with 503, and JSON errors in OpenAI's shape.

use crate::error::{NetError, Result};
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

/// Limits of a node server. The defaults suit one CPU node on loopback.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeLimits {
    /// Largest request body, bytes (default 1 MiB); larger gets 413.
    pub max_body_bytes: usize,
    /// Requests admitted at once, running plus waiting (default 16); more get 503 with `Retry-After`.
    pub max_queue: usize,
    /// Time from admission to answer, queueing included (default 120 s); longer gets 504.
    pub request_timeout: Duration,
    /// Time for a client to send the request headers (default 10 s); the connection is then closed.
    pub header_read_timeout: Duration,
    /// Time for a client to send the request body (default 10 s); longer gets 408.
    pub body_read_timeout: Duration,
    /// Open connections at once (default 256); more wait in the listen backlog.
    pub max_connections: usize,
    /// Time given to open connections at shutdown (default 5 s).
    pub shutdown_grace: Duration,
    /// Tokio worker threads for the HTTP side (default 2; model work runs on blocking threads).
    pub worker_threads: usize,
}

impl Default for NodeLimits {
    fn default() -> Self {
        NodeLimits {
            max_body_bytes: 1 << 20,
            max_queue: 16,
            request_timeout: Duration::from_secs(120),
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            max_connections: 256,
            shutdown_grace: Duration::from_secs(5),
            worker_threads: 2,
        }
    }
}

/// The JSON error object: `{"error": {"message", "type", "param", "code"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong, for people.
    pub message: String,
    /// `invalid_request_error` (the client's fault) or `server_error`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The request field at fault, if one is.
    pub param: Option<String>,
    /// A stable code for programs (`overloaded`, `timeout`, `invalid_value`, ...).
    pub code: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct ErrorResponse {
    error: ErrorBody,
}

/// An HTTP error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status code.
    pub status: u16,
    /// The JSON error object.
    pub error: ErrorBody,
}

impl ApiError {
    /// An error with `status`; its `type` is `server_error` for 5xx, `invalid_request_error`
    /// otherwise.
    #[must_use]
    pub fn new(status: StatusCode, code: &str, param: Option<&str>, message: impl Into<String>) -> Self {
        let kind = if status.is_server_error() { "server_error" } else { "invalid_request_error" };
        ApiError {
            status: status.as_u16(),
            error: ErrorBody {
                message: message.into(),
                kind: kind.into(),
                param: param.map(str::to_owned),
                code: Some(code.into()),
            },
        }
    }

    /// 400 `invalid_value` naming the request field at fault.
    #[must_use]
    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_value", Some(param), message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, axum::Json(ErrorResponse { error: self.error })).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}

/// Reads a whole body within the limits: 413 past `max_body_bytes`, 408 past `body_read_timeout`.
pub async fn read_body(req: Request, limits: &NodeLimits) -> Result<axum::body::Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            None,
            format!("request body exceeds {} bytes", limits.max_body_bytes),
        )
    };
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body_bytes as u64) {
        return Err(too_large());
    }
    let limited = Limited::new(req.into_body(), limits.max_body_bytes);
    match tokio::time::timeout(limits.body_read_timeout, limited.collect()).await {
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            None,
            format!("request body not received within {:?}", limits.body_read_timeout),
        )),
        Ok(Err(e)) if e.is::<LengthLimitError>() => Err(too_large()),
        Ok(Err(e)) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "unreadable_body",
            None,
            format!("cannot read request body: {e}"),
        )),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

/// One admission slot, or 503 when `max_queue` requests are already admitted.
pub fn admit(admission: &Arc<Semaphore>, max_queue: usize) -> Result<OwnedSemaphorePermit, ApiError> {
    admission.clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            None,
            format!("{max_queue} requests already admitted; retry later"),
        )
    })
}

/// JSON 404 and 405 answers for anything the routes do not cover.
pub fn with_fallbacks<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", None, "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                None,
                "method not allowed on this route",
            )
        })
}

/// A running node server. Dropping it asks the server to stop without waiting.
#[derive(Debug)]
pub struct NodeHandle {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl NodeHandle {
    /// The address it listens on (the real port when bound to port 0).
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets open connections finish within the grace period, and returns when
    /// the server is down.
    pub fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Blocks while the server runs (what a node process does until it is killed).
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for NodeHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Serves `router` on `addr` (port 0 picks a free port) from a background thread with its own
/// runtime. Returns once the socket is bound.
pub fn serve_router(addr: SocketAddr, router: Router, limits: &NodeLimits) -> Result<NodeHandle> {
    serve_router_then(addr, router, limits, || {})
}

/// [`serve_router`], running `after` on the server's thread once the server is down (to join a
/// worker thread that ends with it, say), before [`NodeHandle::shutdown`] returns.
pub fn serve_router_then(
    addr: SocketAddr,
    router: Router,
    limits: &NodeLimits,
    after: impl FnOnce() + Send + 'static,
) -> Result<NodeHandle> {
    let server_err = |source| NetError::Server { addr: addr.to_string(), source };
    let listener = std::net::TcpListener::bind(addr).map_err(server_err)?;
    listener.set_nonblocking(true).map_err(server_err)?;
    let bound = listener.local_addr().map_err(server_err)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(limits.worker_threads.max(1))
        .max_blocking_threads(4)
        .thread_name("poq-node")
        .enable_io()
        .enable_time()
        .build()
        .map_err(server_err)?;
    let (stop, stop_rx) = watch::channel(false);
    let limits = limits.clone();
    let thread = std::thread::Builder::new()
        .name("poq-node-main".into())
        .spawn(move || {
            let grace = limits.shutdown_grace;
            runtime.block_on(accept_loop(listener, router, limits, stop_rx));
            runtime.shutdown_timeout(grace);
            after();
        })
        .map_err(server_err)?;
    Ok(NodeHandle { addr: bound, stop, thread: Some(thread) })
}

async fn accept_loop(
    listener: std::net::TcpListener,
    app: Router,
    limits: NodeLimits,
    mut stop: watch::Receiver<bool>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let connections = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        // Bounds the memory one connection's headers can take (hyper's floor is 8 KiB).
        .max_buf_size(64 << 10);
    loop {
        let permit = tokio::select! {
            p = connections.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = stop.changed() => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(_) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let svc = hyper_util::service::TowerToHyperService::new(app.clone());
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), svc));
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(limits.shutdown_grace, graceful.shutdown()).await;
}
