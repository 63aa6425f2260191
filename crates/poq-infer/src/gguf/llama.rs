//! Our forward pass for llama-architecture GGUF files in f32 (SmolLM2, TinyLlama, Llama 3.2).
//!
//! Same arithmetic as candle-transformers' quantized Llama on dequantized weights, with the key/value
//! cache kept in place: candle's version concatenates the whole cache at every token and copies it
//! once more per head group (`repeat_kv`), which dominated decoding at the lengths of CNN/DailyMail
//! prompts (1,100 tokens). Here each layer writes new keys and values into a preallocated buffer,
//! and the heads of a group share one matrix product with their key/value head.
//!
//! With `decode_q8` the matrices also keep a Q8_0 copy for one-token steps: decoding reads every
//! weight once per token, so it is bound by memory bandwidth, and Q8_0 moves a quarter of the bytes
//! of f32 (with 8-bit activations, as llama.cpp runs Q4_1 files); prompts still go through f32
//! matrix-matrix products, where the arithmetic, not the bytes, is the cost.

use super::metadata::Metadata;
use crate::error::Result;
use candle_core::Module;
use candle_core::quantized::gguf_file::Content;
use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Device, IndexOp, Tensor};
use std::io::{Read, Seek};

/// Cache positions reserved at a time (grown by doubling, up to the context length).
const CACHE_STEP: usize = 512;

/// A weight matrix (out, in) in f32, with an optional Q8_0 copy for one-token steps.
#[derive(Debug)]
struct Linear {
    w: Tensor,
    q8: Option<QMatMul>,
    /// Row blocks of `w` (views), one per CPU thread, for one-token steps: gemm's matrix-vector
    /// kernel runs on one thread, and a decoding step is bound by reading the weights once.
    blocks: Vec<Tensor>,
}

impl Linear {
    fn new(w: Tensor, decode_q8: bool) -> Result<Linear> {
        let q8 = if decode_q8 && w.dim(1)? % GgmlDType::Q8_0.block_size() == 0 {
            Some(QMatMul::from_qtensor(QTensor::quantize(&w, GgmlDType::Q8_0)?)?)
        } else {
            None
        };
        let threads = candle_core::utils::get_num_threads();
        let rows = w.dim(0)?;
        let blocks = if w.device().is_cpu() && threads > 1 && rows >= 64 * threads {
            let per = rows.div_ceil(threads);
            (0..rows).step_by(per).map(|r| w.narrow(0, r, per.min(rows - r))).collect::<candle_core::Result<_>>()?
        } else {
            Vec::new()
        };
        Ok(Linear { w, q8, blocks })
    }

    /// `x · wᵀ` for `x` of shape (tokens, in).
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let one = x.dim(0)? == 1;
        match &self.q8 {
            Some(q) if one => Ok(q.forward(x)?),
            _ if one && !self.blocks.is_empty() => {
                use rayon::prelude::*;
                let parts =
                    self.blocks.par_iter().map(|b| x.matmul(&b.t()?)).collect::<candle_core::Result<Vec<_>>>()?;
                Ok(Tensor::cat(&parts, 1)?)
            }
            _ => Ok(x.matmul(&self.w.t()?)?),
        }
    }
}

#[derive(Debug)]
struct Layer {
    attn_norm: Tensor,
    wq: Linear,
    wk: Linear,
    wv: Linear,
    wo: Linear,
    ffn_norm: Tensor,
    gate: Linear,
    down: Linear,
    up: Linear,
    /// Keys and values, (kv heads, capacity, head dim) each; positions past `Llama::len` are unused.
    cache: Option<(Tensor, Tensor)>,
}

/// A llama-architecture model with f32 weights and an in-place cache.
#[derive(Debug)]
pub struct Llama {
    embed: Tensor,
    layers: Vec<Layer>,
    norm: Tensor,
    output: Linear,
    cos: Tensor,
    sin: Tensor,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    eps: f32,
    context: usize,
    len: usize,
}

impl Llama {
    /// Whether this loader handles the file: dense (no experts) with rotary width = head width.
    pub fn supports(md: &Metadata<'_>, head_dim: usize) -> Result<bool> {
        let experts = md.opt_u32("llama.expert_count")?.unwrap_or(0);
        let rope = md.opt_u32("llama.rope.dimension_count")?.map_or(head_dim, |d| d as usize);
        Ok(experts <= 1 && rope == head_dim)
    }

    /// Loads and dequantizes every tensor; `shapes` were checked by [`super::hyperparams::check`].
    pub fn load<R: Read + Seek>(
        content: &Content,
        reader: &mut R,
        md: &Metadata<'_>,
        shapes: super::hyperparams::Hyperparams,
        context: usize,
        decode_q8: bool,
        device: &Device,
    ) -> Result<Llama> {
        let mut get = |name: &str| -> Result<Tensor> {
            Ok(content.tensor(reader, name, &Device::Cpu)?.dequantize(device)?.to_dtype(DType::F32)?)
        };
        let embed = get("token_embd.weight")?;
        let output =
            if content.tensor_infos.contains_key("output.weight") { get("output.weight")? } else { embed.clone() };
        let output = Linear::new(output, decode_q8)?;
        let norm = get("output_norm.weight")?;
        let mut layers = Vec::with_capacity(shapes.blocks);
        for i in 0..shapes.blocks {
            let name = |part: &str| format!("blk.{i}.{part}.weight");
            layers.push(Layer {
                attn_norm: get(&name("attn_norm"))?,
                wq: Linear::new(get(&name("attn_q"))?, decode_q8)?,
                wk: Linear::new(get(&name("attn_k"))?, decode_q8)?,
                wv: Linear::new(get(&name("attn_v"))?, decode_q8)?,
                wo: Linear::new(get(&name("attn_output"))?, decode_q8)?,
                ffn_norm: get(&name("ffn_norm"))?,
                gate: Linear::new(get(&name("ffn_gate"))?, decode_q8)?,
                down: Linear::new(get(&name("ffn_down"))?, decode_q8)?,
                up: Linear::new(get(&name("ffn_up"))?, decode_q8)?,
                cache: None,
            });
        }
        let eps_key = "llama.attention.layer_norm_rms_epsilon";
        let eps = md.opt_f32(eps_key)?.ok_or_else(|| md.error(eps_key, "missing metadata key"))?;
        let base = md.opt_f32("llama.rope.freq_base")?.unwrap_or(10_000.0);
        let head_dim = shapes.head_dim();
        let (cos, sin) = rope_tables(head_dim, base, context, device)?;
        Ok(Llama {
            embed,
            layers,
            norm,
            output,
            cos,
            sin,
            heads: shapes.heads,
            kv_heads: shapes.kv_heads,
            head_dim,
            eps,
            context,
            len: 0,
        })
    }

    /// Forgets the cached sequence (the buffers stay allocated).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Runs `tokens` at positions `pos..` and returns the logits after the last one.
    pub fn forward(&mut self, tokens: &[u32], pos: usize) -> Result<Tensor> {
        // Position 0 starts a new sequence; anything else must continue the cached one.
        if pos != 0 && pos != self.len {
            return Err(crate::error::Error::InvalidArgument {
                name: "pos",
                message: format!("position {pos} does not continue the cached {} tokens", self.len),
            });
        }
        let seq = tokens.len();
        let total = pos + seq;
        if total > self.context {
            return Err(crate::error::Error::InvalidArgument {
                name: "tokens",
                message: format!("{total} positions exceed the context of {}", self.context),
            });
        }
        let device = self.embed.device().clone();
        let ids = Tensor::new(tokens, &device)?;
        let mut x = self.embed.index_select(&ids, 0)?;
        let cos = self.cos.narrow(0, pos, seq)?;
        let sin = self.sin.narrow(0, pos, seq)?;
        let mask = if seq > 1 { Some(causal_mask(seq, pos, &device)?) } else { None };
        let (heads, kv_heads, hd) = (self.heads, self.kv_heads, self.head_dim);
        let group = heads / kv_heads;
        let scale = 1.0 / (hd as f64).sqrt();
        let context = self.context;
        for layer in &mut self.layers {
            let h = candle_nn::ops::rms_norm(&x, &layer.attn_norm, self.eps)?;
            // (tokens, heads·hd) → (heads, tokens, hd), rotated as llama.cpp's interleaved pairs.
            let split =
                |t: Tensor, n: usize| -> Result<Tensor> { Ok(t.reshape((seq, n, hd))?.transpose(0, 1)?.contiguous()?) };
            let q = split(layer.wq.forward(&h)?, heads)?;
            let k = split(layer.wk.forward(&h)?, kv_heads)?;
            let v = split(layer.wv.forward(&h)?, kv_heads)?;
            let q = candle_nn::rotary_emb::rope_i(&q.unsqueeze(0)?, &cos, &sin)?.squeeze(0)?;
            let k = candle_nn::rotary_emb::rope_i(&k.unsqueeze(0)?, &cos, &sin)?.squeeze(0)?;
            let (k_all, v_all) = append(layer, &k, &v, pos, context)?;
            // A group's heads share its key/value head: stack their queries as rows of one product.
            let q = (q * scale)?.reshape((kv_heads, group * seq, hd))?;
            let att = q.matmul(&k_all.t()?)?;
            let att = match &mask {
                Some(m) => att.reshape((kv_heads, group, seq, total))?.broadcast_add(m)?.reshape((
                    kv_heads,
                    group * seq,
                    total,
                ))?,
                None => att,
            };
            let att = candle_nn::ops::softmax_last_dim(&att)?;
            let y = att.matmul(&v_all)?.reshape((heads, seq, hd))?.transpose(0, 1)?.reshape((seq, heads * hd))?;
            x = (x + layer.wo.forward(&y)?)?;
            let h = candle_nn::ops::rms_norm(&x, &layer.ffn_norm, self.eps)?;
            let gated = (candle_nn::ops::silu(&layer.gate.forward(&h)?)? * layer.up.forward(&h)?)?;
            x = (x + layer.down.forward(&gated)?)?;
        }
        self.len = total;
        let last = x.i(seq - 1..seq)?;
        let last = candle_nn::ops::rms_norm(&last, &self.norm, self.eps)?;
        Ok(self.output.forward(&last)?.squeeze(0)?)
    }
}

/// Writes this step's keys and values at `pos` and returns views of the whole cached sequence.
fn append(layer: &mut Layer, k: &Tensor, v: &Tensor, pos: usize, context: usize) -> Result<(Tensor, Tensor)> {
    let (kv_heads, seq, hd) = k.dims3()?;
    let total = pos + seq;
    let capacity = layer.cache.as_ref().map_or(0, |(kc, _)| kc.dim(1).unwrap_or(0));
    if total > capacity {
        let new_cap = (capacity * 2).max(total.div_ceil(CACHE_STEP) * CACHE_STEP).min(context).max(total);
        let grow = |old: Option<&Tensor>| -> Result<Tensor> {
            let fresh = Tensor::zeros((kv_heads, new_cap, hd), DType::F32, k.device())?;
            if let Some(old) = old
                && pos > 0
            {
                fresh.slice_set(&old.narrow(1, 0, pos)?.contiguous()?, 1, 0)?;
            }
            Ok(fresh)
        };
        // Both grown before either replaces the old pair, so keys and values keep one capacity.
        let grown = (grow(layer.cache.as_ref().map(|c| &c.0))?, grow(layer.cache.as_ref().map(|c| &c.1))?);
        layer.cache = Some(grown);
    }
    let Some((kc, vc)) = &layer.cache else {
        return Err(crate::error::Error::InvalidArgument { name: "cache", message: "not allocated".into() });
    };
    kc.slice_set(k, 1, pos)?;
    vc.slice_set(v, 1, pos)?;
    Ok((kc.narrow(1, 0, total)?, vc.narrow(1, 0, total)?))
}

/// 0 where query `i` (at position `pos + i`) may see key `j`, −∞ after it; shape (tokens, pos + tokens).
fn causal_mask(seq: usize, pos: usize, device: &Device) -> Result<Tensor> {
    let total = pos + seq;
    let mask: Vec<f32> =
        (0..seq).flat_map(|i| (0..total).map(move |j| if j > pos + i { f32::NEG_INFINITY } else { 0.0 })).collect();
    Ok(Tensor::from_vec(mask, (seq, total), device)?)
}

/// cos and sin of position × θᵢ, θᵢ = base^(−2i/d), shape (context, d/2).
fn rope_tables(head_dim: usize, base: f32, context: usize, device: &Device) -> Result<(Tensor, Tensor)> {
    let theta: Vec<f32> = (0..head_dim).step_by(2).map(|i| 1.0 / base.powf(i as f32 / head_dim as f32)).collect();
    let theta = Tensor::new(theta.as_slice(), device)?;
    let positions = Tensor::arange(0, context as u32, device)?.to_dtype(DType::F32)?.reshape((context, 1))?;
    let angles = positions.broadcast_mul(&theta.reshape((1, head_dim / 2))?)?;
    Ok((angles.cos()?.contiguous()?, angles.sin()?.contiguous()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::{hyperparams, metadata::Metadata};
    use candle_core::quantized::gguf_file::{self, Value};
    use candle_transformers::models::quantized_llama::ModelWeights;
    use std::io::Cursor;
    use std::path::Path;

    /// A random two-block llama GGUF (4 heads of 4, 2 KV heads) in memory.
    fn tiny_gguf() -> Cursor<Vec<u8>> {
        let dev = Device::Cpu;
        let md: Vec<(&str, Value)> = vec![
            ("general.architecture", Value::String("llama".into())),
            ("llama.embedding_length", Value::U32(16)),
            ("llama.attention.head_count", Value::U32(4)),
            ("llama.attention.head_count_kv", Value::U32(2)),
            ("llama.block_count", Value::U32(2)),
            ("llama.rope.dimension_count", Value::U32(4)),
            ("llama.attention.layer_norm_rms_epsilon", Value::F32(1e-5)),
            ("llama.context_length", Value::U32(1024)),
            ("llama.feed_forward_length", Value::U32(32)),
        ];
        let mut shapes = vec![
            ("token_embd.weight", vec![50, 16]),
            ("output_norm.weight", vec![16]),
            ("output.weight", vec![50, 16]),
        ];
        let blocks: Vec<(String, Vec<usize>)> = (0..2)
            .flat_map(|i| {
                [
                    ("attn_norm", vec![16]),
                    ("attn_q", vec![16, 16]),
                    ("attn_k", vec![8, 16]),
                    ("attn_v", vec![8, 16]),
                    ("attn_output", vec![16, 16]),
                    ("ffn_norm", vec![16]),
                    ("ffn_gate", vec![32, 16]),
                    ("ffn_down", vec![16, 32]),
                    ("ffn_up", vec![32, 16]),
                ]
                .into_iter()
                .map(move |(n, s)| (format!("blk.{i}.{n}.weight"), s))
            })
            .collect();
        shapes.extend(blocks.iter().map(|(n, s)| (n.as_str(), s.clone())));
        let tensors: Vec<(&str, QTensor)> = shapes
            .into_iter()
            .map(|(n, s)| {
                let t =
                    (Tensor::randn(0f32, 0.5, s, &dev).unwrap() + if n.contains("norm") { 1.0 } else { 0.0 }).unwrap();
                (n, QTensor::quantize(&t, GgmlDType::F32).unwrap())
            })
            .collect();
        let mut buf = Cursor::new(Vec::new());
        let md_refs: Vec<(&str, &Value)> = md.iter().map(|(k, v)| (*k, v)).collect();
        let t_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();
        gguf_file::write(&mut buf, &md_refs, &t_refs).unwrap();
        buf
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap()
    }

    #[test]
    fn one_token_steps_over_row_blocks_equal_the_whole_product() {
        let w = Tensor::randn(0f32, 1.0, (300, 48), &Device::Cpu).unwrap();
        let x = Tensor::randn(0f32, 1.0, (1, 48), &Device::Cpu).unwrap();
        let whole = x.matmul(&w.t().unwrap()).unwrap();
        let lin = Linear::new(w, false).unwrap();
        if candle_core::utils::get_num_threads() > 1 {
            assert!(lin.blocks.len() > 1);
        }
        // gemm may sum the 48 products in another order for a smaller matrix: rounding only.
        assert!(max_diff(&lin.forward(&x).unwrap(), &whole) < 1e-5);
        // Several tokens take the plain product.
        let xs = Tensor::randn(0f32, 1.0, (3, 48), &Device::Cpu).unwrap();
        assert_eq!(lin.forward(&xs).unwrap().dims(), &[3, 300]);
    }

    #[test]
    fn matches_candles_llama_across_cache_growth_and_resets() {
        let mut buf = tiny_gguf();
        buf.set_position(0);
        let content = gguf_file::Content::read(&mut buf).unwrap();
        let md = Metadata::new(&content, Path::new("tiny.gguf"));
        let shapes = hyperparams::check(&md, &content, "llama").unwrap();
        let mut ours = Llama::load(&content, &mut buf, &md, shapes, 1024, false, &Device::Cpu).unwrap();
        let mut mixed = Llama::load(&content, &mut buf, &md, shapes, 1024, true, &Device::Cpu).unwrap();
        buf.set_position(0);
        let content2 = gguf_file::Content::read(&mut buf).unwrap();
        let mut theirs = ModelWeights::from_gguf(content2, &mut buf, &Device::Cpu).unwrap();

        // A 600-token prompt crosses the first cache step (512); then one-token steps.
        let prompt: Vec<u32> = (0..600u32).map(|i| (i * 7) % 50).collect();
        let run_theirs = |m: &mut ModelWeights, ids: &[u32], pos: usize| {
            m.forward(&Tensor::new(ids, &Device::Cpu).unwrap().unsqueeze(0).unwrap(), pos).unwrap().squeeze(0).unwrap()
        };
        let first = ours.forward(&prompt, 0).unwrap();
        assert!(max_diff(&first, &run_theirs(&mut theirs, &prompt, 0)) < 1e-4);
        mixed.forward(&prompt, 0).unwrap();
        for (step, id) in [3u32, 41, 7, 19].into_iter().enumerate() {
            let pos = prompt.len() + step;
            let a = ours.forward(&[id], pos).unwrap();
            assert!(max_diff(&a, &run_theirs(&mut theirs, &[id], pos)) < 1e-4, "step {step}");
            // Q8_0 decoding stays close to f32 (8-bit weights and activations).
            let q = mixed.forward(&[id], pos).unwrap();
            let scale = a.abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
            assert!(max_diff(&a, &q) < 0.05 * scale.max(1.0), "mixed step {step}");
        }
        // A new sequence at position 0 reuses the buffers and forgets the old one.
        ours.clear();
        assert!(max_diff(&ours.forward(&prompt, 0).unwrap(), &first) < 1e-6);
        // Skipping positions is refused; the context is enforced.
        assert!(ours.forward(&[1], 5000).is_err());
        ours.clear();
        assert!(ours.forward(&vec![1; 1025], 0).is_err());
    }
}
