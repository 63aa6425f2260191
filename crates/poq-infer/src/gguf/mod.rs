//! GGUF quantized models: llama-architecture (SmolLM2, TinyLlama, Llama 3.2), Qwen2, Gemma 3 and
//! Phi-3 files, with the tokenizer built from metadata when no `tokenizer.json` is given.
//!
//! On the CPU, llama, qwen2 and gemma3 files run our own forward (`decoder.rs`) on our kernels
//! over the packed weights ([`crate::quant`]), with batched decoding; phi3 files, other devices,
//! and llama or qwen2 files asked for candle's quantized kernels run candle-transformers' models.

mod alignment;
mod attention;
mod decoder;
pub mod hyperparams;
pub mod metadata;
pub mod tokenizer;

use crate::error::{Error, Result};
use crate::local::{BatchLm, CausalLm};
use crate::quant::Activations;
use candle_core::quantized::{GgmlDType, QTensor, gguf_file};
use candle_core::{Device, Tensor};
use candle_transformers::models::{quantized_llama, quantized_phi3, quantized_qwen2};
use metadata::Metadata;
use std::fs::File;
use std::io::BufReader;
use std::io::{Cursor, Read, Seek};
use std::path::Path;
use std::sync::Arc;
pub use tokenizer::GgufTokenizer;

/// The architectures we run, by `general.architecture`.
enum Weights {
    /// Ours (see [`decoder`]).
    Decoder(decoder::Decoder),
    Llama(quantized_llama::ModelWeights),
    Qwen2(quantized_qwen2::ModelWeights),
    Phi3(quantized_phi3::ModelWeights),
}

impl std::fmt::Debug for Weights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Weights::Decoder(_) => "our decoder",
            Weights::Llama(_) => "quantized Llama",
            Weights::Qwen2(_) => "quantized Qwen2",
            Weights::Phi3(_) => "quantized Phi3",
        })
    }
}

/// A quantized causal language model loaded from a GGUF file.
#[derive(Debug)]
pub struct GgufModel {
    weights: Weights,
    device: Device,
    context_length: usize,
    architecture: String,
}

/// What a GGUF file holds: the model and what its metadata says about tokenization.
#[derive(Debug)]
pub struct GgufFile {
    /// The model.
    pub model: GgufModel,
    /// The tokenizer built from metadata.
    pub tokenizer: GgufTokenizer,
}

/// Reads the GGUF header of `path` (metadata and tensor table, not the tensors).
pub fn read_content(path: &Path) -> Result<(gguf_file::Content, BufReader<File>)> {
    // candle panics on `general.alignment = 0`: refuse it first, with its own reader.
    let probe = File::open(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    alignment::check(probe).map_err(|message| Error::Format {
        path: path.to_path_buf(),
        location: "GGUF header".into(),
        message,
    })?;
    let file = File::open(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    let mut reader = BufReader::new(file);
    let content = gguf_file::Content::read(&mut reader).map_err(|e| Error::Format {
        path: path.to_path_buf(),
        location: "GGUF header".into(),
        message: crate::error::candle_message(&e),
    })?;
    Ok((content, reader))
}

/// How the weights of a GGUF file are multiplied.
///
/// The default, [`Dequantized`](GgufPrecision::Dequantized), runs llama, qwen2 and gemma3 files on
/// our forward and kernels ([`crate::quant`]) on the CPU: the weights stay packed as the file
/// stores them (memory-mapped, nothing copied at load) and are dequantized in registers as they
/// are multiplied with f32 activations, so answers are those of the Python reference (transformers
/// dequantizes GGUF files to f32) up to rounding. The 8-bit activations of llama.cpp and candle's
/// quantized kernels flip near-tied greedy choices (the first answer token of "What is the
/// capital of France?" on SmolLM2 has a 0.08 logit margin).
///
/// gemma3 files run only on our forward, on the CPU: candle's quantized Gemma 3 is not a faithful
/// fallback (see [`load_with`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GgufPrecision {
    /// candle's quantized kernels, which quantize activations to 8 bits as llama.cpp does; the
    /// path for GPUs.
    Quantized,
    /// f32 arithmetic on the file's weights: on the CPU our kernels over the packed blocks
    /// (llama, qwen2, gemma3), elsewhere (and for phi3) an f32 copy of the weights multiplied by
    /// candle.
    #[default]
    Dequantized,
    /// Weight matrices re-quantized to Q8_0 at load and run by candle, 8-bit activations.
    Q8_0,
    /// Our forward and kernels as [`Dequantized`](GgufPrecision::Dequantized), but decoding
    /// steps quantize activations to 8 bits per 32 values and multiply them as integers, as
    /// llama.cpp does ([`crate::quant::Activations::Int8`]): faster decoding, llama.cpp's
    /// numbers instead of the reference's. CPU with AVX2 only; prompts past 16 tokens stay f32.
    Int8,
}

impl std::str::FromStr for GgufPrecision {
    type Err = Error;

    /// `f32` ([`Dequantized`](GgufPrecision::Dequantized)), `int8`, `q8_0` or `native`
    /// ([`Quantized`](GgufPrecision::Quantized)): the names the examples' `--gguf` takes.
    fn from_str(s: &str) -> Result<GgufPrecision> {
        match s {
            "f32" => Ok(GgufPrecision::Dequantized),
            "int8" => Ok(GgufPrecision::Int8),
            "q8_0" => Ok(GgufPrecision::Q8_0),
            "native" => Ok(GgufPrecision::Quantized),
            other => Err(Error::InvalidArgument {
                name: "gguf precision",
                message: format!("must be f32, int8, q8_0 or native, not `{other}`"),
            }),
        }
    }
}

/// Maps a file into memory: its packed weights are used in place.
fn map_file(path: &Path) -> Result<Arc<dyn AsRef<[u8]> + Send + Sync>> {
    let file = File::open(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    // SAFETY: the map is read-only; like every reader of a model file we rely on nobody
    // truncating or rewriting the file while the model is loaded (that would be a bus error or
    // changed weights, not a memory-safety issue in our own code paths that check lengths).
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    Ok(Arc::new(map))
}

/// Loads the model and the metadata tokenizer of a GGUF file onto `device`.
pub fn load(path: &Path, device: &Device) -> Result<GgufFile> {
    load_with(path, device, GgufPrecision::default())
}

/// As [`load`], choosing how weights are multiplied.
pub fn load_with(path: &Path, device: &Device, precision: GgufPrecision) -> Result<GgufFile> {
    let (mut content, mut reader) = read_content(path)?;
    let md = Metadata::new(&content, path);
    let architecture = md.string("general.architecture")?.to_string();
    let tokenizer = tokenizer::from_metadata(&md)?;
    if !SUPPORTED.contains(&architecture.as_str()) {
        return Err(unsupported(&architecture, path));
    }
    check_tensors_fit(&content, path)?;
    let shapes = hyperparams::check(&md, &content, &architecture)?;
    let declared = hyperparams::cap_phi3_context(&mut content, &architecture, shapes);
    let md = Metadata::new(&content, path);
    let wrap = |e: candle_core::Error| Error::Format {
        path: path.to_path_buf(),
        location: format!("GGUF tensors ({architecture})"),
        message: crate::error::candle_message(&e),
    };
    // gemma3 runs only on ours: candle 0.11's quantized Gemma 3 gates with SiLU (Gemma uses
    // GELU) and drops the sliding window when decoding, so it is not offered as a fallback.
    let ours = device.is_cpu()
        && (matches!(precision, GgufPrecision::Dequantized | GgufPrecision::Int8) || architecture == "gemma3");
    if ours && decoder::Decoder::supports(&md, &architecture, shapes.head_dim)? {
        let context = declared.unwrap_or(quantized_llama::MAX_SEQ_LEN);
        let file = map_file(path)?;
        let activations = if precision == GgufPrecision::Int8 { Activations::Int8 } else { Activations::F32 };
        let model =
            decoder::Decoder::load(&content, &file, &md, &architecture, shapes, context, activations).map_err(|e| {
                match e {
                    Error::Candle(e) => wrap(e),
                    other => other,
                }
            })?;
        let model = GgufModel {
            weights: Weights::Decoder(model),
            device: device.clone(),
            context_length: context,
            architecture,
        };
        return Ok(GgufFile { model, tokenizer });
    }
    if architecture == "gemma3" {
        return Err(Error::Unsupported(format!(
            "gemma3 file {}: our forward runs it on the CPU only, without experts and with the \
             rotary width equal to the head width",
            path.display()
        )));
    }
    let target = match precision {
        GgufPrecision::Quantized => None,
        GgufPrecision::Dequantized | GgufPrecision::Int8 => Some(GgmlDType::F32),
        GgufPrecision::Q8_0 => Some(GgmlDType::Q8_0),
    };
    if let Some(target) = target {
        let (content, mut buf) = converted_copy(&content, &mut reader, target).map_err(wrap)?;
        return finish(path, device, content, &mut buf, architecture, declared, tokenizer);
    }
    finish(path, device, content, &mut reader, architecture, declared, tokenizer)
}

/// The same GGUF, in memory, with its quantized matrices stored as `target` (f32 or Q8_0) and
/// everything else as f32; candle runs f32 tensors as plain matmuls.
fn converted_copy<R: Read + Seek>(
    content: &gguf_file::Content,
    reader: &mut R,
    target: GgmlDType,
) -> candle_core::Result<(gguf_file::Content, Cursor<Vec<u8>>)> {
    let mut tensors = Vec::with_capacity(content.tensor_infos.len());
    for (name, info) in &content.tensor_infos {
        let t = content.tensor(reader, name, &Device::Cpu)?.dequantize(&Device::Cpu)?;
        let dims = info.shape.dims();
        let as_target = dims.len() == 2 && dims[1] % target.block_size() == 0;
        let dtype = if as_target { target } else { GgmlDType::F32 };
        tensors.push((name.as_str(), QTensor::quantize(&t, dtype)?));
    }
    let metadata: Vec<(&str, &gguf_file::Value)> = content.metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();
    let mut buf = Cursor::new(Vec::new());
    gguf_file::write(&mut buf, &metadata, &refs)?;
    drop(tensors);
    buf.set_position(0);
    let copy = gguf_file::Content::read(&mut buf)?;
    Ok((copy, buf))
}

fn finish<R: Read + Seek>(
    path: &Path,
    device: &Device,
    content: gguf_file::Content,
    reader: &mut R,
    architecture: String,
    declared: Option<usize>,
    tokenizer: GgufTokenizer,
) -> Result<GgufFile> {
    let ctx_key = format!("{architecture}.context_length");
    let wrap = |e: candle_core::Error| Error::Format {
        path: path.to_path_buf(),
        location: format!("GGUF tensors ({architecture})"),
        message: crate::error::candle_message(&e),
    };
    let (weights, context_length) = match architecture.as_str() {
        "llama" => {
            let w = quantized_llama::ModelWeights::from_gguf(content, reader, device).map_err(wrap)?;
            // candle precomputes rotary tables for this many positions.
            (Weights::Llama(w), declared.unwrap_or(quantized_llama::MAX_SEQ_LEN).min(quantized_llama::MAX_SEQ_LEN))
        }
        "qwen2" => {
            let ctx = declared.ok_or_else(|| md_missing(path, &ctx_key))?;
            (Weights::Qwen2(quantized_qwen2::ModelWeights::from_gguf(content, reader, device).map_err(wrap)?), ctx)
        }
        "phi3" => {
            let ctx = declared.ok_or_else(|| md_missing(path, &ctx_key))?;
            let w = quantized_phi3::ModelWeights::from_gguf(false, content, reader, device).map_err(wrap)?;
            (Weights::Phi3(w), ctx)
        }
        other => return Err(unsupported(other, path)),
    };
    Ok(GgufFile { model: GgufModel { weights, device: device.clone(), context_length, architecture }, tokenizer })
}

/// The values of `general.architecture` we run.
const SUPPORTED: [&str; 4] = ["llama", "qwen2", "gemma3", "phi3"];

fn unsupported(architecture: &str, path: &Path) -> Error {
    Error::Unsupported(format!(
        "GGUF architecture `{architecture}` in {}; supported: {}",
        path.display(),
        SUPPORTED.join(", ")
    ))
}

fn md_missing(path: &Path, key: &str) -> Error {
    Error::Format { path: path.to_path_buf(), location: key.into(), message: "missing metadata key".into() }
}

/// Rejects truncated files before any tensor is read, naming the first tensor that does not fit.
fn check_tensors_fit(content: &gguf_file::Content, path: &Path) -> Result<()> {
    let len = std::fs::metadata(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?.len();
    for (name, info) in &content.tensor_infos {
        // Checked: a hostile header can declare dimensions whose product overflows (fuzz-found).
        let elems = info.shape.dims().iter().try_fold(1u64, |n, &d| n.checked_mul(d as u64));
        let block = info.ggml_dtype.block_size().max(1) as u64;
        // An empty tensor makes candle build a slice from a dangling, misaligned pointer (UB, fuzz-found).
        if elems == Some(0) {
            return Err(Error::Tensor {
                path: path.to_path_buf(),
                tensor: name.clone(),
                message: "has no elements".into(),
            });
        }
        let Some(bytes) = elems.and_then(|e| (e / block).checked_mul(info.ggml_dtype.type_size() as u64)) else {
            return Err(Error::Tensor {
                path: path.to_path_buf(),
                tensor: name.clone(),
                message: format!("shape {:?} is too large", info.shape.dims()),
            });
        };
        let end = content.tensor_data_offset.saturating_add(info.offset).saturating_add(bytes);
        if end > len {
            return Err(Error::Tensor {
                path: path.to_path_buf(),
                tensor: name.clone(),
                message: format!("ends at byte {end} but the file has {len} bytes (truncated file?)"),
            });
        }
    }
    Ok(())
}

impl GgufModel {
    /// `general.architecture` of the file.
    pub fn architecture(&self) -> &str {
        &self.architecture
    }

    fn decoder(&mut self) -> Result<&mut decoder::Decoder> {
        match &mut self.weights {
            Weights::Decoder(m) => Ok(m),
            _ => Err(Error::Unsupported("batched decoding needs our forward (llama, qwen2, gemma3 on the CPU)".into())),
        }
    }
}

impl CausalLm for GgufModel {
    fn forward(&mut self, tokens: &[u32], pos: usize) -> Result<Vec<f32>> {
        // candle's models take a (1, tokens) tensor; ours takes the ids.
        let input = || Tensor::new(tokens, &self.device)?.unsqueeze(0);
        let logits = match &mut self.weights {
            Weights::Decoder(m) => return m.forward(tokens, pos),
            Weights::Llama(m) => m.forward(&input()?, pos)?,
            Weights::Qwen2(m) => m.forward(&input()?, pos)?,
            Weights::Phi3(m) => m.forward(&input()?, pos)?,
        };
        Ok(logits.squeeze(0)?.to_dtype(candle_core::DType::F32)?.to_vec1()?)
    }

    fn reset(&mut self) -> Result<()> {
        match &mut self.weights {
            Weights::Decoder(m) => m.clear(),
            Weights::Llama(m) => m.clear_kv_cache(),
            Weights::Qwen2(m) => m.clear_kv_cache(),
            // Phi-3 resets its cache itself when a forward starts at position 0.
            Weights::Phi3(_) => {}
        }
        Ok(())
    }

    fn context_length(&self) -> usize {
        self.context_length
    }

    fn batch(&mut self) -> Option<&mut dyn BatchLm> {
        match self.weights {
            Weights::Decoder(_) => Some(self),
            _ => None,
        }
    }
}

impl BatchLm for GgufModel {
    fn max_sequences(&self) -> usize {
        decoder::MAX_SEQUENCES
    }

    fn start(&mut self, slot: usize, prompt: &[u32]) -> Result<Vec<f32>> {
        self.decoder()?.start(slot, prompt)
    }

    fn start_many(&mut self, starts: &[(usize, &[u32])]) -> Result<Vec<Vec<f32>>> {
        self.decoder()?.start_many(starts)
    }

    fn step(&mut self, slots: &[usize], tokens: &[u32]) -> Result<Vec<Vec<f32>>> {
        self.decoder()?.step(slots, tokens)
    }

    fn release(&mut self) {
        if let Weights::Decoder(m) = &mut self.weights {
            m.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::GgufPrecision;

    #[test]
    fn precisions_parse_from_their_option_names() {
        for (name, want) in [
            ("f32", GgufPrecision::Dequantized),
            ("int8", GgufPrecision::Int8),
            ("q8_0", GgufPrecision::Q8_0),
            ("native", GgufPrecision::Quantized),
        ] {
            assert_eq!(name.parse::<GgufPrecision>().unwrap(), want);
        }
        let e = "F32 ".parse::<GgufPrecision>().unwrap_err().to_string();
        assert!(e.contains("must be f32, int8, q8_0 or native") && e.contains("`F32 `"), "{e}");
    }
}
