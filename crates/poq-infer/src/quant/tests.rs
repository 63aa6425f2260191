//! Every format on every instruction set this CPU has, against candle's dequantization (its own
//! scalar code) and f64 dot products.

use super::*;
use candle_core::quantized::QTensor;
use candle_core::{Device, Tensor};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

fn random(n: usize, rng: &mut StdRng) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// A random (rows, cols) matrix quantized to `format` by candle: our matrix and candle's
/// dequantized values.
fn quantized(format: Format, rows: usize, cols: usize, rng: &mut StdRng) -> (QMatrix, Vec<f32>) {
    let values = random(rows * cols, rng);
    let t = Tensor::from_vec(values, (rows, cols), &Device::Cpu).unwrap();
    let q = QTensor::quantize(&t, format.ggml()).unwrap();
    let want = q.dequantize(&Device::Cpu).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let bytes = Bytes::owned(q.data().unwrap().into_owned());
    (QMatrix::packed(bytes, format, rows, cols).unwrap(), want)
}

/// Widths: one block, odd counts of blocks, and SmolLM2's 576 (not a multiple of 256).
fn widths(format: Format) -> Vec<usize> {
    if format.block_len() == 256 { vec![256, 768, 1280] } else { vec![32, 96, 576] }
}

fn available() -> Vec<Isa> {
    Isa::ALL.into_iter().filter(|i| i.available()).collect()
}

#[test]
fn decoding_equals_candles_dequantization() {
    let mut rng = StdRng::seed_from_u64(1);
    for format in Format::ALL {
        for cols in widths(format) {
            let (m, want) = quantized(format, 5, cols, &mut rng);
            for isa in available() {
                let m = QMatrix::packed(
                    match &m.storage {
                        Storage::Packed { bytes, .. } => bytes.clone(),
                        Storage::Dense(_) => unreachable!(),
                    },
                    format,
                    5,
                    cols,
                )
                .unwrap()
                .with_isa(isa)
                .unwrap();
                let got = m.dequantize();
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    // Fused multiply–adds round once where candle rounds twice.
                    assert!(
                        (g - w).abs() <= 1e-6 * w.abs().max(1.0),
                        "{format:?} {isa:?} {cols}: value {i}: {g} vs {w}"
                    );
                }
                let mut row = vec![0f32; cols];
                m.dequantize_row(3, &mut row);
                assert_eq!(row, got[3 * cols..4 * cols], "{format:?} {isa:?} row 3");
            }
        }
    }
}

/// Largest |got − exact| over Σ|w·x| for every output.
fn check_products(m: &QMatrix, w: &[f32], xs: &[f32], got: &[f32], what: &str) {
    let (rows, cols) = (m.rows, m.cols);
    let n = xs.len() / cols;
    for k in 0..n {
        for r in 0..rows {
            let (mut exact, mut size) = (0f64, 0f64);
            for c in 0..cols {
                let p = f64::from(w[r * cols + c]) * f64::from(xs[k * cols + c]);
                exact += p;
                size += p.abs();
            }
            let g = f64::from(got[k * rows + r]);
            assert!((g - exact).abs() <= 1e-5 * size.max(1e-3), "{what}: vector {k} row {r}: {g} vs {exact}");
        }
    }
}

#[test]
fn products_equal_exact_dots_on_every_path_and_batch() {
    let mut rng = StdRng::seed_from_u64(2);
    for format in Format::ALL {
        for cols in widths(format) {
            // 37 rows: two full tasks and a ragged one.
            let (m, w) = quantized(format, 37, cols, &mut rng);
            let bytes = match &m.storage {
                Storage::Packed { bytes, .. } => bytes.clone(),
                Storage::Dense(_) => unreachable!(),
            };
            let xs = random(9 * cols, &mut rng);
            let mut by_isa = Vec::new();
            for isa in available() {
                let m = QMatrix::packed(bytes.clone(), format, 37, cols).unwrap().with_isa(isa).unwrap();
                let mut all = vec![f32::NAN; 9 * 37];
                m.matvecs(&xs, &mut all);
                check_products(&m, &w, &xs, &all, &format!("{format:?} {isa:?} {cols}"));
                // A vector's sums do not depend on how many share the pass.
                for n in [1, 2, 3, 5] {
                    let mut some = vec![f32::NAN; n * 37];
                    m.matvecs(&xs[..n * cols], &mut some);
                    assert_eq!(some, all[..n * 37], "{format:?} {isa:?} {cols}: {n} vectors");
                }
                // Prompts: gemm over decoded tiles.
                let long = random(40 * cols, &mut rng);
                let mut out = vec![f32::NAN; 40 * 37];
                m.matmul(&long, &mut out);
                check_products(&m, &w, &long, &out, &format!("{format:?} {isa:?} {cols} matmul"));
                by_isa.push((isa, all));
            }
            // AVX2 and AVX-512 run the same operations.
            let simd: Vec<&Vec<f32>> = by_isa.iter().filter(|(i, _)| *i != Isa::Portable).map(|(_, v)| v).collect();
            for pair in simd.windows(2) {
                assert_eq!(pair[0], pair[1], "{format:?} {cols}: AVX2 and AVX-512 differ");
            }
        }
    }
}

#[test]
fn dense_matrices_of_any_width() {
    let mut rng = StdRng::seed_from_u64(3);
    for (rows, cols) in [(1, 1), (5, 15), (33, 577), (20, 64)] {
        let w = random(rows * cols, &mut rng);
        for isa in available() {
            let m = QMatrix::dense(w.clone(), rows, cols).unwrap().with_isa(isa).unwrap();
            for n in [1, 4, 9, 20] {
                let xs = random(n * cols, &mut rng);
                let mut out = vec![f32::NAN; n * rows];
                m.matmul(&xs, &mut out);
                check_products(&m, &w, &xs, &out, &format!("dense {rows}x{cols} {isa:?} n={n}"));
            }
        }
    }
}

#[test]
fn several_matrices_in_one_pass_equal_each_alone() {
    let mut rng = StdRng::seed_from_u64(4);
    let (a, _) = quantized(Format::Q4_K, 40, 256, &mut rng);
    let (b, _) = quantized(Format::Q8_0, 7, 256, &mut rng);
    let xs = random(3 * 256, &mut rng);
    let (mut oa, mut ob) = (vec![0f32; 3 * 40], vec![0f32; 3 * 7]);
    matvecs_many(&mut [(&a, &mut oa), (&b, &mut ob)], &xs);
    let (mut ea, mut eb) = (vec![0f32; 3 * 40], vec![0f32; 3 * 7]);
    a.matvecs(&xs, &mut ea);
    b.matvecs(&xs, &mut eb);
    assert_eq!((oa, ob), (ea, eb));
}

#[test]
fn shapes_that_do_not_fit_are_refused() {
    let bytes = Bytes::owned(vec![0; 18 * 4]);
    assert!(QMatrix::packed(bytes.clone(), Format::Q4_0, 2, 64).is_ok());
    assert!(QMatrix::packed(bytes.clone(), Format::Q4_0, 2, 48).is_err(), "not whole blocks");
    assert!(QMatrix::packed(bytes.clone(), Format::Q4_0, 3, 64).is_err(), "too few bytes");
    assert!(QMatrix::packed(bytes, Format::Q4_0, 0, 64).is_err(), "no rows");
    assert!(QMatrix::dense(vec![0.0; 6], 4, 2).is_err());
    assert!(Bytes::new(Arc::new(vec![0u8; 10]), 8, 3).is_err());
    assert!(Bytes::new(Arc::new(vec![0u8; 10]), usize::MAX, 3).is_err());
}

#[test]
fn halves_convert_exactly() {
    for (bits, want) in
        [(0x3c00u16, 1.0f32), (0xc000, -2.0), (0x7bff, 65504.0), (0x0001, 5.960_464_5e-8), (0x8000, -0.0)]
    {
        assert_eq!(formats::f16_soft(bits).to_bits(), want.to_bits(), "{bits:#06x}");
    }
    assert!(formats::f16_soft(0x7c00).is_infinite() && formats::f16_soft(0x7e00).is_nan());
    // Every pattern against the F16C instruction, where the CPU has it.
    #[cfg(target_arch = "x86_64")]
    if Isa::Avx2.available() {
        #[target_feature(enable = "f16c")]
        fn hardware(bits: u16) -> f32 {
            formats::f16::<true>(bits)
        }
        for bits in 0..=u16::MAX {
            // SAFETY: F16C was detected (part of our AVX2 path's features).
            let h = unsafe { hardware(bits) };
            let s = formats::f16_soft(bits);
            assert!(h.to_bits() == s.to_bits() || (h.is_nan() && s.is_nan()), "{bits:#06x}: {h} vs {s}");
        }
    }
}

/// The 8-bit kernels this CPU runs on `isa`.
fn int8_kernels(isa: Isa) -> Vec<Int8Kernel> {
    match isa {
        Isa::Portable => vec![],
        Isa::Avx2 => vec![Int8Kernel::Direct],
        Isa::Avx512 if vnni() => vec![Int8Kernel::Direct, Int8Kernel::DirectVnni, Int8Kernel::Lanes],
        Isa::Avx512 => vec![Int8Kernel::Direct],
    }
}

#[test]
fn int8_activations_are_llama_cpp_style_quantized_dots() {
    let mut rng = StdRng::seed_from_u64(5);
    let simd: Vec<Isa> = available().into_iter().filter(|i| *i != Isa::Portable).collect();
    // Eleven vectors: a full group of eight lanes and three more.
    let n = 11;
    for format in Format::ALL {
        for cols in widths(format) {
            let (m, w) = quantized(format, 21, cols, &mut rng);
            let bytes = match &m.storage {
                Storage::Packed { bytes, .. } => bytes.clone(),
                Storage::Dense(_) => unreachable!(),
            };
            let mut xs = random(n * cols, &mut rng);
            // A chunk of zeros (scale 0) and one of large values.
            xs[cols..cols + 32].fill(0.0);
            xs[2 * cols..2 * cols + 32].iter_mut().for_each(|x| *x *= 1e4);
            // The reference: each chunk of 32 activations rounded to max|x|/127 steps.
            let rounded: Vec<f32> = xs
                .chunks(32)
                .flat_map(|x| {
                    let amax = x.iter().fold(0f32, |a, v| a.max(v.abs()));
                    let step = amax / 127.0;
                    x.iter().map(move |v| if amax > 0.0 { (v * (127.0 / amax)).round_ties_even() * step } else { 0.0 })
                })
                .collect();
            let mut first: Option<Vec<f32>> = None;
            for &isa in &simd {
                let m = QMatrix::packed(bytes.clone(), format, 21, cols).unwrap().with_isa(isa).unwrap();
                for kernel in int8_kernels(isa) {
                    let what = format!("{format:?} {cols} {isa:?} {kernel:?}");
                    let mut all = vec![f32::NAN; n * 21];
                    products(&mut [(&m, &mut all)], &xs, Activations::Int8, Some(kernel));
                    check_products(&m, &w, &rounded, &all, &what);
                    // Every kernel, instruction set and batch size gives the same bits.
                    match &first {
                        None => first = Some(all.clone()),
                        Some(want) => assert_eq!(
                            all.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                            want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                            "{what}"
                        ),
                    }
                    for k in [1, 2, 3, 5, 8] {
                        let mut some = vec![f32::NAN; k * 21];
                        products(&mut [(&m, &mut some)], &xs[..k * cols], Activations::Int8, Some(kernel));
                        assert_eq!(some, all[..k * 21], "{what}: {k} vectors");
                    }
                }
                // Not the f32 products: the rounding of activations shows.
                let mut f32s = vec![0f32; n * 21];
                m.matvecs(&xs, &mut f32s);
                let int8 = first.as_ref().unwrap();
                assert!(int8.iter().zip(&f32s).any(|(a, b)| (a - b).abs() > 1e-4 * b.abs().max(1.0)), "{format:?}");
            }
        }
    }
}

/// The SIMD kernels end each vector's sums with the portable kernel's tree, in registers: with
/// fused multiply–adds on both sides, the results are the same bits.
#[test]
fn simd_sums_are_the_portable_tree_bit_for_bit() {
    fn check<B: super::formats::Block>(format: Format) {
        let mut rng = StdRng::seed_from_u64(5);
        let cols = if format.block_len() == 256 { 768 } else { 576 };
        let (m, _) = quantized(format, 37, cols, &mut rng);
        let bytes = match &m.storage {
            Storage::Packed { bytes, .. } => bytes.clone(),
            Storage::Dense(_) => unreachable!(),
        };
        let xs = random(8 * cols, &mut rng);
        let row_bytes = cols / B::LEN * B::BYTES;
        for isa in available().into_iter().filter(|i| *i != Isa::Portable) {
            let m = QMatrix::packed(bytes.clone(), format, 37, cols).unwrap().with_isa(isa).unwrap();
            let mut got = vec![f32::NAN; 8 * 37];
            m.matvecs(&xs, &mut got);
            for r in 0..37 {
                let row = &bytes.as_slice()[r * row_bytes..][..row_bytes];
                let x: [&[f32]; 8] = std::array::from_fn(|k| &xs[k * cols..][..cols]);
                let want = super::kernel::row_dots::<B, 8, true, false>(row, x);
                for (k, w) in want.iter().enumerate() {
                    assert_eq!(got[k * 37 + r].to_bits(), w.to_bits(), "{format:?} {isa:?} row {r} vector {k}");
                }
            }
        }
    }
    check::<super::formats::Q4_1>(Format::Q4_1);
    check::<super::formats::Q8_0>(Format::Q8_0);
    check::<super::formats::Q4K>(Format::Q4_K);
}
