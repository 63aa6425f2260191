//! Our quantized matrix kernels, per GGUF block format and per instruction set: a decoding step's
//! product (1 and 8 activation rows, f32 and 8-bit activations) on a 1536 × 576 matrix
//! (SmolLM2's feed-forward shape; the K-quants at 1536 × 768, whole 256-value blocks) and a
//! 128-row prompt product on the same matrix. Throughput is in weights per second (multiply by the
//! format's bytes per weight for memory traffic).
//!
//! ```text
//! RAYON_NUM_THREADS=2 cargo bench --bench quant --no-default-features --features infer
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use candle_core::quantized::QTensor;
use candle_core::{Device, Tensor};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use poq::infer::quant::{Activations, Bytes, Format, Isa, QMatrix, matvecs_many_with};

fn matrix(format: Format, rows: usize, cols: usize) -> QMatrix {
    let t = Tensor::randn(0f32, 1.0, (rows, cols), &Device::Cpu).unwrap();
    let q = QTensor::quantize(&t, format.ggml()).unwrap();
    QMatrix::packed(Bytes::owned(q.data().unwrap().into_owned()), format, rows, cols).unwrap()
}

fn bench(c: &mut Criterion) {
    let rows = 1536;
    for format in Format::ALL {
        let cols = if format.block_len() == 256 { 768 } else { 576 };
        let mut group = c.benchmark_group(format!("quant_{format:?}"));
        group.sample_size(20);
        group.throughput(Throughput::Elements((rows * cols) as u64));
        for isa in Isa::ALL.into_iter().filter(|i| i.available()) {
            let m = matrix(format, rows, cols).with_isa(isa).unwrap();
            for n in [1usize, 8] {
                let xs: Vec<f32> = (0..n * cols).map(|i| ((i * 37) % 101) as f32 / 101.0 - 0.5).collect();
                let mut out = vec![0f32; n * rows];
                group.bench_with_input(BenchmarkId::new(format!("{isa:?}/matvec"), n), &n, |b, _| {
                    b.iter(|| m.matvecs(&xs, &mut out))
                });
                if isa != Isa::Portable {
                    group.bench_with_input(BenchmarkId::new(format!("{isa:?}/int8_matvec"), n), &n, |b, _| {
                        b.iter(|| matvecs_many_with(&mut [(&m, &mut out)], &xs, Activations::Int8))
                    });
                }
            }
            let n = 128;
            let xs: Vec<f32> = (0..n * cols).map(|i| ((i * 37) % 101) as f32 / 101.0 - 0.5).collect();
            let mut out = vec![0f32; n * rows];
            group.throughput(Throughput::Elements((rows * cols * n) as u64));
            group.bench_with_input(BenchmarkId::new(format!("{isa:?}/matmul"), n), &n, |b, _| {
                b.iter(|| m.matmul(&xs, &mut out))
            });
            group.throughput(Throughput::Elements((rows * cols) as u64));
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
