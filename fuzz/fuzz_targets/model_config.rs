//! config.json parsing of both model loaders: the fuzz bytes replace config.json in a copy of a
//! tiny safetensors model (BERT for poq-eval, Llama for poq-infer). A typed error or a model,
//! never a panic or an unbounded allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poq_infer::{LoadOptions, LocalGenerator};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// Copies a fixture folder's files once per process into a scratch folder.
fn scratch(fixture: &str, tag: &str) -> PathBuf {
    let src = Path::new(ROOT).join(fixture);
    let dst = std::env::temp_dir().join(format!("poq-fuzz-config-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dst).expect("scratch folder");
    for entry in std::fs::read_dir(&src).expect("fixture folder") {
        let entry = entry.expect("fixture entry");
        if entry.path().is_file() {
            std::fs::copy(entry.path(), dst.join(entry.file_name())).expect("copy fixture");
        }
    }
    dst
}

fuzz_target!(|data: &[u8]| {
    static DIRS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    let (bert, llama) = DIRS.get_or_init(|| {
        (
            scratch("crates/poq-eval/tests/fixtures/tiny/bert-cls", "bert"),
            scratch("crates/poq-infer/tests/fixtures/tiny/llama", "llama"),
        )
    });
    std::fs::write(bert.join("config.json"), data).expect("write config");
    if let Ok(dir) = poq_eval::ModelDir::open(bert) {
        let _ = dir.model_type();
        let _ = poq_eval::CrossEncoder::load(&dir, Default::default());
    }
    std::fs::write(llama.join("config.json"), data).expect("write config");
    let _ = LocalGenerator::load(llama.to_str().expect("utf-8 path"), &LoadOptions::default());
});
