//! poq-core alone: score one answer, agree on a consensus, pay every node `R = α·q − β·c`.
//!
//! `cargo run --example core_reward`

use poq_core::{Aggregator, Linear, Median, Normalization, RewardRule, Score, agreement, normalize_costs};

fn main() -> Result<(), poq_core::Error> {
    // Three evaluators score one answer (0–10); one of them is far off.
    let scores = [Score::new(7.0)?, Score::new(8.0)?, Score::new(1.0)?];
    let consensus = Median.aggregate(&scores, None)?; // robust to the outlier: 7
    println!("consensus {consensus}");

    // Costs are put on [0, 1] within each pool: inference latencies here (ms).
    let inference_costs = normalize_costs(&[120.0, 480.0, 300.0], Normalization::MinMax)?;
    let evaluator_costs = normalize_costs(&[12.0, 45.0, 60.0], Normalization::MinMax)?;

    let rule = Linear::new(1.0, 0.5)?; // α = 1, β = 0.5, as in the paper
    // The node that answered (the cheapest of its pool) is paid for the consensus quality.
    println!("inference node: R = {:.3}", rule.reward(consensus.quality(), inference_costs[0]));
    // Each evaluator is paid for agreeing with the consensus.
    for (i, (s, c)) in scores.iter().zip(&evaluator_costs).enumerate() {
        println!("evaluator {i}: score {s}, R = {:.3}", rule.reward(agreement(*s, consensus), *c));
    }
    Ok(())
}
