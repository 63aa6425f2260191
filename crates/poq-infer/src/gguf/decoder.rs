//! Our forward pass for GGUF decoder-only models on the CPU: llama (SmolLM2, TinyLlama,
//! Llama 3.2), qwen2 (Qwen2 and Qwen2.5) and gemma3.
//!
//! The weights stay as the file stores them, memory-mapped: every product runs on our kernels
//! over the packed blocks ([`crate::quant`]) with f32 activations, so the numbers are those of
//! the dequantized f32 model (the Python reference's) up to rounding, while a decoding step reads
//! a sixth of the bytes of f32 weights (Q4_1) and loading copies nothing. Everything between the
//! products — norms, rotary embeddings, attention over the key/value cache, activations — works
//! on plain f32 rows here: a decoding step is a few hundred small operations per token, and a
//! graph library's per-operation overhead (allocations, shape checks) used to cost as much as the
//! products themselves.
//!
//! Each sequence keeps its keys and values in place, position after position; a decoding step's
//! attention reads them directly, in blocks of positions merged by rescaling, and a prompt's
//! attention runs as gemm products per head (both in `attention`).
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
//! read once for all of them, with the same sums as one sequence alone.

use super::attention::{Heads, Step, attention};
use super::metadata::Metadata;
use crate::error::{Error, Result};
use crate::quant::{self, Activations, Bytes, Format, MATVEC_ROWS, QMatrix};
use candle_core::Device;
use candle_core::quantized::GgmlDType;
use candle_core::quantized::gguf_file::Content;
use std::sync::Arc;

/// The most sequences held at once (each with its own cache).
pub const MAX_SEQUENCES: usize = MATVEC_ROWS;

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
    embed_scale: Option<f32>,
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
                    embed_scale: Some((embedding as f64).sqrt() as f32),
                    sliding: Some((window as usize, period.max(1), local_base)),
                }
            }
            other => return Err(Error::Unsupported(format!("our forward does not run `{other}`"))),
        })
    }
}

/// A GGUF file's bytes (a memory map, or a buffer in tests) and its tensor table.
struct Tensors<'a> {
    content: &'a Content,
    file: &'a Arc<dyn AsRef<[u8]> + Send + Sync>,
    md: &'a Metadata<'a>,
}

impl Tensors<'_> {
    fn has(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    fn error(&self, name: &str, message: impl Into<String>) -> Error {
        Error::Tensor { path: self.md.path(), tensor: name.to_string(), message: message.into() }
    }

    /// The tensor's type, dimensions (outermost first) and bytes.
    fn raw(&self, name: &str) -> Result<(GgmlDType, Vec<usize>, Bytes)> {
        let info = self.content.tensor_infos.get(name).ok_or_else(|| self.error(name, "missing tensor"))?;
        let dims = info.shape.dims().to_vec();
        let dtype = info.ggml_dtype;
        let elems: usize = dims.iter().product();
        let len = elems / dtype.block_size() * dtype.type_size();
        let start = usize::try_from(self.content.tensor_data_offset + info.offset)
            .map_err(|_| self.error(name, "offset past the address space"))?;
        let bytes = Bytes::new(Arc::clone(self.file), start, len).map_err(|e| self.error(name, e.to_string()))?;
        Ok((dtype, dims, bytes))
    }

    /// Every value as f32 (norms, biases, and matrices of formats our kernels do not read).
    fn values(&self, name: &str) -> Result<Vec<f32>> {
        let (dtype, _, bytes) = self.raw(name)?;
        let data = bytes.as_ref();
        let pairs = || data.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]]));
        Ok(match dtype {
            GgmlDType::F32 => data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
            GgmlDType::F16 => pairs().map(quant::f16_to_f32).collect(),
            GgmlDType::BF16 => pairs().map(|h| f32::from_bits(u32::from(h) << 16)).collect(),
            _ => {
                // Other block formats (Q2_K, Q3_K, ...): candle's dequantization, once, at load.
                let mut reader = std::io::Cursor::new((**self.file).as_ref());
                let t = self.content.tensor(&mut reader, name, &Device::Cpu)?;
                t.dequantize(&Device::Cpu)?.flatten_all()?.to_vec1::<f32>()?
            }
        })
    }

    /// A vector of `len` values.
    fn vector(&self, name: &str, len: usize) -> Result<Vec<f32>> {
        let v = self.values(name)?;
        if v.len() != len {
            return Err(self.error(name, format!("has {} values, expected {len}", v.len())));
        }
        Ok(v)
    }

    fn opt_vector(&self, name: &str, len: usize) -> Result<Option<Vec<f32>>> {
        if self.has(name) { self.vector(name, len).map(Some) } else { Ok(None) }
    }

    /// A (rows, cols) matrix, packed where our kernels read its format.
    fn matrix(&self, name: &str, rows: usize, cols: usize) -> Result<QMatrix> {
        let (dtype, dims, bytes) = self.raw(name)?;
        if dims != [rows, cols] {
            return Err(self.error(name, format!("has shape {dims:?}, expected [{rows}, {cols}]")));
        }
        match Format::of(dtype) {
            Some(format) => QMatrix::packed(bytes, format, rows, cols),
            None => QMatrix::dense(self.values(name)?, rows, cols),
        }
        .map_err(|e| self.error(name, e.to_string()))
    }

    fn linear(&self, name: &str, bias: &str, rows: usize, cols: usize) -> Result<Linear> {
        Ok(Linear { w: self.matrix(name, rows, cols)?, bias: self.opt_vector(bias, rows)? })
    }
}

/// A weight matrix (out, in) with an optional bias.
#[derive(Debug)]
struct Linear {
    w: QMatrix,
    bias: Option<Vec<f32>>,
}

impl Linear {
    fn add_bias(&self, out: &mut [f32]) {
        if let Some(b) = &self.bias {
            for row in out.chunks_exact_mut(b.len()) {
                row.iter_mut().zip(b).for_each(|(o, b)| *o += b);
            }
        }
    }
}

/// `x · wᵀ (+ bias)` for every `(linear, out)` pair, `x` of `rows` rows: decoding steps in one
/// parallel pass over all the matrices (with `activations`), prompts through gemm one matrix at
/// a time.
fn products(pairs: &mut [(&Linear, &mut [f32])], x: &[f32], rows: usize, activations: Activations) {
    if rows <= MATVEC_ROWS {
        let mut jobs: Vec<(&QMatrix, &mut [f32])> = pairs.iter_mut().map(|(l, o)| (&l.w, &mut **o)).collect();
        quant::matvecs_many_with(&mut jobs, x, activations);
    } else {
        for (l, out) in pairs.iter_mut() {
            l.w.matmul(x, out);
        }
    }
    for (l, out) in pairs.iter_mut() {
        l.add_bias(out);
    }
}

#[derive(Debug)]
struct Layer {
    attn_norm: Vec<f32>,
    wq: Linear,
    wk: Linear,
    wv: Linear,
    wo: Linear,
    /// Gemma 3's per-head RMS norms of queries and keys.
    q_norm: Option<Vec<f32>>,
    k_norm: Option<Vec<f32>>,
    /// Gemma 3's norms of the attention and feed-forward outputs.
    post_attn_norm: Option<Vec<f32>>,
    ffn_norm: Vec<f32>,
    gate: Linear,
    down: Linear,
    up: Linear,
    post_ffn_norm: Option<Vec<f32>>,
    /// Index into [`Decoder::ropes`].
    rope: usize,
    /// Keys this many positions back or more are not seen (Gemma 3's windowed layers).
    window: Option<usize>,
}

/// One sequence's keys and values, per layer: (positions, kv heads, head dim), position after
/// position.
#[derive(Debug, Default)]
struct Sequence {
    keys: Vec<Vec<f32>>,
    values: Vec<Vec<f32>>,
    len: usize,
    /// The tokens of its first positions whose keys and values came from the prompt kernels
    /// (gemm) from position 0 on: another prompt that begins with them may copy those positions,
    /// bit for bit what its own prompt pass would compute (see [`Decoder::start_many`]).
    prompted: Vec<u32>,
}

/// cos and sin of position × θᵢ, θᵢ = base^(−2i/d): (context, d/2) each.
#[derive(Debug)]
struct Rope {
    cos: Vec<f32>,
    sin: Vec<f32>,
}

impl Rope {
    fn new(head_dim: usize, base: f32, context: usize) -> Rope {
        let half = head_dim / 2;
        let theta: Vec<f32> = (0..half).map(|i| 1.0 / base.powf((2 * i) as f32 / head_dim as f32)).collect();
        let mut cos = Vec::with_capacity(context * half);
        let mut sin = Vec::with_capacity(context * half);
        for p in 0..context {
            for t in &theta {
                let angle = p as f32 * t;
                cos.push(angle.cos());
                sin.push(angle.sin());
            }
        }
        Rope { cos, sin }
    }

    /// Rotates every head of `row` (heads × head dim) to position `pos`.
    fn apply(&self, row: &mut [f32], head_dim: usize, pos: usize, style: RopeStyle) {
        let half = head_dim / 2;
        let (cos, sin) = (&self.cos[pos * half..][..half], &self.sin[pos * half..][..half]);
        for head in row.chunks_exact_mut(head_dim) {
            for i in 0..half {
                let (a, b) = match style {
                    RopeStyle::Interleaved => (2 * i, 2 * i + 1),
                    RopeStyle::Halves => (i, i + half),
                };
                let (x, y) = (head[a], head[b]);
                head[a] = x * cos[i] - y * sin[i];
                head[b] = x * sin[i] + y * cos[i];
            }
        }
    }
}

/// A decoder-only model with packed weights and in-place caches, one per sequence.
#[derive(Debug)]
pub struct Decoder {
    flavor: Flavor,
    embed: QMatrix,
    layers: Vec<Layer>,
    norm: Vec<f32>,
    /// The output projection: its own matrix, or the embeddings (tied).
    output: Option<QMatrix>,
    /// One rotary table per base in use.
    ropes: Vec<Rope>,
    width: usize,
    ffn: usize,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    eps: f32,
    context: usize,
    /// How decoding steps multiply activations (prompts past 16 tokens always in f32).
    activations: Activations,
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
        Ok(experts <= 1 && rope == head_dim && head_dim.is_multiple_of(2))
    }

    /// The model of a file of architecture `arch` whose bytes are `file` (usually a memory map);
    /// `shapes` were checked by [`super::hyperparams::check`]. Packed matrices stay views into
    /// `file`.
    pub fn load(
        content: &Content,
        file: &Arc<dyn AsRef<[u8]> + Send + Sync>,
        md: &Metadata<'_>,
        arch: &str,
        shapes: super::hyperparams::Hyperparams,
        context: usize,
        activations: Activations,
    ) -> Result<Decoder> {
        if activations == Activations::Int8 && !quant::Isa::Avx2.available() {
            return Err(Error::Unsupported("8-bit activations need an x86-64 CPU with AVX2 and FMA".into()));
        }
        let flavor = Flavor::of(md, arch, shapes.embedding)?;
        let t = Tensors { content, file, md };
        let (width, hd) = (shapes.embedding, shapes.head_dim);
        let (q_dim, kv_dim) = (shapes.heads * hd, shapes.kv_heads * hd);
        let vocab = content
            .tensor_infos
            .get("token_embd.weight")
            .map(|i| i.shape.dims()[0])
            .ok_or_else(|| t.error("token_embd.weight", "missing tensor"))?;
        let embed = t.matrix("token_embd.weight", vocab, width)?;
        let output = if t.has("output.weight") { Some(t.matrix("output.weight", vocab, width)?) } else { None };
        let norm = t.vector("output_norm.weight", width)?;
        let ffn = content
            .tensor_infos
            .get("blk.0.ffn_up.weight")
            .map(|i| i.shape.dims()[0])
            .ok_or_else(|| t.error("blk.0.ffn_up.weight", "missing tensor"))?;
        let key = |k: &str| format!("{arch}.{k}");
        let base = md.opt_f32(&key("rope.freq_base"))?.unwrap_or(10_000.0);
        let mut ropes = vec![Rope::new(hd, base, context)];
        if let Some((_, _, local_base)) = flavor.sliding {
            ropes.push(Rope::new(hd, local_base, context));
        }
        let mut layers = Vec::with_capacity(shapes.blocks);
        for i in 0..shapes.blocks {
            let name = |part: &str| format!("blk.{i}.{part}");
            let linear = |part: &str, rows: usize, cols: usize| {
                t.linear(&name(&format!("{part}.weight")), &name(&format!("{part}.bias")), rows, cols)
            };
            // Gemma 3: every `period`-th layer is global, the others see a window with their own base.
            let windowed = flavor.sliding.filter(|&(_, period, _)| (i + 1) % period != 0);
            layers.push(Layer {
                attn_norm: t.vector(&name("attn_norm.weight"), width)?,
                wq: linear("attn_q", q_dim, width)?,
                wk: linear("attn_k", kv_dim, width)?,
                wv: linear("attn_v", kv_dim, width)?,
                wo: linear("attn_output", width, q_dim)?,
                q_norm: t.opt_vector(&name("attn_q_norm.weight"), hd)?,
                k_norm: t.opt_vector(&name("attn_k_norm.weight"), hd)?,
                post_attn_norm: t.opt_vector(&name("post_attention_norm.weight"), width)?,
                ffn_norm: t.vector(&name("ffn_norm.weight"), width)?,
                gate: linear("ffn_gate", ffn, width)?,
                down: linear("ffn_down", width, ffn)?,
                up: linear("ffn_up", ffn, width)?,
                post_ffn_norm: t.opt_vector(&name("post_ffw_norm.weight"), width)?,
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
            width,
            ffn,
            heads: shapes.heads,
            kv_heads: shapes.kv_heads,
            head_dim: hd,
            eps,
            context,
            activations,
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
    pub fn forward(&mut self, tokens: &[u32], pos: usize) -> Result<Vec<f32>> {
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
        Ok(self.run(&[(0, tokens)])?.remove(0))
    }

    /// Starts sequence `slot` with `prompt`; the logits after it.
    pub fn start(&mut self, slot: usize, prompt: &[u32]) -> Result<Vec<f32>> {
        Ok(self.start_many(&[(slot, prompt)])?.remove(0))
    }

    /// Starts each `(slot, prompt)`, forgetting what the slot held; the logits after each prompt,
    /// in order. The logits and caches are bit for bit those of [`start`](Self::start) on each
    /// alone, which is what makes two savings safe:
    /// - A prompt that begins with tokens another sequence (or its own slot's last prompt) ran
    ///   through the prompt kernels copies their keys and values instead of recomputing them
    ///   (a chat template's system prompt, few-shot examples). The products of a row and the
    ///   attention of a query do not depend on the other rows of a prompt pass, so the copied
    ///   positions are what the prompt's own pass would give; the copy stops more than
    ///   [`MATVEC_ROWS`] tokens before the prompt's end, so that its rest still runs through the
    ///   prompt kernels (a shorter rest would take the decoding kernels, whose rounding differs).
    /// - The rests longer than [`MATVEC_ROWS`] run as one pass, reading the weights once; shorter
    ///   prompts run alone, each through the kernels its own pass would use.
    pub fn start_many(&mut self, starts: &[(usize, &[u32])]) -> Result<Vec<Vec<f32>>> {
        let seen = self.distinct_slots(starts.iter().map(|&(slot, _)| slot))?;
        // (positions copied, from which sequence) per prompt. Only sequences not restarted here
        // (or the slot itself) lend their positions: a slot restarted in this call may already
        // have been overwritten.
        let reuse: Vec<(usize, usize)> = starts
            .iter()
            .map(|&(slot, prompt)| {
                let most = prompt.len().saturating_sub(MATVEC_ROWS + 1);
                (0..self.sequences.len())
                    .filter(|&s| s == slot || !seen[s])
                    .map(|s| (common_prefix(&self.sequences[s].prompted, prompt).min(most), s))
                    .max_by_key(|&(n, s)| (n, s == slot))
                    .unwrap_or((0, slot))
            })
            .collect();
        for (&(slot, prompt), &(n, from)) in starts.iter().zip(&reuse) {
            if n > 0 && from != slot {
                let kv = self.kv_heads * self.head_dim * n;
                let (src, dst) = pick_two(&mut self.sequences, from, slot);
                dst.keys.resize_with(src.keys.len(), Vec::new);
                dst.values.resize_with(src.values.len(), Vec::new);
                for (d, s) in dst.keys.iter_mut().zip(&src.keys).chain(dst.values.iter_mut().zip(&src.values)) {
                    d.clear();
                    d.extend_from_slice(&s[..kv]);
                }
            }
            let seq = &mut self.sequences[slot];
            seq.len = n;
            seq.prompted.clear();
            seq.prompted.extend_from_slice(&prompt[..n]);
        }
        let rests: Vec<(usize, &[u32])> =
            starts.iter().zip(&reuse).map(|(&(slot, p), &(n, _))| (slot, &p[n..])).collect();
        let mut logits: Vec<Option<Vec<f32>>> = vec![None; starts.len()];
        let (long, short): (Vec<usize>, Vec<usize>) = (0..rests.len()).partition(|&i| rests[i].1.len() > MATVEC_ROWS);
        if !long.is_empty() {
            let pass: Vec<(usize, &[u32])> = long.iter().map(|&i| rests[i]).collect();
            for (&i, l) in long.iter().zip(self.run(&pass)?) {
                logits[i] = Some(l);
            }
        }
        for i in short {
            logits[i] = Some(self.run(&rests[i..=i])?.remove(0));
        }
        Ok(logits.into_iter().flatten().collect())
    }

    /// Feeds `tokens[i]` to sequence `slots[i]` at its next position, all in one step; the
    /// logits of each.
    pub fn step(&mut self, slots: &[usize], tokens: &[u32]) -> Result<Vec<Vec<f32>>> {
        if slots.len() != tokens.len() || slots.is_empty() {
            return Err(Error::InvalidArgument {
                name: "tokens",
                message: format!("{} tokens for {} sequences", tokens.len(), slots.len()),
            });
        }
        self.distinct_slots(slots.iter().copied())?;
        let steps: Vec<(usize, &[u32])> =
            slots.iter().zip(tokens).map(|(&s, t)| (s, std::slice::from_ref(t))).collect();
        self.run(&steps)
    }

    /// Checks that `slots` are valid and distinct (making room for them); which ones they are.
    fn distinct_slots(&mut self, slots: impl Iterator<Item = usize>) -> Result<[bool; MAX_SEQUENCES]> {
        let mut seen = [false; MAX_SEQUENCES];
        for s in slots {
            self.slot(s)?;
            if std::mem::replace(&mut seen[s], true) {
                return Err(Error::InvalidArgument {
                    name: "slots",
                    message: format!("sequence {s} appears twice in one call"),
                });
            }
        }
        Ok(seen)
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
    /// all their rows at once; the logits after each one's last token.
    ///
    /// The whole pass runs on a thread of rayon's pool: its hundreds of parallel products then
    /// split work among the pool's threads directly, where a caller outside the pool would hand
    /// each one over and sleep until it is done (a wake-up per product).
    fn run(&mut self, steps: &[(usize, &[u32])]) -> Result<Vec<Vec<f32>>> {
        rayon::scope(|_| self.run_here(steps))
    }

    /// [`run`](Self::run) on the calling thread.
    fn run_here(&mut self, steps: &[(usize, &[u32])]) -> Result<Vec<Vec<f32>>> {
        let vocab = self.embed.rows();
        let mut starts = Vec::with_capacity(steps.len());
        for &(slot, tokens) in steps {
            let pos = self.slot(slot)?.len;
            if tokens.is_empty() || pos + tokens.len() > self.context {
                return Err(Error::InvalidArgument {
                    name: "tokens",
                    message: format!(
                        "{} tokens at position {pos} do not fit the context of {}",
                        tokens.len(),
                        self.context
                    ),
                });
            }
            if let Some(&bad) = tokens.iter().find(|&&t| t as usize >= vocab) {
                return Err(Error::InvalidArgument {
                    name: "tokens",
                    message: format!("token {bad} is past the vocabulary of {vocab}"),
                });
            }
            starts.push(pos);
        }
        let rows: usize = steps.iter().map(|(_, t)| t.len()).sum();
        let (width, hd, eps) = (self.width, self.head_dim, self.eps);
        let (q_dim, kv_dim) = (self.heads * hd, self.kv_heads * hd);
        let acts = self.activations;
        let isa = quant::Isa::detect();
        let mut x = vec![0f32; rows * width];
        for (row, &id) in x.chunks_exact_mut(width).zip(steps.iter().flat_map(|(_, t)| t.iter())) {
            self.embed.dequantize_row(id as usize, row);
            if let Some(s) = self.flavor.embed_scale {
                row.iter_mut().for_each(|v| *v *= s);
            }
        }
        let mut h = vec![0f32; rows * width];
        let (mut q, mut k, mut v) = (vec![0f32; rows * q_dim], vec![0f32; rows * kv_dim], vec![0f32; rows * kv_dim]);
        let mut att = vec![0f32; rows * q_dim];
        let mut o = vec![0f32; rows * width];
        let (mut gate, mut up) = (vec![0f32; rows * self.ffn], vec![0f32; rows * self.ffn]);
        for (l, layer) in self.layers.iter().enumerate() {
            rms_norm(&x, &layer.attn_norm, eps, &mut h);
            products(&mut [(&layer.wq, &mut q), (&layer.wk, &mut k), (&layer.wv, &mut v)], &h, rows, acts);
            if let (Some(qn), Some(kn)) = (&layer.q_norm, &layer.k_norm) {
                rms_norm_inplace(&mut q, qn, eps);
                rms_norm_inplace(&mut k, kn, eps);
            }
            let rope = &self.ropes[layer.rope];
            let mut row = 0;
            for (&(slot, tokens), &pos) in steps.iter().zip(&starts) {
                let n = tokens.len();
                for i in 0..n {
                    rope.apply(&mut q[(row + i) * q_dim..][..q_dim], hd, pos + i, self.flavor.rope);
                    rope.apply(&mut k[(row + i) * kv_dim..][..kv_dim], hd, pos + i, self.flavor.rope);
                }
                let seq = &mut self.sequences[slot];
                if seq.keys.len() <= l {
                    seq.keys.resize_with(l + 1, Vec::new);
                    seq.values.resize_with(l + 1, Vec::new);
                }
                let (keys, values) = (&mut seq.keys[l], &mut seq.values[l]);
                keys.truncate(pos * kv_dim);
                values.truncate(pos * kv_dim);
                keys.extend_from_slice(&k[row * kv_dim..][..n * kv_dim]);
                values.extend_from_slice(&v[row * kv_dim..][..n * kv_dim]);
                row += n;
            }
            let shape = Heads { heads: self.heads, kv_heads: self.kv_heads, head_dim: hd };
            let mut row = 0;
            let cached: Vec<Step<'_>> = steps
                .iter()
                .zip(&starts)
                .map(|(&(slot, tokens), &pos)| {
                    let seq = &self.sequences[slot];
                    let step = Step { keys: &seq.keys[l], values: &seq.values[l], pos, tokens: tokens.len(), row };
                    row += tokens.len();
                    step
                })
                .collect();
            attention(&cached, layer.window, shape, isa, &q, &mut att);
            products(&mut [(&layer.wo, &mut o)], &att, rows, acts);
            residual(&mut x, &mut o, layer.post_attn_norm.as_deref(), eps);
            rms_norm(&x, &layer.ffn_norm, eps, &mut h);
            products(&mut [(&layer.gate, &mut gate), (&layer.up, &mut up)], &h, rows, acts);
            match self.flavor.activation {
                Activation::Silu => gate.iter_mut().zip(&up).for_each(|(g, u)| *g = silu(*g) * u),
                Activation::GeluTanh => gate.iter_mut().zip(&up).for_each(|(g, u)| *g = gelu_tanh(*g) * u),
            }
            products(&mut [(&layer.down, &mut o)], &gate, rows, acts);
            residual(&mut x, &mut o, layer.post_ffn_norm.as_deref(), eps);
        }
        // Each sequence's last row, normed, through the output projection (one row per sequence).
        let mut last = Vec::with_capacity(steps.len() * width);
        let mut row = 0;
        for (&(slot, tokens), &pos) in steps.iter().zip(&starts) {
            row += tokens.len();
            last.extend_from_slice(&x[(row - 1) * width..][..width]);
            let seq = &mut self.sequences[slot];
            seq.len = pos + tokens.len();
            // Positions past `pos` were rewritten: they stay lendable only when the prompt
            // kernels computed them right after lendable ones.
            seq.prompted.truncate(pos);
            if rows > MATVEC_ROWS && seq.prompted.len() == pos {
                seq.prompted.extend_from_slice(tokens);
            }
        }
        let mut normed = vec![0f32; last.len()];
        rms_norm(&last, &self.norm, eps, &mut normed);
        let output = self.output.as_ref().unwrap_or(&self.embed);
        let mut logits = vec![0f32; steps.len() * vocab];
        quant::matvecs_many_with(&mut [(output, &mut logits)], &normed, acts);
        Ok(logits.chunks_exact(vocab).map(<[f32]>::to_vec).collect())
    }
}

/// How many leading tokens `a` and `b` share.
fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// `(&v[i], &mut v[j])` for `i != j`.
fn pick_two<T>(v: &mut [T], i: usize, j: usize) -> (&T, &mut T) {
    if i < j {
        let (a, b) = v.split_at_mut(j);
        (&a[i], &mut b[0])
    } else {
        let (a, b) = v.split_at_mut(i);
        (&b[0], &mut a[j])
    }
}

/// `x += norm(y)` (or `x += y` without a norm); `y` is scratch afterwards.
fn residual(x: &mut [f32], y: &mut [f32], norm: Option<&[f32]>, eps: f32) {
    if let Some(w) = norm {
        rms_norm_inplace(y, w, eps);
    }
    x.iter_mut().zip(y.iter()).for_each(|(x, y)| *x += y);
}

/// Root-mean-square norm of each `w.len()`-wide row of `x`, times `w`, into `out`.
fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    for (row, dst) in x.chunks_exact(w.len()).zip(out.chunks_exact_mut(w.len())) {
        let inv = inv_rms(row, eps);
        dst.iter_mut().zip(row).zip(w).for_each(|((d, x), w)| *d = x * inv * w);
    }
}

/// [`rms_norm`] in place.
fn rms_norm_inplace(x: &mut [f32], w: &[f32], eps: f32) {
    for row in x.chunks_exact_mut(w.len()) {
        let inv = inv_rms(row, eps);
        row.iter_mut().zip(w).for_each(|(x, w)| *x *= inv * w);
    }
}

fn inv_rms(row: &[f32], eps: f32) -> f32 {
    // Sixteen running sums: vectorizes, and keeps f32 rounding small on wide rows.
    let mut lanes = [0f32; 16];
    let full = row.len() / 16 * 16;
    for chunk in row[..full].chunks_exact(16) {
        for (s, v) in lanes.iter_mut().zip(chunk) {
            *s += v * v;
        }
    }
    let sum = lanes.iter().sum::<f32>() + row[full..].iter().map(|v| v * v).sum::<f32>();
    1.0 / (sum / row.len() as f32 + eps).sqrt()
}

/// x · sigmoid(x), with e^(−|x|) from [`exp_nonpositive`] (no library call; vectorizes).
fn silu(x: f32) -> f32 {
    let e = exp_nonpositive(-x.abs());
    let sigmoid = if x >= 0.0 { 1.0 / (1.0 + e) } else { e / (1.0 + e) };
    x * sigmoid
}

/// GELU, tanh approximation.
fn gelu_tanh(x: f32) -> f32 {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    0.5 * x * (1.0 + (SQRT_2_OVER_PI * (x + 0.044_715 * x * x * x)).tanh())
}

/// eˣ for x ≤ 0 in plain arithmetic (vectorizes; no library call): x = n·ln 2 + r with
/// |r| ≤ ln 2 / 2, e^r by its Taylor polynomial to degree 6, 2ⁿ built in the exponent bits;
/// within 3e-7 of eˣ. Below −87 it returns e⁻⁸⁷ (f32's normal range ends there).
#[inline(always)]
pub(super) fn exp_nonpositive(x: f32) -> f32 {
    // Adding 1.5·2²³ rounds to an integer held in the low mantissa bits, without a library call.
    const SHIFT: f32 = 12_582_912.0;
    let x = x.max(-87.0);
    let t = x * std::f32::consts::LOG2_E + SHIFT;
    let n = t - SHIFT;
    // ln 2 in two parts (Cody–Waite), so that n·ln 2 loses nothing for |n| up to 126.
    let r = (x - n * 0.693_145_75) - n * 1.428_606_8e-6;
    let p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r / 720.0)))));
    let bits = (t.to_bits() as i32).wrapping_sub(SHIFT.to_bits() as i32);
    p * f32::from_bits(((bits + 127) as u32) << 23)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::{hyperparams, metadata::Metadata};
    use candle_core::quantized::QTensor;
    use candle_core::quantized::gguf_file::{self, Value};
    use candle_core::{Device, Tensor};
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

    fn max_diff(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter().zip(b).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max)
    }

    /// The model of the GGUF bytes `bytes` with a context of `context`.
    fn load_bytes(bytes: Vec<u8>, arch: &str, context: usize) -> Decoder {
        let mut reader = Cursor::new(&bytes);
        let content = gguf_file::Content::read(&mut reader).unwrap();
        let md = Metadata::new(&content, Path::new("tiny.gguf"));
        let shapes = hyperparams::check(&md, &content, arch).unwrap();
        let file: Arc<dyn AsRef<[u8]> + Send + Sync> = Arc::new(bytes.clone());
        Decoder::load(&content, &file, &md, arch, shapes, context, Activations::F32).unwrap()
    }

    /// The model of `buf` (a [`tiny_gguf`]) with a context of 1,024.
    fn load_tiny(buf: &Cursor<Vec<u8>>) -> Decoder {
        load_bytes(buf.get_ref().clone(), "llama", 1024)
    }

    #[test]
    fn matches_candles_llama_across_cache_growth_and_resets() {
        let mut buf = tiny_gguf();
        let mut ours = load_tiny(&buf);
        buf.set_position(0);
        let content2 = gguf_file::Content::read(&mut buf).unwrap();
        let mut theirs = ModelWeights::from_gguf(content2, &mut buf, &Device::Cpu).unwrap();

        // A 600-token prompt crosses the first cache step (512); then one-token steps.
        let prompt: Vec<u32> = (0..600u32).map(|i| (i * 7) % 50).collect();
        let run_theirs = |m: &mut ModelWeights, ids: &[u32], pos: usize| {
            let t = Tensor::new(ids, &Device::Cpu).unwrap().unsqueeze(0).unwrap();
            m.forward(&t, pos).unwrap().squeeze(0).unwrap().to_vec1::<f32>().unwrap()
        };
        let first = ours.forward(&prompt, 0).unwrap();
        assert!(max_diff(&first, &run_theirs(&mut theirs, &prompt, 0)) < 1e-4);
        for (step, id) in [3u32, 41, 7, 19].into_iter().enumerate() {
            let pos = prompt.len() + step;
            let a = ours.forward(&[id], pos).unwrap();
            assert!(max_diff(&a, &run_theirs(&mut theirs, &[id], pos)) < 1e-4, "step {step}");
        }
        // A new sequence at position 0 reuses the buffers and forgets the old one.
        ours.clear();
        assert!(max_diff(&ours.forward(&prompt, 0).unwrap(), &first) < 1e-6);
        // Skipping positions is refused; the context is enforced.
        assert!(ours.forward(&[1], 5000).is_err());
        ours.clear();
        assert!(ours.forward(&vec![1; 1025], 0).is_err());
        // A token past the vocabulary is refused, not read out of bounds.
        assert!(ours.forward(&[50], 0).is_err());
    }

    #[test]
    fn sequences_stepped_together_equal_each_alone() {
        let mut model = load_tiny(&tiny_gguf());
        let prompts: [Vec<u32>; 3] = [vec![1, 2, 3], (0..40).map(|i| i % 50).collect(), vec![9]];
        let steps = [[4u32, 5, 6], [7, 8, 9]];
        // Alone, through the one-sequence API.
        let mut alone = Vec::new();
        for (p, prompt) in prompts.iter().enumerate() {
            model.clear();
            let mut logits = vec![model.forward(prompt, 0).unwrap()];
            for (s, step) in steps.iter().enumerate() {
                logits.push(model.forward(&[step[p]], prompt.len() + s).unwrap());
            }
            alone.push(logits);
        }
        // Together, in slots 5, 0 and 2; then slot 0 alone and slot 2 restarted.
        let slots = [5, 0, 2];
        for (p, prompt) in prompts.iter().enumerate() {
            assert_eq!(model.start(slots[p], prompt).unwrap(), alone[p][0]);
        }
        for (s, step) in steps.iter().enumerate() {
            let together = model.step(&slots, step).unwrap();
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
        let model = load_bytes(std::fs::read(dir.join(format!("{arch}.gguf"))).unwrap(), arch, 64);
        (model, ids, want)
    }

    /// Largest difference to llama.cpp's row, relative to the row's largest magnitude.
    fn rel_diff(got: &[f32], want: &[f32]) -> f32 {
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
        assert!(rel_diff(&both[0], &want[9]) < TOLERANCE, "{arch} batched long");
        assert!(rel_diff(&both[1], &want[2]) < TOLERANCE, "{arch} batched short");
        // The tolerance tells architectures apart: llama's interleaved rotary pairs are far off.
        model.flavor.rope = RopeStyle::Interleaved;
        model.clear();
        let wrong = rel_diff(&model.forward(&ids, 0).unwrap(), &want[last]);
        assert!(wrong > 10.0 * TOLERANCE, "{arch}: interleaved rotary pairs only moved logits by {wrong}");
    }

    #[test]
    fn exp_is_accurate_where_softmax_uses_it() {
        for i in 0..=87_000 {
            let x = -(i as f32) / 1000.0;
            let want = f64::from(x).exp();
            let got = f64::from(exp_nonpositive(x));
            assert!((got - want).abs() <= 3e-7 * want, "e^{x}: {got} vs {want}");
        }
        // Past −87 it stays at e⁻⁸⁷ (2e-38): nothing against a softmax's largest term, which is 1.
        for x in [-88.0, -1000.0, f32::NEG_INFINITY] {
            assert!(exp_nonpositive(x) <= 1.7e-38, "e^{x}");
        }
    }

    #[test]
    fn silu_matches_its_definition() {
        for i in -20_000..=20_000 {
            let x = i as f32 / 1000.0;
            let want = f64::from(x) / (1.0 + (-f64::from(x)).exp());
            assert!((f64::from(silu(x)) - want).abs() <= 1e-6 * want.abs().max(1e-3), "silu({x})");
        }
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
}
