//! Model folders that are wrong in one way each give a typed error that names the problem.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use poq_eval::{CrossEncoder, Error, ModelDir, ModelError, StsEvaluator};
use tempfile::TempDir;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny").join(name)
}

/// A fresh copy of a fixture folder in `tmp`, which removes it when the test ends.
fn copy(name: &str, tmp: &TempDir) -> PathBuf {
    let dst = tmp.path().join(name);
    copy_dir(&fixture(name), &dst);
    dst
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let to = dst.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), to).unwrap();
        }
    }
}

fn edit_config(dir: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("config.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, v.to_string()).unwrap();
}

#[test]
fn missing_files_are_named() {
    assert!(matches!(ModelDir::open("/nonexistent/model"), Err(ModelError::Io { .. })));
    for file in ["config.json", "tokenizer.json", "model.safetensors"] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = copy("bert-cls", &tmp);
        std::fs::remove_file(dir.join(file)).unwrap();
        match ModelDir::open(&dir) {
            Err(ModelError::MissingFile { file: f, .. }) => assert!(f.starts_with(file), "{f}"),
            other => panic!("{file}: {other:?}"),
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy("roberta-st", &tmp);
    std::fs::remove_file(dir.join("1_Pooling/config.json")).unwrap();
    let err = ModelDir::open(&dir).unwrap_err();
    assert!(err.to_string().contains("1_Pooling/config.json"), "{err}");
}

#[test]
fn sharded_checkpoints_load_through_their_index() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy("bert-cls", &tmp);
    std::fs::rename(dir.join("model.safetensors"), dir.join("model-00001-of-00001.safetensors")).unwrap();
    std::fs::write(
        dir.join("model.safetensors.index.json"),
        r#"{"metadata": {}, "weight_map": {"classifier.weight": "model-00001-of-00001.safetensors"}}"#,
    )
    .unwrap();
    let md = ModelDir::open(&dir).unwrap();
    assert_eq!(md.weight_files().len(), 1);
    let sharded = CrossEncoder::load(&md, Default::default()).unwrap().logits(&[("a", "b")]).unwrap();
    let single = CrossEncoder::from_dir(fixture("bert-cls")).unwrap().logits(&[("a", "b")]).unwrap();
    assert_eq!(sharded, single);
    // An index naming a shard that is not there.
    std::fs::write(
        dir.join("model.safetensors.index.json"),
        r#"{"weight_map": {"x": "model-00002-of-00002.safetensors"}}"#,
    )
    .unwrap();
    assert!(matches!(ModelDir::open(&dir), Err(ModelError::MissingFile { .. })));
}

#[test]
fn unsupported_architectures_and_settings() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy("bert-cls", &tmp);
    edit_config(&dir, |v| v["model_type"] = "gpt2".into());
    assert!(matches!(CrossEncoder::from_dir(&dir), Err(Error::Unsupported(m)) if m.contains("gpt2")));
    assert!(matches!(StsEvaluator::from_dir(&dir), Err(Error::Unsupported(m)) if m.contains("gpt2")));
    edit_config(&dir, |v| {
        v["model_type"] = "bert".into();
        v["position_embedding_type"] = "relative_key".into();
    });
    assert!(matches!(CrossEncoder::from_dir(&dir), Err(Error::Unsupported(m)) if m.contains("relative_key")));

    let dir = copy("deberta-nli", &tmp);
    edit_config(&dir, |v| v["conv_kernel_size"] = 3.into());
    assert!(matches!(CrossEncoder::from_dir(&dir), Err(Error::Unsupported(m)) if m.contains("conv")));
    edit_config(&dir, |v| {
        v["conv_kernel_size"] = 0.into();
        v["id2label"] = serde_json::json!({"0": "a", "1": "b", "2": "c"});
    });
    assert!(matches!(CrossEncoder::from_dir(&dir), Err(Error::Unsupported(m)) if m.contains("entailment")));
}

#[test]
fn configs_that_do_not_match_the_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy("bert-cls", &tmp);
    edit_config(&dir, |v| v["intermediate_size"] = 65.into());
    match CrossEncoder::from_dir(&dir) {
        Err(Error::Format { location, message, .. }) => {
            assert!(location.contains("intermediate.dense.weight"), "{location}");
            assert!(message.contains("65"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    edit_config(&dir, |v| {
        v["intermediate_size"] = 64.into();
        v["num_attention_heads"] = 5.into();
    });
    assert!(
        matches!(CrossEncoder::from_dir(&dir), Err(Error::Format { location, .. }) if location == "num_attention_heads")
    );
    edit_config(&dir, |v| {
        v["num_attention_heads"] = 4.into();
        v["id2label"] = serde_json::json!({"0": "a", "1": "b"});
    });
    assert!(matches!(CrossEncoder::from_dir(&dir), Err(Error::Format { location, .. }) if location == "id2label"));
    // A mistyped value names its key.
    edit_config(&dir, |v| {
        v["id2label"] = serde_json::json!({"0": "a"});
        v["hidden_size"] = "wide".into();
    });
    assert!(matches!(CrossEncoder::from_dir(&dir), Err(Error::Format { location, .. }) if location == "hidden_size"));
    std::fs::write(dir.join("config.json"), "{ not json").unwrap();
    assert!(matches!(ModelDir::open(&dir), Err(ModelError::Format { location, .. }) if location.starts_with("line")));
}

#[cfg(feature = "hub")]
#[test]
fn hub_offline_is_a_clear_error() {
    // No network here: an id that is not cached must fail with ModelError::Hub, not hang or panic.
    let err = ModelDir::from_hub("poq-rs/definitely-not-cached-model", None).unwrap_err();
    assert!(matches!(err, ModelError::Hub(_)), "{err}");
}

#[test]
fn a_tokenizer_from_another_model_is_refused() {
    // roberta-st's tokenizer has more ids than bert-cls's embedding rows.
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy("bert-cls", &tmp);
    std::fs::copy(fixture("roberta-st").join("tokenizer.json"), dir.join("tokenizer.json")).unwrap();
    match CrossEncoder::from_dir(&dir) {
        Err(Error::Format { path, location, message }) => {
            assert!(path.ends_with("tokenizer.json") && location == "model.vocab", "{path:?} {location}");
            assert!(message.contains("vocab_size"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}
