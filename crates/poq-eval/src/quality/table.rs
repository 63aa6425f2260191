//! [`DimensionTable`]: every dimension's scores of a set of answers, with their yardsticks.

use super::dimension::Dimension;
use super::item::QualityItem;
use crate::{Error, Result};
use poq_core::Task;

/// Scores of a set of answers on each dimension, with the yardsticks the audit and calibration read.
///
/// Row `r` is one answer: `ids[r]` is its sample (prompt) id — every answer to the same prompt
/// shares it, so a split by id keeps them together — `tasks[r]` its task, `columns[d][r]` its score
/// on dimension `names[d]`, `f1[r]` its token F1 × 10 and `judge[r]` the judge's score (NaN where
/// the judge did not score it).
#[derive(Debug, Clone, PartialEq)]
pub struct DimensionTable {
    /// Sample id per row.
    pub ids: Vec<String>,
    /// Task per row.
    pub tasks: Vec<Task>,
    /// Dimension names, one per column.
    pub names: Vec<String>,
    /// `columns[d][r]`: dimension `d`'s 0–10 score of row `r`.
    pub columns: Vec<Vec<f64>>,
    /// Token F1 × 10 per row.
    pub f1: Vec<f64>,
    /// The judge's 0–10 score per row, NaN where not judged; empty when there is no judge.
    pub judge: Vec<f64>,
}

impl DimensionTable {
    /// Scores `items` on every dimension; `ids`, `f1` and `judge` (or empty) are per item.
    pub fn score(
        dimensions: &[&dyn Dimension],
        items: &[QualityItem],
        ids: Vec<String>,
        f1: Vec<f64>,
        judge: Vec<f64>,
    ) -> Result<DimensionTable> {
        let tasks = items.iter().map(|it| it.task.unwrap_or(poq_core::Task::Other)).collect();
        let names = dimensions.iter().map(|d| d.name().to_owned()).collect();
        let columns = dimensions
            .iter()
            .map(|d| Ok(d.score_items(items)?.into_iter().map(|s| s.value()).collect()))
            .collect::<Result<_>>()?;
        let table = DimensionTable { ids, tasks, names, columns, f1, judge };
        table.validate()?;
        Ok(table)
    }

    /// Rows.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// No rows.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The column of dimension `name`.
    #[must_use]
    pub fn column(&self, name: &str) -> Option<&[f64]> {
        self.names.iter().position(|n| n == name).map(|d| self.columns[d].as_slice())
    }

    /// Checks shapes and values, naming the first field at fault: every per-row vector as long as
    /// `ids`, one column per name, unique names, dimension scores and F1 in [0, 10], judge scores in
    /// [0, 10] or NaN.
    pub fn validate(&self) -> Result<()> {
        let n = self.ids.len();
        let mismatch = |name: &'static str, len: usize| Error::InvalidArgument {
            name,
            message: format!("length mismatch: {len} values for {n} rows"),
        };
        if self.tasks.len() != n {
            return Err(mismatch("tasks", self.tasks.len()));
        }
        if self.f1.len() != n {
            return Err(mismatch("f1", self.f1.len()));
        }
        if !self.judge.is_empty() && self.judge.len() != n {
            return Err(mismatch("judge", self.judge.len()));
        }
        if self.columns.len() != self.names.len() {
            return Err(Error::InvalidArgument {
                name: "columns",
                message: format!("{} columns for {} dimension names", self.columns.len(), self.names.len()),
            });
        }
        for (i, name) in self.names.iter().enumerate() {
            if self.names[..i].contains(name) {
                return Err(Error::InvalidArgument {
                    name: "names",
                    message: format!("dimension {name} appears twice"),
                });
            }
        }
        let in_range = |v: f64| (0.0..=10.0).contains(&v);
        for (name, col) in self.names.iter().zip(&self.columns) {
            if col.len() != n {
                return Err(Error::InvalidArgument {
                    name: "columns",
                    message: format!("dimension {name}: {} values for {n} rows", col.len()),
                });
            }
            if let Some(r) = col.iter().position(|v| !in_range(*v)) {
                return Err(Error::InvalidArgument {
                    name: "columns",
                    message: format!("dimension {name}, row {r} ({}): {} is not a 0-10 score", self.ids[r], col[r]),
                });
            }
        }
        if let Some(r) = self.f1.iter().position(|v| !in_range(*v)) {
            return Err(Error::InvalidArgument {
                name: "f1",
                message: format!("row {r} ({}): {} is not in [0, 10] (F1 × 10)", self.ids[r], self.f1[r]),
            });
        }
        if let Some(r) = self.judge.iter().position(|v| !v.is_nan() && !in_range(*v)) {
            return Err(Error::InvalidArgument {
                name: "judge",
                message: format!("row {r} ({}): {} is neither a 0-10 score nor NaN", self.ids[r], self.judge[r]),
            });
        }
        Ok(())
    }

    /// The rows `rows`, in that order.
    #[must_use]
    pub fn rows(&self, rows: &[usize]) -> DimensionTable {
        let pick = |v: &[f64]| rows.iter().filter_map(|&r| v.get(r).copied()).collect::<Vec<f64>>();
        DimensionTable {
            ids: rows.iter().filter_map(|&r| self.ids.get(r).cloned()).collect(),
            tasks: rows.iter().filter_map(|&r| self.tasks.get(r).copied()).collect(),
            names: self.names.clone(),
            columns: self.columns.iter().map(|c| pick(c)).collect(),
            f1: pick(&self.f1),
            judge: if self.judge.is_empty() { Vec::new() } else { pick(&self.judge) },
        }
    }
}
