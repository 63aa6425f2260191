//! A GGUF file cut short gives one line that names the file, not candle's captured backtrace.
//!
//! candle captures a backtrace in its errors whenever `RUST_BACKTRACE` or `RUST_LIB_BACKTRACE`
//! is set. This binary sets `RUST_LIB_BACKTRACE=1` before anything runs, so that candle does
//! capture one here whatever the environment: the message must come out clean all the same.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{DType, Device, Tensor};
use poq_infer::{LoadOptions, LocalGenerator};

#[test]
fn truncated_gguf_error_is_the_message_not_a_backtrace() {
    // SAFETY: the only test in this binary, and it sets the variable before any thread reads the
    // environment (std reads it at the first backtrace capture).
    unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "1") };

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.gguf");
    let md = [
        ("general.architecture", Value::String("llama".into())),
        ("tokenizer.ggml.model", Value::String("gpt2".into())),
    ];
    let refs: Vec<(&str, &Value)> = md.iter().map(|(k, v)| (*k, v)).collect();
    let t = QTensor::quantize(&Tensor::ones((64, 64), DType::F32, &Device::Cpu).unwrap(), GgmlDType::F32).unwrap();
    let mut f = std::fs::File::create(&path).unwrap();
    gguf_file::write(&mut f, &refs, &[("token_embd.weight", &t), ("output.weight", &t)]).unwrap();
    drop(f);
    let bytes = std::fs::read(&path).unwrap();
    // Keep the metadata, cut the tensor table: candle's header reader fails, in its own words.
    let header_end = bytes.windows(b"output.weight".len()).position(|w| w == b"output.weight").unwrap();
    std::fs::write(&path, &bytes[..header_end + 4]).unwrap();

    let err = LocalGenerator::load(path.to_str().unwrap(), &LoadOptions::default()).unwrap_err();
    let shown = err.to_string();
    assert!(shown.contains(&*path.to_string_lossy()), "names the file: {shown}");
    assert_eq!(shown.lines().count(), 1, "one line: {shown}");
    for frame_mark in ["backtrace", "stack backtrace", " at /", ".rs:", "0: "] {
        assert!(!shown.contains(frame_mark), "no backtrace frames ({frame_mark:?}): {shown}");
    }
}
