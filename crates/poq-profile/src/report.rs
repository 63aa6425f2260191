//! [`ProfileReport`]: a set of records, their JSON and CSV files, and their costs for rewards.

use crate::error::{Error, Result};
use crate::memory::MemorySource;
use crate::record::{ProfileRecord, SubjectKind};
use poq_core::{CostProfile, CostWeights, Normalization, combine_costs};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Profiles of several evaluators and generators, as written to and read from disk.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ProfileReport {
    /// One record per profiled subject.
    pub records: Vec<ProfileRecord>,
}

/// One tidy CSV row: one measured point (an evaluator batch size, or a generator prompt) with its
/// context as columns.
///
/// `latency_*_ms` are per call: a `score_batch` call of `batch_size` items for evaluators, a
/// request for generators (prefill + decode). Generator-only columns are empty for evaluators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)] // The columns are described above and by the record types they flatten.
pub struct CsvRow {
    pub name: String,
    pub kind: SubjectKind,
    pub batch_size: usize,
    pub prompt_index: Option<usize>,
    pub cpu_model: String,
    pub threads: usize,
    pub device: String,
    pub dtype: String,
    pub crate_version: String,
    pub warmup: usize,
    pub repetitions: usize,
    pub memory_source: MemorySource,
    pub memory_reset: bool,
    pub peak_memory_mb: f64,
    pub latency_mean_ms: f64,
    pub latency_std_ms: f64,
    pub latency_p50_ms: f64,
    pub latency_p95_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_min_ms: f64,
    pub latency_max_ms: f64,
    pub item_latency_mean_ms: f64,
    pub items_per_s: f64,
    pub knee: bool,
    pub prompt_tokens: Option<usize>,
    pub generated_tokens_mean: Option<f64>,
    pub prefill_ms_mean: Option<f64>,
    pub prefill_tokens_per_s_mean: Option<f64>,
    pub decode_ms_mean: Option<f64>,
    pub decode_tokens_per_s_mean: Option<f64>,
    pub wall_ms_mean: Option<f64>,
}

impl ProfileReport {
    /// A report of `records`.
    pub fn new(records: Vec<ProfileRecord>) -> Self {
        ProfileReport { records }
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|source| Error::Json { path: "<memory>".into(), source })
    }

    /// Parses JSON and validates every cost profile; `origin` names the source in errors.
    pub fn from_json(text: &str, origin: &Path) -> Result<Self> {
        let report: ProfileReport =
            serde_json::from_str(text).map_err(|source| Error::Json { path: origin.to_owned(), source })?;
        for (i, r) in report.records.iter().enumerate() {
            for c in r.cost_profiles() {
                c.validate().map_err(|source| Error::Cost { name: format!("records[{i}] `{}`", r.name), source })?;
            }
        }
        Ok(report)
    }

    /// Writes pretty JSON to `path`.
    pub fn write_json(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.to_json()? + "\n").map_err(|source| Error::Io { path: path.to_owned(), source })
    }

    /// Reads a report written by [`write_json`](Self::write_json).
    pub fn read_json(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
        Self::from_json(&text, path)
    }

    /// The tidy rows, one per batch size or prompt, in record order.
    pub fn csv_rows(&self) -> Vec<CsvRow> {
        self.records.iter().flat_map(rows_of).collect()
    }

    /// Writes [`csv_rows`](Self::csv_rows) with a header to `path`.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        let csv_err = |source| Error::Csv { path: path.to_owned(), source };
        let mut w = csv::Writer::from_path(path).map_err(csv_err)?;
        for row in self.csv_rows() {
            w.serialize(row).map_err(csv_err)?;
        }
        w.flush().map_err(|source| Error::Io { path: path.to_owned(), source })
    }

    /// Reads rows written by [`write_csv`](Self::write_csv).
    pub fn read_csv(path: &Path) -> Result<Vec<CsvRow>> {
        let csv_err = |source| Error::Csv { path: path.to_owned(), source };
        let mut r = csv::Reader::from_path(path).map_err(csv_err)?;
        let headers = r.headers().map_err(csv_err)?.clone();
        r.deserialize()
            .map(|row| {
                row.map_err(|e| {
                    // Name the column by its header: csv only knows the field's index.
                    let named = match e.kind() {
                        csv::ErrorKind::Deserialize { pos: Some(pos), err } => err
                            .field()
                            .and_then(|i| headers.get(usize::try_from(i).ok()?))
                            .map(|column| (pos.line(), column.to_owned(), err.kind().to_string())),
                        _ => None,
                    };
                    match named {
                        Some((line, column, message)) => {
                            Error::CsvColumn { path: path.to_owned(), line, column, message }
                        }
                        None => csv_err(e),
                    }
                })
            })
            .collect()
    }

    /// The headline costs of one kind's pool, with the subjects' names, in record order.
    pub fn costs(&self, kind: SubjectKind) -> Vec<(&str, &CostProfile)> {
        self.records.iter().filter(|r| r.kind == kind).map(|r| (r.name.as_str(), &r.cost)).collect()
    }

    /// The pool's normalized costs in [0, 1] ([`poq_core::combine_costs`] over
    /// [`costs`](Self::costs)), with the subjects' names.
    pub fn normalized_costs(
        &self,
        kind: SubjectKind,
        weights: CostWeights,
        how: Normalization,
    ) -> Result<Vec<(String, f64)>> {
        let pool = self.costs(kind);
        let profiles: Vec<CostProfile> = pool.iter().map(|(_, c)| (*c).clone()).collect();
        let normalized = combine_costs(&profiles, weights, how)
            .map_err(|source| Error::Cost { name: format!("{kind} pool"), source })?;
        Ok(pool.into_iter().map(|(n, _)| n.to_owned()).zip(normalized).collect())
    }
}

fn rows_of(r: &ProfileRecord) -> Vec<CsvRow> {
    let base = |batch_size, prompt_index, mem: &crate::memory::PeakMemory, lat: &crate::stats::Summary| CsvRow {
        name: r.name.clone(),
        kind: r.kind,
        batch_size,
        prompt_index,
        cpu_model: r.machine.cpu_model.clone(),
        threads: r.machine.threads,
        device: r.device.clone(),
        dtype: r.dtype.clone(),
        crate_version: r.crate_version.clone(),
        warmup: r.warmup,
        repetitions: r.repetitions,
        memory_source: mem.source,
        memory_reset: mem.reset,
        peak_memory_mb: mem.megabytes(),
        latency_mean_ms: lat.mean,
        latency_std_ms: lat.std,
        latency_p50_ms: lat.p50,
        latency_p95_ms: lat.p95,
        latency_p99_ms: lat.p99,
        latency_min_ms: lat.min,
        latency_max_ms: lat.max,
        item_latency_mean_ms: lat.mean / batch_size as f64,
        items_per_s: 0.0,
        knee: false,
        prompt_tokens: None,
        generated_tokens_mean: None,
        prefill_ms_mean: None,
        prefill_tokens_per_s_mean: None,
        decode_ms_mean: None,
        decode_tokens_per_s_mean: None,
        wall_ms_mean: None,
    };
    let batches = r.batches.iter().map(|b| CsvRow {
        item_latency_mean_ms: b.item_latency_ms.mean,
        items_per_s: b.cost.throughput_items_per_s,
        knee: r.knee_batch_size == Some(b.batch_size),
        ..base(b.batch_size, None, &b.memory, &b.batch_latency_ms)
    });
    let prompts = r.prompts.iter().map(|p| {
        let total_ms = p.latency_ms.mean;
        CsvRow {
            items_per_s: if total_ms > 0.0 { 1e3 / total_ms } else { 0.0 },
            prompt_tokens: Some(p.prompt_tokens),
            generated_tokens_mean: Some(p.generated_tokens.mean),
            prefill_ms_mean: Some(p.prefill_ms.mean),
            prefill_tokens_per_s_mean: p.prefill_tokens_per_s.as_ref().map(|s| s.mean),
            decode_ms_mean: Some(p.decode_ms.mean),
            decode_tokens_per_s_mean: p.decode_tokens_per_s.as_ref().map(|s| s.mean),
            wall_ms_mean: Some(p.wall_ms.mean),
            ..base(1, Some(p.index), &r.memory, &p.latency_ms)
        }
    });
    batches.chain(prompts).collect()
}
