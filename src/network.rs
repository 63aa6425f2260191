//! The live network's report (the `network` example): pay per node with confidence intervals
//! beside the Monte Carlo on the same measured qualities and costs, latency measured against
//! claimed, faults, and the consensus against token F1.

use crate::table::Table;
use poq::core::{EvalItem, Evaluator};
use poq::eval::TokenF1;
use poq::net::{Network, Prompt, RoundLine, monte_carlo};
use poq::sim::mean_ci95;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// What the report says a run was.
#[derive(Debug, Clone)]
pub struct RunFacts {
    /// Rounds in the transcript.
    pub rounds: usize,
    /// The transcript file, as the report should name it.
    pub transcript: String,
    /// One line per node: its name, what it runs and how it was started.
    pub nodes: Vec<String>,
    /// Faults injected on purpose (`--kill`, `--misreport`), in words.
    pub injected: Vec<String>,
    /// Monte Carlo rounds.
    pub mc_rounds: u64,
}

/// Writes report.md's text from a verified transcript.
pub fn report(
    network: &Network,
    prompts: &[Prompt],
    lines: &[RoundLine],
    facts: &RunFacts,
) -> Result<String, Box<dyn std::error::Error>> {
    let mut md = String::new();
    writeln!(md, "# A live PoQ network on loopback\n")?;
    writeln!(
        md,
        "{} rounds; {} inference and {} evaluator nodes, each its own process on 127.0.0.1; k = {}, \
         consensus `{}`, reward `{}`, costs normalized per round (`{}`) from the latencies the \
         coordinator measured. Transcript: `{}` (verified: every line replays through poq-sim's \
         verifier and the live checks).\n",
        facts.rounds,
        network.inference.len(),
        network.evaluators.len(),
        network.k,
        serde_json::to_string(&network.consensus)?,
        serde_json::to_string(&network.reward)?,
        serde_json::to_string(&network.normalization)?,
        facts.transcript
    )?;
    for n in &facts.nodes {
        writeln!(md, "- {n}")?;
    }
    if !facts.injected.is_empty() {
        writeln!(md, "\nFaults injected on purpose: {}.", facts.injected.join("; "))?;
    }
    let simulated = poq::sim::simulate(&monte_carlo(network, lines, facts.mc_rounds)?)?;
    let mc = |name: &str| {
        simulated
            .node(name)
            .map_or("—".into(), |s| format!("{:.3} [{:.3}, {:.3}]", s.mean_reward, s.ci_low, s.ci_high))
    };
    let ci = |v: &[f64]| {
        let (m, lo, hi) = mean_ci95(v);
        if v.is_empty() { "—".into() } else { format!("{m:.3} [{lo:.3}, {hi:.3}]") }
    };
    let f1 = f1_per_answer(prompts, lines)?;

    writeln!(md, "\n## Inference nodes\n")?;
    writeln!(
        md,
        "Pay is per answer (mean and 95 % CI); the Monte Carlo plays {} rounds of poq-sim with each \
         node's measured consensus mean and spread, and mean measured latency.\n",
        facts.mc_rounds
    )?;
    let mut t = Table::new([
        "node",
        "answers",
        "no answer",
        "slashed",
        "measured ms",
        "claimed ms",
        "consensus",
        "10·F1",
        "pay (live)",
        "pay (Monte Carlo)",
    ]);
    for (i, node) in network.inference.iter().enumerate() {
        let outcomes: Vec<_> = lines.iter().map(|l| &l.inference[i]).collect();
        let answered: Vec<_> = outcomes.iter().filter(|o| o.answered()).collect();
        let records: Vec<_> = lines.iter().flat_map(|l| l.transcript.answers.iter().filter(|a| a.node == i)).collect();
        let mean_of = |v: Vec<f64>| mean_ci95(&v).0;
        let claimed: Vec<f64> = answered.iter().filter_map(|o| o.claimed_ms).collect();
        let node_f1: Vec<f64> = f1.iter().filter(|(n, _, _)| *n == i).map(|(_, f, _)| *f).collect();
        t.row([
            node.name.clone(),
            answered.len().to_string(),
            (outcomes.len() - answered.len()).to_string(),
            outcomes.iter().filter(|o| o.slashed()).count().to_string(),
            format!("{:.0}", mean_of(answered.iter().map(|o| o.measured_ms).collect())),
            if claimed.is_empty() { "—".into() } else { format!("{:.0}", mean_of(claimed)) },
            format!("{:.2}", mean_of(records.iter().map(|a| a.consensus).collect())),
            format!("{:.2}", mean_of(node_f1)),
            ci(&records.iter().map(|a| a.inference_payout).collect::<Vec<_>>()),
            mc(&node.name),
        ]);
    }
    writeln!(md, "{t}")?;

    writeln!(md, "\n## Evaluator nodes\n")?;
    let mut t = Table::new([
        "node",
        "sampled",
        "revealed",
        "slashed",
        "measured ms",
        "claimed ms",
        "r(score, 10·F1)",
        "pay (live)",
        "pay (Monte Carlo)",
    ]);
    for (j, node) in network.evaluators.iter().enumerate() {
        let outcomes: Vec<_> = lines.iter().flat_map(|l| l.evaluators.iter().filter(|e| e.id == j)).collect();
        let revealed: Vec<_> = outcomes.iter().filter(|e| e.revealed()).collect();
        let mut pay = Vec::new();
        let mut pairs = Vec::new();
        for l in lines {
            let Some(pos) = l.transcript.evaluators.iter().position(|&e| e == j) else { continue };
            for a in &l.transcript.answers {
                pay.push(a.evaluator_payouts[pos]);
                if let Some((_, f, _)) = f1.iter().find(|(n, _, r)| *n == a.node && *r == l.round) {
                    pairs.push((a.scores[pos], *f));
                }
            }
        }
        let claimed: Vec<f64> = revealed.iter().filter_map(|e| e.claimed_ms).collect();
        t.row([
            node.name.clone(),
            outcomes.len().to_string(),
            revealed.len().to_string(),
            outcomes.iter().filter(|e| e.slashed()).count().to_string(),
            format!("{:.0}", mean_ci95(&revealed.iter().map(|e| e.measured_ms).collect::<Vec<_>>()).0),
            if claimed.is_empty() { "—".into() } else { format!("{:.0}", mean_ci95(&claimed).0) },
            pearson(&pairs).map_or("—".into(), |r| format!("{r:.3}")),
            ci(&pay),
            mc(&node.name),
        ]);
    }
    writeln!(md, "{t}")?;

    let pairs: Vec<(f64, f64)> = lines
        .iter()
        .flat_map(|l| l.transcript.answers.iter().map(move |a| (l.round, a)))
        .filter_map(|(r, a)| {
            f1.iter().find(|(n, _, round)| *n == a.node && *round == r).map(|(_, f, _)| (a.consensus, *f))
        })
        .collect();
    writeln!(md, "\n## Consensus against token F1\n")?;
    writeln!(
        md,
        "Pearson r between the consensus and 10·(token F1 against the references) over {} scored answers: {}.",
        pairs.len(),
        pearson(&pairs).map_or("undefined (no spread)".into(), |r| format!("{r:.3}"))
    )?;

    writeln!(md, "\n## Faults\n")?;
    let mut faults: BTreeMap<(String, String), Vec<u64>> = BTreeMap::new();
    for l in lines {
        for o in &l.inference {
            for f in &o.faults {
                faults.entry((o.name.clone(), fault_kind(f))).or_default().push(l.round);
            }
        }
        for o in &l.evaluators {
            for f in &o.faults {
                faults.entry((o.name.clone(), fault_kind(f))).or_default().push(l.round);
            }
        }
    }
    if faults.is_empty() {
        writeln!(md, "None: every node answered, revealed and reported its timings honestly.")?;
    } else {
        let mut t = Table::new(["node", "fault", "rounds", "first", "last"]);
        for ((node, kind), rounds) in &faults {
            let first = rounds.first().map_or(String::new(), u64::to_string);
            let last = rounds.last().map_or(String::new(), u64::to_string);
            t.row([node.clone(), kind.clone(), rounds.len().to_string(), first, last]);
        }
        writeln!(md, "{t}")?;
        writeln!(
            md,
            "\nPay for each fault is as docs/network.md says: no answer or no valid reveal is paid 0; a misreport or a failed audit keeps the answer and loses the penalty ({}).",
            network.penalty
        )?;
    }
    let audits = lines.iter().filter_map(|l| l.audit.as_ref()).collect::<Vec<_>>();
    writeln!(
        md,
        "\nSpot audits: {} re-asks, {} gave the same answer.",
        audits.len(),
        audits.iter().filter(|a| a.same_answer == Some(true)).count()
    )?;
    Ok(md)
}

/// `(node, 10·F1, round)` for every answer that was scored.
fn f1_per_answer(prompts: &[Prompt], lines: &[RoundLine]) -> Result<Vec<(usize, f64, u64)>, poq::core::Error> {
    let mut out = Vec::new();
    for l in lines {
        let Some(prompt) = prompts.get(l.transcript.prompt) else { continue };
        for a in &l.transcript.answers {
            let answer = l.inference[a.node].answer.clone().unwrap_or_default();
            let score = TokenF1.score(&EvalItem::new(answer, prompt.references.clone()))?;
            out.push((a.node, score.value(), l.round));
        }
    }
    Ok(out)
}

fn fault_kind(f: &poq::net::Fault) -> String {
    serde_json::to_value(f).ok().and_then(|v| v["kind"].as_str().map(str::to_owned)).unwrap_or_else(|| "?".into())
}

/// Pearson's r of the pairs; `None` below two pairs or without spread.
fn pearson(pairs: &[(f64, f64)]) -> Option<f64> {
    let n = pairs.len() as f64;
    if pairs.len() < 2 {
        return None;
    }
    let (mx, my) = (pairs.iter().map(|p| p.0).sum::<f64>() / n, pairs.iter().map(|p| p.1).sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in pairs {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx).powi(2);
        syy += (y - my).powi(2);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}
