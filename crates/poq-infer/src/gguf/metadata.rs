//! Typed access to GGUF metadata: every missing or mistyped key is an error that names it.

use crate::error::{Error, Result};
use candle_core::quantized::gguf_file::{Content, Value};
use std::path::{Path, PathBuf};

/// GGUF metadata of one file, with the file's path for error messages.
#[derive(Debug, Clone, Copy)]
pub struct Metadata<'a> {
    content: &'a Content,
    path: &'a Path,
}

impl<'a> Metadata<'a> {
    /// Wraps parsed GGUF content read from `path`.
    pub fn new(content: &'a Content, path: &'a Path) -> Self {
        Metadata { content, path }
    }

    /// The file the metadata came from.
    pub fn path(&self) -> PathBuf {
        self.path.to_path_buf()
    }

    /// The raw value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.content.metadata.get(key)
    }

    /// A format error about `key`.
    pub fn error(&self, key: &str, message: impl Into<String>) -> Error {
        Error::Format { path: self.path(), location: key.to_string(), message: message.into() }
    }

    fn required(&self, key: &str) -> Result<&'a Value> {
        self.get(key).ok_or_else(|| self.error(key, "missing metadata key"))
    }

    /// A required string.
    pub fn string(&self, key: &str) -> Result<&'a str> {
        let v = self.required(key)?;
        v.to_string().map(|s| s.as_str()).map_err(|e| self.error(key, e.to_string()))
    }

    /// An optional string (present but mistyped is an error).
    pub fn opt_string(&self, key: &str) -> Result<Option<&'a str>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.to_string().map(|s| Some(s.as_str())).map_err(|e| self.error(key, e.to_string())),
        }
    }

    /// An optional unsigned integer of any width.
    pub fn opt_u32(&self, key: &str) -> Result<Option<u32>> {
        let Some(v) = self.get(key) else { return Ok(None) };
        let n: Option<u64> = match v {
            Value::U8(x) => Some(u64::from(*x)),
            Value::U16(x) => Some(u64::from(*x)),
            Value::U32(x) => Some(u64::from(*x)),
            Value::U64(x) => Some(*x),
            Value::I8(x) => u64::try_from(*x).ok(),
            Value::I16(x) => u64::try_from(*x).ok(),
            Value::I32(x) => u64::try_from(*x).ok(),
            Value::I64(x) => u64::try_from(*x).ok(),
            _ => return Err(self.error(key, format!("expected an integer, found {:?}", v.value_type()))),
        };
        n.and_then(|n| u32::try_from(n).ok()).map(Some).ok_or_else(|| self.error(key, "integer out of range"))
    }

    /// An optional `f32` scalar.
    pub fn opt_f32(&self, key: &str) -> Result<Option<f32>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.to_f32().map(Some).map_err(|e| self.error(key, e.to_string())),
        }
    }

    /// An optional boolean.
    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.to_bool().map(Some).map_err(|e| self.error(key, e.to_string())),
        }
    }

    /// A required array of strings.
    pub fn strings(&self, key: &str) -> Result<Vec<&'a str>> {
        let arr = self.required(key)?.to_vec().map_err(|e| self.error(key, e.to_string()))?;
        arr.iter()
            .enumerate()
            .map(|(i, v)| {
                v.to_string().map(|s| s.as_str()).map_err(|e| self.error(&format!("{key}[{i}]"), e.to_string()))
            })
            .collect()
    }

    /// An optional array of numbers as `f32`.
    pub fn opt_f32s(&self, key: &str) -> Result<Option<Vec<f32>>> {
        let Some(v) = self.get(key) else { return Ok(None) };
        let arr = v.to_vec().map_err(|e| self.error(key, e.to_string()))?;
        arr.iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::F32(x) => Ok(*x),
                Value::F64(x) => Ok(*x as f32),
                other => {
                    Err(self.error(&format!("{key}[{i}]"), format!("expected a float, found {:?}", other.value_type())))
                }
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    /// An optional array of integers as `i32`.
    pub fn opt_i32s(&self, key: &str) -> Result<Option<Vec<i32>>> {
        let Some(v) = self.get(key) else { return Ok(None) };
        let arr = v.to_vec().map_err(|e| self.error(key, e.to_string()))?;
        arr.iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::I32(x) => Ok(*x),
                Value::U32(x) => i32::try_from(*x).map_err(|_| self.error(&format!("{key}[{i}]"), "out of range")),
                Value::I8(x) => Ok(i32::from(*x)),
                Value::U8(x) => Ok(i32::from(*x)),
                other => {
                    Err(self
                        .error(&format!("{key}[{i}]"), format!("expected an integer, found {:?}", other.value_type())))
                }
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }
}
