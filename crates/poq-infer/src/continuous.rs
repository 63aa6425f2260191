//! Continuous batching: requests join and leave a running batch one decoding step at a time
//! ([`Scheduler`]).

use crate::error::{Error, Result};
use crate::local::{CausalLm, Live, LocalGenerator, check_prompt, find_stop};
use crate::sampling::Sampler;
use crate::tokenizer::TextTokenizer;
use poq_core::{Generation, GenerationRequest};
use std::sync::Arc;
use std::time::Instant;

/// Identifies an admitted sequence for as long as its [`Scheduler`] lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SequenceId(u64);

impl SequenceId {
    /// The number behind the id (admission order, from 0).
    pub fn get(self) -> u64 {
        self.0
    }
}

/// What happened to one sequence.
///
/// The `text` of a sequence's `Token` events followed by its `Finished` event's `tail` is its
/// answer's text exactly ([`Generation::text`]): text is handed out only once it can no longer
/// change, so a multi-byte character split over tokens is never broken and nothing at or after a
/// stop string is ever given out.
#[derive(Debug)]
pub enum SequenceEvent {
    /// One generated token and the text it adds; the text is empty while held back (an unfinished
    /// UTF-8 character, the end-of-sequence token, or what may be the start of a stop string).
    Token {
        /// The token id.
        token: u32,
        /// New answer text, possibly empty.
        text: String,
    },
    /// The sequence ended and its slot is free.
    Finished {
        /// Answer text not given out by `Token` events yet.
        tail: String,
        /// The whole answer with its counts and times, as `generate` reports them.
        generation: Generation,
    },
    /// The sequence failed and its slot is free. A failed decoding step fails every sequence in
    /// it with the same error.
    Failed(Arc<Error>),
}

impl SequenceEvent {
    /// Whether the sequence is over (finished or failed).
    pub fn is_last(&self) -> bool {
        !matches!(self, SequenceEvent::Token { .. })
    }
}

/// One sequence's event.
#[derive(Debug)]
pub struct Event {
    /// The sequence.
    pub id: SequenceId,
    /// What happened.
    pub event: SequenceEvent,
}

/// A request taken into a slot by [`Scheduler::admit`].
#[derive(Debug)]
pub struct Admitted {
    /// Its id in later events.
    pub id: SequenceId,
    /// The length of its rendered prompt.
    pub prompt_tokens: usize,
    /// Its first events: a `Token`, and `Finished` when that token already ends it (only
    /// `Finished` for a zero token budget).
    pub events: Vec<SequenceEvent>,
}

/// The stop-string check of one sequence (the one `generate` uses).
type StopCheck = Box<dyn FnMut(&[u32]) -> Result<bool> + Send>;

/// A sequence holding a slot.
struct Running {
    id: SequenceId,
    live: Live<StopCheck>,
    prompt_tokens: usize,
    stops: Vec<String>,
    text: TextStream,
}

/// Continuous batching over a [`LocalGenerator`]: requests join and leave a running batch one
/// decoding step at a time.
///
/// It holds up to [`capacity`](Self::capacity) sequences. A request is
/// [admitted](Self::admit) into a free slot as soon as there is one: its prompt is prefilled
/// there and it joins the others at the next [`step`](Self::step), which advances every running
/// sequence by one token in one pass over the weights. A sequence that ends (EOS, a stop string,
/// its token budget, the context) or is [cancelled](Self::cancel) frees its slot at once. Each
/// sequence keeps its own sampler, seed, stop strings and budget, and the GGUF decoder's sums do
/// not depend on the other rows of a step, so a request's tokens are the ones
/// [`Generator::generate`](poq_core::Generator::generate) gives it alone, whenever it joins.
///
/// Prompts are prefilled in passes of their own between two steps, and the running sequences
/// wait for them: feeding a prompt's tokens along with their steps would run them through the
/// decoding kernels instead of the prompt kernels, whose rounding differs, and change its answer.
/// Requests admitted together ([`admit_many`](Self::admit_many)) share one prompt pass, and a
/// prompt that begins like one still cached (a chat template's system prompt) copies those
/// positions: both give the same bits as the prompt's own pass. The caches therefore stay
/// allocated between requests; [`into_generator`](Self::into_generator) frees them.
///
/// Models without batched decoding ([`CausalLm::batch`] is `None`) get one slot: requests then
/// run one after the other, still token by token.
///
/// Times in each [`Generation`]: `prefill` is its share of the prompt pass it took part in (split
/// by prompt length) and its first token;
/// `decode` is its share of the steps it took part in (a step's time split evenly over its
/// sequences) plus its own sampling, as [`Generator::generate_batch`](poq_core::Generator) reports.
pub struct Scheduler {
    generator: LocalGenerator,
    slots: Vec<Option<Running>>,
    next_id: u64,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("generator", &self.generator)
            .field("capacity", &self.slots.len())
            .field("running", &self.running())
            .finish()
    }
}

impl Scheduler {
    /// A scheduler with [`LocalGenerator::with_max_batch`] slots (capped by what the model
    /// holds), or one slot when the model cannot decode sequences together.
    pub fn new(mut generator: LocalGenerator) -> Self {
        let max_batch = generator.max_batch();
        let width = generator.model_mut().batch().map_or(1, |b| max_batch.min(b.max_sequences()).max(1));
        Scheduler { generator, slots: (0..width).map(|_| None).collect(), next_id: 0 }
    }

    /// The generator (its name, tokenizer, prompt format).
    pub fn generator(&self) -> &LocalGenerator {
        &self.generator
    }

    /// Gives the generator back, dropping every running sequence.
    pub fn into_generator(mut self) -> LocalGenerator {
        self.slots.iter_mut().for_each(|s| *s = None);
        self.release_if_idle();
        self.generator
    }

    /// How many sequences run at once at most.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// How many sequences are running.
    pub fn running(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    /// Whether [`admit`](Self::admit) would find a slot.
    pub fn has_free_slot(&self) -> bool {
        self.slots.iter().any(Option::is_none)
    }

    /// Prefills `request` into a free slot and samples its first token; it joins the running
    /// batch at the next [`step`](Self::step).
    ///
    /// Errors (nothing is admitted then, the slot stays free): no free slot, a prompt that does
    /// not fit the context, invalid sampling settings, a failing template, tokenizer or model.
    pub fn admit(&mut self, request: &GenerationRequest) -> Result<Admitted> {
        let mut one = self.admit_many(std::slice::from_ref(request))?;
        one.pop().unwrap_or_else(|| {
            Err(Error::InvalidArgument { name: "request", message: "no admission result for the request".into() })
        })
    }

    /// [`admit`](Self::admit) for several requests at once: their prompts are prefilled together
    /// (one pass over the weights, a beginning shared with a cached prompt computed once; see
    /// [`BatchLm::start_many`](crate::BatchLm::start_many)), each still getting the tokens it gets
    /// alone. One result per request, in order: a request that cannot be admitted (no free slot
    /// left, a bad prompt or sampling setting) gets its error and the others go on. The outer
    /// error is the model's prompt pass failing, which admits none of them.
    pub fn admit_many(&mut self, requests: &[GenerationRequest]) -> Result<Vec<Result<Admitted>>> {
        let free_slots: Vec<usize> = (0..self.slots.len()).filter(|&s| self.slots[s].is_none()).collect();
        let mut free = free_slots.into_iter();
        let mut results: Vec<Option<Result<Admitted>>> = Vec::with_capacity(requests.len());
        // (index in `requests`, slot, prompt, sequence) of each request to prefill.
        let mut prefills: Vec<(usize, usize, Vec<u32>, Running)> = Vec::new();
        for (i, request) in requests.iter().enumerate() {
            let prepared = self.prepare(request);
            let (prompt, running) = match prepared {
                Ok(p) => p,
                Err(e) => {
                    results.push(Some(Err(e)));
                    continue;
                }
            };
            if request.max_new_tokens == 0 {
                let prompt_tokens = running.prompt_tokens;
                results.push(Some(Ok(Admitted { id: running.id, prompt_tokens, events: vec![self.finish(running)] })));
                continue;
            }
            let Some(slot) = free.next() else {
                results.push(Some(Err(Error::InvalidArgument {
                    name: "request",
                    message: format!("all {} sequences are running: admit when one has finished", self.slots.len()),
                })));
                continue;
            };
            results.push(None);
            prefills.push((i, slot, prompt, running));
        }
        if prefills.is_empty() {
            return Ok(results.into_iter().flatten().collect());
        }
        let started = Instant::now();
        let starts: Vec<(usize, &[u32])> =
            prefills.iter().map(|(_, slot, prompt, _)| (*slot, prompt.as_slice())).collect();
        let all_logits = match prefill(self.generator.model_mut(), &starts) {
            Ok(l) => l,
            Err(e) => {
                self.release_if_idle();
                return Err(e);
            }
        };
        // The pass's time, split over its prompts by their lengths.
        let pass = started.elapsed();
        let total: usize = prefills.iter().map(|(_, _, p, _)| p.len()).sum();
        for ((i, slot, prompt, mut running), mut logits) in prefills.into_iter().zip(all_logits) {
            let sampled = Instant::now();
            let admitted = running.live.sampler.sample(&mut logits, &running.live.context).and_then(|token| {
                running.live.out.prefill = pass.mul_f64(prompt.len() as f64 / total as f64) + sampled.elapsed();
                let ended = self.advance(&mut running, token)?;
                let (id, prompt_tokens) = (running.id, running.prompt_tokens);
                let mut events = vec![running.token_event(token)];
                if ended {
                    events.push(self.finish(running));
                } else {
                    self.slots[slot] = Some(running);
                }
                Ok(Admitted { id, prompt_tokens, events })
            });
            results[i] = Some(admitted);
        }
        Ok(results.into_iter().flatten().collect())
    }

    /// A request's prompt and its sequence, checked, with the next id.
    fn prepare(&mut self, request: &GenerationRequest) -> Result<(Vec<u32>, Running)> {
        let prompt = self.generator.prompt_of(request)?;
        check_prompt(&prompt, self.generator.context_length())?;
        let sampler = Sampler::new(&request.sampling)?;
        let stops = self.generator.stops_of(request);
        let check: StopCheck = Box::new(self.generator.stop_check(&stops));
        let live = Live::new(sampler, &prompt, request.max_new_tokens, check);
        let id = SequenceId(self.next_id);
        self.next_id += 1;
        let prompt_tokens = prompt.len();
        Ok((prompt, Running { id, live, prompt_tokens, stops, text: TextStream::default() }))
    }

    /// Advances every running sequence by one token, in one step; returns their events in slot
    /// order. Finished and failed sequences free their slots. Nothing happens when none runs.
    pub fn step(&mut self) -> Vec<Event> {
        let active: Vec<usize> = (0..self.slots.len()).filter(|&s| self.slots[s].is_some()).collect();
        if active.is_empty() {
            return Vec::new();
        }
        let (tokens, positions): (Vec<u32>, Vec<usize>) = active
            .iter()
            .filter_map(|&s| self.slots[s].as_ref())
            .map(|r| (r.live.context.last().copied().unwrap_or(0), r.live.context.len() - 1))
            .unzip();
        let started = Instant::now();
        let all_logits = match decode_step(self.generator.model_mut(), &active, &tokens, &positions) {
            Ok(l) => l,
            Err(e) => return self.fail_all(&active, e),
        };
        let share = started.elapsed() / active.len() as u32;
        let mut events = Vec::with_capacity(active.len() + 1);
        for (&slot, mut logits) in active.iter().zip(all_logits) {
            let Some(mut running) = self.slots[slot].take() else { continue };
            let id = running.id;
            let sampled = Instant::now();
            let outcome = running.live.sampler.sample(&mut logits, &running.live.context).and_then(|token| {
                running.live.out.decode += share + sampled.elapsed();
                Ok((token, self.advance(&mut running, token)?))
            });
            match outcome {
                Ok((token, ended)) => {
                    events.push(Event { id, event: running.token_event(token) });
                    if ended {
                        events.push(Event { id, event: self.finish(running) });
                    } else {
                        self.slots[slot] = Some(running);
                    }
                }
                Err(e) => events.push(Event { id, event: SequenceEvent::Failed(Arc::new(e)) }),
            }
        }
        events
    }

    /// Ends sequence `id` now and frees its slot; false when it is not running.
    pub fn cancel(&mut self, id: SequenceId) -> bool {
        let Some(place) = self.slots.iter_mut().find(|s| s.as_ref().is_some_and(|r| r.id == id)) else {
            return false;
        };
        *place = None;
        true
    }

    /// Records `token` for `running` (its stop checks and its text); whether it ended there.
    fn advance(&self, running: &mut Running, token: u32) -> Result<bool> {
        let (ctx, eos) = (self.generator.context_length(), self.generator.eos_ids());
        let ended = running.live.push(token, ctx, eos)?;
        running.text.push(token, self.generator.tokenizer(), eos, &running.stops)?;
        Ok(ended)
    }

    /// The `Finished` (or, when the text cannot be decoded, `Failed`) event of an ended sequence.
    fn finish(&self, running: Running) -> SequenceEvent {
        let Running { live, prompt_tokens, stops, mut text, .. } = running;
        match self.generator.to_generation(prompt_tokens, live.out, &stops) {
            Ok(generation) => SequenceEvent::Finished { tail: text.tail(&generation.text), generation },
            Err(e) => SequenceEvent::Failed(Arc::new(e)),
        }
    }

    /// Fails the sequences of `slots` with one shared error and frees their slots.
    fn fail_all(&mut self, slots: &[usize], error: Error) -> Vec<Event> {
        let error = Arc::new(error);
        slots
            .iter()
            .filter_map(|&s| self.slots[s].take())
            .map(|r| Event { id: r.id, event: SequenceEvent::Failed(error.clone()) })
            .collect()
    }

    /// Frees the model's caches when nothing runs. Only on the way out or after a failed pass:
    /// between requests the caches stay, so that a prompt beginning like an earlier one reuses
    /// its computed positions.
    fn release_if_idle(&mut self) {
        if self.running() == 0
            && let Some(batch) = self.generator.model_mut().batch()
        {
            batch.release();
        }
    }
}

impl Running {
    /// The `Token` event of `token`, with the text that became safe to give out.
    fn token_event(&mut self, token: u32) -> SequenceEvent {
        SequenceEvent::Token { token, text: self.text.take_ready() }
    }
}

/// The prompt pass of each `(slot, prompt)`: the batch's own sequences, or the single cache of a
/// model without them (which has one slot, so one prompt).
fn prefill(model: &mut dyn CausalLm, starts: &[(usize, &[u32])]) -> Result<Vec<Vec<f32>>> {
    if let Some(batch) = model.batch() {
        return batch.start_many(starts);
    }
    starts
        .iter()
        .map(|&(_, prompt)| {
            model.reset()?;
            model.forward(prompt, 0)
        })
        .collect()
}

/// One decoding step: `tokens[i]` at position `positions[i]` of `slots[i]`. A model without
/// batched decoding has one slot, so it feeds its one token to its one cache.
fn decode_step(
    model: &mut dyn CausalLm,
    slots: &[usize],
    tokens: &[u32],
    positions: &[usize],
) -> Result<Vec<Vec<f32>>> {
    if let Some(batch) = model.batch() {
        return batch.step(slots, tokens);
    }
    match (tokens, positions) {
        ([token], [pos]) => Ok(vec![model.forward(std::slice::from_ref(token), *pos)?]),
        _ => Err(Error::InvalidArgument {
            name: "slots",
            message: format!("{} sequences in one step of a model that decodes one at a time", slots.len()),
        }),
    }
}

/// Incremental detokenization of one answer.
///
/// Decodes a short window of recent tokens instead of the whole answer (the method of Hugging
/// Face's text-generation-inference): the window's text minus the text of its older part is the
/// new text, and it is kept only once it does not end in U+FFFD, the mark of an unfinished UTF-8
/// character. Tokens are decoded as the answer is (EOS left out, special tokens skipped).
#[derive(Debug, Default)]
struct TextStream {
    /// Generated ids, EOS left out.
    ids: Vec<u32>,
    /// Start of the decoding window.
    prefix_offset: usize,
    /// End of the part of the window already turned into text.
    read_offset: usize,
    /// The answer's text as far as it is known.
    text: String,
    /// Bytes of `text` ready to be given out (never inside a possible stop string).
    ready: usize,
    /// Bytes of `text` given out.
    given: usize,
}

impl TextStream {
    fn push(&mut self, token: u32, tokenizer: &TextTokenizer, eos: &[u32], stops: &[String]) -> Result<()> {
        if eos.contains(&token) {
            return Ok(());
        }
        self.ids.push(token);
        let window = self.ids.get(self.prefix_offset..).unwrap_or_default();
        let read = self.ids.get(self.prefix_offset..self.read_offset).unwrap_or_default();
        let (before, now) = (tokenizer.decode(read, true)?, tokenizer.decode(window, true)?);
        if let Some(new) = now.strip_prefix(before.as_str())
            && !new.is_empty()
            && !now.ends_with('\u{FFFD}')
        {
            self.text.push_str(new);
            self.prefix_offset = self.read_offset;
            self.read_offset = self.ids.len();
        }
        self.ready = safe_end(&self.text, stops);
        Ok(())
    }

    /// The ready text not given out yet.
    fn take_ready(&mut self) -> String {
        let out = self.text.get(self.given..self.ready.max(self.given)).unwrap_or_default().to_owned();
        self.given = self.given.max(self.ready);
        out
    }

    /// What the answer `final_text` holds past the text given out. The given text is a prefix of
    /// the answer (both decode the same tokens); were it not, nothing more is given.
    fn tail(&mut self, final_text: &str) -> String {
        let given = self.text.get(..self.given).unwrap_or_default();
        final_text.strip_prefix(given).unwrap_or_default().to_owned()
    }
}

/// How much of `text` can be given out: all of it up to the first stop string, less any ending
/// that may be the start of one.
fn safe_end(text: &str, stops: &[String]) -> usize {
    if let Some(i) = find_stop(text, stops) {
        return i;
    }
    let held = stops
        .iter()
        .filter_map(|stop| {
            // The longest proper prefix of `stop` that `text` ends with.
            (1..stop.len()).rev().find(|&k| stop.get(..k).is_some_and(|p| text.ends_with(p)))
        })
        .max()
        .unwrap_or(0);
    text.len() - held
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_prefixes_are_held_back() {
        let stops = vec!["END".to_string(), "\n\n".to_string()];
        assert_eq!(safe_end("abc", &stops), 3);
        assert_eq!(safe_end("abcE", &stops), 3);
        assert_eq!(safe_end("abcEN", &stops), 3);
        assert_eq!(safe_end("abc\n", &stops), 3);
        assert_eq!(safe_end("abENDx", &stops), 2);
        assert_eq!(safe_end("héllo", &["é!".to_string()]), "héllo".len());
        assert_eq!(safe_end("hé", &["é!".to_string()]), 1);
        assert_eq!(safe_end("anything", &[]), 8);
    }
}
