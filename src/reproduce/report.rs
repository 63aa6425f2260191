//! Stage 6: `report.md` with every table, the SVG figures it links, tidy CSVs and `manifest.json`.

use super::analysis::{Analysis, Estimate};
use super::nodes::sha256_file;
use super::run::Measured;
use super::{Config, Result, io_err};
use crate::svg::{BarChart, LineChart, Scatter, Series};
use crate::table::Table;
use poq_profile::{Machine, ProfileReport};
use poq_sim::{NodeKind, Report};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The paper's figure (arXiv 2512.16317) and this run's counterpart, side by side.
fn paper_vs_run(m: &Measured, a: &Analysis) -> Table {
    let judge = m.judge.as_ref().map(|j| j.name.as_str());
    let pearson = |against: &str, prefix: &str| -> String {
        let found: Vec<String> = a
            .agreement
            .iter()
            .filter(|r| r.against == against && r.task == "all" && r.evaluator.starts_with(prefix))
            .map(|r| format!("{} {} (n = {})", r.evaluator, est(&r.pearson), r.n))
            .collect();
        if found.is_empty() { "not measured in this run".to_owned() } else { found.join("; ") }
    };
    let pool = |kind: NodeKind| -> Vec<&poq_sim::NodeStats> {
        let mut nodes: Vec<_> = a.measured.iter().flat_map(|(_, r)| &r.nodes).filter(|n| n.kind == kind).collect();
        nodes.sort_by(|x, y| y.scaled_reward.total_cmp(&x.scaled_reward));
        nodes
    };
    let node = |n: Option<&&poq_sim::NodeStats>| {
        n.map_or("not measured in this run".to_owned(), |n| format!("{}, {}", n.node, f(n.scaled_reward, 3)))
    };
    let (inference, evaluators) = (pool(NodeKind::Inference), pool(NodeKind::Evaluator));
    let mut per_s: Vec<(&str, f64)> =
        a.models.iter().filter(|r| r.task == "all").map(|r| (r.model.as_str(), r.quality_per_s)).collect();
    per_s.sort_by(|x, y| y.1.total_cmp(&x.1));
    let per_s_text = match (per_s.first(), per_s.last()) {
        (Some(hi), Some(lo)) if per_s.len() > 1 => {
            format!("{} vs {}: {}× ({:.2} vs {:.2} per s)", hi.0, lo.0, f(hi.1 / lo.1, 1), hi.1, lo.1)
        }
        _ => "needs two inference models".to_owned(),
    };
    let mut t = Table::new(["figure", "paper", "this run"]);
    t.row(["STS bi-encoder vs token F1, Pearson".into(), "0.66".into(), pearson("f1", "sts:")]);
    let vs_judge = judge.map_or("no judge in this run".to_owned(), |j| pearson(j, "sts:"));
    t.row(["STS bi-encoder vs LLM judge, Pearson".into(), "0.29 (GPT judge)".into(), vs_judge]);
    t.row(["cross-encoders vs F1".into(), "near zero or negative".into(), pearson("f1", "ce:")]);
    t.row(["top normalized reward (inference)".into(), "Llama-3.2-3B, 0.62".into(), node(inference.first())]);
    t.row(["lowest normalized reward (inference)".into(), "Phi-3-mini, 0.13".into(), node(inference.last())]);
    t.row(["top evaluator reward".into(), "the STS bi-encoder".into(), node(evaluators.first())]);
    t.row([
        "quality per second, best vs worst model".into(),
        "about 7× (Llama-3.2-3B, Gemma-2-2B vs Qwen2-1.5B)".into(),
        per_s_text,
    ]);
    t
}

fn f(x: f64, digits: usize) -> String {
    if x.is_finite() { format!("{x:.digits$}") } else { "–".to_owned() }
}

fn est(e: &Option<Estimate>) -> String {
    e.as_ref().map_or("–".to_owned(), |e| format!("{:.3} [{:.3}, {:.3}]", e.value, e.ci_low, e.ci_high))
}

/// Whether the composite beats the best single evaluator on the held-out rows, in one sentence.
fn verdict(q: &super::quality::QualityAnalysis) -> String {
    let gain = |g: &Option<poq_eval::quality::Gain>, against: &str| -> String {
        match g {
            None => format!("against {against} the difference could not be measured"),
            Some(g) => {
                let word = if g.ci_low > 0.0 {
                    "beats it"
                } else if g.ci_high < 0.0 {
                    "trails it"
                } else {
                    "is not distinguishable from it (the interval contains 0)"
                };
                format!(
                    "against {against} the composite {word}: {:+.3} Pearson (paired bootstrap 95% CI [{:+.3}, {:+.3}], \
                     n = {})",
                    g.estimate, g.ci_low, g.ci_high, g.n
                )
            }
        }
    };
    let mut s = format!(
        "**Verdict (held out):** the best single evaluator on the calibration split is {}; {}; {}.",
        q.best_single,
        gain(&q.gain_over_best.0, "token F1"),
        gain(&q.gain_over_best.1, "the judge")
    );
    if let Some(g) = &q.gain_over_consensus {
        let _ = write!(
            s,
            " Over the mean consensus, against F1: {:+.3} Pearson (CI [{:+.3}, {:+.3}]).",
            g.estimate, g.ci_low, g.ci_high
        );
    }
    s
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(io_err(path))
}

fn reward_table(r: &Report) -> Table {
    let mut t =
        Table::new(["node", "kind", "mean reward", "95% CI", "share", "normalized (min-max)", "scaled to rule range"]);
    for n in &r.nodes {
        t.row([
            n.node.clone(),
            n.kind.as_str().to_owned(),
            f(n.mean_reward, 4),
            format!("[{}, {}]", f(n.ci_low, 4), f(n.ci_high, 4)),
            f(n.share, 3),
            f(n.normalized_reward, 3),
            f(n.scaled_reward, 3),
        ]);
    }
    t
}

fn reward_bars(title: &str, r: &Report) -> String {
    let nodes: Vec<_> = r.nodes.iter().collect();
    BarChart {
        title: title.to_owned(),
        y_label: "normalized PoQ reward".to_owned(),
        groups: nodes.iter().map(|n| n.node.clone()).collect(),
        series: vec![("normalized reward".to_owned(), nodes.iter().map(|n| n.normalized_reward).collect())],
        // Inference nodes and evaluators are normalized within their own pool: a line between.
        dividers: (1..nodes.len()).filter(|&i| nodes[i].kind != nodes[i - 1].kind).collect(),
    }
    .to_svg()
}

fn beta_lines(title: &str, sweep: &[(f64, Report)]) -> String {
    let names: Vec<String> =
        sweep.first().map(|(_, r)| r.nodes.iter().map(|n| n.node.clone()).collect()).unwrap_or_default();
    LineChart {
        title: title.to_owned(),
        x_label: "β (weight of cost)".to_owned(),
        y_label: "mean reward".to_owned(),
        series: names
            .iter()
            .map(|name| Series {
                name: name.clone(),
                points: sweep.iter().filter_map(|(b, r)| r.node(name).map(|n| (*b, n.mean_reward))).collect(),
            })
            .collect(),
    }
    .to_svg()
}

fn sweep_csv(path: &Path, sweep: &[(f64, Report)]) -> Result<()> {
    let reports: Vec<(usize, &Report)> = sweep.iter().enumerate().map(|(i, (_, r))| (i, r)).collect();
    Ok(poq_sim::output::write_csv_file(path, &reports)?)
}

/// One composite per task beside the pooled one and the best single evaluator, held out.
fn per_task_section(md: &mut String, q: &super::quality::QualityAnalysis) {
    let _ = writeln!(
        md,
        "### Per-task composites (held out)\n\n\
         One composite per task, fitted exactly as the pooled one but on that task's calibration rows alone \
         (same split by prompt id); answers are routed by their task, and the pooled composite scores any answer \
         whose task has no composite (`composite_per_task.json`). Pearson with F1 × 10 on the held-out rows, \
         bootstrap 95% intervals; gains are paired bootstrap differences of the per-task composite's Pearson. The \
         best single evaluator is chosen on each task's calibration rows. *all*: every held-out row, each scored \
         by its task's composite.\n"
    );
    let gain = |g: &Option<poq_eval::quality::Gain>| {
        g.as_ref().map_or("–".to_owned(), |g| format!("{:+.3} [{:+.3}, {:+.3}]", g.estimate, g.ci_low, g.ci_high))
    };
    let mut t = Table::new([
        "task",
        "n",
        "per-task composite",
        "pooled composite",
        "best single (calibration)",
        "per-task − pooled",
        "per-task − best single",
    ]);
    for r in &q.tasks {
        t.row([
            r.task.clone(),
            r.n.to_string(),
            est(&r.per_task),
            est(&r.pooled),
            format!("{} {}", r.best_single, est(&r.single)),
            gain(&r.gain_over_pooled),
            gain(&r.gain_over_single),
        ]);
    }
    let _ = writeln!(md, "{t}");
    for (task, (_, f)) in &q.per_task.tasks {
        let m = &f.model;
        let kept: Vec<String> = m.dimensions.iter().zip(&m.weights).map(|(d, w)| format!("{d} {w:.3}")).collect();
        let dropped: Vec<String> = m.dropped.iter().map(|d| format!("{} ({})", d.name, d.reason)).collect();
        let _ = writeln!(
            md,
            "- {} ({} calibration rows): kept {}; dropped {}.",
            task.short_name(),
            m.fit.calibration_rows,
            kept.join(", "),
            if dropped.is_empty() { "none".to_owned() } else { dropped.join("; ") }
        );
    }
    for (task, why) in &q.per_task.unfitted {
        let _ = writeln!(md, "- {}: no composite of its own (the pooled one scores it): {why}.", task.short_name());
    }
    let _ = writeln!(md);
}

/// The signals under evaluator attacks: what was run, a table per attack × defence saying whether
/// the composite keeps the lowest error, the figures and `attacks.csv`.
fn attack_section(md: &mut String, out: &Path, sweep: &super::attacks::AttackSweep) -> Result<()> {
    use super::attacks::{ATTACKS, DEFENCES, K, POOL};
    use super::quality::COMPOSITE;
    let st = sweep.settings;
    let signals = sweep.signals();
    let noise: Vec<String> = signals
        .iter()
        .filter_map(|sig| sweep.rows.iter().find(|r| r.signal == *sig).map(|r| format!("{sig} {:.2}", r.noise_sd)))
        .collect();
    let _ = writeln!(
        md,
        "### The signals under evaluator attacks (held-out prompts)\n\n\
         Each signal is the scoring of every honest evaluator in a pool of {POOL} (K = {K} drawn per answer) on the \
         {} held-out prompts; true quality is F1 × 10. The last share (0–0.5) of the pool are adversaries (poq-sim's \
         `inject`): boost +3, sabotage −3, collusion +3 for the weakest model and −3 for the others. Single-table \
         pools add per-evaluator normal noise {}; the mean consensus pool alternates the measured evaluators and \
         adds none (noise sd: {}). Defences: mean, median, \
         and spot-check trust (poq-sim's relative rule, a trust-weighted mean; it judges each evaluator's \
         spot-check error against its pool's median, so a signal is not punished for its own honest error). \
         {} rounds per point, seed {}; consensus MAE after a {}-round warm-up. *Ranking kept*: inference nodes \
         rank by mean reward as they do when the consensus is F1 × 10 itself ({}). Honest payout: mean \
         reward per answer scored by honest evaluators (all costs equal, so it is agreement alone).\n",
        sweep.prompts,
        if sweep.noise_measured {
            "measured from the evaluators' disagreement on the calibration rows (sd of their difference / √2), so \
             honest evaluators disagree as much as two real ones do"
        } else {
            "of 1 point (one evaluator ran, so their disagreement could not be measured; the synthetic pool's \
             noise in examples/adversarial.rs)"
        },
        noise.join(", "),
        st.rounds,
        st.seed,
        st.warmup,
        sweep.oracle_ranking.join(" > ")
    );
    let mut headers = vec!["attack".to_owned(), "defence".to_owned()];
    headers.extend(signals.iter().map(|s| format!("{s}: MAE at 0 / 0.3 / 0.5")));
    headers.extend(
        [
            "composite lowest error at shares",
            "ranking kept at shares (signal order)",
            "honest payout at 0.3 (signal order)",
        ]
        .map(str::to_owned),
    );
    let mut t = Table::new(headers);
    let shares: Vec<f64> = super::attacks::SHARES.iter().filter_map(|s| s.parse().ok()).collect();
    for attack in ATTACKS {
        for (defence, ..) in DEFENCES {
            let mae = |sig: &str, share: f64| sweep.find(sig, attack, defence, share).map_or(f64::NAN, |r| r.mae);
            let mut row = vec![attack.to_owned(), defence.to_owned()];
            for sig in &signals {
                row.push(format!("{} / {} / {}", f(mae(sig, 0.0), 2), f(mae(sig, 0.3), 2), f(mae(sig, 0.5), 2)));
            }
            let lowest: Vec<f64> = shares
                .iter()
                .copied()
                .filter(|&x| signals.iter().filter(|s| **s != COMPOSITE).all(|s| mae(COMPOSITE, x) < mae(s, x)))
                .collect();
            row.push(match lowest.len() {
                n if n == shares.len() => "all".to_owned(),
                0 => "none".to_owned(),
                _ => lowest.iter().map(|x| format!("{x}")).collect::<Vec<_>>().join(", "),
            });
            // Per signal: the shares where the reward ranking is the truthful one.
            let kept: Vec<String> = signals
                .iter()
                .map(|sig| {
                    let at: Vec<f64> = shares
                        .iter()
                        .copied()
                        .filter(|&x| sweep.find(sig, attack, defence, x).is_some_and(|r| r.ranking_kept))
                        .collect();
                    match at.len() {
                        n if n == shares.len() => "all".to_owned(),
                        0 => "none".to_owned(),
                        _ => at.iter().map(|x| format!("{x}")).collect::<Vec<_>>().join(", "),
                    }
                })
                .collect();
            row.push(kept.join(" · "));
            let pay: Vec<String> = signals
                .iter()
                .map(|sig| sweep.find(sig, attack, defence, 0.3).map_or("–".to_owned(), |r| f(r.honest_payout, 3)))
                .collect();
            row.push(pay.join(" · "));
            t.row(row);
        }
    }
    let _ = writeln!(md, "{t}");
    for attack in ATTACKS {
        let links: Vec<String> = DEFENCES
            .iter()
            .map(|(defence, ..)| {
                let file = format!("attacks_{attack}_{}.svg", defence.replace('-', "_"));
                (file, *defence)
            })
            .map(|(file, defence)| -> Result<String> {
                write_file(&out.join(&file), &sweep.chart(attack, defence).to_svg())?;
                Ok(format!("![{attack} under {defence}]({file})"))
            })
            .collect::<Result<_>>()?;
        let _ = writeln!(md, "{}\n", links.join(" "));
    }
    let _ = writeln!(md, "Every point: `attacks.csv`.\n");
    write_file(&out.join("attacks.csv"), &sweep.csv())
}

/// Writes everything and returns the path of `report.md`.
pub(crate) fn write(
    cfg: &Config,
    m: &Measured,
    a: &Analysis,
    skipped: &[String],
    stages: &[(&'static str, Duration)],
) -> Result<PathBuf> {
    let out = &cfg.out;
    let sections = Sections { cfg, m, a, skipped, stages, out };
    let mut md = String::new();
    sections.intro(&mut md);
    sections.data_and_models(&mut md);
    sections.agreement(&mut md);
    sections.quality_and_latency(&mut md)?;
    sections.costs(&mut md)?;
    sections.measured_rewards(&mut md)?;
    sections.composite_quality(&mut md)?;
    sections.paper_scenario(&mut md)?;
    sections.paper_beside_run(&mut md);
    sections.run_time(&mut md);

    write_scores_csv(&out.join("scores.csv"), m)?;
    write_agreement_csv(&out.join("agreement.csv"), a)?;
    write_manifest(&out.join("manifest.json"), cfg, m, stages)?;
    let path = out.join("report.md");
    write_file(&path, &md)?;
    Ok(path)
}

/// What the report's sections read: the run's settings, measurements and analysis.
#[derive(Clone, Copy)]
struct Sections<'a> {
    cfg: &'a Config,
    m: &'a Measured,
    a: &'a Analysis,
    skipped: &'a [String],
    stages: &'a [(&'static str, Duration)],
    out: &'a Path,
}

/// Each section appends its Markdown to `md` (and writes its own figures and tables to `out`).
impl Sections<'_> {
    /// The title, a loud warning when bundled sample data stood in for a data set, and what the run is.
    fn intro(&self, md: &mut String) {
        let Sections { cfg, m, .. } = *self;
        let _ = writeln!(md, "# Cost-aware PoQ: reproduction report\n");
        // Loud, first: a run on the bundled sample measures almost nothing (docs/reproduce.md, Data).
        let bundled: Vec<&str> = m.sources.iter().filter(|s| s.bundled).map(|s| s.name).collect();
        if !bundled.is_empty() {
            let _ = writeln!(
                md,
                "> **WARNING: this run used the small sample bundled with poq for {}, not the real data set.** Its \
                 figures are not the paper's measurement. See docs/reproduce.md (Data) to fetch the real data.\n",
                bundled.join(" and ")
            );
        }
        let _ = writeln!(
            md,
            "Reproduces arXiv 2512.16317 with the models available to this run. Figures marked *paper* are the \
             ones the paper reports; everything else was computed by this run (seed {}, {} Monte Carlo rounds).\n",
            cfg.seed, cfg.rounds
        );
    }

    /// Which data files and nodes the run used, and what it skipped.
    fn data_and_models(&self, md: &mut String) {
        let Sections { m, skipped, .. } = *self;
        let _ = writeln!(md, "## Data and models\n");
        let mut t = Table::new(["data set", "file", "prompts", "available"]);
        for s in &m.sources {
            let file = format!("{}{}", s.path.display(), if s.bundled { " (bundled sample)" } else { "" });
            t.row([s.name.to_owned(), file, s.sampled.to_string(), s.available.to_string()]);
        }
        let _ = writeln!(md, "{t}");
        let mut t = Table::new(["node", "role", "source"]);
        for g in &m.answers {
            t.row([g.name.clone(), "inference".to_owned(), g.spec.clone()]);
        }
        for e in m.evaluators.iter().chain(m.judge.as_ref()) {
            let src = e.files.first().and_then(|(p, _)| p.parent()).map_or(String::new(), |p| p.display().to_string());
            t.row([e.name.clone(), "evaluator".to_owned(), src]);
        }
        t.row(["token F1, exact match".to_owned(), "yardstick".to_owned(), "official SQuAD v1.1 metric".to_owned()]);
        let _ = writeln!(md, "{t}");
        if !skipped.is_empty() {
            let _ = writeln!(md, "**Skipped in this run:**\n");
            for s in skipped {
                let _ = writeln!(md, "- {s}");
            }
            let _ = writeln!(md);
        }
    }

    /// How each evaluator's scores correlate with F1 and the judge.
    fn agreement(&self, md: &mut String) {
        let Sections { m, a, .. } = *self;
        let _ = writeln!(md, "## Evaluator agreement with the yardsticks\n");
        let _ = writeln!(md, "Correlations over every (model, prompt) answer, with seeded bootstrap 95% intervals.\n");
        if let Some(j) = &m.judge {
            let judged = j.scores.iter().flatten().filter(|v| v.is_finite()).count();
            let _ = writeln!(
                md,
                "The judge ({}) scored a seeded sample of {judged} answers spread evenly over models and tasks; its \
                 rows use those answers only, and its column in the next table is the mean over them.\n",
                j.name
            );
        }
        let mut t = Table::new(["evaluator", "against", "task", "n", "Pearson", "Spearman", "Kendall tau-b"]);
        for r in &a.agreement {
            t.row([
                r.evaluator.clone(),
                r.against.clone(),
                r.task.clone(),
                r.n.to_string(),
                est(&r.pearson),
                est(&r.spearman),
                est(&r.kendall),
            ]);
        }
        let _ = writeln!(md, "{}", if t.is_empty() { "No model evaluator ran.\n".to_owned() } else { t.to_string() });
    }

    /// Quality and latency per model, and the quality-vs-latency figure.
    fn quality_and_latency(&self, md: &mut String) -> Result<()> {
        let Sections { m, a, out, .. } = *self;
        let _ = writeln!(md, "## Quality and latency per model\n");
        let _ = writeln!(
            md,
            "Latency is per answer: its prompt pass plus its decoding. Local GGUF models on our own forward \
             (llama, qwen2, gemma3) decode up to {} answers together, and an answer's decoding time is then its share of the steps \
             it took part in (each step's time split evenly), the machine time it cost; other models run one \
             answer at a time.\n",
            poq_infer::DEFAULT_MAX_BATCH
        );
        let score_names: Vec<String> = m.evaluators.iter().chain(m.judge.as_ref()).map(|e| e.name.clone()).collect();
        let mut headers = vec!["model".to_owned(), "task".to_owned(), "n".to_owned(), "F1".to_owned(), "EM".to_owned()];
        headers.extend(score_names.iter().map(|n| format!("{n} (0–10)")));
        headers.extend(["latency ms", "prefill tok/s", "decode tok/s", "quality / s"].map(str::to_owned));
        let mut t = Table::new(headers);
        for r in &a.models {
            let mut row = vec![r.model.clone(), r.task.clone(), r.n.to_string(), f(r.f1, 3), f(r.em, 3)];
            row.extend(r.scores.iter().map(|(_, v)| f(*v, 2)));
            row.extend([
                f(r.latency_ms, 0),
                f(r.prefill_tokens_per_s, 0),
                f(r.decode_tokens_per_s, 1),
                f(r.quality_per_s, 2),
            ]);
            t.row(row);
        }
        if t.is_empty() {
            let _ = writeln!(md, "No inference model ran.\n");
        } else {
            let _ = writeln!(md, "{t}");
            let points = a
                .models
                .iter()
                .filter(|r| r.task == "all")
                .map(|r| (r.model.clone(), r.latency_ms, r.scores.first().map_or(10.0 * r.f1, |s| s.1)))
                .collect();
            let y_label = score_names.first().map_or("token F1 × 10".to_owned(), |n| format!("mean {n} score"));
            let svg =
                Scatter { title: "Quality vs latency".into(), x_label: "mean latency (ms)".into(), y_label, points }
                    .to_svg();
            write_file(&out.join("quality_latency.svg"), &svg)?;
            let _ = writeln!(md, "![quality vs latency](quality_latency.svg)\n");
        }

        Ok(())
    }

    /// The measured cost profiles (also as costs.json and costs.csv).
    fn costs(&self, md: &mut String) -> Result<()> {
        let Sections { m, out, .. } = *self;
        let records: Vec<_> = m
            .evaluators
            .iter()
            .filter_map(|e| e.profile.clone())
            .chain(m.answers.iter().filter_map(|g| g.profile.clone()))
            .collect();
        let _ = writeln!(md, "## Measured costs on this machine\n");
        if records.is_empty() {
            let _ = writeln!(md, "Nothing was profiled.\n");
        } else {
            let profiles = ProfileReport::new(records);
            profiles.write_json(&out.join("costs.json"))?;
            profiles.write_csv(&out.join("costs.csv"))?;
            let _ = writeln!(md, "{}\n", profiles.markdown());
        }
        Ok(())
    }

    /// The Monte Carlo rewards from the measured scores and costs, with figures and CSVs.
    fn measured_rewards(&self, md: &mut String) -> Result<()> {
        let Sections { a, out, .. } = *self;
        let _ = writeln!(md, "## Monte Carlo PoQ rewards from the measurements\n");
        match &a.measured {
            Some((sc, r)) => {
                let _ = writeln!(
                    md,
                    "Inference nodes' true quality per prompt is their token F1 × 10; evaluators give exactly the \
                     scores they gave; costs are the measured mean latencies, min-max normalized per pool; K = {}, \
                     {} consensus, R = α·q − β·c with the scenario's defaults. Consensus MAE against F1 × 10: {}.\n",
                    sc.k,
                    poq_core::Aggregator::name(&sc.consensus),
                    f(r.consensus.mae, 3)
                );
                let _ = writeln!(md, "{}", reward_table(r));
                if r.nodes.iter().filter(|n| n.kind == NodeKind::Inference).count() < 2 {
                    let _ = writeln!(
                        md,
                        "With a single inference model the normalized reward of the inference pool is 0 by definition \
                         (min-max over one node); pass more `--generator`s to compare models.\n"
                    );
                }
                write_file(&out.join("rewards_measured.svg"), &reward_bars("Normalized PoQ reward (measured)", r))?;
                write_file(&out.join("beta_sweep_measured.svg"), &beta_lines("Reward vs β (measured)", &a.beta_sweep))?;
                poq_sim::output::write_csv_file(&out.join("rewards_measured.csv"), &[(0, r)])?;
                sweep_csv(&out.join("beta_sweep_measured.csv"), &a.beta_sweep)?;
                let _ = writeln!(md, "![rewards](rewards_measured.svg)\n\n![beta sweep](beta_sweep_measured.svg)\n");
            }
            None => {
                let _ = writeln!(md, "Skipped: it needs at least one inference model and one model evaluator.\n");
            }
        }
        Ok(())
    }

    /// The calibrated composite quality signal: audit, held-out comparison, rewards.
    fn composite_quality(&self, md: &mut String) -> Result<()> {
        let Sections { a, out, .. } = *self;
        let _ = writeln!(md, "## Composite quality signal (calibrated, held out)\n");
        let q = match &a.quality {
            Ok(q) => q,
            Err(why) => {
                let _ = writeln!(md, "Skipped: {why}.\n");
                return Ok(());
            }
        };
        let model = &q.fitted.model;
        let _ = writeln!(
            md,
            "Each answer is scored on quality dimensions (docs/quality.md): structure, semantic (each STS \
             evaluator against the reference), query–output alignment, agreement of the evaluators and the \
             model's running prior. The {} answers are split by prompt id with seed {}: {} calibration rows fit \
             everything (dimension selection, weights, the isotonic map); the {} held-out rows ({} prompts) are \
             only reported on. The fitted composite is `composite.json`.\n",
            q.rows,
            model.fit.seed,
            q.fitted.split.calibration.len(),
            q.fitted.split.held_out.len(),
            q.held_out_prompts
        );
        let _ = writeln!(md, "### Audit of the dimensions (calibration split)\n");
        let mut t = Table::new(["dimension", "against", "task", "n", "Pearson", "Spearman", "Kendall tau-b", "flag"]);
        let ci = |c: &Option<poq_eval::stats::Correlation>| {
            c.map_or("–".to_owned(), |c| format!("{:.3} [{:.3}, {:.3}]", c.estimate, c.ci_low, c.ci_high))
        };
        for r in &q.fitted.audit.rows {
            let flag = match (r.negative, r.unreliable) {
                (true, _) => "negative",
                (false, true) => "unreliable",
                _ => "",
            };
            t.row([
                r.dimension.clone(),
                r.against.as_str().to_owned(),
                r.task.map_or("all", |t| t.short_name()).to_owned(),
                r.n.to_string(),
                ci(&r.pearson),
                ci(&r.spearman),
                ci(&r.kendall),
                flag.to_owned(),
            ]);
        }
        let _ = writeln!(md, "{t}");
        let weights: Vec<String> =
            model.dimensions.iter().zip(&model.weights).map(|(d, w)| format!("{d} {w:.3}")).collect();
        let _ = writeln!(md, "Kept, with their weights ({:?}): {}.\n", model.fit.weight_rule, weights.join(", "));
        for d in &model.dropped {
            let _ = writeln!(md, "- dropped {}: {}", d.name, d.reason);
        }
        let _ = writeln!(md);
        let _ = writeln!(md, "### The composite beside single evaluators and the mean consensus (held out)\n");
        let mut t = Table::new(["signal", "against", "n", "Pearson", "Spearman", "Kendall tau-b"]);
        for r in &q.held_out {
            t.row([
                r.signal.clone(),
                r.against.clone(),
                r.n.to_string(),
                est(&r.pearson),
                est(&r.spearman),
                est(&r.kendall),
            ]);
        }
        let _ = writeln!(md, "{t}");
        let _ = writeln!(md, "{}\n", verdict(q));
        per_task_section(md, q);
        if let Some((consensus, composite)) = &q.rewards {
            let _ = writeln!(
                md,
                "### Monte Carlo rewards with the composite as the quality signal (held-out prompts)\n\n\
                 The same rule as above on the held-out prompts only: first the measured evaluators under mean \
                 consensus, then the composite as the only evaluator (its cost: the evaluators' latencies summed, \
                 since it runs them all). Consensus MAE against F1 × 10: {} with the evaluators, {} with the \
                 composite.\n",
                f(consensus.consensus.mae, 3),
                f(composite.consensus.mae, 3)
            );
            let _ = writeln!(md, "{}", reward_table(consensus));
            let _ = writeln!(md, "{}", reward_table(composite));
            poq_sim::output::write_csv_file(&out.join("rewards_composite.csv"), &[(0, consensus), (1, composite)])?;
        }
        if let Some(sweep) = &q.attacks {
            attack_section(md, out, sweep)?;
        }
        write_file(&out.join("composite.json"), &model.to_json()?)?;
        write_file(&out.join("composite_per_task.json"), &q.per_task.model.to_json()?)?;
        write_file(&out.join("quality_audit.json"), &serde_json::to_string_pretty(&q.fitted.audit)?)?;
        Ok(())
    }

    /// The calibrated paper scenario's rewards, with figures and CSVs.
    fn paper_scenario(&self, md: &mut String) -> Result<()> {
        let Sections { a, out, .. } = *self;
        let _ = writeln!(md, "## The paper's scenario (calibrated, not measured)\n");
        let _ = writeln!(
            md,
            "poq-sim's built-in `paper` scenario: the paper's five models and three evaluators with quality, \
             correlation and latency parameters calibrated to what the paper reports (docs/mechanism.md).\n"
        );
        let _ = writeln!(md, "{}", reward_table(&a.paper));
        let _ = writeln!(
            md,
            "*Normalized (min-max)* maps the pool's best mean reward to 1 and its worst to 0. *Scaled to rule range* \
             is (R̄ − R(q=0, c=1)) / (R(q=1, c=0) − R(q=0, c=1)), which puts the reward on [0, 1] without \
             forcing the extremes; the paper's reported 0.62 and 0.13 read like this scale.\n"
        );
        write_file(&out.join("rewards_paper.svg"), &reward_bars("Normalized PoQ reward (paper scenario)", &a.paper))?;
        write_file(
            &out.join("beta_sweep_paper.svg"),
            &beta_lines("Reward vs β (paper scenario)", &a.paper_beta_sweep),
        )?;
        poq_sim::output::write_csv_file(&out.join("rewards_paper.csv"), &[(0, &a.paper)])?;
        sweep_csv(&out.join("beta_sweep_paper.csv"), &a.paper_beta_sweep)?;
        let _ = writeln!(md, "![rewards](rewards_paper.svg)\n\n![beta sweep](beta_sweep_paper.svg)\n");
        Ok(())
    }

    /// The paper's figures beside this run's.
    fn paper_beside_run(&self, md: &mut String) {
        let Sections { m, a, .. } = *self;
        let _ = writeln!(md, "## The paper beside this run\n");
        let _ = writeln!(
            md,
            "Rewards on the rule's scale (*scaled to rule range* above), from the measured scenario; correlations \
             pooled over models and tasks.\n"
        );
        let _ = writeln!(md, "{}", paper_vs_run(m, a));
    }

    /// Seconds per stage.
    fn run_time(&self, md: &mut String) {
        let Sections { stages, .. } = *self;
        let _ = writeln!(md, "## Run time\n");
        let mut t = Table::new(["stage", "seconds"]);
        for (name, d) in stages {
            t.row([(*name).to_owned(), f(d.as_secs_f64(), 1)]);
        }
        let _ = writeln!(md, "{t}");
    }
}

/// `s` as a quoted CSV field (inner quotes doubled).
pub(crate) fn csv_quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// One row per (model, prompt): the tidy table every figure can be recomputed from.
fn write_scores_csv(path: &Path, m: &Measured) -> Result<()> {
    let mut text =
        String::from("model,sample_id,task,f1,em,evaluator,score,latency_ms,prompt_tokens,generated_tokens\n");
    for (g, a) in m.answers.iter().enumerate() {
        for (p, s) in m.prompts.iter().enumerate() {
            let generation = &a.generations[p];
            let evals: Vec<(&str, f64)> =
                m.evaluators.iter().chain(m.judge.as_ref()).map(|e| (e.name.as_str(), e.scores[g][p])).collect();
            let rows: Vec<(&str, f64)> = if evals.is_empty() { vec![("", f64::NAN)] } else { evals };
            for (name, score) in rows {
                let _ = writeln!(
                    text,
                    "{},{},{},{},{},{},{},{:.3},{},{}",
                    csv_quoted(&a.name),
                    csv_quoted(&s.id),
                    s.task.short_name(),
                    m.f1[g][p] / 10.0,
                    m.em[g][p] / 10.0,
                    csv_quoted(name),
                    if score.is_finite() { score.to_string() } else { String::new() },
                    generation.latency().as_secs_f64() * 1e3,
                    generation.prompt_tokens,
                    generation.generated_tokens
                );
            }
        }
    }
    write_file(path, &text)
}

fn write_agreement_csv(path: &Path, a: &Analysis) -> Result<()> {
    let mut text = String::from("evaluator,against,task,n,method,value,ci_low,ci_high\n");
    for r in &a.agreement {
        for (method, e) in [("pearson", &r.pearson), ("spearman", &r.spearman), ("kendall", &r.kendall)] {
            let (v, lo, hi) = e.map_or((String::new(), String::new(), String::new()), |e| {
                (e.value.to_string(), e.ci_low.to_string(), e.ci_high.to_string())
            });
            let _ = writeln!(text, "\"{}\",\"{}\",{},{},{method},{v},{lo},{hi}", r.evaluator, r.against, r.task, r.n);
        }
    }
    write_file(path, &text)
}

fn write_manifest(path: &Path, cfg: &Config, m: &Measured, stages: &[(&'static str, Duration)]) -> Result<()> {
    let files = |v: &[(PathBuf, String)]| -> Vec<serde_json::Value> {
        v.iter().map(|(p, h)| serde_json::json!({"path": p.display().to_string(), "sha256": h})).collect()
    };
    let data: Vec<serde_json::Value> = m
        .sources
        .iter()
        .map(|s| {
            Ok(serde_json::json!({
                "name": s.name, "path": s.path.display().to_string(), "bundled": s.bundled,
                "available": s.available, "sampled": s.sampled, "sha256": sha256_file(&s.path)?,
            }))
        })
        .collect::<Result<_>>()?;
    let manifest = serde_json::json!({
        "poq_version": env!("CARGO_PKG_VERSION"),
        "seed": cfg.seed,
        "per_task": cfg.per_task,
        "rounds": cfg.rounds,
        "machine": Machine::detect(),
        "data": data,
        "generators": m.answers.iter().map(|a| serde_json::json!({"name": a.name, "spec": a.spec, "files": files(&a.files)})).collect::<Vec<_>>(),
        "evaluators": m.evaluators.iter().chain(m.judge.as_ref()).map(|e| serde_json::json!({"name": e.name, "files": files(&e.files)})).collect::<Vec<_>>(),
        "stages_s": stages.iter().map(|(n, d)| (n.to_string(), d.as_secs_f64())).collect::<std::collections::BTreeMap<_, _>>(),
    });
    write_file(path, &serde_json::to_string_pretty(&manifest)?)
}
