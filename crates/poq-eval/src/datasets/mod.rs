//! Data sets of the paper: SQuAD v1.1 (question answering) and CNN/DailyMail (summarization),
//! loaded into [`poq_core::Sample`]s, sampled with a seed, and turned into generation requests.
//!
//! Loaders are strict: a malformed file is an [`Error::Format`](crate::Error::Format) that names the
//! file and the line or JSON path of the first problem, never a panic or a silently skipped row.

mod cnndm;
mod prompt;
mod sampling;
mod squad;

pub use cnndm::{load_cnndm_csv, load_cnndm_jsonl};
pub(crate) use prompt::fill;
pub use prompt::{PromptTemplates, QA_MAX_NEW_TOKENS, SUMMARY_MAX_NEW_TOKENS};
pub use sampling::{sample_n, sample_per_task};
pub use squad::load_squad;

use std::path::PathBuf;

/// The shared reference data folder, when it exists: `$POQ_DATA_DIR`, else `../shared/data` next to
/// the workspace this crate was built in.
pub fn shared_data_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("POQ_DATA_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    };
    dir.is_dir().then_some(dir)
}

/// Where the official SQuAD v1.1 dev file is in [`shared_data_dir`], when present.
pub fn squad_dev_path() -> Option<PathBuf> {
    shared_data_dir().map(|d| d.join("squad/dev-v1.1.json")).filter(|p| p.is_file())
}

/// Where the 250 CNN/DailyMail test articles are in [`shared_data_dir`], when present.
pub fn cnndm_test_path() -> Option<PathBuf> {
    shared_data_dir().map(|d| d.join("cnndm/test-250.jsonl")).filter(|p| p.is_file())
}
