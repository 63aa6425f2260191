//! The GGUF block formats, read 32 values at a time.
//!
//! Every format is a run of fixed-size blocks of `LEN` values (32, or 256 for the K-quants); a
//! block starts with what its values share (scales, minimums) and a chunk of 32 values is decoded
//! from it on demand. Kernels decode a chunk and use it at once, so the values stay in registers:
//! the weights are read from memory in their packed form.
//!
//! Layouts follow ggml's (all little-endian): for the 32-value formats, byte `j` of the packed
//! nibbles holds value `j` in its low half and value `j + 16` in its high half.

/// One block format: `BYTES` bytes hold `LEN` values, decoded 32 at a time.
pub(crate) trait Block {
    /// Bytes of one block.
    const BYTES: usize;
    /// Values of one block (a multiple of 32).
    const LEN: usize;
    /// What the chunks of one block share, decoded once per block.
    type Header: Copy;
    /// For formats whose [`Chunk`] bytes are signed: the amount their stored unsigned integers
    /// were lowered by (`q − ZERO`; Q8_0 as `q + 128` wrapped), 0 for unsigned formats. The
    /// batched 8-bit kernel (`int8::rows_lanes`) multiplies the unsigned bytes and takes
    /// `ZERO · Σx` back off.
    const ZERO: u8 = 0;
    /// Whether a chunk's two halves have their own scales (Q6_K's groups of 16).
    const HALVES: bool = false;
    /// The block's shared scales.
    fn header<const F16C: bool>(block: &[u8]) -> Self::Header;
    /// Values `32·c .. 32·c + 32` of the block (`c < LEN / 32`).
    fn chunk<const FMA: bool>(block: &[u8], header: &Self::Header, c: usize) -> [f32; 32];
    /// The same chunk's integers as 32 bytes decoded with AVX2 instructions, and the scale and
    /// offset that make them [`Block::chunk`]'s values.
    ///
    /// # Safety
    /// The CPU must have AVX2; `block` must be `BYTES` long.
    #[cfg(target_arch = "x86_64")]
    unsafe fn chunk_simd(block: &[u8], header: &Self::Header, c: usize) -> Chunk;
    /// [`Block::chunk_simd`] where the CPU also has AVX-512BW and VL (the same result; a format
    /// overrides it where those instructions decode faster).
    ///
    /// # Safety
    /// As [`Block::chunk_simd`], and the CPU must have AVX-512BW and AVX-512VL.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn chunk_simd512(block: &[u8], header: &Self::Header, c: usize) -> Chunk {
        // SAFETY: the caller's contract covers chunk_simd's.
        unsafe { Self::chunk_simd(block, header, c) }
    }
}

#[cfg(target_arch = "x86_64")]
use {super::simd, super::simd::Chunk, std::arch::x86_64 as x86};

/// `a · b + c`, fused where the CPU has FMA (the same instruction on every path that has it, so
/// results do not depend on which of those paths ran).
#[inline(always)]
pub(crate) fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// An IEEE half (its bits) as f32: the F16C instruction where asked (callers run inside a
/// function compiled for it), else by bit manipulation.
#[inline(always)]
pub(crate) fn f16<const F16C: bool>(bits: u16) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if F16C {
        use std::arch::x86_64::{_mm_cvtph_ps, _mm_cvtsi32_si128, _mm_cvtss_f32};
        // SAFETY: F16C is true only inside functions compiled with the `f16c` feature, reached
        // after run-time detection said the CPU has it.
        return unsafe { _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(i32::from(bits)))) };
    }
    f16_soft(bits)
}

/// Half to single precision without F16C.
pub(crate) fn f16_soft(bits: u16) -> f32 {
    let sign = u32::from(bits & 0x8000) << 16;
    let exponent = u32::from((bits >> 10) & 0x1f);
    let mantissa = u32::from(bits & 0x3ff);
    match exponent {
        // Zero and subnormals: mantissa · 2⁻²⁴.
        0 => {
            let magnitude = mantissa as f32 * (1.0 / 16_777_216.0);
            f32::from_bits(sign | magnitude.to_bits())
        }
        // Infinities and NaNs keep their payload.
        31 => f32::from_bits(sign | 0x7f80_0000 | (mantissa << 13)),
        _ => f32::from_bits(sign | ((exponent + 112) << 23) | (mantissa << 13)),
    }
}

#[inline(always)]
fn half_at<const F16C: bool>(block: &[u8], at: usize) -> f32 {
    f16::<F16C>(u16::from_le_bytes([block[at], block[at + 1]]))
}

#[inline(always)]
fn bytes<const N: usize>(block: &[u8], at: usize) -> &[u8; N] {
    // The formats' offsets are constants inside `BYTES`; the slice length was checked by the caller.
    match block[at..at + N].try_into() {
        Ok(b) => b,
        Err(_) => unreachable!("a {N}-byte slice"),
    }
}

/// Nibbles of 16 packed bytes: values 0..16 from the low halves, 16..32 from the high halves.
#[inline(always)]
fn nibbles(qs: &[u8; 16]) -> [u8; 32] {
    std::array::from_fn(|l| if l < 16 { qs[l] & 0x0f } else { qs[l - 16] >> 4 })
}

/// Q4_0: scale d, values (q − 8)·d.
#[derive(Debug)]
pub(crate) struct Q4_0;

impl Block for Q4_0 {
    const BYTES: usize = 18;
    const LEN: usize = 32;
    const ZERO: u8 = 8;
    type Header = f32;
    #[inline(always)]
    fn header<const F16C: bool>(block: &[u8]) -> f32 {
        half_at::<F16C>(block, 0)
    }
    #[inline(always)]
    fn chunk<const FMA: bool>(block: &[u8], &d: &f32, _: usize) -> [f32; 32] {
        let q = nibbles(bytes::<16>(block, 2));
        std::array::from_fn(|l| (i32::from(q[l]) - 8) as f32 * d)
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn chunk_simd(block: &[u8], &d: &f32, _: usize) -> Chunk {
        // SAFETY: the caller's contract; bytes 2..18 are the nibbles.
        let q = unsafe { x86::_mm256_sub_epi8(simd::nibbles(block.as_ptr().add(2)), x86::_mm256_set1_epi8(8)) };
        Chunk { q, signed: true, scale: [d, d], offset: None }
    }
}

/// Q4_1: scale d and minimum m, values q·d + m.
#[derive(Debug)]
pub(crate) struct Q4_1;

impl Block for Q4_1 {
    const BYTES: usize = 20;
    const LEN: usize = 32;
    type Header = (f32, f32);
    #[inline(always)]
    fn header<const F16C: bool>(block: &[u8]) -> (f32, f32) {
        (half_at::<F16C>(block, 0), half_at::<F16C>(block, 2))
    }
    #[inline(always)]
    fn chunk<const FMA: bool>(block: &[u8], &(d, m): &(f32, f32), _: usize) -> [f32; 32] {
        let q = nibbles(bytes::<16>(block, 4));
        std::array::from_fn(|l| madd::<FMA>(f32::from(q[l]), d, m))
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn chunk_simd(block: &[u8], &(d, m): &(f32, f32), _: usize) -> Chunk {
        // SAFETY: the caller's contract; bytes 4..20 are the nibbles.
        let q = unsafe { simd::nibbles(block.as_ptr().add(4)) };
        Chunk { q, signed: false, scale: [d, d], offset: Some(m) }
    }
}

/// Five-bit values: nibbles plus bit `l` of `high` as their fifth bit.
#[inline(always)]
fn fives(qs: &[u8; 16], high: u32) -> [u8; 32] {
    let q = nibbles(qs);
    std::array::from_fn(|l| q[l] | ((((high >> l) & 1) as u8) << 4))
}

/// Q5_0: scale d, values (q − 16)·d with a fifth bit per value.
#[derive(Debug)]
pub(crate) struct Q5_0;

impl Block for Q5_0 {
    const BYTES: usize = 22;
    const LEN: usize = 32;
    const ZERO: u8 = 16;
    type Header = f32;
    #[inline(always)]
    fn header<const F16C: bool>(block: &[u8]) -> f32 {
        half_at::<F16C>(block, 0)
    }
    #[inline(always)]
    fn chunk<const FMA: bool>(block: &[u8], &d: &f32, _: usize) -> [f32; 32] {
        let q = fives(bytes::<16>(block, 6), u32::from_le_bytes(*bytes::<4>(block, 2)));
        std::array::from_fn(|l| (i32::from(q[l]) - 16) as f32 * d)
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn chunk_simd(block: &[u8], &d: &f32, _: usize) -> Chunk {
        // SAFETY: the caller's contract.
        unsafe { Q5_0::chunk_with::<false>(block, d) }
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn chunk_simd512(block: &[u8], &d: &f32, _: usize) -> Chunk {
        // SAFETY: the caller's contract.
        unsafe { Q5_0::chunk_with::<true>(block, d) }
    }
}

#[cfg(target_arch = "x86_64")]
impl Q5_0 {
    /// The chunk, with AVX-512BW's masked move for the fifth bits when `BW`.
    #[inline(always)]
    unsafe fn chunk_with<const BW: bool>(block: &[u8], d: f32) -> Chunk {
        // SAFETY: the caller's contract; bytes 2..6 are the fifth bits, 6..22 the nibbles.
        let q = unsafe {
            let high = u32::from_le_bytes([block[2], block[3], block[4], block[5]]);
            let q = x86::_mm256_or_si256(simd::nibbles(block.as_ptr().add(6)), simd::fifth_bits::<BW>(high));
            x86::_mm256_sub_epi8(q, x86::_mm256_set1_epi8(16))
        };
        Chunk { q, signed: true, scale: [d, d], offset: None }
    }
}

/// Q5_1: scale d and minimum m, values q·d + m with a fifth bit per value.
#[derive(Debug)]
pub(crate) struct Q5_1;

impl Block for Q5_1 {
    const BYTES: usize = 24;
    const LEN: usize = 32;
    type Header = (f32, f32);
    #[inline(always)]
    fn header<const F16C: bool>(block: &[u8]) -> (f32, f32) {
        (half_at::<F16C>(block, 0), half_at::<F16C>(block, 2))
    }
    #[inline(always)]
    fn chunk<const FMA: bool>(block: &[u8], &(d, m): &(f32, f32), _: usize) -> [f32; 32] {
        let q = fives(bytes::<16>(block, 8), u32::from_le_bytes(*bytes::<4>(block, 4)));
        std::array::from_fn(|l| madd::<FMA>(f32::from(q[l]), d, m))
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn chunk_simd(block: &[u8], &(d, m): &(f32, f32), _: usize) -> Chunk {
        // SAFETY: the caller's contract.
        unsafe { Q5_1::chunk_with::<false>(block, d, m) }
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn chunk_simd512(block: &[u8], &(d, m): &(f32, f32), _: usize) -> Chunk {
        // SAFETY: the caller's contract.
        unsafe { Q5_1::chunk_with::<true>(block, d, m) }
    }
}

#[cfg(target_arch = "x86_64")]
impl Q5_1 {
    /// The chunk, with AVX-512BW's masked move for the fifth bits when `BW`.
    #[inline(always)]
    unsafe fn chunk_with<const BW: bool>(block: &[u8], d: f32, m: f32) -> Chunk {
        // SAFETY: the caller's contract; bytes 4..8 are the fifth bits, 8..24 the nibbles.
        let q = unsafe {
            let high = u32::from_le_bytes([block[4], block[5], block[6], block[7]]);
            x86::_mm256_or_si256(simd::nibbles(block.as_ptr().add(8)), simd::fifth_bits::<BW>(high))
        };
        Chunk { q, signed: false, scale: [d, d], offset: Some(m) }
    }
}

/// Q8_0: scale d, values q·d for signed bytes q.
#[derive(Debug)]
pub(crate) struct Q8_0;

impl Block for Q8_0 {
    const BYTES: usize = 34;
    const LEN: usize = 32;
    const ZERO: u8 = 128;
    type Header = f32;
    #[inline(always)]
    fn header<const F16C: bool>(block: &[u8]) -> f32 {
        half_at::<F16C>(block, 0)
    }
    #[inline(always)]
    fn chunk<const FMA: bool>(block: &[u8], &d: &f32, _: usize) -> [f32; 32] {
        let q = bytes::<32>(block, 2);
        std::array::from_fn(|l| f32::from(q[l] as i8) * d)
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn chunk_simd(block: &[u8], &d: &f32, _: usize) -> Chunk {
        // SAFETY: the caller's contract; bytes 2..34 are the values.
        let q = unsafe { x86::_mm256_loadu_si256(block.as_ptr().add(2).cast()) };
        Chunk { q, signed: true, scale: [d, d], offset: None }
    }
}

/// The eight 6-bit (scale, minimum) pairs of a Q4_K or Q5_K block, packed in 12 bytes.
#[inline(always)]
fn scales_mins(s: &[u8; 12]) -> ([u8; 8], [u8; 8]) {
    let mut scales = [0u8; 8];
    let mut mins = [0u8; 8];
    for j in 0..4 {
        scales[j] = s[j] & 63;
        mins[j] = s[j + 4] & 63;
        scales[j + 4] = (s[j + 8] & 0x0f) | ((s[j] >> 6) << 4);
        mins[j + 4] = (s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4);
    }
    (scales, mins)
}

/// A K-quant block's eight (scale, minimum) pairs as floats: d·scale and dmin·min.
pub(crate) type KScales = ([f32; 8], [f32; 8]);

#[inline(always)]
fn k_scales<const F16C: bool>(block: &[u8]) -> KScales {
    let (d, dmin) = (half_at::<F16C>(block, 0), half_at::<F16C>(block, 2));
    let (scales, mins) = scales_mins(bytes::<12>(block, 4));
    // Loops, not `from_fn` closures: headers are decoded inside the SIMD kernels too, and a
    // closure is compiled (and called) without their target features.
    let mut out = ([0f32; 8], [0f32; 8]);
    for j in 0..8 {
        out.0[j] = d * f32::from(scales[j]);
        out.1[j] = dmin * f32::from(mins[j]);
    }
    out
}

/// The 32 low or high nibbles (chunk parity) of the 32 bytes a K-quant chunk pair shares.
#[inline(always)]
fn k_nibbles(qs: &[u8; 32], high: bool) -> [u8; 32] {
    std::array::from_fn(|l| if high { qs[l] >> 4 } else { qs[l] & 0x0f })
}

/// Q4_K: 256 values in eight chunks of 32, each with a 6-bit scale and minimum under the block's
/// d and dmin: values d·scale·q − dmin·min.
#[derive(Debug)]
pub(crate) struct Q4K;

impl Block for Q4K {
    const BYTES: usize = 144;
    const LEN: usize = 256;
    type Header = KScales;
    #[inline(always)]
    fn header<const F16C: bool>(block: &[u8]) -> KScales {
        k_scales::<F16C>(block)
    }
    #[inline(always)]
    fn chunk<const FMA: bool>(block: &[u8], (scale, min): &KScales, c: usize) -> [f32; 32] {
        // Chunks 2j and 2j + 1 share 32 bytes: low nibbles, then high.
        let q = k_nibbles(bytes::<32>(block, 16 + 32 * (c / 2)), c % 2 == 1);
        let (s, m) = (scale[c], -min[c]);
        std::array::from_fn(|l| madd::<FMA>(f32::from(q[l]), s, m))
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn chunk_simd(block: &[u8], (scale, min): &KScales, c: usize) -> Chunk {
        // SAFETY: the caller's contract; chunks 2j and 2j + 1 share bytes 16 + 32j .. 48 + 32j.
        let q = unsafe { simd::k_nibbles(block.as_ptr().add(16 + 32 * (c / 2)), c % 2 == 1) };
        Chunk { q, signed: false, scale: [scale[c]; 2], offset: Some(-min[c]) }
    }
}

/// Q5_K: Q4_K with a fifth bit per value (bit c of byte l of the 32 high-bit bytes).
#[derive(Debug)]
pub(crate) struct Q5K;

impl Block for Q5K {
    const BYTES: usize = 176;
    const LEN: usize = 256;
    type Header = KScales;
    #[inline(always)]
    fn header<const F16C: bool>(block: &[u8]) -> KScales {
        k_scales::<F16C>(block)
    }
    #[inline(always)]
    fn chunk<const FMA: bool>(block: &[u8], (scale, min): &KScales, c: usize) -> [f32; 32] {
        let low = k_nibbles(bytes::<32>(block, 48 + 32 * (c / 2)), c % 2 == 1);
        let high = bytes::<32>(block, 16);
        let (s, m) = (scale[c], -min[c]);
        std::array::from_fn(|l| {
            let q = low[l] | (((high[l] >> c) & 1) << 4);
            madd::<FMA>(f32::from(q), s, m)
        })
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn chunk_simd(block: &[u8], (scale, min): &KScales, c: usize) -> Chunk {
        // SAFETY: the caller's contract; bytes 16..48 hold the fifth bits (bit c of byte l for
        // value l of chunk c), 48.. the nibbles.
        let q = unsafe {
            let low = simd::k_nibbles(block.as_ptr().add(48 + 32 * (c / 2)), c % 2 == 1);
            let bit = x86::_mm256_set1_epi8((1u8 << c) as i8);
            let high = x86::_mm256_and_si256(x86::_mm256_loadu_si256(block.as_ptr().add(16).cast()), bit);
            let fifth = x86::_mm256_and_si256(x86::_mm256_cmpeq_epi8(high, bit), x86::_mm256_set1_epi8(0x10));
            x86::_mm256_or_si256(low, fifth)
        };
        Chunk { q, signed: false, scale: [scale[c]; 2], offset: Some(-min[c]) }
    }
}

/// Q6_K: 256 six-bit values (low four bits, then two high bits packed four to a byte) in sixteen
/// groups of 16 with signed 8-bit scales under d: values d·scale·(q − 32).
#[derive(Debug)]
pub(crate) struct Q6K;

impl Block for Q6K {
    const BYTES: usize = 210;
    const LEN: usize = 256;
    const ZERO: u8 = 32;
    const HALVES: bool = true;
    type Header = [f32; 16];
    #[inline(always)]
    fn header<const F16C: bool>(block: &[u8]) -> [f32; 16] {
        let d = half_at::<F16C>(block, 208);
        let scales = bytes::<16>(block, 192);
        let mut out = [0f32; 16];
        for (o, &s) in out.iter_mut().zip(scales) {
            *o = d * f32::from(s as i8);
        }
        out
    }
    #[inline(always)]
    fn chunk<const FMA: bool>(block: &[u8], scales: &[f32; 16], c: usize) -> [f32; 32] {
        // Each half of the block (128 values) reads 64 low-bit bytes and 32 high-bit bytes;
        // its four chunks take the low or high nibble of the first or second 32 of those bytes,
        // and the 2-bit pair at shift 2·(chunk within the half) of each high-bit byte.
        let (half, k) = (c / 4, c % 4);
        let low = bytes::<32>(block, 64 * half + 32 * (k % 2));
        let high = bytes::<32>(block, 128 + 32 * half);
        let shift = 2 * k;
        let (s0, s1) = (scales[8 * half + 2 * k], scales[8 * half + 2 * k + 1]);
        std::array::from_fn(|l| {
            let nibble = if k >= 2 { low[l] >> 4 } else { low[l] & 0x0f };
            let q = i32::from(nibble | (((high[l] >> shift) & 3) << 4)) - 32;
            q as f32 * if l < 16 { s0 } else { s1 }
        })
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn chunk_simd(block: &[u8], scales: &[f32; 16], c: usize) -> Chunk {
        // SAFETY: the caller's contract; see `Q6K::chunk` for the layout.
        let (half, k) = (c / 4, c % 4);
        let q = unsafe {
            let low = simd::k_nibbles(block.as_ptr().add(64 * half + 32 * (k % 2)), k >= 2);
            let high = x86::_mm256_loadu_si256(block.as_ptr().add(128 + 32 * half).cast());
            // The 2-bit pair at shift 2k of each byte; 16-bit shifts are safe once masked to 2 bits.
            let pair = match k {
                0 => high,
                1 => x86::_mm256_srli_epi16::<2>(high),
                2 => x86::_mm256_srli_epi16::<4>(high),
                _ => x86::_mm256_srli_epi16::<6>(high),
            };
            let pair = x86::_mm256_slli_epi16::<4>(x86::_mm256_and_si256(pair, x86::_mm256_set1_epi8(3)));
            x86::_mm256_sub_epi8(x86::_mm256_or_si256(low, pair), x86::_mm256_set1_epi8(32))
        };
        Chunk { q, signed: true, scale: [scales[8 * half + 2 * k], scales[8 * half + 2 * k + 1]], offset: None }
    }
}

/// Decodes every block of `data` (whole blocks of `B`) into `out` (`LEN` values per block).
#[inline(always)]
pub(crate) fn decode<B: Block, const FMA: bool, const F16C: bool>(data: &[u8], out: &mut [f32]) {
    for (block, values) in data.chunks_exact(B::BYTES).zip(out.chunks_exact_mut(B::LEN)) {
        let header = B::header::<F16C>(block);
        for (c, dst) in values.chunks_exact_mut(32).enumerate() {
            dst.copy_from_slice(&B::chunk::<FMA>(block, &header, c));
        }
    }
}
