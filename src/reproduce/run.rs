//! The stage driver: generate, score, profile, then hand the tables to analysis and the report.

use super::analysis::{self, Analysis};
use super::data::{DataSource, load_prompts, relative_to_cwd};
use super::nodes::{
    EvaluatorSpec, GeneratorSpec, default_evaluators, default_generators, default_judge, model_files, sha256_file,
};
use super::{Config, Result, io_err, report};
use crate::cache::{DiskCache, cache_key};
use poq_core::{EvalItem, Evaluator, Generation, GenerationRequest, Generator, Sample, Task};
use poq_eval::datasets::PromptTemplates;
use poq_eval::{ExactMatch, TokenF1};
use poq_profile::{ProfileConfig, ProfileRecord, Profiler, Target};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Requests handed to a generator at a time (its batches are at most this wide), and stored
/// together in the cache.
const GENERATION_CHUNK: usize = 32;

/// What a finished run produced.
#[derive(Debug)]
pub struct Outcome {
    /// `report.md`.
    pub report: PathBuf,
    /// What was skipped and why (also in the report).
    pub skipped: Vec<String>,
    /// Wall time per stage, in order.
    pub stages: Vec<(&'static str, Duration)>,
}

/// One inference model's answers, aligned with the prompts.
#[derive(Debug, Clone)]
pub(crate) struct Answers {
    pub name: String,
    pub spec: String,
    /// Model files with their sha256 (empty for remote nodes).
    pub files: Vec<(PathBuf, String)>,
    pub generations: Vec<Generation>,
    pub profile: Option<ProfileRecord>,
}

/// Answers the judge scores by default (the paper's GPT judge saw a sample, too): enough for
/// correlations with bootstrap intervals about ±0.14 wide, at about 2.5 s an answer on 2 cores.
pub const DEFAULT_JUDGE_SAMPLE: usize = 150;

/// One evaluator's scores: `scores[g][p]` for generator `g`, prompt `p`, on 0–10 (NaN where it
/// did not score: the judge sees a sample, and may give unusable replies).
#[derive(Debug, Clone)]
pub(crate) struct Scores {
    pub name: String,
    pub files: Vec<(PathBuf, String)>,
    pub scores: Vec<Vec<f64>>,
    pub profile: Option<ProfileRecord>,
}

/// Everything measured, handed to analysis and the report.
#[derive(Debug)]
pub(crate) struct Measured {
    pub prompts: Vec<Sample>,
    pub sources: Vec<DataSource>,
    pub answers: Vec<Answers>,
    /// Token F1 × 10 and exact match × 10: the offline yardsticks, `[g][p]`.
    pub f1: Vec<Vec<f64>>,
    pub em: Vec<Vec<f64>>,
    pub evaluators: Vec<Scores>,
    pub judge: Option<Scores>,
    /// Query–output alignment `[g][p]`: the first STS bi-encoder's score of each answer against its
    /// question (QA) or article (summaries), for the quality dimensions; None without an STS model.
    pub alignment: Option<Scores>,
    /// Each prompt's token budget, for the structure dimension's truncation check.
    pub max_new_tokens: Vec<usize>,
}

/// Model files with their sha256, paths as the report shows them ([`relative_to_cwd`]).
fn hashed(files: Vec<PathBuf>) -> Result<Vec<(PathBuf, String)>> {
    files.into_iter().map(|f| sha256_file(&f).map(|h| (relative_to_cwd(&f), h))).collect()
}

fn identity(files: &[(PathBuf, String)], fallback: &str) -> String {
    if files.is_empty() {
        fallback.to_owned()
    } else {
        files.iter().map(|(_, h)| h.as_str()).collect::<Vec<_>>().join(",")
    }
}

/// The item an evaluator scores: the question (QA) or nothing (summaries: the article is long and
/// evaluators compare against the reference).
pub(crate) fn eval_item(sample: &Sample, candidate: &str) -> EvalItem {
    let item = EvalItem::new(candidate, sample.references.clone());
    match (&sample.task, &sample.question) {
        (Task::QuestionAnswering, Some(q)) => item.with_input(q.clone()),
        _ => item,
    }
}

/// Runs the whole reproduction.
pub fn run(cfg: &Config) -> Result<Outcome> {
    std::fs::create_dir_all(&cfg.out).map_err(io_err(&cfg.out))?;
    let cache_dir = cfg.out.join("cache");
    let mut stages = Vec::new();
    let mut skipped = Vec::new();
    let mut clock = Instant::now();
    let mut lap = |name: &'static str, stages: &mut Vec<(&'static str, Duration)>| {
        stages.push((name, clock.elapsed()));
        eprintln!("[reproduce] {name} done in {:.1} s", clock.elapsed().as_secs_f64());
        clock = Instant::now();
    };

    // 1. Data.
    let (prompts, sources) = load_prompts(cfg)?;
    for s in &sources {
        eprintln!(
            "[reproduce] {}: {} of {} from {}{}",
            s.name,
            s.sampled,
            s.available,
            s.path.display(),
            if s.bundled { " (bundled sample: the real data was not found)" } else { "" }
        );
        if s.bundled {
            skipped.push(format!(
                "{}: the real data set was not found, so the small sample bundled with poq was used; pass --{} FILE",
                s.name, s.name
            ));
        }
    }
    let templates = PromptTemplates::default();
    let requests: Vec<GenerationRequest> = prompts.iter().map(|s| templates.request(s)).collect::<Result<_, _>>()?;
    lap("data", &mut stages);

    // 2. Generations.
    let generator_specs =
        if cfg.generators.is_empty() { default_generators(&cfg.models_dir) } else { cfg.generators.clone() };
    if generator_specs.is_empty() {
        skipped.push(format!(
            "generation, scoring of answers, model profiles and the measured simulation: no inference model in {} \
             (run scripts/fetch-models.sh, or pass --generator PATH|MODEL@URL)",
            cfg.models_dir.display()
        ));
    }
    let mut gen_cache: DiskCache<Generation> = DiskCache::open(cache_dir.join("generations.jsonl"))?;
    let mut profile_cache: DiskCache<ProfileRecord> = DiskCache::open(cache_dir.join("profiles.jsonl"))?;
    let profiler =
        Profiler::new(ProfileConfig { warmup: 1, repetitions: cfg.profile_repetitions, ..Default::default() })?;
    let mut answers = Vec::new();
    for spec in &generator_specs {
        answers.push(generate(spec, &prompts, &requests, &mut gen_cache, &mut profile_cache, &profiler, cfg.progress)?);
    }
    lap("generation and generator profiles", &mut stages);

    // 3. Scores.
    let score_all = |ev: &dyn Evaluator| -> Result<Vec<Vec<f64>>> {
        answers
            .iter()
            .map(|a| {
                let items: Vec<EvalItem> =
                    prompts.iter().zip(&a.generations).map(|(s, g)| eval_item(s, &g.text)).collect();
                Ok(ev.score_batch(&items)?.into_iter().map(|s| s.value()).collect())
            })
            .collect()
    };
    let f1 = score_all(&TokenF1)?;
    let em = score_all(&ExactMatch)?;
    let evaluator_specs =
        if cfg.evaluators.is_empty() { default_evaluators(&cfg.models_dir) } else { cfg.evaluators.clone() };
    if evaluator_specs.is_empty() {
        skipped.push(format!(
            "model evaluators: none in {} (run scripts/fetch-models.sh for all-MiniLM-L6-v2, or pass --evaluator sts=DIR)",
            cfg.models_dir.display()
        ));
    }
    let mut score_cache: DiskCache<f64> = DiskCache::open(cache_dir.join("scores.jsonl"))?;
    let mut evaluators = Vec::new();
    for spec in &evaluator_specs {
        evaluators.push(score_with(
            spec,
            &prompts,
            &answers,
            &mut score_cache,
            &mut profile_cache,
            &profiler,
            cfg.progress,
        )?);
    }
    let judge_spec = if cfg.no_judge { None } else { cfg.judge.clone().or_else(|| default_judge(&cfg.models_dir)) };
    let judge = match &judge_spec {
        Some(spec) if !answers.is_empty() => {
            let cells = answer_cells(&prompts, answers.len());
            let n = cfg
                .judge_sample
                .unwrap_or(DEFAULT_JUDGE_SAMPLE.min(cells.iter().map(Vec::len).sum::<usize>().div_ceil(8)));
            let picked = judge_sample(&cells, n, cfg.seed);
            let mut judge_cache = DiskCache::open(cache_dir.join("judge.jsonl"))?;
            let (scores, unusable) = judge_with(spec, &prompts, &answers, &picked, &mut judge_cache, cfg.progress)?;
            if unusable > 0 {
                skipped.push(format!(
                    "judge: {unusable} of {} sampled answers got no usable score (left out)",
                    picked.len()
                ));
            }
            Some(scores)
        }
        Some(_) => None,
        None => {
            skipped.push(format!(
                "judge correlations: no judge (run scripts/fetch-models.sh for Qwen2.5-Coder-1.5B-Instruct in {}, \
                 or pass --judge PATH|MODEL@URL)",
                cfg.models_dir.display()
            ));
            None
        }
    };
    let alignment = match evaluator_specs.iter().find(|s| s.kind == super::nodes::EvaluatorKind::Sts) {
        Some(spec) if !answers.is_empty() => {
            Some(align_with(spec, &prompts, &answers, &mut score_cache, cfg.progress)?)
        }
        _ => None,
    };
    lap("scoring and profiling", &mut stages);

    // 4–5. Analysis, simulation, report.
    let max_new_tokens = requests.iter().map(|r| r.max_new_tokens).collect();
    let measured = Measured { prompts, sources, answers, f1, em, evaluators, judge, alignment, max_new_tokens };
    let analysis: Analysis = analysis::analyze(&measured, cfg)?;
    lap("analysis and simulation", &mut stages);
    let report = report::write(cfg, &measured, &analysis, &skipped, &stages)?;
    Ok(Outcome { report, skipped, stages })
}

fn bar(len: usize, show: bool, what: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    let pb = if show && std::io::stderr().is_terminal() {
        let pb = indicatif::ProgressBar::new(len as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {per_sec} eta {eta}") {
            pb.set_style(style);
        }
        pb
    } else {
        indicatif::ProgressBar::hidden()
    };
    pb.set_message(what.to_owned());
    pb
}

fn generate(
    spec: &GeneratorSpec,
    prompts: &[Sample],
    requests: &[GenerationRequest],
    cache: &mut DiskCache<Generation>,
    profiles: &mut DiskCache<ProfileRecord>,
    profiler: &Profiler,
    progress: bool,
) -> Result<Answers> {
    let files = hashed(spec.files())?;
    let id = identity(&files, &spec.to_string());
    let keys: Vec<String> = prompts
        .iter()
        .zip(requests)
        .map(|(s, r)| Ok(cache_key(&["generation", &id, &s.id, &serde_json::to_string(r)?])))
        .collect::<Result<_>>()?;
    let mut model: Option<Box<dyn Generator>> = None;
    let pb = bar(prompts.len(), progress, &format!("generating with {}", spec.name));
    // What is not cached is generated in batches (decoded together where the model can), each
    // batch stored as it finishes so that an interrupted run keeps it.
    let mut generations: Vec<Option<Generation>> = keys.iter().map(|k| cache.get(k).cloned()).collect();
    let missing: Vec<usize> = (0..keys.len()).filter(|&i| generations[i].is_none()).collect();
    pb.inc((keys.len() - missing.len()) as u64);
    for chunk in missing.chunks(GENERATION_CHUNK) {
        let m = loaded(&mut model, spec)?;
        let batch: Vec<GenerationRequest> = chunk.iter().map(|&i| requests[i].clone()).collect();
        let outs = m.generate_batch(&batch)?;
        if outs.len() != chunk.len() {
            return Err(poq_infer::Error::InvalidArgument {
                name: "generate_batch",
                message: format!("{} answers for {} requests from {}", outs.len(), chunk.len(), spec.name),
            }
            .into());
        }
        for (&i, g) in chunk.iter().zip(outs) {
            cache.insert(keys[i].clone(), g.clone())?;
            generations[i] = Some(g);
        }
        pb.inc(chunk.len() as u64);
    }
    let generations: Vec<Generation> = generations.into_iter().flatten().collect();
    pb.finish_and_clear();
    // The profile repeats one prompt of each task under the profiler's warm-up and repetitions.
    let picks: Vec<GenerationRequest> = [Task::QuestionAnswering, Task::Summarization]
        .iter()
        .filter_map(|t| prompts.iter().position(|s| s.task == *t).map(|i| requests[i].clone()))
        .collect();
    let profile = if picks.is_empty() {
        None
    } else {
        let key = cache_key(&["generator-profile", &id, &serde_json::to_string(&(&picks, profiler.config()))?]);
        Some(profiles.get_or_try_insert(key, || -> Result<ProfileRecord> {
            let m = loaded(&mut model, spec)?;
            Ok(profiler.profile_generator(m.as_mut(), &Target::new(device_name(), "model"), &picks)?)
        })?)
    };
    // The report's node name, not the model's own (two STS evaluators are both `sts`).
    let profile = profile.map(|p| ProfileRecord { name: spec.name.clone(), ..p });
    Ok(Answers { name: spec.name.clone(), spec: spec.to_string(), files, generations, profile })
}

/// The generator of `spec`, loaded on first use only: a run whose answers are all cached never
/// loads the model.
fn loaded<'a>(model: &'a mut Option<Box<dyn Generator>>, spec: &GeneratorSpec) -> Result<&'a mut Box<dyn Generator>> {
    Ok(match model {
        Some(m) => m,
        empty => empty.insert(spec.load()?),
    })
}

/// The device the build's features select (LoadOptions::best and the evaluators follow the same).
fn device_name() -> &'static str {
    if cfg!(feature = "cuda") {
        "cuda:0"
    } else if cfg!(feature = "metal") {
        "metal"
    } else {
        "cpu"
    }
}

fn score_with(
    spec: &EvaluatorSpec,
    prompts: &[Sample],
    answers: &[Answers],
    cache: &mut DiskCache<f64>,
    profiles: &mut DiskCache<ProfileRecord>,
    profiler: &Profiler,
    progress: bool,
) -> Result<Scores> {
    let files = hashed(model_files(&spec.dir))?;
    let id = identity(&files, &spec.name());
    let evaluator = spec.load()?;
    let mut scores = Vec::with_capacity(answers.len());
    let pb = bar(answers.len() * prompts.len(), progress, &format!("scoring with {}", spec.name()));
    for a in answers {
        let items: Vec<EvalItem> = prompts.iter().zip(&a.generations).map(|(s, g)| eval_item(s, &g.text)).collect();
        let keys: Vec<String> = items
            .iter()
            .zip(prompts)
            .map(|(it, s)| Ok(cache_key(&["score", &id, &s.id, &serde_json::to_string(it)?])))
            .collect::<Result<_>>()?;
        let missing: Vec<usize> = (0..items.len()).filter(|&i| cache.get(&keys[i]).is_none()).collect();
        // Score what is missing in chunks, storing each chunk so an interrupted run keeps it.
        for chunk in missing.chunks(64) {
            let batch: Vec<EvalItem> = chunk.iter().map(|&i| items[i].clone()).collect();
            for (&i, s) in chunk.iter().zip(evaluator.score_batch(&batch)?) {
                cache.insert(keys[i].clone(), s.value())?;
            }
            pb.inc(chunk.len() as u64);
        }
        pb.inc((items.len() - missing.len()) as u64);
        scores.push(keys.iter().map(|k| cache.get(k).copied().unwrap_or(f64::NAN)).collect());
    }
    pb.finish_and_clear();
    // Profile on real items: the first answers' items, cycled by the profiler to fill batches.
    let sample_items: Vec<EvalItem> = answers
        .first()
        .map(|a| prompts.iter().zip(&a.generations).take(32).map(|(s, g)| eval_item(s, &g.text)).collect())
        .unwrap_or_else(|| prompts.iter().take(32).map(|s| eval_item(s, &s.references[0])).collect());
    let profile = if sample_items.is_empty() {
        None
    } else {
        let batches = [1, 2, 4, 8, 16, 32];
        let key = cache_key(&[
            "evaluator-profile",
            &id,
            &serde_json::to_string(&(&sample_items, batches, profiler.config()))?,
        ]);
        Some(profiles.get_or_try_insert(key, || -> Result<ProfileRecord> {
            Ok(profiler.profile_evaluator(
                evaluator.as_ref(),
                &Target::new(device_name(), "f32"),
                &sample_items,
                &batches,
            )?)
        })?)
    };
    let profile = profile.map(|p| ProfileRecord { name: spec.name(), ..p });
    Ok(Scores { name: spec.name(), files, scores, profile })
}

/// What the alignment dimension compares an answer with: the question (QA), else the source.
pub(crate) fn alignment_input(sample: &Sample) -> &str {
    match (&sample.task, &sample.question) {
        (Task::QuestionAnswering, Some(q)) => q,
        _ => &sample.input,
    }
}

/// Every answer's query–output alignment by the bi-encoder of `spec`, cached like scores (key
/// `alignment`), so a resumed run reads them back instead of embedding again.
fn align_with(
    spec: &EvaluatorSpec,
    prompts: &[Sample],
    answers: &[Answers],
    cache: &mut DiskCache<f64>,
    progress: bool,
) -> Result<Scores> {
    use poq_eval::quality::{AlignmentDimension, Dimension, QualityItem};
    let files = hashed(model_files(&spec.dir))?;
    let id = identity(&files, &spec.name());
    let mut dimension: Option<AlignmentDimension<Box<dyn Evaluator>>> = None;
    let pb = bar(answers.len() * prompts.len(), progress, &format!("aligning with {}", spec.name()));
    let mut scores = Vec::with_capacity(answers.len());
    for a in answers {
        let items: Vec<QualityItem> = prompts
            .iter()
            .zip(&a.generations)
            .map(|(s, g)| QualityItem::new(EvalItem::new(g.text.clone(), Vec::new()).with_input(alignment_input(s))))
            .collect();
        let keys: Vec<String> = items
            .iter()
            .zip(prompts)
            .map(|(it, s)| Ok(cache_key(&["alignment", &id, &s.id, &serde_json::to_string(&it.eval)?])))
            .collect::<Result<_>>()?;
        let missing: Vec<usize> = (0..items.len()).filter(|&i| cache.get(&keys[i]).is_none()).collect();
        for chunk in missing.chunks(64) {
            let dim = match &mut dimension {
                Some(d) => d,
                empty => empty.insert(AlignmentDimension::new(spec.load()?)),
            };
            let batch: Vec<QualityItem> = chunk.iter().map(|&i| items[i].clone()).collect();
            for (&i, s) in chunk.iter().zip(dim.score_items(&batch)?) {
                cache.insert(keys[i].clone(), s.value())?;
            }
            pb.inc(chunk.len() as u64);
        }
        pb.inc((items.len() - missing.len()) as u64);
        scores.push(keys.iter().map(|k| cache.get(k).copied().unwrap_or(f64::NAN)).collect());
    }
    pb.finish_and_clear();
    Ok(Scores { name: format!("alignment:{}", spec.name()), files, scores, profile: None })
}

/// The (generator, prompt) pairs of each (generator, task) cell, in order.
fn answer_cells(prompts: &[Sample], generators: usize) -> Vec<Vec<(usize, usize)>> {
    let mut tasks: Vec<Task> = Vec::new();
    for s in prompts {
        if !tasks.contains(&s.task) {
            tasks.push(s.task);
        }
    }
    (0..generators)
        .flat_map(|g| {
            tasks.iter().map(move |t| (0..prompts.len()).filter(|&p| prompts[p].task == *t).map(|p| (g, p)).collect())
        })
        .collect()
}

/// `n` answers drawn with `seed`, spread evenly over the cells (a cell with fewer answers than its
/// share gives them all and the rest go to the others), sorted.
fn judge_sample(cells: &[Vec<(usize, usize)>], n: usize, seed: u64) -> Vec<(usize, usize)> {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x006a_7564_6765); // "judge" in ASCII
    let mut quota = vec![0usize; cells.len()];
    let mut left = n.min(cells.iter().map(Vec::len).sum());
    // Round-robin shares, so every cell gets ⌊n / cells⌋ or one more where it has them.
    while left > 0 {
        for (c, cell) in cells.iter().enumerate() {
            if left > 0 && quota[c] < cell.len() {
                quota[c] += 1;
                left -= 1;
            }
        }
    }
    let mut picked: Vec<(usize, usize)> = cells
        .iter()
        .zip(&quota)
        .flat_map(|(cell, &q)| {
            rand::seq::index::sample(&mut rng, cell.len(), q).into_iter().map(|i| cell[i]).collect::<Vec<_>>()
        })
        .collect();
    picked.sort_unstable();
    picked
}

/// The judge's scores of the `picked` (generator, prompt) answers (NaN elsewhere), and how many
/// replies held no usable score even after the judge's re-ask.
fn judge_with(
    spec: &GeneratorSpec,
    prompts: &[Sample],
    answers: &[Answers],
    picked: &[(usize, usize)],
    cache: &mut DiskCache<Option<f64>>,
    progress: bool,
) -> Result<(Scores, usize)> {
    let files = hashed(spec.files())?;
    let id = identity(&files, &spec.to_string());
    let mut judge = None;
    let mut scores = vec![vec![f64::NAN; prompts.len()]; answers.len()];
    let mut unusable = 0;
    let pb = bar(picked.len(), progress, &format!("judging with {}", spec.name));
    for &(g, p) in picked {
        let item = eval_item(&prompts[p], &answers[g].generations[p].text);
        let key = cache_key(&["judge", &id, &prompts[p].id, &serde_json::to_string(&item)?]);
        // An unusable reply is cached too (as None): the same judge on the same item says the same.
        let v = cache.get_or_try_insert(key, || -> Result<Option<f64>> {
            let judge = match &mut judge {
                Some(j) => j,
                empty => empty.insert(poq_eval::LlmJudge::new(spec.load()?)),
            };
            match judge.judge(&item) {
                Ok(score) => Ok(Some(score.value())),
                Err(poq_eval::Error::JudgeReply { .. }) => Ok(None),
                Err(e) => Err(e.into()),
            }
        })?;
        unusable += usize::from(v.is_none());
        scores[g][p] = v.unwrap_or(f64::NAN);
        pb.inc(1);
    }
    pb.finish_and_clear();
    Ok((Scores { name: format!("judge:{}", spec.name), files, scores, profile: None }, unusable))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_judge_sample_is_even_over_models_and_tasks_and_seeded() {
        // 3 generators × (4 QA + 2 summaries): 6 cells, 18 answers.
        let cells: Vec<Vec<(usize, usize)>> =
            (0..3).flat_map(|g| [(0..4).map(|p| (g, p)).collect(), (4..6).map(|p| (g, p)).collect()]).collect();
        let a = judge_sample(&cells, 15, 42);
        assert_eq!(a.len(), 15);
        assert_eq!(a, judge_sample(&cells, 15, 42));
        assert_ne!(a, judge_sample(&cells, 15, 43));
        // Every summary cell is full (2 each), QA cells share the rest: 3 each.
        for g in 0..3 {
            assert_eq!(a.iter().filter(|(x, p)| *x == g && *p >= 4).count(), 2);
            assert_eq!(a.iter().filter(|(x, p)| *x == g && *p < 4).count(), 3);
        }
        let mut dedup = a.clone();
        dedup.dedup();
        assert_eq!(dedup, a, "no answer twice");
        assert_eq!(judge_sample(&cells, 100, 1).len(), 18, "at most every answer");
    }
}
