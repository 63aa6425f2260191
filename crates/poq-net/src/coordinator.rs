//! The coordinator: plays rounds against live nodes and writes each one down.
//!
//! A round: draw a prompt; ask every inference node in turn (one at a time, so that on a shared
//! machine each is timed alone); maybe audit one answer by asking again; sample `k` evaluators by
//! stake; have each score all answers and commit (hash first), then reveal; check every reveal
//! against its commitment; take the consensus and pay everyone by quality and the cost the
//! coordinator measured. Round `r`'s draws come from `(seed, r)` alone, so a restarted
//! coordinator carries on exactly where the transcript ends.

use crate::client::Client;
use crate::error::{NetError, Result};
use crate::network::{Network, NodeEntry};
use crate::round::{AuditOutcome, EvaluatorOutcome, Fault, InferenceOutcome, RoundLine, verify_lines};
use crate::wire::{CommitRequest, CommitResponse, RevealRequest, RevealResponse, RoundAnswer, ScoreItem};
use poq_core::{Aggregator, GenerationRequest, RewardRule, Score, agreement, normalize_costs};
use poq_sim::{AnswerRecord, Transcript};
use serde::Deserialize;
use std::io::Write;
use std::path::Path;

/// A prompt of the network's task set, with what evaluators score against.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    /// A stable id (the dataset's).
    pub id: String,
    /// What inference nodes are asked.
    pub request: GenerationRequest,
    /// Reference answers for the evaluators.
    pub references: Vec<String>,
    /// The question, for evaluators that read it.
    pub input: Option<String>,
}

/// Plays rounds of a [`Network`] over HTTP.
#[derive(Debug)]
pub struct Coordinator {
    network: Network,
    prompts: Vec<Prompt>,
    client: Client,
}

/// What [`Coordinator::run`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSummary {
    /// Rounds already in the transcript when it started.
    pub resumed_at: u64,
    /// Rounds it played.
    pub played: u64,
    /// Whether a torn last line (a write cut short) was dropped and its round played again.
    pub dropped_torn_line: bool,
}

impl Coordinator {
    /// A coordinator for a checked network and at least one prompt.
    pub fn new(network: Network, prompts: Vec<Prompt>) -> Result<Self> {
        network.validate()?;
        if prompts.is_empty() {
            return Err(crate::error::config("prompts", "at least one prompt is needed"));
        }
        if let Some(i) = prompts.iter().position(|p| p.references.is_empty()) {
            return Err(crate::error::config(format!("prompts[{i}].references"), "must hold at least one reference"));
        }
        let client = Client::new(network.timeout());
        Ok(Coordinator { network, prompts, client })
    }

    /// The network it plays.
    #[must_use]
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// Plays round `round`. Node failures are faults in the line, never errors; an error means the
    /// network's own rules refused their input.
    pub fn play_round(&self, round: u64) -> Result<RoundLine> {
        let net = &self.network;
        let mut rng = RoundRng::new(net.seed, round);
        let prompt_index = rng.below(self.prompts.len());
        let prompt = &self.prompts[prompt_index];
        let audit_drawn = rng.unit() < net.audit_rate;
        let audited = rng.below(net.inference.len());
        let sampled = self.sample_evaluators(&mut rng);

        let mut inference: Vec<InferenceOutcome> = net.inference.iter().map(|n| self.ask(n, prompt)).collect();
        let audit = if audit_drawn && inference[audited].answered() {
            Some(self.audit(audited, prompt, &mut inference))
        } else {
            None
        };
        let answered: Vec<usize> = (0..inference.len()).filter(|&i| inference[i].answered()).collect();
        let mut evaluators: Vec<EvaluatorOutcome> = sampled
            .iter()
            .map(|&id| EvaluatorOutcome {
                name: net.evaluators[id].name.clone(),
                id,
                measured_ms: 0.0,
                claimed_ms: None,
                faults: Vec::new(),
                payout: 0.0,
            })
            .collect();
        let mut transcript = Transcript {
            seed: net.seed,
            round,
            prompt: prompt_index,
            evaluators: sampled.clone(),
            absent: Vec::new(),
            answers: Vec::new(),
        };
        if !answered.is_empty() {
            let answers: Vec<RoundAnswer> = answered
                .iter()
                .map(|&i| RoundAnswer {
                    node: i,
                    item: ScoreItem {
                        candidate: inference[i].answer.clone().unwrap_or_default(),
                        references: prompt.references.clone(),
                        input: prompt.input.clone(),
                    },
                })
                .collect();
            let reveals = self.commit_reveal(round, &answers, &mut evaluators);
            transcript.evaluators = evaluators.iter().filter(|e| e.revealed()).map(|e| e.id).collect();
            transcript.absent = evaluators.iter().filter(|e| !e.revealed()).map(|e| e.id).collect();
            if !transcript.evaluators.is_empty() {
                self.pay(&answered, &reveals, &mut inference, &mut evaluators, &mut transcript)?;
            }
        }
        Ok(RoundLine { round, prompt_id: prompt.id.clone(), inference, evaluators, audit, transcript })
    }

    /// Plays rounds until the transcript at `path` holds `rounds` of them, appending one line per
    /// round (flushed to disk before the next starts). An existing transcript is read and checked
    /// first, and play resumes after its last round; a torn last line is dropped and replayed.
    /// `on_round` sees each new line (progress, logs).
    pub fn run(&self, rounds: u64, path: &Path, mut on_round: impl FnMut(&RoundLine)) -> Result<RunSummary> {
        let io = |source| NetError::Io { path: path.to_path_buf(), source };
        let (lines, good_bytes, torn) = if path.exists() { read_lines(path)? } else { (Vec::new(), 0, false) };
        verify_lines(&self.network, &lines, path)?;
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(io)?;
        if torn {
            file.set_len(good_bytes).map_err(io)?;
        }
        let resumed_at = lines.len() as u64;
        for round in resumed_at..rounds.max(resumed_at) {
            let line = self.play_round(round)?;
            let mut text = serde_json::to_string(&line).map_err(|e| NetError::Transcript {
                path: path.to_path_buf(),
                line: round as usize + 1,
                reason: e.to_string(),
            })?;
            text.push('\n');
            file.write_all(text.as_bytes()).map_err(io)?;
            file.sync_data().map_err(io)?;
            on_round(&line);
        }
        Ok(RunSummary { resumed_at, played: rounds.saturating_sub(resumed_at), dropped_torn_line: torn })
    }

    /// `k` evaluators without replacement, in proportion to stake or uniformly.
    fn sample_evaluators(&self, rng: &mut RoundRng) -> Vec<usize> {
        let net = &self.network;
        let mut weights: Vec<f64> =
            net.evaluators.iter().map(|e| if net.stake_weighted { e.stake } else { 1.0 }).collect();
        let mut chosen = Vec::with_capacity(net.k);
        for _ in 0..net.k {
            let total: f64 = weights.iter().sum();
            let mut x = rng.unit() * total;
            // The last positive weight when rounding leaves x just past the end.
            let mut pick = weights.iter().rposition(|&w| w > 0.0).unwrap_or(0);
            for (i, &w) in weights.iter().enumerate() {
                if w > 0.0 && x < w {
                    pick = i;
                    break;
                }
                x -= w;
            }
            chosen.push(pick);
            weights[pick] = 0.0;
        }
        chosen
    }

    /// Asks one inference node, times it, and checks its answer and its timing claim.
    fn ask(&self, node: &NodeEntry, prompt: &Prompt) -> InferenceOutcome {
        let url = format!("{}/chat/completions", node.url.trim_end_matches('/'));
        let r = &prompt.request;
        let body = serde_json::json!({
            "model": "",
            "messages": r.messages,
            "max_tokens": r.max_new_tokens,
            "temperature": r.sampling.temperature,
            "top_p": r.sampling.top_p,
            "seed": r.sampling.seed,
            "stop": r.stop,
        });
        let mut out = InferenceOutcome {
            name: node.name.clone(),
            answer: None,
            generated_tokens: 0,
            measured_ms: 0.0,
            claimed_ms: None,
            faults: Vec::new(),
            payout: 0.0,
        };
        match self.client.post::<_, ChatReply>(&url, &body) {
            Err((fault, ms)) => {
                out.measured_ms = ms;
                out.faults.push(fault);
            }
            Ok((reply, ms)) => {
                out.measured_ms = ms;
                out.generated_tokens = reply.usage.map_or(0, |u| u.completion_tokens);
                out.claimed_ms = reply.timings.map(|t| t.prompt_ms + t.predicted_ms);
                match reply.choices.into_iter().next().and_then(|c| c.message.content) {
                    Some(text) => out.answer = Some(text),
                    None => out.faults.push(Fault::Garbage { detail: "no choices[0].message.content".into() }),
                }
                if let Some(claimed) = out.claimed_ms.filter(|&c| self.network.misreported(c, ms)) {
                    out.faults.push(Fault::Misreport { claimed_ms: claimed, measured_ms: ms });
                }
            }
        }
        out
    }

    /// Asks node `i` the same request again: another answer fails the audit (requests are seeded,
    /// so an honest node repeats itself).
    fn audit(&self, i: usize, prompt: &Prompt, inference: &mut [InferenceOutcome]) -> AuditOutcome {
        let again = self.ask(&self.network.inference[i], prompt);
        let same_answer = again.answered().then(|| again.answer == inference[i].answer);
        let detail = match (&again.answer, &inference[i].answer) {
            (Some(a), Some(b)) => format!("{} bytes, then {} bytes", b.len(), a.len()),
            _ => format!("the re-ask failed: {:?}", again.faults.first()),
        };
        if same_answer != Some(true) {
            inference[i].faults.push(Fault::AuditMismatch { detail });
        }
        AuditOutcome { node: i, same_answer, measured_ms: again.measured_ms }
    }

    /// Commit (every sampled evaluator at once), then reveal; each revealed score is checked
    /// against its commitment. Returns, per evaluator, its reveals in answer order (empty when it
    /// is left out), and records faults and times in `evaluators`.
    fn commit_reveal(
        &self,
        round: u64,
        answers: &[RoundAnswer],
        evaluators: &mut [EvaluatorOutcome],
    ) -> Vec<Vec<Revealed>> {
        let net = &self.network;
        let commits: Vec<_> = std::thread::scope(|s| {
            let calls: Vec<_> = evaluators
                .iter()
                .map(|e| {
                    let url = format!("{}/v1/commit", net.evaluators[e.id].url.trim_end_matches('/'));
                    let body = CommitRequest { round, evaluator: e.id, answers: answers.to_vec() };
                    s.spawn(move || self.client.post::<_, CommitResponse>(&url, &body))
                })
                .collect();
            calls.into_iter().map(|c| c.join().unwrap_or_else(|_| Err((panicked(), 0.0)))).collect()
        });
        let mut committed: Vec<Option<Vec<String>>> = Vec::with_capacity(evaluators.len());
        for (e, commit) in evaluators.iter_mut().zip(commits) {
            match commit {
                Err((fault, ms)) => {
                    e.measured_ms = ms;
                    e.faults.push(fault);
                    committed.push(None);
                }
                Ok((reply, ms)) => {
                    e.measured_ms = ms;
                    e.claimed_ms = Some(reply.timings.score_ms);
                    if net.misreported(reply.timings.score_ms, ms) {
                        e.faults.push(Fault::Misreport { claimed_ms: reply.timings.score_ms, measured_ms: ms });
                    }
                    if reply.commitments.len() == answers.len() {
                        committed.push(Some(reply.commitments));
                    } else {
                        let detail = format!("{} commitments for {} answers", reply.commitments.len(), answers.len());
                        e.faults.push(Fault::Garbage { detail });
                        committed.push(None);
                    }
                }
            }
        }
        // Every commitment is in before any score is asked for.
        std::thread::scope(|s| {
            let calls: Vec<_> = evaluators
                .iter()
                .zip(&committed)
                .map(|(e, c)| {
                    let url = format!("{}/v1/reveal", net.evaluators[e.id].url.trim_end_matches('/'));
                    let body = RevealRequest { round, evaluator: e.id };
                    c.as_ref().map(|_| s.spawn(move || self.client.post::<_, RevealResponse>(&url, &body)))
                })
                .collect();
            calls
                .into_iter()
                .zip(evaluators.iter_mut().zip(&committed))
                .map(|(call, (e, commitments))| {
                    let (Some(call), Some(commitments)) = (call, commitments) else { return Vec::new() };
                    match call.join().unwrap_or_else(|_| Err((panicked(), 0.0))) {
                        Err((fault, _)) => {
                            e.faults.push(fault);
                            Vec::new()
                        }
                        Ok((reply, _)) => match check_reveals(round, e.id, answers, commitments, &reply) {
                            Ok(scores) => scores,
                            Err(detail) => {
                                e.faults.push(Fault::BadReveal { detail });
                                Vec::new()
                            }
                        },
                    }
                })
                .collect()
        })
    }

    /// Consensus per answer from the revealed scores, then everyone's pay from quality and the
    /// round's measured costs, normalized per pool.
    fn pay(
        &self,
        answered: &[usize],
        reveals: &[Vec<Revealed>],
        inference: &mut [InferenceOutcome],
        evaluators: &mut [EvaluatorOutcome],
        transcript: &mut Transcript,
    ) -> Result<()> {
        let net = &self.network;
        let revealed: Vec<usize> = (0..evaluators.len()).filter(|&j| evaluators[j].revealed()).collect();
        let inference_costs = normalize_costs(
            &answered.iter().map(|&i| inference[i].measured_ms).collect::<Vec<_>>(),
            net.normalization,
        )?;
        let evaluator_costs = normalize_costs(
            &revealed.iter().map(|&j| evaluators[j].measured_ms).collect::<Vec<_>>(),
            net.normalization,
        )?;
        for (a, (&i, &cost)) in answered.iter().zip(&inference_costs).enumerate() {
            let shown: Vec<&Revealed> = revealed.iter().map(|&j| &reveals[j][a]).collect();
            let scores = shown.iter().map(|r| Score::new(r.score)).collect::<poq_core::Result<Vec<_>>>()?;
            let consensus = net.consensus.aggregate(&scores, None)?;
            let slash = |slashed: bool, r: f64| if slashed { r - net.penalty } else { r };
            let inference_slashed = inference[i].slashed();
            let inference_payout = slash(inference_slashed, net.reward.reward(consensus.quality(), cost));
            inference[i].payout = inference_payout;
            let mut evaluator_payouts = Vec::with_capacity(revealed.len());
            for ((&j, s), &c) in revealed.iter().zip(&scores).zip(&evaluator_costs) {
                let pay = slash(evaluators[j].slashed(), net.reward.reward(agreement(*s, consensus), c));
                evaluators[j].payout += pay;
                evaluator_payouts.push(pay);
            }
            transcript.answers.push(AnswerRecord {
                node: i,
                truth: None,
                commitments: shown.iter().map(|r| r.commitment.clone()).collect(),
                salts: shown.iter().map(|r| r.salt).collect(),
                scores: scores.iter().map(|s| s.value()).collect(),
                weights: None,
                consensus: consensus.value(),
                inference_slashed,
                evaluator_slashed: revealed.iter().map(|&j| evaluators[j].slashed()).collect(),
                inference_payout,
                evaluator_payouts,
                measured_cost: Some(cost),
                measured_evaluator_costs: Some(evaluator_costs.clone()),
            });
        }
        Ok(())
    }
}

fn panicked() -> Fault {
    Fault::Garbage { detail: "the call's thread panicked".into() }
}

/// A score whose reveal matched its commitment.
#[derive(Debug, Clone)]
struct Revealed {
    score: f64,
    salt: u64,
    commitment: String,
}

/// Checks a reveal against the commitments: same answers in the same order, scores on 0–10, and
/// each hash matching. The reveals in answer order, or what was wrong.
fn check_reveals(
    round: u64,
    evaluator: usize,
    answers: &[RoundAnswer],
    commitments: &[String],
    reply: &RevealResponse,
) -> Result<Vec<Revealed>, String> {
    if reply.reveals.len() != answers.len() {
        return Err(format!("{} reveals for {} answers", reply.reveals.len(), answers.len()));
    }
    let mut scores = Vec::with_capacity(answers.len());
    for ((r, a), c) in reply.reveals.iter().zip(answers).zip(commitments) {
        if r.node != a.node {
            return Err(format!("reveal for node {} where node {} was committed", r.node, a.node));
        }
        if !(0.0..=10.0).contains(&r.score) {
            return Err(format!("score {} of node {} is off the 0-10 scale", r.score, r.node));
        }
        if poq_sim::commitment(round, r.node, evaluator, r.score, r.salt) != *c {
            return Err(format!("the reveal for node {} does not match its commitment", r.node));
        }
        scores.push(Revealed { score: r.score, salt: r.salt, commitment: c.clone() });
    }
    Ok(scores)
}

/// The parts of an OpenAI chat reply the coordinator reads.
#[derive(Deserialize)]
struct ChatReply {
    choices: Vec<ChatChoice>,
    usage: Option<ChatUsage>,
    /// The node's own claim (poq-infer and llama.cpp servers send it).
    timings: Option<ClaimedTimings>,
}

#[derive(Deserialize)]
struct ChatChoice {
    message: ChatMessageReply,
}

#[derive(Deserialize)]
struct ChatMessageReply {
    content: Option<String>,
}

#[derive(Deserialize)]
struct ChatUsage {
    completion_tokens: u64,
}

#[derive(Deserialize)]
struct ClaimedTimings {
    prompt_ms: f64,
    predicted_ms: f64,
}

/// Reads a transcript: its lines, the byte length of the whole lines, and whether a torn last line
/// (no newline, not JSON: a write cut short) was left out. Any other bad line is an error.
pub fn read_lines(path: &Path) -> Result<(Vec<RoundLine>, u64, bool)> {
    let text = std::fs::read_to_string(path).map_err(|source| NetError::Io { path: path.to_path_buf(), source })?;
    let mut lines = Vec::new();
    let mut good = 0u64;
    for (i, raw) in text.split_inclusive('\n').enumerate() {
        // Each line is written with its newline in one call: without it, the write was cut short.
        if !raw.ends_with('\n') {
            return Ok((lines, good, true));
        }
        let line = serde_json::from_str::<RoundLine>(raw).map_err(|e| NetError::Transcript {
            path: path.to_path_buf(),
            line: i + 1,
            reason: e.to_string(),
        })?;
        lines.push(line);
        good += raw.len() as u64;
    }
    Ok((lines, good, false))
}

/// Reads and replays a whole transcript of `network`: every line through poq-sim's verifier and
/// the live checks. The lines, when all replay.
pub fn verify_transcript(network: &Network, path: &Path) -> Result<Vec<RoundLine>> {
    let (lines, _, torn) = read_lines(path)?;
    if torn {
        return Err(NetError::Transcript {
            path: path.to_path_buf(),
            line: lines.len() + 1,
            reason: "torn last line (a write cut short); run the coordinator again to replay that round".into(),
        });
    }
    verify_lines(network, &lines, path)?;
    Ok(lines)
}

/// The coordinator's random stream for one round: SplitMix64 seeded from `(seed, round)` alone.
struct RoundRng(u64);

impl RoundRng {
    fn new(seed: u64, round: u64) -> Self {
        let mut r = RoundRng(seed ^ 0x6e65_745f_706f_7121);
        let first = r.next();
        RoundRng(first ^ round.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform on [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform on `0..n` (`n` ≥ 1).
    fn below(&mut self, n: usize) -> usize {
        ((self.unit() * n as f64) as usize).min(n.saturating_sub(1))
    }
}
