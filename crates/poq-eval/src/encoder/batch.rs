//! Dynamic batching: inputs sorted by token count, each batch padded only to its own longest.

use candle_core::{Device, Tensor};
use tokenizers::Encoding;

use crate::Result;

/// One padded batch.
#[derive(Debug)]
pub(crate) struct Padded {
    /// Token ids (B, T), u32.
    pub ids: Tensor,
    /// Token type ids (B, T), u32 (zeros when the model has no type table).
    pub type_ids: Tensor,
    /// 1.0 for real tokens, 0.0 for padding (B, T).
    pub mask: Tensor,
    /// Real token counts.
    pub lengths: Vec<usize>,
}

/// Indices of `lengths` grouped into batches of at most `batch_size`, longest first, so that each
/// batch holds inputs of similar length.
pub(crate) fn plan(lengths: &[usize], batch_size: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    // Stable: equal lengths keep input order, so results do not depend on anything but the input.
    order.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
    order.chunks(batch_size.max(1)).map(<[usize]>::to_vec).collect()
}

/// Pads the encodings `idx` of `all` with `pad_id` to the longest among them.
pub(crate) fn pad(all: &[Encoding], idx: &[usize], pad_id: u32, use_types: bool, device: &Device) -> Result<Padded> {
    let lengths: Vec<usize> = idx.iter().map(|&i| all[i].get_ids().len()).collect();
    let t = lengths.iter().copied().max().unwrap_or(0).max(1);
    let b = idx.len();
    let mut ids = vec![pad_id; b * t];
    let mut types = vec![0u32; b * t];
    let mut mask = vec![0f32; b * t];
    for (row, &i) in idx.iter().enumerate() {
        let e = &all[i];
        let n = e.get_ids().len();
        ids[row * t..row * t + n].copy_from_slice(e.get_ids());
        if use_types {
            types[row * t..row * t + n].copy_from_slice(e.get_type_ids());
        }
        mask[row * t..row * t + n].fill(1.0);
    }
    Ok(Padded {
        ids: Tensor::from_vec(ids, (b, t), device)?,
        type_ids: Tensor::from_vec(types, (b, t), device)?,
        mask: Tensor::from_vec(mask, (b, t), device)?,
        lengths,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_sorts_longest_first_and_keeps_ties_in_order() {
        let batches = plan(&[3, 9, 3, 5, 1], 2);
        assert_eq!(batches, vec![vec![1, 3], vec![0, 2], vec![4]]);
        assert!(plan(&[], 4).is_empty());
    }
}
