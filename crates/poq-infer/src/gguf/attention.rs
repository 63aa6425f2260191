//! Attention of a forward step's queries over each sequence's key/value cache.
//!
//! A prompt's queries run per head as two gemm products (scores, then values). A decoding step's
//! single query per head runs over the cache directly, in blocks of [`BLOCK`] positions: each
//! block is a task that scores its keys for every head, exponentiates them against the block's
//! own maximum and sums the weighted values; the blocks of a step are then merged by rescaling
//! (the online softmax). Blocks spread a long cache over the cores whatever the number of heads,
//! and a block's keys and values stay in the core's cache while the heads of a group read them.
//! The partition depends on the positions only, so the sums are the same for any thread count
//! and for a sequence stepped alone or with others.

use super::decoder::exp_nonpositive;
use crate::quant;
use rayon::prelude::*;

/// Attention work (key positions × heads × head width) below which a step's attention runs on
/// one thread: waking the pool costs more than a short cache takes.
const PARALLEL_ATTENTION: usize = 1 << 16;

/// Cache positions per decoding task: one key/value head's block (64 KB of keys and as much of
/// values at head width 64) stays in L2 while every head of its group reads it.
const BLOCK: usize = 256;

/// Attention heads' shape.
#[derive(Debug, Clone, Copy)]
pub(super) struct Heads {
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
}

impl Heads {
    fn kv_dim(self) -> usize {
        self.kv_heads * self.head_dim
    }

    fn q_dim(self) -> usize {
        self.heads * self.head_dim
    }

    /// The key/value head that query head `head` reads.
    fn kv_of(self, head: usize) -> usize {
        head / (self.heads / self.kv_heads)
    }

    fn scale(self) -> f32 {
        1.0 / (self.head_dim as f32).sqrt()
    }
}

/// One step of one sequence: its layer's cache, where the step starts and how many tokens it has.
#[derive(Debug, Clone, Copy)]
pub(super) struct Step<'a> {
    pub keys: &'a [f32],
    pub values: &'a [f32],
    /// The step's first position and its number of tokens.
    pub pos: usize,
    pub tokens: usize,
    /// The step's first row in `q` / `att`.
    pub row: usize,
}

impl Step<'_> {
    /// The first position its first query sees (the window's start, or 0).
    fn from(&self, window: Option<usize>) -> usize {
        window.map_or(0, |w| (self.pos + 1).saturating_sub(w))
    }
}

/// Softmax attention of every step's queries (rows of `q`, heads × head dim) over its cache,
/// causal and, with a `window`, limited to the last `window` positions; the heads' outputs into
/// `att` (same layout as `q`).
/// A decoding step's kernels use `isa`'s vectors where the head width fits them.
pub(super) fn attention(
    steps: &[Step<'_>],
    window: Option<usize>,
    shape: Heads,
    isa: quant::Isa,
    q: &[f32],
    att: &mut [f32],
) {
    let work: usize = steps.iter().map(|s| (s.pos + s.tokens - s.from(window)) * s.tokens * shape.q_dim()).sum();
    let parallel = work >= PARALLEL_ATTENTION;
    // Prompts: one task per (step, head), writing that head's columns of the step's rows.
    let prompts: Vec<(&Step<'_>, usize)> =
        steps.iter().filter(|s| s.tokens > 1).flat_map(|s| (0..shape.heads).map(move |h| (s, h))).collect();
    let out = quant::SharedOut::new(att);
    let prompt = |&(s, h): &(&Step<'_>, usize)| prompt_head(s, h, shape, window, q, out);
    if parallel {
        prompts.par_iter().for_each(prompt);
    } else {
        prompts.iter().for_each(prompt);
    }
    // Decoding steps: one task per block of positions, each writing its own partial sums.
    let blocks: Vec<Block<'_>> = steps
        .iter()
        .filter(|s| s.tokens == 1)
        .flat_map(|s| {
            let from = s.from(window);
            (from..=s.pos).step_by(BLOCK).map(move |first| Block { step: s, first, len: BLOCK.min(s.pos + 1 - first) })
        })
        .collect();
    let width = shape.heads * (shape.head_dim + 2);
    let mut partials = vec![0f32; blocks.len() * width];
    let scale = shape.scale();
    let block = |(b, p): (&Block<'_>, &mut [f32])| {
        let query = &q[b.step.row * shape.q_dim()..][..shape.q_dim()];
        decode_block(b, query, shape, scale, isa, p)
    };
    if parallel {
        blocks.par_iter().zip(partials.par_chunks_mut(width)).for_each(block);
    } else {
        blocks.iter().zip(partials.chunks_mut(width)).for_each(block);
    }
    // Each step's blocks are adjacent: merge them into the step's row.
    let mut first = 0;
    for own in blocks.chunk_by(|a, b| std::ptr::eq(a.step, b.step)) {
        let s = own[0].step;
        let dst = &mut att[s.row * shape.q_dim()..][..shape.q_dim()];
        merge(&partials[first * width..][..own.len() * width], shape, dst);
        first += own.len();
    }
}

/// One head of a prompt step, written to the head's columns of the step's rows of `att`.
fn prompt_head(s: &Step<'_>, head: usize, shape: Heads, window: Option<usize>, q: &[f32], att: quant::SharedOut) {
    let (hd, q_dim, kv_dim) = (shape.head_dim, shape.q_dim(), shape.kv_dim());
    let kv = shape.kv_of(head);
    // Keys from `from` (the window's start for the step's first query) to its last position.
    let from = s.from(window);
    let seen = s.pos + s.tokens - from;
    let keys = &s.keys[from * kv_dim + kv * hd..];
    let values = &s.values[from * kv_dim + kv * hd..];
    SCORES.with_borrow_mut(|scores| {
        scores.clear();
        scores.resize(s.tokens * seen, 0.0);
        let queries = &q[s.row * q_dim + head * hd..];
        let out = att.at(s.row * q_dim + head * hd);
        // SAFETY: (tokens, hd) queries with row stride q_dim and (seen, hd) keys with row stride
        // kv_dim lie inside `q` and the cache; `scores` is (tokens, seen).
        unsafe {
            quant::gemm_rows(
                s.tokens,
                seen,
                hd,
                (scores.as_mut_ptr(), seen),
                (queries.as_ptr(), q_dim),
                (keys.as_ptr(), kv_dim),
                true,
                shape.scale(),
            )
        };
        for (i, row) in scores.chunks_exact_mut(seen).enumerate() {
            // Query i sees keys up to its own position, and within its window.
            let last = s.pos + i - from;
            let first = window.map_or(0, |w| (s.pos + i + 1).saturating_sub(w).saturating_sub(from));
            softmax_range(row, first, last);
        }
        // SAFETY: `scores` is (tokens, seen), the values (seen, hd) with row stride kv_dim lie in
        // the cache, and the destination (tokens, hd) with row stride q_dim is this head's columns
        // of the step's rows of `att`, written by this task only.
        unsafe {
            quant::gemm_rows(
                s.tokens,
                hd,
                seen,
                (out, q_dim),
                (scores.as_ptr(), seen),
                (values.as_ptr(), kv_dim),
                false,
                1.0,
            )
        };
    });
}

thread_local! {
    /// Each thread's attention scores (tokens × keys) for [`prompt_head`].
    static SCORES: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Softmax of `row[first..=last]` in place; the rest of the row set to 0.
fn softmax_range(row: &mut [f32], first: usize, last: usize) {
    #[cfg(target_arch = "x86_64")]
    if quant::Isa::Avx2.available() {
        #[target_feature(enable = "avx2,fma")]
        fn fused(row: &mut [f32]) -> (f32, f32) {
            exp_shifted(row)
        }
        // SAFETY: the CPU has AVX2 and FMA (checked above).
        let (_, sum) = unsafe { fused(&mut row[first..=last]) };
        return normalize(row, first, last, sum);
    }
    let (_, sum) = exp_shifted(&mut row[first..=last]);
    normalize(row, first, last, sum)
}

fn normalize(row: &mut [f32], first: usize, last: usize, sum: f32) {
    let inv = 1.0 / sum;
    row[first..=last].iter_mut().for_each(|s| *s *= inv);
    row[..first].fill(0.0);
    row[last + 1..].fill(0.0);
}

/// `row[i] = e^(row[i] − max)` in place; returns (max, sum of the new values). Sixteen running
/// maxima and sums (vectorizes; a running fold would wait on each previous element).
#[inline(always)]
fn exp_shifted(row: &mut [f32]) -> (f32, f32) {
    let mut top = [f32::NEG_INFINITY; 16];
    for chunk in row.chunks(16) {
        for (t, &s) in top.iter_mut().zip(chunk) {
            *t = t.max(s);
        }
    }
    let max = tree(top, f32::max);
    let mut sums = [0f32; 16];
    for chunk in row.chunks_mut(16) {
        for (s, l) in chunk.iter_mut().zip(&mut sums) {
            *s = exp_nonpositive(*s - max);
            *l += *s;
        }
    }
    (max, tree(sums, |a, b| a + b))
}

/// Sixteen lanes combined pairwise (four dependent steps instead of fifteen).
#[inline(always)]
fn tree(mut lanes: [f32; 16], op: fn(f32, f32) -> f32) -> f32 {
    let mut width = 8;
    while width > 0 {
        for l in 0..width {
            lanes[l] = op(lanes[l], lanes[l + width]);
        }
        width /= 2;
    }
    lanes[0]
}

/// Positions `first..first + len` of a decoding step's cache.
#[derive(Debug)]
struct Block<'a> {
    step: &'a Step<'a>,
    first: usize,
    len: usize,
}

/// Every head's partial attention over one block, into `partial`: per head its scores' maximum,
/// the sum of their exponentials against it, and the values weighted by them (head dim).
fn decode_block(b: &Block<'_>, q: &[f32], shape: Heads, scale: f32, isa: quant::Isa, partial: &mut [f32]) {
    let hd = shape.head_dim;
    let kv_dim = shape.kv_dim();
    // The cache holds positions up to the step's own (checked when the step was built).
    let (keys, values) = (&b.step.keys[b.first * kv_dim..], &b.step.values[b.first * kv_dim..]);
    assert!(keys.len() >= b.len * kv_dim && values.len() >= b.len * kv_dim);
    #[cfg(target_arch = "x86_64")]
    {
        use simd::{Avx2, Avx512};
        if hd.is_multiple_of(16) && isa == quant::Isa::Avx512 {
            #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
            unsafe fn wide(k: &[f32], v: &[f32], n: usize, q: &[f32], s: Heads, scale: f32, p: &mut [f32]) {
                // SAFETY: the caller's checks (as for `block_with`).
                unsafe { block_with::<Avx512>(k, v, n, q, s, scale, p) }
            }
            // SAFETY: `isa` is available (the caller's word); `keys`/`values` hold `b.len` rows.
            return unsafe { wide(keys, values, b.len, q, shape, scale, partial) };
        }
        if hd.is_multiple_of(8) && isa != quant::Isa::Portable {
            #[target_feature(enable = "avx2,fma")]
            unsafe fn narrow(k: &[f32], v: &[f32], n: usize, q: &[f32], s: Heads, scale: f32, p: &mut [f32]) {
                // SAFETY: the caller's checks (as for `block_with`).
                unsafe { block_with::<Avx2>(k, v, n, q, s, scale, p) }
            }
            // SAFETY: AVX-512 and AVX2 machines have AVX2 and FMA; rows as asserted.
            return unsafe { narrow(keys, values, b.len, q, shape, scale, partial) };
        }
    }
    // SAFETY: plain arithmetic; rows as asserted.
    unsafe { block_with::<Scalar>(keys, values, b.len, q, shape, scale, partial) }
}

/// [`decode_block`] on lanes `L`. Safety: `keys` and `values` hold `n` rows of the cache
/// (`kv_dim` apart), the head dim is a multiple of `L::W`, and the CPU has `L`'s instructions.
#[inline(always)]
unsafe fn block_with<L: Lanes>(
    keys: &[f32],
    values: &[f32],
    n: usize,
    q: &[f32],
    shape: Heads,
    scale: f32,
    partial: &mut [f32],
) {
    let (hd, kv_dim) = (shape.head_dim, shape.kv_dim());
    let mut scores = [0f32; BLOCK];
    let scores = &mut scores[..n];
    for (head, part) in partial.chunks_exact_mut(hd + 2).enumerate() {
        let kv = shape.kv_of(head);
        // SAFETY: rows 0..n of this key/value head lie in the cache slices (the contract).
        unsafe {
            dots::<L>(q[head * hd..].as_ptr(), hd, keys[kv * hd..].as_ptr(), kv_dim, scale, scores);
        }
        let (max, sum) = exp_shifted(scores);
        part[0] = max;
        part[1] = sum;
        // SAFETY: as above.
        unsafe { weighted::<L>(scores, values[kv * hd..].as_ptr(), kv_dim, &mut part[2..]) };
    }
}

/// `out[j] = scale · q · keys[j]` for the rows `j` of `keys` (`stride` apart), `hd` wide.
#[inline(always)]
unsafe fn dots<L: Lanes>(q: *const f32, hd: usize, keys: *const f32, stride: usize, scale: f32, out: &mut [f32]) {
    let n = out.len();
    let mut j = 0;
    // Eight keys at a time: eight independent sums, reduced four at a time into adjacent lanes.
    while j + 8 <= n {
        // SAFETY: rows j..j + 8 exist and are hd wide (the caller's contract).
        unsafe {
            let mut acc = [L::zero(); 8];
            let mut c = 0;
            while c < hd {
                let qv = L::load(q.add(c));
                for (r, a) in acc.iter_mut().enumerate() {
                    *a = L::fmadd(qv, L::load(keys.add((j + r) * stride + c)), *a);
                }
                c += L::W;
            }
            L::sum4([acc[0], acc[1], acc[2], acc[3]], scale, out[j..].as_mut_ptr());
            L::sum4([acc[4], acc[5], acc[6], acc[7]], scale, out[j + 4..].as_mut_ptr());
        }
        j += 8;
    }
    while j < n {
        // SAFETY: as above, one row.
        unsafe {
            let mut acc = L::zero();
            let mut c = 0;
            while c < hd {
                acc = L::fmadd(L::load(q.add(c)), L::load(keys.add(j * stride + c)), acc);
                c += L::W;
            }
            out[j] = L::sum(acc) * scale;
        }
        j += 1;
    }
}

/// `out = Σⱼ p[j] · values[j]` over the rows of `values` (`stride` apart), `out.len()` wide.
#[inline(always)]
unsafe fn weighted<L: Lanes>(p: &[f32], values: *const f32, stride: usize, out: &mut [f32]) {
    let hd = out.len();
    let strip = 4 * L::W;
    let mut c = 0;
    // SAFETY: rows 0..p.len() exist and are hd wide (the caller's contract).
    unsafe {
        while c + strip <= hd {
            weighted_strip::<L, 4>(p, values.add(c), stride, out[c..].as_mut_ptr());
            c += strip;
        }
        while c < hd {
            weighted_strip::<L, 1>(p, values.add(c), stride, out[c..].as_mut_ptr());
            c += L::W;
        }
    }
}

/// [`weighted`] for `V` vectors of columns: even and odd positions in separate sums (twice the
/// independent multiply–adds in flight), added at the end.
#[inline(always)]
unsafe fn weighted_strip<L: Lanes, const V: usize>(p: &[f32], values: *const f32, stride: usize, out: *mut f32) {
    // SAFETY: rows 0..p.len() have V·W readable values from `values`, `out` has V·W (the contract).
    unsafe {
        let (mut even, mut odd) = ([L::zero(); V], [L::zero(); V]);
        let pairs = p.len() / 2;
        for i in 0..pairs {
            let (j, k) = (2 * i, 2 * i + 1);
            let (pj, pk) = (L::splat(p[j]), L::splat(p[k]));
            for (v, (e, o)) in even.iter_mut().zip(&mut odd).enumerate() {
                *e = L::fmadd(pj, L::load(values.add(j * stride + v * L::W)), *e);
                *o = L::fmadd(pk, L::load(values.add(k * stride + v * L::W)), *o);
            }
        }
        if p.len() % 2 == 1 {
            let j = p.len() - 1;
            let pj = L::splat(p[j]);
            for (v, e) in even.iter_mut().enumerate() {
                *e = L::fmadd(pj, L::load(values.add(j * stride + v * L::W)), *e);
            }
        }
        for (v, (e, o)) in even.iter().zip(&odd).enumerate() {
            L::store(out.add(v * L::W), L::add(*e, *o));
        }
    }
}

/// A step's blocks merged per head into its output row: each block's sums rescaled from its own
/// maximum to the overall one, added in block order, divided by the total.
fn merge(partials: &[f32], shape: Heads, out: &mut [f32]) {
    let hd = shape.head_dim;
    let width = shape.heads * (hd + 2);
    for (head, dst) in out.chunks_exact_mut(hd).enumerate() {
        let part = |b: usize| &partials[b * width + head * (hd + 2)..][..hd + 2];
        let blocks = partials.len() / width;
        let max = (0..blocks).map(|b| part(b)[0]).fold(f32::NEG_INFINITY, f32::max);
        dst.fill(0.0);
        let mut sum = 0.0;
        for b in 0..blocks {
            let p = part(b);
            let rescale = exp_nonpositive(p[0] - max);
            sum += p[1] * rescale;
            dst.iter_mut().zip(&p[2..]).for_each(|(d, v)| *d += v * rescale);
        }
        let inv = 1.0 / sum;
        dst.iter_mut().for_each(|d| *d *= inv);
    }
}

/// A vector of `W` f32 lanes and the few operations the decoding kernels need. The methods are
/// unsafe: the CPU must have the type's instructions, and pointers must be valid for `W` values.
trait Lanes {
    type V: Copy;
    const W: usize;
    unsafe fn zero() -> Self::V;
    unsafe fn splat(x: f32) -> Self::V;
    unsafe fn load(p: *const f32) -> Self::V;
    unsafe fn store(p: *mut f32, v: Self::V);
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    /// `a · b + c`, fused where the instruction set has it.
    unsafe fn fmadd(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// The sum of the lanes.
    unsafe fn sum(v: Self::V) -> f32;
    /// The four vectors' sums, times `scale`, into `out[0..4]`.
    unsafe fn sum4(v: [Self::V; 4], scale: f32, out: *mut f32);
}

/// One f32 at a time, no fused multiply–add (any CPU).
struct Scalar;

impl Lanes for Scalar {
    type V = f32;
    const W: usize = 1;
    unsafe fn zero() -> f32 {
        0.0
    }
    unsafe fn splat(x: f32) -> f32 {
        x
    }
    unsafe fn load(p: *const f32) -> f32 {
        // SAFETY: the trait's contract.
        unsafe { *p }
    }
    unsafe fn store(p: *mut f32, v: f32) {
        // SAFETY: the trait's contract.
        unsafe { *p = v }
    }
    unsafe fn add(a: f32, b: f32) -> f32 {
        a + b
    }
    unsafe fn fmadd(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
    unsafe fn sum(v: f32) -> f32 {
        v
    }
    unsafe fn sum4(v: [f32; 4], scale: f32, out: *mut f32) {
        for (i, x) in v.into_iter().enumerate() {
            // SAFETY: the trait's contract.
            unsafe { *out.add(i) = x * scale };
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use super::Lanes;
    use std::arch::x86_64::*;

    /// Eight lanes (AVX2 with FMA).
    pub(super) struct Avx2;
    /// Sixteen lanes (AVX-512F).
    pub(super) struct Avx512;

    /// The sums of `a`, `b`, `c`, `d` (eight lanes each) in the four lanes of the result.
    #[inline(always)]
    unsafe fn sum4_256(a: __m256, b: __m256, c: __m256, d: __m256) -> __m128 {
        // SAFETY: AVX (the caller's contract).
        unsafe {
            let abcd = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
            _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps::<1>(abcd))
        }
    }

    impl Lanes for Avx2 {
        type V = __m256;
        const W: usize = 8;
        #[inline(always)]
        unsafe fn zero() -> __m256 {
            // SAFETY: AVX (the trait's contract), as for every method here.
            unsafe { _mm256_setzero_ps() }
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> __m256 {
            unsafe { _mm256_set1_ps(x) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m256 {
            unsafe { _mm256_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m256) {
            unsafe { _mm256_storeu_ps(p, v) }
        }
        #[inline(always)]
        unsafe fn add(a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_add_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn fmadd(a: __m256, b: __m256, c: __m256) -> __m256 {
            unsafe { _mm256_fmadd_ps(a, b, c) }
        }
        #[inline(always)]
        unsafe fn sum(v: __m256) -> f32 {
            unsafe {
                let s = sum4_256(v, v, v, v);
                _mm_cvtss_f32(s)
            }
        }
        #[inline(always)]
        unsafe fn sum4(v: [__m256; 4], scale: f32, out: *mut f32) {
            unsafe { _mm_storeu_ps(out, _mm_mul_ps(sum4_256(v[0], v[1], v[2], v[3]), _mm_set1_ps(scale))) }
        }
    }

    /// The two halves of `v` added.
    #[inline(always)]
    unsafe fn halves(v: __m512) -> __m256 {
        // SAFETY: AVX-512F (the caller's contract).
        unsafe {
            let high = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)));
            _mm256_add_ps(_mm512_castps512_ps256(v), high)
        }
    }

    impl Lanes for Avx512 {
        type V = __m512;
        const W: usize = 16;
        #[inline(always)]
        unsafe fn zero() -> __m512 {
            // SAFETY: AVX-512F (the trait's contract), as for every method here.
            unsafe { _mm512_setzero_ps() }
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> __m512 {
            unsafe { _mm512_set1_ps(x) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m512 {
            unsafe { _mm512_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m512) {
            unsafe { _mm512_storeu_ps(p, v) }
        }
        #[inline(always)]
        unsafe fn add(a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_add_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn fmadd(a: __m512, b: __m512, c: __m512) -> __m512 {
            unsafe { _mm512_fmadd_ps(a, b, c) }
        }
        #[inline(always)]
        unsafe fn sum(v: __m512) -> f32 {
            unsafe { _mm512_reduce_add_ps(v) }
        }
        #[inline(always)]
        unsafe fn sum4(v: [__m512; 4], scale: f32, out: *mut f32) {
            unsafe {
                let s = sum4_256(halves(v[0]), halves(v[1]), halves(v[2]), halves(v[3]));
                _mm_storeu_ps(out, _mm_mul_ps(s, _mm_set1_ps(scale)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::Isa;

    /// A deterministic stream in [−1, 1) (no seeded-RNG dependency needed for a test's data).
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }

    /// Attention of query row `i` of `q` at position `pos` in f64, straight from the definition.
    fn reference(q: &[f32], keys: &[f32], values: &[f32], shape: Heads, pos: usize, window: Option<usize>) -> Vec<f64> {
        let (hd, kv_dim) = (shape.head_dim, shape.kv_dim());
        let from = window.map_or(0, |w| (pos + 1).saturating_sub(w));
        let mut out = vec![0f64; shape.q_dim()];
        for head in 0..shape.heads {
            let kv = shape.kv_of(head);
            let scores: Vec<f64> = (from..=pos)
                .map(|j| {
                    let k = &keys[j * kv_dim + kv * hd..][..hd];
                    let dot: f64 = q[head * hd..][..hd].iter().zip(k).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum();
                    dot / (hd as f64).sqrt()
                })
                .collect();
            let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let total: f64 = scores.iter().map(|s| (s - max).exp()).sum();
            for (j, s) in (from..=pos).zip(&scores) {
                let p = (s - max).exp() / total;
                for (o, v) in out[head * hd..][..hd].iter_mut().zip(&values[j * kv_dim + kv * hd..][..hd]) {
                    *o += p * f64::from(*v);
                }
            }
        }
        out
    }

    fn largest_error(got: &[f32], want: &[f64]) -> f64 {
        got.iter().zip(want).map(|(g, w)| (f64::from(*g) - w).abs()).fold(0.0, f64::max)
    }

    #[test]
    fn decoding_steps_match_the_definition_on_every_path() {
        // Scores up to ±3√hd·(scale) make the softmax peaked enough that a wrong maximum or a
        // block merged with the wrong rescaling is far off.
        for (heads, kv_heads, hd) in [(9, 3, 64), (4, 1, 256), (6, 2, 8), (2, 2, 12)] {
            let shape = Heads { heads, kv_heads, head_dim: hd };
            let positions = 2 * BLOCK + 37;
            let keys: Vec<f32> = values(positions * shape.kv_dim(), 1).iter().map(|v| 3.0 * v).collect();
            let vals = values(positions * shape.kv_dim(), 2);
            let q = values(shape.q_dim(), 3);
            for isa in Isa::ALL.into_iter().filter(|i| i.available()) {
                for pos in [0, 1, 7, 8, 9, BLOCK - 1, BLOCK, BLOCK + 1, positions - 1] {
                    for window in [None, Some(100)] {
                        let step = Step { keys: &keys, values: &vals, pos, tokens: 1, row: 0 };
                        let mut att = vec![f32::NAN; shape.q_dim()];
                        attention(&[step], window, shape, isa, &q, &mut att);
                        let err = largest_error(&att, &reference(&q, &keys, &vals, shape, pos, window));
                        assert!(err < 2e-6, "{isa:?} {shape:?} pos {pos} window {window:?}: off by {err}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_step_is_the_same_alone_or_with_others_and_prompts_agree_with_steps() {
        let shape = Heads { heads: 9, kv_heads: 3, head_dim: 64 };
        let positions = BLOCK + 70;
        let keys = values(positions * shape.kv_dim(), 4);
        let vals = values(positions * shape.kv_dim(), 5);
        let other = values(positions * shape.kv_dim(), 6);
        let q = values(6 * shape.q_dim(), 7);
        let isa = Isa::detect();
        // One decoding step alone, then beside a prompt of five tokens and another sequence.
        let alone = Step { keys: &keys, values: &vals, pos: positions - 1, tokens: 1, row: 0 };
        let mut one = vec![0f32; shape.q_dim()];
        attention(&[alone], None, shape, isa, &q[..shape.q_dim()], &mut one);
        let prompt = Step { keys: &other, values: &other, pos: positions - 5, tokens: 5, row: 1 };
        let mut many = vec![0f32; 6 * shape.q_dim()];
        attention(&[alone, prompt], None, shape, isa, &q, &mut many);
        assert_eq!(one, many[..shape.q_dim()], "a decoding step's sums changed with its company");
        // The prompt's rows (gemm) against the definition at each of its positions.
        for i in 0..5 {
            let row = &q[(1 + i) * shape.q_dim()..][..shape.q_dim()];
            let want = reference(row, &other, &other, shape, positions - 5 + i, None);
            let err = largest_error(&many[(1 + i) * shape.q_dim()..][..shape.q_dim()], &want);
            assert!(err < 2e-6, "prompt row {i}: off by {err}");
        }
    }
}
