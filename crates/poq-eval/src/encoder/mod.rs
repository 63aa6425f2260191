mod batch;
mod config;
mod gelu;
mod layers;
mod packed;
mod pooling;
mod weights;
mod wide;

use candle_core::{Device, Tensor};
use tokenizers::{EncodeInput, Encoding, Tokenizer};

pub use config::{Activation, EncoderConfig, Family, RELATIVE_BUCKETS, relative_bucket};
pub(crate) use layers::Transformer;
pub use pooling::Pooling;

pub(crate) use batch::{pad, plan};
pub(crate) use layers::{Linear, softmax};
pub(crate) use weights::Weights;

use crate::model_dir::{ModelDir, SentenceConfig};
use crate::{Error, Result};

/// Default number of texts per forward pass.
pub const DEFAULT_BATCH_SIZE: usize = 32;

/// Reads every weight file of `dir` into [`Weights`].
pub(crate) fn load_weights(dir: &ModelDir, device: &Device) -> Result<Weights> {
    let tensors = dir.load_tensors(device)?;
    let source = match dir.weight_files() {
        [one] => one.clone(),
        _ => dir.path().to_path_buf(),
    };
    Ok(Weights::new(tensors, source))
}

/// Tokenizes texts or text pairs, mapping failures to [`Error::Tokenizer`].
pub(crate) fn encode<'s, I>(tokenizer: &Tokenizer, inputs: Vec<I>) -> Result<Vec<Encoding>>
where
    I: Into<EncodeInput<'s>> + Send,
{
    tokenizer.encode_batch(inputs, true).map_err(|e| Error::Tokenizer(e.to_string()))
}

/// A sentence-embedding model: tokenizer, encoder, pooling and optional normalization.
///
/// BERT-, RoBERTa- and MPNet-family text encoders (our own candle implementation) and sentence embeddings
/// as sentence-transformers computes them.
#[derive(Debug, Clone)]
pub struct SentenceEncoder {
    tokenizer: Tokenizer,
    transformer: Transformer,
    sentence: SentenceConfig,
    max_len: usize,
    batch_size: usize,
    packed: bool,
}

impl SentenceEncoder {
    /// Loads a BERT-, RoBERTa- or MPNet-family sentence-transformers folder (or a plain encoder, pooled by
    /// mean) onto `device`.
    pub fn load(dir: &ModelDir, device: &Device) -> Result<SentenceEncoder> {
        let config = EncoderConfig::from_model_dir(dir)?;
        let weights = load_weights(dir, device)?;
        let family = config.family;
        let prefix =
            weights.find_prefix(&["", family.prefix()], "embeddings.word_embeddings.weight").ok_or_else(|| {
                Error::Format {
                    path: dir.path().to_path_buf(),
                    location: "embeddings.word_embeddings.weight".into(),
                    message: format!("no encoder weights (looked for no prefix and `{}.`)", family.prefix()),
                }
            })?;
        let transformer = Transformer::load(&weights.pp(prefix), &config, device)?;
        let sentence = dir.sentence_config().clone();
        let max_len = sentence.max_seq_length.unwrap_or(usize::MAX).min(config.max_positions());
        Ok(SentenceEncoder {
            tokenizer: dir.tokenizer(max_len, config.vocab_size)?,
            transformer,
            sentence,
            max_len,
            batch_size: DEFAULT_BATCH_SIZE,
            packed: true,
        })
    }

    /// The same encoder, on the CPU with (`true`, the default) or without the packed forward
    /// pass; without it the CPU runs candle's padded graph, the path other devices take (a check
    /// of that path without a GPU).
    pub fn with_packed(mut self, packed: bool) -> SentenceEncoder {
        self.packed = packed;
        self
    }

    /// The same encoder with another batch size (at least 1).
    pub fn with_batch_size(mut self, batch_size: usize) -> SentenceEncoder {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Texts per forward pass.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Inputs are truncated to this many tokens (special tokens included).
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// The embedding size.
    pub fn dim(&self) -> usize {
        self.transformer.config().hidden_size * self.sentence.pooling.len()
    }

    /// Whether embeddings are L2-normalized.
    pub fn normalizes(&self) -> bool {
        self.sentence.normalize
    }

    /// The embedding of every text, in input order.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let encodings = encode(&self.tokenizer, texts.to_vec())?;
        let lengths: Vec<usize> = encodings.iter().map(|e| e.get_ids().len()).collect();
        let mut out = vec![Vec::new(); texts.len()];
        let device = self.transformer.device();
        let use_types = self.transformer.config().type_vocab_size > 1;
        let pad_id = self.transformer.config().pad_token_id;
        let h = self.transformer.config().hidden_size;
        for idx in plan(&lengths, self.batch_size) {
            // On CPU the packed forward pass (no padding, our own buffers); elsewhere candle's graph.
            if device.is_cpu() && self.packed && idx.iter().all(|&i| lengths[i] > 0) {
                let ids: Vec<&[u32]> = idx.iter().map(|&i| encodings[i].get_ids()).collect();
                let types: Vec<&[u32]> = idx.iter().map(|&i| encodings[i].get_type_ids()).collect();
                let lens: Vec<usize> = idx.iter().map(|&i| lengths[i]).collect();
                let hidden = self.transformer.forward_packed(&ids, &types)?;
                for (row, mut v) in idx.iter().zip(pooling::pool_packed(&hidden, &lens, h, &self.sentence.pooling)) {
                    if self.sentence.normalize {
                        pooling::normalize_vec(&mut v);
                    }
                    out[*row] = v;
                }
                continue;
            }
            let batch = pad(&encodings, &idx, pad_id, use_types, device)?;
            let hidden = self.transformer.forward(&batch.ids, &batch.type_ids, &batch.mask)?;
            let mut pooled = pooling::pool(&hidden, &batch.mask, &batch.lengths, &self.sentence.pooling)?;
            if self.sentence.normalize {
                pooled = pooling::normalize(&pooled)?;
            }
            for (row, v) in idx.iter().zip(pooled.to_vec2::<f32>()?) {
                out[*row] = v;
            }
        }
        Ok(out)
    }

    /// The token states (B, T, H) and mask of one padded batch, for callers that pool themselves.
    pub fn hidden_states(&self, texts: &[&str]) -> Result<(Tensor, Tensor)> {
        let encodings = encode(&self.tokenizer, texts.to_vec())?;
        let idx: Vec<usize> = (0..texts.len()).collect();
        let use_types = self.transformer.config().type_vocab_size > 1;
        let batch =
            pad(&encodings, &idx, self.transformer.config().pad_token_id, use_types, self.transformer.device())?;
        Ok((self.transformer.forward(&batch.ids, &batch.type_ids, &batch.mask)?, batch.mask))
    }
}
