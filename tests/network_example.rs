//! The `network` example end to end with the real models: five node processes on loopback, one of
//! them killed mid-run and one misreporting its timings; both are caught, reported and paid as the
//! rules say, and the transcript verifies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(all(feature = "net", feature = "profile"))]

use poq::net::{Fault, Network, verify_transcript};
use std::path::{Path, PathBuf};
use std::process::Command;

const SMOL: &str = "SmolLM2-135M-Instruct (Q4_1)";
const GEMMA: &str = "gemma-3-270m-q4_k_m";

/// The example's binary, built beside this test by `cargo test`.
fn example() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.parent()?.join("examples").join("network");
    bin.is_file().then_some(bin)
}

#[test]
fn a_killed_and_a_lying_node_are_caught_reported_and_paid_by_the_rules() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let models = root.join("models");
    let needed = [
        "SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf",
        "gemma-3-270m/gemma-3-270m-q4_k_m.gguf",
        "Qwen2.5-Coder-0.5B-Instruct/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        "all-MiniLM-L6-v2/model.safetensors",
        "all-mpnet-base-v2/model.safetensors",
    ];
    let required = std::env::var("POQ_REQUIRE_MODELS").as_deref() == Ok("1");
    if let Some(missing) = needed.iter().find(|f| !models.join(f).is_file()) {
        assert!(!required, "{missing} is missing: run scripts/fetch-models.sh");
        eprintln!("skipped: {missing} is missing");
        return;
    }
    let Some(bin) = example() else {
        assert!(!required, "the network example is not built (cargo test builds it)");
        eprintln!("skipped: build the network example first");
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(bin)
        .current_dir(root)
        .args(["--rounds", "4", "--prompts", "6", "--mc-rounds", "300", "--audit-rate", "0.5"])
        .args(["--kill", &format!("{GEMMA}@1"), "--misreport", &format!("{SMOL}=0.3"), "--out"])
        .arg(out.path())
        .status()
        .unwrap();
    assert!(status.success());

    let network: Network =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("network.json")).unwrap()).unwrap();
    let lines = verify_transcript(&network, &out.path().join("transcript.jsonl")).unwrap();
    assert_eq!(lines.len(), 4);
    assert_eq!((network.inference.len(), network.evaluators.len()), (3, 2));
    let at = |name: &str| network.inference.iter().position(|n| n.name == name).unwrap();
    let (smol, gemma) = (at(SMOL), at(GEMMA));
    for l in &lines {
        // The liar: answered, caught on every round, paid the rule's reward on its measured cost
        // less the penalty.
        let liar = &l.inference[smol];
        assert!(liar.answered() && matches!(liar.faults[..], [Fault::Misreport { .. }]), "{:?}", liar.faults);
        let rec = l.transcript.answers.iter().find(|a| a.node == smol).unwrap();
        assert!(rec.inference_slashed && liar.payout < -network.penalty + 1.0);
        // The killed node: answers until round 1, then no answer, no pay.
        let dead = &l.inference[gemma];
        if l.round <= 1 {
            assert!(dead.answered(), "round {}: {:?}", l.round, dead.faults);
        } else {
            assert!(matches!(dead.faults[..], [Fault::Unreachable { .. }]), "{:?}", dead.faults);
            assert_eq!(dead.payout, 0.0);
        }
    }
    let report = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    for needle in [
        "| misreport",
        "| unreachable",
        "pay (Monte Carlo)",
        "Consensus against token F1",
        &format!("`{GEMMA}` killed after round 1"),
    ] {
        assert!(report.contains(needle), "report lacks {needle}:\n{report}");
    }
}
