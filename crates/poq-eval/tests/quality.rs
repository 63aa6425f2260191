//! The quality dimensions, audit, calibration and composite on hand-made answers and tables.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use poq_core::{EvalItem, Evaluator, FinishReason, Score, Task};
use poq_eval::ExactMatch;
use poq_eval::TokenF1;
use poq_eval::quality::{
    AgreementDimension, CalibrationConfig, CompositeModel, Dimension, DimensionTable, GenerationFacts, NodePriors,
    PriorDimension, QualityItem, SemanticDimension, StructureDimension, TaskRoutedModel, WeightRule, Yardstick,
    agreement_score, audit, correlation_gain, fit_composite, fit_per_task, in_calibration, nnls, split_by_id,
};
use poq_eval::stats::{BootstrapConfig, IsotonicFit, Method};

fn qa(candidate: &str, reference: &str) -> QualityItem {
    QualityItem::new(EvalItem::new(candidate, vec![reference.to_owned()])).with_task(Task::QuestionAnswering)
}

fn structure(item: &QualityItem) -> f64 {
    StructureDimension::default().score_items(std::slice::from_ref(item)).unwrap()[0].value()
}

#[test]
fn structure_scores_an_empty_answer_zero() {
    assert_eq!(structure(&qa("", "Paris")), 0.0);
    assert_eq!(structure(&qa("  \n\t ", "Paris")), 0.0);
}

#[test]
fn structure_gives_a_clean_answer_of_the_expected_length_ten() {
    assert_eq!(structure(&qa("Paris, France", "Paris France")), 10.0);
}

#[test]
fn structure_penalizes_a_repeated_phrase_by_its_distinct_trigram_share() {
    // 8 words, 6 trigrams alternating between 2 distinct ones: R = 1/3; 8 words for 8 expected: L = 1.
    let item = qa("the cat the cat the cat the cat", "one two three four five six seven eight");
    let b = StructureDimension::default().breakdown(&item);
    assert!((b.repetition - 1.0 / 3.0).abs() < 1e-12, "{b:?}");
    assert_eq!((b.length, b.truncation, b.clean), (1.0, 1.0, 1.0));
    assert!((structure(&item) - 10.0 / 3.0).abs() < 1e-12);
    // Case does not hide a repeat.
    let shouted = StructureDimension::default().breakdown(&qa("The Cat THE cat the CAT the cat", "x"));
    assert!((shouted.repetition - 1.0 / 3.0).abs() < 1e-12);
}

#[test]
fn structure_penalizes_length_off_the_expected_both_ways() {
    // r = 4 words / 2 expected: L = 1/2; r = 1 / 4: L = 1/4.
    let long = StructureDimension::default().breakdown(&qa("in the city Paris", "Paris France"));
    assert_eq!(long.length, 0.5);
    let short = StructureDimension::default().breakdown(&qa("Paris", "the capital city Paris"));
    assert_eq!(short.length, 0.25);
    // A per-task override replaces the references' length.
    let dim = StructureDimension::default().with_expected_words(Task::QuestionAnswering, 4.0).unwrap();
    assert_eq!(dim.breakdown(&qa("in the city Paris", "Paris")).length, 1.0);
    assert!(StructureDimension::default().with_expected_words(Task::Summarization, f64::NAN).is_err());
}

#[test]
fn structure_halves_a_truncated_answer() {
    let facts =
        |finish_reason, generated_tokens| GenerationFacts { generated_tokens, max_new_tokens: Some(64), finish_reason };
    let answer = "Paris is the capital";
    let whole = structure(&qa(answer, "Paris is the capital").with_generation(facts(FinishReason::Stop, 5)));
    let cut = structure(&qa(answer, "Paris is the capital").with_generation(facts(FinishReason::Length, 64)));
    let budget_used = structure(&qa(answer, "Paris is the capital").with_generation(facts(FinishReason::Stop, 64)));
    assert_eq!(whole, 10.0);
    assert_eq!(cut, 5.0);
    assert_eq!(budget_used, 5.0, "the whole budget used counts as cut");
}

#[test]
fn structure_penalizes_garbled_words() {
    // Three words, one clean.
    let b = StructureDimension::default().breakdown(&qa("\u{FFFD}\u{FFFD} ### Paris", "a b c"));
    assert!((b.clean - 1.0 / 3.0).abs() < 1e-12, "{b:?}");
}

#[test]
fn agreement_is_ten_when_evaluators_agree_and_zero_when_split() {
    assert_eq!(agreement_score(&[5.0, 5.0, 5.0]).unwrap().value(), 10.0);
    assert_eq!(agreement_score(&[0.0, 10.0]).unwrap().value(), 0.0);
    assert!((agreement_score(&[4.0, 6.0]).unwrap().value() - 8.0).abs() < 1e-12);
    assert!(agreement_score(&[4.0]).unwrap_err().to_string().contains("at least 2"));
    assert!(agreement_score(&[4.0, f64::NAN]).unwrap_err().to_string().contains("index 1"));
    // As a dimension over F1 and EM: "Paris France" vs "Paris": F1 6.67, EM 0 → sd 3.33 → 3.33.
    let dim = AgreementDimension::new(vec![Box::new(TokenF1), Box::new(ExactMatch)]).unwrap();
    let s = dim.score_items(&[qa("Paris France", "Paris"), qa("Paris", "Paris")]).unwrap();
    assert!((s[0].value() - 10.0 / 3.0).abs() < 1e-9, "{s:?}");
    assert_eq!(s[1].value(), 10.0);
    assert!(AgreementDimension::new(vec![Box::new(TokenF1)]).is_err());
}

#[test]
fn priors_shrink_a_running_mean_towards_the_prior() {
    let mut p = NodePriors::new(5.0, 2.0).unwrap();
    assert_eq!(p.quality_prior("a").value(), 5.0);
    p.update("a", Score::new(9.0).unwrap(), 100.0).unwrap();
    p.update("a", Score::new(7.0).unwrap(), 300.0).unwrap();
    // (2 · 8 + 2 · 5) / 4 = 6.5.
    assert_eq!(p.quality_prior("a").value(), 6.5);
    assert_eq!(p.cost_prior("a"), Some(200.0));
    assert_eq!(p.record("a").unwrap().rounds, 2);
    assert!(p.update("a", Score::MAX, -1.0).unwrap_err().to_string().contains("cost"));
    let dim = PriorDimension::new(p.clone());
    let s = dim.score_items(&[qa("x", "y").with_node("a"), qa("x", "y").with_node("b"), qa("x", "y")]).unwrap();
    assert_eq!(s.iter().map(|s| s.value()).collect::<Vec<_>>(), [6.5, 5.0, 5.0]);
    assert!(NodePriors::new(11.0, 1.0).is_err());
}

#[test]
fn pool_adjacent_violators_matches_a_hand_computed_case_and_is_monotone() {
    let fit = IsotonicFit::fit(&[1.0, 2.0, 3.0, 4.0, 5.0], &[1.0, 3.0, 2.0, 4.0, 3.5]).unwrap();
    assert_eq!(fit.y, [1.0, 2.5, 2.5, 3.75, 3.75]);
    assert!(fit.y.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn nnls_recovers_weights_and_zeroes_a_harmful_column() {
    // Orthogonal centered columns: y = x1 + 3·x2 exactly.
    let x1 = vec![0.5, -0.5, 0.5, -0.5];
    let x2 = vec![0.5, 0.5, -0.5, -0.5];
    let y: Vec<f64> = x1.iter().zip(&x2).map(|(a, b)| a + 3.0 * b).collect();
    let w = nnls(&[x1.clone(), x2], &y).unwrap();
    assert!((w[0] - 1.0).abs() < 1e-9 && (w[1] - 3.0).abs() < 1e-9, "{w:?}");
    // A column that only hurts gets exactly 0 (unconstrained least squares would make it negative).
    let neg: Vec<f64> = x1.iter().map(|v| -v).collect();
    let w = nnls(&[x1.clone(), neg], &x1).unwrap();
    assert!((w[0] - 1.0).abs() < 1e-9 && w[1] == 0.0, "{w:?}");
    assert!(nnls(&[vec![1.0]], &[1.0, 2.0]).is_err());
}

/// A seeded stream in [0, 1) without a dependency.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// 3 answers to each of 120 prompts; `good` tracks F1, `weak` tracks it loosely, `noise` does not,
/// `inverse` is 10 − F1, `flat` is constant.
fn synthetic(seed: u64) -> DimensionTable {
    let mut rng = Lcg(seed);
    let (mut ids, mut tasks, mut f1) = (Vec::new(), Vec::new(), Vec::new());
    let mut cols = vec![Vec::new(); 5];
    for p in 0..120 {
        for _model in 0..3 {
            let truth = 10.0 * rng.next();
            ids.push(format!("q{p}"));
            tasks.push(if p % 2 == 0 { Task::QuestionAnswering } else { Task::Summarization });
            f1.push(truth);
            let clamp = |v: f64| v.clamp(0.0, 10.0);
            cols[0].push(clamp(truth + 2.0 * (rng.next() - 0.5)));
            cols[1].push(clamp(0.5 * truth + 5.0 * rng.next()));
            cols[2].push(10.0 * rng.next());
            cols[3].push(10.0 - truth);
            cols[4].push(7.0);
        }
    }
    DimensionTable {
        ids,
        tasks,
        names: ["good", "weak", "noise", "inverse", "flat"].map(str::to_owned).to_vec(),
        columns: cols,
        judge: f1.iter().enumerate().map(|(i, v)| if i % 4 == 0 { *v } else { f64::NAN }).collect(),
        f1,
    }
}

#[test]
fn the_audit_flags_noise_inverse_and_constant_dimensions() {
    let a = audit(&synthetic(1), &Default::default()).unwrap();
    // 5 dimensions × 2 yardsticks × (2 tasks + all).
    assert_eq!(a.rows.len(), 30);
    let f1 = |d: &str| a.overall(d, Yardstick::F1).unwrap();
    assert!(f1("good").usable() && f1("good").pearson.unwrap().estimate > 0.9);
    assert!(f1("weak").usable());
    assert!(f1("noise").unreliable && f1("noise").pearson.unwrap().ci_low <= 0.0);
    assert!(f1("inverse").negative && f1("inverse").flaw().unwrap().contains("negatively"));
    assert!(f1("flat").unreliable && f1("flat").pearson.is_none());
    let judged = a.overall("good", Yardstick::Judge).unwrap();
    assert_eq!(judged.n, 90, "the judge scored every fourth of 360 rows");
    for row in &a.rows {
        if let Some(c) = row.pearson {
            assert!(c.ci_low <= c.estimate && c.estimate <= c.ci_high, "{row:?}");
        }
    }
}

#[test]
fn the_fitted_composite_keeps_reliable_dimensions_with_weights_summing_to_one() {
    let fitted = fit_composite(&synthetic(2), &CalibrationConfig::default()).unwrap();
    let m = &fitted.model;
    assert!(m.dimensions.contains(&"good".to_owned()));
    for bad in ["noise", "inverse", "flat"] {
        assert!(!m.dimensions.contains(&bad.to_owned()), "{bad} kept: {m:?}");
        assert!(m.dropped.iter().any(|d| d.name == bad), "{bad} not reported dropped");
    }
    assert!(m.weights.iter().all(|w| *w > 0.0));
    assert!((m.weights.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    assert!(m.calibration.y.windows(2).all(|w| w[0] <= w[1]), "calibration must be monotone");
    assert_eq!(m.fit.calibration_rows, fitted.split.calibration.len());
    // Correlation-proportional weights: same selection, weights ∝ r.
    let cfg = CalibrationConfig { weights: WeightRule::CorrelationProportional, ..Default::default() };
    let corr = fit_composite(&synthetic(2), &cfg).unwrap().model;
    assert_eq!(corr.fit.weight_rule, WeightRule::CorrelationProportional);
    assert!((corr.weights.iter().sum::<f64>() - 1.0).abs() < 1e-12);
}

#[test]
fn the_split_is_by_sample_id_and_keeps_a_prompts_answers_together() {
    let t = synthetic(3);
    let split = split_by_id(&t.ids, 0.5, 42).unwrap();
    assert_eq!(split.calibration.len() + split.held_out.len(), t.len());
    for &r in &split.held_out {
        assert!(!split.calibration.iter().any(|&c| t.ids[c] == t.ids[r]), "{} on both sides", t.ids[r]);
    }
    // Roughly half, and another seed gives another split.
    assert!((120..240).contains(&split.calibration.len()), "{}", split.calibration.len());
    assert_ne!(split, split_by_id(&t.ids, 0.5, 43).unwrap());
    // An id's side depends on the id alone.
    assert_eq!(in_calibration("q7", 0.5, 42), split.calibration.iter().any(|&r| t.ids[r] == "q7"));
    assert!(split_by_id(&t.ids, 1.0, 42).is_err());
    assert!(split_by_id(&t.ids[..1], 0.5, 42).unwrap_err().to_string().contains("empty"));
}

#[test]
fn calibration_never_sees_held_out_rows() {
    let base = synthetic(4);
    let fitted = fit_composite(&base, &CalibrationConfig::default()).unwrap();
    // Scramble every held-out row: its scores, its yardsticks, its task.
    let mut changed = base.clone();
    for &r in &fitted.split.held_out {
        for c in &mut changed.columns {
            c[r] = 10.0 - c[r];
        }
        changed.f1[r] = 0.0;
        changed.judge[r] = 10.0;
        changed.tasks[r] = Task::Other;
    }
    // And add answers to new prompts.
    changed.ids.extend(["new-1", "new-2"].map(str::to_owned));
    changed.tasks.extend([Task::Other; 2]);
    changed.f1.extend([3.0, 4.0]);
    changed.judge.extend([f64::NAN; 2]);
    for c in &mut changed.columns {
        c.extend([1.0, 2.0]);
    }
    let refit = fit_composite(&changed, &CalibrationConfig::default()).unwrap();
    let new_rows: Vec<usize> = vec![base.len(), base.len() + 1];
    let new_in_cal: Vec<usize> = new_rows.iter().copied().filter(|r| refit.split.calibration.contains(r)).collect();
    if new_in_cal.is_empty() {
        assert_eq!(refit.model, fitted.model);
        assert_eq!(refit.model.to_json().unwrap(), fitted.model.to_json().unwrap());
        assert_eq!(refit.audit, fitted.audit);
    }
    // Whatever side the new ids fell on, no old held-out row moved into calibration.
    assert!(fitted.split.held_out.iter().all(|r| refit.split.held_out.contains(r)));
    // Changing a calibration row does change the fit (so the check above can fail).
    let mut touched = base.clone();
    for &r in &fitted.split.calibration {
        touched.f1[r] = 10.0 - touched.f1[r];
    }
    assert!(fit_composite(&touched, &CalibrationConfig::default()).map_or(true, |f| f.model != fitted.model));
}

fn items_and_table() -> (Vec<QualityItem>, DimensionTable) {
    let pairs = [
        ("Paris", "Paris"),
        ("the city of Paris", "Paris"),
        ("London", "Paris"),
        ("Denver Broncos", "Denver Broncos"),
        ("the Broncos", "Denver Broncos"),
        ("Carolina Panthers won it", "Denver Broncos"),
        ("1998", "1998"),
        ("in 1998 or so", "1998"),
        ("2004", "1998"),
        ("Golden anniversary", "golden anniversary"),
        ("gold gold gold gold gold gold", "golden anniversary"),
        ("", "golden anniversary"),
    ];
    let items: Vec<QualityItem> = pairs.iter().map(|(c, r)| qa(c, r)).collect();
    let evals: Vec<EvalItem> = items.iter().map(|i| i.eval.clone()).collect();
    let f1: Vec<f64> = TokenF1.score_batch(&evals).unwrap().iter().map(|s| s.value()).collect();
    let ids: Vec<String> = (0..items.len()).map(|i| format!("s{i}")).collect();
    let structure = StructureDimension::default();
    let semantic = SemanticDimension::new(TokenF1).named("semantic:f1");
    let table = DimensionTable::score(&[&structure, &semantic], &items, ids, f1, Vec::new()).unwrap();
    (items, table)
}

#[test]
fn the_composite_round_trips_through_json_with_identical_scores_and_is_an_evaluator() {
    let (items, table) = items_and_table();
    // A small table: every id calibrates except what the seed holds out.
    let cfg = CalibrationConfig {
        audit: poq_eval::quality::AuditConfig { min_abs: 0.0, ..Default::default() },
        ..Default::default()
    };
    let fitted = fit_composite(&table, &cfg).unwrap();
    let json = fitted.model.to_json().unwrap();
    let back = CompositeModel::from_json(&json).unwrap();
    assert_eq!(back, fitted.model);
    let before = fitted.model.score_table(&table).unwrap();
    assert_eq!(back.score_table(&table).unwrap(), before);
    // Bound to the same dimensions, it is an Evaluator giving the same scores.
    let evaluator = back
        .bind(vec![
            Box::new(SemanticDimension::new(TokenF1).named("semantic:f1")),
            Box::new(StructureDimension::default()),
        ])
        .unwrap();
    let evals: Vec<EvalItem> = items.iter().map(|i| i.eval.clone()).collect();
    let via_trait: &dyn Evaluator = &evaluator;
    assert_eq!(via_trait.name(), "composite");
    assert_eq!(via_trait.score_batch(&evals).unwrap(), before);
    // A missing dimension is named.
    let model = CompositeModel::from_json(&json).unwrap();
    let needed = model.dimensions[0].clone();
    let err = model.bind(Vec::new()).unwrap_err().to_string();
    assert!(err.contains(&needed), "{err}");
}

#[test]
fn bad_composite_json_and_bad_tables_name_the_field() {
    let (_, table) = items_and_table();
    let cfg = CalibrationConfig {
        audit: poq_eval::quality::AuditConfig { min_abs: 0.0, ..Default::default() },
        ..Default::default()
    };
    let mut v: serde_json::Value = serde_json::to_value(fit_composite(&table, &cfg).unwrap().model).unwrap();
    v["weights"][0] = serde_json::json!(5.0);
    let err = CompositeModel::from_json(&v.to_string()).unwrap_err().to_string();
    assert!(err.contains("weights"), "{err}");
    let mut bad = table.clone();
    bad.columns[0][3] = f64::NAN;
    assert!(bad.validate().unwrap_err().to_string().contains("structure, row 3"));
    let mut bad = table.clone();
    bad.f1.pop();
    assert!(bad.validate().unwrap_err().to_string().contains("`f1`"));
    let empty = table.rows(&[]);
    assert!(audit(&empty, &Default::default()).unwrap_err().to_string().contains("no rows"));
}

#[test]
fn correlation_gain_is_paired_and_seeded() {
    let t = synthetic(5);
    let (good, weak) = (t.column("good").unwrap(), t.column("weak").unwrap());
    let cfg = BootstrapConfig { resamples: 300, ..Default::default() };
    let g = correlation_gain(Method::Pearson, good, weak, &t.f1, &cfg).unwrap();
    assert!(g.estimate > 0.0 && g.ci_low > 0.0 && g.ci_low <= g.estimate && g.estimate <= g.ci_high, "{g:?}");
    assert_eq!(g, correlation_gain(Method::Pearson, good, weak, &t.f1, &cfg).unwrap());
    let same = correlation_gain(Method::Spearman, good, good, &t.f1, &cfg).unwrap();
    assert_eq!((same.estimate, same.ci_low, same.ci_high), (0.0, 0.0, 0.0));
    assert!(correlation_gain(Method::Pearson, good, &weak[1..], &t.f1, &cfg).is_err());
}

#[test]
fn awkward_floats_survive_the_json_round_trip_exactly() {
    let third = 1.0 / 3.0;
    let model = CompositeModel::new(
        vec!["a".into(), "b".into()],
        vec![third, 1.0 - third],
        IsotonicFit {
            x: vec![0.1 + 0.2, 2.0 / 7.0 + 1.0, 9.999_999_999_999_9],
            y: vec![0.1, 3.0 * 0.1, 9.87654321012345],
        },
        Vec::new(),
        poq_eval::quality::FitInfo {
            weight_rule: WeightRule::Nnls,
            calibration_share: 0.5,
            seed: 7,
            calibration_rows: 3,
        },
    )
    .unwrap();
    let back = CompositeModel::from_json(&model.to_json().unwrap()).unwrap();
    assert_eq!(back, model);
    for v in [[0.3, 1.7], [2.0 / 3.0, 0.123_456_789]] {
        assert_eq!(back.combine(&v).unwrap(), model.combine(&v).unwrap());
    }
}

/// The default fit with a smaller bootstrap: per-task tests fit three composites many times.
fn quick() -> CalibrationConfig {
    let bootstrap = BootstrapConfig { resamples: 100, ..Default::default() };
    CalibrationConfig {
        audit: poq_eval::quality::AuditConfig { bootstrap, ..Default::default() },
        ..Default::default()
    }
}

#[test]
fn each_per_task_fit_reads_only_its_own_tasks_calibration_rows() {
    let base = synthetic(5);
    let cfg = quick();
    let fitted = fit_per_task(&base, &cfg).unwrap();
    assert!(fitted.unfitted.is_empty(), "{:?}", fitted.unfitted);
    for task in [Task::QuestionAnswering, Task::Summarization] {
        let (rows, fit) = &fitted.tasks[&task];
        assert!(rows.iter().all(|&r| base.tasks[r] == task));
        // Its calibration rows are exactly the pooled calibration rows of that task.
        let cal: Vec<usize> = fit.split.calibration.iter().map(|&i| rows[i]).collect();
        let pooled: Vec<usize> =
            fitted.pooled.split.calibration.iter().copied().filter(|&r| base.tasks[r] == task).collect();
        assert_eq!(cal, pooled);
        assert_eq!(fit.model.fit.calibration_rows, cal.len());
        // Scramble every held-out row and every row of the other task: this task's fit is unchanged.
        let mut changed = base.clone();
        for r in 0..changed.len() {
            if changed.tasks[r] != task || fitted.pooled.split.held_out.contains(&r) {
                for c in &mut changed.columns {
                    c[r] = 10.0 - c[r];
                }
                changed.f1[r] = 10.0 - changed.f1[r];
                changed.judge[r] = 5.0;
            }
        }
        let refit = fit_per_task(&changed, &cfg).unwrap();
        assert_eq!(refit.model.routes[&task], fitted.model.routes[&task], "{task:?}");
        assert_ne!(refit.model.fallback, fitted.model.fallback, "the scramble reached the pooled fit");
        // Touching one of its own calibration rows does change it (the check above can fail).
        let mut touched = base.clone();
        for &r in &cal {
            touched.f1[r] = 10.0 - touched.f1[r];
        }
        let other = fit_per_task(&touched, &cfg).map(|f| f.model.routes.get(&task).cloned());
        assert!(other.map_or(true, |m| m.as_ref() != Some(&fitted.model.routes[&task])));
    }
}

#[test]
fn the_routed_composite_scores_each_task_with_its_own_fit_and_round_trips() {
    let table = synthetic(6);
    let fitted = fit_per_task(&table, &quick()).unwrap();
    let routed = &fitted.model;
    let scores = routed.score_table(&table).unwrap();
    assert_eq!(scores.len(), table.len());
    for task in [Task::QuestionAnswering, Task::Summarization] {
        let rows: Vec<usize> = (0..table.len()).filter(|&r| table.tasks[r] == task).collect();
        let own = routed.routes[&task].score_table(&table.rows(&rows)).unwrap();
        assert_eq!(rows.iter().map(|&r| scores[r]).collect::<Vec<_>>(), own);
    }
    // An unknown task takes the pooled composite.
    let mut other = table.rows(&[0, 1, 2]);
    other.tasks = vec![Task::Other; 3];
    assert_eq!(routed.score_table(&other).unwrap(), fitted.pooled.model.score_table(&other).unwrap());
    assert!(std::ptr::eq(routed.model_for(None), &routed.fallback));
    let json = routed.to_json().unwrap();
    assert!(json.contains("\"question_answering\"") && json.contains("\"fallback\""));
    let back = TaskRoutedModel::from_json(&json).unwrap();
    assert_eq!(&back, routed);
    assert_eq!(back.score_table(&table).unwrap(), scores);
    let mut bad = back.clone();
    bad.format = 9;
    assert!(TaskRoutedModel::from_json(&serde_json::to_string(&bad).unwrap()).is_err());
}

#[test]
fn the_routed_composite_is_an_evaluator_that_routes_quality_items_by_task() {
    let (items, table) = items_and_table();
    let cfg = CalibrationConfig {
        audit: poq_eval::quality::AuditConfig { min_abs: 0.0, ..Default::default() },
        ..Default::default()
    };
    let pooled = fit_composite(&table, &cfg).unwrap().model;
    // A QA route that differs from the fallback: the other weight rule.
    let qa_cfg = CalibrationConfig { weights: WeightRule::CorrelationProportional, ..cfg };
    let qa_model = fit_composite(&table, &qa_cfg).unwrap().model;
    let routed = TaskRoutedModel::new([(Task::QuestionAnswering, qa_model.clone())].into(), pooled.clone()).unwrap();
    let dims = || -> Vec<Box<dyn Dimension>> {
        vec![Box::new(StructureDimension::default()), Box::new(SemanticDimension::new(TokenF1).named("semantic:f1"))]
    };
    let evaluator = routed.bind(dims()).unwrap();
    assert_ne!(qa_model.score_table(&table).unwrap(), pooled.score_table(&table).unwrap(), "routes must differ");
    // QA items (all of these) take the QA route; the plain Evaluator call sees no task: fallback.
    assert_eq!(evaluator.score_items(&items).unwrap(), qa_model.score_table(&table).unwrap());
    let evals: Vec<EvalItem> = items.iter().map(|i| i.eval.clone()).collect();
    let via_trait: &dyn Evaluator = &evaluator;
    assert_eq!(via_trait.name(), "composite:per-task");
    assert_eq!(via_trait.score_batch(&evals).unwrap(), pooled.score_table(&table).unwrap());
    assert!(TaskRoutedModel::new(Default::default(), pooled).unwrap().bind(Vec::new()).is_err());
}
