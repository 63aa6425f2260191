//! SQuAD JSON and CNN/DM JSONL/CSV loaders on arbitrary file content: a typed error or samples,
//! never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poq_eval::datasets::{load_cnndm_csv, load_cnndm_jsonl, load_squad};
use std::path::PathBuf;

fn scratch(ext: &str) -> PathBuf {
    std::env::temp_dir().join(format!("poq-fuzz-datasets-{}.{ext}", std::process::id()))
}

fuzz_target!(|data: &[u8]| {
    let json = scratch("json");
    std::fs::write(&json, data).expect("temp file");
    if let Ok(samples) = load_squad(&json) {
        assert!(samples.iter().all(|s| !s.references.is_empty()));
    }
    let jsonl = scratch("jsonl");
    std::fs::write(&jsonl, data).expect("temp file");
    let _ = load_cnndm_jsonl(&jsonl);
    let csv = scratch("csv");
    std::fs::write(&csv, data).expect("temp file");
    let _ = load_cnndm_csv(&csv);
});
