use crate::error::{Error, Result};
use poq_core::Sampling;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// A token chooser for one generation: settings plus the seeded random state.
///
/// Choosing the next token from logits: greedy, temperature, top-k, top-p and repetition penalty,
/// with a seeded generator so that sampled runs repeat exactly.
///
/// The order of operations is Hugging Face's: repetition penalty, then temperature, then top-k,
/// then top-p, then a draw from the renormalized distribution.
#[derive(Debug)]
pub struct Sampler {
    settings: Sampling,
    rng: StdRng,
}

impl Sampler {
    /// Checks the settings and seeds the generator.
    pub fn new(settings: &Sampling) -> Result<Self> {
        let s = settings;
        if !(s.temperature.is_finite() && s.temperature >= 0.0) {
            return Err(invalid("temperature", format!("must be finite and >= 0, got {}", s.temperature)));
        }
        if s.top_k == Some(0) {
            return Err(invalid("top_k", "must be at least 1".into()));
        }
        if let Some(p) = s.top_p
            && !(p > 0.0 && p <= 1.0)
        {
            return Err(invalid("top_p", format!("must be in (0, 1], got {p}")));
        }
        if !(s.repetition_penalty.is_finite() && s.repetition_penalty > 0.0) {
            return Err(invalid("repetition_penalty", format!("must be finite and > 0, got {}", s.repetition_penalty)));
        }
        Ok(Sampler { settings: settings.clone(), rng: StdRng::seed_from_u64(settings.seed) })
    }

    /// Whether decoding is greedy (temperature 0).
    pub fn is_greedy(&self) -> bool {
        self.settings.temperature == 0.0
    }

    /// Picks the next token. `logits` is modified in place; `context` holds the tokens seen so far
    /// (prompt and generated), which the repetition penalty reads.
    pub fn sample(&mut self, logits: &mut [f32], context: &[u32]) -> Result<u32> {
        if logits.is_empty() {
            return Err(invalid("logits", "the model returned no logits".into()));
        }
        apply_repetition_penalty(logits, context, self.settings.repetition_penalty);
        if self.is_greedy() {
            return Ok(argmax(logits));
        }
        let t = self.settings.temperature as f32;
        let mut cands: Vec<(u32, f32)> = logits.iter().enumerate().map(|(i, &l)| (i as u32, l / t)).collect();
        // Highest first; ties keep the lower id first, like a stable sort on probabilities.
        cands.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        if let Some(k) = self.settings.top_k {
            cands.truncate(k.max(1));
        }
        let max = cands.first().map(|c| c.1).unwrap_or(0.0);
        let mut probs: Vec<f64> = cands.iter().map(|c| f64::from(c.1 - max).exp()).collect();
        let sum: f64 = probs.iter().sum();
        probs.iter_mut().for_each(|p| *p /= sum);
        if let Some(top_p) = self.settings.top_p {
            // Keep the smallest prefix whose mass reaches top_p (always at least one token).
            let mut acc = 0.0;
            let mut keep = probs.len();
            for (i, p) in probs.iter().enumerate() {
                acc += p;
                if acc >= top_p {
                    keep = i + 1;
                    break;
                }
            }
            probs.truncate(keep);
            cands.truncate(keep);
        }
        let total: f64 = probs.iter().sum();
        let mut r = self.rng.random::<f64>() * total;
        for (c, p) in cands.iter().zip(&probs) {
            if r < *p {
                return Ok(c.0);
            }
            r -= p;
        }
        Ok(cands.last().map(|c| c.0).unwrap_or(0))
    }
}

/// Index of the largest logit; the first one on ties (as `torch.argmax`). NaN never wins.
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0usize;
    let mut best_v = f32::NEG_INFINITY;
    for (i, &v) in logits.iter().enumerate() {
        if v > best_v {
            best = i;
            best_v = v;
        }
    }
    best as u32
}

/// Hugging Face's repetition penalty: every token already seen has its logit divided by `penalty`
/// when positive and multiplied by it when negative.
pub fn apply_repetition_penalty(logits: &mut [f32], context: &[u32], penalty: f32) {
    if penalty == 1.0 {
        return;
    }
    let mut seen = vec![false; logits.len()];
    for &t in context {
        let i = t as usize;
        if i < logits.len() && !seen[i] {
            seen[i] = true;
            let l = logits[i];
            logits[i] = if l < 0.0 { l * penalty } else { l / penalty };
        }
    }
}

fn invalid(name: &'static str, message: String) -> Error {
    Error::InvalidArgument { name, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(temperature: f64) -> Sampling {
        Sampling { temperature, ..Sampling::default() }
    }

    #[test]
    fn greedy_takes_the_first_maximum() {
        let mut s = Sampler::new(&Sampling::default()).unwrap();
        let mut l = vec![0.1, 3.0, 3.0, -1.0];
        assert_eq!(s.sample(&mut l, &[]).unwrap(), 1);
    }

    #[test]
    fn repetition_penalty_changes_the_greedy_choice() {
        let mut s = Sampler::new(&Sampling { repetition_penalty: 2.0, ..Sampling::default() }).unwrap();
        let mut l = vec![0.0, 3.0, 2.0, -1.0];
        assert_eq!(s.sample(&mut l, &[1, 3]).unwrap(), 2);
        assert_eq!(l, vec![0.0, 1.5, 2.0, -2.0]);
    }

    #[test]
    fn same_seed_same_draws_other_seed_differs() {
        let logits: Vec<f32> = (0..50).map(|i| (i % 7) as f32 * 0.3).collect();
        let draw = |seed| {
            let mut s = Sampler::new(&Sampling { seed, ..settings(1.0) }).unwrap();
            (0..40).map(|_| s.sample(&mut logits.clone(), &[]).unwrap()).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    #[test]
    fn top_k_one_is_greedy() {
        let mut s = Sampler::new(&Sampling { top_k: Some(1), ..settings(5.0) }).unwrap();
        for _ in 0..20 {
            assert_eq!(s.sample(&mut [0.0, 0.5, 0.4], &[]).unwrap(), 1);
        }
    }

    #[test]
    fn top_p_keeps_only_the_nucleus() {
        // Probabilities ~ [0.665, 0.245, 0.09]: top_p 0.6 keeps only the first token.
        let mut s = Sampler::new(&Sampling { top_p: Some(0.6), ..settings(1.0) }).unwrap();
        for _ in 0..50 {
            assert_eq!(s.sample(&mut [2.0, 1.0, 0.0], &[]).unwrap(), 0);
        }
        let mut s = Sampler::new(&Sampling { top_p: Some(0.95), ..settings(1.0) }).unwrap();
        let drawn: std::collections::HashSet<u32> =
            (0..400).map(|_| s.sample(&mut [2.0, 1.0, 0.0], &[]).unwrap()).collect();
        assert_eq!(drawn, [0, 1, 2].into_iter().collect());
    }

    #[test]
    fn sampling_follows_the_distribution() {
        let mut s = Sampler::new(&settings(1.0)).unwrap();
        let n = 20_000;
        let ones = (0..n).filter(|_| s.sample(&mut [0.0, 1.0f32.ln() + 1.0], &[]).unwrap() == 1).count();
        let expected = 1.0f64.exp() / (1.0 + 1.0f64.exp());
        assert!((ones as f64 / n as f64 - expected).abs() < 0.02);
    }

    #[test]
    fn bad_settings_are_typed_errors() {
        for bad in [
            settings(-1.0),
            settings(f64::NAN),
            Sampling { top_k: Some(0), ..Sampling::default() },
            Sampling { top_p: Some(0.0), ..Sampling::default() },
            Sampling { top_p: Some(1.5), ..Sampling::default() },
            Sampling { repetition_penalty: 0.0, ..Sampling::default() },
        ] {
            assert!(matches!(Sampler::new(&bad), Err(Error::InvalidArgument { .. })), "{bad:?}");
        }
    }
}
