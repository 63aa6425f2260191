//! A tiny random MPNet sentence encoder (mean pooling, normalization, max_seq_length 256) against
//! sentence-transformers, on the packed CPU path and on candle's padded graph. Two sequences of
//! 154 and 256 tokens put tokens up to 255 apart, so the relative position bias reaches its
//! logarithmic and its capped buckets; batches mix them with short ones, so the graph pads.
//! Fixtures: tests/fixtures/tiny/generate_mpnet.py.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use poq_eval::{CrossEncoder, Error, ModelDir, Pooling, StsEvaluator};
use poq_eval::{Family, relative_bucket};
use serde_json::Value;
use tempfile::TempDir;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny/mpnet-st")
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir().join("../expected_mpnet.json")).unwrap()).unwrap()
}

/// Largest absolute difference between `got` and the expected embeddings.
fn worst(got: &[Vec<f32>], want: &Value) -> f64 {
    let want = want.as_array().unwrap();
    assert_eq!(got.len(), want.len());
    let mut worst = 0.0f64;
    for (g, w) in got.iter().zip(want) {
        let w = w.as_array().unwrap();
        assert_eq!(g.len(), w.len());
        for (x, y) in g.iter().zip(w) {
            worst = worst.max((f64::from(*x) - y.as_f64().unwrap()).abs());
        }
    }
    worst
}

#[test]
fn mpnet_embeddings_match_sentence_transformers_packed_and_graph() {
    let e = expected();
    let sentences: Vec<&str> = e["sentences"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    let md = ModelDir::open(dir()).unwrap();
    assert_eq!(md.sentence_config().pooling, vec![Pooling::Mean]);
    assert!(md.sentence_config().normalize);
    let sts = StsEvaluator::from_dir(dir()).unwrap();
    assert_eq!(sts.encoder().max_len(), 256);
    for batch in [1, 3, 8] {
        let packed = sts.clone().with_batch_size(batch);
        let graph = StsEvaluator::from_encoder(sts.encoder().clone().with_packed(false)).with_batch_size(batch);
        for (path, enc) in [("packed", packed), ("graph", graph)] {
            let d = worst(&enc.embed(&sentences).unwrap(), &e["embeddings"]);
            assert!(d < 1e-4, "{path} path, batch {batch}: off by {d}");
            eprintln!("{path} path, batch {batch}: max abs difference {d:.2e}");
        }
    }
}

#[test]
fn mpnet_buckets_match_transformers() {
    let e = expected();
    let from = e["buckets_from"].as_i64().unwrap();
    let buckets = e["buckets"].as_array().unwrap();
    assert!(buckets.len() > 1000);
    for (i, want) in buckets.iter().enumerate() {
        let rel = from + i as i64;
        assert_eq!(relative_bucket(rel) as u64, want.as_u64().unwrap(), "relative position {rel}");
    }
}

#[test]
fn mpnet_config_is_read_as_mpnet() {
    let md = ModelDir::open(dir()).unwrap();
    let config = poq_eval::EncoderConfig::from_model_dir(&md).unwrap();
    assert_eq!(config.family, Family::Mpnet);
    assert_eq!(config.type_vocab_size, 0);
    assert_eq!(config.relative_buckets, 32);
    assert_eq!(config.position_offset(), 2);
    // MPNet is an STS encoder here: no cross-encoder head is claimed for it.
    let err = CrossEncoder::from_dir(dir()).unwrap_err();
    assert!(matches!(err, Error::Unsupported(_)), "{err}");
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

#[test]
fn mpnet_bucket_count_other_than_32_is_unsupported() {
    let tmp = TempDir::new().unwrap();
    let d = tmp.path().join("mpnet");
    copy_dir(&dir(), &d);
    let path = d.join("config.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    v["relative_attention_num_buckets"] = 16.into();
    std::fs::write(&path, v.to_string()).unwrap();
    let err = StsEvaluator::from_dir(&d).unwrap_err();
    assert!(matches!(err, Error::Unsupported(_)), "{err}");
    assert!(err.to_string().contains("relative_attention_num_buckets 16"), "{err}");
}

#[test]
fn mpnet_without_its_bias_table_names_the_tensor() {
    let tmp = TempDir::new().unwrap();
    let d = tmp.path().join("mpnet");
    copy_dir(&dir(), &d);
    // The same checkpoint under the `mpnet.` prefix, without the relative position bias table.
    let file = d.join("model.safetensors");
    let tensors = candle_core::safetensors::load(&file, &candle_core::Device::Cpu).unwrap();
    let kept: std::collections::HashMap<String, candle_core::Tensor> = tensors
        .into_iter()
        .filter(|(k, _)| k != "encoder.relative_attention_bias.weight")
        .map(|(k, t)| (format!("mpnet.{k}"), t))
        .collect();
    candle_core::safetensors::save(&kept, &file).unwrap();
    let err = StsEvaluator::from_dir(&d).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("mpnet.encoder.relative_attention_bias.weight") && msg.contains("missing tensor"), "{msg}");
}
