//! poq-sim alone: a scenario from TOML and one built in code, simulated with a consensus rule of
//! your own. The file format: docs/scenario.md.
//!
//! `cargo run --release --example sim_custom_rule`

use poq_sim::poq_core::{Aggregator, Error, Linear, Result, Score};
use poq_sim::{Scenario, evaluator_node, inference_node, simulate_with};

/// Consensus: the lowest score, so no evaluator can boost an answer.
struct Lowest;

impl Aggregator for Lowest {
    fn name(&self) -> &str {
        "lowest"
    }
    fn aggregate(&self, scores: &[Score], _weights: Option<&[f64]>) -> Result<Score> {
        scores.iter().copied().min_by(|a, b| a.value().total_cmp(&b.value())).ok_or(Error::Empty { what: "scores" })
    }
}

fn main() -> Result<(), poq_sim::SimError> {
    let from_file = Scenario::from_toml(include_str!("../crates/poq-sim/scenarios/collusion.toml"))?;
    let in_code = Scenario::new(
        vec![inference_node("big", 7.5, 1.5, 900.0), inference_node("small", 4.0, 1.5, 300.0)],
        vec![
            evaluator_node("sts", 0.7, 0.0, 2.0, 12.0),
            evaluator_node("cross-a", 0.4, -1.0, 2.0, 45.0),
            evaluator_node("cross-b", 0.2, -1.0, 2.0, 60.0),
        ],
    );
    for sc in [from_file, in_code] {
        let report = simulate_with(&sc, Lowest, Linear::new(1.0, 0.5)?)?;
        println!("== {} ({} rounds, consensus {})", sc.name, sc.rounds, report.params["consensus"]);
        print!("{}", report.table());
    }
    Ok(())
}
