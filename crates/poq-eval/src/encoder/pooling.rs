//! Sentence-transformers pooling of token states into one vector per text.

use candle_core::{D, Tensor};

use crate::Result;

// The modes are what a sentence-transformers folder declares: poq-candle reads them.
pub use poq_candle::Pooling;

/// Pools `hidden` (B, T, H) under `mask` (B, T, f32) with each mode, concatenated: (B, H × modes).
pub(crate) fn pool(hidden: &Tensor, mask: &Tensor, lengths: &[usize], modes: &[Pooling]) -> Result<Tensor> {
    let (b, _, h) = hidden.dims3()?;
    let m = mask.unsqueeze(2)?; // (B, T, 1)
    let mut parts = Vec::with_capacity(modes.len());
    for mode in modes {
        let part = match mode {
            Pooling::Cls => hidden.narrow(1, 0, 1)?.squeeze(1)?,
            Pooling::Mean | Pooling::MeanSqrtLen => {
                let sum = hidden.broadcast_mul(&m)?.sum(1)?;
                // sentence-transformers clamps the count at 1e-9; every row has ≥ 1 real token.
                let count = mask.sum_keepdim(1)?.clamp(1e-9, f64::MAX)?;
                let denom = if *mode == Pooling::Mean { count } else { count.sqrt()? };
                sum.broadcast_div(&denom)?
            }
            Pooling::Max => {
                let neg = ((m.ones_like()? - &m)? * -1e30)?;
                hidden.broadcast_add(&neg)?.max(1)?
            }
            Pooling::LastToken => {
                let rows = lengths
                    .iter()
                    .enumerate()
                    .map(|(i, &len)| hidden.get(i)?.get(len.saturating_sub(1)))
                    .collect::<candle_core::Result<Vec<_>>>()?;
                Tensor::stack(&rows, 0)?
            }
        };
        parts.push(part);
    }
    let out = Tensor::cat(&parts, D::Minus1)?;
    debug_assert_eq!(out.dims(), &[b, h * modes.len()]);
    Ok(out)
}

/// Pools packed hidden states (`lengths[i]` rows of `h` values for sequence i, end to end) with
/// each mode, concatenated: one vector of `h × modes` per sequence. Every length must be ≥ 1.
pub(crate) fn pool_packed(hidden: &[f32], lengths: &[usize], h: usize, modes: &[Pooling]) -> Vec<Vec<f32>> {
    let mut out = Vec::with_capacity(lengths.len());
    let mut start = 0;
    for &len in lengths {
        let rows = &hidden[start * h..(start + len) * h];
        start += len;
        let mut v = Vec::with_capacity(h * modes.len());
        for mode in modes {
            match mode {
                Pooling::Cls => v.extend_from_slice(&rows[..h]),
                Pooling::LastToken => v.extend_from_slice(&rows[(len - 1) * h..]),
                Pooling::Mean | Pooling::MeanSqrtLen => {
                    let mut sum = vec![0f32; h];
                    rows.chunks(h).for_each(|r| sum.iter_mut().zip(r).for_each(|(s, x)| *s += x));
                    let denom = if *mode == Pooling::Mean { len as f32 } else { (len as f32).sqrt() };
                    v.extend(sum.iter().map(|s| s / denom));
                }
                Pooling::Max => {
                    let mut max = vec![f32::NEG_INFINITY; h];
                    rows.chunks(h).for_each(|r| max.iter_mut().zip(r).for_each(|(m, x)| *m = m.max(*x)));
                    v.extend(max);
                }
            }
        }
        out.push(v);
    }
    out
}

/// Divides `v` by its L2 norm (at least 1e-12, as `torch.nn.functional.normalize`).
pub(crate) fn normalize_vec(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= norm);
}

/// Divides each row by its L2 norm (at least 1e-12, as `torch.nn.functional.normalize`).
pub(crate) fn normalize(x: &Tensor) -> Result<Tensor> {
    let norm = x.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
    Ok(x.broadcast_div(&norm)?)
}
