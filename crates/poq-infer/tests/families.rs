//! Tiny random Llama, Qwen2, Gemma-2 and Phi-3 checkpoints made by Python transformers
//! (tests/fixtures/make_tiny_models.py): our safetensors generators must produce the same 20 greedy
//! ids and the same logits after the prompt.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use poq_core::{FinishReason, GenerationRequest, Generator, Sampling};
use poq_infer::{Error, LoadOptions, LocalGenerator};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

fn tiny(family: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny").join(family)
}

fn expected(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap()
}

fn load(dir: &Path) -> LocalGenerator {
    LocalGenerator::load(dir.to_str().unwrap(), &LoadOptions::default()).unwrap()
}

fn check_family(family: &str) {
    let dir = tiny(family);
    let ex = expected(&dir);
    let mut g = load(&dir);
    let prompt_ids: Vec<u32> = serde_json::from_value(ex["prompt_ids"].clone()).unwrap();
    assert_eq!(g.tokenizer().encode(ex["prompt"].as_str().unwrap(), true).unwrap(), prompt_ids);

    let logits = g.prompt_logits(&prompt_ids).unwrap();
    let want: Vec<f32> = serde_json::from_value(ex["first_logits"].clone()).unwrap();
    assert_eq!(logits.len(), want.len());
    let max_diff = logits.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(max_diff < 1e-3, "{family}: logits differ by {max_diff}");

    let out = g.generate_tokens(&prompt_ids, 20, &Sampling::default(), false, &mut |_| Ok(false)).unwrap();
    let want_ids: Vec<u32> = serde_json::from_value(ex["greedy_ids"].clone()).unwrap();
    assert_eq!(out.tokens, want_ids, "{family}: greedy ids");
    assert_eq!(out.finish_reason, FinishReason::Length);

    // The same model through the Generator trait: chat template, EOS ids [2, 0] from
    // generation_config.json, timings.
    assert_eq!(g.eos_ids(), &[2, 0]);
    let gen_ = g.generate(&GenerationRequest::user("Hello world!", 8)).unwrap();
    assert_eq!(
        gen_.prompt_tokens,
        g.tokenizer()
            .encode(&g.render_prompt(&[poq_core::ChatMessage::user("Hello world!")]).unwrap(), false)
            .unwrap()
            .len()
    );
    assert!(gen_.generated_tokens >= 1 && gen_.generated_tokens <= 8);
    assert!(gen_.prefill > std::time::Duration::ZERO);
}

#[test]
fn llama_sharded_matches_transformers() {
    check_family("llama");
}

#[test]
fn qwen2_tied_matches_transformers() {
    check_family("qwen2");
}

#[test]
fn gemma2_matches_transformers() {
    check_family("gemma2");
}

#[test]
fn phi3_matches_transformers() {
    check_family("phi3");
}

/// Copies a tiny model folder into `tmp` so a test can break it; `tmp` removes the copy when the
/// test ends.
fn scratch_copy(family: &str, tmp: &TempDir) -> PathBuf {
    let dst = tmp.path().join(family);
    std::fs::create_dir(&dst).unwrap();
    for e in std::fs::read_dir(tiny(family)).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
    }
    dst
}

fn edit_config(dir: &Path, f: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) {
    let p = dir.join("config.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    f(v.as_object_mut().unwrap());
    std::fs::write(&p, serde_json::to_string(&v).unwrap()).unwrap();
}

fn load_err(dir: &Path) -> Error {
    LocalGenerator::load(dir.to_str().unwrap(), &LoadOptions::default()).unwrap_err()
}

#[test]
fn missing_config_field_is_a_typed_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = scratch_copy("qwen2", &tmp);
    edit_config(&dir, |m| {
        m.remove("hidden_size");
    });
    let err = load_err(&dir);
    assert!(matches!(&err, Error::Format { message, .. } if message.contains("hidden_size")), "{err}");
}

#[test]
fn mistyped_config_field_names_its_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = scratch_copy("llama", &tmp);
    edit_config(&dir, |m| {
        m.insert("num_hidden_layers".into(), "two".into());
    });
    let err = load_err(&dir);
    assert!(matches!(&err, Error::Format { location, .. } if location == "num_hidden_layers"), "{err}");
}

#[test]
fn a_tokenizer_from_another_model_is_refused() {
    // The tiny Llama has 320 embedding rows; a tokenizer with 40 more ids is another model's.
    let tmp = tempfile::tempdir().unwrap();
    let dir = scratch_copy("llama", &tmp);
    let path = dir.join("tokenizer.json");
    let mut tok: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let added = tok["added_tokens"].as_array_mut().unwrap();
    for i in 0..40 {
        added.push(serde_json::json!({"id": 320 + i, "content": format!("<extra_{i}>"), "single_word": false,
            "lstrip": false, "rstrip": false, "normalized": false, "special": true}));
    }
    std::fs::write(&path, tok.to_string()).unwrap();
    let err = load_err(&dir);
    assert!(
        matches!(&err, Error::Format { path, location, .. } if path.ends_with("tokenizer.json") && location == "model.vocab"),
        "{err}"
    );
}

#[test]
fn unsupported_model_type_is_typed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = scratch_copy("phi3", &tmp);
    edit_config(&dir, |m| {
        m.insert("model_type".into(), "mamba".into());
    });
    assert!(matches!(load_err(&dir), Error::Unsupported(m) if m.contains("mamba")));
}

#[test]
fn shape_mismatch_and_missing_files_are_typed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = scratch_copy("llama", &tmp);
    edit_config(&dir, |m| {
        m.insert("intermediate_size".into(), 96.into());
    });
    let err = load_err(&dir);
    assert!(matches!(&err, Error::Tensor { tensor, .. } if tensor.contains("mlp")), "{err}");

    let dir = scratch_copy("gemma2", &tmp);
    edit_config(&dir, |m| {
        m.insert("intermediate_size".into(), 96.into());
    });
    let err = load_err(&dir);
    assert!(matches!(&err, Error::Format { message, .. } if message.contains("shape")), "{err}");

    let dir = scratch_copy("qwen2", &tmp);
    std::fs::remove_file(dir.join("tokenizer.json")).unwrap();
    assert!(matches!(load_err(&dir), Error::MissingFile { file, .. } if file == "tokenizer.json"));
    std::fs::remove_file(dir.join("model.safetensors")).unwrap();
    assert!(matches!(load_err(&dir), Error::MissingFile { file, .. } if file.contains("model.safetensors")));

    let err = load_err(Path::new("/nonexistent/model/folder"));
    assert!(matches!(err, Error::Io { .. }), "{err}");
}

#[test]
fn broken_json_names_the_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = scratch_copy("phi3", &tmp);
    std::fs::write(dir.join("config.json"), "{\n  \"model_type\": \"phi3\",\n  oops\n}").unwrap();
    assert!(matches!(load_err(&dir), Error::Format { location, .. } if location.starts_with("line 3")));
}
