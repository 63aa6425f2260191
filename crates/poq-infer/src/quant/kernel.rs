//! Dot products of packed weight rows with f32 vectors, one function per (format, instruction
//! set): the format's chunks are decoded into registers and multiplied at once.
//!
//! The sums of one vector are taken in one fixed order — 16 running lanes (lane `l` takes the
//! products at positions `l` and `l + 16` of every chunk of 32), added in a fixed tree at the end
//! — whatever the number of vectors, so a sequence's logits do not depend on which sequences
//! share its decoding step. The AVX2 and AVX-512 paths run the same operations (fused
//! multiply–adds in the same order; only the register width differs), so they agree bit for bit.

use super::formats::{Block, madd};

/// Vectors multiplied per pass over a row (each row is read once per pass).
pub(crate) const GROUP: usize = 4;

/// `dst[k] = row · xs[k]` for up to [`GROUP`] vectors; `row` holds `xs[k].len() / B::LEN`
/// whole blocks.
#[inline(always)]
pub(crate) fn row_dots<B: Block, const N: usize, const FMA: bool, const F16C: bool>(
    row: &[u8],
    xs: [&[f32]; N],
) -> [f32; N] {
    let mut acc = [[0f32; 16]; N];
    for (b, block) in row.chunks_exact(B::BYTES).enumerate() {
        let header = B::header::<F16C>(block);
        for c in 0..B::LEN / 32 {
            let w = B::chunk::<FMA>(block, &header, c);
            let at = b * B::LEN + 32 * c;
            for (a, x) in acc.iter_mut().zip(&xs) {
                let x: &[f32; 32] = match x[at..at + 32].try_into() {
                    Ok(x) => x,
                    Err(_) => unreachable!("a 32-value slice"),
                };
                for l in 0..16 {
                    a[l] = madd::<FMA>(w[l], x[l], a[l]);
                }
                for l in 0..16 {
                    a[l] = madd::<FMA>(w[l + 16], x[l + 16], a[l]);
                }
            }
        }
    }
    acc.map(|a| reduce(&a))
}

/// The 16 lanes added in a fixed tree.
#[inline(always)]
pub(crate) fn reduce(a: &[f32; 16]) -> f32 {
    let half: [f32; 8] = std::array::from_fn(|l| a[l] + a[l + 8]);
    let quarter: [f32; 4] = std::array::from_fn(|l| half[l] + half[l + 4]);
    (quarter[0] + quarter[2]) + (quarter[1] + quarter[3])
}

/// `out[k] = row · xs[k]` for every vector in `xs` (`n` of `cols` each), [`GROUP`] per pass.
#[inline(always)]
pub(crate) fn row_into<B: Block, const FMA: bool, const F16C: bool>(
    row: &[u8],
    xs: &[f32],
    cols: usize,
    out: &mut [f32],
) {
    let x = |k: usize| &xs[k * cols..][..cols];
    let mut k = 0;
    while k < out.len() {
        let left = out.len() - k;
        match left {
            1 => out[k] = row_dots::<B, 1, FMA, F16C>(row, [x(k)])[0],
            2 => out[k..k + 2].copy_from_slice(&row_dots::<B, 2, FMA, F16C>(row, [x(k), x(k + 1)])),
            3 => out[k..k + 3].copy_from_slice(&row_dots::<B, 3, FMA, F16C>(row, [x(k), x(k + 1), x(k + 2)])),
            _ => out[k..k + GROUP]
                .copy_from_slice(&row_dots::<B, GROUP, FMA, F16C>(row, [x(k), x(k + 1), x(k + 2), x(k + 3)])),
        }
        k += left.min(GROUP);
    }
}

/// Plain f32 rows: the same lanes and tree, with a tail past the last multiple of 32 (rows of
/// any width).
#[inline(always)]
pub(crate) fn dense_row_into<const FMA: bool>(row: &[f32], xs: &[f32], out: &mut [f32]) {
    let cols = row.len();
    let full = cols / 32 * 32;
    for (k, o) in out.iter_mut().enumerate() {
        let x = &xs[k * cols..][..cols];
        let mut a = [0f32; 16];
        for (w, x) in row[..full].chunks_exact(32).zip(x[..full].chunks_exact(32)) {
            for l in 0..16 {
                a[l] = madd::<FMA>(w[l], x[l], a[l]);
            }
            for l in 0..16 {
                a[l] = madd::<FMA>(w[l + 16], x[l + 16], a[l]);
            }
        }
        let mut s = reduce(&a);
        for c in full..cols {
            s = madd::<FMA>(row[c], x[c], s);
        }
        *o = s;
    }
}
