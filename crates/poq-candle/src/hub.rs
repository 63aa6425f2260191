//! Model folders by Hugging Face id: downloaded once into the hub cache (hf-hub), then opened as
//! local folders.

use std::path::PathBuf;

use hf_hub::api::sync::{Api, ApiError, ApiRepo};
use hf_hub::{Repo, RepoType};
use serde_json::Value;

use crate::model_dir::{read_json, shard_names};
use crate::{Error, Result};

/// Files a folder may have and that are fetched when the repository has them: chat prompts and
/// stopping (generators), sentence-transformers settings (encoders).
const OPTIONAL: [&str; 5] = [
    "tokenizer_config.json",
    "chat_template.jinja",
    "generation_config.json",
    "modules.json",
    "sentence_bert_config.json",
];

/// Fetches (or finds in the cache) the files [`ModelDir::open`](crate::ModelDir::open) reads and
/// returns the snapshot folder.
pub(crate) fn download(id: &str, revision: Option<&str>) -> Result<PathBuf> {
    let api = Api::new().map_err(|e| hub_error(id, "(hub client)", e))?;
    let repo = match revision {
        Some(r) => api.repo(Repo::with_revision(id.into(), RepoType::Model, r.into())),
        None => api.model(id.into()),
    };
    let get = |file: &str| repo.get(file).map_err(|e| hub_error(id, file, e));
    let config = get("config.json")?;
    get("tokenizer.json")?;
    if repo.get("model.safetensors").is_err() {
        let index = get("model.safetensors.index.json")?;
        for shard in shard_names(&index, &read_json(&index)?)? {
            get(&shard)?;
        }
    }
    // Optional files: a repository without them is still a model (no template, plain encoder).
    for file in OPTIONAL {
        let _ = repo.get(file);
    }
    fetch_pooling_configs(&repo, &config)?;
    config.parent().map(PathBuf::from).ok_or_else(|| Error::Hub(format!("{id}: no snapshot folder")))
}

/// The `<module>/config.json` of each module `modules.json` lists (the pooling settings).
fn fetch_pooling_configs(repo: &ApiRepo, config: &std::path::Path) -> Result<()> {
    let modules = config.with_file_name("modules.json");
    if !modules.is_file() {
        return Ok(());
    }
    let json = read_json(&modules)?;
    for m in json.as_array().into_iter().flatten() {
        if let Some(sub) = m.get("path").and_then(Value::as_str).filter(|s| !s.is_empty()) {
            let _ = repo.get(&format!("{sub}/config.json"));
        }
    }
    Ok(())
}

fn hub_error(id: &str, file: &str, e: ApiError) -> Error {
    Error::Hub(format!("{id}: cannot fetch `{file}`: {e}"))
}
