//! Safetensors chat models of the paper's families (Llama, Qwen2, Gemma-2, Phi-3), run by
//! candle-transformers, behind [`CausalLm`].

pub mod config;

use crate::error::{Error, Result};
use crate::local::CausalLm;
use crate::model_dir::ModelDir;
use candle_core::safetensors::MmapedSafetensors;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::{gemma2, llama, phi3, qwen2};
use config::FamilyConfig;
use std::path::{Path, PathBuf};

enum Weights {
    Llama { model: llama::Llama, cache: llama::Cache, config: Box<llama::Config> },
    Qwen2(qwen2::ModelForCausalLM),
    Gemma2(gemma2::Model),
    Phi3(phi3::Model),
}

impl std::fmt::Debug for Weights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Weights::Llama { .. } => "Llama",
            Weights::Qwen2(_) => "Qwen2",
            Weights::Gemma2(_) => "Gemma2",
            Weights::Phi3(_) => "Phi3",
        })
    }
}

/// A safetensors model with its KV cache.
#[derive(Debug)]
pub struct SafetensorsModel {
    weights: Weights,
    device: Device,
    dtype: DType,
    vocab_size: usize,
    context_length: usize,
}

impl SafetensorsModel {
    /// Loads the model of `dir` onto `device` in `dtype`.
    pub fn load(dir: &ModelDir, device: &Device, dtype: DType) -> Result<Self> {
        let config = config::parse(dir.config(), &dir.config_path())?;
        let files = dir.weight_files().to_vec();
        // SAFETY: the files are memory-mapped read-only; like every mmap user we rely on them not
        // being truncated or rewritten while the model is loaded.
        let st = unsafe { MmapedSafetensors::multi(&files) }.map_err(|e| Error::Format {
            path: dir.path().to_path_buf(),
            location: "safetensors".into(),
            message: crate::error::candle_message(&e),
        })?;
        if let FamilyConfig::Llama(c) = &config {
            // candle's Llama loader panics on a missing tensor; check names and shapes first.
            check_llama_tensors(&st, c, dir.path())?;
        }
        // SAFETY: as above.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&files, dtype, device) }?;
        let load_err = |e: candle_core::Error| tensor_error(dir.path(), &files, e);
        let vocab_size = config.vocab_size();
        let context_length = config.max_position_embeddings();
        let weights = match config {
            FamilyConfig::Llama(c) => {
                let model = llama::Llama::load(vb, &c).map_err(load_err)?;
                let cache = llama::Cache::new(true, dtype, &c, device)?;
                Weights::Llama { model, cache, config: Box::new(c) }
            }
            FamilyConfig::Qwen2(c) => Weights::Qwen2(qwen2::ModelForCausalLM::new(&c, vb).map_err(load_err)?),
            FamilyConfig::Gemma2(c) => Weights::Gemma2(gemma2::Model::new(false, &c, vb).map_err(load_err)?),
            FamilyConfig::Phi3(c) => Weights::Phi3(phi3::Model::new(&c, vb).map_err(load_err)?),
        };
        Ok(SafetensorsModel { weights, device: device.clone(), dtype, vocab_size, context_length })
    }

    /// The vocabulary size of the model head.
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }
}

fn tensor_error(dir: &Path, files: &[PathBuf], e: candle_core::Error) -> Error {
    let n = files.len();
    Error::Format {
        path: dir.to_path_buf(),
        location: format!("safetensors ({n} file(s))"),
        message: crate::error::candle_message(&e),
    }
}

fn check_llama_tensors(st: &MmapedSafetensors, c: &llama::Config, dir: &Path) -> Result<()> {
    let (h, i, v) = (c.hidden_size, c.intermediate_size, c.vocab_size);
    let hd = h / c.num_attention_heads.max(1);
    let (q, kv) = (c.num_attention_heads * hd, c.num_key_value_heads * hd);
    let mut expected: Vec<(String, Vec<usize>)> =
        vec![("model.embed_tokens.weight".into(), vec![v, h]), ("model.norm.weight".into(), vec![h])];
    if !c.tie_word_embeddings {
        expected.push(("lm_head.weight".into(), vec![v, h]));
    }
    for l in 0..c.num_hidden_layers {
        let p = format!("model.layers.{l}");
        expected.extend([
            (format!("{p}.self_attn.q_proj.weight"), vec![q, h]),
            (format!("{p}.self_attn.k_proj.weight"), vec![kv, h]),
            (format!("{p}.self_attn.v_proj.weight"), vec![kv, h]),
            (format!("{p}.self_attn.o_proj.weight"), vec![h, q]),
            (format!("{p}.mlp.gate_proj.weight"), vec![i, h]),
            (format!("{p}.mlp.up_proj.weight"), vec![i, h]),
            (format!("{p}.mlp.down_proj.weight"), vec![h, i]),
            (format!("{p}.input_layernorm.weight"), vec![h]),
            (format!("{p}.post_attention_layernorm.weight"), vec![h]),
        ]);
    }
    for (name, shape) in expected {
        let view = st.get(&name).map_err(|_| Error::Tensor {
            path: dir.to_path_buf(),
            tensor: name.clone(),
            message: "missing from the safetensors files".into(),
        })?;
        if view.shape() != shape.as_slice() {
            return Err(Error::Tensor {
                path: dir.to_path_buf(),
                tensor: name,
                message: format!("shape {:?} but config.json implies {:?}", view.shape(), shape),
            });
        }
    }
    Ok(())
}

impl CausalLm for SafetensorsModel {
    fn forward(&mut self, tokens: &[u32], pos: usize) -> Result<Vec<f32>> {
        let input = Tensor::new(tokens, &self.device)?.unsqueeze(0)?;
        let logits = match &mut self.weights {
            Weights::Llama { model, cache, .. } => model.forward(&input, pos, cache)?,
            Weights::Qwen2(m) => m.forward(&input, pos)?,
            Weights::Gemma2(m) => m.forward(&input, pos)?,
            Weights::Phi3(m) => m.forward(&input, pos)?,
        };
        Ok(logits.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?)
    }

    fn reset(&mut self) -> Result<()> {
        match &mut self.weights {
            // candle's Llama cache has no clear: build a fresh one.
            Weights::Llama { cache, config, .. } => *cache = llama::Cache::new(true, self.dtype, config, &self.device)?,
            Weights::Qwen2(m) => m.clear_kv_cache(),
            Weights::Gemma2(m) => m.clear_kv_cache(),
            Weights::Phi3(m) => m.clear_kv_cache(),
        }
        Ok(())
    }

    fn context_length(&self) -> usize {
        self.context_length
    }
}
