//! The packed encoder's element-wise loops, compiled for the widest vector unit the CPU has.
//!
//! The workspace builds for baseline x86-64, where LLVM vectorizes these loops four lanes wide
//! (SSE2); on the real-length sts workload they took ~16% of the time. Each loop is written once as
//! an `#[inline(always)]` function, compiled again inside AVX-512 and AVX2 wrappers, and chosen at
//! run time. Rust never fuses a multiply and an add by itself and the sums keep their order, so
//! every path gives the same bits (tested below).

/// Defines `fn $name(args)` running `$body(args)` compiled for AVX-512F, else AVX2, else baseline.
macro_rules! widest {
    ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) => $body:path) => {
        $(#[$doc])*
        pub(super) fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                /// # Safety
                /// The CPU must have AVX-512F.
                #[target_feature(enable = "avx512f")]
                unsafe fn v4($($arg: $ty),*) {
                    $body($($arg),*)
                }
                /// # Safety
                /// The CPU must have AVX2.
                #[target_feature(enable = "avx2")]
                unsafe fn v3($($arg: $ty),*) {
                    $body($($arg),*)
                }
                if is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has AVX-512F.
                    return unsafe { v4($($arg),*) };
                }
                if is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2.
                    return unsafe { v3($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}

widest! {
    /// `x[i] = gelu(x[i])` (erf form).
    fn gelu(x: &mut [f32]) => kernels::gelu
}
widest! {
    /// `x[i] += bias[i % n]`: `x` holds whole rows of `n = bias.len()` values.
    fn add_bias(x: &mut [f32], bias: &[f32]) => kernels::add_bias
}
widest! {
    /// Layer norm of each row of `x` (`w.len()` wide) in place.
    fn layer_norm(x: &mut [f32], w: &[f32], b: &[f32], eps: f32) => kernels::layer_norm
}
widest! {
    /// Softmax of each row of `s` (`l` wide) in place.
    fn softmax(s: &mut [f32], l: usize) => kernels::softmax
}

/// The loops themselves (baseline code unless inlined into a wrapper above).
pub(super) mod kernels {
    use super::super::gelu::{exp_neg, gelu as gelu1};

    /// Σ f(x) over `x` in sixteen interleaved partial sums: a single running f32 sum is one long
    /// chain of dependent adds that LLVM may not vectorize (it would reorder the additions).
    #[inline(always)]
    pub(crate) fn lane_sum(x: &[f32], f: impl Fn(f32) -> f32) -> f32 {
        let mut acc = [0f32; 16];
        let chunks = x.chunks_exact(16);
        let tail: f32 = chunks.remainder().iter().map(|&v| f(v)).sum();
        for c in chunks {
            acc.iter_mut().zip(c).for_each(|(a, &v)| *a += f(v));
        }
        acc.iter().sum::<f32>() + tail
    }

    #[inline(always)]
    pub(crate) fn gelu(x: &mut [f32]) {
        x.iter_mut().for_each(|v| *v = gelu1(*v));
    }

    #[inline(always)]
    pub(crate) fn add_bias(x: &mut [f32], bias: &[f32]) {
        for r in x.chunks_exact_mut(bias.len()) {
            r.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
        }
    }

    /// Two passes in f32, as PyTorch's CPU kernel accumulates.
    #[inline(always)]
    pub(crate) fn layer_norm(x: &mut [f32], w: &[f32], b: &[f32], eps: f32) {
        let h = w.len();
        for r in x.chunks_exact_mut(h) {
            let mean = lane_sum(r, |v| v) / h as f32;
            let var = lane_sum(r, |v| (v - mean) * (v - mean)) / h as f32;
            let inv = 1.0 / (var + eps).sqrt();
            for ((v, &g), &o) in r.iter_mut().zip(w).zip(b) {
                *v = (*v - mean) * inv * g + o;
            }
        }
    }

    #[inline(always)]
    pub(crate) fn softmax(s: &mut [f32], l: usize) {
        for r in s.chunks_exact_mut(l) {
            // Sixteen running maxima, for the same reason as `lane_sum`.
            let mut m = [f32::NEG_INFINITY; 16];
            let chunks = r.chunks_exact(16);
            let tail = chunks.remainder().iter().copied().fold(f32::NEG_INFINITY, f32::max);
            for c in chunks {
                m.iter_mut().zip(c).for_each(|(m, &v)| *m = m.max(v));
            }
            let max = m.iter().copied().fold(tail, f32::max);
            r.iter_mut().for_each(|v| *v = exp_neg(max - *v));
            let inv = 1.0 / lane_sum(r, |v| v);
            r.iter_mut().for_each(|v| *v *= inv);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed pseudo-random row of values in about [-8, 8].
    fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761).max(1);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s as f32 / u32::MAX as f32 - 0.5) * 16.0
            })
            .collect()
    }

    fn bits(x: &[f32]) -> Vec<u32> {
        x.iter().map(|v| v.to_bits()).collect()
    }

    /// Whatever path the CPU takes, every loop gives the baseline's bits.
    #[test]
    fn widest_paths_give_the_baseline_bits() {
        for (h, rows) in [(384, 5), (768, 3), (37, 4)] {
            let x = values(h * rows, h as u32);
            let (w, b) = (values(h, 1), values(h, 2));

            let (mut a, mut z) = (x.clone(), x.clone());
            gelu(&mut a);
            kernels::gelu(&mut z);
            assert_eq!(bits(&a), bits(&z), "gelu {h}");

            let (mut a, mut z) = (x.clone(), x.clone());
            add_bias(&mut a, &b);
            kernels::add_bias(&mut z, &b);
            assert_eq!(bits(&a), bits(&z), "add_bias {h}");

            let (mut a, mut z) = (x.clone(), x.clone());
            layer_norm(&mut a, &w, &b, 1e-12);
            kernels::layer_norm(&mut z, &w, &b, 1e-12);
            assert_eq!(bits(&a), bits(&z), "layer_norm {h}");

            let (mut a, mut z) = (x.clone(), x.clone());
            softmax(&mut a, h);
            kernels::softmax(&mut z, h);
            assert_eq!(bits(&a), bits(&z), "softmax {h}");
            for r in a.chunks(h) {
                let sum: f32 = r.iter().sum();
                assert!((sum - 1.0).abs() < 1e-5, "softmax row sums to {sum}");
            }
        }
    }
}
