//! The node server's counters and histograms, written in Prometheus' text format (version 0.0.4).
//!
//! The format is a few lines per metric, so it is written here rather than pulled in with a
//! metrics crate. Everything is atomics except the histograms' sums (a mutex per histogram).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Bucket bounds (seconds) of whole-request latency.
const LATENCY_BOUNDS: &[f64] = &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0];
/// Bucket bounds (seconds) of the time to the first token.
const TTFT_BOUNDS: &[f64] = &[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
/// Bucket bounds (seconds) of the time between two tokens of one answer.
const PER_TOKEN_BOUNDS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// A histogram with fixed bucket bounds.
#[derive(Debug)]
struct Histogram {
    bounds: &'static [f64],
    /// Observations per bucket (not cumulative); the last one is above every bound.
    counts: Vec<AtomicU64>,
    sum: Mutex<f64>,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Histogram { bounds, counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(), sum: Mutex::new(0.0) }
    }

    fn observe(&self, seconds: f64) {
        let bucket = self.bounds.iter().position(|&b| seconds <= b).unwrap_or(self.bounds.len());
        if let Some(c) = self.counts.get(bucket) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        *self.sum.lock().unwrap_or_else(std::sync::PoisonError::into_inner) += seconds;
    }

    fn write(&self, out: &mut String, name: &str, help: &str) {
        header(out, name, help, "histogram");
        let mut cumulative = 0;
        for (i, count) in self.counts.iter().enumerate() {
            cumulative += count.load(Ordering::Relaxed);
            let le = self.bounds.get(i).map_or_else(|| "+Inf".to_owned(), |b| b.to_string());
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
        }
        let sum = *self.sum.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {cumulative}");
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn single(out: &mut String, name: &str, help: &str, kind: &str, value: u64) {
    header(out, name, help, kind);
    let _ = writeln!(out, "{name} {value}");
}

/// What a node server counts. Shared by the HTTP handlers and the scheduler thread.
#[derive(Debug)]
pub(crate) struct Metrics {
    /// Chat-completion answers by HTTP status.
    requests: Mutex<BTreeMap<u16, u64>>,
    prompt_tokens: AtomicU64,
    generated_tokens: AtomicU64,
    cancelled: AtomicU64,
    queued: AtomicU64,
    running: AtomicU64,
    latency: Histogram,
    ttft: Histogram,
    per_token: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: Mutex::new(BTreeMap::new()),
            prompt_tokens: AtomicU64::new(0),
            generated_tokens: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            running: AtomicU64::new(0),
            latency: Histogram::new(LATENCY_BOUNDS),
            ttft: Histogram::new(TTFT_BOUNDS),
            per_token: Histogram::new(PER_TOKEN_BOUNDS),
        }
    }
}

impl Metrics {
    /// One chat-completion answer sent with `status` (for streams: the status of the headers).
    pub(crate) fn answered(&self, status: u16) {
        *self.requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner).entry(status).or_default() += 1;
    }

    /// A request waits for a generation slot.
    pub(crate) fn enqueued(&self) {
        self.queued.fetch_add(1, Ordering::Relaxed);
    }

    /// A request left the queue (admitted, refused or abandoned).
    pub(crate) fn dequeued(&self) {
        let _ = self.queued.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |q| Some(q.saturating_sub(1)));
    }

    /// A sequence started.
    pub(crate) fn started(&self) {
        self.running.fetch_add(1, Ordering::Relaxed);
    }

    /// Prompt tokens prefilled.
    pub(crate) fn prompt(&self, tokens: usize) {
        self.prompt_tokens.fetch_add(tokens as u64, Ordering::Relaxed);
    }

    /// A request left while it waited for a slot.
    pub(crate) fn abandoned(&self) {
        self.cancelled.fetch_add(1, Ordering::Relaxed);
    }

    /// A sequence ended (finished, failed or cancelled); `cancelled` when its client left.
    pub(crate) fn ended(&self, cancelled: bool) {
        let _ = self.running.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |r| Some(r.saturating_sub(1)));
        if cancelled {
            self.cancelled.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// One generated token; `since_previous` is the time since the answer's previous token.
    pub(crate) fn token(&self, since_previous: Option<Duration>) {
        self.generated_tokens.fetch_add(1, Ordering::Relaxed);
        if let Some(d) = since_previous {
            self.per_token.observe(d.as_secs_f64());
        }
    }

    /// Several generated tokens at once (a whole answer from a generator that does not stream),
    /// with their mean time per token.
    pub(crate) fn tokens(&self, count: usize, per_token: Option<Duration>) {
        self.generated_tokens.fetch_add(count as u64, Ordering::Relaxed);
        if let Some(d) = per_token {
            for _ in 1..count {
                self.per_token.observe(d.as_secs_f64());
            }
        }
    }

    /// Time from a request's arrival to its first token.
    pub(crate) fn first_token(&self, after: Duration) {
        self.ttft.observe(after.as_secs_f64());
    }

    /// Time from a request's arrival to its last token (completed answers only).
    pub(crate) fn completed(&self, after: Duration) {
        self.latency.observe(after.as_secs_f64());
    }

    /// Everything, in Prometheus' text format.
    pub(crate) fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        header(&mut out, "poq_requests_total", "Chat completion requests answered, by HTTP status.", "counter");
        for (status, n) in self.requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter() {
            let _ = writeln!(out, "poq_requests_total{{status=\"{status}\"}} {n}");
        }
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        single(&mut out, "poq_prompt_tokens_total", "Prompt tokens prefilled.", "counter", load(&self.prompt_tokens));
        single(&mut out, "poq_generated_tokens_total", "Tokens generated.", "counter", load(&self.generated_tokens));
        single(
            &mut out,
            "poq_cancelled_total",
            "Generations stopped because their client left or timed out.",
            "counter",
            load(&self.cancelled),
        );
        single(&mut out, "poq_queue_depth", "Requests waiting for a generation slot.", "gauge", load(&self.queued));
        single(&mut out, "poq_running_sequences", "Sequences being generated.", "gauge", load(&self.running));
        self.latency.write(
            &mut out,
            "poq_request_duration_seconds",
            "Time from a request's arrival to its last token, completed answers.",
        );
        self.ttft.write(
            &mut out,
            "poq_time_to_first_token_seconds",
            "Time from a request's arrival to its first token.",
        );
        self.per_token.write(&mut out, "poq_time_per_output_token_seconds", "Time between two tokens of one answer.");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.first_token(Duration::from_millis(3));
        m.first_token(Duration::from_millis(30));
        m.first_token(Duration::from_secs(100));
        m.answered(200);
        m.answered(200);
        m.answered(503);
        let text = m.render();
        for line in [
            "poq_time_to_first_token_seconds_bucket{le=\"0.001\"} 0",
            "poq_time_to_first_token_seconds_bucket{le=\"0.005\"} 1",
            "poq_time_to_first_token_seconds_bucket{le=\"0.05\"} 2",
            "poq_time_to_first_token_seconds_bucket{le=\"30\"} 2",
            "poq_time_to_first_token_seconds_bucket{le=\"+Inf\"} 3",
            "poq_time_to_first_token_seconds_count 3",
            "poq_requests_total{status=\"200\"} 2",
            "poq_requests_total{status=\"503\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
    }
}
