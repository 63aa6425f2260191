//! Stage 5: the paper's results from the measured tables — evaluator correlations, quality and
//! latency per model, costs — then a scenario built from the measurements and the Monte Carlo runs.

use super::run::Measured;
use super::{Config, Result};
use poq_core::Task;
use poq_sim::sweep::{Sweep, run_sweep};
use poq_sim::{Cost, EvaluatorNode, InferenceNode, QualityModel, Report, Scenario, ScoreModel, simulate};
use std::collections::BTreeMap;

/// A correlation with its seeded bootstrap 95% interval.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub(crate) struct Estimate {
    pub value: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

/// One row of the evaluator-agreement table.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Agreement {
    pub evaluator: String,
    /// `f1` or the judge's name.
    pub against: String,
    /// `qa`, `summarization` or `all`.
    pub task: String,
    pub n: usize,
    pub pearson: Option<Estimate>,
    pub spearman: Option<Estimate>,
    pub kendall: Option<Estimate>,
}

/// Per model and task: mean quality by every yardstick and evaluator, and latency.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct ModelRow {
    pub model: String,
    pub task: String,
    pub n: usize,
    pub f1: f64,
    pub em: f64,
    /// (evaluator, mean score 0–10).
    pub scores: Vec<(String, f64)>,
    pub latency_ms: f64,
    pub prefill_tokens_per_s: f64,
    pub decode_tokens_per_s: f64,
    /// Mean STS-consensus-style quality (first evaluator, else F1 × 10) per second of latency.
    pub quality_per_s: f64,
}

/// Everything the report shows.
#[derive(Debug)]
pub(crate) struct Analysis {
    pub agreement: Vec<Agreement>,
    pub models: Vec<ModelRow>,
    /// The scenario built from the measurements, and its run; None when nothing was measured.
    pub measured: Option<(Scenario, Report)>,
    /// β sweep of the measured scenario: (β, report).
    pub beta_sweep: Vec<(f64, Report)>,
    /// The built-in scenario calibrated to the paper's reported figures.
    pub paper: Report,
    pub paper_beta_sweep: Vec<(f64, Report)>,
    /// The calibrated composite quality signal, or why it did not run.
    pub quality: std::result::Result<super::quality::QualityAnalysis, String>,
}

const TASKS: [(&str, Option<Task>); 3] =
    [("qa", Some(Task::QuestionAnswering)), ("summarization", Some(Task::Summarization)), ("all", None)];

/// The mean of the finite values (the judge scores a sample; elsewhere its scores are NaN).
fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.filter(|x| x.is_finite()).fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 { f64::NAN } else { s / n as f64 }
}

pub(crate) fn analyze(m: &Measured, cfg: &Config) -> Result<Analysis> {
    let in_task = |t: Option<Task>| -> Vec<usize> {
        (0..m.prompts.len()).filter(|&p| t.is_none_or(|t| m.prompts[p].task == t)).collect()
    };

    // Agreement of every evaluator with F1 and with the judge, pooled over models.
    let mut agreement = Vec::new();
    let mut references: Vec<(String, &Vec<Vec<f64>>)> = vec![("f1".to_owned(), &m.f1)];
    if let Some(j) = &m.judge {
        references.push((j.name.clone(), &j.scores));
    }
    for ev in &m.evaluators {
        for (against, truth) in &references {
            for (task, t) in TASKS {
                let idx = in_task(t);
                // Pairs where both scored (the judge scores a sample).
                let (x, y): (Vec<f64>, Vec<f64>) = (0..m.answers.len())
                    .flat_map(|g| idx.iter().map(move |&p| (ev.scores[g][p], truth[g][p])))
                    .filter(|(a, b)| a.is_finite() && b.is_finite())
                    .unzip();
                let (pearson, spearman, kendall) = correlate(&x, &y, cfg.seed);
                agreement.push(Agreement {
                    evaluator: ev.name.clone(),
                    against: against.clone(),
                    task: task.to_owned(),
                    n: x.len(),
                    pearson,
                    spearman,
                    kendall,
                });
            }
        }
    }

    // Quality and latency per model and task.
    let mut models = Vec::new();
    for (g, a) in m.answers.iter().enumerate() {
        for (task, t) in TASKS {
            let idx = in_task(t);
            if idx.is_empty() {
                continue;
            }
            let gens = || idx.iter().map(|&p| &a.generations[p]);
            let latency_ms = mean(gens().map(|x| x.latency().as_secs_f64() * 1e3));
            let rate = |tokens: usize, secs: f64| if secs > 0.0 { tokens as f64 / secs } else { f64::NAN };
            let prefill = rate(gens().map(|x| x.prompt_tokens).sum(), gens().map(|x| x.prefill.as_secs_f64()).sum());
            let decode = rate(gens().map(|x| x.generated_tokens).sum(), gens().map(|x| x.decode.as_secs_f64()).sum());
            let scores: Vec<(String, f64)> = m
                .evaluators
                .iter()
                .chain(m.judge.as_ref())
                .map(|e| (e.name.clone(), mean(idx.iter().map(|&p| e.scores[g][p]))))
                .collect();
            let f1 = mean(idx.iter().map(|&p| m.f1[g][p] / 10.0));
            let quality = scores.first().map_or(10.0 * f1, |s| s.1);
            models.push(ModelRow {
                model: a.name.clone(),
                task: task.to_owned(),
                n: idx.len(),
                f1,
                em: mean(idx.iter().map(|&p| m.em[g][p] / 10.0)),
                scores,
                latency_ms,
                prefill_tokens_per_s: prefill,
                decode_tokens_per_s: decode,
                quality_per_s: if latency_ms > 0.0 { quality / (latency_ms / 1e3) } else { f64::NAN },
            });
        }
    }

    let betas = [0.0, 0.25, 0.5, 1.0];
    let sweep = |base: &Scenario| -> Result<Vec<(f64, Report)>> {
        let spec = format!("beta={}", betas.map(|b| b.to_string()).join(","));
        let runs = run_sweep(base, &Sweep::parse(&[spec])?, None, false)?;
        Ok(runs.into_iter().map(|(i, r)| (betas[i], r)).collect())
    };

    let measured = match measured_scenario(m, cfg) {
        Some(sc) => {
            let report = simulate(&sc)?;
            Some((sc, report))
        }
        None => None,
    };
    let beta_sweep = match &measured {
        Some((sc, _)) => sweep(sc)?,
        None => Vec::new(),
    };
    let mut paper = poq_sim::paper();
    paper.rounds = cfg.rounds;
    paper.seed = cfg.seed;
    let paper_beta_sweep = sweep(&paper)?;
    let paper = simulate(&paper)?;
    let quality = super::quality::analyze(m, cfg)?;
    Ok(Analysis { agreement, models, measured, beta_sweep, paper, paper_beta_sweep, quality })
}

/// The PoQ network of what was measured: each generator an inference node whose true quality per
/// prompt is its token F1 × 10 and whose cost is its mean measured latency; each model evaluator an
/// evaluator node that gives exactly the scores it gave, at its measured per-item latency.
fn measured_scenario(m: &Measured, cfg: &Config) -> Option<Scenario> {
    if m.answers.is_empty() || m.evaluators.is_empty() {
        return None;
    }
    let inference: Vec<InferenceNode> = m
        .answers
        .iter()
        .enumerate()
        .map(|(g, a)| {
            let latency = mean(a.generations.iter().map(|x| x.latency().as_secs_f64() * 1e3));
            let mut node = poq_sim::inference_node(&a.name, 5.0, 0.0, latency);
            node.quality = QualityModel::Empirical { scores: m.f1[g].clone() };
            node
        })
        .collect();
    let evaluators: Vec<EvaluatorNode> = m
        .evaluators
        .iter()
        .map(|e| {
            let table: BTreeMap<String, Vec<f64>> =
                m.answers.iter().zip(&e.scores).map(|(a, s)| (a.name.clone(), s.clone())).collect();
            let latency = e.profile.as_ref().map_or(1.0, |p| p.cost.latency_mean_ms);
            let mut node = poq_sim::evaluator_node(&e.name, 1.0, 0.0, 1.0, latency);
            node.scoring = ScoreModel::Empirical { scores: table, bias: 0.0, sd: 0.0 };
            node.cost = Cost::Latency(latency);
            node
        })
        .collect();
    let k = evaluators.len().min(3);
    let mut sc = Scenario::new(inference, evaluators);
    sc.name = "measured".into();
    sc.audit = poq_sim::Audit::RECOMMENDED; // as before `Scenario::new` stopped turning audits on
    sc.k = k;
    sc.prompts = m.prompts.len();
    sc.rounds = cfg.rounds;
    sc.seed = cfg.seed;
    Some(sc)
}

/// Pearson, Spearman and Kendall tau-b with seeded bootstrap 95% intervals; None where undefined
/// (fewer than three points, or a constant series).
fn correlate(x: &[f64], y: &[f64], seed: u64) -> (Option<Estimate>, Option<Estimate>, Option<Estimate>) {
    use poq_eval::stats::{BootstrapConfig, Method, correlate};
    let boot = BootstrapConfig { seed, ..BootstrapConfig::default() };
    let est = |method| {
        correlate(method, x, y, &boot).ok().map(|c| Estimate {
            value: c.estimate,
            ci_low: c.ci_low,
            ci_high: c.ci_high,
        })
    };
    (est(Method::Pearson), est(Method::Spearman), est(Method::KendallTauB))
}
