use crate::error::{Error, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A local model folder.
///
/// A Hugging Face model folder: `config.json`, `generation_config.json`, `tokenizer.json`,
/// `tokenizer_config.json` and single or sharded safetensors. With the `hub` feature a model id is
/// downloaded (or found in the cache) first.
#[derive(Debug, Clone)]
pub struct ModelDir {
    dir: PathBuf,
    name: String,
}

/// What `tokenizer_config.json` says about chat prompts.
#[derive(Debug, Clone, Default)]
pub struct TokenizerConfig {
    /// The Jinja chat template (`chat_template.jinja` wins over the JSON field, as in transformers).
    pub chat_template: Option<String>,
    /// Special token strings by name: `bos_token`, `eos_token`, `unk_token`, `pad_token`.
    pub special_tokens: BTreeMap<String, String>,
}

impl ModelDir {
    /// A folder on disk; it must exist.
    pub fn from_dir(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        if !dir.is_dir() {
            return Err(Error::Io {
                path: dir,
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a model folder"),
            });
        }
        let name = dir.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into());
        Ok(ModelDir { dir, name })
    }

    /// A folder, or with the `hub` feature a Hugging Face id such as `Qwen/Qwen2-1.5B-Instruct`.
    pub fn resolve(model: &str) -> Result<Self> {
        let path = Path::new(model);
        if path.is_dir() {
            return Self::from_dir(path);
        }
        #[cfg(feature = "hub")]
        {
            hub::download(model)
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

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The model's short name (the folder name, or the hub id).
    pub fn name(&self) -> String {
        self.name.clone()
    }

    fn file(&self, name: &str) -> Result<PathBuf> {
        let p = self.dir.join(name);
        if p.is_file() { Ok(p) } else { Err(Error::MissingFile { dir: self.dir.clone(), file: name.into() }) }
    }

    /// `tokenizer.json`.
    pub fn tokenizer_json(&self) -> Result<PathBuf> {
        self.file("tokenizer.json")
    }

    /// `config.json`, parsed.
    pub fn config(&self) -> Result<(PathBuf, Value)> {
        let p = self.file("config.json")?;
        let v = read_json(&p)?;
        Ok((p, v))
    }

    /// The safetensors files: `model.safetensors`, or the shards listed in
    /// `model.safetensors.index.json`.
    pub fn safetensors(&self) -> Result<Vec<PathBuf>> {
        if let Ok(p) = self.file("model.safetensors") {
            return Ok(vec![p]);
        }
        let index = self.file("model.safetensors.index.json").map_err(|_| Error::MissingFile {
            dir: self.dir.clone(),
            file: "model.safetensors or model.safetensors.index.json".into(),
        })?;
        let v = read_json(&index)?;
        let map = v.get("weight_map").and_then(Value::as_object).ok_or_else(|| Error::Format {
            path: index.clone(),
            location: "weight_map".into(),
            message: "missing or not an object".into(),
        })?;
        let mut files: Vec<String> = Vec::new();
        for (tensor, f) in map {
            let f = f.as_str().ok_or_else(|| Error::Format {
                path: index.clone(),
                location: format!("weight_map.{tensor}"),
                message: "not a file name".into(),
            })?;
            if !files.iter().any(|x| x == f) {
                files.push(f.to_string());
            }
        }
        files.sort();
        files.iter().map(|f| self.file(f)).collect()
    }

    /// Chat template and special tokens (`tokenizer_config.json` is optional; without it there
    /// is no template).
    pub fn tokenizer_config(&self) -> Result<TokenizerConfig> {
        let mut out = TokenizerConfig::default();
        if let Ok(p) = self.file("tokenizer_config.json") {
            let v = read_json(&p)?;
            for key in ["bos_token", "eos_token", "unk_token", "pad_token"] {
                let s = match v.get(key) {
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(Value::Object(o)) => o.get("content").and_then(Value::as_str).map(str::to_owned),
                    _ => None,
                };
                if let Some(s) = s {
                    out.special_tokens.insert(key.to_string(), s);
                }
            }
            out.chat_template = match v.get("chat_template") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                // A list of named templates: take "default".
                Some(Value::Array(list)) => list
                    .iter()
                    .find(|t| t.get("name").and_then(Value::as_str) == Some("default"))
                    .and_then(|t| t.get("template"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                Some(_) => {
                    return Err(Error::Format {
                        path: p,
                        location: "chat_template".into(),
                        message: "expected a string or a list of named templates".into(),
                    });
                }
            };
        }
        if let Ok(p) = self.file("chat_template.jinja") {
            out.chat_template =
                Some(std::fs::read_to_string(&p).map_err(|source| Error::Io { path: p.clone(), source })?);
        }
        Ok(out)
    }

    /// Token ids that end generation: `eos_token_id` of `generation_config.json`, else of
    /// `config.json` (a number or a list).
    pub fn eos_token_ids(&self) -> Result<Vec<u32>> {
        for name in ["generation_config.json", "config.json"] {
            let Ok(p) = self.file(name) else { continue };
            let v = read_json(&p)?;
            match v.get("eos_token_id") {
                None | Some(Value::Null) => continue,
                Some(x) => {
                    return parse_ids(x).ok_or_else(|| Error::Format {
                        path: p,
                        location: "eos_token_id".into(),
                        message: "expected a token id or a list of ids".into(),
                    });
                }
            }
        }
        Ok(Vec::new())
    }
}

fn parse_ids(v: &Value) -> Option<Vec<u32>> {
    let one = |x: &Value| x.as_u64().and_then(|n| u32::try_from(n).ok());
    match v {
        Value::Array(a) => a.iter().map(one).collect(),
        x => one(x).map(|n| vec![n]),
    }
}

/// Reads and parses a JSON file; syntax errors name the line and column.
pub(crate) fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    serde_json::from_str(&text).map_err(|e| Error::Format {
        path: path.to_path_buf(),
        location: format!("line {}, column {}", e.line(), e.column()),
        message: e.to_string(),
    })
}

#[cfg(feature = "hub")]
mod hub {
    use super::ModelDir;
    use crate::error::{Error, Result};
    use hf_hub::api::sync::Api;

    /// Fetches (or finds in the cache) the files of a model folder.
    pub(super) fn download(id: &str) -> Result<ModelDir> {
        let err = |file: &str, e: hf_hub::api::sync::ApiError| {
            Error::Unsupported(format!("cannot fetch `{file}` of Hugging Face model `{id}`: {e}"))
        };
        let api = Api::new().map_err(|e| err("(hub client)", e))?;
        let repo = api.model(id.to_string());
        let config = repo.get("config.json").map_err(|e| err("config.json", e))?;
        repo.get("tokenizer.json").map_err(|e| err("tokenizer.json", e))?;
        for optional in ["tokenizer_config.json", "generation_config.json"] {
            let _ = repo.get(optional);
        }
        if repo.get("model.safetensors").is_err() {
            let index = repo.get("model.safetensors.index.json").map_err(|e| err("model.safetensors.index.json", e))?;
            let v = super::read_json(&index)?;
            let mut shards: Vec<String> = v
                .get("weight_map")
                .and_then(|m| m.as_object())
                .map(|m| m.values().filter_map(|f| f.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            shards.sort();
            shards.dedup();
            for s in shards {
                repo.get(&s).map_err(|e| err(&s, e))?;
            }
        }
        let dir = config.parent().map(|p| p.to_path_buf()).unwrap_or_default();
        let mut md = ModelDir::from_dir(dir)?;
        md.name = id.to_string();
        Ok(md)
    }
}
