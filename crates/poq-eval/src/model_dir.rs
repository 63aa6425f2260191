use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde_json::Value;
use tokenizers::Tokenizer;

use crate::encoder::Pooling;
use crate::{Error, Result};

/// A checked model folder.
///
/// A model folder as `save_pretrained` / sentence-transformers write it: `config.json`,
/// `tokenizer.json`, `model.safetensors` (or a sharded `model.safetensors.index.json`), and
/// optionally `modules.json`, `<pooling dir>/config.json` and `sentence_bert_config.json`.
///
/// Everything is checked when the folder is opened, so a missing file names itself before any
/// weights are read.
#[derive(Debug, Clone)]
pub struct ModelDir {
    dir: PathBuf,
    config: Value,
    weights: Vec<PathBuf>,
    sentence: SentenceConfig,
}

/// What the sentence-transformers files say (defaults when the folder has none).
#[derive(Debug, Clone, PartialEq)]
pub struct SentenceConfig {
    /// Pooling modes, concatenated in this order (sentence-transformers' order).
    pub pooling: Vec<Pooling>,
    /// Whether `modules.json` lists a `Normalize` module.
    pub normalize: bool,
    /// `max_seq_length` from `sentence_bert_config.json`, when given.
    pub max_seq_length: Option<usize>,
}

impl Default for SentenceConfig {
    fn default() -> Self {
        SentenceConfig { pooling: vec![Pooling::Mean], normalize: false, max_seq_length: None }
    }
}

impl ModelDir {
    /// Opens and checks a model folder.
    pub fn open(dir: impl AsRef<Path>) -> Result<ModelDir> {
        let dir = dir.as_ref().to_path_buf();
        if !dir.is_dir() {
            return Err(Error::Io {
                path: dir,
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a model folder"),
            });
        }
        let config = read_json(&require(&dir, "config.json")?)?;
        require(&dir, "tokenizer.json")?;
        let weights = weight_files(&dir)?;
        let sentence = sentence_config(&dir)?;
        Ok(ModelDir { dir, config, weights, sentence })
    }

    /// Downloads (or finds in the local Hugging Face cache) the files of `model_id` and opens them.
    ///
    /// Needs network access the first time; offline and uncached it fails with [`Error::Hub`].
    #[cfg(feature = "hub")]
    pub fn from_hub(model_id: &str, revision: Option<&str>) -> Result<ModelDir> {
        crate::model_dir::hub::fetch(model_id, revision)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The parsed `config.json`.
    pub fn config(&self) -> &Value {
        &self.config
    }

    /// The config's `model_type` (`bert`, `roberta`, `deberta-v2`, ...).
    pub fn model_type(&self) -> Result<&str> {
        self.config.get("model_type").and_then(Value::as_str).ok_or_else(|| Error::Format {
            path: self.config_path(),
            location: "model_type".into(),
            message: "missing or not a string".into(),
        })
    }

    /// The config's `architectures` list (empty when absent).
    pub fn architectures(&self) -> Vec<String> {
        self.config
            .get("architectures")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }

    /// The sentence-transformers settings.
    pub fn sentence_config(&self) -> &SentenceConfig {
        &self.sentence
    }

    /// The safetensors files holding the weights (several for a sharded checkpoint).
    pub fn weight_files(&self) -> &[PathBuf] {
        &self.weights
    }

    /// Adds a safetensors file whose tensors are loaded with (and override) the folder's own,
    /// e.g. a classification head trained on top of an encoder.
    pub fn with_extra_weights(mut self, file: impl AsRef<Path>) -> Result<ModelDir> {
        let file = file.as_ref();
        if !file.is_file() {
            return Err(Error::Io {
                path: file.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such weights file"),
            });
        }
        self.weights.push(file.to_path_buf());
        Ok(self)
    }

    /// Path of `config.json`, for error messages.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    /// Deserializes `config.json` into `T`, naming the file and the offending key on failure.
    pub fn parse_config<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_path_to_error::deserialize(self.config.clone()).map_err(|e| Error::Format {
            path: self.config_path(),
            location: key_path(e.path()),
            message: e.into_inner().to_string(),
        })
    }

    /// Loads `tokenizer.json` with truncation at `max_len` tokens and without padding (the
    /// evaluators pad each batch themselves). A tokenizer with more ids than the model's
    /// `vocab_size` embedding rows belongs to another model and is refused.
    pub fn tokenizer(&self, max_len: usize, vocab_size: usize) -> Result<Tokenizer> {
        let path = self.dir.join("tokenizer.json");
        let mut tok = Tokenizer::from_file(&path).map_err(|e| Error::Format {
            path: path.clone(),
            location: "tokenizer".into(),
            message: e.to_string(),
        })?;
        let ids = tok.get_vocab_size(true);
        if ids > vocab_size {
            return Err(Error::Format {
                path,
                location: "model.vocab".into(),
                message: format!(
                    "{ids} token ids but config.json has vocab_size {vocab_size}: not this model's tokenizer"
                ),
            });
        }
        tok.with_padding(None);
        tok.with_truncation(Some(tokenizers::TruncationParams { max_length: max_len, ..Default::default() }))
            .map_err(|e| Error::Tokenizer(format!("{}: {e}", path.display())))?;
        Ok(tok)
    }

    /// Reads every weight file into f32 tensors on `device`; later files override earlier ones.
    pub fn load_tensors(&self, device: &Device) -> Result<HashMap<String, Tensor>> {
        let mut all = HashMap::new();
        for file in &self.weights {
            let tensors = candle_core::safetensors::load(file, device).map_err(|e| Error::Format {
                path: file.clone(),
                location: "safetensors".into(),
                message: crate::error::candle_message(&e),
            })?;
            for (name, t) in tensors {
                all.insert(name, t.to_dtype(candle_core::DType::F32)?);
            }
        }
        Ok(all)
    }
}

/// A JSON key path for error messages (`hidden_size`, `id2label.0`), or the file itself at the root.
fn key_path(path: &serde_path_to_error::Path) -> String {
    let p = path.to_string();
    if p == "." { "config.json".into() } else { p }
}

fn require(dir: &Path, file: &str) -> Result<PathBuf> {
    let path = dir.join(file);
    if path.is_file() { Ok(path) } else { Err(Error::MissingFile { dir: dir.to_path_buf(), file: file.into() }) }
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.into(), source })?;
    serde_json::from_str(&text).map_err(|e| Error::Format {
        path: path.into(),
        location: format!("line {}", e.line()),
        message: e.to_string(),
    })
}

/// `model.safetensors`, else the shards listed by `model.safetensors.index.json`.
fn weight_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let single = dir.join("model.safetensors");
    if single.is_file() {
        return Ok(vec![single]);
    }
    let index = dir.join("model.safetensors.index.json");
    if !index.is_file() {
        return Err(Error::MissingFile {
            dir: dir.to_path_buf(),
            file: "model.safetensors (or model.safetensors.index.json)".into(),
        });
    }
    let json = read_json(&index)?;
    let map = json.get("weight_map").and_then(Value::as_object).ok_or_else(|| Error::Format {
        path: index.clone(),
        location: "weight_map".into(),
        message: "missing or not an object".into(),
    })?;
    let mut shards = BTreeSet::new();
    for (tensor, file) in map {
        let file = file.as_str().ok_or_else(|| Error::Format {
            path: index.clone(),
            location: format!("weight_map.{tensor}"),
            message: "not a file name".into(),
        })?;
        shards.insert(file.to_owned());
    }
    if shards.is_empty() {
        return Err(Error::Format { path: index, location: "weight_map".into(), message: "empty".into() });
    }
    shards.into_iter().map(|f| require(dir, &f)).collect()
}

/// Reads `modules.json`, the pooling module's config and `sentence_bert_config.json`.
fn sentence_config(dir: &Path) -> Result<SentenceConfig> {
    let mut out = SentenceConfig::default();
    let modules_path = dir.join("modules.json");
    if modules_path.is_file() {
        let modules = read_json(&modules_path)?;
        let list = modules.as_array().ok_or_else(|| Error::Format {
            path: modules_path.clone(),
            location: "modules".into(),
            message: "not a list".into(),
        })?;
        for (i, m) in list.iter().enumerate() {
            let kind = m.get("type").and_then(Value::as_str).unwrap_or_default();
            let sub = m.get("path").and_then(Value::as_str).unwrap_or_default();
            if kind.ends_with("Pooling") {
                let file = require(&dir.join(sub), "config.json").map_err(|_| Error::MissingFile {
                    dir: dir.to_path_buf(),
                    file: format!("{sub}/config.json (modules.json[{i}])"),
                })?;
                out.pooling = pooling_modes(&file, &read_json(&file)?)?;
            } else if kind.ends_with("Normalize") {
                out.normalize = true;
            } else if !kind.ends_with("Transformer") {
                return Err(Error::Unsupported(format!(
                    "{}: modules.json[{i}] is a `{kind}` module; only Transformer, Pooling and Normalize are supported",
                    modules_path.display()
                )));
            }
        }
    }
    let sbert = dir.join("sentence_bert_config.json");
    if sbert.is_file() {
        let json = read_json(&sbert)?;
        if let Some(v) = json.get("max_seq_length") {
            let n = v.as_u64().filter(|&n| n > 0).ok_or_else(|| Error::Format {
                path: sbert.clone(),
                location: "max_seq_length".into(),
                message: format!("expected a positive integer, got {v}"),
            })?;
            out.max_seq_length = Some(n as usize);
        }
    }
    Ok(out)
}

/// Both the legacy `pooling_mode_*_tokens: bool` keys and the newer `pooling_mode` key.
fn pooling_modes(path: &Path, json: &Value) -> Result<Vec<Pooling>> {
    const LEGACY: [(&str, &str); 6] = [
        ("pooling_mode_cls_token", "cls"),
        ("pooling_mode_max_tokens", "max"),
        ("pooling_mode_mean_tokens", "mean"),
        ("pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len_tokens"),
        ("pooling_mode_weightedmean_tokens", "weightedmean"),
        ("pooling_mode_lasttoken", "lasttoken"),
    ];
    let names: Vec<String> = match json.get("pooling_mode") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        Some(other) => {
            return Err(Error::Format {
                path: path.into(),
                location: "pooling_mode".into(),
                message: format!("expected a string or list, got {other}"),
            });
        }
        None => LEGACY
            .iter()
            .filter(|(key, _)| json.get(*key).and_then(Value::as_bool).unwrap_or(false))
            .map(|(_, name)| (*name).to_owned())
            .collect(),
    };
    if names.is_empty() {
        return Err(Error::Format {
            path: path.into(),
            location: "pooling_mode".into(),
            message: "no pooling mode set".into(),
        });
    }
    names
        .iter()
        .map(|n| {
            Pooling::from_name(n).ok_or_else(|| {
                Error::Unsupported(format!(
                    "{}: pooling mode `{n}` (supported: cls, mean, max, mean_sqrt_len_tokens, lasttoken)",
                    path.display()
                ))
            })
        })
        .collect()
}

#[cfg(feature = "hub")]
mod hub {
    use super::*;

    pub(super) fn fetch(model_id: &str, revision: Option<&str>) -> Result<ModelDir> {
        let hub_err = |e: hf_hub::api::sync::ApiError| Error::Hub(format!("{model_id}: {e}"));
        let api = hf_hub::api::sync::Api::new().map_err(hub_err)?;
        let repo = match revision {
            Some(r) => api.repo(hf_hub::Repo::with_revision(model_id.into(), hf_hub::RepoType::Model, r.into())),
            None => api.model(model_id.into()),
        };
        let config = repo.get("config.json").map_err(hub_err)?;
        repo.get("tokenizer.json").map_err(hub_err)?;
        if repo.get("model.safetensors").is_err() {
            let index = repo.get("model.safetensors.index.json").map_err(hub_err)?;
            let json = read_json(&index)?;
            let shards: BTreeSet<&str> = json
                .get("weight_map")
                .and_then(Value::as_object)
                .map(|m| m.values().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for shard in shards {
                repo.get(shard).map_err(hub_err)?;
            }
        }
        // The sentence-transformers files are optional: without them the model is a plain encoder.
        if let Ok(modules) = repo.get("modules.json") {
            let json = read_json(&modules)?;
            for m in json.as_array().into_iter().flatten() {
                if let Some(sub) = m.get("path").and_then(Value::as_str).filter(|s| !s.is_empty()) {
                    let _ = repo.get(&format!("{sub}/config.json"));
                }
            }
            let _ = repo.get("sentence_bert_config.json");
        }
        let dir = config.parent().ok_or_else(|| Error::Hub(format!("{model_id}: no snapshot folder")))?;
        ModelDir::open(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_and_new_pooling_keys() {
        let p = Path::new("x");
        let legacy = serde_json::json!({"pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true});
        assert_eq!(pooling_modes(p, &legacy).unwrap(), vec![Pooling::Mean]);
        let both = serde_json::json!({"pooling_mode_cls_token": true, "pooling_mode_max_tokens": true});
        assert_eq!(pooling_modes(p, &both).unwrap(), vec![Pooling::Cls, Pooling::Max]);
        let new = serde_json::json!({"pooling_mode": ["max", "cls"]});
        assert_eq!(pooling_modes(p, &new).unwrap(), vec![Pooling::Max, Pooling::Cls]);
        let bad = serde_json::json!({"pooling_mode": "weightedmean"});
        assert!(matches!(pooling_modes(p, &bad), Err(Error::Unsupported(_))));
        let none = serde_json::json!({});
        assert!(matches!(pooling_modes(p, &none), Err(Error::Format { .. })));
    }
}
