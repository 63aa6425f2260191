//! A resumable on-disk cache of pipeline results (generations, scores), one JSON line per entry.
//!
//! The reproduction runs for many minutes; an interrupted run must resume where it stopped. Each
//! entry is appended and flushed as soon as it is computed, keyed by a hash of everything that
//! determines it (model file hash, sample id, settings). A torn last line from a killed process is
//! cut off on load; any other malformed line is an error that names the file and line.

use serde::{Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Errors of the cache.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The file could not be read or written.
    #[error("cache {}: {source}", path.display())]
    Io {
        /// The cache file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A line is not a valid entry.
    #[error("cache {}:{line}: {message}", path.display())]
    Corrupt {
        /// The cache file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// A key from the parts that determine a cached value.
pub fn cache_key(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    h.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// An append-only JSONL cache of values of type `T`.
#[derive(Debug)]
pub struct DiskCache<T> {
    path: PathBuf,
    entries: HashMap<String, T>,
    file: File,
}

impl<T: Serialize + DeserializeOwned + Clone> DiskCache<T> {
    /// Opens (or creates) the cache file and loads its entries.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CacheError> {
        let path = path.as_ref().to_path_buf();
        let io = |source| CacheError::Io { path: path.clone(), source };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut entries = HashMap::new();
        if path.exists() {
            let mut text = std::fs::read_to_string(&path).map_err(io)?;
            // A killed run can leave a torn final line: cut it off, it will be recomputed.
            if !text.is_empty() && !text.ends_with('\n') {
                text.truncate(text.rfind('\n').map_or(0, |i| i + 1));
                let f = OpenOptions::new().write(true).open(&path).map_err(io)?;
                f.set_len(text.len() as u64).map_err(io)?;
            }
            for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                let (k, v) = serde_json::from_str::<(String, T)>(line).map_err(|e| CacheError::Corrupt {
                    path: path.clone(),
                    line: i + 1,
                    message: e.to_string(),
                })?;
                entries.insert(k, v);
            }
        }
        let file = OpenOptions::new().create(true).append(true).open(&path).map_err(io)?;
        Ok(DiskCache { path, entries, file })
    }

    /// The cached value for `key`.
    pub fn get(&self, key: &str) -> Option<&T> {
        self.entries.get(key)
    }

    /// Stores and flushes a value.
    pub fn insert(&mut self, key: String, value: T) -> Result<(), CacheError> {
        let line = serde_json::to_string(&(&key, &value)).map_err(|e| CacheError::Corrupt {
            path: self.path.clone(),
            line: 0,
            message: e.to_string(),
        })?;
        writeln!(self.file, "{line}")
            .and_then(|_| self.file.flush())
            .map_err(|source| CacheError::Io { path: self.path.clone(), source })?;
        self.entries.insert(key, value);
        Ok(())
    }

    /// The cached value, or `compute()` stored under `key`.
    pub fn get_or_try_insert<E: From<CacheError>>(
        &mut self,
        key: String,
        compute: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        if let Some(v) = self.entries.get(&key) {
            return Ok(v.clone());
        }
        let v = compute()?;
        self.insert(key, v.clone())?;
        Ok(v)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resumes_and_survives_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.jsonl");
        {
            let mut c: DiskCache<f64> = DiskCache::open(&path).unwrap();
            c.insert(cache_key(&["m", "s1"]), 1.5).unwrap();
            c.insert(cache_key(&["m", "s2"]), 2.5).unwrap();
        }
        // Simulate a kill in the middle of a write.
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"[\"abc\", 3.").unwrap();
        let mut c: DiskCache<f64> = DiskCache::open(&path).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c.get(&cache_key(&["m", "s2"])), Some(&2.5));
        let mut calls = 0;
        let v: Result<f64, CacheError> = c.get_or_try_insert(cache_key(&["m", "s1"]), || {
            calls += 1;
            Ok(9.0)
        });
        assert_eq!((v.unwrap(), calls), (1.5, 0));
        c.insert(cache_key(&["m", "s3"]), 4.0).unwrap();
        drop(c);
        let c: DiskCache<f64> = DiskCache::open(&path).unwrap();
        assert_eq!(c.len(), 3, "the entry after the torn line must load");
        // A corrupt line in the middle is an error naming the line.
        std::fs::write(&path, "garbage\n[\"k\", 1.0]\n").unwrap();
        let e = DiskCache::<f64>::open(&path).unwrap_err().to_string();
        assert!(e.contains(":1:"), "{e}");
    }

    #[test]
    fn keys_separate_their_parts() {
        assert_ne!(cache_key(&["ab", "c"]), cache_key(&["a", "bc"]));
        assert_eq!(cache_key(&["x"]).len(), 32);
    }
}
