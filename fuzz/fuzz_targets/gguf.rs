//! GGUF header and metadata parsing, and a full load (metadata tokenizer, chat template, tensors)
//! of whatever the header allows: a typed error or a model, never a panic.
#![no_main]

use candle_core::Device;
use libfuzzer_sys::fuzz_target;
use poq_infer::gguf;
use std::path::PathBuf;

fuzz_target!(|data: &[u8]| {
    let path: PathBuf = std::env::temp_dir().join(format!("poq-fuzz-gguf-{}.gguf", std::process::id()));
    std::fs::write(&path, data).expect("temp file");
    if gguf::read_content(&path).is_ok() {
        let _ = gguf::load_with(&path, &Device::Cpu, gguf::GgufPrecision::Quantized);
    }
});
