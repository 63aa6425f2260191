//! The continuous-batching scheduler: requests that join a running batch get the tokens they get
//! alone, their text comes out piece by piece without broken characters or stop strings, finished
//! and cancelled sequences free their slots. An in-process echo model checks the mechanics; the
//! real SmolLM2 GGUF checks that batch membership never changes a token (skips when absent).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod echo;

use poq_core::{FinishReason, Generation, GenerationRequest, Generator, Sampling};
use poq_infer::{Error, LoadOptions, LocalGenerator, Scheduler, SequenceEvent, SequenceId};
use std::collections::BTreeMap;
use std::time::Duration;

/// What a sequence produced: its text pieces, its tokens and its final answer.
#[derive(Debug, Default)]
struct Collected {
    pieces: Vec<String>,
    tokens: Vec<u32>,
    generation: Option<Generation>,
}

impl Collected {
    fn take(&mut self, event: SequenceEvent) {
        match event {
            SequenceEvent::Token { token, text } => {
                self.tokens.push(token);
                self.pieces.push(text);
            }
            SequenceEvent::Finished { tail, generation } => {
                self.pieces.push(tail);
                assert!(self.generation.replace(generation).is_none(), "finished twice");
            }
            SequenceEvent::Failed(e) => panic!("sequence failed: {e}"),
        }
    }

    fn generation(&self) -> &Generation {
        self.generation.as_ref().expect("finished")
    }

    /// The pieces add up to the answer, and none is a broken character.
    fn check_pieces(&self) {
        let joined: String = self.pieces.concat();
        assert_eq!(joined, self.generation().text, "pieces {:?}", self.pieces);
        assert!(self.pieces.iter().all(|p| !p.contains('\u{FFFD}')), "broken character in {:?}", self.pieces);
    }
}

/// Admits `requests[i]` after `joins_after[i]` steps of the running batch (or later, when a slot
/// frees), steps until all are done (bounded), and returns what each produced.
fn run_joining(s: &mut Scheduler, requests: &[GenerationRequest], joins_after: &[usize]) -> Vec<Collected> {
    let mut out: Vec<Collected> = requests.iter().map(|_| Collected::default()).collect();
    let mut ids: BTreeMap<SequenceId, usize> = BTreeMap::new();
    let mut steps = 0;
    while out.iter().any(|c| c.generation.is_none()) {
        for (i, r) in requests.iter().enumerate() {
            if joins_after[i] <= steps && s.has_free_slot() && !ids.values().any(|&v| v == i) {
                let admitted = s.admit(r).unwrap();
                ids.insert(admitted.id, i);
                admitted.events.into_iter().for_each(|e| out[i].take(e));
            }
        }
        for e in s.step() {
            out[ids[&e.id]].take(e.event);
        }
        steps += 1;
        assert!(steps < 10_000, "the batch never ended");
    }
    assert_eq!(s.running(), 0);
    out
}

fn same_answer(a: &Generation, b: &Generation, what: &str) {
    assert_eq!(
        (&a.text, a.generated_tokens, a.prompt_tokens, a.finish_reason),
        (&b.text, b.generated_tokens, b.prompt_tokens, b.finish_reason),
        "{what}"
    );
}

#[test]
fn a_request_joins_the_running_batch_and_gets_its_own_answer() {
    let (g, log) = echo::generator(Duration::ZERO, 4, true, 512);
    let mut s = Scheduler::new(g);
    assert_eq!(s.capacity(), 4);
    let requests = vec![
        GenerationRequest::user("héllo wörld, ünïcödé ✓ 日本語 — first answer", 200),
        GenerationRequest::user("zweite Antwort: größer, schöner", 200),
        GenerationRequest::user("third, cut by its budget", 5),
    ];
    let out = run_joining(&mut s, &requests, &[0, 3, 7]);
    let widths = log.lock().unwrap().widths.clone();
    assert_eq!(widths[..3], [1, 1, 1], "the first request ran alone first");
    assert!(widths.contains(&3), "all three decoded together at some step: {widths:?}");
    let mut alone = s.into_generator();
    for (i, (r, c)) in requests.iter().zip(&out).enumerate() {
        c.check_pieces();
        let g = alone.generate(r).unwrap();
        same_answer(c.generation(), &g, &format!("request {i}"));
        assert_eq!(c.tokens.len(), g.generated_tokens);
    }
    // The echo model answers with the prompt itself, then EOS (which ends with `Stop`).
    assert_eq!(out[0].generation().text, "héllo wörld, ünïcödé ✓ 日本語 — first answer");
    assert_eq!(out[0].generation().finish_reason, FinishReason::Stop);
    assert_eq!(out[2].generation().text, "third");
    assert_eq!(out[2].generation().finish_reason, FinishReason::Length);
    // Multi-byte characters span several tokens here, so some tokens added no text.
    assert!(out[0].pieces.iter().any(String::is_empty));
}

#[test]
fn stop_strings_are_never_streamed() {
    let (g, _) = echo::generator(Duration::ZERO, 2, true, 512);
    let mut s = Scheduler::new(g);
    let mut r = GenerationRequest::user("one two three STOP four", 100);
    r.stop = vec!["STOP".into(), "tw!".into()];
    let out = run_joining(&mut s, &[r], &[0]);
    let c = &out[0];
    c.check_pieces();
    assert_eq!(c.generation().text, "one two three ");
    assert_eq!(c.generation().finish_reason, FinishReason::Stop);
    // "tw" may start "tw!" so it was held back until "o" ruled it out; "ST", "STO" likewise.
    let mut given = String::new();
    for p in &c.pieces {
        given.push_str(p);
        assert!(!given.contains("ST"), "a stop string's start went out: {given:?}");
    }
}

#[test]
fn finished_and_cancelled_sequences_free_their_slots() {
    let (g, _) = echo::generator(Duration::ZERO, 2, true, 512);
    let mut s = Scheduler::new(g);
    let long = GenerationRequest::user("a fairly long prompt that the echo model repeats", 500);
    let a = s.admit(&long).unwrap().id;
    let b = s.admit(&long).unwrap().id;
    assert!(!s.has_free_slot());
    let e = s.admit(&long).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument { name: "request", .. }), "{e}");
    s.step();
    assert!(s.cancel(a));
    assert!(!s.cancel(a), "already gone");
    assert_eq!(s.running(), 1);
    let c = s.admit(&GenerationRequest::user("short", 10)).unwrap().id;
    assert_ne!(c, a);
    // Only b and c run now; a never shows up again.
    for _ in 0..100 {
        assert!(s.step().iter().all(|e| e.id != a));
    }
    assert_eq!(s.running(), 0);
    assert!(!s.cancel(b));
    // A zero budget never takes a slot; a prompt past the context is refused before anything runs.
    let zero = s.admit(&GenerationRequest::user("x", 0)).unwrap();
    assert!(
        matches!(&zero.events[..], [SequenceEvent::Finished { generation, .. }] if generation.generated_tokens == 0)
    );
    assert_eq!(s.running(), 0);
    let e = s.admit(&GenerationRequest::user("word ".repeat(600), 4)).unwrap_err();
    assert!(e.to_string().contains("context"), "{e}");
    let mut bad = GenerationRequest::user("x", 4);
    bad.sampling.temperature = -1.0;
    assert!(s.admit(&bad).is_err());
    assert_eq!(s.running(), 0);
}

#[test]
fn requests_admitted_together_get_one_result_each() {
    let (g, log) = echo::generator(Duration::ZERO, 3, true, 512);
    let mut s = Scheduler::new(g);
    let mut bad = GenerationRequest::user("bad sampling", 4);
    bad.sampling.temperature = -1.0;
    let requests = vec![
        GenerationRequest::user("first", 50),
        bad,
        GenerationRequest::user("no budget", 0),
        GenerationRequest::user("second ✓", 50),
        GenerationRequest::user("third", 50),
        GenerationRequest::user("no room left", 50),
    ];
    let results = s.admit_many(&requests).unwrap();
    assert_eq!(results.len(), requests.len());
    let kinds: Vec<&str> = results
        .iter()
        .map(|r| match r {
            Ok(a) if a.events.iter().any(SequenceEvent::is_last) => "finished",
            Ok(_) => "running",
            Err(Error::InvalidArgument { name: "request", .. }) => "no slot",
            Err(_) => "refused",
        })
        .collect();
    assert_eq!(kinds, ["running", "refused", "finished", "running", "running", "no slot"]);
    assert_eq!(s.running(), 3);
    assert_eq!(log.lock().unwrap().starts, 3, "only the admitted prompts ran");
    let ids: Vec<SequenceId> = results.iter().filter_map(|r| r.as_ref().ok().map(|a| a.id)).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids follow the requests' order: {ids:?}");
    // An empty call admits nothing.
    assert!(s.admit_many(&[]).unwrap().is_empty());
}

#[test]
fn the_context_ends_a_sequence_as_it_ends_generate() {
    let prompt = "the context ends this answer halfway through its prompt";
    let prompt_tokens = echo::tokenizer().encode(prompt, false).unwrap().len();
    let (g, _) = echo::generator(Duration::ZERO, 2, true, prompt_tokens + prompt_tokens / 2);
    let mut s = Scheduler::new(g);
    let r = GenerationRequest::user(prompt, 100);
    let out = run_joining(&mut s, std::slice::from_ref(&r), &[0]);
    let want = s.into_generator().generate(&r).unwrap();
    same_answer(out[0].generation(), &want, "context-limited");
    assert_eq!(want.finish_reason, FinishReason::Length);
}

#[test]
fn models_without_batching_run_one_sequence_at_a_time() {
    let (g, log) = echo::generator(Duration::ZERO, 8, false, 512);
    let mut s = Scheduler::new(g);
    assert_eq!(s.capacity(), 1);
    let r1 = GenerationRequest::user("first ✓", 50);
    let r2 = GenerationRequest::user("second", 50);
    let a = run_joining(&mut s, std::slice::from_ref(&r1), &[0]);
    let b = run_joining(&mut s, std::slice::from_ref(&r2), &[0]);
    assert!(log.lock().unwrap().widths.iter().all(|&w| w == 1));
    let mut g = s.into_generator();
    for (c, r) in [(&a[0], &r1), (&b[0], &r2)] {
        c.check_pieces();
        same_answer(c.generation(), &g.generate(r).unwrap(), "one at a time");
    }
}

fn smollm2() -> Option<LocalGenerator> {
    let p = common::real_model("SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf")?;
    Some(LocalGenerator::load(p.to_str().unwrap(), &LoadOptions::default()).unwrap())
}

/// The property continuous batching rests on: the GGUF decoder's sums do not depend on the other
/// rows of a step, so a request's tokens are the same whether it runs alone, joins a batch
/// mid-way, or is joined by others; greedy and seeded sampling alike.
#[test]
fn smollm2_tokens_do_not_depend_on_when_a_request_joins() {
    let Some(g) = smollm2() else { return };
    let sampled = |prompt: &str, seed| {
        let mut r = GenerationRequest::user(prompt, 24);
        r.sampling = Sampling { temperature: 0.9, top_k: Some(40), top_p: Some(0.95), repetition_penalty: 1.1, seed };
        r
    };
    let mut stopped = GenerationRequest::user("What is the capital of France?", 24);
    stopped.stop = vec!["Paris".into()];
    let requests = vec![
        GenerationRequest::user("What is the capital of France?", 24),
        sampled("Write a word.", 7),
        GenerationRequest::user("Name three colours.", 20),
        sampled("Tell me about the sea.", 11),
        stopped,
    ];
    let mut s = Scheduler::new(g.with_max_batch(4));
    // The first runs alone for a while; the others join at different steps; the fifth waits for
    // a free slot (4 places) only if all are still running.
    let out = run_joining(&mut s, &requests, &[0, 2, 5, 5, 9]);
    let mut alone = s.into_generator();
    for (i, (r, c)) in requests.iter().zip(&out).enumerate() {
        c.check_pieces();
        let want = alone.generate(r).unwrap();
        same_answer(c.generation(), &want, &format!("request {i} joined vs generate"));
    }
    // The same requests all admitted together, in the reverse order, give the same answers again.
    let mut s = Scheduler::new(alone);
    let reversed: Vec<GenerationRequest> = requests.iter().rev().cloned().collect();
    let again = run_joining(&mut s, &reversed, &[0, 0, 0, 0, 1]);
    for (i, c) in again.iter().rev().enumerate() {
        same_answer(c.generation(), out[i].generation(), &format!("request {i} in another batch"));
        assert_eq!(c.tokens, out[i].tokens, "request {i}: token ids");
    }
    // Admitted together (one prompt pass, the chat template's system prompt copied from the
    // cached sequences): the same answers; the fifth finds no free slot and is refused alone.
    let mut s = Scheduler::new(s.into_generator());
    let mut together: Vec<Collected> = requests.iter().map(|_| Collected::default()).collect();
    let mut ids = BTreeMap::new();
    for _round in 0..2 {
        let results = s.admit_many(&requests).unwrap();
        assert_eq!(results.len(), requests.len());
        for (i, r) in results.into_iter().enumerate() {
            match r {
                Ok(a) => {
                    ids.insert(a.id, i);
                    together[i] = Collected::default();
                    a.events.into_iter().for_each(|e| together[i].take(e));
                }
                Err(e) => assert!(i == 4 && e.to_string().contains("all 4 sequences are running"), "{i}: {e}"),
            }
        }
        while s.running() > 0 {
            for e in s.step() {
                together[ids[&e.id]].take(e.event);
            }
        }
    }
    for (i, c) in together.iter().take(4).enumerate() {
        c.check_pieces();
        assert_eq!(c.tokens, out[i].tokens, "request {i} admitted together: token ids");
    }
    assert!(out[0].generation().text.contains("Paris"), "{:?}", out[0].generation().text);
    assert!(!out[4].generation().text.contains("Paris"));
}
