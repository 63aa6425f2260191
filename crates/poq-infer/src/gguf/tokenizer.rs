//! Builds a Hugging Face tokenizer from GGUF metadata (`tokenizer.ggml.*`), for GGUF files that
//! ship without a `tokenizer.json`.
//!
//! We write the `tokenizer.json` that `transformers` would have saved and let `tokenizers` parse
//! it, so the pieces (BPE model, pre-tokenizer, decoder, added tokens) are the library's own.
//! - `gpt2`: byte-level BPE from `tokens` and `merges`; the pre-tokenizer follows
//!   `tokenizer.ggml.pre` as llama.cpp does (`smollm`, `llama-bpe`, `qwen2`, `default`/`gpt2`).
//! - `llama`: SentencePiece vocabulary with scores, turned into BPE merges ranked by score the way
//!   `transformers`' SentencePiece extractor does, with `▁` for spaces and byte fallback.

use super::metadata::Metadata;
use crate::error::{Error, Result};
use crate::tokenizer::TextTokenizer;
use serde_json::{Value, json};
use std::collections::HashMap;

/// GGUF token types (llama.cpp's `llama_token_type`).
const TYPE_UNKNOWN: i32 = 2;
const TYPE_CONTROL: i32 = 3;
const TYPE_USER_DEFINED: i32 = 4;

/// The Llama 3 split regex (llama.cpp `llama-bpe`).
const LLAMA3_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// The Qwen2 split regex: as Llama 3 but digits one by one.
const QWEN2_REGEX: &str =
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// A tokenizer built from GGUF metadata with its special tokens and chat template.
#[derive(Debug, Clone)]
pub struct GgufTokenizer {
    /// The tokenizer.
    pub tokenizer: TextTokenizer,
    /// `tokenizer.ggml.bos_token_id`'s string.
    pub bos_token: Option<String>,
    /// `tokenizer.ggml.eos_token_id`'s string.
    pub eos_token: Option<String>,
    /// `tokenizer.ggml.add_bos_token`: prompts start with the BOS token.
    pub add_bos: bool,
    /// Ids that end generation: EOS and, when present, EOT.
    pub eos_ids: Vec<u32>,
    /// `tokenizer.chat_template`.
    pub chat_template: Option<String>,
}

/// Builds the tokenizer described by `md`.
pub fn from_metadata(md: &Metadata<'_>) -> Result<GgufTokenizer> {
    let model = md.string("tokenizer.ggml.model")?;
    let tokens = md.strings("tokenizer.ggml.tokens")?;
    let types = md.opt_i32s("tokenizer.ggml.token_type")?.unwrap_or_else(|| vec![1; tokens.len()]);
    if types.len() != tokens.len() {
        return Err(md.error(
            "tokenizer.ggml.token_type",
            format!("has {} entries but tokenizer.ggml.tokens has {}", types.len(), tokens.len()),
        ));
    }
    let token_at = |key: &str| -> Result<Option<String>> {
        match md.opt_u32(key)? {
            None => Ok(None),
            Some(id) => tokens
                .get(id as usize)
                .map(|t| Some((*t).to_string()))
                .ok_or_else(|| md.error(key, format!("id {id} is past the vocabulary ({})", tokens.len()))),
        }
    };
    let bos_token = token_at("tokenizer.ggml.bos_token_id")?;
    let eos_token = token_at("tokenizer.ggml.eos_token_id")?;
    let unk_token = token_at("tokenizer.ggml.unknown_token_id")?;
    let add_bos = md.opt_bool("tokenizer.ggml.add_bos_token")?.unwrap_or(false);

    let mut tj = match model {
        "gpt2" => gpt2_json(md, &tokens)?,
        "llama" => llama_json(md, &tokens, &types, unk_token.as_deref())?,
        other => return Err(Error::Unsupported(format!("GGUF tokenizer model `{other}` (tokenizer.ggml.model)"))),
    };
    tj["added_tokens"] = Value::Array(added_tokens(&tokens, &types));
    if add_bos && let Some(bos) = &bos_token {
        let bos_id = md.opt_u32("tokenizer.ggml.bos_token_id")?.unwrap_or(0);
        tj["post_processor"] = bos_post_processor(bos, bos_id);
    }
    let bytes = serde_json::to_vec(&tj).map_err(|e| md.error("tokenizer.ggml", e.to_string()))?;
    let inner = tokenizers::Tokenizer::from_bytes(&bytes)
        .map_err(|e| md.error("tokenizer.ggml", format!("cannot build a tokenizer: {e}")))?;

    let mut eos_ids = Vec::new();
    for key in ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"] {
        if let Some(id) = md.opt_u32(key)?
            && !eos_ids.contains(&id)
        {
            eos_ids.push(id);
        }
    }
    Ok(GgufTokenizer {
        tokenizer: TextTokenizer::new(inner),
        bos_token,
        eos_token,
        add_bos,
        eos_ids,
        chat_template: md.opt_string("tokenizer.chat_template")?.map(str::to_owned),
    })
}

fn vocab_map(tokens: &[&str]) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::with_capacity(tokens.len());
    for (i, t) in tokens.iter().enumerate() {
        // On duplicates the first id wins, as in llama.cpp's token_to_id.
        m.entry((*t).to_string()).or_insert_with(|| json!(i));
    }
    m
}

fn gpt2_json(md: &Metadata<'_>, tokens: &[&str]) -> Result<Value> {
    let merges = md.strings("tokenizer.ggml.merges")?;
    for (i, m) in merges.iter().enumerate() {
        if m.split(' ').count() != 2 {
            return Err(md.error(&format!("tokenizer.ggml.merges[{i}]"), format!("`{m}` is not two tokens")));
        }
    }
    let pre = md.opt_string("tokenizer.ggml.pre")?.unwrap_or("default");
    let byte_level = |use_regex: bool| json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": use_regex});
    let split =
        |regex: &str| json!({"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": false});
    let (pre_tokenizer, ignore_merges) = match pre {
        "default" | "gpt2" | "gpt-2" => (byte_level(true), false),
        "smollm" => (
            json!({"type": "Sequence", "pretokenizers": [
                {"type": "Digits", "individual_digits": true}, byte_level(true)]}),
            false,
        ),
        "llama-bpe" | "llama3" => {
            (json!({"type": "Sequence", "pretokenizers": [split(LLAMA3_REGEX), byte_level(false)]}), true)
        }
        "qwen2" => (json!({"type": "Sequence", "pretokenizers": [split(QWEN2_REGEX), byte_level(false)]}), false),
        other => {
            return Err(Error::Unsupported(format!(
                "GGUF pre-tokenizer `{other}` (tokenizer.ggml.pre); supported: default, gpt2, smollm, llama-bpe, qwen2"
            )));
        }
    };
    Ok(json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "normalizer": null,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {
            "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": ignore_merges,
            "vocab": vocab_map(tokens),
            "merges": merges,
        },
    }))
}

fn llama_json(md: &Metadata<'_>, tokens: &[&str], types: &[i32], unk: Option<&str>) -> Result<Value> {
    let scores = md
        .opt_f32s("tokenizer.ggml.scores")?
        .ok_or_else(|| md.error("tokenizer.ggml.scores", "missing metadata key"))?;
    if scores.len() != tokens.len() {
        return Err(md.error(
            "tokenizer.ggml.scores",
            format!("has {} entries but tokenizer.ggml.tokens has {}", scores.len(), tokens.len()),
        ));
    }
    let add_space_prefix = md.opt_bool("tokenizer.ggml.add_space_prefix")?.unwrap_or(true);
    let merges = spm_merges(tokens, types, &scores);
    let mut normalizers = Vec::new();
    if add_space_prefix {
        normalizers.push(json!({"type": "Prepend", "prepend": "\u{2581}"}));
    }
    normalizers.push(json!({"type": "Replace", "pattern": {"String": " "}, "content": "\u{2581}"}));
    let mut decoders = vec![
        json!({"type": "Replace", "pattern": {"String": "\u{2581}"}, "content": " "}),
        json!({"type": "ByteFallback"}),
        json!({"type": "Fuse"}),
    ];
    if add_space_prefix {
        decoders.push(json!({"type": "Strip", "content": " ", "start": 1, "stop": 0}));
    }
    Ok(json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "normalizer": {"type": "Sequence", "normalizers": normalizers},
        "pre_tokenizer": null,
        "post_processor": null,
        "decoder": {"type": "Sequence", "decoders": decoders},
        "model": {
            "type": "BPE", "dropout": null, "unk_token": unk, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
            "vocab": vocab_map(tokens),
            "merges": merges,
        },
    }))
}

/// BPE merges from a SentencePiece vocabulary: every split of a normal piece into two pieces of
/// the vocabulary is a merge, ranked by the merged piece's score (highest first), ties by the ids
/// of the halves.
fn spm_merges(tokens: &[&str], types: &[i32], scores: &[f32]) -> Vec<[String; 2]> {
    let ids: HashMap<&str, usize> = tokens.iter().enumerate().rev().map(|(i, t)| (*t, i)).collect();
    let mut merges: Vec<(f32, usize, usize, &str, &str)> = Vec::new();
    for (i, piece) in tokens.iter().enumerate() {
        if types[i] != 1 {
            continue;
        }
        let mut local = Vec::new();
        for (pos, _) in piece.char_indices().skip(1) {
            let (l, r) = piece.split_at(pos);
            if let (Some(&li), Some(&ri)) = (ids.get(l), ids.get(r)) {
                local.push((scores[i], li, ri, l, r));
            }
        }
        local.sort_by_key(|m| (m.1, m.2));
        merges.extend(local);
    }
    // Stable: equal scores keep vocabulary order.
    merges.sort_by(|a, b| b.0.total_cmp(&a.0));
    merges.into_iter().map(|m| [m.3.to_string(), m.4.to_string()]).collect()
}

fn added_tokens(tokens: &[&str], types: &[i32]) -> Vec<Value> {
    tokens
        .iter()
        .zip(types)
        .enumerate()
        .filter(|(_, (_, t))| matches!(**t, TYPE_UNKNOWN | TYPE_CONTROL | TYPE_USER_DEFINED))
        .map(|(id, (content, t))| {
            json!({"id": id, "content": content, "single_word": false, "lstrip": false, "rstrip": false,
                   "normalized": false, "special": *t != TYPE_USER_DEFINED})
        })
        .collect()
}

fn bos_post_processor(bos: &str, bos_id: u32) -> Value {
    json!({
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {bos: {"id": bos, "ids": [bos_id], "tokens": [bos]}},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spm_merges_rank_by_score() {
        let tokens = ["<unk>", "a", "b", "c", "ab", "bc", "abc"];
        let types = [2, 1, 1, 1, 1, 1, 1];
        let scores = [0.0, 0.0, 0.0, 0.0, -1.0, -0.5, -2.0];
        let m = spm_merges(&tokens, &types, &scores);
        let m: Vec<String> = m.iter().map(|p| format!("{} {}", p[0], p[1])).collect();
        assert_eq!(m, ["b c", "a b", "a bc", "ab c"]);
    }
}
