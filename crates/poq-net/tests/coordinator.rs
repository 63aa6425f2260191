//! Rounds against live nodes on loopback: honest runs replay, faults are caught and paid as the
//! rules say, a stopped coordinator resumes from its transcript.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test
#![cfg(feature = "network")]

mod common;

use common::{Behaviour, evaluator_node, inference_node, network, prompts};
use poq_net::{Coordinator, Fault, RoundLine, verify_transcript};
use std::path::Path;

fn run(net: &poq_net::Network, rounds: u64, path: &Path) -> Vec<RoundLine> {
    let c = Coordinator::new(net.clone(), prompts()).unwrap();
    c.run(rounds, path, |_| {}).unwrap();
    verify_transcript(net, path).unwrap()
}

#[test]
fn an_honest_network_pays_by_quality_and_measured_cost_and_replays() {
    let (a, b, c) = (
        inference_node(Behaviour::honest(5, 1.0)),
        inference_node(Behaviour::honest(5, 0.5)),
        inference_node(Behaviour::honest(60, 1.0)),
    );
    let (e0, e1) = (evaluator_node(1), evaluator_node(1));
    let mut net = network(&[&a, &b, &c], &[&e0, &e1]);
    net.audit_rate = 0.5;
    let dir = tempfile::tempdir().unwrap();
    let lines = run(&net, 12, &dir.path().join("t.jsonl"));
    assert_eq!(lines.len(), 12);
    assert!(lines.iter().any(|l| l.audit.is_some()), "half the rounds draw an audit");
    for l in &lines {
        assert!(l.inference.iter().all(|o| o.faults.is_empty() && o.answered()), "{:?}", l.inference);
        assert_eq!(l.transcript.evaluators.len(), 2);
        let [full, half, slow] = [0, 1, 2].map(|i| &l.transcript.answers[i]);
        // Both evaluators score the full answer 10 and the half one 5.
        assert_eq!((full.consensus, half.consensus, slow.consensus), (10.0, 5.0, 10.0));
        // Same quality, 12x the latency: the slow node's min-max cost is 1, the fast one's near 0.
        assert_eq!(slow.measured_cost, Some(1.0));
        assert!(full.measured_cost.unwrap() < 0.2, "{:?}", full.measured_cost);
        assert!(l.inference[0].payout > l.inference[2].payout);
        assert!(l.inference[0].payout > l.inference[1].payout);
    }
}

#[test]
fn a_node_killed_mid_run_is_unpaid_and_a_restarted_coordinator_resumes() {
    let a = inference_node(Behaviour::honest(5, 1.0));
    let b = inference_node(Behaviour::honest(5, 0.8));
    let (e0, e1) = (evaluator_node(1), evaluator_node(1));
    let net = network(&[&a, &b], &[&e0, &e1]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    let first = run(&net, 4, &path);
    b.shutdown();
    // A new coordinator (a restart) on the same transcript carries on at round 4.
    let c = Coordinator::new(net.clone(), prompts()).unwrap();
    let summary = c.run(8, &path, |_| {}).unwrap();
    assert_eq!((summary.resumed_at, summary.played, summary.dropped_torn_line), (4, 4, false));
    let lines = verify_transcript(&net, &path).unwrap();
    assert_eq!(&lines[..4], &first[..], "the first rounds are kept as they were");
    for l in &lines[4..] {
        let dead = &l.inference[1];
        assert!(matches!(dead.faults[..], [Fault::Unreachable { .. }]), "{:?}", dead.faults);
        assert_eq!((dead.payout, dead.answer.as_deref()), (0.0, None));
        assert_eq!(l.transcript.answers.len(), 1, "only the live node's answer is scored");
        assert!(l.inference[0].payout > 0.0);
    }
    // Round r's draws depend on (seed, r) alone: a run without the restart samples the same.
    let other = dir.path().join("u.jsonl");
    let straight = run(&net, 8, &other);
    for (x, y) in lines.iter().zip(&straight) {
        assert_eq!((&x.prompt_id, &x.transcript.prompt), (&y.prompt_id, &y.transcript.prompt));
        assert_eq!(
            x.evaluators.iter().map(|e| e.id).collect::<Vec<_>>(),
            y.evaluators.iter().map(|e| e.id).collect::<Vec<_>>()
        );
    }
}

#[test]
fn a_node_misreporting_its_timings_is_caught_and_slashed() {
    let honest = inference_node(Behaviour::honest(80, 1.0));
    let liar = inference_node(Behaviour { claim: 0.1, ..Behaviour::honest(80, 1.0) });
    let (e0, e1) = (evaluator_node(1), evaluator_node(1));
    let net = network(&[&honest, &liar], &[&e0, &e1]);
    let dir = tempfile::tempdir().unwrap();
    let lines = run(&net, 5, &dir.path().join("t.jsonl"));
    for l in &lines {
        assert!(l.inference[0].faults.is_empty());
        let lie = &l.inference[1];
        let Fault::Misreport { claimed_ms, measured_ms } = lie.faults[0] else { panic!("{:?}", lie.faults) };
        assert!(claimed_ms < 0.2 * measured_ms, "{claimed_ms} vs {measured_ms}");
        let rec = &l.transcript.answers[1];
        assert!(rec.inference_slashed);
        // Paid what the rule gives for its quality and measured cost, less the penalty.
        let rule = net.reward;
        let expect =
            poq_core::RewardRule::reward(&rule, rec.consensus / 10.0, rec.measured_cost.unwrap()) - net.penalty;
        assert_eq!(lie.payout.to_bits(), expect.to_bits());
        assert!(lie.payout < 0.0 && l.inference[0].payout > 0.0);
    }
}

#[test]
fn garbage_fickle_answers_and_dead_evaluators_are_faults_not_errors() {
    let good = inference_node(Behaviour::honest(5, 1.0));
    let garbage = inference_node(Behaviour { garbage: true, ..Behaviour::honest(5, 1.0) });
    let fickle = inference_node(Behaviour { fickle: true, ..Behaviour::honest(5, 1.0) });
    let (e0, e1) = (evaluator_node(1), evaluator_node(1));
    let mut net = network(&[&good, &garbage, &fickle], &[&e0, &e1]);
    net.audit_rate = 1.0;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    let lines = run(&net, 6, &path);
    assert!(lines.iter().all(|l| matches!(l.inference[1].faults[..], [Fault::Garbage { .. }])));
    let audited_fickle: Vec<&RoundLine> =
        lines.iter().filter(|l| l.audit.as_ref().is_some_and(|a| a.node == 2)).collect();
    assert!(!audited_fickle.is_empty(), "every round audits one node; the fickle one within six rounds");
    for l in audited_fickle {
        assert_eq!(l.audit.as_ref().unwrap().same_answer, Some(false));
        assert!(matches!(l.inference[2].faults[..], [Fault::AuditMismatch { .. }]));
        assert!(l.transcript.answers.iter().find(|a| a.node == 2).unwrap().inference_slashed);
    }
    // An evaluator going down: its rounds go on with the other one, it is absent and unpaid.
    e1.shutdown();
    Coordinator::new(net.clone(), prompts()).unwrap().run(10, &path, |_| {}).unwrap();
    let lines = verify_transcript(&net, &path).unwrap();
    for l in &lines[6..] {
        let dead = l.evaluators.iter().find(|e| e.id == 1).unwrap();
        assert!(matches!(dead.faults[..], [Fault::Unreachable { .. }]) && dead.payout == 0.0);
        assert_eq!((l.transcript.evaluators.clone(), l.transcript.absent.clone()), (vec![0], vec![1]));
    }
}

#[test]
fn tampered_and_torn_transcripts() {
    let a = inference_node(Behaviour::honest(5, 1.0));
    let e0 = evaluator_node(1);
    let mut net = network(&[&a], &[&e0]);
    net.k = 1;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    run(&net, 3, &path);
    let text = std::fs::read_to_string(&path).unwrap();
    // A payout raised after the fact fails on its line.
    let mut lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let paid = lines[1]["inference"][0]["payout"].as_f64().unwrap();
    lines[1]["inference"][0]["payout"] = (paid + 0.5).into();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    let e = verify_transcript(&net, &bad).unwrap_err().to_string();
    assert!(e.contains("line 2") && e.contains("paid"), "{e}");
    // A write cut short: verification refuses it, a restarted coordinator drops it and replays.
    std::fs::write(&path, format!("{text}{{\"round\":3,\"prom")).unwrap();
    assert!(verify_transcript(&net, &path).unwrap_err().to_string().contains("torn"));
    let s = Coordinator::new(net.clone(), prompts()).unwrap().run(4, &path, |_| {}).unwrap();
    assert_eq!((s.resumed_at, s.played, s.dropped_torn_line), (3, 1, true));
    assert_eq!(verify_transcript(&net, &path).unwrap().len(), 4);
}
