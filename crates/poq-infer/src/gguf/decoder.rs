//! Our forward pass for GGUF decoder-only models in f32: llama (SmolLM2, TinyLlama, Llama 3.2),
//! qwen2 (Qwen2 and Qwen2.5) and gemma3.
//!
//! Same arithmetic as llama.cpp's graphs on dequantized weights, with the key/value cache kept in
//! place: candle's quantized models concatenate the whole cache at every token and copy it once
//! more per head group (`repeat_kv`), which dominated decoding at the lengths of CNN/DailyMail
//! prompts (1,100 tokens). Here each layer writes new keys and values into a preallocated buffer,
//! and the heads of a group share one matrix product with their key/value head.
//!
//! The three architectures differ only in a few places, all read from the file by [`Flavor`]:
//! - llama: rotary pairs interleaved (the converter permuted the query and key rows for it), SiLU;
//! - qwen2: query/key/value biases, rotary pairs split in halves (NeoX style), SiLU;
//! - gemma3: embeddings scaled by √width, RMS norms of each query and key head (QK-norm), norms
//!   after attention and after the feed-forward block as well as before (sandwich), GELU (tanh),
//!   heads wider than width / heads, and five of every six layers attending to the last 512
//!   positions only (sliding window) with their own rotary base. The converter already added
//!   Gemma's `1 +` to every norm weight, so all norms are plain RMS norms here.
//!
//! It holds several sequences, each with its own cache, and a decoding step can advance any of
//! them together: the weight products then run over one row per sequence, so the weights are
//! read once for all of them (see [`super::matvec`]).
//!
//! With `decode_q8` the matrices also keep a Q8_0 copy for products over at most 16 rows (decoding
//! steps, and prompts that short): decoding reads every weight once per step, so it is bound by
//! memory bandwidth, and Q8_0 moves a quarter of the bytes of f32 (with 8-bit activations, as
//! llama.cpp runs Q4_1 files); longer prompts still go through f32 matrix-matrix products, where
//! the arithmetic, not the bytes, is the cost.

use super::metadata::Metadata;
use crate::error::{Error, Result};
use candle_core::Module;
use candle_core::quantized::gguf_file::Content;
use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Device, Tensor};
use std::io::{Read, Seek};

/// Cache positions reserved at a time (grown by doubling, up to the context length).
const CACHE_STEP: usize = 512;

/// The most sequences held at once (each with its own cache).
pub const MAX_SEQUENCES: usize = 16;
/// Activation rows up to which a product runs on [`super::matvec`]: a step of every sequence at
/// once stays on it, so its sums never depend on how many sequences share the step.
const DECODE_ROWS: usize = MAX_SEQUENCES;

/// The `general.architecture` values this forward runs.
pub const ARCHITECTURES: [&str; 3] = ["llama", "qwen2", "gemma3"];

/// How rotary embeddings pair a head's dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RopeStyle {
    /// Dimensions (2i, 2i + 1): llama files, whose converter permuted the query and key rows.
    Interleaved,
    /// Dimensions (i, i + d/2): qwen2 and gemma3 (llama.cpp's NeoX style).
    Halves,
}

/// The feed-forward gate's activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Activation {
    Silu,
    /// GELU with the tanh approximation (Gemma's `gelu_pytorch_tanh`).
    GeluTanh,
}

/// What an architecture changes in the shared forward pass.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Flavor {
    rope: RopeStyle,
    activation: Activation,
    /// Factor applied to token embeddings (Gemma: √width).
    embed_scale: Option<f64>,
    /// Gemma 3's sliding-window layers: (window, every how many layers one is global, rotary base
    /// of the windowed layers).
    sliding: Option<(usize, usize, f32)>,
}

/// Layers in a Gemma 3 period: five windowed, then one global (llama.cpp's pattern).
const GEMMA3_PERIOD: usize = 6;
/// Rotary base of Gemma 3's windowed layers (llama.cpp and transformers use this constant).
const GEMMA3_LOCAL_BASE: f32 = 10_000.0;

impl Flavor {
    fn of(md: &Metadata<'_>, arch: &str, embedding: usize) -> Result<Flavor> {
        let key = |k: &str| format!("{arch}.{k}");
        Ok(match arch {
            "llama" => {
                Flavor { rope: RopeStyle::Interleaved, activation: Activation::Silu, embed_scale: None, sliding: None }
            }
            "qwen2" => {
                Flavor { rope: RopeStyle::Halves, activation: Activation::Silu, embed_scale: None, sliding: None }
            }
            "gemma3" => {
                let window_key = key("attention.sliding_window");
                let window = md.opt_u32(&window_key)?.ok_or_else(|| md.error(&window_key, "missing metadata key"))?;
                if window == 0 {
                    return Err(md.error(&window_key, "must be at least 1"));
                }
                let period = md.opt_u32(&key("attention.sliding_window_type"))?.map_or(GEMMA3_PERIOD, |p| p as usize);
                let local_base = md.opt_f32(&key("rope.local_freq_base"))?.unwrap_or(GEMMA3_LOCAL_BASE);
                Flavor {
                    rope: RopeStyle::Halves,
                    activation: Activation::GeluTanh,
                    embed_scale: Some((embedding as f64).sqrt()),
                    sliding: Some((window as usize, period.max(1), local_base)),
                }
            }
            other => return Err(Error::Unsupported(format!("our f32 forward does not run `{other}`"))),
        })
    }
}

/// A weight matrix (out, in) in f32 with an optional bias, and an optional Q8_0 copy for decoding
/// steps (at most `DECODE_ROWS` rows).
#[derive(Debug)]
struct Linear {
    w: Tensor,
    bias: Option<Tensor>,
    q8: Option<QMatMul>,
}

impl Linear {
    fn new(w: Tensor, bias: Option<Tensor>, decode_q8: bool) -> Result<Linear> {
        let q8 = if decode_q8 && w.dim(1)? % GgmlDType::Q8_0.block_size() == 0 {
            Some(QMatMul::from_qtensor(QTensor::quantize(&w, GgmlDType::Q8_0)?)?)
        } else {
            None
        };
        Ok(Linear { w, bias, q8 })
    }

    /// `x · wᵀ (+ bias)` for `x` of shape (rows, in).
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.product(x)?;
        Ok(match &self.bias {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        })
    }

    fn product(&self, x: &Tensor) -> Result<Tensor> {
        let rows = x.dim(0)?;
        if rows > DECODE_ROWS {
            return Ok(x.matmul(&self.w.t()?)?);
        }
        if let Some(q) = &self.q8 {
            return Ok(q.forward(x)?);
        }
        let (storage, layout) = self.w.storage_and_layout();
        let candle_core::Storage::Cpu(cpu) = &*storage else {
            return Ok(x.matmul(&self.w.t()?)?);
        };
        let (out_dim, in_dim) = self.w.dims2()?;
        let w = &cpu.as_slice::<f32>()?[layout.start_offset()..][..out_dim * in_dim];
        let xs = x.flatten_all()?.to_vec1::<f32>()?;
        let mut out = vec![0f32; rows * out_dim];
        super::matvec::matvecs(w, in_dim, &xs, &mut out);
        Ok(Tensor::from_vec(out, (rows, out_dim), x.device())?)
    }
}

#[derive(Debug)]
struct Layer {
    attn_norm: Tensor,
    wq: Linear,
    wk: Linear,
    wv: Linear,
    wo: Linear,
    /// Gemma 3's per-head RMS norms of queries and keys.
    q_norm: Option<Tensor>,
    k_norm: Option<Tensor>,
    /// Gemma 3's norms of the attention and feed-forward outputs.
    post_attn_norm: Option<Tensor>,
    ffn_norm: Tensor,
    gate: Linear,
    down: Linear,
    up: Linear,
    post_ffn_norm: Option<Tensor>,
    /// Index into [`Decoder::ropes`].
    rope: usize,
    /// Keys this many positions back or more are not seen (Gemma 3's windowed layers).
    window: Option<usize>,
}

/// One sequence's keys and values, per layer (kv heads, capacity, head dim) each; positions
/// past `len` are unused.
#[derive(Debug, Default)]
struct Sequence {
    cache: Vec<Option<(Tensor, Tensor)>>,
    len: usize,
}

/// A decoder-only model with f32 weights and in-place caches, one per sequence.
#[derive(Debug)]
pub struct Decoder {
    flavor: Flavor,
    embed: Tensor,
    layers: Vec<Layer>,
    norm: Tensor,
    output: Linear,
    /// (cos, sin) tables, (context, rotary dims / 2) each: one per rotary base in use.
    ropes: Vec<(Tensor, Tensor)>,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    eps: f32,
    context: usize,
    /// Sequence 0 is the one-sequence API's ([`Decoder::forward`]).
    sequences: Vec<Sequence>,
}

impl Decoder {
    /// Whether this forward runs the file: one of [`ARCHITECTURES`], dense (no experts), with the
    /// rotary width equal to the head width.
    pub fn supports(md: &Metadata<'_>, arch: &str, head_dim: usize) -> Result<bool> {
        if !ARCHITECTURES.contains(&arch) {
            return Ok(false);
        }
        let experts = md.opt_u32(&format!("{arch}.expert_count"))?.unwrap_or(0);
        let rope = md.opt_u32(&format!("{arch}.rope.dimension_count"))?.map_or(head_dim, |d| d as usize);
        Ok(experts <= 1 && rope == head_dim)
    }

    /// Loads and dequantizes every tensor of a file of architecture `arch`; `shapes` were checked
    /// by [`super::hyperparams::check`].
    #[allow(clippy::too_many_arguments)]
    pub fn load<R: Read + Seek>(
        content: &Content,
        reader: &mut R,
        md: &Metadata<'_>,
        arch: &str,
        shapes: super::hyperparams::Hyperparams,
        context: usize,
        decode_q8: bool,
        device: &Device,
    ) -> Result<Decoder> {
        let flavor = Flavor::of(md, arch, shapes.embedding)?;
        let mut get = |name: &str| -> Result<Tensor> {
            Ok(content.tensor(reader, name, &Device::Cpu)?.dequantize(device)?.to_dtype(DType::F32)?)
        };
        let has = |name: &str| content.tensor_infos.contains_key(name);
        let embed = get("token_embd.weight")?;
        let output = if has("output.weight") { get("output.weight")? } else { embed.clone() };
        let output = Linear::new(output, None, decode_q8)?;
        let norm = get("output_norm.weight")?;
        let key = |k: &str| format!("{arch}.{k}");
        let base = md.opt_f32(&key("rope.freq_base"))?.unwrap_or(10_000.0);
        let head_dim = shapes.head_dim;
        let mut ropes = vec![rope_tables(head_dim, base, context, device)?];
        if let Some((_, _, local_base)) = flavor.sliding {
            ropes.push(rope_tables(head_dim, local_base, context, device)?);
        }
        let mut layers = Vec::with_capacity(shapes.blocks);
        for i in 0..shapes.blocks {
            let name = |part: &str| format!("blk.{i}.{part}");
            let mut opt = |part: &str| -> Result<Option<Tensor>> {
                let n = name(part);
                if has(&n) { get(&n).map(Some) } else { Ok(None) }
            };
            let (bq, bk, bv) = (opt("attn_q.bias")?, opt("attn_k.bias")?, opt("attn_v.bias")?);
            let (q_norm, k_norm) = (opt("attn_q_norm.weight")?, opt("attn_k_norm.weight")?);
            let (post_attn_norm, post_ffn_norm) = (opt("post_attention_norm.weight")?, opt("post_ffw_norm.weight")?);
            let (attn_norm, ffn_norm) = (get(&name("attn_norm.weight"))?, get(&name("ffn_norm.weight"))?);
            let mut linear = |part: &str, bias: Option<Tensor>| -> Result<Linear> {
                Linear::new(get(&name(part))?, bias, decode_q8)
            };
            // Gemma 3: every `period`-th layer is global, the others see a window with their own base.
            let windowed = flavor.sliding.filter(|&(_, period, _)| (i + 1) % period != 0);
            layers.push(Layer {
                attn_norm,
                wq: linear("attn_q.weight", bq)?,
                wk: linear("attn_k.weight", bk)?,
                wv: linear("attn_v.weight", bv)?,
                wo: linear("attn_output.weight", None)?,
                q_norm,
                k_norm,
                post_attn_norm,
                ffn_norm,
                gate: linear("ffn_gate.weight", None)?,
                down: linear("ffn_down.weight", None)?,
                up: linear("ffn_up.weight", None)?,
                post_ffn_norm,
                rope: usize::from(windowed.is_some()),
                window: windowed.map(|(w, _, _)| w),
            });
        }
        if flavor.sliding.is_some() && layers.iter().any(|l| l.q_norm.is_none() || l.post_attn_norm.is_none()) {
            return Err(md.error("blk.*.attn_q_norm.weight", "gemma3 layers need QK norms and post-norms"));
        }
        let eps_key = key("attention.layer_norm_rms_epsilon");
        let eps = md.opt_f32(&eps_key)?.ok_or_else(|| md.error(&eps_key, "missing metadata key"))?;
        Ok(Decoder {
            flavor,
            embed,
            layers,
            norm,
            output,
            ropes,
            heads: shapes.heads,
            kv_heads: shapes.kv_heads,
            head_dim,
            eps,
            context,
            sequences: Vec::new(),
        })
    }

    /// Forgets sequence 0 (its buffers stay allocated).
    pub fn clear(&mut self) {
        if let Some(s) = self.sequences.first_mut() {
            s.len = 0;
        }
    }

    /// Frees every sequence's cache.
    pub fn release(&mut self) {
        self.sequences.clear();
    }

    /// Runs `tokens` at positions `pos..` of sequence 0 and returns the logits after the last one.
    pub fn forward(&mut self, tokens: &[u32], pos: usize) -> Result<Tensor> {
        // Position 0 starts a new sequence; anything else must continue the cached one.
        let len = self.sequences.first().map_or(0, |s| s.len);
        if pos != 0 && pos != len {
            return Err(Error::InvalidArgument {
                name: "pos",
                message: format!("position {pos} does not continue the cached {len} tokens"),
            });
        }
        if pos == 0 {
            self.clear();
        }
        Ok(self.run(&[(0, tokens)])?.squeeze(0)?)
    }

    /// Starts sequence `slot` with `prompt`; the logits after it.
    pub fn start(&mut self, slot: usize, prompt: &[u32]) -> Result<Tensor> {
        self.slot(slot)?.len = 0;
        Ok(self.run(&[(slot, prompt)])?.squeeze(0)?)
    }

    /// Feeds `tokens[i]` to sequence `slots[i]` at its next position, all in one step; logits
    /// (slots, vocab).
    pub fn step(&mut self, slots: &[usize], tokens: &[u32]) -> Result<Tensor> {
        if slots.len() != tokens.len() || slots.is_empty() {
            return Err(Error::InvalidArgument {
                name: "tokens",
                message: format!("{} tokens for {} sequences", tokens.len(), slots.len()),
            });
        }
        let mut seen = [false; MAX_SEQUENCES];
        for &s in slots {
            self.slot(s)?;
            if std::mem::replace(&mut seen[s], true) {
                return Err(Error::InvalidArgument {
                    name: "slots",
                    message: format!("sequence {s} appears twice in one step"),
                });
            }
        }
        let steps: Vec<(usize, &[u32])> =
            slots.iter().zip(tokens).map(|(&s, t)| (s, std::slice::from_ref(t))).collect();
        self.run(&steps)
    }

    fn slot(&mut self, slot: usize) -> Result<&mut Sequence> {
        if slot >= MAX_SEQUENCES {
            return Err(Error::InvalidArgument {
                name: "slot",
                message: format!("sequence {slot} is past the {MAX_SEQUENCES} a model holds"),
            });
        }
        if self.sequences.len() <= slot {
            self.sequences.resize_with(slot + 1, Sequence::default);
        }
        Ok(&mut self.sequences[slot])
    }

    /// Runs each `(sequence, tokens)` from that sequence's current length, every product over
    /// all their rows at once; the logits after each one's last token, (sequences, vocab).
    fn run(&mut self, steps: &[(usize, &[u32])]) -> Result<Tensor> {
        let mut starts = Vec::with_capacity(steps.len());
        for &(slot, tokens) in steps {
            let pos = self.slot(slot)?.len;
            let total = pos + tokens.len();
            if tokens.is_empty() || total > self.context {
                return Err(Error::InvalidArgument {
                    name: "tokens",
                    message: format!(
                        "{} tokens at position {pos} do not fit the context of {}",
                        tokens.len(),
                        self.context
                    ),
                });
            }
            starts.push(pos);
        }
        let device = self.embed.device().clone();
        let ids: Vec<u32> = steps.iter().flat_map(|(_, t)| t.iter().copied()).collect();
        let mut x = self.embed.index_select(&Tensor::new(ids.as_slice(), &device)?, 0)?;
        if let Some(scale) = self.flavor.embed_scale {
            x = (x * scale)?;
        }
        let (heads, kv_heads, hd) = (self.heads, self.kv_heads, self.head_dim);
        let group = heads / kv_heads;
        let scale = 1.0 / (hd as f64).sqrt();
        let (context, eps, flavor) = (self.context, self.eps, self.flavor);
        // Gemma's extra norms: identity where a layer has none.
        let norm = |x: Tensor, w: &Option<Tensor>| -> Result<Tensor> {
            Ok(match w {
                Some(w) => candle_nn::ops::rms_norm(&x, w, eps)?,
                None => x,
            })
        };
        for (l, layer) in self.layers.iter().enumerate() {
            let h = candle_nn::ops::rms_norm(&x, &layer.attn_norm, eps)?;
            let (q_all, k_all, v_all) = (layer.wq.forward(&h)?, layer.wk.forward(&h)?, layer.wv.forward(&h)?);
            let (cos_all, sin_all) = &self.ropes[layer.rope];
            let mut ys = Vec::with_capacity(steps.len());
            let mut row = 0;
            for (&(slot, tokens), &pos) in steps.iter().zip(&starts) {
                let seq = tokens.len();
                // (tokens, heads·hd) → (heads, tokens, hd), each head RMS-normed where the layer says.
                let split = |t: &Tensor, n: usize, head_norm: &Option<Tensor>| -> Result<Tensor> {
                    let t = t.narrow(0, row, seq)?.reshape((seq * n, hd))?;
                    Ok(norm(t, head_norm)?.reshape((seq, n, hd))?.transpose(0, 1)?.contiguous()?)
                };
                let cos = cos_all.narrow(0, pos, seq)?;
                let sin = sin_all.narrow(0, pos, seq)?;
                let rope = |t: Tensor| -> Result<Tensor> {
                    let t = t.unsqueeze(0)?;
                    let t = match flavor.rope {
                        RopeStyle::Interleaved => candle_nn::rotary_emb::rope_i(&t, &cos, &sin)?,
                        RopeStyle::Halves => candle_nn::rotary_emb::rope(&t, &cos, &sin)?,
                    };
                    Ok(t.squeeze(0)?)
                };
                let q = rope(split(&q_all, heads, &layer.q_norm)?)?;
                let k = rope(split(&k_all, kv_heads, &layer.k_norm)?)?;
                let v = split(&v_all, kv_heads, &None)?;
                let (keys, values) = append(&mut self.sequences[slot], l, &k, &v, pos, context)?;
                // A windowed layer's earliest query (at `pos`) sees no key before `from`.
                let from = layer.window.map_or(0, |w| (pos + 1).saturating_sub(w));
                let seen = pos + seq - from;
                let (keys, values) = (keys.narrow(1, from, seen)?, values.narrow(1, from, seen)?);
                // A group's heads share its key/value head: stack their queries as rows of one product.
                let q = (q * scale)?.reshape((kv_heads, group * seq, hd))?;
                let mut att = q.matmul(&keys.t()?)?;
                if seq > 1 {
                    let mask = attention_mask(seq, pos, from, layer.window, &device)?;
                    att = att.reshape((kv_heads, group, seq, seen))?.broadcast_add(&mask)?.reshape((
                        kv_heads,
                        group * seq,
                        seen,
                    ))?;
                }
                let att = candle_nn::ops::softmax_last_dim(&att)?;
                ys.push(att.matmul(&values)?.reshape((heads, seq, hd))?.transpose(0, 1)?.reshape((seq, heads * hd))?);
                row += seq;
            }
            let y = if ys.len() == 1 { ys.remove(0) } else { Tensor::cat(&ys, 0)? };
            x = (x + norm(layer.wo.forward(&y)?, &layer.post_attn_norm)?)?;
            let h = candle_nn::ops::rms_norm(&x, &layer.ffn_norm, eps)?;
            let gate = layer.gate.forward(&h)?;
            let gate = match flavor.activation {
                Activation::Silu => candle_nn::ops::silu(&gate)?,
                Activation::GeluTanh => gate.gelu()?,
            };
            let ffn = layer.down.forward(&(gate * layer.up.forward(&h)?)?)?;
            x = (x + norm(ffn, &layer.post_ffn_norm)?)?;
        }
        let mut last = Vec::with_capacity(steps.len());
        let mut row = 0;
        for (&(slot, tokens), &pos) in steps.iter().zip(&starts) {
            row += tokens.len();
            last.push((row - 1) as u32);
            self.sequences[slot].len = pos + tokens.len();
        }
        let last = x.index_select(&Tensor::new(last.as_slice(), &device)?, 0)?;
        let last = candle_nn::ops::rms_norm(&last, &self.norm, eps)?;
        self.output.forward(&last)
    }
}

/// Writes this step's keys and values at `pos` of layer `layer` and returns views of the whole
/// cached sequence.
fn append(
    sequence: &mut Sequence,
    layer: usize,
    k: &Tensor,
    v: &Tensor,
    pos: usize,
    context: usize,
) -> Result<(Tensor, Tensor)> {
    let (kv_heads, seq, hd) = k.dims3()?;
    let total = pos + seq;
    if sequence.cache.len() <= layer {
        sequence.cache.resize_with(layer + 1, || None);
    }
    let cache = &mut sequence.cache[layer];
    let capacity = cache.as_ref().map_or(0, |(kc, _)| kc.dim(1).unwrap_or(0));
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
        let grown = (grow(cache.as_ref().map(|c| &c.0))?, grow(cache.as_ref().map(|c| &c.1))?);
        *cache = Some(grown);
    }
    let Some((kc, vc)) = cache.as_ref() else {
        return Err(Error::InvalidArgument { name: "cache", message: "not allocated".into() });
    };
    kc.slice_set(k, 1, pos)?;
    vc.slice_set(v, 1, pos)?;
    Ok((kc.narrow(1, 0, total)?, vc.narrow(1, 0, total)?))
}

/// 0 where query `i` (at position `pos + i`) may see the key at position `from + j`, −∞ where
/// that key is after it or, with a `window`, `window` or more positions before it; shape
/// (tokens, pos + tokens − from).
fn attention_mask(seq: usize, pos: usize, from: usize, window: Option<usize>, device: &Device) -> Result<Tensor> {
    let total = pos + seq;
    let window = window.unwrap_or(usize::MAX);
    let mask: Vec<f32> = (0..seq)
        .flat_map(|i| {
            let query = pos + i;
            (from..total).map(move |key| if key > query || query - key >= window { f32::NEG_INFINITY } else { 0.0 })
        })
        .collect();
    Ok(Tensor::from_vec(mask, (seq, total - from), device)?)
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

    /// The model of `buf` (a [`tiny_gguf`]) with a context of 1,024.
    fn load_tiny(buf: &mut Cursor<Vec<u8>>, decode_q8: bool) -> Decoder {
        buf.set_position(0);
        let content = gguf_file::Content::read(buf).unwrap();
        let md = Metadata::new(&content, Path::new("tiny.gguf"));
        let shapes = hyperparams::check(&md, &content, "llama").unwrap();
        Decoder::load(&content, buf, &md, "llama", shapes, 1024, decode_q8, &Device::Cpu).unwrap()
    }

    #[test]
    fn matches_candles_llama_across_cache_growth_and_resets() {
        let mut buf = tiny_gguf();
        let mut ours = load_tiny(&mut buf, false);
        let mut mixed = load_tiny(&mut buf, true);
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

    #[test]
    fn sequences_stepped_together_equal_each_alone() {
        let mut model = load_tiny(&mut tiny_gguf(), false);
        let prompts: [Vec<u32>; 3] = [vec![1, 2, 3], (0..40).map(|i| i % 50).collect(), vec![9]];
        let steps = [[4u32, 5, 6], [7, 8, 9]];
        // Alone, through the one-sequence API.
        let mut alone = Vec::new();
        for (p, prompt) in prompts.iter().enumerate() {
            model.clear();
            let mut logits = vec![model.forward(prompt, 0).unwrap().to_vec1::<f32>().unwrap()];
            for (s, step) in steps.iter().enumerate() {
                logits.push(model.forward(&[step[p]], prompt.len() + s).unwrap().to_vec1::<f32>().unwrap());
            }
            alone.push(logits);
        }
        // Together, in slots 5, 0 and 2; then slot 0 alone and slot 2 restarted.
        let slots = [5, 0, 2];
        for (p, prompt) in prompts.iter().enumerate() {
            assert_eq!(model.start(slots[p], prompt).unwrap().to_vec1::<f32>().unwrap(), alone[p][0]);
        }
        for (s, step) in steps.iter().enumerate() {
            let together = model.step(&slots, step).unwrap().to_vec2::<f32>().unwrap();
            for p in 0..3 {
                assert_eq!(together[p], alone[p][s + 1], "prompt {p} step {s}");
            }
        }
        assert!(model.step(&[0, 0], &[1, 1]).is_err(), "a sequence twice in one step");
        assert!(model.step(&[MAX_SEQUENCES], &[1]).is_err());
        assert!(model.step(&[0], &[1, 2]).is_err());
        model.release();
        assert!(model.sequences.is_empty());
    }

    /// The tiny random `arch` file of tests/fixtures/tiny_gguf and llama.cpp's logits at every
    /// prompt position (made by tests/fixtures/make_gguf_references.py).
    fn tiny_reference(arch: &str) -> (Decoder, Vec<u32>, Vec<Vec<f32>>) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny_gguf");
        let fx: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{arch}.json"))).unwrap()).unwrap();
        let ids: Vec<u32> = serde_json::from_value(fx["prompt_ids"].clone()).unwrap();
        let want: Vec<Vec<f32>> = serde_json::from_value(fx["logits"].clone()).unwrap();
        let mut file = std::fs::File::open(dir.join(format!("{arch}.gguf"))).unwrap();
        let content = gguf_file::Content::read(&mut file).unwrap();
        let md = Metadata::new(&content, Path::new("tiny.gguf"));
        let shapes = hyperparams::check(&md, &content, arch).unwrap();
        let model = Decoder::load(&content, &mut file, &md, arch, shapes, 64, false, &Device::Cpu).unwrap();
        (model, ids, want)
    }

    /// Largest difference to llama.cpp's row, relative to the row's largest magnitude.
    fn rel_diff(got: &Tensor, want: &[f32]) -> f32 {
        let got = got.to_vec1::<f32>().unwrap();
        assert_eq!(got.len(), want.len());
        let scale = want.iter().fold(1f32, |m, w| m.max(w.abs()));
        got.iter().zip(want).map(|(g, w)| (g - w).abs()).fold(0f32, f32::max) / scale
    }

    /// llama.cpp computes these f32 files in f32 as well (the fixture asks for an f32 key/value
    /// cache); what is left is summation order (qwen2: 1e-6 of the largest logit) and llama.cpp's
    /// GELU, which reads a table of f16 values (gemma3: 1.5e-4). A wrong rotary pairing is
    /// checked below to move logits by far more than this.
    const TOLERANCE: f32 = 1e-3;

    fn check_against_llama_cpp(arch: &str) {
        let (mut model, ids, want) = tiny_reference(arch);
        // One token at a time: every position, decoding steps over the cache (and the window).
        let mut worst = 0f32;
        for (p, &id) in ids.iter().enumerate() {
            let d = rel_diff(&model.forward(&[id], p).unwrap(), &want[p]);
            assert!(d < TOLERANCE, "{arch} position {p}: {d}");
            worst = worst.max(d);
        }
        eprintln!("{arch}: largest difference to llama.cpp {worst:.2e} of the largest logit");
        // The whole prompt at once, and in two chunks (the second masked from position 5).
        model.clear();
        let last = ids.len() - 1;
        assert!(rel_diff(&model.forward(&ids, 0).unwrap(), &want[last]) < TOLERANCE, "{arch} prompt");
        model.clear();
        model.forward(&ids[..5], 0).unwrap();
        assert!(rel_diff(&model.forward(&ids[5..], 5).unwrap(), &want[last]) < TOLERANCE, "{arch} chunks");
        // Batched: two sequences at different lengths stepped together.
        model.start(3, &ids[..9]).unwrap();
        model.start(1, &ids[..2]).unwrap();
        let both = model.step(&[3, 1], &[ids[9], ids[2]]).unwrap();
        assert!(rel_diff(&both.get(0).unwrap(), &want[9]) < TOLERANCE, "{arch} batched long");
        assert!(rel_diff(&both.get(1).unwrap(), &want[2]) < TOLERANCE, "{arch} batched short");
        // The tolerance tells architectures apart: llama's interleaved rotary pairs are far off.
        model.flavor.rope = RopeStyle::Interleaved;
        model.clear();
        let wrong = rel_diff(&model.forward(&ids, 0).unwrap(), &want[last]);
        assert!(wrong > 10.0 * TOLERANCE, "{arch}: interleaved rotary pairs only moved logits by {wrong}");
    }

    #[test]
    fn qwen2_matches_llama_cpp() {
        check_against_llama_cpp("qwen2");
    }

    #[test]
    fn gemma3_matches_llama_cpp() {
        check_against_llama_cpp("gemma3");
    }

    #[test]
    fn gemma3_windowed_layers_forget_old_positions() {
        let (mut model, ids, _) = tiny_reference("gemma3");
        // Layers 0–4 see 4 positions back, layer 5 sees everything, layer 6 is windowed again.
        let windows: Vec<Option<usize>> = model.layers.iter().map(|l| l.window).collect();
        assert_eq!(windows, [Some(4), Some(4), Some(4), Some(4), Some(4), None, Some(4)]);
        // One windowed layer alone: the last position's output cannot depend on the first token.
        let mut other = ids.clone();
        other[0] = 77;
        let logits = |model: &mut Decoder, ids: &[u32]| {
            model.clear();
            model.forward(ids, 0).unwrap()
        };
        let global = model.layers.remove(5);
        model.layers.truncate(1);
        assert_eq!(max_diff(&logits(&mut model, &ids), &logits(&mut model, &other)), 0.0);
        // The global layer alone sees it.
        model.layers = vec![global];
        assert!(max_diff(&logits(&mut model, &ids), &logits(&mut model, &other)) > 1e-3);
    }

    #[test]
    fn the_attention_mask_sees_the_window_and_the_past_only() {
        let m = attention_mask(3, 4, 2, Some(3), &Device::Cpu).unwrap().to_vec2::<f32>().unwrap();
        // Keys at positions 2..7; queries at 4, 5, 6 see the three positions up to themselves.
        let seen: Vec<Vec<bool>> = m.iter().map(|r| r.iter().map(|v| *v == 0.0).collect()).collect();
        assert_eq!(
            seen,
            [[true, true, true, false, false], [false, true, true, true, false], [false, false, true, true, true]]
        );
    }
}
