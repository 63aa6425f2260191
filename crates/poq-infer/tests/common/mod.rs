//! What the real-model tests share: where the fetched weights are.
#![allow(clippy::panic, dead_code)]

use std::path::PathBuf;

/// The file `models/REL` (under `$POQ_MODELS_DIR`, else the workspace's `models/`), or `None` (skip) when it
/// is absent; absent with `POQ_REQUIRE_MODELS=1` (CI) is a failure.
pub fn real_model(rel: &str) -> Option<PathBuf> {
    let root = std::env::var_os("POQ_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models"));
    let path = root.join(rel);
    if path.is_file() {
        return Some(path);
    }
    let msg = format!("{} is missing: run `bash scripts/fetch-models.sh`", path.display());
    if std::env::var("POQ_REQUIRE_MODELS").as_deref() == Ok("1") {
        panic!("{msg} (POQ_REQUIRE_MODELS=1)");
    }
    eprintln!("skipping: {msg}");
    None
}
