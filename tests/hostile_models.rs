//! Hostile model files: truncated or corrupted safetensors and GGUF, a config.json whose shapes do
//! not match the weights, a tokenizer with ids past the embedding table. Each load or call gives a
//! typed error whose message names the file, tensor or field; none panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(all(feature = "eval", feature = "infer"))]

use poq::core::{GenerationRequest, Generator};
use poq::eval::CrossEncoder;
use poq::infer::{LoadOptions, LocalGenerator};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn eval_fixture() -> PathBuf {
    root().join("crates/poq-eval/tests/fixtures/tiny/bert-cls")
}

fn infer_fixture() -> PathBuf {
    root().join("crates/poq-infer/tests/fixtures/tiny/llama")
}

/// Copies the files (not subfolders) of `src` into a new folder of the same name in `tmp`, which
/// removes it when the test ends.
fn copy_model(src: &Path, tmp: &TempDir) -> PathBuf {
    let dst = tmp.path().join(src.file_name().unwrap());
    std::fs::create_dir(&dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), dst.join(entry.file_name())).unwrap();
        }
    }
    dst
}

fn edit_json(path: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, v.to_string()).unwrap();
}

/// Ways to damage a safetensors file: each keeps the name, so the loader must read the content.
fn damaged_safetensors(bytes: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut huge_header = bytes.to_vec();
    huge_header[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    let mut bad_json = bytes.to_vec();
    bad_json[8] = b'!';
    let mut past_end = bytes.to_vec();
    past_end[..8].copy_from_slice(&((bytes.len() as u64) + 1).to_le_bytes());
    vec![
        ("empty", vec![]),
        ("7 bytes", bytes[..7].to_vec()),
        ("header only", bytes[..8 + header_len].to_vec()),
        ("half the data", bytes[..8 + header_len + (bytes.len() - 8 - header_len) / 2].to_vec()),
        ("last byte cut", bytes[..bytes.len() - 1].to_vec()),
        ("header length u64::MAX", huge_header),
        ("header length past the end", past_end),
        ("header not JSON", bad_json),
    ]
}

#[test]
fn safetensors_truncated_or_corrupted_eval() {
    let original = std::fs::read(eval_fixture().join("model.safetensors")).unwrap();
    for (what, bytes) in damaged_safetensors(&original) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = copy_model(&eval_fixture(), &tmp);
        std::fs::write(dir.join("model.safetensors"), bytes).unwrap();
        let err = CrossEncoder::from_dir(&dir).expect_err(what);
        let msg = err.to_string();
        assert!(msg.contains("model.safetensors"), "{what}: {msg}");
    }
}

#[test]
fn safetensors_truncated_or_corrupted_infer() {
    let shard = "model-00002-of-00003.safetensors";
    let original = std::fs::read(infer_fixture().join(shard)).unwrap();
    for (what, bytes) in damaged_safetensors(&original) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = copy_model(&infer_fixture(), &tmp);
        std::fs::write(dir.join(shard), bytes).unwrap();
        let err = LocalGenerator::load(dir.to_str().unwrap(), &LoadOptions::default()).expect_err(what);
        let msg = err.to_string();
        assert!(msg.contains(shard), "{what}: {msg}");
    }
}

#[test]
fn config_with_wrong_hidden_size() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_model(&eval_fixture(), &tmp);
    edit_json(&dir.join("config.json"), |v| v["hidden_size"] = 48.into());
    let msg = CrossEncoder::from_dir(&dir).unwrap_err().to_string();
    assert!(msg.contains("model.safetensors") && msg.contains("48"), "{msg}");
    edit_json(&dir.join("config.json"), |v| v["hidden_size"] = "thirty-two".into());
    // serde's message names the expected type, not the key; the file is named.
    let msg = CrossEncoder::from_dir(&dir).unwrap_err().to_string();
    assert!(msg.contains("config.json") && msg.contains("thirty-two"), "{msg}");

    let dir = copy_model(&infer_fixture(), &tmp);
    let load =
        |dir: &Path| LocalGenerator::load(dir.to_str().unwrap(), &LoadOptions::default()).unwrap_err().to_string();
    // Inconsistent with head_dim: caught in the config itself.
    edit_json(&dir.join("config.json"), |v| v["hidden_size"] = 80.into());
    let msg = load(&dir);
    assert!(msg.contains("config.json") && msg.contains("hidden_size"), "{msg}");
    // Consistent config, but not the shapes of the weights: the tensor is named.
    edit_json(&dir.join("config.json"), |v| v["head_dim"] = 20.into());
    let msg = load(&dir);
    assert!(msg.contains("80") && msg.contains("model.embed_tokens.weight"), "{msg}");
    edit_json(&dir.join("config.json"), |v| {
        v["hidden_size"] = 64.into();
        v["num_attention_heads"] = 0.into();
    });
    let msg = load(&dir);
    assert!(msg.contains("num_attention_heads"), "{msg}");
}

/// Adds a special token whose id is past the model's vocabulary to a tokenizer.json.
fn add_out_of_range_token(path: &Path, id: u32) {
    edit_json(path, |v| {
        v["added_tokens"].as_array_mut().unwrap().push(serde_json::json!({
            "id": id, "content": "<hostile>", "single_word": false, "lstrip": false,
            "rstrip": false, "normalized": false, "special": true
        }));
    });
}

#[test]
fn tokenizer_larger_than_the_embedding_table() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_model(&eval_fixture(), &tmp);
    add_out_of_range_token(&dir.join("tokenizer.json"), 5000);
    match CrossEncoder::from_dir(&dir) {
        Err(e) => assert!(e.to_string().contains("tokenizer") || e.to_string().contains("vocab"), "{e}"),
        Ok(ce) => {
            // The loader does not compare the tokenizer with the embedding table; the lookup
            // fails with candle's typed error instead of a panic or garbage.
            let err = ce.logits(&[("<hostile>", "b")]).expect_err("id 5000 is past the 93-row embedding");
            assert!(err.to_string().contains("invalid index"), "{err}");
        }
    }

    let dir = copy_model(&infer_fixture(), &tmp);
    add_out_of_range_token(&dir.join("tokenizer.json"), 5000);
    match LocalGenerator::load(dir.to_str().unwrap(), &LoadOptions::default()) {
        Err(e) => assert!(e.to_string().contains("tokenizer") || e.to_string().contains("vocab"), "{e}"),
        Ok(mut g) => {
            let err = g
                .generate(&GenerationRequest::user("<hostile>", 2))
                .expect_err("id 5000 is past the 320-row embedding");
            assert!(err.to_string().contains("invalid index") || err.to_string().contains("vocab"), "{err}");
        }
    }
}

fn smollm2_gguf() -> Option<PathBuf> {
    let models = std::env::var_os("POQ_MODELS_DIR").map_or_else(|| root().join("models"), PathBuf::from);
    let path = models.join("SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf");
    if path.is_file() {
        return Some(path);
    }
    assert!(std::env::var("POQ_REQUIRE_MODELS").as_deref() != Ok("1"), "{} is missing", path.display());
    eprintln!("skipped: {} is missing; run scripts/fetch-models.sh", path.display());
    None
}

#[test]
fn gguf_truncated_and_corrupted() {
    let Some(model) = smollm2_gguf() else { return };
    let mut head = vec![0u8; 1024];
    std::io::Read::read_exact(&mut std::fs::File::open(model).unwrap(), &mut head).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut bad_magic = head.clone();
    bad_magic[..4].copy_from_slice(b"GGUX");
    let mut bad_version = head.clone();
    bad_version[4..8].copy_from_slice(&99u32.to_le_bytes());
    let mut huge_counts = head.clone();
    huge_counts[8..24].fill(0xff);
    let cases: Vec<(&str, &[u8])> = vec![
        ("empty", &[]),
        ("magic only", &head[..4]),
        ("first KB", &head),
        ("first 100 bytes", &head[..100]),
        ("bad magic", &bad_magic),
        ("bad version", &bad_version),
        ("tensor and key counts u64::MAX", &huge_counts),
    ];
    for (what, bytes) in cases {
        let path = dir.path().join("SmolLM2-truncated.gguf");
        std::fs::write(&path, bytes).unwrap();
        let err = LocalGenerator::load(path.to_str().unwrap(), &LoadOptions::default()).expect_err(what);
        let msg = err.to_string();
        assert!(msg.contains("SmolLM2-truncated.gguf") && msg.contains("GGUF"), "{what}: {msg}");
    }
}
