//! [`LocalGenerator`]: a chat model run in this process (safetensors or GGUF) behind
//! `poq_core::Generator`, with the generation loop, stop conditions and timings.

use crate::candle::SafetensorsModel;
use crate::chat_template::ChatTemplate;
use crate::device::{LoadOptions, default_dtype};
use crate::error::{Error, Result};
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

/// A local chat model: weights, tokenizer, chat template and stop tokens.
#[derive(Debug)]
pub struct LocalGenerator {
    name: String,
    model: Box<dyn CausalLm>,
    tokenizer: TextTokenizer,
    template: Option<ChatTemplate>,
    eos_ids: Vec<u32>,
}

impl LocalGenerator {
    /// Assembles a generator from its parts.
    pub fn new(
        name: impl Into<String>,
        model: Box<dyn CausalLm>,
        tokenizer: TextTokenizer,
        template: Option<ChatTemplate>,
        eos_ids: Vec<u32>,
    ) -> Self {
        LocalGenerator { name: name.into(), model, tokenizer, template, eos_ids }
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
        let template = tok.chat_template.as_deref().map(|t| ChatTemplate::new(t, special)).transpose()?;
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        Ok(Self::new(name, Box::new(file.model), tokenizer, template, tok.eos_ids))
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
    /// for models without a template, the user turns joined by newlines.
    pub fn render_prompt(&self, messages: &[ChatMessage]) -> Result<String> {
        match &self.template {
            Some(t) => t.render(messages, true),
            None => Ok(messages.iter().map(|m| m.content.as_str()).collect::<Vec<_>>().join("\n")),
        }
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
        let mut sampler = Sampler::new(sampling)?;
        let ctx = self.model.context_length();
        if prompt.is_empty() {
            return Err(Error::InvalidArgument { name: "prompt", message: "the prompt has no tokens".into() });
        }
        if prompt.len() >= ctx {
            return Err(Error::InvalidArgument {
                name: "prompt",
                message: format!("{} tokens do not fit the model's context of {ctx}", prompt.len()),
            });
        }
        let mut out = TokenGeneration {
            tokens: Vec::new(),
            prefill: Duration::ZERO,
            decode: Duration::ZERO,
            finish_reason: FinishReason::Length,
        };
        if max_new_tokens == 0 {
            return Ok(out);
        }
        self.model.reset()?;
        let start = Instant::now();
        let mut logits = self.model.forward(prompt, 0)?;
        let mut context = prompt.to_vec();
        let mut decode_start = None;
        loop {
            let token = sampler.sample(&mut logits, &context)?;
            if decode_start.is_none() {
                out.prefill = start.elapsed();
                decode_start = Some(Instant::now());
            }
            out.tokens.push(token);
            context.push(token);
            if (stop_at_eos && self.eos_ids.contains(&token)) || should_stop(&out.tokens)? {
                out.finish_reason = FinishReason::Stop;
                break;
            }
            if out.tokens.len() >= max_new_tokens || context.len() >= ctx {
                break;
            }
            logits = self.model.forward(&[token], context.len() - 1)?;
        }
        out.decode = decode_start.map(|t| t.elapsed()).unwrap_or_default();
        Ok(out)
    }

    fn text_of(&self, tokens: &[u32]) -> Result<String> {
        let body: Vec<u32> = tokens.iter().copied().filter(|t| !self.eos_ids.contains(t)).collect();
        self.tokenizer.decode(&body, true)
    }
}

/// The byte index where the earliest stop string starts in `text`, if any.
fn find_stop(text: &str, stops: &[String]) -> Option<usize> {
    stops.iter().filter(|s| !s.is_empty()).filter_map(|s| text.find(s.as_str())).min()
}

impl Generator for LocalGenerator {
    fn name(&self) -> &str {
        &self.name
    }

    fn generate(&mut self, request: &GenerationRequest) -> poq_core::Result<Generation> {
        let prompt_text = self.render_prompt(&request.messages)?;
        let prompt = self.tokenizer.encode(&prompt_text, false)?;
        let stops = request.stop.clone();
        let tokenizer = self.tokenizer.clone();
        let eos = self.eos_ids.clone();
        let mut check = |ids: &[u32]| -> Result<bool> {
            if stops.is_empty() {
                return Ok(false);
            }
            let body: Vec<u32> = ids.iter().copied().filter(|t| !eos.contains(t)).collect();
            Ok(find_stop(&tokenizer.decode(&body, true)?, &stops).is_some())
        };
        let gen_ = self.generate_tokens(&prompt, request.max_new_tokens, &request.sampling, true, &mut check)?;
        let mut text = self.text_of(&gen_.tokens)?;
        if let Some(i) = find_stop(&text, &request.stop) {
            text.truncate(i);
        }
        Ok(Generation {
            text,
            prompt_tokens: prompt.len(),
            generated_tokens: gen_.tokens.len(),
            prefill: gen_.prefill,
            decode: gen_.decode,
            finish_reason: gen_.finish_reason,
        })
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
