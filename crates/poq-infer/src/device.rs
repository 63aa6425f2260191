//! Where models run and in which precision: f32 on the CPU, bf16 on CUDA, f16 on Metal.

use crate::error::Result;
use crate::gguf::GgufPrecision;
use candle_core::{DType, Device};
use std::path::PathBuf;

// Device choice and default precision are shared with poq-eval (poq-candle).
pub use poq_candle::{best_device, default_dtype};

/// How to load a local model.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The device to run on.
    pub device: Device,
    /// Weight and activation precision of safetensors models (None: [`default_dtype`]).
    pub dtype: Option<DType>,
    /// A `tokenizer.json` that replaces the one built from GGUF metadata.
    pub tokenizer: Option<PathBuf>,
    /// How GGUF weights are multiplied.
    pub gguf_precision: GgufPrecision,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions { device: Device::Cpu, dtype: None, tokenizer: None, gguf_precision: GgufPrecision::default() }
    }
}

impl LoadOptions {
    /// Options for the best device this build supports (see [`best_device`]).
    pub fn best() -> Result<Self> {
        Ok(LoadOptions { device: best_device()?, ..LoadOptions::default() })
    }
}
