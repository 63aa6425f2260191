//! The SIMD row kernels: a format's chunk is decoded with AVX2 integer instructions into 32 bytes
//! ([`Block::chunk_simd`], next to the portable decoder in `formats`), widened to f32 and scaled,
//! then multiplied with the activations — in registers of eight (AVX2) or sixteen (AVX-512).
//! Both run the same operations on every value in the same order, so they agree bit for bit.
//!
//! Each function decodes exactly what [`Block::chunk`] decodes (the tests compare them), with the
//! same arithmetic: the integer values are exact, then one multiply or fused multiply–add.

use super::formats::Block;
use super::kernel::{LANES, reduce};
use std::arch::x86_64::*;

/// The 32 nibbles of 16 packed bytes in value order: low halves, then high halves.
#[inline(always)]
pub(crate) unsafe fn nibbles(qs: *const u8) -> __m256i {
    // SAFETY: 16 readable bytes at `qs`, AVX2 (the caller's contract).
    unsafe {
        let v = _mm_loadu_si128(qs.cast());
        let mask = _mm_set1_epi8(0x0f);
        _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16::<4>(v), mask), _mm_and_si128(v, mask))
    }
}

/// 0x10 in byte `l` where bit `l` of `high` is set (the fifth bits of Q5_0 and Q5_1): with
/// AVX-512BW (`BW`) one masked move, else a byte shuffle and compare.
#[inline(always)]
pub(crate) unsafe fn fifth_bits<const BW: bool>(high: u32) -> __m256i {
    // SAFETY: AVX2, and AVX-512BW/VL when BW (the caller's contract).
    unsafe {
        if BW {
            return _mm256_maskz_mov_epi8(high, _mm256_set1_epi8(0x10));
        }
        // Byte l takes byte l / 8 of `high`, then keeps bit l % 8.
        let spread = _mm256_shuffle_epi8(
            _mm256_set1_epi32(high as i32),
            _mm256_setr_epi8(
                0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3,
            ),
        );
        let bit = _mm256_set1_epi64x(0x8040_2010_0804_0201_u64 as i64);
        _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), _mm256_set1_epi8(0x10))
    }
}

/// The low (`high` false) or high nibbles of 32 bytes at `at`.
#[inline(always)]
pub(crate) unsafe fn k_nibbles(at: *const u8, high: bool) -> __m256i {
    // SAFETY: 32 readable bytes at `at`, AVX2 (the caller's contract).
    unsafe {
        let v = _mm256_loadu_si256(at.cast());
        let v = if high { _mm256_srli_epi16::<4>(v) } else { v };
        _mm256_and_si256(v, _mm256_set1_epi8(0x0f))
    }
}

/// A chunk's 32 integers as bytes (value order), and how they become its values:
/// `q · scale` or `q · scale + offset` (one fused multiply–add), `scale[0]` for values 0–15 and
/// `scale[1]` for 16–31.
#[derive(Clone, Copy)]
pub(crate) struct Chunk {
    pub q: __m256i,
    /// Whether the bytes are signed.
    pub signed: bool,
    pub scale: [f32; 2],
    pub offset: Option<f32>,
}

/// The chunk's values in four registers of eight (AVX2).
///
/// No closures here or in the kernels below: a closure is not compiled with its caller's
/// target features, so the intrinsics inside it became out-of-line calls (a third of the time).
#[inline(always)]
unsafe fn values256(ch: Chunk) -> [__m256; 4] {
    // SAFETY: AVX2 and FMA (the caller's contract).
    unsafe {
        let (lo, hi) = (_mm256_castsi256_si128(ch.q), _mm256_extracti128_si256::<1>(ch.q));
        let parts = [lo, _mm_srli_si128::<8>(lo), hi, _mm_srli_si128::<8>(hi)];
        let (s0, s1) = (_mm256_set1_ps(ch.scale[0]), _mm256_set1_ps(ch.scale[1]));
        let scale = [s0, s0, s1, s1];
        let mut out = [_mm256_setzero_ps(); 4];
        for r in 0..4 {
            let ints = if ch.signed { _mm256_cvtepi8_epi32(parts[r]) } else { _mm256_cvtepu8_epi32(parts[r]) };
            let v = _mm256_cvtepi32_ps(ints);
            out[r] = match ch.offset {
                Some(m) => _mm256_fmadd_ps(v, scale[r], _mm256_set1_ps(m)),
                None => _mm256_mul_ps(v, scale[r]),
            };
        }
        out
    }
}

/// The chunk's values in two registers of sixteen (AVX-512): the same operations per value as
/// [`values256`].
#[inline(always)]
unsafe fn values512(ch: Chunk) -> [__m512; 2] {
    // SAFETY: AVX-512F and FMA (the caller's contract).
    unsafe {
        let halves = [_mm256_castsi256_si128(ch.q), _mm256_extracti128_si256::<1>(ch.q)];
        let mut out = [_mm512_setzero_ps(); 2];
        for r in 0..2 {
            let ints = if ch.signed { _mm512_cvtepi8_epi32(halves[r]) } else { _mm512_cvtepu8_epi32(halves[r]) };
            let v = _mm512_cvtepi32_ps(ints);
            let scale = _mm512_set1_ps(ch.scale[r]);
            out[r] = match ch.offset {
                Some(m) => _mm512_fmadd_ps(v, scale, _mm512_set1_ps(m)),
                None => _mm512_mul_ps(v, scale),
            };
        }
        out
    }
}

/// Bytes of weights requested ahead of the block being multiplied.
const PREFETCH_AHEAD: usize = 1024;

/// `row · xs[k]` for each of `N` vectors, with the lanes and tree of [`super::kernel::row_dots`]:
/// lane `l` in register `l / 8`, lane `l % 8`.
///
/// # Safety
/// The CPU must have AVX2, FMA and F16C; `row` holds whole blocks and every `xs[k]` at least as
/// many values.
#[inline(always)]
pub(crate) unsafe fn row_dots256<B: Block, const N: usize>(row: &[u8], xs: [&[f32]; N]) -> [f32; N] {
    debug_assert!(xs.iter().all(|x| x.len() >= row.len() / B::BYTES * B::LEN));
    // SAFETY: the caller's contract: the features, and every load inside `row` and `xs`.
    unsafe {
        let mut acc = [[_mm256_setzero_ps(); 4]; N];
        for (b, block) in row.chunks_exact(B::BYTES).enumerate() {
            let header = B::header::<true>(block);
            for c in 0..B::LEN / 32 {
                let w = values256(B::chunk_simd(block, &header, c));
                let at = b * B::LEN + 32 * c;
                for (a, x) in acc.iter_mut().zip(&xs) {
                    let x = x.as_ptr().add(at);
                    for r in 0..4 {
                        a[r] = _mm256_fmadd_ps(w[r], _mm256_loadu_ps(x.add(8 * r)), a[r]);
                    }
                }
            }
        }
        let mut out = [0f32; N];
        for (o, a) in out.iter_mut().zip(&acc) {
            let mut lanes = [0f32; LANES];
            for (r, v) in a.iter().enumerate() {
                _mm256_storeu_ps(lanes.as_mut_ptr().add(8 * r), *v);
            }
            *o = reduce(&lanes);
        }
        out
    }
}

/// [`row_dots256`] in registers of sixteen: lane `l` in register `l / 16`, the same sums.
///
/// # Safety
/// The CPU must have AVX-512F, AVX2, FMA and F16C; the shapes as [`row_dots256`].
#[inline(always)]
pub(crate) unsafe fn row_dots512<B: Block, const N: usize>(row: &[u8], xs: [&[f32]; N]) -> [f32; N] {
    debug_assert!(xs.iter().all(|x| x.len() >= row.len() / B::BYTES * B::LEN));
    // SAFETY: the caller's contract: the features, and every load inside `row` and `xs`.
    unsafe {
        let mut acc = [[_mm512_setzero_ps(); 2]; N];
        for (b, block) in row.chunks_exact(B::BYTES).enumerate() {
            _mm_prefetch::<_MM_HINT_T0>(block.as_ptr().wrapping_add(PREFETCH_AHEAD).cast());
            let header = B::header::<true>(block);
            for c in 0..B::LEN / 32 {
                let w = values512(B::chunk_simd512(block, &header, c));
                let at = b * B::LEN + 32 * c;
                for (a, x) in acc.iter_mut().zip(&xs) {
                    let x = x.as_ptr().add(at);
                    a[0] = _mm512_fmadd_ps(w[0], _mm512_loadu_ps(x), a[0]);
                    a[1] = _mm512_fmadd_ps(w[1], _mm512_loadu_ps(x.add(16)), a[1]);
                }
            }
        }
        let mut out = [0f32; N];
        if N == 8 {
            out.copy_from_slice(&reduce8_512(&acc[..])[..N]);
            return out;
        }
        if N == 1 {
            out[0] = reduce1_512(acc[0]);
            return out;
        }
        for (o, a) in out.iter_mut().zip(&acc) {
            let mut lanes = [0f32; LANES];
            _mm512_storeu_ps(lanes.as_mut_ptr(), a[0]);
            _mm512_storeu_ps(lanes.as_mut_ptr().add(16), a[1]);
            *o = reduce(&lanes);
        }
        out
    }
}

/// [`reduce`] of one vector's lanes in registers: the same pairs at every level.
#[inline(always)]
unsafe fn reduce1_512(a: [__m512; 2]) -> f32 {
    // SAFETY: AVX-512F (the caller's contract).
    unsafe {
        let s16 = _mm512_add_ps(a[0], a[1]);
        // The upper half through a 64-bit view: extracting 32-bit halves needs AVX-512DQ.
        let high = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(s16)));
        tree8(_mm256_add_ps(_mm512_castps512_ps256(s16), high))
    }
}

/// The last three levels of [`reduce`]'s tree on eight lanes: `l + l+4`, `+2`, `+1`.
#[inline(always)]
pub(crate) unsafe fn tree8(s8: __m256) -> f32 {
    // SAFETY: AVX (the caller's contract).
    unsafe {
        let s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps::<1>(s8));
        let s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
        _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)))
    }
}

/// [`reduce`] of eight vectors' lanes at once, in registers: each level of the tree adds the same
/// pairs of lanes as `reduce` (so the sums are identical bit for bit), with two vectors' halves
/// (then four vectors' quarters) packed into one register per addition. Storing every vector's
/// lanes and re-reading them in narrower pieces instead stalls on store forwarding, eight times per
/// row.
#[inline(always)]
unsafe fn reduce8_512(acc: &[[__m512; 2]]) -> [f32; 8] {
    // SAFETY: AVX-512F (the caller's contract); `acc` holds eight vectors.
    unsafe {
        // Level 1: lane l + lane l + 16.
        let s16: [__m512; 8] = std::array::from_fn(|v| _mm512_add_ps(acc[v][0], acc[v][1]));
        // Level 2: lane l + lane l + 8, for vectors v and v + 1 in one register.
        let mut s8 = [_mm512_setzero_ps(); 4];
        for p in 0..4 {
            let (a, b) = (s16[2 * p], s16[2 * p + 1]);
            let low = _mm512_shuffle_f32x4::<0b01_00_01_00>(a, b);
            let high = _mm512_shuffle_f32x4::<0b11_10_11_10>(a, b);
            s8[p] = _mm512_add_ps(low, high);
        }
        // Level 3: lane l + lane l + 4, four vectors per register (one per 128-bit quarter).
        let mut out = [0f32; 8];
        for q in 0..2 {
            let (a, b) = (s8[2 * q], s8[2 * q + 1]);
            let low = _mm512_shuffle_f32x4::<0b10_00_10_00>(a, b);
            let high = _mm512_shuffle_f32x4::<0b11_01_11_01>(a, b);
            let s4 = _mm512_add_ps(low, high);
            // Level 4: (s4[0] + s4[2]) + (s4[1] + s4[3]) in lane 0 of each quarter.
            let t = _mm512_add_ps(s4, _mm512_permute_ps::<0b01_00_11_10>(s4));
            let u = _mm512_add_ps(t, _mm512_permute_ps::<0b10_11_00_01>(t));
            let mut lanes = [0f32; 16];
            _mm512_storeu_ps(lanes.as_mut_ptr(), u);
            for v in 0..4 {
                out[4 * q + v] = lanes[4 * v];
            }
        }
        out
    }
}

/// Decodes whole blocks of `data` into `out`, as [`super::formats::decode`].
///
/// # Safety
/// The CPU must have AVX2, FMA and F16C; `out` holds `LEN` values per block of `data`.
#[inline(always)]
pub(crate) unsafe fn decode<B: Block>(data: &[u8], out: &mut [f32]) {
    for (block, values) in data.chunks_exact(B::BYTES).zip(out.chunks_exact_mut(B::LEN)) {
        let header = B::header::<true>(block);
        for (c, dst) in values.chunks_exact_mut(32).enumerate() {
            // SAFETY: the caller's contract; `dst` is 32 values.
            unsafe {
                let w = values256(B::chunk_simd(block, &header, c));
                for (r, v) in w.iter().enumerate() {
                    _mm256_storeu_ps(dst.as_mut_ptr().add(8 * r), *v);
                }
            }
        }
    }
}
