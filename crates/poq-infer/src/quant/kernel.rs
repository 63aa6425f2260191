//! Dot products of packed weight rows with f32 vectors.
//!
//! The sums of one vector are taken in one fixed order — 32 running lanes (lane `l` takes the
//! product at position `l` of every chunk of 32), added in a fixed tree at the end — whatever the
//! number of vectors, so a sequence's logits do not depend on which sequences share its decoding
//! step. Thirty-two lanes are four independent chains of eight for the SIMD paths, enough to hide
//! the latency of fused multiply–adds.

use super::formats::{Block, madd};

/// Vectors multiplied per pass over a row (each row is read once per pass).
pub(crate) const GROUP: usize = 4;
/// Vectors per pass on AVX-512.
pub(crate) const WIDE_GROUP: usize = 8;
/// Running sums per vector.
pub(crate) const LANES: usize = 32;

/// `row · xs[k]` for up to [`GROUP`] vectors; `row` holds `xs[k].len() / B::LEN` whole blocks.
#[inline(always)]
pub(crate) fn row_dots<B: Block, const N: usize, const FMA: bool, const F16C: bool>(
    row: &[u8],
    xs: [&[f32]; N],
) -> [f32; N] {
    let mut acc = [[0f32; LANES]; N];
    for (b, block) in row.chunks_exact(B::BYTES).enumerate() {
        let header = B::header::<F16C>(block);
        for c in 0..B::LEN / 32 {
            let w = B::chunk::<FMA>(block, &header, c);
            let at = b * B::LEN + 32 * c;
            for (a, x) in acc.iter_mut().zip(&xs) {
                for (l, (a, x)) in a.iter_mut().zip(&x[at..at + 32]).enumerate() {
                    *a = madd::<FMA>(w[l], *x, *a);
                }
            }
        }
    }
    acc.map(|a| reduce(&a))
}

/// The lanes added in a fixed tree.
#[inline(always)]
pub(crate) fn reduce(a: &[f32; LANES]) -> f32 {
    // Plain loops, not closures: this runs inside the SIMD kernels (see `simd`).
    let mut s16 = [0f32; 16];
    for l in 0..16 {
        s16[l] = a[l] + a[l + 16];
    }
    let mut s8 = [0f32; 8];
    for l in 0..8 {
        s8[l] = s16[l] + s16[l + 8];
    }
    let mut s4 = [0f32; 4];
    for l in 0..4 {
        s4[l] = s8[l] + s8[l + 4];
    }
    (s4[0] + s4[2]) + (s4[1] + s4[3])
}

/// `out[k] = row · xs[k]` for every vector in `xs` (`n` of `cols` each), [`GROUP`] per pass, on
/// the portable kernel (`SIMD` 0), AVX2 (1) or AVX-512 (2); the caller's function must be
/// compiled with the chosen set's features.
#[inline(always)]
pub(crate) fn row_into<B: Block, const FMA: bool, const F16C: bool, const SIMD: u8>(
    row: &[u8],
    xs: &[f32],
    cols: usize,
    out: &mut [f32],
) {
    let x = |k: usize| &xs[k * cols..][..cols];
    let mut k = 0;
    while k < out.len() {
        let left = out.len() - k;
        // AVX-512's 32 registers hold eight vectors' sums: one pass over the row for a full
        // decoding batch. (Each vector's sums are the same whichever pass takes it.)
        if SIMD == 2 && left >= WIDE_GROUP {
            let xs: [&[f32]; WIDE_GROUP] = std::array::from_fn(|i| x(k + i));
            out[k..k + WIDE_GROUP].copy_from_slice(&dots::<B, WIDE_GROUP, FMA, F16C, SIMD>(row, xs));
            k += WIDE_GROUP;
            continue;
        }
        match left {
            1 => out[k] = dots::<B, 1, FMA, F16C, SIMD>(row, [x(k)])[0],
            2 => out[k..k + 2].copy_from_slice(&dots::<B, 2, FMA, F16C, SIMD>(row, [x(k), x(k + 1)])),
            3 => out[k..k + 3].copy_from_slice(&dots::<B, 3, FMA, F16C, SIMD>(row, [x(k), x(k + 1), x(k + 2)])),
            _ => out[k..k + GROUP]
                .copy_from_slice(&dots::<B, GROUP, FMA, F16C, SIMD>(row, [x(k), x(k + 1), x(k + 2), x(k + 3)])),
        }
        k += left.min(GROUP);
    }
}

#[inline(always)]
fn dots<B: Block, const N: usize, const FMA: bool, const F16C: bool, const SIMD: u8>(
    row: &[u8],
    xs: [&[f32]; N],
) -> [f32; N] {
    // SAFETY: SIMD is 1 or 2 only inside functions compiled with that instruction set's
    // features, reached after run-time detection; every vector is `cols` long, the row's blocks
    // hold `cols` values.
    #[cfg(target_arch = "x86_64")]
    match SIMD {
        1 => return unsafe { super::simd::row_dots256::<B, N>(row, xs) },
        2 => return unsafe { super::simd::row_dots512::<B, N>(row, xs) },
        _ => {}
    }
    row_dots::<B, N, FMA, F16C>(row, xs)
}

/// Plain f32 rows: the same lanes and tree, with a tail past the last multiple of 32 (rows of
/// any width).
#[inline(always)]
pub(crate) fn dense_row_into<const FMA: bool>(row: &[f32], xs: &[f32], out: &mut [f32]) {
    let cols = row.len();
    let full = cols / 32 * 32;
    for (k, o) in out.iter_mut().enumerate() {
        let x = &xs[k * cols..][..cols];
        let mut a = [0f32; LANES];
        for (w, x) in row[..full].chunks_exact(32).zip(x[..full].chunks_exact(32)) {
            for l in 0..LANES {
                a[l] = madd::<FMA>(w[l], x[l], a[l]);
            }
        }
        let mut s = reduce(&a);
        for c in full..cols {
            s = madd::<FMA>(row[c], x[c], s);
        }
        *o = s;
    }
}
