//! The BERT / RoBERTa / MPNet transformer: embeddings and post-layer-norm encoder layers.
//!
//! Written for inference speed on CPU: Q, K and V come from one fused matmul whose query part is
//! pre-scaled by 1/sqrt(head_dim) at load time, the mask is one additive (B, 1, 1, T) tensor shared
//! by every layer (with MPNet's relative position bias folded in: (B, heads, T, T)), and softmax /
//! layer norm use candle's fused kernels.

use candle_core::{D, DType, Device, Tensor};
use candle_nn::ops::{layer_norm, softmax_last_dim};

use super::config::{Activation, EncoderConfig, relative_bucket};
use super::weights::Weights;
use crate::Result;

/// y = x W^T + b, with W stored transposed (in, out) so the matmul reads it row-major.
#[derive(Debug, Clone)]
pub(crate) struct Linear {
    pub(super) w_t: Tensor,
    pub(super) b: Tensor,
}

impl Linear {
    pub(crate) fn load(w: &Weights, name: &str, inp: usize, out: usize) -> Result<Linear> {
        let weight = w.get(&format!("{name}.weight"), &[out, inp])?;
        let b = w.get(&format!("{name}.bias"), &[out])?;
        Ok(Linear { w_t: weight.t()?.contiguous()?, b })
    }

    /// `x`: (N, in) → (N, out).
    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.matmul(&self.w_t)?.broadcast_add(&self.b)?)
    }
}

#[derive(Debug, Clone)]
pub(super) struct LayerNorm {
    pub(super) w: Tensor,
    pub(super) b: Tensor,
    pub(super) eps: f32,
}

impl LayerNorm {
    fn load(w: &Weights, name: &str, size: usize, eps: f64) -> Result<LayerNorm> {
        Ok(LayerNorm {
            w: w.get(&format!("{name}.weight"), &[size])?,
            b: w.get(&format!("{name}.bias"), &[size])?,
            eps: eps as f32,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(layer_norm(&x.contiguous()?, &self.w, &self.b, self.eps)?)
    }
}

#[derive(Debug, Clone)]
pub(super) struct Embeddings {
    pub(super) word: Tensor,
    pub(super) position: Tensor,
    pub(super) token_type: Option<Tensor>,
    pub(super) norm: LayerNorm,
    pub(super) offset: usize,
}

#[derive(Debug, Clone)]
pub(super) struct Layer {
    pub(super) qkv: Linear,
    pub(super) attn_out: Linear,
    pub(super) attn_norm: LayerNorm,
    pub(super) inter: Linear,
    pub(super) out: Linear,
    pub(super) out_norm: LayerNorm,
}

/// A loaded BERT-, RoBERTa- or MPNet-family encoder.
#[derive(Debug, Clone)]
pub(crate) struct Transformer {
    config: EncoderConfig,
    pub(super) embeddings: Embeddings,
    pub(super) layers: Vec<Layer>,
    /// MPNet's relative position bias table (buckets, heads), shared by every layer.
    pub(super) relative_bias: Option<Tensor>,
    device: Device,
}

impl Transformer {
    /// Loads the encoder from `w` (already under the model's prefix, e.g. `bert.`).
    pub(crate) fn load(w: &Weights, config: &EncoderConfig, device: &Device) -> Result<Transformer> {
        let h = config.hidden_size;
        let eps = config.layer_norm_eps;
        let e = w.pp("embeddings");
        let token_type = if config.type_vocab_size > 1 {
            Some(e.get("token_type_embeddings.weight", &[config.type_vocab_size, h])?)
        } else {
            // A one-row table is a constant: fold it into the position table below.
            None
        };
        let mut position = e.get("position_embeddings.weight", &[config.max_position_embeddings, h])?;
        if config.type_vocab_size == 1 {
            let only = e.get("token_type_embeddings.weight", &[1, h])?;
            position = position.broadcast_add(&only)?;
        }
        let embeddings = Embeddings {
            word: e.get("word_embeddings.weight", &[config.vocab_size, h])?,
            position,
            token_type,
            norm: LayerNorm::load(&e, "LayerNorm", h, eps)?,
            offset: config.position_offset(),
        };
        let scale = 1.0 / ((h / config.num_heads) as f64).sqrt();
        let [q, k, v, o, attn_norm] = config.family.attention_names();
        let mut layers = Vec::with_capacity(config.num_layers);
        for i in 0..config.num_layers {
            let l = w.pp(&format!("encoder.layer.{i}"));
            let get = |name: &str, suffix: &str, shape: &[usize]| l.get(&format!("{name}.{suffix}"), shape);
            let q_w = (get(q, "weight", &[h, h])? * scale)?;
            let q_b = (get(q, "bias", &[h])? * scale)?;
            let w_qkv = Tensor::cat(&[q_w, get(k, "weight", &[h, h])?, get(v, "weight", &[h, h])?], 0)?;
            let b_qkv = Tensor::cat(&[q_b, get(k, "bias", &[h])?, get(v, "bias", &[h])?], 0)?;
            layers.push(Layer {
                qkv: Linear { w_t: w_qkv.t()?.contiguous()?, b: b_qkv },
                attn_out: Linear::load(&l, o, h, h)?,
                attn_norm: LayerNorm::load(&l, attn_norm, h, eps)?,
                inter: Linear::load(&l, "intermediate.dense", h, config.intermediate_size)?,
                out: Linear::load(&l, "output.dense", config.intermediate_size, h)?,
                out_norm: LayerNorm::load(&l, "output.LayerNorm", h, eps)?,
            });
        }
        let relative_bias = match config.relative_buckets {
            0 => None,
            n => Some(w.get("encoder.relative_attention_bias.weight", &[n, config.num_heads])?),
        };
        Ok(Transformer { config: config.clone(), embeddings, layers, relative_bias, device: device.clone() })
    }

    /// The configuration.
    pub fn config(&self) -> &EncoderConfig {
        &self.config
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Hidden states (B, T, H) for `ids` and `type_ids` (B, T, u32) and `mask` (B, T, f32: 1 for
    /// real tokens, 0 for padding).
    pub fn forward(&self, ids: &Tensor, type_ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let h = self.config.hidden_size;
        let e = &self.embeddings;
        let mut x = e.word.index_select(&ids.flatten_all()?, 0)?.reshape((b, t, h))?;
        x = x.broadcast_add(&e.position.narrow(0, e.offset, t)?)?;
        if let Some(tt) = &e.token_type {
            x = (x + tt.index_select(&type_ids.flatten_all()?, 0)?.reshape((b, t, h))?)?;
        }
        let mut x = e.norm.forward(&x)?.reshape((b * t, h))?;
        // 0 for real tokens, a large negative number for padding, broadcast over heads and queries.
        let mut bias = ((mask.to_dtype(DType::F32)? - 1.0)? * 1e30)?.reshape((b, 1, 1, t))?;
        if let Some(table) = &self.relative_bias {
            // Computed once and shared by every layer, as transformers' MPNetEncoder does.
            bias = bias.broadcast_add(&self.position_bias(table, t)?)?.contiguous()?;
        }
        for layer in &self.layers {
            x = self.layer(layer, &x, &bias, b, t)?;
        }
        Ok(x.reshape((b, t, h))?)
    }

    /// MPNet's relative position bias (1, heads, T, T): entry (h, i, j) is `table[bucket(j − i), h]`.
    fn position_bias(&self, table: &Tensor, t: usize) -> Result<Tensor> {
        let buckets: Vec<u32> =
            (0..t).flat_map(|i| (0..t).map(move |j| relative_bucket(j as i64 - i as i64) as u32)).collect();
        let buckets = Tensor::from_vec(buckets, t * t, &self.device)?;
        let nh = self.config.num_heads;
        Ok(table.index_select(&buckets, 0)?.t()?.reshape((1, nh, t, t))?)
    }

    fn layer(&self, l: &Layer, x: &Tensor, bias: &Tensor, b: usize, t: usize) -> Result<Tensor> {
        let h = self.config.hidden_size;
        let nh = self.config.num_heads;
        let d = h / nh;
        let qkv = l.qkv.forward(x)?.reshape((b, t, 3, nh, d))?.permute((2, 0, 3, 1, 4))?.contiguous()?;
        let (q, k, v) = (qkv.get(0)?, qkv.get(1)?, qkv.get(2)?);
        let scores = q.matmul(&k.t()?)?.broadcast_add(bias)?;
        let probs = softmax_last_dim(&scores)?;
        let ctx = probs.matmul(&v)?.transpose(1, 2)?.reshape((b * t, h))?;
        let attn = l.attn_norm.forward(&(l.attn_out.forward(&ctx)? + x)?)?;
        let inter = l.inter.forward(&attn)?;
        let inter = match self.config.activation {
            Activation::Gelu => super::gelu::gelu_erf(&inter)?,
            Activation::GeluTanh => inter.gelu()?,
            Activation::Relu => inter.relu()?,
        };
        l.out_norm.forward(&(l.out.forward(&inter)? + attn)?)
    }
}

/// Softmax over the last axis in f32 (used by the classification heads).
pub(crate) fn softmax(x: &Tensor) -> Result<Tensor> {
    Ok(candle_nn::ops::softmax(x, D::Minus1)?)
}
