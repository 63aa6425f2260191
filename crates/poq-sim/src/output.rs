//! Tidy output: one CSV row per (sweep point, node) with the scenario's parameters as columns
//! (feature `csv`), and JSON summaries (feature `json`); plus the merge step that joins sharded
//! sweeps (feature `csv`).

#[cfg(any(feature = "csv", feature = "json"))]
use crate::error::{Result, SimError};
#[cfg(feature = "csv")]
use crate::report::Report;
#[cfg(any(feature = "csv", feature = "json"))]
use std::io::Write;
#[cfg(any(feature = "csv", feature = "json"))]
use std::path::Path;

/// Statistic columns that follow `point` and the parameter columns in every row.
pub const STAT_COLUMNS: [&str; 19] = [
    "node",
    "kind",
    "adversary",
    "answers",
    "mean_reward",
    "std",
    "ci_low",
    "ci_high",
    "share",
    "normalized_reward",
    "scaled_reward",
    "total_paid",
    "slashes",
    "slashed",
    "trust_weight",
    "consensus_mae",
    "consensus_rmse",
    "consensus_bias",
    "consensus_answers",
];

#[cfg(feature = "csv")]
fn csv_err(path: &Path) -> impl Fn(csv::Error) -> SimError + '_ {
    move |source| SimError::Csv { path: path.into(), source }
}

/// Writes the rows of `reports` (each with its sweep point index) as CSV to `w` (feature `csv`).
/// Every report must have the same parameter columns (those of [`Scenario::params`](crate::Scenario::params)).
#[cfg(feature = "csv")]
pub fn write_csv<W: Write>(w: W, reports: &[(usize, &Report)]) -> Result<()> {
    let path = Path::new("<csv>");
    let mut out = csv::Writer::from_writer(w);
    let keys: Vec<&String> = reports.first().map(|(_, r)| r.params.keys().collect()).unwrap_or_default();
    let header = std::iter::once("point").chain(keys.iter().map(|k| k.as_str())).chain(STAT_COLUMNS);
    out.write_record(header).map_err(csv_err(path))?;
    for (point, r) in reports {
        if r.params.len() != keys.len() || !keys.iter().all(|k| r.params.contains_key(*k)) {
            return Err(SimError::invalid("params", "every report of one CSV must have the same parameter columns"));
        }
        for n in &r.nodes {
            let mut row: Vec<String> = vec![point.to_string()];
            row.extend(keys.iter().map(|k| r.params[*k].clone()));
            row.extend([
                n.node.clone(),
                n.kind.as_str().to_owned(),
                n.adversary.clone(),
                n.answers.to_string(),
                n.mean_reward.to_string(),
                n.std.to_string(),
                n.ci_low.to_string(),
                n.ci_high.to_string(),
                n.share.to_string(),
                n.normalized_reward.to_string(),
                n.scaled_reward.to_string(),
                n.total_paid.to_string(),
                n.slashes.to_string(),
                n.slashed.to_string(),
                n.trust_weight.map_or(String::new(), |w| w.to_string()),
                r.consensus.mae.to_string(),
                r.consensus.rmse.to_string(),
                r.consensus.bias.to_string(),
                r.consensus.answers.to_string(),
            ]);
            out.write_record(&row).map_err(csv_err(path))?;
        }
    }
    out.flush().map_err(|source| SimError::Io { path: path.into(), source })?;
    Ok(())
}

/// Writes [`write_csv`] output to a file (feature `csv`).
#[cfg(feature = "csv")]
pub fn write_csv_file(path: &Path, reports: &[(usize, &Report)]) -> Result<()> {
    let f = std::fs::File::create(path).map_err(|source| SimError::Io { path: path.into(), source })?;
    write_csv(std::io::BufWriter::new(f), reports).map_err(|e| match e {
        SimError::Csv { source, .. } => SimError::Csv { path: path.into(), source },
        SimError::Io { source, .. } => SimError::Io { path: path.into(), source },
        other => other,
    })
}

/// Writes any serializable value as pretty JSON (feature `json`).
#[cfg(feature = "json")]
pub fn write_json_file<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let f = std::fs::File::create(path).map_err(|source| SimError::Io { path: path.into(), source })?;
    let mut w = std::io::BufWriter::new(f);
    serde_json::to_writer_pretty(&mut w, value)?;
    w.write_all(b"\n").and_then(|_| w.flush()).map_err(|source| SimError::Io { path: path.into(), source })
}

/// Joins the CSV outputs of sweep shards into one file sorted by `point` (stable). Every input must
/// have the same header, with `point` as its first column (feature `csv`).
#[cfg(feature = "csv")]
pub fn merge_csv(inputs: &[impl AsRef<Path>], output: &Path) -> Result<usize> {
    let mut header: Option<csv::StringRecord> = None;
    let mut rows: Vec<(u64, csv::StringRecord)> = Vec::new();
    for input in inputs {
        let p = input.as_ref();
        let mut rd = csv::Reader::from_path(p).map_err(csv_err(p))?;
        let h = rd.headers().map_err(csv_err(p))?.clone();
        if h.get(0) != Some("point") {
            return Err(SimError::invalid(p.display().to_string(), "first column must be `point`"));
        }
        match &header {
            None => header = Some(h),
            Some(first) if *first != h => {
                return Err(SimError::invalid(p.display().to_string(), "header differs from the first shard's"));
            }
            Some(_) => {}
        }
        for (line, rec) in rd.records().enumerate() {
            let rec = rec.map_err(csv_err(p))?;
            let point = rec.get(0).and_then(|s| s.parse::<u64>().ok()).ok_or_else(|| {
                SimError::invalid(format!("{}:{}", p.display(), line + 2), "`point` must be a non-negative integer")
            })?;
            rows.push((point, rec));
        }
    }
    rows.sort_by_key(|r| r.0);
    let mut w = csv::Writer::from_path(output).map_err(csv_err(output))?;
    if let Some(h) = &header {
        w.write_record(h).map_err(csv_err(output))?;
    }
    for (_, r) in &rows {
        w.write_record(r).map_err(csv_err(output))?;
    }
    w.flush().map_err(|source| SimError::Io { path: output.into(), source })?;
    Ok(rows.len())
}
