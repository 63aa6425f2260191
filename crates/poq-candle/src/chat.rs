//! What a chat model's folder says about prompts and stopping: chat template, special tokens, EOS ids.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::model_dir::{ModelDir, read_json};
use crate::{Error, Result};

/// What `tokenizer_config.json` says about chat prompts.
#[derive(Debug, Clone, Default)]
pub struct TokenizerConfig {
    /// The Jinja chat template (`chat_template.jinja` wins over the JSON field, as in transformers).
    pub chat_template: Option<String>,
    /// Special token strings by name: `bos_token`, `eos_token`, `unk_token`, `pad_token`.
    pub special_tokens: BTreeMap<String, String>,
}

impl ModelDir {
    /// Chat template and special tokens (`tokenizer_config.json` is optional; without it there
    /// is no template).
    pub fn tokenizer_config(&self) -> Result<TokenizerConfig> {
        let mut out = TokenizerConfig::default();
        if let Some(p) = self.optional_file("tokenizer_config.json") {
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
        if let Some(p) = self.optional_file("chat_template.jinja") {
            out.chat_template =
                Some(std::fs::read_to_string(&p).map_err(|source| Error::Io { path: p.clone(), source })?);
        }
        Ok(out)
    }

    /// Token ids that end generation: `eos_token_id` of `generation_config.json`, else of
    /// `config.json` (a number or a list).
    pub fn eos_token_ids(&self) -> Result<Vec<u32>> {
        for name in ["generation_config.json", "config.json"] {
            let Some(p) = self.optional_file(name) else { continue };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eos_ids_are_a_number_or_a_list() {
        assert_eq!(parse_ids(&serde_json::json!(2)), Some(vec![2]));
        assert_eq!(parse_ids(&serde_json::json!([1, 7])), Some(vec![1, 7]));
        assert_eq!(parse_ids(&serde_json::json!("x")), None);
        assert_eq!(parse_ids(&serde_json::json!(-1)), None);
    }
}
