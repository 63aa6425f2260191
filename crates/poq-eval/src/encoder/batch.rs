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

/// Padded tokens per batch slot: a batch also ends before `batch_size × SLOT_TOKENS` padded tokens.
const SLOT_TOKENS: usize = 64;

/// Indices of `lengths` grouped into batches, longest first, so that each batch holds inputs of
/// similar length. A batch holds at most `batch_size` inputs and, past its first, at most
/// `batch_size × 64` padded tokens: without that cap a few truncated 256-token inputs sorted into
/// a batch of 32 pad 20 short ones to 256 too (on the 216 benchmark sentences, batch 32 did half
/// the sentences per second of batch 16).
pub(crate) fn plan(lengths: &[usize], batch_size: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    // Stable: equal lengths keep input order, so results do not depend on anything but the input.
    order.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
    let size = batch_size.max(1);
    let budget = size * SLOT_TOKENS;
    let mut batches: Vec<Vec<usize>> = Vec::new();
    for i in order {
        match batches.last_mut() {
            // Sorted longest first: a batch's first input sets its padded length.
            Some(b) if b.len() < size && (b.len() + 1) * lengths[b[0]] <= budget => b.push(i),
            _ => batches.push(vec![i]),
        }
    }
    batches
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

    #[test]
    fn long_inputs_get_smaller_batches() {
        // Batch 4 allows 256 padded tokens: two inputs padded to 100, then up to four short ones.
        let lengths = [10, 100, 12, 100, 100, 11, 9];
        assert_eq!(plan(&lengths, 4), vec![vec![1, 3], vec![4, 2], vec![5, 0, 6]]);
        // An input longer than the whole budget still gets a batch of its own.
        assert_eq!(plan(&[500, 3], 1), vec![vec![0], vec![1]]);
    }
}
