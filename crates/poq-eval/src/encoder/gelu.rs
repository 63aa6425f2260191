//! Exact-form GELU, x/2 · (1 + erf(x/√2)), vectorizable on CPU.
//!
//! Profiling the MiniLM bench showed candle's `gelu_erf` spending ~10% of the time in scalar
//! `libm::erff`/`expf`. Here erf is Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7) over an exp built
//! from a power-of-two split and a degree-6 polynomial, branch-free so LLVM vectorizes the loop.

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor, bail};
use rayon::prelude::*;

use crate::Result;

/// GELU (erf form) of `x`: our kernel on CPU, candle's elsewhere.
pub(crate) fn gelu_erf(x: &Tensor) -> Result<Tensor> {
    if x.device().is_cpu() && x.dtype() == candle_core::DType::F32 {
        Ok(x.contiguous()?.apply_op1_no_bwd(&GeluErf)?)
    } else {
        Ok(x.gelu_erf()?)
    }
}

struct GeluErf;

impl CustomOp1 for GeluErf {
    fn name(&self) -> &'static str {
        "poq-gelu-erf"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let CpuStorage::F32(data) = storage else { bail!("poq-gelu-erf: f32 only") };
        let Some((start, end)) = layout.contiguous_offsets() else { bail!("poq-gelu-erf: contiguous input only") };
        let src = &data[start..end];
        let mut dst = vec![0f32; src.len()];
        dst.par_chunks_mut(8192).zip(src.par_chunks(8192)).for_each(|(d, s)| {
            d.copy_from_slice(s);
            super::wide::gelu(d);
        });
        Ok((CpuStorage::F32(dst), layout.shape().clone()))
    }
}

#[inline(always)]
pub(super) fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// GELU's tanh approximation, as transformers' `gelu_new` (rare in sentence encoders: plain libm).
#[inline]
pub(super) fn gelu_tanh(x: f32) -> f32 {
    const C: f32 = 0.797_884_6; // √(2/π)
    0.5 * x * (1.0 + (C * (x + 0.044_715 * x * x * x)).tanh())
}

/// Abramowitz & Stegun 7.1.26.
#[inline(always)]
fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t * (0.254_829_6 + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152_1 + t * 1.061_405_4))));
    let y = 1.0 - poly * exp_neg(a * a);
    y.copysign(x)
}

/// e^(-z) for z ≥ 0 (returns 0 past z = 87), without branches or library calls.
///
/// `floor` and float-to-int casts are library calls or NaN-checked sequences on baseline x86-64
/// (no SSE4.1), which kept LLVM from vectorizing; rounding by adding 1.5·2^23 is plain arithmetic
/// and leaves the integer in the sum's low mantissa bits.
#[inline(always)]
pub(super) fn exp_neg(z: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0; // 1.5·2^23
    let y = (-z).max(-87.0) * std::f32::consts::LOG2_E;
    let t = y + ROUND;
    let k = t - ROUND; // y rounded to the nearest integer, in [-126, 0]
    let f = (y - k) * std::f32::consts::LN_2; // in [-ln 2 / 2, ln 2 / 2]
    // Taylor series of e^f to degree 7 (error < 1e-8 there); f32 rounding of y dominates:
    // relative error ~1e-6 for large z, where erf no longer needs e^(-z) at all.
    let p = 1.0
        + f * (1.0
            + f * (0.5 + f * (1.0 / 6.0 + f * (1.0 / 24.0 + f * (1.0 / 120.0 + f * (1.0 / 720.0 + f / 5040.0))))));
    let k = (t.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    p * f32::from_bits(((k + 127) as u32) << 23)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_libm_erf_and_exp() {
        let mut worst = 0.0f64;
        for i in -6000i32..=6000 {
            let x = i as f32 / 1000.0;
            let want = 0.5 * f64::from(x) * (1.0 + libm_erf(f64::from(x) / std::f64::consts::SQRT_2));
            worst = worst.max((f64::from(gelu(x)) - want).abs());
            let z = (i.abs() as f32) / 100.0;
            let e = f64::from(exp_neg(z));
            assert!((e - (-f64::from(z)).exp()).abs() <= 1e-5 * (-f64::from(z)).exp() + 1e-38, "exp({z})");
        }
        assert!(worst < 1e-6, "worst {worst}");
    }

    /// erf through its series / continued fraction is overkill here: use the tanh-free identity
    /// with a high-precision f64 integration instead.
    fn libm_erf(x: f64) -> f64 {
        // Simpson's rule on 2/√π ∫0^x e^{-t²} dt with 2000 panels: error ≪ 1e-9.
        let n = 2000;
        let h = x / n as f64;
        let f = |t: f64| (-t * t).exp();
        let mut s = f(0.0) + f(x);
        for i in 1..n {
            s += f(i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
        }
        s * h / 3.0 * 2.0 / std::f64::consts::PI.sqrt()
    }
}
