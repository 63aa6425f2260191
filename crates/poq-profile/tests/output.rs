//! JSON and CSV round trips, the Markdown table's shape, and malformed files.
// Helpers outside #[test] functions may unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use common::{FixedCostEvaluator, FixedGenerator, StepClock, items, prompts};
use poq_profile::{Error, MemorySource, ProfileConfig, ProfileReport, Profiler, SubjectKind, Target};
use std::sync::Arc;

fn report() -> ProfileReport {
    let clock = Arc::new(StepClock::default());
    let p = Profiler::new(ProfileConfig { warmup: 1, repetitions: 3, ..Default::default() })
        .unwrap()
        .with_clock(clock.clone());
    let eval = FixedCostEvaluator::new("fake-sts", clock.clone(), 1, 2);
    let e = p.profile_evaluator(&eval, &Target::new("cpu", "f32"), &items(), &[1, 2, 4, 8]).unwrap();
    let mut g = FixedGenerator::new(clock.clone(), 4);
    let g = p.profile_generator(&mut g, &Target::new("cpu", "q4_1"), &prompts(2)).unwrap();
    ProfileReport::new(vec![e, g])
}

#[test]
fn json_round_trip_keeps_everything() {
    let r = report();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("round.json");
    r.write_json(&path).unwrap();
    let back = ProfileReport::read_json(&path).unwrap();
    assert_eq!(back, r);
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let rec = &v["records"][0];
    assert_eq!(rec["kind"], "evaluator");
    assert_eq!(rec["memory"]["source"], if cfg!(target_os = "linux") { "process_vmhwm" } else { "unavailable" });
    assert_eq!(rec["cost"]["batch_size"], 1);
    assert!(rec["machine"]["threads"].as_u64().unwrap() >= 1);
    assert!(rec["machine"]["cpu_model"].is_string());
    assert_eq!(rec["batches"][2]["batch_latency_ms"]["p95"], 9.0);
    assert_eq!(v["records"][1]["prompts"][0]["prefill_tokens_per_s"]["mean"], 2000.0);
}

#[test]
fn csv_round_trip_and_tidy_shape() {
    let r = report();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("round.csv");
    r.write_csv(&path).unwrap();
    let rows = ProfileReport::read_csv(&path).unwrap();
    assert_eq!(rows, r.csv_rows());
    // 4 batch sizes + 2 prompts, one row each.
    assert_eq!(rows.len(), 6);
    let text = std::fs::read_to_string(&path).unwrap();
    let header = text.lines().next().unwrap();
    for col in [
        "name",
        "kind",
        "batch_size",
        "cpu_model",
        "threads",
        "device",
        "dtype",
        "crate_version",
        "memory_source",
        "latency_p99_ms",
        "items_per_s",
        "knee",
        "decode_tokens_per_s_mean",
    ] {
        assert!(header.split(',').any(|c| c == col), "missing column {col}: {header}");
    }
    let eval_rows: Vec<_> = rows.iter().filter(|r| r.kind == SubjectKind::Evaluator).collect();
    assert_eq!(eval_rows.iter().map(|r| r.batch_size).collect::<Vec<_>>(), vec![1, 2, 4, 8]);
    assert_eq!(eval_rows.iter().filter(|r| r.knee).count(), 1);
    assert_eq!(eval_rows[2].latency_mean_ms, 9.0);
    assert!(eval_rows[0].decode_tokens_per_s_mean.is_none());
    let gen_rows: Vec<_> = rows.iter().filter(|r| r.kind == SubjectKind::Generator).collect();
    assert_eq!(gen_rows[1].prompt_index, Some(1));
    assert_eq!(gen_rows[1].prompt_tokens, Some(20));
}

#[test]
fn markdown_table_shape() {
    let r = report();
    let md = r.markdown();
    let table: Vec<&str> = md.lines().take_while(|l| l.starts_with('|')).collect();
    // Header, rule, 4 batch sizes, 2 × (pp, tg) + e2e.
    assert_eq!(table.len(), 2 + 4 + 5, "{md}");
    let cols = table[0].matches('|').count();
    assert!(table.iter().all(|l| l.matches('|').count() == cols), "{md}");
    // Every row has the same width: the columns are padded.
    assert!(table.iter().all(|l| l.chars().count() == table[0].chars().count()), "{md}");
    assert!(table[1].contains("---:"), "numbers align right: {md}");
    let knee = r.records[0].knee_batch_size.unwrap();
    assert!(md.contains(&format!("b{knee} (knee)")), "{md}");
    assert!(md.contains("pp10") && md.contains("tg20") && md.contains("pp20") && md.contains("e2e"), "{md}");
    assert!(md.contains("± 0.00 it/s") && md.contains("t/s") && md.contains("req/s"), "{md}");
    // The footnote names the memory source and the machine.
    let footnotes: Vec<&str> = md.lines().filter(|l| l.starts_with("- `")).collect();
    assert_eq!(footnotes.len(), 2);
    let src = r.records[0].memory.source;
    assert!(footnotes[0].contains(src.as_str()) && footnotes[0].contains(&r.records[0].machine.cpu_model), "{md}");
    assert_ne!(src, MemorySource::CountingAllocator);
}

#[test]
fn malformed_json_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.json");
    std::fs::write(&path, "{\n  \"records\": [\n    {\"name\": 3}\n  ]\n}\n").unwrap();
    let e = ProfileReport::read_json(&path).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::Json { .. }));
    assert!(msg.contains("bad.json") && msg.contains("line 3"), "{msg}");
    let e = ProfileReport::read_json(&dir.path().join("missing.json")).unwrap_err();
    assert!(matches!(e, Error::Io { .. }) && e.to_string().contains("missing.json"), "{e}");
}

#[test]
fn an_invalid_cost_in_json_names_the_record_and_field() {
    let r = report();
    let mut v: serde_json::Value = serde_json::from_str(&r.to_json().unwrap()).unwrap();
    v["records"][1]["cost"]["latency_p95_ms"] = serde_json::json!(-3.0);
    let e = ProfileReport::from_json(&v.to_string(), std::path::Path::new("costs.json")).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("records[1]") && msg.contains("fixed-gen") && msg.contains("latency_p95_ms"), "{msg}");
}

#[test]
fn malformed_csv_names_the_record() {
    let r = report();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.csv");
    r.write_csv(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let broken = text.replacen(",cpu,f32,", ",cpu,f32,x", 1).replacen("evaluator,2,", "evaluator,two,", 1);
    std::fs::write(&path, broken).unwrap();
    let e = ProfileReport::read_csv(&path).unwrap_err();
    assert!(matches!(e, Error::CsvColumn { line: 3, .. }), "{e}");
    let msg = e.to_string();
    assert!(msg.contains("bad.csv") && msg.contains("`batch_size`") && msg.contains("line 3"), "{msg}");
}
