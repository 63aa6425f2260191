//! Loaders, sampling and prompts on hand-written fixtures, and on the real files when present.

// Test helpers outside #[test] fns may unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use poq_core::Task;
use poq_eval::datasets::{
    PromptTemplates, cnndm_test_path, load_cnndm_csv, load_cnndm_jsonl, load_squad, sample_n, sample_per_task,
    squad_dev_path,
};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/data").join(name)
}

#[test]
fn squad_loads_every_question_with_its_answers() {
    let s = load_squad(fixture("squad_mini.json")).unwrap();
    let ids: Vec<_> = s.iter().map(|x| x.id.as_str()).collect();
    assert_eq!(ids, ["r1", "r2", "r3", "p1", "p2"]);
    assert_eq!(s[0].references, ["ten", "ten countries", "ten"]);
    assert_eq!(s[0].task, Task::QuestionAnswering);
    assert!(s[0].input.starts_with("The Danube"));
    assert_eq!(s[2].question.as_deref(), Some("Which strait separates Europe and Asia in {city}?"));
}

#[test]
fn squad_errors_name_the_file_and_place() {
    let e = load_squad(fixture("squad_no_answers.json")).unwrap_err().to_string();
    assert!(e.contains("squad_no_answers.json") && e.contains("data[0].paragraphs[0].qas[1].answers"), "{e}");
    assert!(e.contains("bad"), "{e}");
    let e = load_squad(fixture("squad_missing_field.json")).unwrap_err().to_string();
    assert!(e.contains("squad_missing_field.json") && e.contains("line 2") && e.contains("question"), "{e}");
    let e = load_squad(fixture("nope.json")).unwrap_err().to_string();
    assert!(e.contains("cannot read") && e.contains("nope.json"), "{e}");
}

#[test]
fn cnndm_jsonl_loads_and_skips_blank_lines() {
    let s = load_cnndm_jsonl(fixture("cnndm_mini.jsonl")).unwrap();
    assert_eq!(s.len(), 3);
    assert_eq!(s[1].id, "a2");
    assert_eq!(s[2].references, ["Verein gewinnt 3:1 ."]);
    assert!(s.iter().all(|x| x.task == Task::Summarization && x.question.is_none()));
}

#[test]
fn cnndm_jsonl_errors_name_the_line_and_field() {
    let e = load_cnndm_jsonl(fixture("cnndm_missing_highlights.jsonl")).unwrap_err().to_string();
    assert!(e.contains("cnndm_missing_highlights.jsonl: line 2") && e.contains("highlights"), "{e}");
    let e = load_cnndm_jsonl(fixture("cnndm_bad_json.jsonl")).unwrap_err().to_string();
    assert!(e.contains("line 2"), "{e}");
    let e = load_cnndm_jsonl(fixture("cnndm_empty_highlights.jsonl")).unwrap_err().to_string();
    assert!(e.contains("line 1") && e.contains("`highlights` is empty"), "{e}");
}

#[test]
fn cnndm_csv_handles_quotes_newlines_and_column_order() {
    let s = load_cnndm_csv(fixture("cnndm_mini.csv")).unwrap();
    assert_eq!(s.len(), 3);
    assert_eq!(s[0].input, "A storm hit the coast on Monday, cutting power to 10,000 homes.");
    assert_eq!(s[1].input, "The museum reopened after two years.\nVisitors queued for hours \"to see it\".");
    assert_eq!(s[2].references, ["Plain summary ."]);
    let r = load_cnndm_csv(fixture("cnndm_reordered.csv")).unwrap();
    assert_eq!((r[0].id.as_str(), r[0].input.as_str()), ("y1", "Article one."));
}

#[test]
fn cnndm_csv_errors_name_the_line() {
    let e = load_cnndm_csv(fixture("cnndm_bad.csv")).unwrap_err().to_string();
    assert!(e.contains("cnndm_bad.csv: line 3"), "{e}");
    let e = load_cnndm_csv(fixture("cnndm_no_header.csv")).unwrap_err().to_string();
    assert!(e.contains("cnndm_no_header.csv") && e.contains("article"), "{e}");
}

#[test]
fn sampling_is_seeded_ordered_and_checked() {
    let mut all = load_squad(fixture("squad_mini.json")).unwrap();
    all.extend(load_cnndm_jsonl(fixture("cnndm_mini.jsonl")).unwrap());
    let a = sample_per_task(&all, 2, 42).unwrap();
    assert_eq!(a, sample_per_task(&all, 2, 42).unwrap());
    assert_eq!(a.len(), 4);
    assert_eq!(a.iter().filter(|s| s.task == Task::QuestionAnswering).count(), 2);
    // Picks keep the data set's order.
    let pos = |id: &str| all.iter().position(|s| s.id == id).unwrap();
    assert!(pos(&a[0].id) < pos(&a[1].id));
    // Different seeds give different picks somewhere.
    let differs = (0..20).any(|seed| sample_n(&all, 3, seed).unwrap() != sample_n(&all, 3, 42).unwrap());
    assert!(differs);
    let e = sample_per_task(&all, 4, 1).unwrap_err().to_string();
    assert!(e.contains("summarization") && e.contains("only 3"), "{e}");
    assert_eq!(sample_n(&all, all.len(), 7).unwrap(), all);
}

#[test]
fn prompts_fill_templates_and_budgets() {
    let qa = &load_squad(fixture("squad_mini.json")).unwrap()[2];
    let t = PromptTemplates::default();
    let req = t.request(qa).unwrap();
    assert_eq!(req.max_new_tokens, 64);
    let text = &req.messages[0].content;
    assert!(text.contains("{braces} stay.") && text.contains("Asia in {city}?"), "{text}");
    assert_eq!(req.sampling.temperature, 0.0);
    let sum = &load_cnndm_jsonl(fixture("cnndm_mini.jsonl")).unwrap()[0];
    let req = t.request(sum).unwrap();
    assert_eq!(req.max_new_tokens, 128);
    assert!(req.messages[0].content.contains("build a new bridge"));
    let mut broken = qa.clone();
    broken.question = None;
    assert!(t.request(&broken).unwrap_err().to_string().contains("r3"));
}

#[test]
fn real_files_load_when_present() {
    let (Some(squad), Some(cnndm)) = (squad_dev_path(), cnndm_test_path()) else {
        eprintln!("skipping: ../shared/data (or $POQ_DATA_DIR) with squad/ and cnndm/ is not present");
        return;
    };
    let q = load_squad(squad).unwrap();
    assert_eq!(q.len(), 10_570);
    let c = load_cnndm_jsonl(cnndm).unwrap();
    assert_eq!(c.len(), 250);
    let mut all = q;
    all.extend(c);
    let picked = sample_per_task(&all, 200, 42).unwrap();
    assert_eq!(picked.len(), 400);
    assert_eq!(picked, sample_per_task(&all, 200, 42).unwrap());
}
