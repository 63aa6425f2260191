//! Sentence-transformers pooling of token states into one vector per text.

use candle_core::{D, Tensor};

use crate::Result;

/// One pooling mode of sentence-transformers' `Pooling` module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// The first token's state (`[CLS]` / `<s>`).
    Cls,
    /// The mean over real (unpadded) tokens.
    Mean,
    /// The element-wise maximum over real tokens.
    Max,
    /// The sum over real tokens divided by the square root of their count.
    MeanSqrtLen,
    /// The last real token's state.
    LastToken,
}

impl Pooling {
    /// The mode named as in sentence-transformers' `pooling_mode`.
    pub fn from_name(name: &str) -> Option<Pooling> {
        match name {
            "cls" => Some(Pooling::Cls),
            "mean" => Some(Pooling::Mean),
            "max" => Some(Pooling::Max),
            "mean_sqrt_len_tokens" => Some(Pooling::MeanSqrtLen),
            "lasttoken" => Some(Pooling::LastToken),
            _ => None,
        }
    }
}

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

/// Divides each row by its L2 norm (at least 1e-12, as `torch.nn.functional.normalize`).
pub(crate) fn normalize(x: &Tensor) -> Result<Tensor> {
    let norm = x.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
    Ok(x.broadcast_div(&norm)?)
}
