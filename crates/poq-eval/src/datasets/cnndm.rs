//! CNN/DailyMail: JSONL with `id`, `article`, `highlights` per line, and the common CSV with the
//! header `id,article,highlights`.

use crate::error::{Error, Result};
use poq_core::{Sample, Task};
use serde::Deserialize;
use std::path::Path;

#[derive(Deserialize)]
struct Row {
    id: String,
    article: String,
    highlights: String,
}

fn sample(row: Row) -> Sample {
    Sample {
        id: row.id,
        task: Task::Summarization,
        input: row.article,
        question: None,
        references: vec![row.highlights],
    }
}

fn check(row: &Row, path: &Path, location: impl Fn() -> String) -> Result<()> {
    for (field, value) in [("article", &row.article), ("highlights", &row.highlights)] {
        if value.trim().is_empty() {
            return Err(Error::Format {
                path: path.into(),
                location: location(),
                message: format!("`{field}` is empty"),
            });
        }
    }
    Ok(())
}

/// Loads CNN/DailyMail JSONL: one object per line with at least `id`, `article` and `highlights`
/// (other fields are ignored; blank lines are skipped). The highlights are the one reference.
pub fn load_cnndm_jsonl(path: impl AsRef<Path>) -> Result<Vec<Sample>> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.into(), source })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let location = || format!("line {}", i + 1);
        let row: Row = serde_json::from_str(line).map_err(|e| Error::Format {
            path: path.into(),
            location: location(),
            message: e.to_string(),
        })?;
        check(&row, path, location)?;
        out.push(sample(row));
    }
    Ok(out)
}

/// Loads the common CNN/DailyMail CSV (header `id,article,highlights`, columns in any order, extra
/// columns ignored). Quoted fields may span lines; errors name the line where the record starts.
pub fn load_cnndm_csv(path: impl AsRef<Path>) -> Result<Vec<Sample>> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|source| Error::Io { path: path.into(), source })?;
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(std::io::BufReader::new(file));
    let mut out = Vec::new();
    for record in reader.deserialize::<Row>() {
        let row = record.map_err(|e| csv_error(path, &e))?;
        let line = out.len() + 2;
        check(&row, path, || format!("record {} (line {line} or later)", out.len() + 1))?;
        out.push(sample(row));
    }
    Ok(out)
}

fn csv_error(path: &Path, e: &csv::Error) -> Error {
    let location = match e.position() {
        Some(p) => format!("line {}", p.line()),
        None => "header".to_owned(),
    };
    Error::Format { path: path.into(), location, message: e.to_string() }
}
