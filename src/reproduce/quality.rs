//! The calibrated multi-dimensional quality signal on the measured answers (issue 18, after arXiv
//! 2603.04028): dimensions per answer, the audit and fit on a calibration split by prompt id, the
//! composite beside the best single evaluator and the mean consensus on the held-out prompts, and
//! Monte Carlo rewards with the composite as the quality signal.

use super::analysis::Estimate;
use super::attacks::{self, AttackSweep, Settings, Signal};
use super::run::Measured;
use super::{Config, Result};
use poq_core::{EvalItem, Score};
use poq_eval::quality::{
    AuditConfig, CalibrationConfig, DimensionTable, Fitted, Gain, GenerationFacts, NodePriors, QualityItem,
    StructureDimension, TaskFitted, agreement_score, correlation_gain, fit_per_task,
};
use poq_eval::stats::{BootstrapConfig, Method, correlate};
use poq_sim::{Cost, EvaluatorNode, InferenceNode, QualityModel, Report, Scenario, ScoreModel, simulate};
use std::collections::BTreeMap;

/// One signal's agreement with a yardstick on the held-out rows.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct HeldOut {
    pub signal: String,
    /// `f1` or the judge's name.
    pub against: String,
    pub n: usize,
    pub pearson: Option<Estimate>,
    pub spearman: Option<Estimate>,
    pub kendall: Option<Estimate>,
}

/// Everything the report's quality section shows.
#[derive(Debug)]
pub(crate) struct QualityAnalysis {
    pub fitted: Fitted,
    pub rows: usize,
    pub held_out_prompts: usize,
    pub held_out: Vec<HeldOut>,
    /// The single evaluator with the best calibration-split Pearson with F1.
    pub best_single: String,
    /// Composite minus best single evaluator, Pearson, held out: against F1, against the judge.
    pub gain_over_best: (Option<Gain>, Option<Gain>),
    /// Composite minus the mean consensus, Pearson with F1, held out.
    pub gain_over_consensus: Option<Gain>,
    /// Monte Carlo on the held-out prompts: the evaluators' mean consensus, then the composite.
    pub rewards: Option<(Report, Report)>,
    /// The signals under evaluator attacks on the held-out prompts.
    pub attacks: Option<AttackSweep>,
    /// One composite per task (calibration rows of that task only), the pooled one as fallback.
    pub per_task: TaskFitted,
    /// Per task, held out: the per-task composite beside the pooled one and the best single evaluator.
    pub tasks: Vec<TaskHeldOut>,
}

/// One task's held-out comparison: Pearson with F1 of its own composite, the pooled composite and
/// the best single evaluator on that task's calibration rows, with paired gains.
#[derive(Debug, Clone)]
pub(crate) struct TaskHeldOut {
    /// `qa`, `summarization`, or `all` (every held-out row, each scored by its task's composite).
    pub task: String,
    pub n: usize,
    pub best_single: String,
    pub per_task: Option<Estimate>,
    pub pooled: Option<Estimate>,
    pub single: Option<Estimate>,
    pub gain_over_pooled: Option<Gain>,
    pub gain_over_single: Option<Gain>,
}

pub(crate) const CONSENSUS: &str = "mean consensus";
pub(crate) const COMPOSITE: &str = "composite";

/// The dimension table of every (model, prompt) answer, row `g · prompts + p`.
fn dimension_table(m: &Measured) -> Result<DimensionTable> {
    let prompts = m.prompts.len();
    let structure = StructureDimension::default();
    let (mut ids, mut tasks, mut f1, mut judge) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut names = vec!["structure".to_owned()];
    names.extend(m.evaluators.iter().map(|e| format!("semantic:{}", e.name)));
    names.extend(m.alignment.iter().map(|a| a.name.clone()));
    let agreement = m.evaluators.len() >= 2;
    if agreement {
        names.push("agreement".to_owned());
    }
    names.push("prior".to_owned());
    let mut columns = vec![Vec::with_capacity(prompts * m.answers.len()); names.len()];
    // Priors run over prompts in order, as rounds: each answer sees its model's mean consensus
    // and latency over the earlier prompts only.
    let mut priors = NodePriors::default();
    let mut prior_scores = vec![Vec::with_capacity(prompts); m.answers.len()];
    for p in 0..prompts {
        for (g, a) in m.answers.iter().enumerate() {
            prior_scores[g].push(priors.quality_prior(&a.name).value());
        }
        for (g, a) in m.answers.iter().enumerate() {
            let consensus = m.evaluators.iter().map(|e| e.scores[g][p]).filter(|v| v.is_finite()).collect::<Vec<_>>();
            if !consensus.is_empty() {
                let q = Score::clamped(consensus.iter().sum::<f64>() / consensus.len() as f64)?;
                priors.update(&a.name, q, a.generations[p].latency().as_secs_f64() * 1e3)?;
            }
        }
    }
    for (g, a) in m.answers.iter().enumerate() {
        for (p, s) in m.prompts.iter().enumerate() {
            ids.push(s.id.clone());
            tasks.push(s.task);
            f1.push(m.f1[g][p]);
            judge.push(m.judge.as_ref().map_or(f64::NAN, |j| j.scores[g][p]));
            let generation = &a.generations[p];
            let item = QualityItem::new(EvalItem::new(generation.text.clone(), s.references.clone()))
                .with_task(s.task)
                .with_generation(GenerationFacts::from_generation(generation, m.max_new_tokens.get(p).copied()));
            let mut c = 0;
            let mut push = |v: f64| {
                columns[c].push(v);
                c += 1;
            };
            push(structure.breakdown(&item).score());
            for e in &m.evaluators {
                push(e.scores[g][p]);
            }
            if let Some(al) = &m.alignment {
                push(al.scores[g][p]);
            }
            if agreement {
                let v: Vec<f64> = m.evaluators.iter().map(|e| e.scores[g][p]).collect();
                push(agreement_score(&v)?.value());
            }
            push(prior_scores[g][p]);
        }
    }
    let table =
        DimensionTable { ids, tasks, names, columns, f1, judge: if m.judge.is_some() { judge } else { Vec::new() } };
    table.validate()?;
    Ok(table)
}

fn estimate(method: Method, x: &[f64], y: &[f64], boot: &BootstrapConfig) -> Option<Estimate> {
    correlate(method, x, y, boot).ok().map(|c| Estimate { value: c.estimate, ci_low: c.ci_low, ci_high: c.ci_high })
}

/// The quality section's analysis, or why it could not run (too few answers or evaluators, no
/// dimension reliable on the calibration split).
pub(crate) fn analyze(m: &Measured, cfg: &Config) -> Result<std::result::Result<QualityAnalysis, String>> {
    if m.answers.is_empty() || m.evaluators.is_empty() {
        return Ok(Err("it needs at least one inference model and one model evaluator".to_owned()));
    }
    let table = dimension_table(m)?;
    let boot = BootstrapConfig { seed: cfg.seed, ..BootstrapConfig::default() };
    let calibration = CalibrationConfig {
        seed: cfg.seed,
        audit: AuditConfig { bootstrap: boot, ..AuditConfig::default() },
        ..CalibrationConfig::default()
    };
    // The pooled composite and one per task, on the same seeded split by prompt id.
    let per_task = match fit_per_task(&table, &calibration) {
        Ok(f) => f,
        Err(e) => return Ok(Err(format!("the composite could not be fitted on this run's answers: {e}"))),
    };
    let fitted = per_task.pooled.clone();
    let (cal, held) = (table.rows(&fitted.split.calibration), table.rows(&fitted.split.held_out));
    // The best single evaluator is chosen on the calibration split, like everything fitted.
    let pearson_f1 = |t: &DimensionTable, col: &[f64]| {
        poq_eval::stats::pearson(col, &t.f1).map_or(f64::NEG_INFINITY, |c| c.estimate)
    };
    let single: Vec<(String, String)> =
        m.evaluators.iter().map(|e| (e.name.clone(), format!("semantic:{}", e.name))).collect();
    let Some((best_single, best_column)) = single
        .iter()
        .max_by(|a, b| {
            let score = |c: &str| cal.column(c).map_or(f64::NEG_INFINITY, |v| pearson_f1(&cal, v));
            score(&a.1).total_cmp(&score(&b.1))
        })
        .cloned()
    else {
        return Ok(Err("no model evaluator ran".to_owned()));
    };
    let composite: Vec<f64> = fitted.model.score_table(&held)?.iter().map(|s| s.value()).collect();
    let consensus: Vec<f64> = (0..held.len())
        .map(|r| single.iter().filter_map(|(_, c)| held.column(c).map(|v| v[r])).sum::<f64>() / single.len() as f64)
        .collect();
    let mut signals: Vec<(String, Vec<f64>)> = vec![(COMPOSITE.to_owned(), composite.clone())];
    for (name, column) in &single {
        signals.push((name.clone(), held.column(column).map(<[f64]>::to_vec).unwrap_or_default()));
    }
    signals.push((CONSENSUS.to_owned(), consensus.clone()));
    let judge_name = m.judge.as_ref().map(|j| j.name.clone());
    let judged: Vec<usize> = (0..held.len()).filter(|&r| held.judge.get(r).is_some_and(|v| v.is_finite())).collect();
    let mut held_out = Vec::new();
    for (name, v) in &signals {
        let mut yardsticks = vec![("f1".to_owned(), (0..held.len()).collect::<Vec<_>>(), &held.f1)];
        if let Some(j) = &judge_name {
            yardsticks.push((j.clone(), judged.clone(), &held.judge));
        }
        for (against, rows, truth) in yardsticks {
            let x: Vec<f64> = rows.iter().map(|&r| v[r]).collect();
            let y: Vec<f64> = rows.iter().map(|&r| truth[r]).collect();
            held_out.push(HeldOut {
                signal: name.clone(),
                against,
                n: x.len(),
                pearson: estimate(Method::Pearson, &x, &y, &boot),
                spearman: estimate(Method::Spearman, &x, &y, &boot),
                kendall: estimate(Method::KendallTauB, &x, &y, &boot),
            });
        }
    }
    let best: Vec<f64> = held.column(&best_column).map(<[f64]>::to_vec).unwrap_or_default();
    let gain_f1 = correlation_gain(Method::Pearson, &composite, &best, &held.f1, &boot).ok();
    let pick = |v: &[f64]| judged.iter().map(|&r| v[r]).collect::<Vec<f64>>();
    let gain_judge = correlation_gain(Method::Pearson, &pick(&composite), &pick(&best), &pick(&held.judge), &boot).ok();
    let gain_over_consensus = correlation_gain(Method::Pearson, &composite, &consensus, &held.f1, &boot).ok();
    let held_prompts: Vec<usize> = (0..m.prompts.len())
        .filter(|&p| !fitted.split.calibration.iter().any(|&r| table.ids[r] == m.prompts[p].id))
        .collect();
    let tasks = per_task_held_out(&table, &per_task, &single, &boot)?;
    let composite_all = composite_by_model(m, &fitted, &table)?;
    let rewards = held_out_rewards(m, cfg, &composite_all, &held_prompts)?;
    let noise = pool_noise(&cal, &single.iter().map(|(_, c)| c.clone()).collect::<Vec<_>>());
    let attacks = attack_sweep(m, cfg, &composite_all, &best_single, noise, &held_prompts)?;
    Ok(Ok(QualityAnalysis {
        rows: table.len(),
        held_out_prompts: held_prompts.len(),
        fitted,
        held_out,
        best_single,
        gain_over_best: (gain_f1, gain_judge),
        gain_over_consensus,
        rewards,
        attacks,
        per_task,
        tasks,
    }))
}

/// Per task with its own composite, then over all held-out rows: the per-task composite beside
/// the pooled one and the best single evaluator (chosen on that task's calibration rows).
fn per_task_held_out(
    table: &DimensionTable,
    fits: &TaskFitted,
    single: &[(String, String)],
    boot: &BootstrapConfig,
) -> Result<Vec<TaskHeldOut>> {
    let held_rows = &fits.pooled.split.held_out;
    let routed_all: Vec<f64> = fits.model.score_table(table)?.iter().map(|s| s.value()).collect();
    let pooled_all: Vec<f64> = fits.pooled.model.score_table(table)?.iter().map(|s| s.value()).collect();
    let pearson = |x: &[f64], y: &[f64]| estimate(Method::Pearson, x, y, boot);
    let mut groups: Vec<(String, Vec<usize>, Vec<usize>)> = fits
        .tasks
        .iter()
        .map(|(task, (rows, f))| {
            let held: Vec<usize> = held_rows.iter().copied().filter(|&r| table.tasks[r] == *task).collect();
            let cal: Vec<usize> = f.split.calibration.iter().map(|&i| rows[i]).collect();
            (task.short_name().to_owned(), held, cal)
        })
        .collect();
    groups.push(("all".to_owned(), held_rows.clone(), fits.pooled.split.calibration.clone()));
    let mut out = Vec::new();
    for (task, held, cal) in groups {
        let cal_table = table.rows(&cal);
        let Some((best, column)) = single
            .iter()
            .filter_map(|(name, c)| {
                let r = poq_eval::stats::pearson(cal_table.column(c)?, &cal_table.f1).ok()?.estimate;
                Some((name, c, r))
            })
            .max_by(|a, b| a.2.total_cmp(&b.2))
            .map(|(n, c, _)| (n.clone(), c.clone()))
        else {
            continue;
        };
        let pick = |v: &[f64]| held.iter().map(|&r| v[r]).collect::<Vec<f64>>();
        let (routed, pooled, f1) = (pick(&routed_all), pick(&pooled_all), pick(&table.f1));
        let best_col = table.column(&column).map(pick).unwrap_or_default();
        out.push(TaskHeldOut {
            task,
            n: held.len(),
            best_single: best,
            per_task: pearson(&routed, &f1),
            pooled: pearson(&pooled, &f1),
            single: pearson(&best_col, &f1),
            gain_over_pooled: correlation_gain(Method::Pearson, &routed, &pooled, &f1, boot).ok(),
            gain_over_single: correlation_gain(Method::Pearson, &routed, &best_col, &f1, boot).ok(),
        });
    }
    Ok(out)
}

/// The inference nodes on the held-out prompts: true quality their token F1 × 10 there, cost
/// their mean measured latency there.
fn held_out_inference(m: &Measured, held_prompts: &[usize]) -> Vec<InferenceNode> {
    m.answers
        .iter()
        .enumerate()
        .map(|(g, a)| {
            let latency = held_prompts.iter().map(|&p| a.generations[p].latency().as_secs_f64() * 1e3).sum::<f64>()
                / held_prompts.len() as f64;
            let mut node = poq_sim::inference_node(&a.name, 5.0, 0.0, latency);
            node.quality = QualityModel::Empirical { scores: held_prompts.iter().map(|&p| m.f1[g][p]).collect() };
            node
        })
        .collect()
}

/// `scores[model][prompt]` restricted to the held-out prompts, keyed by model name.
fn held_out_table(m: &Measured, scores: &[Vec<f64>], held_prompts: &[usize]) -> BTreeMap<String, Vec<f64>> {
    m.answers.iter().zip(scores).map(|(a, s)| (a.name.clone(), held_prompts.iter().map(|&p| s[p]).collect())).collect()
}

/// The composite's score of every answer, `[model][prompt]`.
fn composite_by_model(m: &Measured, fitted: &Fitted, table: &DimensionTable) -> Result<Vec<Vec<f64>>> {
    let all: Vec<f64> = fitted.model.score_table(table)?.iter().map(|s| s.value()).collect();
    Ok(all.chunks(m.prompts.len().max(1)).map(<[f64]>::to_vec).collect())
}

/// Two Monte Carlo runs on the held-out prompts: the measured evaluators under mean consensus
/// (as the measured scenario), and the composite as the only evaluator node. Inference nodes'
/// true quality is their token F1 × 10 on those prompts; the composite's cost is the sum of the
/// evaluators' measured latencies (it runs them all).
fn held_out_rewards(
    m: &Measured,
    cfg: &Config,
    composite: &[Vec<f64>],
    held_prompts: &[usize],
) -> Result<Option<(Report, Report)>> {
    if held_prompts.is_empty() {
        return Ok(None);
    }
    let inference = held_out_inference(m, held_prompts);
    let node = |name: &str, scores: BTreeMap<String, Vec<f64>>, latency: f64| -> EvaluatorNode {
        let mut e = poq_sim::evaluator_node(name, 1.0, 0.0, 1.0, latency);
        e.scoring = ScoreModel::Empirical { scores, bias: 0.0, sd: 0.0 };
        e.cost = Cost::Latency(latency);
        e
    };
    let latency = |e: &super::run::Scores| e.profile.as_ref().map_or(1.0, |p| p.cost.latency_mean_ms);
    let evaluators: Vec<EvaluatorNode> =
        m.evaluators.iter().map(|e| node(&e.name, held_out_table(m, &e.scores, held_prompts), latency(e))).collect();
    let composite_cost = m.evaluators.iter().map(latency).sum::<f64>();
    let scenario = |evaluators: Vec<EvaluatorNode>, name: &str| -> Scenario {
        let k = evaluators.len().min(3);
        let mut sc = Scenario::new(inference.clone(), evaluators);
        sc.name = name.into();
        sc.audit = poq_sim::Audit::RECOMMENDED;
        sc.k = k;
        sc.prompts = held_prompts.len();
        sc.rounds = cfg.rounds;
        sc.seed = cfg.seed;
        sc
    };
    let consensus = simulate(&scenario(evaluators, "held-out, mean consensus"))?;
    let composite_node = node(COMPOSITE, held_out_table(m, composite, held_prompts), composite_cost);
    let composite = simulate(&scenario(vec![composite_node], "held-out, composite"))?;
    Ok(Some((consensus, composite)))
}

/// Per-evaluator noise of the single-table pools: how much two honest evaluators disagree, from
/// the two (or more) measured STS evaluators on the calibration rows — `sd(a − b) / √2` averaged
/// over pairs, the noise each would carry if both read one signal plus independent errors. With
/// one evaluator there is nothing to measure: 1 point, the synthetic pool's noise in
/// examples/adversarial.rs.
fn pool_noise(cal: &DimensionTable, columns: &[String]) -> f64 {
    let cols: Vec<&[f64]> = columns.iter().filter_map(|c| cal.column(c)).collect();
    let mut sds = Vec::new();
    for i in 0..cols.len() {
        for j in i + 1..cols.len() {
            let d: Vec<f64> = cols[i].iter().zip(cols[j]).map(|(a, b)| a - b).collect();
            let n = d.len() as f64;
            if n >= 2.0 {
                let mean = d.iter().sum::<f64>() / n;
                sds.push((d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt() / 2f64.sqrt());
            }
        }
    }
    if sds.is_empty() { DEFAULT_POOL_NOISE } else { sds.iter().sum::<f64>() / sds.len() as f64 }
}

const DEFAULT_POOL_NOISE: f64 = 1.0;

/// The attack sweep on the held-out prompts: the best single evaluator and the composite as
/// pools of one table plus per-evaluator noise, and the measured evaluators side by side (their
/// own disagreement is real, so no noise is added) when there are two or more.
fn attack_sweep(
    m: &Measured,
    cfg: &Config,
    composite: &[Vec<f64>],
    best_single: &str,
    noise_sd: f64,
    held_prompts: &[usize],
) -> Result<Option<AttackSweep>> {
    if held_prompts.is_empty() || cfg.rounds == 0 {
        return Ok(None);
    }
    let inference = held_out_inference(m, held_prompts);
    let table =
        |name: &str| m.evaluators.iter().find(|e| e.name == name).map(|e| held_out_table(m, &e.scores, held_prompts));
    let mut signals = Vec::new();
    if let Some(t) = table(best_single) {
        signals.push(Signal { name: best_single.to_owned(), tables: vec![t], noise_sd });
    }
    if m.evaluators.len() >= 2 {
        let tables = m.evaluators.iter().map(|e| held_out_table(m, &e.scores, held_prompts)).collect();
        let name = format!("{CONSENSUS} of {}", m.evaluators.len());
        signals.push(Signal { name, tables, noise_sd: 0.0 });
    }
    signals.push(Signal {
        name: COMPOSITE.to_owned(),
        tables: vec![held_out_table(m, composite, held_prompts)],
        noise_sd,
    });
    // The trust rules' warm-up: a quarter of the rounds is left out of the error.
    let settings = Settings { rounds: cfg.rounds, warmup: cfg.rounds / 4, seed: cfg.seed };
    let mut sweep = attacks::sweep(&inference, &signals, settings)?;
    sweep.noise_measured = m.evaluators.len() >= 2;
    Ok(Some(sweep))
}
