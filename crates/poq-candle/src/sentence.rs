//! What a sentence-transformers folder says about pooling, normalization and sequence length.

use std::path::Path;

use serde_json::Value;

use crate::model_dir::{read_json, require};
use crate::{Error, Result};

/// One pooling mode of sentence-transformers' `Pooling` module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// The first token's state (`[CLS]` / `<s>`).
    Cls,
    /// The mean over real (unpadded) tokens.
    Mean,
    /// The element-wise maximum over real tokens.
    Max,
    /// The sum over real tokens divided by the square root of their count.
    MeanSqrtLen,
    /// The last real token's state.
    LastToken,
}

impl Pooling {
    /// The mode named as in sentence-transformers' `pooling_mode`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Pooling> {
        match name {
            "cls" => Some(Pooling::Cls),
            "mean" => Some(Pooling::Mean),
            "max" => Some(Pooling::Max),
            "mean_sqrt_len_tokens" => Some(Pooling::MeanSqrtLen),
            "lasttoken" => Some(Pooling::LastToken),
            _ => None,
        }
    }
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

/// Reads `modules.json`, the pooling module's config and `sentence_bert_config.json`.
pub(crate) fn sentence_config(dir: &Path) -> Result<SentenceConfig> {
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
