//! The fitted composite: a small serializable model, and the evaluator it becomes once its
//! dimensions are bound.

use super::calibrate::WeightRule;
use super::dimension::Dimension;
use super::item::QualityItem;
use super::table::DimensionTable;
use crate::stats::IsotonicFit;
use crate::{Error, Result};
use poq_core::{EvalItem, Evaluator, Score};
use serde::{Deserialize, Serialize};

/// The JSON format version [`CompositeModel`] writes and reads.
pub const COMPOSITE_FORMAT: u32 = 1;

/// A dimension the fit left out, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DroppedDimension {
    /// The dimension.
    pub name: String,
    /// Why (unreliable, negative, weight 0).
    pub reason: String,
}

/// How a composite was fitted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FitInfo {
    /// The weight rule actually used (NNLS falls back to correlation weights when all are 0).
    pub weight_rule: WeightRule,
    /// Share of sample ids that calibrated.
    pub calibration_share: f64,
    /// Seed of the split.
    pub seed: u64,
    /// Calibration rows.
    pub calibration_rows: usize,
}

/// A fitted composite quality signal: `score = iso(Σ_d w_d · x_d)`, with `x_d` the 0–10 score of
/// dimension `d`, non-negative weights summing to 1 and `iso` a non-decreasing map to 0–10
/// (isotonic regression on the calibration split). Small enough to publish as JSON
/// ([`CompositeModel::to_json`]); [`CompositeModel::bind`] turns it into an [`Evaluator`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompositeModel {
    /// [`COMPOSITE_FORMAT`].
    pub format: u32,
    /// The dimensions it reads, in weight order.
    pub dimensions: Vec<String>,
    /// One weight per dimension, ≥ 0, summing to 1.
    pub weights: Vec<f64>,
    /// The monotone map of the weighted sum to 0–10.
    pub calibration: IsotonicFit,
    /// What the fit left out.
    pub dropped: Vec<DroppedDimension>,
    /// How it was fitted.
    pub fit: FitInfo,
}

impl CompositeModel {
    /// A checked model (see [`CompositeModel::validate`]).
    pub fn new(
        dimensions: Vec<String>,
        weights: Vec<f64>,
        calibration: IsotonicFit,
        dropped: Vec<DroppedDimension>,
        fit: FitInfo,
    ) -> Result<Self> {
        let model = CompositeModel { format: COMPOSITE_FORMAT, dimensions, weights, calibration, dropped, fit };
        model.validate()?;
        Ok(model)
    }

    /// Checks the invariants, naming the field at fault: the format, at least one dimension, no
    /// name twice, one finite non-negative weight per dimension summing to 1, and a calibration
    /// with strictly increasing finite `x` and non-decreasing `y` in [0, 10].
    pub fn validate(&self) -> Result<()> {
        let bad = |name: &'static str, message: String| Err(Error::InvalidArgument { name, message });
        if self.format != COMPOSITE_FORMAT {
            return bad("format", format!("{} is not the supported format {COMPOSITE_FORMAT}", self.format));
        }
        if self.dimensions.is_empty() {
            return bad("dimensions", "a composite needs at least one dimension".to_owned());
        }
        for (i, d) in self.dimensions.iter().enumerate() {
            if self.dimensions[..i].contains(d) {
                return bad("dimensions", format!("{d} appears twice"));
            }
        }
        if self.weights.len() != self.dimensions.len() {
            return bad("weights", format!("{} weights for {} dimensions", self.weights.len(), self.dimensions.len()));
        }
        if let Some(i) = self.weights.iter().position(|w| !(w.is_finite() && *w >= 0.0)) {
            return bad(
                "weights",
                format!("weight {} of {} is not finite and ≥ 0", self.weights[i], self.dimensions[i]),
            );
        }
        let sum: f64 = self.weights.iter().sum();
        if (sum - 1.0).abs() > 1e-9 {
            return bad("weights", format!("weights sum to {sum}, not 1"));
        }
        let (x, y) = (&self.calibration.x, &self.calibration.y);
        if x.is_empty() || x.len() != y.len() {
            return bad(
                "calibration",
                format!("{} points x, {} points y (need as many, at least 1)", x.len(), y.len()),
            );
        }
        if x.iter().any(|v| !v.is_finite()) || x.windows(2).any(|w| w[0] >= w[1]) {
            return bad("calibration.x", "must be finite and strictly increasing".to_owned());
        }
        if y.iter().any(|v| !(0.0..=10.0).contains(v)) || y.windows(2).any(|w| w[0] > w[1]) {
            return bad("calibration.y", "must be non-decreasing and in [0, 10]".to_owned());
        }
        Ok(())
    }

    /// The weighted sum of one answer's dimension scores (in [`CompositeModel::dimensions`] order).
    pub fn raw(&self, values: &[f64]) -> Result<f64> {
        if values.len() != self.weights.len() {
            return Err(Error::InvalidArgument {
                name: "values",
                message: format!("{} dimension scores for {} dimensions", values.len(), self.weights.len()),
            });
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(Error::InvalidArgument {
                name: "values",
                message: format!("score {} of {} is not finite", values[i], self.dimensions[i]),
            });
        }
        Ok(self.weights.iter().zip(values).map(|(w, v)| w * v).sum())
    }

    /// The composite score of one answer's dimension scores.
    pub fn combine(&self, values: &[f64]) -> Result<Score> {
        Ok(Score::clamped(self.calibration.predict(self.raw(values)?))?)
    }

    /// The composite score of every row of `table`, which must have the model's dimensions.
    pub fn score_table(&self, table: &DimensionTable) -> Result<Vec<Score>> {
        let cols: Vec<&[f64]> = self
            .dimensions
            .iter()
            .map(|d| {
                table.column(d).ok_or_else(|| Error::InvalidArgument {
                    name: "table",
                    message: format!("has no column for dimension {d}"),
                })
            })
            .collect::<Result<_>>()?;
        (0..table.len())
            .map(|r| {
                let row: Vec<f64> = cols.iter().map(|c| c[r]).collect();
                self.combine(&row)
            })
            .collect()
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map_err(|e| Error::InvalidArgument { name: "composite", message: format!("cannot serialize: {e}") })
    }

    /// Reads and checks a model from JSON.
    pub fn from_json(json: &str) -> Result<Self> {
        let model: CompositeModel = serde_json::from_str(json)
            .map_err(|e| Error::InvalidArgument { name: "composite", message: format!("bad composite JSON: {e}") })?;
        model.validate()?;
        Ok(model)
    }

    /// The evaluator that scores answers with `dimensions`: one for each of the model's names
    /// (others are ignored). A missing one is an error naming it.
    pub fn bind(self, mut dimensions: Vec<Box<dyn Dimension>>) -> Result<CompositeEvaluator> {
        let mut ordered = Vec::with_capacity(self.dimensions.len());
        for name in &self.dimensions {
            let Some(i) = dimensions.iter().position(|d| d.name() == name) else {
                return Err(Error::InvalidArgument {
                    name: "dimensions",
                    message: format!("the composite needs dimension {name}, which was not given"),
                });
            };
            ordered.push(dimensions.swap_remove(i));
        }
        Ok(CompositeEvaluator { model: self, dimensions: ordered })
    }
}

/// A [`CompositeModel`] with its dimensions: an [`Evaluator`] named `composite`.
///
/// As an `Evaluator` it sees only [`EvalItem`]s, so dimensions that read more (truncation, the
/// node's priors) get what [`QualityItem::new`] gives them; [`CompositeEvaluator::score_items`]
/// takes the full context.
#[derive(Debug)]
pub struct CompositeEvaluator {
    model: CompositeModel,
    dimensions: Vec<Box<dyn Dimension>>,
}

impl CompositeEvaluator {
    /// The model.
    #[must_use]
    pub fn model(&self) -> &CompositeModel {
        &self.model
    }

    /// Composite scores of items with their full context.
    pub fn score_items(&self, items: &[QualityItem]) -> Result<Vec<Score>> {
        let per_dim: Vec<Vec<Score>> = self.dimensions.iter().map(|d| d.score_items(items)).collect::<Result<_>>()?;
        for (d, s) in self.dimensions.iter().zip(&per_dim) {
            if s.len() != items.len() {
                return Err(Error::InvalidArgument {
                    name: "dimensions",
                    message: format!("{} gave {} scores for {} items", d.name(), s.len(), items.len()),
                });
            }
        }
        (0..items.len())
            .map(|i| {
                let row: Vec<f64> = per_dim.iter().map(|s| s[i].value()).collect();
                self.model.combine(&row)
            })
            .collect()
    }
}

impl Evaluator for CompositeEvaluator {
    fn name(&self) -> &str {
        "composite"
    }

    fn score_batch(&self, items: &[EvalItem]) -> poq_core::Result<Vec<Score>> {
        let items: Vec<QualityItem> = items.iter().cloned().map(QualityItem::new).collect();
        Ok(self.score_items(&items)?)
    }
}
