//! Hostile and synthetic GGUF files: truncated data, bad headers, missing or mistyped metadata,
//! unsupported architectures give typed errors; a SentencePiece-style vocabulary in the metadata
//! becomes a working tokenizer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use poq_infer::gguf::{self, metadata::Metadata};
use poq_infer::{Error, LoadOptions, LocalGenerator};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// `name.gguf` in the test's folder `dir`, which removes it when the test ends (the loader knows
/// a GGUF file by its extension).
fn tmp(dir: &TempDir, name: &str) -> PathBuf {
    dir.path().join(format!("{name}.gguf"))
}

fn strs(v: &[&str]) -> Value {
    Value::Array(v.iter().map(|s| Value::String((*s).to_string())).collect())
}

/// A GGUF with a byte-level BPE vocabulary and one tensor.
fn write_gguf(path: &Path, arch: Option<&str>, extra: Vec<(&str, Value)>) {
    let mut md: Vec<(&str, Value)> = vec![
        ("tokenizer.ggml.model", Value::String("gpt2".into())),
        ("tokenizer.ggml.tokens", strs(&["<|endoftext|>", "a", "b", "ab", "Ġ", "Ġa"])),
        (
            "tokenizer.ggml.token_type",
            Value::Array(vec![
                Value::I32(3),
                Value::I32(1),
                Value::I32(1),
                Value::I32(1),
                Value::I32(1),
                Value::I32(1),
            ]),
        ),
        ("tokenizer.ggml.merges", strs(&["a b", "Ġ a"])),
        ("tokenizer.ggml.eos_token_id", Value::U32(0)),
    ];
    if let Some(a) = arch {
        md.push(("general.architecture", Value::String(a.into())));
    }
    md.extend(extra);
    let t = QTensor::quantize(&Tensor::ones((64, 64), candle_core::DType::F32, &Device::Cpu).unwrap(), GgmlDType::F32)
        .unwrap();
    let refs: Vec<(&str, &Value)> = md.iter().map(|(k, v)| (*k, v)).collect();
    let mut f = std::fs::File::create(path).unwrap();
    gguf_file::write(&mut f, &refs, &[("token_embd.weight", &t)]).unwrap();
}

fn load_err(path: &Path) -> Error {
    LocalGenerator::load(path.to_str().unwrap(), &LoadOptions::default()).unwrap_err()
}

#[test]
fn truncated_file_names_the_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let p = tmp(&dir, "trunc");
    write_gguf(&p, Some("llama"), vec![]);
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() - 100]).unwrap();
    let err = load_err(&p);
    assert!(matches!(&err, Error::Tensor { tensor, .. } if tensor == "token_embd.weight"), "{err}");
    // Cut inside the header: a format error, not a panic.
    std::fs::write(&p, &bytes[..40]).unwrap();
    assert!(matches!(load_err(&p), Error::Format { .. }));
    std::fs::write(&p, b"not a gguf file at all").unwrap();
    assert!(matches!(load_err(&p), Error::Format { .. }));
}

#[test]
fn missing_and_unsupported_metadata_are_typed() {
    let dir = tempfile::tempdir().unwrap();
    let p = tmp(&dir, "noarch");
    write_gguf(&p, None, vec![]);
    assert!(matches!(load_err(&p), Error::Format { location, .. } if location == "general.architecture"));

    let p = tmp(&dir, "mamba");
    write_gguf(&p, Some("mamba"), vec![]);
    assert!(matches!(load_err(&p), Error::Unsupported(m) if m.contains("mamba")));

    // A llama file without its hyper-parameters: the first missing key is named.
    let p = tmp(&dir, "nollama");
    write_gguf(&p, Some("llama"), vec![]);
    let err = load_err(&p);
    assert!(
        matches!(&err, Error::Format { location, message, .. }
            if location == "llama.embedding_length" && message.contains("missing")),
        "{err}"
    );

    let p = tmp(&dir, "badpre");
    write_gguf(&p, Some("llama"), vec![("tokenizer.ggml.pre", Value::String("weird".into()))]);
    assert!(matches!(load_err(&p), Error::Unsupported(m) if m.contains("weird")));

    let p = tmp(&dir, "badeos");
    write_gguf(&p, Some("llama"), vec![("tokenizer.ggml.bos_token_id", Value::U32(99))]);
    assert!(matches!(load_err(&p), Error::Format { location, .. } if location == "tokenizer.ggml.bos_token_id"));

    let p = tmp(&dir, "mistyped");
    write_gguf(&p, Some("llama"), vec![("tokenizer.ggml.pre", Value::U32(1))]);
    assert!(matches!(load_err(&p), Error::Format { location, .. } if location == "tokenizer.ggml.pre"));
}

#[test]
fn byte_level_bpe_from_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let p = tmp(&dir, "bpe");
    write_gguf(&p, Some("llama"), vec![]);
    let (content, _) = gguf::read_content(&p).unwrap();
    let tok = gguf::tokenizer::from_metadata(&Metadata::new(&content, &p)).unwrap();
    assert_eq!(tok.tokenizer.encode("ab a<|endoftext|>", false).unwrap(), vec![3, 5, 0]);
    assert_eq!(tok.tokenizer.decode(&[3, 5, 0], true).unwrap(), "ab a");
    assert_eq!(tok.eos_ids, vec![0]);
    assert_eq!(tok.eos_token.as_deref(), Some("<|endoftext|>"));
}

#[test]
fn sentencepiece_vocabulary_from_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let p = tmp(&dir, "spm");
    let tokens = ["<unk>", "<s>", "</s>", "<0x0A>", "<0xC3>", "<0xA9>", "▁", "h", "i", "hi", "▁hi", "▁h", "é"];
    let types: Vec<Value> = [2, 3, 3, 6, 6, 6, 1, 1, 1, 1, 1, 1, 1].iter().map(|t| Value::I32(*t)).collect();
    let scores: Vec<Value> = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0, -2.0, -2.0, -3.0, -4.0, -5.0, -6.0]
        .iter()
        .map(|s| Value::F32(*s))
        .collect();
    let md: Vec<(&str, Value)> = vec![
        ("general.architecture", Value::String("llama".into())),
        ("tokenizer.ggml.model", Value::String("llama".into())),
        ("tokenizer.ggml.tokens", strs(&tokens)),
        ("tokenizer.ggml.token_type", Value::Array(types)),
        ("tokenizer.ggml.scores", Value::Array(scores)),
        ("tokenizer.ggml.bos_token_id", Value::U32(1)),
        ("tokenizer.ggml.eos_token_id", Value::U32(2)),
        ("tokenizer.ggml.unknown_token_id", Value::U32(0)),
        ("tokenizer.ggml.add_bos_token", Value::Bool(true)),
    ];
    let refs: Vec<(&str, &Value)> = md.iter().map(|(k, v)| (*k, v)).collect();
    gguf_file::write(&mut std::fs::File::create(&p).unwrap(), &refs, &[]).unwrap();
    let (content, _) = gguf::read_content(&p).unwrap();
    let tok = gguf::tokenizer::from_metadata(&Metadata::new(&content, &p)).unwrap().tokenizer;
    // "▁hi" is one piece; "é" is in the vocabulary, "\n" falls back to its byte token.
    assert_eq!(tok.encode("hi hi\n", false).unwrap(), vec![10, 10, 3]);
    assert_eq!(tok.encode("hi", true).unwrap(), vec![1, 10], "add_bos_token");
    assert_eq!(tok.decode(&[1, 10, 10, 3, 4, 5], true).unwrap(), "hi hi\né");
}
