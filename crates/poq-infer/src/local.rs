use crate::candle::SafetensorsModel;
use crate::chat_template::ChatTemplate;
use crate::device::{LoadOptions, default_dtype};
use crate::error::{Error, Result};
use crate::few_shot::FewShot;
use crate::gguf;
use crate::model_dir::ModelDir;
use crate::sampling::Sampler;
use crate::tokenizer::TextTokenizer;
use poq_core::{ChatMessage, FinishReason, Generation, GenerationRequest, Generator, Sampling};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// A causal language model with a KV cache: feed tokens at a position, get next-token logits.
pub trait CausalLm: Send + std::fmt::Debug {
    /// Runs `tokens` starting at position `pos` (0 starts a new sequence) and returns the logits
    /// of the token after the last one.
    fn forward(&mut self, tokens: &[u32], pos: usize) -> Result<Vec<f32>>;
    /// Drops the KV cache.
    fn reset(&mut self) -> Result<()>;
    /// The most positions the model can hold.
    fn context_length(&self) -> usize;
    /// Batched decoding, for models that hold several sequences.
    fn batch(&mut self) -> Option<&mut dyn BatchLm> {
        None
    }
}

/// A model that holds several sequences, each with its own cache, and advances them together:
/// one step reads the weights once for all of them.
pub trait BatchLm {
    /// How many sequences it can hold.
    fn max_sequences(&self) -> usize;
    /// Starts sequence `slot` with `prompt`, forgetting what it held; the logits after the prompt.
    fn start(&mut self, slot: usize, prompt: &[u32]) -> Result<Vec<f32>>;
    /// Starts every `(slot, prompt)` (distinct slots); the logits after each prompt, in order.
    /// Each prompt's logits and cache must be those [`start`](Self::start) gives it alone; a model
    /// may share work between the prompts (one pass over the weights, a common beginning).
    fn start_many(&mut self, starts: &[(usize, &[u32])]) -> Result<Vec<Vec<f32>>> {
        starts.iter().map(|&(slot, prompt)| self.start(slot, prompt)).collect()
    }
    /// Feeds `tokens[i]` to sequence `slots[i]` at its next position, in one step; each
    /// sequence's next-token logits, in order.
    fn step(&mut self, slots: &[usize], tokens: &[u32]) -> Result<Vec<Vec<f32>>>;
    /// Frees every sequence's cache.
    fn release(&mut self);
}

/// Token ids produced by [`LocalGenerator::generate_tokens`] and what they took.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenGeneration {
    /// Generated ids, an ending EOS included.
    pub tokens: Vec<u32>,
    /// Prompt forward pass plus choosing the first token.
    pub prefill: Duration,
    /// Everything after the first token.
    pub decode: Duration,
    /// EOS or a stop callback (`Stop`), or the token budget or context (`Length`).
    pub finish_reason: FinishReason,
}

/// A local chat model: weights, tokenizer, prompt format and stop tokens.
///
/// [`LocalGenerator`]: a chat model run in this process (safetensors or GGUF) behind
/// `poq_core::Generator`, with the generation loop, stop conditions and timings.
#[derive(Debug)]
pub struct LocalGenerator {
    name: String,
    model: Box<dyn CausalLm>,
    tokenizer: TextTokenizer,
    prompt: PromptFormat,
    eos_ids: Vec<u32>,
    max_batch: usize,
}

/// How a conversation becomes the prompt string.
#[derive(Debug)]
enum PromptFormat {
    /// The model's own chat template.
    Chat(ChatTemplate),
    /// A base model's few-shot transcript (no template shipped).
    FewShot(FewShot),
}

/// Sequences decoded together by [`LocalGenerator::generate_batch`] unless set otherwise.
pub const DEFAULT_MAX_BATCH: usize = 8;

impl LocalGenerator {
    /// Assembles a generator from its parts; without a chat template, prompts are the
    /// [`FewShot`] transcript with its default examples and no BOS string.
    pub fn new(
        name: impl Into<String>,
        model: Box<dyn CausalLm>,
        tokenizer: TextTokenizer,
        template: Option<ChatTemplate>,
        eos_ids: Vec<u32>,
    ) -> Self {
        let prompt = match template {
            Some(t) => PromptFormat::Chat(t),
            None => PromptFormat::FewShot(FewShot::with_default_examples(None)),
        };
        LocalGenerator { name: name.into(), model, tokenizer, prompt, eos_ids, max_batch: DEFAULT_MAX_BATCH }
    }

    /// Replaces the few-shot prompt of a model without a chat template (models with one keep it).
    pub fn with_few_shot(mut self, few_shot: FewShot) -> Self {
        if let PromptFormat::FewShot(f) = &mut self.prompt {
            *f = few_shot;
        }
        self
    }

    /// How many sequences [`generate_batch`](Generator::generate_batch) decodes together (at
    /// least 1; models without batched decoding take one at a time).
    pub fn with_max_batch(mut self, max_batch: usize) -> Self {
        self.max_batch = max_batch.max(1);
        self
    }

    /// Loads a `.gguf` file, a model folder (safetensors), or, with the `hub` feature, a Hugging
    /// Face model id.
    pub fn load(model: &str, options: &LoadOptions) -> Result<Self> {
        let path = Path::new(model);
        if path.is_file() {
            return Self::load_gguf(path, options);
        }
        let dir = ModelDir::resolve(model)?;
        Self::load_dir(&dir, options)
    }

    /// Loads a GGUF file; `options.tokenizer` replaces the tokenizer built from its metadata.
    pub fn load_gguf(path: &Path, options: &LoadOptions) -> Result<Self> {
        if path.extension().and_then(|e| e.to_str()) != Some("gguf") {
            return Err(Error::Unsupported(format!("{}: expected a .gguf file or a model folder", path.display())));
        }
        let file = gguf::load_with(path, &options.device, options.gguf_precision)?;
        let tok = file.tokenizer;
        let tokenizer = match &options.tokenizer {
            Some(p) => TextTokenizer::from_file(p)?,
            None => tok.tokenizer,
        };
        let mut special = BTreeMap::new();
        if let Some(b) = tok.bos_token {
            special.insert("bos_token".to_string(), b);
        }
        if let Some(e) = tok.eos_token {
            special.insert("eos_token".to_string(), e);
        }
        let bos = special.get("bos_token").filter(|_| tok.add_bos).cloned();
        let template = tok.chat_template.as_deref().map(|t| ChatTemplate::new(t, special)).transpose()?;
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        // A base model's transcript starts with BOS when the file says to add one (the chat
        // templates write it themselves).
        Ok(Self::new(name, Box::new(file.model), tokenizer, template, tok.eos_ids)
            .with_few_shot(FewShot::with_default_examples(bos)))
    }

    /// Loads a safetensors model folder.
    pub fn load_dir(dir: &ModelDir, options: &LoadOptions) -> Result<Self> {
        let dtype = options.dtype.unwrap_or_else(|| default_dtype(&options.device));
        let model = SafetensorsModel::load(dir, &options.device, dtype)?;
        let tokenizer_path = dir.tokenizer_json()?;
        let tokenizer = TextTokenizer::from_file(&tokenizer_path)?;
        if tokenizer.vocab_size() > model.vocab_size() {
            return Err(Error::Format {
                path: tokenizer_path,
                location: "model.vocab".into(),
                message: format!(
                    "{} token ids but config.json has vocab_size {}: not this model's tokenizer",
                    tokenizer.vocab_size(),
                    model.vocab_size()
                ),
            });
        }
        let tc = dir.tokenizer_config()?;
        let template = match &tc.chat_template {
            Some(src) => Some(ChatTemplate::new(src, tc.special_tokens.clone())?),
            None => None,
        };
        let eos_ids = dir.eos_token_ids()?;
        Ok(Self::new(dir.name(), Box::new(model), tokenizer, template, eos_ids))
    }

    /// The model, for the continuous-batching scheduler that drives it step by step.
    pub(crate) fn model_mut(&mut self) -> &mut dyn CausalLm {
        self.model.as_mut()
    }

    /// The configured batch width ([`with_max_batch`](Self::with_max_batch)).
    pub(crate) fn max_batch(&self) -> usize {
        self.max_batch
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    /// Token ids that end generation.
    pub fn eos_ids(&self) -> &[u32] {
        &self.eos_ids
    }

    /// The model's context length.
    pub fn context_length(&self) -> usize {
        self.model.context_length()
    }

    /// The prompt string for a conversation: the chat template with the assistant header, or,
    /// for models without a template, the [`FewShot`] transcript.
    pub fn render_prompt(&self, messages: &[ChatMessage]) -> Result<String> {
        match &self.prompt {
            PromptFormat::Chat(t) => t.render(messages, true),
            PromptFormat::FewShot(f) => Ok(f.render(messages)),
        }
    }

    /// The request's stop strings, and a few-shot prompt's own ([`FewShot::STOPS`]).
    pub(crate) fn stops_of(&self, request: &GenerationRequest) -> Vec<String> {
        let mut stops = request.stop.clone();
        if matches!(self.prompt, PromptFormat::FewShot(_)) {
            stops.extend(FewShot::STOPS.iter().map(|s| (*s).to_owned()));
        }
        stops
    }

    /// The logits after a prompt, from a fresh cache (for checks against reference outputs).
    pub fn prompt_logits(&mut self, prompt: &[u32]) -> Result<Vec<f32>> {
        if prompt.is_empty() {
            return Err(Error::InvalidArgument { name: "prompt", message: "the prompt has no tokens".into() });
        }
        self.model.reset()?;
        self.model.forward(prompt, 0)
    }

    /// The generation loop over token ids. After every token `should_stop` sees the generated ids
    /// and may end generation; EOS ends it when `stop_at_eos`.
    pub fn generate_tokens(
        &mut self,
        prompt: &[u32],
        max_new_tokens: usize,
        sampling: &Sampling,
        stop_at_eos: bool,
        should_stop: &mut dyn FnMut(&[u32]) -> Result<bool>,
    ) -> Result<TokenGeneration> {
        let mut live = Live::new(Sampler::new(sampling)?, prompt, max_new_tokens, should_stop);
        let ctx = self.model.context_length();
        check_prompt(prompt, ctx)?;
        if max_new_tokens == 0 {
            return Ok(live.out);
        }
        let eos = if stop_at_eos { self.eos_ids.as_slice() } else { &[] };
        self.model.reset()?;
        let start = Instant::now();
        let mut logits = self.model.forward(prompt, 0)?;
        let mut decode_start = None;
        loop {
            let token = live.sampler.sample(&mut logits, &live.context)?;
            if decode_start.is_none() {
                live.out.prefill = start.elapsed();
                decode_start = Some(Instant::now());
            }
            if live.push(token, ctx, eos)? {
                break;
            }
            logits = self.model.forward(&[token], live.context.len() - 1)?;
        }
        live.out.decode = decode_start.map(|t| t.elapsed()).unwrap_or_default();
        Ok(live.out)
    }

    /// The rendered, tokenized prompt of a request.
    pub(crate) fn prompt_of(&self, request: &GenerationRequest) -> Result<Vec<u32>> {
        let text = self.render_prompt(&request.messages)?;
        self.tokenizer.encode(&text, false)
    }

    /// Ends generation when the decoded text holds one of `stops`.
    pub(crate) fn stop_check(&self, stops: &[String]) -> impl FnMut(&[u32]) -> Result<bool> + use<> {
        // Without stop strings there is nothing to decode: no copy of the tokenizer either.
        let tokenizer = (!stops.is_empty()).then(|| self.tokenizer.clone());
        let (stops, eos) = (stops.to_vec(), self.eos_ids.clone());
        move |ids: &[u32]| -> Result<bool> {
            let Some(tokenizer) = &tokenizer else { return Ok(false) };
            let body: Vec<u32> = ids.iter().copied().filter(|t| !eos.contains(t)).collect();
            Ok(find_stop(&tokenizer.decode(&body, true)?, &stops).is_some())
        }
    }

    /// The answer text (EOS dropped, cut at the first stop string) and its counts and times.
    pub(crate) fn to_generation(
        &self,
        prompt_tokens: usize,
        out: TokenGeneration,
        stops: &[String],
    ) -> Result<Generation> {
        let body: Vec<u32> = out.tokens.iter().copied().filter(|t| !self.eos_ids.contains(t)).collect();
        let mut text = self.tokenizer.decode(&body, true)?;
        if let Some(i) = find_stop(&text, stops) {
            text.truncate(i);
        }
        Ok(Generation {
            text,
            prompt_tokens,
            generated_tokens: out.tokens.len(),
            prefill: out.prefill,
            decode: out.decode,
            finish_reason: out.finish_reason,
        })
    }

    /// Generates every request with up to `width` sequences decoded together; a finished
    /// sequence's place goes to the next request at once (continuous batching).
    fn generate_batched(&mut self, requests: &[GenerationRequest], width: usize) -> Result<Vec<Generation>> {
        let ctx = self.model.context_length();
        let mut lives = Vec::with_capacity(requests.len());
        for request in requests {
            let prompt = self.prompt_of(request)?;
            check_prompt(&prompt, ctx)?;
            let sampler = Sampler::new(&request.sampling)?;
            lives.push(Live::new(sampler, &prompt, request.max_new_tokens, self.stop_check(&self.stops_of(request))));
        }
        let prompt_lengths: Vec<usize> = lives.iter().map(|l| l.context.len()).collect();
        let eos = self.eos_ids.clone();
        let Some(batch) = self.model.batch() else {
            return Err(Error::Unsupported("this model decodes one sequence at a time".into()));
        };
        let width = width.min(batch.max_sequences()).max(1);
        let outs = decode_together(batch, lives, &eos, ctx, width);
        batch.release();
        outs?
            .into_iter()
            .zip(requests)
            .zip(prompt_lengths)
            .map(|((o, r), n)| self.to_generation(n, o, &self.stops_of(r)))
            .collect()
    }
}

impl TokenGeneration {
    fn empty() -> Self {
        TokenGeneration {
            tokens: Vec::new(),
            prefill: Duration::ZERO,
            decode: Duration::ZERO,
            finish_reason: FinishReason::Length,
        }
    }
}

pub(crate) fn check_prompt(prompt: &[u32], ctx: usize) -> Result<()> {
    if prompt.is_empty() {
        return Err(Error::InvalidArgument { name: "prompt", message: "the prompt has no tokens".into() });
    }
    if prompt.len() >= ctx {
        return Err(Error::InvalidArgument {
            name: "prompt",
            message: format!("{} tokens do not fit the model's context of {ctx}", prompt.len()),
        });
    }
    Ok(())
}

/// One request being decoded: its sampler, prompt and generated ids, and when it ends.
pub(crate) struct Live<F> {
    pub(crate) sampler: Sampler,
    pub(crate) context: Vec<u32>,
    max_new_tokens: usize,
    should_stop: F,
    pub(crate) out: TokenGeneration,
}

impl<F: FnMut(&[u32]) -> Result<bool>> Live<F> {
    pub(crate) fn new(sampler: Sampler, prompt: &[u32], max_new_tokens: usize, should_stop: F) -> Self {
        Live { sampler, context: prompt.to_vec(), max_new_tokens, should_stop, out: TokenGeneration::empty() }
    }

    /// Records `token`; whether generation ends with it: an `eos` id or the stop check (`Stop`),
    /// or the token budget or the context of `ctx` positions (`Length`).
    pub(crate) fn push(&mut self, token: u32, ctx: usize, eos: &[u32]) -> Result<bool> {
        self.out.tokens.push(token);
        self.context.push(token);
        let reason = if eos.contains(&token) || (self.should_stop)(&self.out.tokens)? {
            Some(FinishReason::Stop)
        } else {
            (self.out.tokens.len() >= self.max_new_tokens || self.context.len() >= ctx).then_some(FinishReason::Length)
        };
        if let Some(reason) = reason {
            self.out.finish_reason = reason;
        }
        Ok(reason.is_some())
    }
}

/// The loop of [`LocalGenerator::generate_batched`], over `lives` in request order. A request's
/// prefill time is its own prompt pass; its decode time is its share of the steps it took part in
/// (each step's time divided evenly among its sequences), so the times of a batch add up to its
/// wall time.
fn decode_together<F: FnMut(&[u32]) -> Result<bool>>(
    batch: &mut dyn BatchLm,
    lives: Vec<Live<F>>,
    eos: &[u32],
    ctx: usize,
    width: usize,
) -> Result<Vec<TokenGeneration>> {
    let mut done: Vec<Option<TokenGeneration>> = (0..lives.len()).map(|_| None).collect();
    let mut pending = lives.into_iter().enumerate();
    // Each place holds a request's index and its state.
    let mut slots: Vec<Option<(usize, Live<F>)>> = (0..width).map(|_| None).collect();
    loop {
        for (slot, place) in slots.iter_mut().enumerate() {
            while place.is_none() {
                let Some((i, mut live)) = pending.next() else { break };
                if live.max_new_tokens == 0 {
                    done[i] = Some(live.out);
                    continue;
                }
                let start = Instant::now();
                let mut logits = batch.start(slot, &live.context)?;
                let token = live.sampler.sample(&mut logits, &live.context)?;
                live.out.prefill = start.elapsed();
                if live.push(token, ctx, eos)? {
                    done[i] = Some(live.out);
                } else {
                    *place = Some((i, live));
                }
            }
        }
        let active: Vec<usize> = (0..width).filter(|&s| slots[s].is_some()).collect();
        if active.is_empty() {
            break;
        }
        let tokens: Vec<u32> =
            active.iter().filter_map(|&s| slots[s].as_ref().and_then(|(_, l)| l.context.last().copied())).collect();
        let start = Instant::now();
        let all_logits = batch.step(&active, &tokens)?;
        let share = start.elapsed() / active.len() as u32;
        for (&slot, mut logits) in active.iter().zip(all_logits) {
            let Some((i, mut live)) = slots[slot].take() else { continue };
            let sampled = Instant::now();
            let token = live.sampler.sample(&mut logits, &live.context)?;
            live.out.decode += share + sampled.elapsed();
            if live.push(token, ctx, eos)? {
                done[i] = Some(live.out);
            } else {
                slots[slot] = Some((i, live));
            }
        }
    }
    Ok(done.into_iter().map(|d| d.unwrap_or_else(TokenGeneration::empty)).collect())
}

/// The byte index where the earliest stop string starts in `text`, if any.
pub(crate) fn find_stop(text: &str, stops: &[String]) -> Option<usize> {
    stops.iter().filter(|s| !s.is_empty()).filter_map(|s| text.find(s.as_str())).min()
}

impl Generator for LocalGenerator {
    fn name(&self) -> &str {
        &self.name
    }

    fn generate(&mut self, request: &GenerationRequest) -> poq_core::Result<Generation> {
        let prompt = self.prompt_of(request)?;
        let stops = self.stops_of(request);
        let mut check = self.stop_check(&stops);
        let out = self.generate_tokens(&prompt, request.max_new_tokens, &request.sampling, true, &mut check)?;
        Ok(self.to_generation(prompt.len(), out, &stops)?)
    }

    /// Decodes up to [`with_max_batch`](LocalGenerator::with_max_batch) requests together when
    /// the model can (llama-architecture GGUF files): the same tokens as one at a time, in less
    /// time. Each answer's decode time is then its share of the batched steps.
    fn generate_batch(&mut self, requests: &[GenerationRequest]) -> poq_core::Result<Vec<Generation>> {
        let width = self.max_batch.min(requests.len());
        if width > 1 && self.model.batch().is_some() {
            return Ok(self.generate_batched(requests, width)?);
        }
        requests.iter().map(|r| self.generate(r)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_stop_string_wins() {
        let stops = vec!["END".to_string(), "\n\n".to_string(), String::new()];
        assert_eq!(find_stop("abc\n\nxEND", &stops), Some(3));
        assert_eq!(find_stop("abc", &stops), None);
    }
}
