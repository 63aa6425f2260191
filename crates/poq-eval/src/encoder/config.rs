//! `config.json` of BERT-, RoBERTa- and MPNet-family encoders.

use serde::Deserialize;

use crate::model_dir::ModelDir;
use crate::{Error, Result};

/// How token positions map to position embeddings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// BERT, MiniLM, ...: positions count from 0, token types in use.
    Bert,
    /// RoBERTa, XLM-R, CamemBERT: positions count from `pad_token_id + 1`.
    Roberta,
    /// MPNet: RoBERTa's positions, no token types, other attention tensor names, and a T5-style
    /// relative position bias (one table shared by every layer) added to the attention scores.
    Mpnet,
}

impl Family {
    /// The family of a config's `model_type`.
    pub fn from_model_type(model_type: &str) -> Option<Family> {
        match model_type {
            "bert" => Some(Family::Bert),
            "roberta" | "xlm-roberta" | "camembert" => Some(Family::Roberta),
            "mpnet" => Some(Family::Mpnet),
            _ => None,
        }
    }

    /// The tensor-name prefix used by `*ForSequenceClassification` checkpoints.
    pub fn prefix(self) -> &'static str {
        match self {
            Family::Bert => "bert",
            Family::Roberta => "roberta",
            Family::Mpnet => "mpnet",
        }
    }

    /// Names under `encoder.layer.N` of the attention block's query, key, value, output
    /// projection and the layer norm after it.
    pub(crate) fn attention_names(self) -> [&'static str; 5] {
        match self {
            Family::Bert | Family::Roberta => [
                "attention.self.query",
                "attention.self.key",
                "attention.self.value",
                "attention.output.dense",
                "attention.output.LayerNorm",
            ],
            Family::Mpnet => {
                ["attention.attn.q", "attention.attn.k", "attention.attn.v", "attention.attn.o", "attention.LayerNorm"]
            }
        }
    }
}

/// Buckets of MPNet's relative position bias: transformers always computes 32
/// (`MPNetEncoder.compute_position_bias`), whatever the config says.
pub const RELATIVE_BUCKETS: usize = 32;

/// Distances from this one on share MPNet's last bucket of each direction.
const RELATIVE_MAX_DISTANCE: usize = 128;

/// The bucket of MPNet's (T5's bidirectional) relative position bias for a key `rel` tokens
/// after the query (negative: before), as transformers' `MPNetEncoder.relative_position_bucket`:
/// half the buckets per direction, exact up to 8 apart, then logarithmic up to 128 apart.
pub fn relative_bucket(rel: i64) -> usize {
    let half = RELATIVE_BUCKETS / 2;
    let exact = half / 2;
    let side = if rel > 0 { half } else { 0 };
    let n = rel.unsigned_abs() as usize;
    if n < exact {
        return side + n;
    }
    // In f32 as PyTorch computes it; truncated toward zero like `.to(torch.long)`.
    let ratio = (n as f32 / exact as f32).ln() / ((RELATIVE_MAX_DISTANCE / exact) as f64).ln() as f32;
    let large = exact + (ratio * (half - exact) as f32) as usize;
    side + large.min(half - 1)
}

/// The activation between the two feed-forward layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// Exact GELU (`erf`), transformers' `gelu`.
    Gelu,
    /// The tanh approximation (`gelu_new`, `gelu_pytorch_tanh`).
    GeluTanh,
    /// ReLU.
    Relu,
}

#[derive(Debug, Deserialize)]
struct Raw {
    vocab_size: usize,
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    intermediate_size: usize,
    #[serde(default = "default_act")]
    hidden_act: String,
    max_position_embeddings: usize,
    #[serde(default = "default_types")]
    type_vocab_size: usize,
    #[serde(default = "default_eps")]
    layer_norm_eps: f64,
    #[serde(default)]
    pad_token_id: Option<usize>,
    #[serde(default)]
    position_embedding_type: Option<String>,
    #[serde(default)]
    relative_attention_num_buckets: Option<usize>,
}

fn default_act() -> String {
    "gelu".into()
}
fn default_types() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}

/// A checked encoder configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderConfig {
    /// BERT or RoBERTa positions.
    pub family: Family,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Hidden size.
    pub hidden_size: usize,
    /// Number of transformer layers.
    pub num_layers: usize,
    /// Number of attention heads.
    pub num_heads: usize,
    /// Feed-forward inner size.
    pub intermediate_size: usize,
    /// Feed-forward activation.
    pub activation: Activation,
    /// Rows of the position-embedding table.
    pub max_position_embeddings: usize,
    /// Rows of the token-type table (0 or 1: token types are ignored).
    pub type_vocab_size: usize,
    /// Layer-norm epsilon.
    pub layer_norm_eps: f64,
    /// Padding token id.
    pub pad_token_id: u32,
    /// Rows of the relative position bias table ([`RELATIVE_BUCKETS`]); 0 when the family has none.
    pub relative_buckets: usize,
}

impl EncoderConfig {
    /// Reads and checks `config.json`.
    pub fn from_model_dir(dir: &ModelDir) -> Result<EncoderConfig> {
        let model_type = dir.model_type()?;
        let family = Family::from_model_type(model_type).ok_or_else(|| {
            Error::Unsupported(format!(
                "{}: model_type `{model_type}` is not a BERT-, RoBERTa- or MPNet-family encoder",
                dir.config_path().display()
            ))
        })?;
        let raw: Raw = dir.parse_config()?;
        let bad =
            |field: &str, message: String| Error::Format { path: dir.config_path(), location: field.into(), message };
        if let Some(p) = raw.position_embedding_type.as_deref().filter(|p| *p != "absolute") {
            return Err(Error::Unsupported(format!(
                "{}: position_embedding_type `{p}` (only `absolute`)",
                dir.config_path().display()
            )));
        }
        let activation = match raw.hidden_act.as_str() {
            "gelu" => Activation::Gelu,
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Activation::GeluTanh,
            "relu" => Activation::Relu,
            other => {
                return Err(Error::Unsupported(format!("{}: hidden_act `{other}`", dir.config_path().display())));
            }
        };
        if raw.num_attention_heads == 0 || !raw.hidden_size.is_multiple_of(raw.num_attention_heads) {
            return Err(bad(
                "num_attention_heads",
                format!("{} heads do not divide hidden_size {}", raw.num_attention_heads, raw.hidden_size),
            ));
        }
        for (field, v) in [
            ("vocab_size", raw.vocab_size),
            ("hidden_size", raw.hidden_size),
            ("num_hidden_layers", raw.num_hidden_layers),
            ("intermediate_size", raw.intermediate_size),
            ("max_position_embeddings", raw.max_position_embeddings),
        ] {
            if v == 0 {
                return Err(bad(field, "must be positive".into()));
            }
        }
        let pad = raw.pad_token_id.unwrap_or(if family == Family::Bert { 0 } else { 1 });
        let pad_token_id = u32::try_from(pad).map_err(|_| bad("pad_token_id", format!("{pad} is too large")))?;
        let relative_buckets = match family {
            Family::Mpnet => {
                let n = raw.relative_attention_num_buckets.unwrap_or(RELATIVE_BUCKETS);
                if n != RELATIVE_BUCKETS {
                    // transformers would index a smaller table out of range and ignore extra rows.
                    return Err(Error::Unsupported(format!(
                        "{}: relative_attention_num_buckets {n} (transformers' MPNet uses {RELATIVE_BUCKETS})",
                        dir.config_path().display()
                    )));
                }
                n
            }
            Family::Bert | Family::Roberta => 0,
        };
        // MPNet has no token type table at all (its config has no type_vocab_size).
        let type_vocab_size = if family == Family::Mpnet { 0 } else { raw.type_vocab_size };
        let config = EncoderConfig {
            family,
            vocab_size: raw.vocab_size,
            hidden_size: raw.hidden_size,
            num_layers: raw.num_hidden_layers,
            num_heads: raw.num_attention_heads,
            intermediate_size: raw.intermediate_size,
            activation,
            max_position_embeddings: raw.max_position_embeddings,
            type_vocab_size,
            layer_norm_eps: raw.layer_norm_eps,
            pad_token_id,
            relative_buckets,
        };
        if config.max_positions() == 0 {
            return Err(bad("max_position_embeddings", "leaves no room after the RoBERTa offset".into()));
        }
        Ok(config)
    }

    /// The first position id (RoBERTa skips `pad_token_id + 1` rows).
    pub fn position_offset(&self) -> usize {
        match self.family {
            Family::Bert => 0,
            Family::Roberta => self.pad_token_id as usize + 1,
            // transformers fixes MPNet's padding_idx at 1, whatever pad_token_id says.
            Family::Mpnet => 2,
        }
    }

    /// The longest input (in tokens) the position table allows.
    pub fn max_positions(&self) -> usize {
        self.max_position_embeddings.saturating_sub(self.position_offset())
    }
}

#[cfg(test)]
mod tests {
    use super::relative_bucket;

    /// Buckets from transformers' `MPNetEncoder.relative_position_bucket` (torch 2.x, f32).
    #[test]
    fn buckets_match_transformers() {
        let cases: [(i64, usize); 24] = [
            (0, 0),
            (1, 17),
            (-1, 1),
            (7, 23),
            (-7, 7),
            (8, 24),
            (-8, 8),
            (11, 24),
            (12, 25),
            (-15, 9),
            (-16, 10),
            (16, 26),
            (-22, 10),
            (-23, 11),
            (31, 27),
            (-32, 12),
            (45, 28),
            (-46, 13),
            (63, 29),
            (-64, 14),
            (90, 30),
            (-91, 15),
            (128, 31),
            (-1000, 15),
        ];
        for (rel, want) in cases {
            assert_eq!(relative_bucket(rel), want, "relative position {rel}");
        }
    }
}
