//! A validated scenario compiled for speed: normalized costs precomputed, names resolved to indices,
//! models turned into samplers. [`Engine::with_rules`] is where every scenario field is checked.
//!
//! The engine is generic over its consensus rule and reward rule, so a user's own
//! [`Aggregator`] and [`RewardRule`] run in the same monomorphized loops as the built-in ones.
//! The built-ins keep two shortcuts, found by type once per run rather than matched per call: an
//! unweighted [`Mean`] (or `Consensus::Mean`) is summed inline, and a [`Reward`] enum is matched once
//! per chunk so that each payout is the chosen rule's inlined formula.

use crate::adversary::{Act, EvaluatorAttack, InferenceAttack};
use crate::error::{Result, SimError};
use crate::honest::Honest;
use crate::models::{Quality, Scorer};
use crate::scenario::{Audit, Scenario, Selection, Serving};
use poq_core::{Aggregator, Consensus, Mean, Reward, RewardRule, combine_costs};
use std::any::Any;

/// Most evaluators per round (the per-round score arrays live on the stack).
pub const MAX_K: usize = 32;

#[derive(Debug, Clone)]
pub(crate) enum InferenceAct {
    None,
    Downgrade { p: f64, output: usize, ms: f64 },
    Copycat { p: f64, victim: usize, ms: f64 },
}

/// An inference node as the round loop reads it.
#[derive(Debug, Clone)]
pub(crate) struct CompiledInference {
    /// Index of its own model in `Engine::outputs`.
    pub(crate) own_output: usize,
    /// Normalized reported cost used in rewards.
    pub(crate) cost: f64,
    pub(crate) true_ms: f64,
    pub(crate) reported_ms: f64,
    pub(crate) act: InferenceAct,
}

/// An evaluator's compiled attack.
#[derive(Debug, Clone)]
pub(crate) struct EvaluatorAct {
    /// Probability of acting in a round.
    pub(crate) p: f64,
    pub(crate) act: Act,
    /// True cost while acting, when the attack changes it (lazy).
    pub(crate) ms: Option<f64>,
}

/// An evaluator as the round loop reads it.
#[derive(Debug, Clone)]
pub(crate) struct CompiledEvaluator {
    pub(crate) scorer: Scorer,
    /// Normalized reported cost used in rewards.
    pub(crate) cost: f64,
    pub(crate) true_ms: f64,
    pub(crate) reported_ms: f64,
    pub(crate) act: Option<EvaluatorAct>,
}

/// A scenario ready to simulate, with its consensus rule `A` and reward rule `R`.
///
/// [`Engine::new`] takes both rules from the scenario (poq-core's [`Consensus`] and [`Reward`], the
/// forms a file can name); [`Engine::with_rules`] takes any [`Aggregator`] and [`RewardRule`],
/// yours included, and ignores the scenario's `consensus` and `reward` fields.
///
/// ```
/// use poq_sim::poq_core::{Aggregator, Result, RewardRule, Score};
/// use poq_sim::{paper, Engine, RunOptions};
///
/// /// Pays quality only above a bar, and nothing for cost.
/// struct Bar(f64);
/// impl RewardRule for Bar {
///     fn name(&self) -> &str { "bar" }
///     fn reward(&self, q: f64, _c: f64) -> f64 { if q >= self.0 { 1.0 } else { 0.0 } }
/// }
///
/// let mut sc = paper();
/// sc.rounds = 1000;
/// let engine = Engine::with_rules(&sc, poq_sim::poq_core::Median, Bar(0.6))?;
/// let report = engine.run(RunOptions::default())?;
/// assert_eq!(report.params["reward"], "bar");
/// assert!(report.node("Llama-3.2-3B").unwrap().mean_reward > report.node("Phi-3-mini").unwrap().mean_reward);
/// # Ok::<(), poq_sim::SimError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Engine<A = Consensus, R = Reward> {
    pub(crate) scenario: Scenario,
    pub(crate) outputs: Vec<Quality>,
    pub(crate) inference: Vec<CompiledInference>,
    pub(crate) evaluators: Vec<CompiledEvaluator>,
    pub(crate) inference_stakes: Vec<f64>,
    pub(crate) evaluator_stakes: Vec<f64>,
    pub(crate) k: usize,
    pub(crate) consensus: A,
    pub(crate) reward: R,
    /// Whether the rules are the scenario's own (`Engine::new`) rather than given.
    pub(crate) scenario_rules: bool,
    pub(crate) audit: Audit,
    /// Mean consensus without weights: summed inline instead of through the generic aggregator.
    pub(crate) mean_fast: bool,
    /// Some node can serve another output than its own (downgrade, copycat): then a round draws
    /// each output's truth once and shares it.
    pub(crate) shared_outputs: bool,
    /// Set when every round is honest: such rounds take the loop in `honest.rs`.
    pub(crate) honest: Option<Honest>,
}

fn positive_finite(field: &str, v: f64) -> Result<f64> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(SimError::invalid(field, format!("must be finite and >= 0 (got {v})")))
    }
}

fn probability(field: &str, p: f64) -> Result<f64> {
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(SimError::invalid(field, format!("must be a probability in [0, 1] (got {p})")))
    }
}

fn unique_names<'a>(field: &str, names: impl Iterator<Item = &'a str>) -> Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    for (i, n) in names.enumerate() {
        if n.is_empty() {
            return Err(SimError::invalid(format!("{field}[{i}].name"), "must not be empty"));
        }
        if !seen.insert(n) {
            return Err(SimError::invalid(format!("{field}[{i}].name"), format!("`{n}` is used twice")));
        }
    }
    Ok(())
}

/// Whether `aggregator` is the plain mean (poq-core's [`Mean`] or [`Consensus::Mean`]).
fn is_mean<A: Any>(aggregator: &A) -> bool {
    let any: &dyn Any = aggregator;
    any.is::<Mean>() || any.downcast_ref::<Consensus>() == Some(&Consensus::Mean)
}

impl Engine {
    /// Validates `sc` and compiles it with its own consensus and reward rules.
    pub fn new(sc: &Scenario) -> Result<Self> {
        sc.consensus.validate().map_err(SimError::core("consensus"))?;
        sc.reward.validate().map_err(SimError::core("reward"))?;
        let mut engine = Engine::with_rules(sc, sc.consensus, sc.reward)?;
        engine.scenario_rules = true;
        Ok(engine)
    }
}

impl<A: Aggregator + 'static, R: RewardRule + 'static> Engine<A, R> {
    /// Validates `sc` and compiles it with consensus rule `aggregator` and reward rule `rule` in
    /// place of the scenario's `consensus` and `reward` (which are then not used, nor checked).
    /// Reports name the rules by their [`Aggregator::name`] and [`RewardRule::name`].
    ///
    /// The rules must keep their traits' contracts: a consensus within the scores' range, a reward
    /// that is finite for quality and cost in [0, 1]. A rule's error stops the run with
    /// [`SimError::Round`].
    pub fn with_rules(sc: &Scenario, aggregator: A, rule: R) -> Result<Self> {
        check_shape(sc)?;
        let pool = compile_inference(sc)?;
        let (evaluators, evaluator_stakes) = compile_evaluators(sc, &pool)?;
        let InferencePool { outputs, inference, stakes: inference_stakes, .. } = pool;
        let shared_outputs = inference.iter().any(|n| !matches!(n.act, InferenceAct::None));
        let mean_fast = is_mean(&aggregator);
        let mut engine = Engine {
            scenario: sc.clone(),
            outputs,
            inference,
            evaluators,
            inference_stakes,
            evaluator_stakes,
            k: sc.k,
            consensus: aggregator,
            reward: rule,
            scenario_rules: false,
            audit: sc.audit,
            mean_fast,
            shared_outputs,
            honest: None,
        };
        engine.honest = Honest::of(&engine);
        Ok(engine)
    }

    /// The scenario this engine runs.
    #[must_use]
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The consensus rule.
    #[must_use]
    pub fn aggregator(&self) -> &A {
        &self.consensus
    }

    /// The reward rule.
    #[must_use]
    pub fn reward_rule(&self) -> &R {
        &self.reward
    }

    /// The parameters every output row carries ([`Scenario::params`]), with the consensus and
    /// reward columns naming the engine's rules when they were given ([`Engine::with_rules`]).
    #[must_use]
    pub fn params(&self) -> Vec<(&'static str, String)> {
        let mut params = self.scenario.params();
        if !self.scenario_rules {
            for (key, value) in &mut params {
                match *key {
                    "consensus" => *value = self.consensus.name().to_owned(),
                    "reward" => *value = self.reward.name().to_owned(),
                    "alpha" | "beta" => value.clear(),
                    _ => {}
                }
            }
        }
        params
    }

    /// Normalized (reported) costs of the inference nodes, as used in rewards.
    #[must_use]
    pub fn inference_costs(&self) -> Vec<f64> {
        self.inference.iter().map(|n| n.cost).collect()
    }

    /// Normalized (reported) costs of the evaluators, as used in rewards.
    #[must_use]
    pub fn evaluator_costs(&self) -> Vec<f64> {
        self.evaluators.iter().map(|n| n.cost).collect()
    }

    /// The reward rule's range `(R(0, 1), R(1, 0))`: worst and best possible reward.
    #[must_use]
    pub fn reward_range(&self) -> (f64, f64) {
        (self.reward.reward(0.0, 1.0), self.reward.reward(1.0, 0.0))
    }

    /// Whether an audit of a node reporting `reported` ms whose true cost this round is `true_ms` fails.
    pub(crate) fn audit_fails(&self, reported: f64, true_ms: f64) -> bool {
        (reported - true_ms).abs() > self.audit.tolerance * true_ms
    }
}

/// The scenario's shape and scalar settings, before anything is compiled.
fn check_shape(sc: &Scenario) -> Result<()> {
    let (nf, ne) = (sc.inference.len(), sc.evaluators.len());
    if nf == 0 {
        return Err(SimError::invalid("inference", "at least one inference node is needed"));
    }
    if ne == 0 {
        return Err(SimError::invalid("evaluators", "at least one evaluator node is needed"));
    }
    if sc.k == 0 || sc.k > ne || sc.k > MAX_K {
        return Err(SimError::invalid(
            "k",
            format!("must be in 1..={} (the evaluator pool has {ne}; at most {MAX_K}) (got {})", ne.min(MAX_K), sc.k),
        ));
    }
    if sc.rounds == 0 {
        return Err(SimError::invalid("rounds", "must be at least 1"));
    }
    if sc.prompts == 0 {
        return Err(SimError::invalid("prompts", "must be at least 1"));
    }
    if sc.warmup >= sc.rounds {
        return Err(SimError::invalid("warmup", format!("must be below rounds = {} (got {})", sc.rounds, sc.warmup)));
    }
    if sc.sampling == Selection::Trust && sc.trust == crate::trust::Trust::None {
        return Err(SimError::invalid("sampling", "`trust` sampling needs a trust rule (`trust` is none)"));
    }
    unique_names("inference", sc.inference.iter().map(|n| n.name.as_str()))?;
    unique_names("evaluators", sc.evaluators.iter().map(|n| n.name.as_str()))?;
    probability("audit.rate", sc.audit.rate)?;
    positive_finite("audit.tolerance", sc.audit.tolerance)?;
    positive_finite("audit.penalty", sc.audit.penalty)?;
    if let Some(b) = sc.budget {
        positive_finite("budget", b)?;
    }
    sc.trust.state(ne)?;
    Ok(())
}

/// The index of inference node `name`, or an error naming `field`.
fn inference_index(sc: &Scenario, field: &str, name: &str) -> Result<usize> {
    sc.inference
        .iter()
        .position(|n| n.name == name)
        .ok_or_else(|| SimError::invalid(field, format!("`{name}` is not an inference node")))
}

/// The inference pool compiled: every output (each node's own model, then downgrade models)
/// by name, the nodes, their stakes, and the moments of their quality models.
struct InferencePool<'a> {
    outputs: Vec<Quality>,
    names: Vec<&'a str>,
    moments: Vec<(f64, f64)>,
    inference: Vec<CompiledInference>,
    stakes: Vec<f64>,
}

fn compile_inference(sc: &Scenario) -> Result<InferencePool<'_>> {
    let nf = sc.inference.len();
    // Outputs: each node's own model, then downgrade models.
    let mut outputs = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    let mut moments = Vec::new();
    for (i, n) in sc.inference.iter().enumerate() {
        outputs.push(n.quality.compile(&format!("inference[{i}].quality"), sc.prompts)?);
        names.push(&n.name);
        moments.push(n.quality.moments());
    }
    let mut inf = Vec::with_capacity(nf);
    let mut reported = Vec::with_capacity(nf);
    let mut inference_stakes = Vec::with_capacity(nf);
    for (i, n) in sc.inference.iter().enumerate() {
        let f = format!("inference[{i}]");
        let true_cost = n.cost.profile(&format!("{f}.cost"))?;
        let mut rep = match &n.reported_cost {
            Some(c) => c.clone(),
            None => n.cost.clone(),
        };
        let act = match &n.adversary {
            None => InferenceAct::None,
            Some(InferenceAttack::Misreport { factor }) => {
                if !(factor.is_finite() && *factor > 0.0) {
                    return Err(SimError::invalid(
                        format!("{f}.adversary.factor"),
                        format!("must be finite and > 0 (got {factor})"),
                    ));
                }
                rep = n.cost.scaled(*factor);
                InferenceAct::None
            }
            Some(InferenceAttack::Downgrade { probability: p, model, quality, cost }) => {
                let p = probability(&format!("{f}.adversary.probability"), *p)?;
                if names.contains(&model.as_str()) {
                    return Err(SimError::invalid(
                        format!("{f}.adversary.model"),
                        format!("`{model}` is already an output name"),
                    ));
                }
                let ms = cost.profile(&format!("{f}.adversary.cost"))?.latency_mean_ms;
                outputs.push(quality.compile(&format!("{f}.adversary.quality"), sc.prompts)?);
                names.push(model);
                InferenceAct::Downgrade { p, output: outputs.len() - 1, ms }
            }
            Some(InferenceAttack::Copycat { victim, probability: p, cost }) => {
                let p = probability(&format!("{f}.adversary.probability"), *p)?;
                let v = inference_index(sc, &format!("{f}.adversary.victim"), victim)?;
                if v == i || matches!(sc.inference[v].adversary, Some(InferenceAttack::Copycat { .. })) {
                    return Err(SimError::invalid(
                        format!("{f}.adversary.victim"),
                        "must be another node that is not a copycat",
                    ));
                }
                let ms = cost.profile(&format!("{f}.adversary.cost"))?.latency_mean_ms;
                InferenceAct::Copycat { p, victim: v, ms }
            }
        };
        let rep_profile = rep.profile(&format!("{f}.reported_cost"))?;
        inference_stakes.push(positive_finite(&format!("{f}.stake"), n.stake)?);
        inf.push(CompiledInference {
            own_output: i,
            cost: 0.0,
            true_ms: true_cost.latency_mean_ms,
            reported_ms: rep_profile.latency_mean_ms,
            act,
        });
        reported.push(rep_profile);
    }
    let costs = combine_costs(&reported, sc.cost_weights, sc.normalization)
        .map_err(SimError::core("inference.reported_cost"))?;
    inf.iter_mut().zip(costs).for_each(|(n, c)| n.cost = c);
    if sc.serving == Serving::Stake && inference_stakes.iter().all(|&s| s == 0.0) {
        return Err(SimError::invalid("inference", "stake-weighted serving needs a node with positive stake"));
    }

    Ok(InferencePool { outputs, names, moments, inference: inf, stakes: inference_stakes })
}

/// The evaluators compiled against the inference pool, and their stakes.
fn compile_evaluators(sc: &Scenario, inference: &InferencePool<'_>) -> Result<(Vec<CompiledEvaluator>, Vec<f64>)> {
    let (nf, ne) = (sc.inference.len(), sc.evaluators.len());
    // Pool moments of truth (a mixture of the nodes' quality models), for correlated scorers.
    let m = inference.moments.iter().map(|x| x.0).sum::<f64>() / nf as f64;
    let second = inference.moments.iter().map(|x| x.1 + x.0 * x.0).sum::<f64>() / nf as f64;
    let truth = (m, (second - m * m).max(0.0).sqrt());

    let mut ev = Vec::with_capacity(ne);
    let mut ev_reported = Vec::with_capacity(ne);
    let mut evaluator_stakes = Vec::with_capacity(ne);
    for (j, e) in sc.evaluators.iter().enumerate() {
        let f = format!("evaluators[{j}]");
        let scorer = e.scoring.compile(&format!("{f}.scoring"), truth, &inference.names, sc.prompts)?;
        let true_cost = e.cost.profile(&format!("{f}.cost"))?;
        let mut rep = e.reported_cost.clone().unwrap_or_else(|| e.cost.clone());
        let mut act = None;
        if let Some(adv) = &e.adversary {
            let p = probability(&format!("{f}.adversary.probability"), adv.probability)?;
            let fa = format!("{f}.adversary");
            let shift = |amount: f64, targets: &[String], sign: f64| -> Result<Act> {
                positive_finite(&format!("{fa}.amount"), amount)?;
                let mut d = vec![if targets.is_empty() { sign * amount } else { 0.0 }; nf];
                for (t, name) in targets.iter().enumerate() {
                    d[inference_index(sc, &format!("{fa}.targets[{t}]"), name)?] = sign * amount;
                }
                Ok(Act::Shift(d))
            };
            let compiled = match &adv.attack {
                EvaluatorAttack::Noise { sd } => Some((Act::Noise(positive_finite(&format!("{fa}.sd"), *sd)?), None)),
                EvaluatorAttack::Boost { amount, targets } => Some((shift(*amount, targets, 1.0)?, None)),
                EvaluatorAttack::Sabotage { amount, targets } => Some((shift(*amount, targets, -1.0)?, None)),
                EvaluatorAttack::Collusion { ring, amount } => {
                    let r = inference_index(sc, &format!("{fa}.ring"), ring)?;
                    let a = positive_finite(&format!("{fa}.amount"), *amount)?;
                    let d = (0..nf).map(|i| if i == r { a } else { -a }).collect();
                    Some((Act::Shift(d), None))
                }
                EvaluatorAttack::Lazy { score, cost } => {
                    if let crate::adversary::LazyScore::Constant(v) = score
                        && !(0.0..=10.0).contains(v)
                    {
                        return Err(SimError::invalid(format!("{fa}.score"), format!("must be in [0, 10] (got {v})")));
                    }
                    let ms = cost.profile(&format!("{fa}.cost"))?.latency_mean_ms;
                    Some((Act::Lazy(*score), Some(ms)))
                }
                EvaluatorAttack::Misreport { factor } => {
                    if !(factor.is_finite() && *factor > 0.0) {
                        return Err(SimError::invalid(
                            format!("{fa}.factor"),
                            format!("must be finite and > 0 (got {factor})"),
                        ));
                    }
                    rep = e.cost.scaled(*factor);
                    None
                }
            };
            act = compiled.map(|(act, ms)| EvaluatorAct { p, act, ms });
        }
        let rep_profile = rep.profile(&format!("{f}.reported_cost"))?;
        evaluator_stakes.push(positive_finite(&format!("{f}.stake"), e.stake)?);
        ev.push(CompiledEvaluator {
            scorer,
            cost: 0.0,
            true_ms: true_cost.latency_mean_ms,
            reported_ms: rep_profile.latency_mean_ms,
            act,
        });
        ev_reported.push(rep_profile);
    }
    let costs = combine_costs(&ev_reported, sc.cost_weights, sc.normalization)
        .map_err(SimError::core("evaluators.reported_cost"))?;
    ev.iter_mut().zip(costs).for_each(|(n, c)| n.cost = c);
    if sc.sampling != Selection::Uniform && evaluator_stakes.iter().filter(|&&s| s > 0.0).count() < sc.k {
        return Err(SimError::invalid(
            "evaluators",
            format!("stake-weighted sampling needs at least k = {} evaluators with positive stake", sc.k),
        ));
    }

    Ok((ev, evaluator_stakes))
}
