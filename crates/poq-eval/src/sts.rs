use std::collections::HashMap;
use std::path::Path;

use poq_core::{EvalItem, Evaluator, Score};

use crate::device::DeviceChoice;
use crate::encoder::SentenceEncoder;
use crate::model_dir::ModelDir;
use crate::{Error, Result};

/// How a cosine similarity in [-1, 1] becomes a 0–10 score.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum ScoreMapping {
    /// 10 × max(0, cos): the paper's mapping (the default).
    #[default]
    ClampedCosine,
    /// 5 × (cos + 1): keeps negative similarities apart.
    Shifted,
    /// `scale` × cos + `offset`, clamped into [0, 10].
    Affine {
        /// Multiplier.
        scale: f64,
        /// Added after scaling.
        offset: f64,
    },
}

impl ScoreMapping {
    /// The score for cosine `cos`.
    pub fn apply(self, cos: f64) -> Result<Score> {
        // `f64::max` drops NaN, which would turn a broken embedding into a silent 0.
        if cos.is_nan() {
            return Err(poq_core::Error::InvalidScore { field: "cosine similarity".into(), value: cos }.into());
        }
        let v = match self {
            ScoreMapping::ClampedCosine => 10.0 * cos.max(0.0),
            ScoreMapping::Shifted => 5.0 * (cos + 1.0),
            ScoreMapping::Affine { scale, offset } => scale * cos + offset,
        };
        Ok(Score::clamped(v)?)
    }
}

/// The STS bi-encoder evaluator (name `sts`).
///
/// The STS bi-encoder evaluator: 10 × max(0, cos(candidate, reference)), best over references.
///
/// ```no_run
/// use poq_core::{EvalItem, Evaluator};
/// let sts = poq_eval::StsEvaluator::from_dir("models/all-MiniLM-L6-v2")?;
/// let scores = sts.score_batch(&[EvalItem::new("Paris", vec!["Paris, France".into()])])?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct StsEvaluator {
    encoder: SentenceEncoder,
    mapping: ScoreMapping,
}

impl StsEvaluator {
    /// Loads a sentence-transformers folder on the CPU.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<StsEvaluator> {
        Self::load(&ModelDir::open(dir)?, DeviceChoice::Cpu)
    }

    /// Loads a checked model folder on `device`.
    pub fn load(dir: &ModelDir, device: DeviceChoice) -> Result<StsEvaluator> {
        let encoder = SentenceEncoder::load(dir, &device.resolve()?)?;
        Ok(StsEvaluator { encoder, mapping: ScoreMapping::default() })
    }

    /// Wraps an already loaded encoder.
    pub fn from_encoder(encoder: SentenceEncoder) -> StsEvaluator {
        StsEvaluator { encoder, mapping: ScoreMapping::default() }
    }

    /// The same evaluator with another score mapping.
    pub fn with_mapping(mut self, mapping: ScoreMapping) -> StsEvaluator {
        self.mapping = mapping;
        self
    }

    /// The same evaluator with another batch size.
    pub fn with_batch_size(mut self, batch_size: usize) -> StsEvaluator {
        self.encoder = self.encoder.with_batch_size(batch_size);
        self
    }

    /// The encoder.
    pub fn encoder(&self) -> &SentenceEncoder {
        &self.encoder
    }

    /// Sentence embeddings in input order.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.encoder.embed(texts)
    }

    /// The raw cosine similarity of two texts.
    pub fn similarity(&self, a: &str, b: &str) -> Result<f64> {
        let e = self.embed(&[a, b])?;
        Ok(cosine(&e[0], &e[1]))
    }
}

/// Cosine similarity as `torch.nn.functional.cosine_similarity` (norms clamped at 1e-8).
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    dot / (na.sqrt().max(1e-8) * nb.sqrt().max(1e-8))
}

impl Evaluator for StsEvaluator {
    fn name(&self) -> &str {
        "sts"
    }

    fn score_batch(&self, items: &[EvalItem]) -> poq_core::Result<Vec<Score>> {
        Ok(score_items(self, items)?)
    }
}

fn score_items(sts: &StsEvaluator, items: &[EvalItem]) -> Result<Vec<Score>> {
    // Each distinct text is embedded once, however often it appears.
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut texts: Vec<&str> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if item.references.is_empty() {
            return Err(Error::InvalidArgument { name: "references", message: format!("item {i} has no references") });
        }
        for t in std::iter::once(&item.candidate).chain(&item.references) {
            index.entry(t.as_str()).or_insert_with(|| {
                texts.push(t.as_str());
                texts.len() - 1
            });
        }
    }
    let emb = sts.embed(&texts)?;
    items
        .iter()
        .map(|item| {
            let c = &emb[index[item.candidate.as_str()]];
            let best =
                item.references.iter().map(|r| cosine(c, &emb[index[r.as_str()]])).fold(f64::NEG_INFINITY, f64::max);
            sts.mapping.apply(best)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings() {
        assert_eq!(ScoreMapping::ClampedCosine.apply(-0.3).unwrap().value(), 0.0);
        assert!((ScoreMapping::ClampedCosine.apply(0.42).unwrap().value() - 4.2).abs() < 1e-12);
        assert_eq!(ScoreMapping::ClampedCosine.apply(1.0000001).unwrap().value(), 10.0);
        assert!((ScoreMapping::Shifted.apply(-0.2).unwrap().value() - 4.0).abs() < 1e-12);
        let affine = ScoreMapping::Affine { scale: 20.0, offset: -5.0 };
        assert_eq!(affine.apply(0.1).unwrap().value(), 0.0);
        assert!((affine.apply(0.5).unwrap().value() - 5.0).abs() < 1e-12);
        assert!(ScoreMapping::ClampedCosine.apply(f64::NAN).is_err());
    }

    #[test]
    fn cosine_matches_definition() {
        assert!((cosine(&[1.0, 0.0], &[1.0, 1.0]) - 0.5f64.sqrt()).abs() < 1e-12);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 1.0]), 0.0);
    }
}
