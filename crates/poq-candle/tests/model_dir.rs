//! A model folder is checked when opened, in a fixed order, and its chat files are read on demand.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::Path;

use poq_candle::{Error, ModelDir, Pooling};

fn write(dir: &Path, file: &str, text: &str) {
    std::fs::write(dir.join(file), text).unwrap();
}

#[test]
fn open_names_the_first_missing_file_weights_before_tokenizer() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tiny-chat");
    assert!(matches!(ModelDir::open(&dir), Err(Error::Io { .. })));
    std::fs::create_dir(&dir).unwrap();
    assert!(matches!(ModelDir::open(&dir), Err(Error::MissingFile { file, .. }) if file == "config.json"));
    write(&dir, "config.json", "{\n  \"eos_token_id\": [2, 7],\n  oops\n}");
    assert!(matches!(ModelDir::open(&dir), Err(Error::Format { location, .. }) if location.starts_with("line 3")));
    write(&dir, "config.json", r#"{"model_type": "llama", "eos_token_id": [2, 7]}"#);
    let missing = |dir: &Path| match ModelDir::open(dir) {
        Err(Error::MissingFile { file, .. }) => file,
        other => panic!("{other:?}"),
    };
    assert!(missing(&dir).starts_with("model.safetensors"));
    write(&dir, "model.safetensors", "");
    assert_eq!(missing(&dir), "tokenizer.json");
    write(&dir, "tokenizer.json", "{}");

    let md = ModelDir::open(&dir).unwrap();
    assert_eq!((md.name(), md.model_type().unwrap()), ("tiny-chat".to_string(), "llama"));
    assert_eq!(md.sentence_config().pooling, vec![Pooling::Mean], "defaults without sentence-transformers files");
    assert_eq!(md.eos_token_ids().unwrap(), vec![2, 7]);
    assert!(md.tokenizer_config().unwrap().chat_template.is_none());
}

#[test]
fn chat_files_template_special_tokens_and_eos() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(dir, "config.json", r#"{"eos_token_id": 2}"#);
    write(dir, "model.safetensors", "");
    write(dir, "tokenizer.json", "{}");
    write(dir, "generation_config.json", r#"{"eos_token_id": 9}"#);
    write(dir, "tokenizer_config.json", r#"{"chat_template": "json", "eos_token": {"content": "</s>"}}"#);
    let md = ModelDir::open(dir).unwrap();
    assert_eq!(md.eos_token_ids().unwrap(), vec![9], "generation_config.json wins");
    let tc = md.tokenizer_config().unwrap();
    assert_eq!((tc.chat_template.as_deref(), tc.special_tokens["eos_token"].as_str()), (Some("json"), "</s>"));
    write(dir, "chat_template.jinja", "jinja");
    assert_eq!(md.tokenizer_config().unwrap().chat_template.as_deref(), Some("jinja"), "as in transformers");
}
