//! The encoder's forward pass on CPU over packed sequences: the tokens of a batch laid end to end,
//! with no padding, on plain `f32` buffers.
//!
//! Profiling candle's graph for all-MiniLM-L6-v2 at batch 32 (2 threads) put only 45% of the time
//! in matrix products; the rest went to page faults from fresh temporaries, element-wise passes
//! (bias, residual, mask, GELU, softmax) each reading and writing the whole activation, copies for
//! head transposes, and thread hand-offs. Here every product runs on the `gemm` crate (the kernels
//! candle uses) straight from the weights candle loaded, biases and residuals are pre-filled into
//! the product's output so the product accumulates onto them, attention reads Q, K and V in place
//! through strides, and the four activation buffers are allocated once per call.

use candle_core::{Storage, Tensor};
use gemm::Parallelism;
use rayon::prelude::*;
use std::ops::Deref;

use super::config::{Activation, relative_bucket};
use super::layers::Transformer;
use super::wide;
use crate::{Error, Result};

/// A read view of a contiguous f32 CPU tensor (holding candle's storage lock).
struct View<G> {
    guard: G,
    start: usize,
    len: usize,
}

/// Views `t`'s values (an error unless it is a contiguous CPU tensor).
fn view(t: &Tensor) -> Result<View<impl Deref<Target = Storage> + '_>> {
    let (guard, layout) = t.storage_and_layout();
    if !matches!(&*guard, Storage::Cpu(_)) || !layout.is_contiguous() {
        return Err(Error::InvalidArgument {
            name: "tensor",
            message: "the packed encoder needs contiguous CPU tensors".into(),
        });
    }
    Ok(View { start: layout.start_offset(), len: layout.shape().elem_count(), guard })
}

impl<G: Deref<Target = Storage>> View<G> {
    fn slice(&self) -> Result<&[f32]> {
        match &*self.guard {
            Storage::Cpu(s) => Ok(&s.as_slice::<f32>()?[self.start..self.start + self.len]),
            _ => Err(Error::InvalidArgument { name: "tensor", message: "not on the CPU".into() }),
        }
    }
}

/// A matrix operand read through strides: element (r, c) is `data[r * rs + c * cs]`.
#[derive(Clone, Copy)]
struct Strided<'a> {
    data: &'a [f32],
    rs: usize,
    cs: usize,
}

impl<'a> Strided<'a> {
    /// Row-major rows `rs` apart.
    fn rows(data: &'a [f32], rs: usize) -> Self {
        Strided { data, rs, cs: 1 }
    }

    /// Whether a `rows × cols` matrix fits: its last element is inside `data`.
    fn fits(&self, rows: usize, cols: usize) -> bool {
        self.data.len() > (rows - 1) * self.rs + (cols - 1) * self.cs
    }
}

/// `dst (m × n, row-major, rows dst_rs apart) = a (m × k) · b (k × n)`, added onto `dst` when
/// `accumulate`, else overwriting it. `threads` > 1 splits the product over rayon's pool.
fn matmul(
    dst: &mut [f32],
    dst_rs: usize,
    a: Strided<'_>,
    b: Strided<'_>,
    (m, k, n): (usize, usize, usize),
    accumulate: bool,
    threads: usize,
) {
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    assert!(Strided::rows(dst, dst_rs).fits(m, n) && a.fits(m, k) && b.fits(k, n));
    let par = if threads > 1 { Parallelism::Rayon(threads) } else { Parallelism::None };
    // SAFETY: the assertion keeps every element gemm reads or writes inside its slice; `dst` is
    // borrowed mutably, so nothing else aliases it.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            if accumulate { 1.0 } else { 0.0 },
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}

/// `x[i] = bias[i % n]` for every row of `x` (`n` columns): the start of a biased product.
fn fill_bias(x: &mut [f32], bias: &[f32]) {
    x.par_chunks_mut(bias.len() * 64).for_each(|c| c.chunks_mut(bias.len()).for_each(|r| r.copy_from_slice(bias)));
}

/// `x[i] += bias[i % n]`.
fn add_bias(x: &mut [f32], bias: &[f32]) {
    x.par_chunks_mut(bias.len() * 64).for_each(|c| wide::add_bias(c, bias));
}

/// Layer norm of every row in place.
fn layer_norm(x: &mut [f32], w: &[f32], b: &[f32], eps: f32) {
    x.par_chunks_mut(w.len() * 16).for_each(|c| wide::layer_norm(c, w, b, eps));
}

/// Splits `x` into the row blocks of consecutive sequences (`h` columns, `lengths` rows each).
fn split_rows<'a>(mut x: &'a mut [f32], lengths: &[usize], h: usize) -> Vec<&'a mut [f32]> {
    let mut out = Vec::with_capacity(lengths.len());
    for &l in lengths {
        let (head, rest) = std::mem::take(&mut x).split_at_mut(l * h);
        out.push(head);
        x = rest;
    }
    out
}

impl Transformer {
    /// Hidden states of packed sequences: `ids[i]` and `type_ids[i]` (same length, at least 1)
    /// are sequence i; returns (Σ lengths) × hidden values, sequence after sequence.
    ///
    /// The pass runs on one of rayon's threads: its parallel products and loops then split work
    /// among the pool's threads directly instead of each waking the pool from outside.
    pub(crate) fn forward_packed(&self, ids: &[&[u32]], type_ids: &[&[u32]]) -> Result<Vec<f32>> {
        rayon::scope(|_| self.forward_packed_here(ids, type_ids))
    }

    /// [`forward_packed`](Self::forward_packed) on the calling thread.
    fn forward_packed_here(&self, ids: &[&[u32]], type_ids: &[&[u32]]) -> Result<Vec<f32>> {
        if ids.len() != type_ids.len() || ids.iter().zip(type_ids).any(|(a, b)| a.len() != b.len()) {
            return Err(Error::InvalidArgument { name: "type_ids", message: "must match ids in shape".into() });
        }
        let c = self.config();
        let (h, nh) = (c.hidden_size, c.num_heads);
        let d = h / nh;
        let lengths: Vec<usize> = ids.iter().map(|s| s.len()).collect();
        let n: usize = lengths.iter().sum();
        let threads = rayon::current_num_threads();
        let emb = &self.embeddings;
        let (word, position) = (view(&emb.word)?, view(&emb.position)?);
        let token_type = emb.token_type.as_ref().map(view).transpose()?;
        let (word, position) = (word.slice()?, position.slice()?);
        let token_type = token_type.as_ref().map(View::slice).transpose()?;

        // Embeddings: word + position (+ token type), then layer norm.
        let mut x = vec![0f32; n * h];
        split_rows(&mut x, &lengths, h).into_par_iter().zip(ids.par_iter().zip(type_ids.par_iter())).try_for_each(
            |(out, (ids, types))| {
                for (p, (row, (&id, &ty))) in out.chunks_mut(h).zip(ids.iter().zip(types.iter())).enumerate() {
                    let (id, ty, at) = (id as usize, ty as usize, emb.offset + p);
                    let w = word.get(id * h..(id + 1) * h).ok_or_else(|| Error::InvalidArgument {
                        name: "ids",
                        message: format!("token id {id} is outside the vocabulary"),
                    })?;
                    let pos = position.get(at * h..(at + 1) * h).ok_or_else(|| Error::InvalidArgument {
                        name: "ids",
                        message: format!("position {p} is past the position table"),
                    })?;
                    row.iter_mut().zip(w.iter().zip(pos)).for_each(|(v, (a, b))| *v = a + b);
                    if let Some(tt) = token_type {
                        let t = tt.get(ty * h..(ty + 1) * h).ok_or_else(|| Error::InvalidArgument {
                            name: "type_ids",
                            message: format!("token type {ty} is outside the type table"),
                        })?;
                        row.iter_mut().zip(t).for_each(|(v, a)| *v += a);
                    }
                }
                Ok::<(), Error>(())
            },
        )?;
        let (ln_w, ln_b) = (view(&emb.norm.w)?, view(&emb.norm.b)?);
        layer_norm(&mut x, ln_w.slice()?, ln_b.slice()?, emb.norm.eps);

        let mut qkv = vec![0f32; n * 3 * h];
        let mut ctx = vec![0f32; n * h];
        let mut inter = vec![0f32; n * c.intermediate_size];
        let starts: Vec<usize> = lengths.iter().scan(0, |s, &l| Some(std::mem::replace(s, *s + l))).collect();
        let i = c.intermediate_size;
        // MPNet's relative position bias by head and distance: row q of a sequence's scores
        // starts as `rel[head][longest − 1 − q..]`, and q·kᵀ accumulates onto it.
        let longest = lengths.iter().copied().max().unwrap_or(0);
        let rel = self.relative_bias.as_ref().map(|t| relative_rows(t, nh, longest)).transpose()?;
        let rel = rel.as_deref();
        for l in &self.layers {
            let views = [
                &l.qkv.w_t,
                &l.qkv.b,
                &l.attn_out.w_t,
                &l.attn_out.b,
                &l.attn_norm.w,
                &l.attn_norm.b,
                &l.inter.w_t,
                &l.inter.b,
                &l.out.w_t,
                &l.out.b,
                &l.out_norm.w,
                &l.out_norm.b,
            ]
            .map(view)
            .into_iter()
            .collect::<Result<Vec<_>>>()?;
            let w = views.iter().map(View::slice).collect::<Result<Vec<_>>>()?;
            let &[qkv_w, qkv_b, out_w, out_b, ln1_w, ln1_b, inter_w, inter_b, ffn_w, ffn_b, ln2_w, ln2_b] = &w[..]
            else {
                return Err(Error::InvalidArgument { name: "layer", message: "expected twelve tensors".into() });
            };
            // Q, K, V (query pre-scaled at load).
            fill_bias(&mut qkv, qkv_b);
            matmul(&mut qkv, 3 * h, Strided::rows(&x, h), Strided::rows(qkv_w, 3 * h), (n, h, 3 * h), true, threads);
            // Attention per sequence: every head reads its Q, K and V columns in place.
            let qkv_ref = &qkv;
            split_rows(&mut ctx, &lengths, h).into_par_iter().zip(starts.par_iter().zip(&lengths)).for_each(
                |(out, (&start, &len))| {
                    let base = &qkv_ref[start * 3 * h..(start + len) * 3 * h];
                    let mut p = vec![0f32; len * len];
                    out.fill(0.0);
                    for head in 0..nh {
                        let col = head * d;
                        // Scores q·kᵀ: kᵀ is K read with its strides swapped.
                        let (q, k) = (Strided::rows(&base[col..], 3 * h), &base[h + col..]);
                        if let Some(rel) = rel {
                            let r = &rel[head * (2 * longest - 1)..];
                            for (qi, row) in p.chunks_mut(len).enumerate() {
                                let from = longest - 1 - qi;
                                row.copy_from_slice(&r[from..from + len]);
                            }
                        }
                        let k = Strided { data: k, rs: 1, cs: 3 * h };
                        matmul(&mut p, len, q, k, (len, d, len), rel.is_some(), 1);
                        wide::softmax(&mut p, len);
                        let v = Strided::rows(&base[2 * h + col..], 3 * h);
                        matmul(&mut out[col..], h, Strided::rows(&p, len), v, (len, len, d), true, 1);
                    }
                },
            );
            // x ← LN(x + ctx·Wo + bo)
            add_bias(&mut x, out_b);
            matmul(&mut x, h, Strided::rows(&ctx, h), Strided::rows(out_w, h), (n, h, h), true, threads);
            layer_norm(&mut x, ln1_w, ln1_b, l.attn_norm.eps);
            // inter ← act(x·Wi + bi)
            fill_bias(&mut inter, inter_b);
            matmul(&mut inter, i, Strided::rows(&x, h), Strided::rows(inter_w, i), (n, h, i), true, threads);
            activate(&mut inter, c.activation);
            // x ← LN(x + inter·Wout + bout)
            add_bias(&mut x, ffn_b);
            matmul(&mut x, h, Strided::rows(&inter, i), Strided::rows(ffn_w, h), (n, i, h), true, threads);
            layer_norm(&mut x, ln2_w, ln2_b, l.out_norm.eps);
        }
        Ok(x)
    }
}

/// MPNet's relative position bias for sequences up to `longest` tokens, head after head: entry
/// `head × (2·longest − 1) + longest − 1 + (j − i)` is the bias of key j for query i.
fn relative_rows(table: &Tensor, heads: usize, longest: usize) -> Result<Vec<f32>> {
    let table = view(table)?;
    let table = table.slice()?;
    let width = (2 * longest).saturating_sub(1);
    let mut out = vec![0f32; heads * width];
    for (head, row) in out.chunks_mut(width.max(1)).enumerate().take(heads) {
        for (at, v) in row.iter_mut().enumerate() {
            let bucket = relative_bucket(at as i64 - (longest as i64 - 1));
            *v = table.get(bucket * heads + head).copied().ok_or_else(|| Error::InvalidArgument {
                name: "relative_attention_bias",
                message: format!("bucket {bucket} is outside the table"),
            })?;
        }
    }
    Ok(out)
}

fn activate(x: &mut [f32], act: Activation) {
    x.par_chunks_mut(8192).for_each(|c| match act {
        Activation::Gelu => wide::gelu(c),
        Activation::GeluTanh => c.iter_mut().for_each(|v| *v = super::gelu::gelu_tanh(*v)),
        Activation::Relu => c.iter_mut().for_each(|v| *v = v.max(0.0)),
    });
}

#[cfg(test)]
mod tests {
    use super::super::SentenceEncoder;
    use crate::model_dir::ModelDir;
    use candle_core::{Device, Tensor};

    /// The packed pass gives every token row of the padded candle graph, on a BERT with a token
    /// type table and on a RoBERTa with a position offset, for sequences of mixed lengths.
    #[test]
    fn packed_rows_equal_the_padded_graph() {
        for (name, types) in [("bert-cls", true), ("roberta-st", false)] {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny").join(name);
            let enc = SentenceEncoder::load(&ModelDir::open(&dir).unwrap(), &Device::Cpu).unwrap();
            let t = &enc.transformer;
            let ids: Vec<Vec<u32>> = vec![vec![0, 5, 6, 7, 2], vec![0, 2], vec![0, 9, 10, 11, 12, 13, 14, 15, 16, 2]];
            let type_ids: Vec<Vec<u32>> =
                ids.iter().map(|s| (0..s.len()).map(|i| u32::from(types && i >= 2)).collect()).collect();
            let id_refs: Vec<&[u32]> = ids.iter().map(Vec::as_slice).collect();
            let type_refs: Vec<&[u32]> = type_ids.iter().map(Vec::as_slice).collect();
            let packed = t.forward_packed(&id_refs, &type_refs).unwrap();

            let h = t.config().hidden_size;
            let (b, len) = (ids.len(), 10);
            let pad = t.config().pad_token_id;
            let mut flat_ids = vec![pad; b * len];
            let mut flat_types = vec![0u32; b * len];
            let mut mask = vec![0f32; b * len];
            for (r, (s, ty)) in ids.iter().zip(&type_ids).enumerate() {
                flat_ids[r * len..r * len + s.len()].copy_from_slice(s);
                flat_types[r * len..r * len + s.len()].copy_from_slice(ty);
                mask[r * len..r * len + s.len()].fill(1.0);
            }
            let dev = Device::Cpu;
            let padded = t
                .forward(
                    &Tensor::from_vec(flat_ids, (b, len), &dev).unwrap(),
                    &Tensor::from_vec(flat_types, (b, len), &dev).unwrap(),
                    &Tensor::from_vec(mask, (b, len), &dev).unwrap(),
                )
                .unwrap()
                .to_vec3::<f32>()
                .unwrap();
            let mut row = 0;
            for (r, s) in ids.iter().enumerate() {
                for (tok, want) in padded[r].iter().take(s.len()).enumerate() {
                    let got = &packed[row * h..(row + 1) * h];
                    let worst = got.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
                    assert!(worst < 1e-5, "{name}: sequence {r} token {tok} differs by {worst}");
                    row += 1;
                }
            }
            assert_eq!(row * h, packed.len());
        }
    }

    #[test]
    fn ids_past_the_tables_are_errors() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny/bert-cls");
        let enc = SentenceEncoder::load(&ModelDir::open(&dir).unwrap(), &Device::Cpu).unwrap();
        let err = enc.transformer.forward_packed(&[&[0, 5000, 2]], &[&[0, 0, 0]]).unwrap_err();
        assert!(err.to_string().contains("token id 5000"), "{err}");
        let long = vec![1u32; 65];
        let err = enc.transformer.forward_packed(&[&long], &[&vec![0; 65]]).unwrap_err();
        assert!(err.to_string().contains("position 64"), "{err}");
        let err = enc.transformer.forward_packed(&[&[0, 1, 2]], &[&[0, 7, 0]]).unwrap_err();
        assert!(err.to_string().contains("token type 7"), "{err}");
    }
}
