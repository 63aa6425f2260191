//! Which device models run on, and in which precision by default.

use candle_core::{DType, Device};

use crate::{Error, Result};

/// A device request, resolved by [`DeviceChoice::resolve`].
///
/// CPU by default; CUDA or Metal behind the `cuda` and `metal` features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// The CPU (the default: every build supports it).
    #[default]
    Cpu,
    /// The CUDA GPU with this ordinal (needs the `cuda` feature).
    Cuda(usize),
    /// The Metal GPU with this ordinal (needs the `metal` feature).
    Metal(usize),
    /// The first GPU this build supports, else the CPU.
    Best,
}

impl DeviceChoice {
    /// The candle device; asking for a backend this build lacks is [`Error::Unsupported`].
    pub fn resolve(self) -> Result<Device> {
        match self {
            DeviceChoice::Cpu => Ok(Device::Cpu),
            DeviceChoice::Cuda(ordinal) => cuda(ordinal),
            DeviceChoice::Metal(ordinal) => metal(ordinal),
            DeviceChoice::Best => {
                if cfg!(feature = "cuda") && candle_core::utils::cuda_is_available() {
                    cuda(0)
                } else if cfg!(feature = "metal") && candle_core::utils::metal_is_available() {
                    metal(0)
                } else {
                    Ok(Device::Cpu)
                }
            }
        }
    }
}

/// The first GPU of a `cuda` or `metal` build when one is present, otherwise the CPU
/// ([`DeviceChoice::Best`]).
pub fn best_device() -> Result<Device> {
    DeviceChoice::Best.resolve()
}

/// The precision models use on `device` unless told otherwise: f32 on the CPU, bf16 on CUDA,
/// f16 on Metal.
#[must_use]
pub fn default_dtype(device: &Device) -> DType {
    if device.is_cuda() {
        DType::BF16
    } else if device.is_metal() {
        DType::F16
    } else {
        DType::F32
    }
}

fn cuda(ordinal: usize) -> Result<Device> {
    if cfg!(feature = "cuda") {
        Ok(Device::new_cuda(ordinal)?)
    } else {
        Err(Error::Unsupported("CUDA device requested but this build has no `cuda` feature".into()))
    }
}

fn metal(ordinal: usize) -> Result<Device> {
    if cfg!(feature = "metal") {
        Ok(Device::new_metal(ordinal)?)
    } else {
        Err(Error::Unsupported("Metal device requested but this build has no `metal` feature".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_is_default_and_best_falls_back() {
        assert!(matches!(DeviceChoice::default().resolve(), Ok(Device::Cpu)));
        assert_eq!(default_dtype(&Device::Cpu), DType::F32);
        if !cfg!(any(feature = "cuda", feature = "metal")) {
            assert!(matches!(best_device(), Ok(Device::Cpu)));
            assert!(matches!(DeviceChoice::Cuda(0).resolve(), Err(Error::Unsupported(_))));
            assert!(matches!(DeviceChoice::Metal(0).resolve(), Err(Error::Unsupported(_))));
        }
    }
}
