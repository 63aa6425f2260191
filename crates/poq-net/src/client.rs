//! The coordinator's side of the wire: one JSON call to a node, timed by the coordinator, with
//! every way it can go wrong turned into a [`Fault`].

use crate::round::Fault;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::{Duration, Instant};

/// Largest reply read from a node; a node cannot make the coordinator buffer more.
const MAX_REPLY_BYTES: u64 = 4 << 20;

/// A blocking HTTP client with one deadline per call (connect, send and read together).
#[derive(Debug, Clone)]
pub(crate) struct Client {
    agent: ureq::Agent,
}

impl Client {
    pub(crate) fn new(timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .user_agent(concat!("poq-net/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Client { agent }
    }

    /// POSTs `body` to `url` and reads the JSON reply: the reply and the milliseconds from sending
    /// to the last byte, or the fault (with the milliseconds it took to fail).
    pub(crate) fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        url: &str,
        body: &B,
    ) -> Result<(R, f64), (Fault, f64)> {
        let start = Instant::now();
        let ms = || start.elapsed().as_secs_f64() * 1e3;
        let mut resp = match self.agent.post(url).send_json(body) {
            Ok(r) => r,
            Err(e) => return Err((transport_fault(e), ms())),
        };
        let status = resp.status().as_u16();
        let bytes = match resp.body_mut().with_config().limit(MAX_REPLY_BYTES).read_to_vec() {
            Ok(b) => b,
            Err(e) => return Err((transport_fault(e), ms())),
        };
        let elapsed = ms();
        if !(200..300).contains(&status) {
            let detail = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned();
            return Err((Fault::HttpError { status, detail }, elapsed));
        }
        match serde_json::from_slice(&bytes) {
            Ok(r) => Ok((r, elapsed)),
            Err(e) => Err((Fault::Garbage { detail: format!("reply is not the expected JSON: {e}") }, elapsed)),
        }
    }
}

fn transport_fault(e: ureq::Error) -> Fault {
    match e {
        ureq::Error::Timeout(phase) => Fault::Timeout { detail: format!("no answer in time ({phase:?})") },
        ureq::Error::BodyExceedsLimit(n) => Fault::Garbage { detail: format!("reply longer than {n} bytes") },
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => Fault::Timeout { detail: io.to_string() },
        other => Fault::Unreachable { detail: other.to_string() },
    }
}
