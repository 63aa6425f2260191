//! Where models run and in which precision: f32 on the CPU, bf16 on CUDA, f16 on Metal.

use crate::error::Result;
use crate::gguf::GgufPrecision;
use candle_core::{DType, Device};
use std::path::PathBuf;

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

/// The first GPU of a `cuda` or `metal` build when one is present, otherwise the CPU.
pub fn best_device() -> Result<Device> {
    #[cfg(feature = "cuda")]
    if candle_core::utils::cuda_is_available() {
        return Ok(Device::new_cuda(0)?);
    }
    #[cfg(feature = "metal")]
    if candle_core::utils::metal_is_available() {
        return Ok(Device::new_metal(0)?);
    }
    Ok(Device::Cpu)
}

/// The precision safetensors models use on `device` unless told otherwise.
pub fn default_dtype(device: &Device) -> DType {
    if device.is_cuda() {
        DType::BF16
    } else if device.is_metal() {
        DType::F16
    } else {
        DType::F32
    }
}
