//! docs/scenario.md is the file format's reference: every TOML block in it loads, validates and
//! runs, and every top-level key the reference table names is a real one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

use poq_sim::{Audit, Scenario, simulate};

fn reference() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/scenario.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The contents of every fenced block opened with exactly "```toml".
fn toml_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```toml") => current = Some(String::new()),
            (Some(b), "```") => {
                blocks.push(std::mem::take(b));
                current = None;
            }
            (Some(b), l) => {
                b.push_str(l);
                b.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

#[test]
fn the_annotated_example_loads_and_runs() {
    let blocks = toml_blocks(&reference());
    assert!(!blocks.is_empty(), "docs/scenario.md has no ```toml block");
    for text in blocks {
        let mut sc = Scenario::from_toml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        // What the annotations claim.
        assert_eq!((sc.name.as_str(), sc.k, sc.rounds, sc.seed), ("small-network", 3, 20000, 7));
        assert_eq!(sc.audit, Audit::RECOMMENDED);
        assert_eq!(sc.evaluators[1].stake, 2.0);
        sc.rounds = 1000;
        let report = simulate(&sc).unwrap();
        assert_eq!(report.params["attack"], "collusion+intermittent_lazy+misreport");
        assert!(report.node("weak-model").unwrap().slashes > 0, "the misreport is audited");
    }
}

#[test]
fn the_reference_table_names_every_top_level_key() {
    let text = reference();
    let sc = serde_json::to_value(poq_sim::paper()).unwrap();
    for key in sc.as_object().unwrap().keys() {
        assert!(text.contains(&format!("| `{key}` |")), "docs/scenario.md does not document `{key}`");
    }
}
