//! The evaluator node's JSON messages, shared by its server and the coordinator's client.

use serde::{Deserialize, Serialize};

/// One answer to score: the candidate, its references and (optionally) the question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreItem {
    /// The answer.
    pub candidate: String,
    /// Reference answers (at least one).
    pub references: Vec<String>,
    /// The prompt or question, for evaluators that read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
}

/// `POST /v1/score`: score a batch at once, no commitment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreRequest {
    /// The items, at least one.
    pub items: Vec<ScoreItem>,
}

/// What the node says its work took. Claims only: the coordinator measures for itself.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NodeTimings {
    /// Time inside the evaluator, milliseconds.
    pub score_ms: f64,
}

/// The answer to [`ScoreRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreResponse {
    /// The evaluator's name.
    pub model: String,
    /// One score per item, on 0–10, in order.
    pub scores: Vec<f64>,
    /// The node's own timing claim.
    pub timings: NodeTimings,
}

/// One answer of a round, by the inference node that gave it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoundAnswer {
    /// The inference node's index in the network.
    pub node: usize,
    /// What to score.
    #[serde(flatten)]
    pub item: ScoreItem,
}

/// `POST /v1/commit`: score a round's answers and answer with commitments only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitRequest {
    /// The round.
    pub round: u64,
    /// This evaluator's index in the network (it is part of every commitment).
    pub evaluator: usize,
    /// The answers, at least one.
    pub answers: Vec<RoundAnswer>,
}

/// The answer to [`CommitRequest`]: one hex SHA-256 commitment per answer, in order
/// (`poq_sim::commitment` of round, node, evaluator, score and a secret salt).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommitResponse {
    /// The commitments.
    pub commitments: Vec<String>,
    /// The node's own timing claim.
    pub timings: NodeTimings,
}

/// `POST /v1/reveal`: the scores and salts behind a commitment, asked once all are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevealRequest {
    /// The round.
    pub round: u64,
    /// This evaluator's index.
    pub evaluator: usize,
}

/// One revealed score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Reveal {
    /// The inference node whose answer it scores.
    pub node: usize,
    /// The score, 0–10.
    pub score: f64,
    /// The salt of the commitment.
    pub salt: u64,
}

/// The answer to [`RevealRequest`], in the order of the commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevealResponse {
    /// The reveals.
    pub reveals: Vec<Reveal>,
}
