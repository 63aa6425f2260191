//! A pre-check of `general.alignment` before candle parses a GGUF header.
//!
//! candle 0.11.1 rounds the tensor-data offset up with `position.div_ceil(alignment)`, which
//! panics on an alignment of 0 (found by the `gguf` fuzz target). This walks the metadata without
//! keeping it, only to find that key; any other malformation is left to candle's own typed errors.

use std::io::{BufReader, Read, Seek};

/// GGUF metadata value types (the numbering of the GGUF specification).
const STRING: u32 = 8;
const ARRAY: u32 = 9;

/// The byte size of a fixed-size value type, `None` for strings, arrays and unknown types.
fn fixed_size(value_type: u32) -> Option<i64> {
    match value_type {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        _ => None,
    }
}

struct Walker<R> {
    reader: BufReader<R>,
    /// GGUF v1 stores lengths and counts as u32, later versions as u64.
    wide: bool,
}

impl<R: Read + Seek> Walker<R> {
    fn u32(&mut self) -> Option<u32> {
        let mut b = [0u8; 4];
        self.reader.read_exact(&mut b).ok()?;
        Some(u32::from_le_bytes(b))
    }

    fn length(&mut self) -> Option<u64> {
        if !self.wide {
            return self.u32().map(u64::from);
        }
        let mut b = [0u8; 8];
        self.reader.read_exact(&mut b).ok()?;
        Some(u64::from_le_bytes(b))
    }

    fn skip(&mut self, n: u64) -> Option<()> {
        self.reader.seek_relative(i64::try_from(n).ok()?).ok()
    }

    fn string(&mut self, keep: bool) -> Option<Vec<u8>> {
        let len = self.length()?;
        if !keep || len > 256 {
            self.skip(len)?;
            return Some(Vec::new());
        }
        let mut v = vec![0u8; usize::try_from(len).ok()?];
        self.reader.read_exact(&mut v).ok()?;
        Some(v)
    }

    /// Skips one value; `depth` bounds nested arrays.
    fn skip_value(&mut self, value_type: u32, depth: usize) -> Option<()> {
        if let Some(size) = fixed_size(value_type) {
            return self.reader.seek_relative(size).ok();
        }
        match value_type {
            STRING => self.string(false).map(drop),
            ARRAY if depth < 4 => {
                let elem = self.u32()?;
                let n = self.length()?;
                if let Some(size) = fixed_size(elem) {
                    return self.skip(n.checked_mul(u64::try_from(size).ok()?)?);
                }
                for _ in 0..n {
                    self.skip_value(elem, depth + 1)?;
                }
                Some(())
            }
            _ => None,
        }
    }

    /// The integer value of `general.alignment` when the header has one (`None` if it has none
    /// or the header is malformed before reaching it).
    fn alignment(&mut self) -> Option<i64> {
        let mut magic = [0u8; 4];
        self.reader.read_exact(&mut magic).ok()?;
        if &magic != b"GGUF" {
            return None;
        }
        self.wide = self.u32()? >= 2;
        let _tensors = self.length()?;
        let kvs = self.length()?;
        // candle keeps the last of repeated keys, so the whole table is walked.
        let mut found = None;
        for _ in 0..kvs {
            let Some(key) = self.string(true) else { return found };
            let Some(value_type) = self.u32() else { return found };
            let is_alignment = key == b"general.alignment";
            if is_alignment && value_type > 5 {
                // candle ignores a non-integer alignment (it uses its default).
                found = None;
            }
            if is_alignment && value_type <= 5 {
                let mut b = [0u8; 4];
                let width = fixed_size(value_type).and_then(|w| usize::try_from(w).ok()).unwrap_or(4);
                if self.reader.read_exact(&mut b[..width]).is_err() {
                    return found;
                }
                found = Some(match value_type {
                    1 => i64::from(b[0] as i8),
                    3 => i64::from(i16::from_le_bytes([b[0], b[1]])),
                    5 => i64::from(i32::from_le_bytes(b)),
                    _ => i64::from(u32::from_le_bytes(b)),
                });
                continue;
            }
            if self.skip_value(value_type, 0).is_none() {
                return found;
            }
        }
        found
    }
}

/// `Err(message)` when `general.alignment` is 0, which candle cannot handle.
pub(crate) fn check<R: Read + Seek>(reader: R) -> Result<(), String> {
    let mut w = Walker { reader: BufReader::new(reader), wide: true };
    match w.alignment() {
        Some(0) => Err("general.alignment is 0: it must be a positive number of bytes".into()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn header(kvs: &[(&str, u32, &[u8])]) -> Vec<u8> {
        let mut v = b"GGUF".to_vec();
        v.extend(3u32.to_le_bytes());
        v.extend(0u64.to_le_bytes());
        v.extend((kvs.len() as u64).to_le_bytes());
        for (k, t, val) in kvs {
            v.extend((k.len() as u64).to_le_bytes());
            v.extend(k.as_bytes());
            v.extend(t.to_le_bytes());
            v.extend(*val);
        }
        v
    }

    #[test]
    fn finds_a_zero_alignment_after_other_keys() {
        let mut strings = 9u32.to_le_bytes().to_vec();
        strings.extend(8u32.to_le_bytes());
        strings.extend(2u64.to_le_bytes());
        for s in ["ab", "c"] {
            strings.extend((s.len() as u64).to_le_bytes());
            strings.extend(s.as_bytes());
        }
        let mut name = 2u64.to_le_bytes().to_vec();
        name.extend(b"xy");
        let zero =
            header(&[("general.name", 8, &name), ("tokens", 9, &strings[4..]), ("general.alignment", 4, &[0; 4])]);
        assert!(check(Cursor::new(zero)).is_err());
        let ok = header(&[("general.name", 8, &name), ("general.alignment", 5, &32i32.to_le_bytes())]);
        assert!(check(Cursor::new(ok)).is_ok());
        // Malformed or absent: left to candle.
        assert!(check(Cursor::new(b"GGUF".to_vec())).is_ok());
        assert!(check(Cursor::new(header(&[]))).is_ok());
    }
}
