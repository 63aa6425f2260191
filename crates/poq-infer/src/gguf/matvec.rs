//! Weight matrix times a few vectors, for decoding steps.
//!
//! A decoding step multiplies every weight matrix by one activation row per sequence, so it is
//! bound by reading the weights; with several sequences in a step each weight row is read once
//! and multiplied by all of their rows. gemm's matrix–vector kernel runs on one thread, so the
//! rows of the matrix are split among rayon's threads here.
//!
//! Every output is summed in the same order whatever the number of vectors, so a sequence's
//! logits do not depend on which other sequences share its steps: batched and one-at-a-time
//! greedy decoding give the same tokens.

use rayon::prelude::*;

/// Floats summed side by side (two AVX registers) before the final reduction.
const LANES: usize = 16;
/// Vectors served by one pass over a weight row.
const GROUP: usize = 4;
/// How far ahead (floats) the weights are fetched into cache; the next row's, past a row's end.
const PREFETCH: usize = 1024;
/// Weight rows per rayon task.
const ROWS_PER_TASK: usize = 32;

/// `out[b·rows + r] = Σ_c w[r·cols + c] · xs[b·cols + c]`: `w` is (rows, cols) row-major, `xs`
/// holds `n` vectors of `cols`, `out` is (n, rows).
///
/// # Panics
/// When the lengths do not fit these shapes (a caller's bug: shapes come from the model's own
/// tensors).
pub fn matvecs(w: &[f32], cols: usize, xs: &[f32], out: &mut [f32]) {
    assert!(cols > 0 && w.len() % cols == 0 && xs.len() % cols == 0, "matvecs: ragged shapes");
    let rows = w.len() / cols;
    let n = xs.len() / cols;
    assert_eq!(out.len(), rows * n, "matvecs: output length");
    if n == 0 {
        return;
    }
    let fma = has_fma();
    // (rows, n) scratch, so that each task writes one contiguous block.
    let mut by_row = vec![0f32; rows * n];
    by_row.par_chunks_mut(ROWS_PER_TASK * n).enumerate().for_each(|(task, block)| {
        let first = task * ROWS_PER_TASK;
        for (j, dst) in block.chunks_mut(n).enumerate() {
            let row = &w[(first + j) * cols..][..cols];
            if fma {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `has_fma` checked at run time that this CPU has AVX2 and FMA.
                unsafe {
                    row_dots_fma(row, xs, dst)
                };
            } else {
                row_dots::<false>(row, xs, dst);
            }
        }
    });
    for (r, sums) in by_row.chunks(n).enumerate() {
        for (b, &s) in sums.iter().enumerate() {
            out[b * rows + r] = s;
        }
    }
}

fn has_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn row_dots_fma(row: &[f32], xs: &[f32], dst: &mut [f32]) {
    row_dots::<true>(row, xs, dst)
}

/// `dst[b] = row · xs[b]` for every vector, `GROUP` of them per pass over `row`.
#[inline(always)]
fn row_dots<const FMA: bool>(row: &[f32], xs: &[f32], dst: &mut [f32]) {
    let cols = row.len();
    let vector = |b: usize| &xs[b * cols..][..cols];
    let mut b = 0;
    while b < dst.len() {
        match dst.len() - b {
            1 => dst[b] = dots::<1, FMA>(row, [vector(b)])[0],
            2 => dst[b..b + 2].copy_from_slice(&dots::<2, FMA>(row, [vector(b), vector(b + 1)])),
            3 => dst[b..b + 3].copy_from_slice(&dots::<3, FMA>(row, [vector(b), vector(b + 1), vector(b + 2)])),
            _ => dst[b..b + GROUP]
                .copy_from_slice(&dots::<GROUP, FMA>(row, [vector(b), vector(b + 1), vector(b + 2), vector(b + 3)])),
        }
        b += GROUP.min(dst.len() - b);
    }
}

/// `row · x` for each of `N` vectors of `row.len()`: `LANES` running sums each (sum `l` takes
/// the products at columns `l`, `l + LANES`, ...), added in a fixed tree, then the tail; the
/// same order for every `N`.
#[inline(always)]
fn dots<const N: usize, const FMA: bool>(row: &[f32], xs: [&[f32]; N]) -> [f32; N] {
    let full = row.len() / LANES * LANES;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `FMA` is true only under `row_dots_fma`, reached after `has_fma` said yes.
    let lanes = if FMA { unsafe { lane_sums_fma(row, xs, full) } } else { lane_sums(row, xs, full) };
    #[cfg(not(target_arch = "x86_64"))]
    let lanes = lane_sums(row, xs, full);
    let mut out = [0f32; N];
    for ((o, a), x) in out.iter_mut().zip(&lanes).zip(&xs) {
        let half: [f32; 8] = std::array::from_fn(|l| a[l] + a[l + 8]);
        let quarter: [f32; 4] = std::array::from_fn(|l| half[l] + half[l + 4]);
        let mut s = (quarter[0] + quarter[2]) + (quarter[1] + quarter[3]);
        for c in full..row.len() {
            s = if FMA { row[c].mul_add(x[c], s) } else { row[c] * x[c] + s };
        }
        *o = s;
    }
    out
}

/// The running sums over the first `full` columns, portable.
#[inline(always)]
fn lane_sums<const N: usize>(row: &[f32], xs: [&[f32]; N], full: usize) -> [[f32; LANES]; N] {
    let mut acc = [[0f32; LANES]; N];
    for c in (0..full).step_by(LANES) {
        for (a, x) in acc.iter_mut().zip(&xs) {
            for l in 0..LANES {
                a[l] += row[c + l] * x[c + l];
            }
        }
    }
    acc
}

/// The running sums over the first `full` columns with AVX2 fused multiply–adds, two registers
/// of eight per vector (LLVM does not vectorize [`lane_sums`] across its sums).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
fn lane_sums_fma<const N: usize>(row: &[f32], xs: [&[f32]; N], full: usize) -> [[f32; LANES]; N] {
    use std::arch::x86_64::{
        __m256, _MM_HINT_T0, _mm_prefetch, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_setzero_ps, _mm256_storeu_ps,
    };
    assert!(full <= row.len() && xs.iter().all(|x| x.len() >= full) && full % LANES == 0);
    let mut lo: [__m256; N] = [_mm256_setzero_ps(); N];
    let mut hi: [__m256; N] = [_mm256_setzero_ps(); N];
    let mut c = 0;
    while c < full {
        // SAFETY: each load reads 8 floats ending at or before `full`, inside `row` and every
        // `x` (asserted above).
        unsafe {
            // The weights stream from memory while the products of earlier ones are summed.
            _mm_prefetch::<_MM_HINT_T0>(row.as_ptr().wrapping_add(c + PREFETCH).cast());
            let w0 = _mm256_loadu_ps(row.as_ptr().add(c));
            let w1 = _mm256_loadu_ps(row.as_ptr().add(c + 8));
            for k in 0..N {
                lo[k] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xs[k].as_ptr().add(c)), lo[k]);
                hi[k] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xs[k].as_ptr().add(c + 8)), hi[k]);
            }
        }
        c += LANES;
    }
    let mut acc = [[0f32; LANES]; N];
    for k in 0..N {
        // SAFETY: `acc[k]` holds 16 floats: two stores of 8.
        unsafe {
            _mm256_storeu_ps(acc[k].as_mut_ptr(), lo[k]);
            _mm256_storeu_ps(acc[k].as_mut_ptr().add(8), hi[k]);
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    fn random(n: usize, rng: &mut StdRng) -> Vec<f32> {
        (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
    }

    #[test]
    fn equals_the_exact_products_for_any_width_and_count() {
        let mut rng = StdRng::seed_from_u64(3);
        // Widths below, at and past the lanes, with tails; row counts past one task.
        for (rows, cols) in [(1, 1), (5, 15), (70, 16), (33, 577), (129, 48)] {
            let w = random(rows * cols, &mut rng);
            for n in [1, 2, 3, 4, 5, 9] {
                let xs = random(n * cols, &mut rng);
                let mut out = vec![f32::NAN; rows * n];
                matvecs(&w, cols, &xs, &mut out);
                // The portable path too, which machines without FMA take.
                let mut portable = vec![f32::NAN; n];
                row_dots::<false>(&w[..cols], &xs, &mut portable);
                for b in 0..n {
                    let exact: f64 = (0..cols).map(|c| w[c] as f64 * xs[b * cols + c] as f64).sum::<f64>();
                    assert!((portable[b] as f64 - exact).abs() < 1e-4 * (cols as f64).sqrt());
                }
                for b in 0..n {
                    for r in 0..rows {
                        let exact: f64 =
                            (0..cols).map(|c| w[r * cols + c] as f64 * xs[b * cols + c] as f64).sum::<f64>();
                        let got = out[b * rows + r] as f64;
                        assert!((got - exact).abs() < 1e-4 * (cols as f64).sqrt(), "{rows}x{cols} n={n} b={b} r={r}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_vectors_result_does_not_depend_on_its_batch() {
        let mut rng = StdRng::seed_from_u64(4);
        let (rows, cols) = (97, 200);
        let w = random(rows * cols, &mut rng);
        let xs = random(7 * cols, &mut rng);
        let mut all = vec![0f32; rows * 7];
        matvecs(&w, cols, &xs, &mut all);
        for b in 0..7 {
            let mut one = vec![0f32; rows];
            matvecs(&w, cols, &xs[b * cols..][..cols], &mut one);
            // Bit for bit: the batched and the single step must pick the same greedy tokens.
            assert_eq!(one, all[b * rows..][..rows], "vector {b}");
        }
    }
}
