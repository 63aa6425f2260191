//! Every input under `fuzz/regressions/<target>/` (crashes found by the cargo-fuzz targets in
//! `fuzz/`, and the seeds) goes through the same code as its fuzz target; each must give a value or
//! a typed error, never a panic. Adding a crashing input is adding a file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(all(feature = "eval", feature = "infer", feature = "sim"))]

use poq::core::{EvalItem, Evaluator};
use poq::infer::gguf;
use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions").join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
    files.sort();
    files.into_iter().map(|p| (p.clone(), std::fs::read(p).unwrap())).collect()
}

#[test]
fn gguf_regressions() {
    let cases = inputs("gguf");
    assert!(!cases.is_empty());
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in cases {
        let path = dir.path().join("input.gguf");
        std::fs::write(&path, bytes).unwrap();
        let err = match gguf::read_content(&path) {
            Ok(_) => gguf::load_with(&path, &poq::infer::LoadOptions::default().device, gguf::GgufPrecision::Quantized)
                .map(drop),
            Err(e) => Err(e),
        };
        // Every committed crash is a malformed file: it must be refused with the path named.
        let err = err.expect_err(&name.display().to_string());
        assert!(err.to_string().contains("input.gguf"), "{}: {err}", name.display());
    }
}

#[test]
fn f1_regressions() {
    for (_, bytes) in inputs("f1") {
        let text = String::from_utf8_lossy(&bytes);
        let (pred, refs) = text.split_once('\0').unwrap_or((&text, ""));
        let item = EvalItem::new(pred, refs.split('\n').map(str::to_owned).collect());
        let s = poq::eval::TokenF1.score(&item).unwrap();
        assert!((0.0..=10.0).contains(&s.value()));
    }
}

#[test]
fn scenario_regressions() {
    for (_, bytes) in inputs("scenario") {
        let Ok(text) = std::str::from_utf8(&bytes) else { continue };
        for sc in [poq::sim::Scenario::from_toml(text), poq::sim::Scenario::from_json(text)].into_iter().flatten() {
            sc.validate().unwrap();
        }
    }
}

#[test]
fn judge_reply_regressions() {
    for (_, bytes) in inputs("judge_reply") {
        if let Some(s) = poq::eval::parse_score(&String::from_utf8_lossy(&bytes)) {
            assert!((0.0..=10.0).contains(&s));
        }
    }
}

#[cfg(feature = "server")]
#[test]
fn openai_request_regressions() {
    let config = poq::infer::ServerConfig::default();
    for (_, bytes) in inputs("openai_request") {
        let _ = poq::infer::parse_chat_request(&bytes, &config);
    }
}
