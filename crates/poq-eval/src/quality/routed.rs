//! One composite per task: the audit finds dimensions that help on one task and hurt on another
//! (alignment is negative on QA, positive on summaries), so each task gets its own fit, with the
//! pooled composite as the fallback where the task is unknown.

use super::calibrate::{CalibrationConfig, Fitted, fit_composite};
use super::composite::CompositeModel;
use super::dimension::Dimension;
use super::item::QualityItem;
use super::table::DimensionTable;
use crate::{Error, Result};
use poq_core::{EvalItem, Evaluator, Score, Task};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The JSON format version [`TaskRoutedModel`] writes and reads.
pub const TASK_ROUTED_FORMAT: u32 = 1;

/// A composite per task, chosen by the answer's task; the `fallback` (the composite fitted on all
/// tasks together) scores answers whose task is unknown or has no route. A plain
/// [`Evaluator`] call sees no task ([`EvalItem`] has none), so it always takes the fallback; pass
/// [`QualityItem`]s with their task ([`TaskRoutedEvaluator::score_items`]) or a table with
/// tasks ([`TaskRoutedModel::score_table`]) to route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRoutedModel {
    /// [`TASK_ROUTED_FORMAT`].
    pub format: u32,
    /// The composite of each task.
    pub routes: BTreeMap<Task, CompositeModel>,
    /// The composite for answers without a routed task.
    pub fallback: CompositeModel,
}

/// A per-task fit with what each part was fitted from.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskFitted {
    /// The routed composite.
    pub model: TaskRoutedModel,
    /// The pooled fit (the fallback), on the whole table.
    pub pooled: Fitted,
    /// Per task: the table rows of that task and the fit on them alone (its split indexes those rows).
    pub tasks: BTreeMap<Task, (Vec<usize>, Fitted)>,
    /// Tasks with rows that could not be fitted on their own, and why; they take the fallback.
    pub unfitted: BTreeMap<Task, String>,
}

/// Fits the pooled composite on `table` and one composite per task on that task's rows alone,
/// each with `cfg` (so the same seeded split by sample id: a task's calibration rows are exactly
/// the pooled calibration rows of that task, and no held-out row or other task's row is read).
/// A task whose rows cannot support a fit (too few, nothing reliable) is left to the fallback.
pub fn fit_per_task(table: &DimensionTable, cfg: &CalibrationConfig) -> Result<TaskFitted> {
    let pooled = fit_composite(table, cfg)?;
    let mut tasks = BTreeMap::new();
    let mut unfitted = BTreeMap::new();
    let mut routes = BTreeMap::new();
    let mut seen: Vec<Task> = Vec::new();
    for t in &table.tasks {
        if !seen.contains(t) {
            seen.push(*t);
        }
    }
    for task in seen {
        let rows: Vec<usize> = (0..table.len()).filter(|&r| table.tasks[r] == task).collect();
        match fit_composite(&table.rows(&rows), cfg) {
            Ok(f) => {
                routes.insert(task, f.model.clone());
                tasks.insert(task, (rows, f));
            }
            Err(e) => {
                unfitted.insert(task, e.to_string());
            }
        }
    }
    let model = TaskRoutedModel::new(routes, pooled.model.clone())?;
    Ok(TaskFitted { model, pooled, tasks, unfitted })
}

impl TaskRoutedModel {
    /// A checked model (every composite valid).
    pub fn new(routes: BTreeMap<Task, CompositeModel>, fallback: CompositeModel) -> Result<Self> {
        let m = TaskRoutedModel { format: TASK_ROUTED_FORMAT, routes, fallback };
        m.validate()?;
        Ok(m)
    }

    /// Checks the format and every composite.
    pub fn validate(&self) -> Result<()> {
        if self.format != TASK_ROUTED_FORMAT {
            return Err(Error::InvalidArgument {
                name: "format",
                message: format!("{} is not the supported format {TASK_ROUTED_FORMAT}", self.format),
            });
        }
        self.routes.values().chain([&self.fallback]).try_for_each(CompositeModel::validate)
    }

    /// The composite that scores an answer of `task`.
    #[must_use]
    pub fn model_for(&self, task: Option<Task>) -> &CompositeModel {
        task.and_then(|t| self.routes.get(&t)).unwrap_or(&self.fallback)
    }

    /// Every row of `table` scored by its task's composite.
    pub fn score_table(&self, table: &DimensionTable) -> Result<Vec<Score>> {
        let mut out = vec![None; table.len()];
        for (task, model) in self.routes.iter().map(|(t, m)| (Some(*t), m)).chain([(None, &self.fallback)]) {
            let rows: Vec<usize> = (0..table.len())
                .filter(|&r| out[r].is_none() && (task.is_none() || task == Some(table.tasks[r])))
                .collect();
            if rows.is_empty() {
                continue;
            }
            for (r, s) in rows.iter().zip(model.score_table(&table.rows(&rows))?) {
                out[*r] = Some(s);
            }
        }
        Ok(out.into_iter().flatten().collect())
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map_err(|e| Error::InvalidArgument { name: "composite", message: format!("cannot serialize: {e}") })
    }

    /// Reads and checks a model from JSON.
    pub fn from_json(json: &str) -> Result<Self> {
        let m: TaskRoutedModel = serde_json::from_str(json)
            .map_err(|e| Error::InvalidArgument { name: "composite", message: format!("bad routed JSON: {e}") })?;
        m.validate()?;
        Ok(m)
    }

    /// The evaluator over `dimensions`: every name any of its composites reads must be there.
    pub fn bind(self, mut dimensions: Vec<Box<dyn Dimension>>) -> Result<TaskRoutedEvaluator> {
        let mut names: Vec<String> = Vec::new();
        for m in self.routes.values().chain([&self.fallback]) {
            for d in &m.dimensions {
                if !names.contains(d) {
                    names.push(d.clone());
                }
            }
        }
        let mut ordered = Vec::with_capacity(names.len());
        for name in &names {
            let Some(i) = dimensions.iter().position(|d| d.name() == name) else {
                return Err(Error::InvalidArgument {
                    name: "dimensions",
                    message: format!("the composite needs dimension {name}, which was not given"),
                });
            };
            ordered.push(dimensions.swap_remove(i));
        }
        let index = |m: &CompositeModel| -> Vec<usize> {
            m.dimensions.iter().filter_map(|d| names.iter().position(|n| n == d)).collect()
        };
        let columns = self.routes.iter().map(|(t, m)| (*t, index(m))).collect();
        let fallback_columns = index(&self.fallback);
        Ok(TaskRoutedEvaluator { model: self, dimensions: ordered, columns, fallback_columns })
    }
}

/// A [`TaskRoutedModel`] with its dimensions: an [`Evaluator`] named `composite:per-task`.
#[derive(Debug)]
pub struct TaskRoutedEvaluator {
    model: TaskRoutedModel,
    dimensions: Vec<Box<dyn Dimension>>,
    /// Per route, the positions in `dimensions` of its composite's dimensions.
    columns: BTreeMap<Task, Vec<usize>>,
    fallback_columns: Vec<usize>,
}

impl TaskRoutedEvaluator {
    /// The model.
    #[must_use]
    pub fn model(&self) -> &TaskRoutedModel {
        &self.model
    }

    /// Scores of items, each by its task's composite.
    pub fn score_items(&self, items: &[QualityItem]) -> Result<Vec<Score>> {
        let per_dim: Vec<Vec<Score>> = self.dimensions.iter().map(|d| d.score_items(items)).collect::<Result<_>>()?;
        if let Some((d, _)) = self.dimensions.iter().zip(&per_dim).find(|(_, s)| s.len() != items.len()) {
            return Err(Error::InvalidArgument {
                name: "dimensions",
                message: format!("{} gave the wrong number of scores for {} items", d.name(), items.len()),
            });
        }
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let model = self.model.model_for(item.task);
                let cols = item.task.and_then(|t| self.columns.get(&t)).unwrap_or(&self.fallback_columns);
                let row: Vec<f64> = cols.iter().map(|&c| per_dim[c][i].value()).collect();
                model.combine(&row)
            })
            .collect()
    }
}

impl Evaluator for TaskRoutedEvaluator {
    fn name(&self) -> &str {
        "composite:per-task"
    }

    /// No task reaches an `Evaluator`: the fallback scores every item.
    fn score_batch(&self, items: &[EvalItem]) -> poq_core::Result<Vec<Score>> {
        let items: Vec<QualityItem> = items.iter().cloned().map(QualityItem::new).collect();
        Ok(self.score_items(&items)?)
    }
}
