//! `config.json` of the four safetensors families, read into candle-transformers' configs.
//!
//! transformers 5 writes RoPE settings under `rope_parameters` and may write `null` where older
//! files had numbers; we bring both layouts to the one candle reads before deserializing, so that
//! a missing field is reported by name.

use crate::error::{Error, Result};
use candle_transformers::models::{gemma2, llama, phi3, qwen2};
use serde_json::{Map, Value, json};
use std::path::Path;

/// The model families we run from safetensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Llama 2/3 and TinyLlama (`model_type` = `llama`).
    Llama,
    /// Qwen2 (`qwen2`).
    Qwen2,
    /// Gemma 2 (`gemma2`).
    Gemma2,
    /// Phi-3 (`phi3`).
    Phi3,
}

/// A parsed configuration of one family.
#[derive(Debug, Clone)]
pub enum FamilyConfig {
    /// Llama.
    Llama(llama::Config),
    /// Qwen2.
    Qwen2(qwen2::Config),
    /// Gemma 2.
    Gemma2(gemma2::Config),
    /// Phi-3.
    Phi3(phi3::Config),
}

/// The family named by `model_type`.
pub fn family(config: &Value, path: &Path) -> Result<Family> {
    let mt = config.get("model_type").and_then(Value::as_str).ok_or_else(|| Error::Format {
        path: path.to_path_buf(),
        location: "model_type".into(),
        message: "missing or not a string".into(),
    })?;
    match mt {
        "llama" => Ok(Family::Llama),
        "qwen2" => Ok(Family::Qwen2),
        "gemma2" => Ok(Family::Gemma2),
        "phi3" => Ok(Family::Phi3),
        other => Err(Error::Unsupported(format!(
            "model_type `{other}` in {}; supported: llama, qwen2, gemma2, phi3",
            path.display()
        ))),
    }
}

/// Parses `config` (read from `path`) for its family.
pub fn parse(config: &Value, path: &Path) -> Result<FamilyConfig> {
    let fam = family(config, path)?;
    let mut m = config.as_object().cloned().ok_or_else(|| Error::Format {
        path: path.to_path_buf(),
        location: "(root)".into(),
        message: "config.json is not a JSON object".into(),
    })?;
    normalize(&mut m, fam, path)?;
    let v = Value::Object(m);
    Ok(match fam {
        Family::Llama => {
            let c: llama::LlamaConfig = de(v.clone(), path)?;
            check_head_dim(&v, c.hidden_size, c.num_attention_heads, path)?;
            FamilyConfig::Llama(c.into_config(false))
        }
        Family::Qwen2 => {
            let c: qwen2::Config = de(v.clone(), path)?;
            check_head_dim(&v, c.hidden_size, c.num_attention_heads, path)?;
            FamilyConfig::Qwen2(c)
        }
        Family::Gemma2 => FamilyConfig::Gemma2(de(v, path)?),
        Family::Phi3 => {
            let c: phi3::Config = de(v.clone(), path)?;
            check_head_dim(&v, c.hidden_size, c.num_attention_heads, path)?;
            FamilyConfig::Phi3(c)
        }
    })
}

/// Deserializes a family config; a wrong type names its key (`hidden_size`), a missing field the file.
fn de<T: serde::de::DeserializeOwned>(v: Value, path: &Path) -> Result<T> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let key = e.path().to_string();
        Error::Format {
            path: path.to_path_buf(),
            location: if key == "." { "config.json".into() } else { key },
            message: e.into_inner().to_string(),
        }
    })
}

/// candle derives the head size as hidden_size / heads for these families.
fn check_head_dim(v: &Value, hidden: usize, heads: usize, path: &Path) -> Result<()> {
    if heads == 0 || !hidden.is_multiple_of(heads) {
        return Err(Error::Format {
            path: path.to_path_buf(),
            location: "num_attention_heads".into(),
            message: format!("{heads} does not divide hidden_size {hidden}"),
        });
    }
    if let Some(hd) = v.get("head_dim").and_then(Value::as_u64)
        && hd as usize != hidden / heads
    {
        return Err(Error::Unsupported(format!(
            "{}: head_dim {hd} differs from hidden_size / num_attention_heads = {}",
            path.display(),
            hidden / heads
        )));
    }
    Ok(())
}

fn normalize(m: &mut Map<String, Value>, fam: Family, path: &Path) -> Result<()> {
    // We read EOS ids ourselves (generation_config.json first); candle's types reject lists here.
    m.remove("eos_token_id");
    m.remove("bos_token_id");
    let rope = m.get("rope_parameters").cloned().filter(Value::is_object);
    if let Some(rp) = &rope {
        if !m.get("rope_theta").is_some_and(Value::is_number)
            && let Some(t) = rp.get("rope_theta")
        {
            m.insert("rope_theta".into(), t.clone());
        }
        if let Some(p) = rp.get("partial_rotary_factor") {
            m.entry("partial_rotary_factor").or_insert_with(|| p.clone());
        }
    }
    let scaling = m.get("rope_scaling").cloned().filter(Value::is_object).or(rope);
    let rope_type = scaling
        .as_ref()
        .and_then(|s| s.get("rope_type").or_else(|| s.get("type")))
        .and_then(Value::as_str)
        .unwrap_or("default")
        .to_string();
    let scaling_value = match (rope_type.as_str(), &scaling, fam) {
        ("default", _, _) | (_, None, _) => Value::Null,
        ("llama3", Some(s), Family::Llama) => {
            let mut s = s.clone();
            if let Some(o) = s.as_object_mut() {
                o.insert("rope_type".into(), json!("llama3"));
            }
            s
        }
        ("longrope", Some(s), Family::Phi3) => {
            json!({"short_factor": s.get("short_factor"), "long_factor": s.get("long_factor"), "type": "longrope"})
        }
        (other, _, _) => {
            return Err(Error::Unsupported(format!("{}: rope scaling `{other}` for {fam:?}", path.display())));
        }
    };
    m.insert("rope_scaling".into(), scaling_value);
    m.remove("rope_parameters");
    if fam == Family::Qwen2 {
        // transformers 5 writes null when sliding windows are off; candle wants numbers.
        let max_pos = m.get("max_position_embeddings").cloned().unwrap_or(Value::Null);
        if m.get("sliding_window").is_none_or(Value::is_null) {
            m.insert("sliding_window".into(), max_pos);
        }
        let layers = m.get("num_hidden_layers").cloned().unwrap_or(Value::Null);
        if m.get("max_window_layers").is_none_or(Value::is_null) {
            m.insert("max_window_layers".into(), layers);
        }
        m.entry("use_sliding_window").or_insert(json!(false));
        m.entry("tie_word_embeddings").or_insert(json!(false));
        m.entry("hidden_act").or_insert(json!("silu"));
        if m.get("use_sliding_window") == Some(&json!(true)) {
            return Err(Error::Unsupported(format!("{}: Qwen2 sliding-window attention", path.display())));
        }
    }
    if fam == Family::Phi3 {
        m.entry("hidden_act").or_insert(json!("silu"));
    }
    Ok(())
}

impl FamilyConfig {
    /// The vocabulary size.
    pub fn vocab_size(&self) -> usize {
        match self {
            FamilyConfig::Llama(c) => c.vocab_size,
            FamilyConfig::Qwen2(c) => c.vocab_size,
            FamilyConfig::Gemma2(c) => c.vocab_size,
            FamilyConfig::Phi3(c) => c.vocab_size,
        }
    }

    /// The most positions the model's rotary tables cover.
    pub fn max_position_embeddings(&self) -> usize {
        match self {
            FamilyConfig::Llama(c) => c.max_position_embeddings,
            FamilyConfig::Qwen2(c) => c.max_position_embeddings,
            FamilyConfig::Gemma2(c) => c.max_position_embeddings,
            FamilyConfig::Phi3(c) => c.max_position_embeddings,
        }
    }
}
