//! Products with 8-bit activations ([`super::Activations::Int8`]).
//!
//! Each activation row is quantized per chunk of 32 values as llama.cpp quantizes them (scale
//! `d = max|x| / 127`, values rounded to nearest, ties to even). A chunk's 32 weight integers times its 32
//! activation integers is then an exact integer `t` (|t| < 2²⁴), however it is computed, and
//! everything after it is one fixed sequence of f32 operations per vector: sixteen running
//! sums, chunk `c` going to lane `c mod 16`,
//!
//! ```text
//! lane = fma(t as f32, scale_c · d_c, lane)        (Q6_K: the low half's t, then the high half's)
//! lane = fma(offset_c, d_c · Σx_c, lane)           (formats with minimums: Q4_1, Q5_1, Q4_K, Q5_K)
//! ```
//!
//! and the lanes added in a fixed tree (`l + l+8`, `+4`, `+2`, `+1`). Two kernels follow it:
//! - [`rows_direct`] (AVX2, any number of vectors, up to four per pass over a weight row): byte
//!   products summed per chunk in registers (`maddubs`, or VNNI's `dpbusd` where the CPU has it),
//!   the float sequence once per eight chunks, in one of two registers of eight lanes.
//! - [`rows_lanes`] (AVX-512 VNNI, eight vectors per pass): the activations are laid out so that
//!   one register holds two chunks of all eight vectors (`lanes (parity, vector)`), each `dpbusd`
//!   adds four columns of one weight chunk pair, broadcast, into all sixteen totals. A chunk pair
//!   then costs eight integer instructions and one float update for all eight vectors, where f32
//!   activations cost 32 fused multiply–adds: batched decoding is no longer bound by the
//!   multiply–adds.
//!
//! Both give the same bits for a vector whatever the other vectors are (tests compare them).

use super::formats::Block;
#[cfg(target_arch = "x86_64")]
use super::simd::{Chunk, tree8};
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// The sum of eight lanes.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn hsum_i32(a: __m256i) -> i32 {
    // SAFETY: AVX2 (the caller's contract).
    unsafe {
        let s4 = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256::<1>(a));
        let s2 = _mm_add_epi32(s4, _mm_unpackhi_epi64(s4, s4));
        _mm_cvtsi128_si32(_mm_add_epi32(s2, _mm_shuffle_epi32::<0b01>(s2)))
    }
}

/// Quantizes 32 values to `q`: scale `d = max|x| / 127`, `q = round(x · 127 / max|x|)`; returns
/// `d`, `Σq` and the sum of the first 16.
///
/// # Safety
/// The CPU must have AVX2; `x` and `q` are 32 long.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn quantize_chunk(x: &[f32], q: &mut [i8]) -> (f32, i32, i32) {
    debug_assert!(x.len() == 32 && q.len() == 32);
    // SAFETY: the caller's contract.
    unsafe {
        let mut v = [_mm256_setzero_ps(); 4];
        for (r, v) in v.iter_mut().enumerate() {
            *v = _mm256_loadu_ps(x.as_ptr().add(8 * r));
        }
        let magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
        let mut m = _mm256_setzero_ps();
        for v in v {
            m = _mm256_max_ps(m, _mm256_and_ps(v, magnitude));
        }
        let m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps::<1>(m));
        let m2 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        let amax = _mm_cvtss_f32(_mm_max_ss(m2, _mm_movehdup_ps(m2)));
        let d = amax / 127.0;
        let inv = _mm256_set1_ps(if amax > 0.0 { 127.0 / amax } else { 0.0 });
        // Rounded to nearest (ties to even) by the conversion.
        let mut ints = [_mm256_setzero_si256(); 4];
        for (i, v) in ints.iter_mut().zip(v) {
            *i = _mm256_cvtps_epi32(_mm256_mul_ps(v, inv));
        }
        let low = hsum_i32(_mm256_add_epi32(ints[0], ints[1]));
        let sum = low + hsum_i32(_mm256_add_epi32(ints[2], ints[3]));
        // Packing works per 128-bit half; the permutation puts the values back in order.
        let words = _mm256_packs_epi16(_mm256_packs_epi32(ints[0], ints[1]), _mm256_packs_epi32(ints[2], ints[3]));
        let bytes = _mm256_permutevar8x32_epi32(words, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256(q.as_mut_ptr().cast(), bytes);
        (d, sum, low)
    }
}

/// Running f32 sums per vector: chunk `c` goes to lane `c mod LANES`.
pub(crate) const LANES: usize = 16;
/// Vectors per pass of [`rows_lanes`].
pub(crate) const LANE_GROUP: usize = 8;

/// Activation rows quantized for [`super::Activations::Int8`].
#[derive(Debug)]
pub(crate) struct Int8Rows {
    n: usize,
    cols: usize,
    /// Chunks per vector in the per-vector arrays: `cols / 32` rounded up to [`LANES`], the
    /// rest zero.
    stride: usize,
    /// The rounded values, (n, cols).
    q: Vec<i8>,
    /// Per (vector, chunk).
    sums: ChunkSums,
    /// The layout [`rows_lanes`] reads, when asked for.
    lanes: Option<Lanes>,
}

/// Per quantized chunk: its scale `d`, Σx (as integers), Σx of values 0–15, and d · Σx, each in
/// its own array (the kernels load them sixteen chunks at a time).
#[derive(Debug)]
struct ChunkSums {
    d: Vec<f32>,
    sum: Vec<i32>,
    sum_low: Vec<i32>,
    dsum: Vec<f32>,
}

impl ChunkSums {
    fn zeros(len: usize) -> ChunkSums {
        ChunkSums { d: vec![0.0; len], sum: vec![0; len], sum_low: vec![0; len], dsum: vec![0.0; len] }
    }

    fn set(&mut self, at: usize, d: f32, sum: i32, sum_low: i32) {
        (self.d[at], self.sum[at], self.sum_low[at], self.dsum[at]) = (d, sum, sum_low, d * sum as f32);
    }

    fn copy(&mut self, to: usize, from: &ChunkSums, at: usize) {
        self.set(to, from.d[at], from.sum[at], from.sum_low[at]);
    }
}

/// The activations of groups of eight vectors, per chunk pair: eight runs of 64 bytes (four
/// columns of chunk `2p` for vectors 0–7, then of chunk `2p + 1`), and their [`ChunkSums`] in
/// runs of 16 (lane `8·parity + vector`).
#[derive(Debug)]
struct Lanes {
    pairs: usize,
    x: Vec<i8>,
    sums: ChunkSums,
}

impl Int8Rows {
    /// Quantizes the rows of `xs` (`cols` wide, a multiple of 32); with `lanes`, also lays them
    /// out for [`rows_lanes`]. Values are rounded to nearest, ties to even (as llama.cpp's SIMD
    /// quantizers round).
    ///
    /// # Safety
    /// The CPU must have AVX2 (every 8-bit kernel needs it).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    pub(crate) unsafe fn new(xs: &[f32], cols: usize, lanes: bool) -> Int8Rows {
        let n = xs.len() / cols;
        let chunks = cols / 32;
        let stride = chunks.div_ceil(LANES) * LANES;
        let mut rows =
            Int8Rows { n, cols, stride, q: vec![0; xs.len()], sums: ChunkSums::zeros(n * stride), lanes: None };
        for (i, (x, q)) in xs.chunks_exact(32).zip(rows.q.chunks_exact_mut(32)).enumerate() {
            let at = i / chunks * stride + i % chunks;
            // SAFETY: AVX2 (this function's features); `x` and `q` are 32 long.
            let (d, sum, low) = unsafe { quantize_chunk(x, q) };
            rows.sums.set(at, d, sum, low);
        }
        if lanes {
            rows.lanes = Some(rows.lay_out());
        }
        rows
    }

    fn lay_out(&self) -> Lanes {
        let chunks = self.cols / 32;
        let pairs = chunks.div_ceil(2);
        let groups = self.n.div_ceil(LANE_GROUP);
        let mut lanes = Lanes { pairs, x: vec![0; groups * pairs * 512], sums: ChunkSums::zeros(groups * pairs * 16) };
        for v in 0..self.n {
            let (group, lane) = (v / LANE_GROUP, v % LANE_GROUP);
            for c in 0..chunks {
                let pair = group * pairs + c / 2;
                let slot = 16 * pair + 8 * (c % 2) + lane;
                lanes.sums.copy(slot, &self.sums, v * self.stride + c);
                let x = &self.q[v * self.cols + 32 * c..][..32];
                for (g, four) in x.chunks_exact(4).enumerate() {
                    let to = 512 * pair + 64 * g + 32 * (c % 2) + 4 * lane;
                    lanes.x[to..to + 4].copy_from_slice(four);
                }
            }
        }
        lanes
    }
}

/// Adds chunks `8·octet ..` (up to eight) of `row` to the eight lanes `acc` of each vector of
/// [`row_direct`]: each chunk's |q| times x with q's sign (`dpbusd` with `VNNI`, else `maddubs`),
/// the eight chunks' products summed to totals by horizontal adds, then one float update.
///
/// # Safety
/// As [`row_direct`]; `octet` starts inside the row.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn octet<B: Block, const N: usize, const VNNI: bool>(
    row: &[u8],
    xs: &Int8Rows,
    vecs: [usize; N],
    octet: usize,
    header: &mut (usize, B::Header),
    acc: &mut [__m256; N],
) {
    let chunks = xs.cols / 32;
    // SAFETY: the caller's contract: the features, and every load inside `row` and `xs`.
    unsafe {
        let ones = _mm256_set1_epi16(1);
        let zero = _mm256_setzero_si256();
        let mut scale = [[0f32; 8]; 2];
        let mut offset = [0f32; 8];
        // Per vector: the pending chunk's products, a pair's, and two quads' (lanes 0–3 of a
        // chunk's products hold values 0–15, 4–7 values 16–31; after two horizontal adds a
        // quad is four chunks' low halves, then their high halves).
        let mut pending = [zero; N];
        let mut pair = [zero; N];
        let mut quads = [[zero; 2]; N];
        for k in 0..8 {
            let c = 8 * octet + k;
            let live = c < chunks;
            let mut ch = None;
            if live {
                let chunk = chunk_at::<B, VNNI>(row, c, header);
                (scale[0][k], scale[1][k], offset[k]) = (chunk.scale[0], chunk.scale[1], chunk.offset.unwrap_or(0.0));
                ch = Some(chunk);
            }
            for (i, &v) in vecs.iter().enumerate() {
                let t = match ch {
                    None => zero,
                    Some(ch) => {
                        let x = _mm256_loadu_si256(xs.q.as_ptr().add(v * xs.cols + 32 * c).cast());
                        // Unsigned bytes times signed: signed weights lend their sign to x.
                        let magnitudes = if ch.signed { _mm256_abs_epi8(ch.q) } else { ch.q };
                        let x = if ch.signed { _mm256_sign_epi8(x, ch.q) } else { x };
                        if VNNI {
                            _mm256_dpbusd_epi32(zero, magnitudes, x)
                        } else {
                            _mm256_madd_epi16(_mm256_maddubs_epi16(magnitudes, x), ones)
                        }
                    }
                };
                match k % 4 {
                    0 | 2 => pending[i] = t,
                    1 => pair[i] = _mm256_hadd_epi32(pending[i], t),
                    _ => quads[i][k / 4] = _mm256_hadd_epi32(pair[i], _mm256_hadd_epi32(pending[i], t)),
                }
            }
        }
        let at = 8 * octet;
        for (i, &v) in vecs.iter().enumerate() {
            let [q0, q1] = quads[i];
            let mut low = _mm256_permute2x128_si256::<0x20>(q0, q1);
            let high = _mm256_permute2x128_si256::<0x31>(q0, q1);
            if !B::HALVES {
                low = _mm256_add_epi32(low, high);
            }
            let at = v * xs.stride + at;
            let d = load_f32(&xs.sums.d, at);
            let a = &mut acc[i];
            *a = _mm256_fmadd_ps(_mm256_cvtepi32_ps(low), _mm256_mul_ps(load_f32(&scale[0], 0), d), *a);
            if B::HALVES {
                *a = _mm256_fmadd_ps(_mm256_cvtepi32_ps(high), _mm256_mul_ps(load_f32(&scale[1], 0), d), *a);
            }
            *a = _mm256_fmadd_ps(load_f32(&offset, 0), load_f32(&xs.sums.dsum, at), *a);
        }
    }
}

/// `row · xs[k]` (8-bit activations) for `N` vectors `vecs`, [`octet`] by octet: octets
/// alternate between two registers of eight lanes (lanes 0–7 and 8–15 of the sixteen).
///
/// # Safety
/// The CPU must have AVX2, FMA and F16C, and AVX-512 (F, BW, VL) with VNNI when `VNNI`; `row`
/// holds whole blocks of `xs.cols` values and every index in `vecs` is below `xs.n`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn row_direct<B: Block, const N: usize, const VNNI: bool>(
    row: &[u8],
    xs: &Int8Rows,
    vecs: [usize; N],
) -> [f32; N] {
    let octets = (xs.cols / 32).div_ceil(8);
    debug_assert!(row.len() / B::BYTES * B::LEN == xs.cols && vecs.iter().all(|&v| v < xs.n));
    // SAFETY: the caller's contract.
    unsafe {
        let mut low = [_mm256_setzero_ps(); N];
        let mut high = [_mm256_setzero_ps(); N];
        let mut header = (0, B::header::<true>(&row[..B::BYTES]));
        for first in (0..octets).step_by(2) {
            octet::<B, N, VNNI>(row, xs, vecs, first, &mut header, &mut low);
            if first + 1 < octets {
                octet::<B, N, VNNI>(row, xs, vecs, first + 1, &mut header, &mut high);
            }
        }
        let mut out = [0f32; N];
        for ((o, l), h) in out.iter_mut().zip(&low).zip(&high) {
            *o = tree8(_mm256_add_ps(*l, *h));
        }
        out
    }
}

/// Eight values of `a` from `at`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn load_f32(a: &[f32], at: usize) -> __m256 {
    // SAFETY: AVX (the caller's contract); eight values from `at` lie inside `a`.
    unsafe { _mm256_loadu_ps(a[at..at + 8].as_ptr()) }
}

/// [`row_direct`] of each row of `data` with every vector of `xs`, four per pass; `out` is
/// (rows, n).
///
/// # Safety
/// As [`row_direct`].
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn rows_direct<B: Block, const VNNI: bool>(
    data: &[u8],
    row_bytes: usize,
    xs: &Int8Rows,
    out: &mut [f32],
) {
    let n = xs.n;
    for (row, dst) in data.chunks_exact(row_bytes).zip(out.chunks_exact_mut(n)) {
        let mut k = 0;
        while k < n {
            // SAFETY: the caller's contract; every index is below n.
            unsafe {
                match n - k {
                    1 => dst[k] = row_direct::<B, 1, VNNI>(row, xs, [k])[0],
                    2 => dst[k..k + 2].copy_from_slice(&row_direct::<B, 2, VNNI>(row, xs, [k, k + 1])),
                    3 => dst[k..k + 3].copy_from_slice(&row_direct::<B, 3, VNNI>(row, xs, [k, k + 1, k + 2])),
                    _ => dst[k..k + 4].copy_from_slice(&row_direct::<B, 4, VNNI>(row, xs, [k, k + 1, k + 2, k + 3])),
                }
            }
            k += (n - k).min(4);
        }
    }
}

/// Chunk `c` of `row`, decoding its block's header only when `c` enters a new block.
///
/// # Safety
/// The CPU must have AVX2, and AVX-512BW and VL when `WIDE` (then it decodes with them); `c`
/// is a chunk of `row` (whole blocks).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn chunk_at<B: Block, const WIDE: bool>(row: &[u8], c: usize, header: &mut (usize, B::Header)) -> Chunk {
    let per_block = B::LEN / 32;
    let b = c / per_block;
    debug_assert!((b + 1) * B::BYTES <= row.len());
    // SAFETY: the caller's contract: block `b` lies inside `row`, and the features.
    unsafe {
        let block = std::slice::from_raw_parts(row.as_ptr().add(b * B::BYTES), B::BYTES);
        // A 32-value block's header is one or two halves: cheaper to read than to compare.
        if per_block == 1 || header.0 != b {
            *header = (b, B::header::<true>(block));
        }
        if WIDE {
            B::chunk_simd512(block, &header.1, c % per_block)
        } else {
            B::chunk_simd(block, &header.1, c % per_block)
        }
    }
}

/// Sixteen f32: `a` in the low eight lanes, `b` in the high eight.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn halves(a: f32, b: f32) -> __m512 {
    // SAFETY: AVX-512F (the caller's contract).
    unsafe { _mm512_mask_blend_ps(0xff00, _mm512_set1_ps(a), _mm512_set1_ps(b)) }
}

/// `t` plus, per lane, the four byte products of column group `g` of a chunk pair's weights
/// with the activations at `x`. `w` holds the pair's groups `4·(g / 4)..` in each 128-bit lane
/// (the first chunk's in lanes 0–7, the second's in 8–15), so one in-lane shuffle broadcasts
/// group `g`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn dot_group<const G: i32>(t: __m512i, w: __m512i, x: *const i8) -> __m512i {
    // SAFETY: AVX-512F and VNNI (the caller's contract); 64 bytes at `x + 64·G` are readable.
    unsafe {
        let x = _mm512_loadu_si512(x.add(64 * G as usize).cast());
        let w = match G % 4 {
            0 => _mm512_shuffle_epi32::<0x00>(w),
            1 => _mm512_shuffle_epi32::<0x55>(w),
            2 => _mm512_shuffle_epi32::<0xaa>(w),
            _ => _mm512_shuffle_epi32::<0xff>(w),
        };
        _mm512_dpbusd_epi32(t, w, x)
    }
}

/// [`dot_group`] of groups `G`, then `H`, onto `t`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn dot_two<const G: i32, const H: i32>(t: __m512i, w: __m512i, x: *const i8) -> __m512i {
    // SAFETY: the caller's contract (as dot_group's).
    unsafe { dot_group::<H>(dot_group::<G>(t, w, x), w, x) }
}

/// What every chunk pair of one row and group of [`row_lanes`] reads.
#[cfg(target_arch = "x86_64")]
struct PairInputs<'a> {
    row: &'a [u8],
    lanes: &'a Lanes,
    chunks: usize,
    group: usize,
}

/// Adds chunk pair `p` of one row to the sixteen lanes `acc` of [`row_lanes`].
///
/// # Safety
/// As [`row_lanes`]; `p` is a pair of the row.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn pair_step<B: Block>(inputs: &PairInputs<'_>, p: usize, header: &mut (usize, B::Header), acc: &mut __m512) {
    // SAFETY: the caller's contract: the features, and every load inside the row and lanes.
    unsafe {
        let lanes = inputs.lanes;
        let a = chunk_at::<B, true>(inputs.row, 2 * p, header);
        // Past an odd row's end: zero scales and offsets (the activations there are zeros).
        let b = if 2 * p + 1 < inputs.chunks {
            chunk_at::<B, true>(inputs.row, 2 * p + 1, header)
        } else {
            Chunk { scale: [0.0; 2], offset: a.offset.map(|_| 0.0), ..a }
        };
        let bias = _mm256_set1_epi8(B::ZERO as i8);
        let minus_zero = _mm512_set1_epi32(-i32::from(B::ZERO));
        let pair =
            _mm512_inserti64x4::<1>(_mm512_castsi256_si512(_mm256_add_epi8(a.q, bias)), _mm256_add_epi8(b.q, bias));
        // 128-bit lanes (a0, a0, b0, b0) and (a1, a1, b1, b1): groups 0–3 and 4–7 of each chunk.
        let w_low = _mm512_shuffle_i64x2::<0b10_10_00_00>(pair, pair);
        let w_high = _mm512_shuffle_i64x2::<0b11_11_01_01>(pair, pair);
        let at = inputs.group * lanes.pairs + p;
        debug_assert!(16 * at + 16 <= lanes.sums.d.len() && 512 * at + 512 <= lanes.x.len());
        let x = lanes.x.as_ptr().add(512 * at);
        let d = _mm512_loadu_ps(lanes.sums.d.as_ptr().add(16 * at));
        let sum = _mm512_loadu_si512(lanes.sums.sum.as_ptr().add(16 * at).cast());
        if B::HALVES {
            let low = _mm512_loadu_si512(lanes.sums.sum_low.as_ptr().add(16 * at).cast());
            // Two chains per half: a chain of dependent dpbusd waits out their latency.
            let zero = _mm512_setzero_si512();
            let t_low = _mm512_add_epi32(
                dot_two::<0, 1>(_mm512_mullo_epi32(low, minus_zero), w_low, x),
                dot_two::<2, 3>(zero, w_low, x),
            );
            let high = _mm512_mullo_epi32(_mm512_sub_epi32(sum, low), minus_zero);
            let t_high = _mm512_add_epi32(dot_two::<4, 5>(high, w_high, x), dot_two::<6, 7>(zero, w_high, x));
            let s = halves(a.scale[0], b.scale[0]);
            *acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t_low), _mm512_mul_ps(s, d), *acc);
            let s = halves(a.scale[1], b.scale[1]);
            *acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t_high), _mm512_mul_ps(s, d), *acc);
        } else {
            let t = if B::ZERO == 0 { _mm512_setzero_si512() } else { _mm512_mullo_epi32(sum, minus_zero) };
            // Four chains: one chain of eight dependent dpbusd would wait out their latency.
            let zero = _mm512_setzero_si512();
            let t = _mm512_add_epi32(
                _mm512_add_epi32(dot_two::<0, 1>(t, w_low, x), dot_two::<2, 3>(zero, w_low, x)),
                _mm512_add_epi32(dot_two::<4, 5>(zero, w_high, x), dot_two::<6, 7>(zero, w_high, x)),
            );
            let s = halves(a.scale[0], b.scale[0]);
            *acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t), _mm512_mul_ps(s, d), *acc);
        }
        if let (Some(oa), Some(ob)) = (a.offset, b.offset) {
            let dsum = _mm512_loadu_ps(lanes.sums.dsum.as_ptr().add(16 * at));
            *acc = _mm512_fmadd_ps(halves(oa, ob), dsum, *acc);
        }
    }
}

/// `row · xs[v]` for the eight vectors of group `group` (fewer in the last group: the missing
/// lanes are zeros), with the activations' lane layout: per chunk pair, eight `dpbusd` of the
/// weights' four columns broadcast to each half (chunk) against the eight vectors' four columns.
/// Pair `p` goes to register `p mod 8`, lanes `(parity, vector)`: lane `c mod 16` of chunk `c`.
///
/// # Safety
/// The CPU must have AVX-512F, BW, VL and VNNI, AVX2, FMA and F16C; `row` holds whole blocks of
/// `chunks` chunks, the lanes were laid out for as many and `group` is one of their groups.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn row_lanes<B: Block>(row: &[u8], lanes: &Lanes, chunks: usize, group: usize) -> [f32; LANE_GROUP] {
    // SAFETY: the caller's contract: the features, and every load inside `row` and `lanes`.
    unsafe {
        let inputs = PairInputs { row, lanes, chunks, group };
        let mut header = (0, B::header::<true>(&row[..B::BYTES]));
        // Eight registers, each a named place (an index computed at run time would keep them
        // in memory).
        let [mut a0, mut a1, mut a2, mut a3, mut a4, mut a5, mut a6, mut a7] = [_mm512_setzero_ps(); 8];
        for first in (0..lanes.pairs).step_by(8) {
            let steps = lanes.pairs - first;
            macro_rules! step {
                ($k:literal, $acc:ident) => {
                    if steps > $k {
                        pair_step::<B>(&inputs, first + $k, &mut header, &mut $acc);
                    }
                };
            }
            step!(0, a0);
            step!(1, a1);
            step!(2, a2);
            step!(3, a3);
            step!(4, a4);
            step!(5, a5);
            step!(6, a6);
            step!(7, a7);
        }
        // The tree: lanes j and j + 8 are registers k and k + 4, then k + 2, then k + 1; last
        // the two chunk parities (the register's halves).
        let s8 = [_mm512_add_ps(a0, a4), _mm512_add_ps(a1, a5), _mm512_add_ps(a2, a6), _mm512_add_ps(a3, a7)];
        let s2 = _mm512_add_ps(_mm512_add_ps(s8[0], s8[2]), _mm512_add_ps(s8[1], s8[3]));
        let high = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(s2)));
        let mut out = [0f32; LANE_GROUP];
        _mm256_storeu_ps(out.as_mut_ptr(), _mm256_add_ps(_mm512_castps512_ps256(s2), high));
        out
    }
}

/// [`row_lanes`] of each row of `data` with every vector of `xs`, eight per pass; `out` is
/// (rows, n).
///
/// # Safety
/// As [`row_lanes`]; `xs` must have been made with lanes.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn rows_lanes<B: Block>(data: &[u8], row_bytes: usize, xs: &Int8Rows, out: &mut [f32]) {
    let Some(lanes) = &xs.lanes else { unreachable!("rows_lanes without lanes") };
    let n = xs.n;
    for (row, dst) in data.chunks_exact(row_bytes).zip(out.chunks_exact_mut(n)) {
        for (group, dst) in dst.chunks_mut(LANE_GROUP).enumerate() {
            // SAFETY: the caller's contract.
            let sums = unsafe { row_lanes::<B>(row, lanes, xs.cols / 32, group) };
            dst.copy_from_slice(&sums[..dst.len()]);
        }
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    #[test]
    fn quantized_chunks_are_the_scalar_rounding() {
        if !super::super::Isa::Avx2.available() {
            return;
        }
        let mut rng = StdRng::seed_from_u64(9);
        let cols = 96;
        let mut xs: Vec<f32> = (0..3 * cols).map(|_| rng.random_range(-3.0f32..3.0)).collect();
        xs[32..64].fill(0.0);
        // Exact ties (127 · k / 254 steps) round to even.
        for (l, x) in xs[64..96].iter_mut().enumerate() {
            *x = if l == 0 { 127.0 } else { (l as f32) + 0.5 };
        }
        // SAFETY: AVX2 was detected.
        let rows = unsafe { Int8Rows::new(&xs, cols, true) };
        for (i, x) in xs.chunks(32).enumerate() {
            let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
            let inv = if amax > 0.0 { 127.0 / amax } else { 0.0 };
            let want: Vec<i8> = x.iter().map(|v| (v * inv).round_ties_even() as i8).collect();
            assert_eq!(rows.q[32 * i..32 * i + 32], want[..], "chunk {i}");
            let at = i / 3 * rows.stride + i % 3;
            let sum: i32 = want.iter().map(|&q| i32::from(q)).sum();
            let low: i32 = want[..16].iter().map(|&q| i32::from(q)).sum();
            assert_eq!(
                (rows.sums.d[at], rows.sums.sum[at], rows.sums.sum_low[at]),
                (amax / 127.0, sum, low),
                "chunk {i}"
            );
        }
        // 2.5 → 2 and 3.5 → 4 (ties to even) in the third chunk, where 127 is the largest.
        assert_eq!((rows.q[64 + 2], rows.q[64 + 3]), (2, 4));
    }
}
