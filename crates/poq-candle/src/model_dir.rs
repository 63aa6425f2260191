//! A checked Hugging Face model folder: config, tokenizer, safetensors weights.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde_json::Value;
use tokenizers::Tokenizer;

use crate::sentence::{SentenceConfig, sentence_config};
use crate::{Error, Result, candle_message};

/// A checked model folder.
///
/// A model folder as `save_pretrained` / sentence-transformers write it: `config.json`,
/// `tokenizer.json`, `model.safetensors` (or a sharded `model.safetensors.index.json`), and
/// optionally `modules.json`, `<pooling dir>/config.json` and `sentence_bert_config.json`
/// (encoders), `tokenizer_config.json`, `chat_template.jinja` and `generation_config.json` (chat
/// models).
///
/// [`open`](ModelDir::open) checks the required files and reads the small JSON ones, so a missing
/// or malformed file names itself before any weights are read.
#[derive(Debug, Clone)]
pub struct ModelDir {
    dir: PathBuf,
    name: String,
    config: Value,
    weights: Vec<PathBuf>,
    sentence: SentenceConfig,
}

impl ModelDir {
    /// Opens and checks a model folder: `config.json` (parsed), the weights, `tokenizer.json` and
    /// the sentence-transformers files when present.
    pub fn open(dir: impl AsRef<Path>) -> Result<ModelDir> {
        let dir = dir.as_ref().to_path_buf();
        if !dir.is_dir() {
            return Err(Error::Io {
                path: dir,
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a model folder"),
            });
        }
        let config = read_json(&require(&dir, "config.json")?)?;
        // Weights before the tokenizer: a folder missing both names its weights (poq-infer's order).
        let weights = weight_files(&dir)?;
        require(&dir, "tokenizer.json")?;
        let sentence = sentence_config(&dir)?;
        let name = dir.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into());
        Ok(ModelDir { dir, name, config, weights, sentence })
    }

    /// A folder, or with the `hub` feature a Hugging Face id such as `Qwen/Qwen2-1.5B-Instruct`.
    pub fn resolve(model: &str) -> Result<ModelDir> {
        let path = Path::new(model);
        if path.is_dir() {
            return Self::open(path);
        }
        #[cfg(feature = "hub")]
        {
            Self::from_hub(model, None)
        }
        #[cfg(not(feature = "hub"))]
        Err(Error::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "not a model folder or .gguf file (build with the `hub` feature to load Hugging Face ids)",
            ),
        })
    }

    /// Downloads (or finds in the local Hugging Face cache) the files of `model_id` at `revision`
    /// (default: `main`) and opens them; [`name`](ModelDir::name) is then the id.
    ///
    /// Needs network access the first time; offline and uncached it fails with [`Error::Hub`].
    #[cfg(feature = "hub")]
    pub fn from_hub(model_id: &str, revision: Option<&str>) -> Result<ModelDir> {
        let dir = crate::hub::download(model_id, revision)?;
        let mut md = ModelDir::open(dir)?;
        md.name = model_id.to_owned();
        Ok(md)
    }

    /// The folder.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The model's short name: the folder's name, or the hub id.
    #[must_use]
    pub fn name(&self) -> String {
        self.name.clone()
    }

    /// The parsed `config.json`.
    #[must_use]
    pub fn config(&self) -> &Value {
        &self.config
    }

    /// Path of `config.json`, for error messages.
    #[must_use]
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    /// The config's `model_type` (`bert`, `roberta`, `deberta-v2`, `qwen2`, ...).
    pub fn model_type(&self) -> Result<&str> {
        self.config.get("model_type").and_then(Value::as_str).ok_or_else(|| Error::Format {
            path: self.config_path(),
            location: "model_type".into(),
            message: "missing or not a string".into(),
        })
    }

    /// The config's `architectures` list (empty when absent).
    #[must_use]
    pub fn architectures(&self) -> Vec<String> {
        self.config
            .get("architectures")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }

    /// Deserializes `config.json` into `T`, naming the file and the offending key on failure.
    pub fn parse_config<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_path_to_error::deserialize(self.config.clone()).map_err(|e| Error::Format {
            path: self.config_path(),
            location: key_path(e.path()),
            message: e.into_inner().to_string(),
        })
    }

    /// The sentence-transformers settings (defaults for a folder without them).
    #[must_use]
    pub fn sentence_config(&self) -> &SentenceConfig {
        &self.sentence
    }

    /// The safetensors files holding the weights (several for a sharded checkpoint), then any
    /// added by [`with_extra_weights`](ModelDir::with_extra_weights).
    #[must_use]
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

    /// `tokenizer.json` (checked again: it may have gone since the folder was opened).
    pub fn tokenizer_json(&self) -> Result<PathBuf> {
        require(&self.dir, "tokenizer.json")
    }

    /// Loads `tokenizer.json` with truncation at `max_len` tokens and without padding (the
    /// encoders pad each batch themselves). A tokenizer with more ids than the model's
    /// `vocab_size` embedding rows belongs to another model and is refused.
    pub fn tokenizer(&self, max_len: usize, vocab_size: usize) -> Result<Tokenizer> {
        let path = self.tokenizer_json()?;
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
                message: candle_message(&e),
            })?;
            for (name, t) in tensors {
                all.insert(name, t.to_dtype(candle_core::DType::F32)?);
            }
        }
        Ok(all)
    }

    /// The folder's `name` file when present.
    pub(crate) fn optional_file(&self, name: &str) -> Option<PathBuf> {
        Some(self.dir.join(name)).filter(|p| p.is_file())
    }
}

/// A JSON key path for error messages (`hidden_size`, `id2label.0`), or the file itself at the root.
fn key_path(path: &serde_path_to_error::Path) -> String {
    let p = path.to_string();
    if p == "." { "config.json".into() } else { p }
}

/// `dir/file`, which must exist.
pub(crate) fn require(dir: &Path, file: &str) -> Result<PathBuf> {
    let path = dir.join(file);
    if path.is_file() { Ok(path) } else { Err(Error::MissingFile { dir: dir.to_path_buf(), file: file.into() }) }
}

/// Reads and parses a JSON file; syntax errors name the line and column.
pub(crate) fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.into(), source })?;
    serde_json::from_str(&text).map_err(|e| Error::Format {
        path: path.into(),
        location: format!("line {}, column {}", e.line(), e.column()),
        message: e.to_string(),
    })
}

/// The shard files a `model.safetensors.index.json` lists, each once, sorted.
pub(crate) fn shard_names(index: &Path, json: &Value) -> Result<BTreeSet<String>> {
    let map = json.get("weight_map").and_then(Value::as_object).ok_or_else(|| Error::Format {
        path: index.to_path_buf(),
        location: "weight_map".into(),
        message: "missing or not an object".into(),
    })?;
    let mut shards = BTreeSet::new();
    for (tensor, file) in map {
        let file = file.as_str().ok_or_else(|| Error::Format {
            path: index.to_path_buf(),
            location: format!("weight_map.{tensor}"),
            message: "not a file name".into(),
        })?;
        shards.insert(file.to_owned());
    }
    if shards.is_empty() {
        return Err(Error::Format {
            path: index.to_path_buf(),
            location: "weight_map".into(),
            message: "empty".into(),
        });
    }
    Ok(shards)
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
    shard_names(&index, &read_json(&index)?)?.into_iter().map(|f| require(dir, &f)).collect()
}
