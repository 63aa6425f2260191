//! Named tensors with shape checks that name the tensor and the file on failure.

use std::collections::HashMap;
use std::path::PathBuf;

use candle_core::Tensor;

use crate::{Error, Result};

/// The tensors of a checkpoint, looked up under a prefix.
#[derive(Debug, Clone)]
pub(crate) struct Weights {
    tensors: HashMap<String, Tensor>,
    /// The file(s) the tensors came from, for error messages.
    source: PathBuf,
    prefix: String,
}

impl Weights {
    pub(crate) fn new(tensors: HashMap<String, Tensor>, source: PathBuf) -> Weights {
        Weights { tensors, source, prefix: String::new() }
    }

    /// The same tensors under `prefix.` (an empty prefix resets nothing).
    pub(crate) fn pp(&self, prefix: &str) -> Weights {
        let prefix = match (self.prefix.is_empty(), prefix.is_empty()) {
            (_, true) => self.prefix.clone(),
            (true, false) => prefix.to_owned(),
            (false, false) => format!("{}.{prefix}", self.prefix),
        };
        Weights { tensors: self.tensors.clone(), source: self.source.clone(), prefix }
    }

    fn full(&self, name: &str) -> String {
        if self.prefix.is_empty() { name.to_owned() } else { format!("{}.{name}", self.prefix) }
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(&self.full(name))
    }

    /// The tensor `name` with exactly `shape`.
    pub(crate) fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let full = self.full(name);
        let t = self.tensors.get(&full).ok_or_else(|| Error::Format {
            path: self.source.clone(),
            location: full.clone(),
            message: "missing tensor".into(),
        })?;
        if t.dims() != shape {
            return Err(Error::Format {
                path: self.source.clone(),
                location: full,
                message: format!("shape {:?} does not match the config's {:?}", t.dims(), shape),
            });
        }
        Ok(t.clone())
    }

    /// The tensor `name` of any shape (e.g. a classifier whose label count is read from it).
    pub(crate) fn get_any(&self, name: &str) -> Result<Tensor> {
        let full = self.full(name);
        self.tensors.get(&full).cloned().ok_or_else(|| Error::Format {
            path: self.source.clone(),
            location: full,
            message: "missing tensor".into(),
        })
    }

    /// The first of `candidates` under which `probe` exists ("" = no prefix).
    pub(crate) fn find_prefix<'a>(&self, candidates: &[&'a str], probe: &str) -> Option<&'a str> {
        candidates.iter().copied().find(|p| self.pp(p).contains(probe))
    }

    pub(crate) fn into_map(self) -> HashMap<String, Tensor> {
        self.tensors
    }
}
