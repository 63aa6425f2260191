//! The scheduler thread of a node server that serves a [`LocalGenerator`]: it owns the
//! [`Scheduler`], takes requests from a bounded channel into free slots between decoding steps,
//! and hands each request's events to its HTTP handler through the request's own channel.
//!
//! A request whose handler has gone (the client disconnected, or it was answered 504) is
//! cancelled at its next token, which frees its slot; one that left while still queued is
//! dropped when its turn comes. Each request carries its admission permit, released when its
//! sequence ends: the server's queue bound counts work still running, not only waiting clients.

use crate::continuous::{Admitted, Event, Scheduler, SequenceEvent, SequenceId};
use crate::error::Error;
use crate::local::LocalGenerator;
use crate::metrics::Metrics;
use poq_core::{Generation, GenerationRequest};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::time::Instant;
use tokio::sync::OwnedSemaphorePermit;
use tokio::sync::mpsc::Sender;

/// What the scheduler thread tells a request's handler, in this order: `Started` (or `Failed`
/// when the request cannot be admitted), `Text` as the answer grows, then `Done` or `Failed`.
#[derive(Debug)]
pub(crate) enum Reply {
    /// The prompt is prefilled; tokens follow.
    Started,
    /// New answer text (never empty, never a broken character or part of a stop string).
    Text(String),
    /// The whole answer; no more replies.
    Done(Generation),
    /// The request could not be admitted, or its generation failed; no more replies.
    Failed(Arc<Error>),
}

/// One request for the scheduler thread.
#[derive(Debug)]
pub(crate) struct Submission {
    pub(crate) request: GenerationRequest,
    /// Its replies; room for every reply it can get (see [`reply_capacity`]), so the scheduler
    /// never waits for a slow client.
    pub(crate) replies: Sender<Reply>,
    /// When the request arrived, for the latency metrics.
    pub(crate) arrived: Instant,
    /// Its admission slot in the server's queue bound.
    pub(crate) permit: OwnedSemaphorePermit,
}

/// Room for all replies of a request of `max_new_tokens`: `Started`, a `Text` per token plus the
/// tail at the end, and the last reply.
pub(crate) fn reply_capacity(max_new_tokens: usize) -> usize {
    max_new_tokens.saturating_add(3)
}

/// A running request's handler side.
struct Tracked {
    replies: Sender<Reply>,
    arrived: Instant,
    last_token: Option<Instant>,
    _permit: OwnedSemaphorePermit,
}

/// Starts the scheduler thread with a queue of `queue` submissions. The thread ends once every
/// sender is dropped and its running sequences are over.
pub(crate) fn spawn(
    generator: LocalGenerator,
    queue: usize,
    metrics: Arc<Metrics>,
) -> std::io::Result<(SyncSender<Submission>, std::thread::JoinHandle<()>)> {
    let (submit, submissions) = sync_channel(queue.max(1));
    let scheduler = Scheduler::new(generator);
    let thread = std::thread::Builder::new()
        .name("poq-scheduler".into())
        .spawn(move || BatchLoop { scheduler, metrics, tracked: HashMap::new() }.run(&submissions))?;
    Ok((submit, thread))
}

struct BatchLoop {
    scheduler: Scheduler,
    metrics: Arc<Metrics>,
    tracked: HashMap<SequenceId, Tracked>,
}

impl BatchLoop {
    fn run(mut self, submissions: &Receiver<Submission>) {
        loop {
            let mut waiting = Vec::new();
            if self.scheduler.running() == 0 {
                // Idle: wait for work; no sender left means the server is down.
                match submissions.recv() {
                    Ok(s) => waiting.push(s),
                    Err(_) => return,
                }
            }
            // New requests join between steps, as many as there are free slots, prefilled
            // together.
            let free = self.scheduler.capacity() - self.scheduler.running();
            while waiting.len() < free {
                match submissions.try_recv() {
                    Ok(s) => waiting.push(s),
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                }
            }
            self.admit(waiting);
            for event in self.scheduler.step() {
                self.dispatch(event);
            }
        }
    }

    fn admit(&mut self, waiting: Vec<Submission>) {
        let mut live = Vec::with_capacity(waiting.len());
        for s in waiting {
            self.metrics.dequeued();
            if s.replies.is_closed() {
                self.metrics.abandoned();
            } else {
                live.push(s);
            }
        }
        if live.is_empty() {
            return;
        }
        let requests: Vec<GenerationRequest> = live.iter().map(|s| s.request.clone()).collect();
        let results = match self.scheduler.admit_many(&requests) {
            Ok(results) => results,
            Err(e) => {
                let e = Arc::new(e);
                for s in live {
                    let _ = s.replies.try_send(Reply::Failed(e.clone()));
                }
                return;
            }
        };
        for (s, result) in live.into_iter().zip(results) {
            match result {
                Err(e) => {
                    let _ = s.replies.try_send(Reply::Failed(Arc::new(e)));
                }
                Ok(Admitted { id, prompt_tokens, events }) => {
                    self.metrics.started();
                    self.metrics.prompt(prompt_tokens);
                    let _ = s.replies.try_send(Reply::Started);
                    let tracked =
                        Tracked { replies: s.replies, arrived: s.arrived, last_token: None, _permit: s.permit };
                    self.tracked.insert(id, tracked);
                    for event in events {
                        self.dispatch(Event { id, event });
                    }
                }
            }
        }
    }

    /// Hands `event` to its request's handler; cancels the sequence when the handler has gone.
    fn dispatch(&mut self, Event { id, event }: Event) {
        let Some(t) = self.tracked.get_mut(&id) else { return };
        let now = Instant::now();
        match event {
            SequenceEvent::Token { text, .. } => {
                self.metrics.token(t.last_token.map(|l| now - l));
                if t.last_token.is_none() {
                    self.metrics.first_token(now - t.arrived);
                }
                t.last_token = Some(now);
                let delivered =
                    !t.replies.is_closed() && (text.is_empty() || t.replies.try_send(Reply::Text(text)).is_ok());
                if !delivered {
                    self.scheduler.cancel(id);
                    self.end(id, true);
                }
            }
            SequenceEvent::Finished { tail, generation } => {
                self.metrics.completed(now - t.arrived);
                if !tail.is_empty() {
                    let _ = t.replies.try_send(Reply::Text(tail));
                }
                let _ = t.replies.try_send(Reply::Done(generation));
                self.end(id, false);
            }
            SequenceEvent::Failed(e) => {
                let _ = t.replies.try_send(Reply::Failed(e));
                self.end(id, false);
            }
        }
    }

    /// Forgets a sequence that is over; its permit goes back to the server.
    fn end(&mut self, id: SequenceId, cancelled: bool) {
        if self.tracked.remove(&id).is_some() {
            self.metrics.ended(cancelled);
        }
    }
}
