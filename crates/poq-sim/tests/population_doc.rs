//! docs/population.md: its TOML example loads, validates and runs, and its key table names every
//! top-level key of a population.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

use poq_sim::{Population, PopulationAttack, simulate_population};

fn page() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/population.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn toml_block(text: &str) -> String {
    let start = text.find("```toml\n").expect("a ```toml block") + "```toml\n".len();
    let end = start + text[start..].find("```").expect("closed");
    text[start..end].to_owned()
}

#[test]
fn the_example_loads_and_runs() {
    let p = Population::from_toml(&toml_block(&page())).unwrap();
    assert_eq!((p.name.as_str(), p.k, p.rounds), ("two-tier", 3, 200_000));
    assert_eq!(p.inference.len(), 2);
    let ring = p.evaluators[1].adversary.as_ref().unwrap();
    assert_eq!(ring.share, 1.0);
    assert!(
        matches!(&ring.attack, PopulationAttack::Collusion { ring, amount } if ring == "small@cpu" && *amount == 3.0)
    );
    let r = simulate_population(&p).unwrap().report;
    assert_eq!(r.consensus.answers, 200_000);
    assert_eq!(r.detection.len(), 1);
    assert_eq!(r.detection[0].adversaries, 100 + 3 * 2); // 2 % join in each of the 3 later epochs
    // An unknown key is an error, not a silent default.
    let typo = toml_block(&page()).replace("quality_sd = 2.0", "quality_sdd = 2.0");
    assert!(Population::from_toml(&typo).is_err());
    let typo = toml_block(&page()).replace("amount = 3.0 }", "amount = 3.0, bogus = 1 }");
    assert!(Population::from_toml(&typo).is_err());
}

#[test]
fn the_key_table_names_every_top_level_key() {
    let text = page();
    let p = serde_json::to_value(poq_sim::network_population(10, 10)).unwrap();
    for key in p.as_object().unwrap().keys() {
        assert!(text.contains(&format!("`{key}`")), "docs/population.md does not document `{key}`");
    }
}
