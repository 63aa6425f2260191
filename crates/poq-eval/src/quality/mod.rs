//! A calibrated multi-dimensional quality signal, audited dimension by dimension (after arXiv
//! 2603.04028), as a drop-in [`Evaluator`](poq_core::Evaluator).
//!
//! An answer's quality is split into [`Dimension`]s, each a scorer on 0–10 with its formula in its
//! rustdoc:
//!
//! | dimension | name | formula |
//! |---|---|---|
//! | [`StructureDimension`] | `structure` | `10 · L · R · T · C`: length vs expected, distinct n-gram share, truncation, clean words |
//! | [`SemanticDimension`] | `semantic:<ev>` | any evaluator's score against the reference (an STS bi-encoder) |
//! | [`AlignmentDimension`] | `alignment:<ev>` | the evaluator's score of the answer against the question/source, reference-free |
//! | [`AgreementDimension`] | `agreement` | `10 · (1 − sd / 5)` of several evaluators' scores ([`agreement_score`]) |
//! | [`PriorDimension`] | `prior` | the node's running mean quality, shrunk to a prior ([`NodePriors`]) |
//!
//! [`audit`] correlates every dimension with token F1 and with the judge, per task, with seeded
//! bootstrap intervals (the [`stats`](crate::stats) functions), flagging unreliable and negative
//! ones. [`fit_composite`] splits the rows by sample id ([`split_by_id`]), audits the calibration
//! rows only, drops what is unreliable or negative, weights the rest by non-negative least squares
//! ([`nnls`]) re-normalized to 1, and maps the weighted sum to 0–10 with isotonic regression (pool
//! adjacent violators, [`IsotonicFit`](crate::stats::IsotonicFit)). The [`CompositeModel`] it returns
//! is a small JSON document; [`CompositeModel::bind`] gives the [`CompositeEvaluator`].
//! [`fit_per_task`] fits one composite per task on that task's calibration rows alone, routed by
//! the answer's task in a [`TaskRoutedModel`] (the pooled composite where the task is unknown).
//!
//! ```
//! use poq_core::{EvalItem, Task};
//! use poq_eval::quality::{Dimension, QualityItem, StructureDimension};
//!
//! let item = QualityItem::new(EvalItem::new("the cat the cat the cat", vec!["a cat".into()]))
//!     .with_task(Task::QuestionAnswering);
//! let b = StructureDimension::default().breakdown(&item);
//! assert_eq!(b.repetition, 0.5); // 2 distinct of 4 word trigrams
//! assert!(b.score() < 2.0);
//! ```

mod audit;
mod calibrate;
mod composite;
mod dimension;
mod item;
mod priors;
mod routed;
mod semantic;
mod split;
mod structure;
mod table;

pub use audit::{Audit, AuditConfig, AuditRow, Gain, Yardstick, audit, correlation_gain};
pub use calibrate::{CalibrationConfig, Fitted, WeightRule, fit_composite, nnls};
pub use composite::{COMPOSITE_FORMAT, CompositeEvaluator, CompositeModel, DroppedDimension, FitInfo};
pub use dimension::Dimension;
pub use item::{GenerationFacts, QualityItem};
pub use priors::{NodePriors, NodeRecord, PriorDimension};
pub use routed::{TASK_ROUTED_FORMAT, TaskFitted, TaskRoutedEvaluator, TaskRoutedModel, fit_per_task};
pub use semantic::{AgreementDimension, AlignmentDimension, SemanticDimension, agreement_score};
pub use split::{Split, in_calibration, split_by_id};
pub use structure::{StructureBreakdown, StructureDimension, TRUNCATION_FACTOR};
pub use table::DimensionTable;
