//! Quality models (how good an answer truly is) and scoring models (what an evaluator says).

use crate::error::{Result, SimError};
use crate::rng::RoundRng;
use rand_distr::{Beta, Distribution};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The true quality (0–10) of a node's answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case", deny_unknown_fields)]
pub enum QualityModel {
    /// `clip(N(mean, sd²), 0, 10)`.
    Normal {
        /// Mean before clipping.
        mean: f64,
        /// Standard deviation before clipping.
        sd: f64,
    },
    /// `10 · Beta(a, b)` with `a = κ·mean/10`, `b = κ·(1 − mean/10)`.
    Beta {
        /// Mean on the 0–10 scale, in (0, 10).
        mean: f64,
        /// Concentration `κ = a + b` (larger: less spread).
        concentration: f64,
    },
    /// Per-prompt scores (e.g. token F1 × 10 from poq-eval), one per prompt.
    Empirical {
        /// `scores[prompt]` in [0, 10]; length = the scenario's `prompts`.
        scores: Vec<f64>,
    },
}

/// How an evaluator's score relates to the true quality `t` (before any adversary; clipped to 0–10).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScoreModel {
    /// `t + bias + sd·ε`.
    Noisy {
        /// Systematic offset.
        #[serde(default)]
        bias: f64,
        /// Noise standard deviation.
        sd: f64,
    },
    /// `m + bias + scale·(ρ·(t − m)/σ + √(1 − ρ²)·ε)`, where `m` and `σ` are the mean and standard
    /// deviation of true quality over the inference pool: correlation `ρ` with truth (before clipping).
    Correlated {
        /// Pearson correlation with truth, in [−1, 1].
        correlation: f64,
        /// Offset of the score's mean from the pool's mean quality.
        #[serde(default)]
        bias: f64,
        /// Standard deviation of the score.
        scale: f64,
    },
    /// A per-(prompt, answer) table: `scores[name][prompt]`, where `name` is an inference node (or a
    /// downgrade model) whose output is scored; plus `bias + sd·ε`, so a pool of evaluators reading
    /// one measured table can still disagree (both 0 by default: exactly the table).
    Empirical {
        /// Table keyed by output name.
        scores: BTreeMap<String, Vec<f64>>,
        /// Systematic offset added to every score.
        #[serde(default, skip_serializing_if = "is_zero")]
        bias: f64,
        /// Standard deviation of fresh normal noise per score.
        #[serde(default, skip_serializing_if = "is_zero")]
        sd: f64,
    },
}

// Unset noise fields stay out of files and transcripts, which therefore read as before.
#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

/// A quality model ready to sample.
#[derive(Debug, Clone)]
pub(crate) enum Quality {
    Normal { mean: f64, sd: f64 },
    Beta(Beta<f64>),
    Empirical(Vec<f64>),
}

impl Quality {
    #[inline(always)]
    pub(crate) fn sample(&self, prompt: usize, rng: &mut RoundRng) -> f64 {
        match self {
            Quality::Normal { mean, sd } => (mean + sd * rng.normal()).clamp(0.0, 10.0),
            Quality::Beta(b) => rng.detached(|g| sample_beta(b, g)),
            Quality::Empirical(s) => s[prompt],
        }
    }
}

/// Out of line: the Beta sampler is large and would crowd the round loop it is inlined into.
#[inline(never)]
fn sample_beta(b: &Beta<f64>, rng: &mut RoundRng) -> f64 {
    10.0 * b.sample(rng)
}

fn check(field: &str, ok: bool, what: &str, value: f64) -> Result<()> {
    if ok && !value.is_nan() { Ok(()) } else { Err(SimError::invalid(field, format!("{what} (got {value})"))) }
}

fn check_table(field: &str, scores: &[f64], prompts: usize) -> Result<()> {
    if scores.len() != prompts {
        return Err(SimError::invalid(
            field,
            format!("has {} scores but the scenario has {prompts} prompts", scores.len()),
        ));
    }
    for (i, &s) in scores.iter().enumerate() {
        check(&format!("{field}[{i}]"), (0.0..=10.0).contains(&s), "must be in [0, 10]", s)?;
    }
    Ok(())
}

impl QualityModel {
    /// Checks the parameters and builds the sampler.
    pub(crate) fn compile(&self, field: &str, prompts: usize) -> Result<Quality> {
        match *self {
            QualityModel::Normal { mean, sd } => {
                check(&format!("{field}.mean"), (0.0..=10.0).contains(&mean), "must be in [0, 10]", mean)?;
                check(&format!("{field}.sd"), sd.is_finite() && sd >= 0.0, "must be finite and >= 0", sd)?;
                Ok(Quality::Normal { mean, sd })
            }
            QualityModel::Beta { mean, concentration: k } => {
                check(&format!("{field}.mean"), mean > 0.0 && mean < 10.0, "must be in (0, 10)", mean)?;
                check(&format!("{field}.concentration"), k.is_finite() && k > 0.0, "must be finite and > 0", k)?;
                let b = Beta::new(k * mean / 10.0, k * (1.0 - mean / 10.0))
                    .map_err(|e| SimError::invalid(field, e.to_string()))?;
                Ok(Quality::Beta(b))
            }
            QualityModel::Empirical { ref scores } => {
                check_table(&format!("{field}.scores"), scores, prompts)?;
                Ok(Quality::Empirical(scores.clone()))
            }
        }
    }

    /// Mean and variance of the quality (before clipping for `Normal`), used to standardize truth.
    pub(crate) fn moments(&self) -> (f64, f64) {
        match self {
            QualityModel::Normal { mean, sd } => (*mean, sd * sd),
            QualityModel::Beta { mean, concentration } => (*mean, mean * (10.0 - mean) / (concentration + 1.0)),
            QualityModel::Empirical { scores } => {
                let n = scores.len().max(1) as f64;
                let m = scores.iter().sum::<f64>() / n;
                (m, scores.iter().map(|s| (s - m) * (s - m)).sum::<f64>() / n)
            }
        }
    }
}

/// A scoring model ready to use: `Linear` covers both `Noisy` and `Correlated` as
/// `intercept + slope·truth + noise_sd·ε`.
#[derive(Debug, Clone)]
pub(crate) enum Scorer {
    Linear {
        intercept: f64,
        slope: f64,
        noise_sd: f64,
    },
    /// `table[output][prompt] + bias + noise_sd·ε`.
    Empirical {
        table: Vec<Vec<f64>>,
        bias: f64,
        noise_sd: f64,
    },
}

impl Scorer {
    #[inline]
    pub(crate) fn score(&self, truth: f64, output: usize, prompt: usize, rng: &mut RoundRng) -> f64 {
        match self {
            Scorer::Linear { intercept, slope, noise_sd } => {
                let noise = if *noise_sd > 0.0 { noise_sd * rng.normal() } else { 0.0 };
                intercept + slope * truth + noise
            }
            Scorer::Empirical { table, bias, noise_sd } => {
                let s = table[output][prompt];
                // No draw without noise: a plain table uses no random numbers, as before.
                if *noise_sd > 0.0 { s + bias + noise_sd * rng.normal() } else { s + bias }
            }
        }
    }
}

impl ScoreModel {
    /// Checks the parameters and builds the scorer. `pool` is (mean, sd) of truth over the inference
    /// pool; `outputs` names every output that can be scored, in output-index order.
    pub(crate) fn compile(&self, field: &str, pool: (f64, f64), outputs: &[&str], prompts: usize) -> Result<Scorer> {
        match *self {
            ScoreModel::Noisy { bias, sd } => {
                check(&format!("{field}.bias"), bias.is_finite(), "must be finite", bias)?;
                check(&format!("{field}.sd"), sd.is_finite() && sd >= 0.0, "must be finite and >= 0", sd)?;
                Ok(Scorer::Linear { intercept: bias, slope: 1.0, noise_sd: sd })
            }
            ScoreModel::Correlated { correlation: r, bias, scale } => {
                check(&format!("{field}.correlation"), (-1.0..=1.0).contains(&r), "must be in [-1, 1]", r)?;
                check(&format!("{field}.bias"), bias.is_finite(), "must be finite", bias)?;
                check(&format!("{field}.scale"), scale.is_finite() && scale >= 0.0, "must be finite and >= 0", scale)?;
                let (m, sigma) = pool;
                // With no spread in truth there is nothing to correlate with: pure noise around m.
                let slope = if sigma > 0.0 { scale * r / sigma } else { 0.0 };
                let noise_sd = scale * (1.0 - r * r).max(0.0).sqrt();
                Ok(Scorer::Linear { intercept: m + bias - slope * m, slope, noise_sd })
            }
            ScoreModel::Empirical { ref scores, bias, sd } => {
                check(&format!("{field}.bias"), bias.is_finite(), "must be finite", bias)?;
                check(&format!("{field}.sd"), sd.is_finite() && sd >= 0.0, "must be finite and >= 0", sd)?;
                if let Some(extra) = scores.keys().find(|k| !outputs.contains(&k.as_str())) {
                    return Err(SimError::invalid(
                        format!("{field}.scores.{extra}"),
                        "names no inference node or downgrade model",
                    ));
                }
                let table = outputs
                    .iter()
                    .map(|name| {
                        let f = format!("{field}.scores.{name}");
                        let col = scores
                            .get(*name)
                            .ok_or_else(|| SimError::invalid(&f, "missing: the table needs every output"))?;
                        check_table(&f, col, prompts)?;
                        Ok(col.clone())
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(Scorer::Empirical { table, bias, noise_sd: sd })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlated_scores_have_the_requested_correlation() {
        let q = QualityModel::Normal { mean: 5.0, sd: 1.0 };
        let sampler = q.compile("q", 1).unwrap();
        let s = ScoreModel::Correlated { correlation: 0.6, bias: 0.0, scale: 1.0 }
            .compile("s", (5.0, 1.0), &["a"], 1)
            .unwrap();
        let (mut t, mut x) = (Vec::new(), Vec::new());
        for r in 0..50_000 {
            let mut g = RoundRng::new(3, r);
            let truth = sampler.sample(0, &mut g);
            t.push(truth);
            x.push(s.score(truth, 0, 0, &mut g));
        }
        let n = t.len() as f64;
        let (mt, mx) = (t.iter().sum::<f64>() / n, x.iter().sum::<f64>() / n);
        let cov: f64 = t.iter().zip(&x).map(|(a, b)| (a - mt) * (b - mx)).sum::<f64>() / n;
        let vt: f64 = t.iter().map(|a| (a - mt).powi(2)).sum::<f64>() / n;
        let vx: f64 = x.iter().map(|b| (b - mx).powi(2)).sum::<f64>() / n;
        let r = cov / (vt * vx).sqrt();
        assert!((r - 0.6).abs() < 0.02, "r = {r}");
        assert!((mx - 5.0).abs() < 0.02 && (vx.sqrt() - 1.0).abs() < 0.02);
    }

    #[test]
    fn bad_parameters_name_the_field() {
        let e = QualityModel::Normal { mean: 5.0, sd: f64::NAN }.compile("inference[1].quality", 3).unwrap_err();
        assert!(e.to_string().contains("inference[1].quality.sd"), "{e}");
        let e = QualityModel::Empirical { scores: vec![1.0, 11.0] }.compile("q", 2).unwrap_err();
        assert!(e.to_string().contains("q.scores[1]"), "{e}");
        let e = QualityModel::Empirical { scores: vec![1.0] }.compile("q", 2).unwrap_err();
        assert!(e.to_string().contains("2 prompts"), "{e}");
        let e = ScoreModel::Correlated { correlation: 1.5, bias: 0.0, scale: 1.0 }
            .compile("e", (5.0, 1.0), &[], 1)
            .unwrap_err();
        assert!(e.to_string().contains("e.correlation"), "{e}");
        let table = ScoreModel::Empirical { scores: [("b".to_owned(), vec![1.0])].into(), bias: 0.0, sd: 0.0 };
        let e = table.compile("e", (5.0, 1.0), &["a"], 1).unwrap_err();
        assert!(e.to_string().contains("e.scores.b"), "{e}");
    }

    #[test]
    fn empirical_noise_is_off_by_default_and_has_the_requested_moments() {
        let table =
            |bias: f64, sd: f64| ScoreModel::Empirical { scores: [("a".to_owned(), vec![4.0])].into(), bias, sd };
        // Default: exactly the table, no random number drawn, the same JSON as before the fields.
        let plain = table(0.0, 0.0).compile("e", (5.0, 1.0), &["a"], 1).unwrap();
        let (mut g, mut h) = (RoundRng::new(1, 2), RoundRng::new(1, 2));
        assert_eq!(plain.score(7.0, 0, 0, &mut g), 4.0);
        assert_eq!(g.normal().to_bits(), h.normal().to_bits());
        let json = serde_json::to_string(&table(0.0, 0.0)).unwrap();
        assert_eq!(json, r#"{"model":"empirical","scores":{"a":[4.0]}}"#);
        let read: ScoreModel = serde_json::from_str(&json).unwrap();
        assert_eq!(read, table(0.0, 0.0));
        let noisy = table(0.5, 2.0).compile("e", (5.0, 1.0), &["a"], 1).unwrap();
        let n = 40_000;
        let x: Vec<f64> = (0..n).map(|r| noisy.score(7.0, 0, 0, &mut RoundRng::new(9, r))).collect();
        let m = x.iter().sum::<f64>() / n as f64;
        let sd = (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n as f64).sqrt();
        assert!((m - 4.5).abs() < 0.05 && (sd - 2.0).abs() < 0.05, "{m} {sd}");
        let e = table(0.0, -1.0).compile("e", (5.0, 1.0), &["a"], 1).unwrap_err();
        assert!(e.to_string().contains("e.sd"), "{e}");
    }

    #[test]
    fn beta_has_the_requested_mean() {
        let q = QualityModel::Beta { mean: 3.0, concentration: 4.0 };
        let s = q.compile("q", 1).unwrap();
        let n = 40_000;
        let m: f64 = (0..n).map(|r| s.sample(0, &mut RoundRng::new(9, r))).sum::<f64>() / n as f64;
        assert!((m - 3.0).abs() < 0.05, "{m}");
        assert!((q.moments().1 - 3.0 * 7.0 / 5.0).abs() < 1e-12);
    }
}
