//! Domain values that cross crate boundaries: samples, evaluation items, generations, cost profiles.

use crate::error::{Error, Result, check_cost};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What a prompt asks for. It picks prompt templates and splits statistics per task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Extractive question answering (SQuAD).
    QuestionAnswering,
    /// Abstractive summarization (CNN/DailyMail).
    Summarization,
    /// Anything else.
    Other,
}

impl Task {
    /// A short stable name: `qa`, `summarization`, `other`.
    #[must_use]
    pub fn short_name(self) -> &'static str {
        match self {
            Task::QuestionAnswering => "qa",
            Task::Summarization => "summarization",
            Task::Other => "other",
        }
    }
}

/// One prompt of a data set with its ground-truth references.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Stable id from the data set (SQuAD question id, CNN/DM hash).
    pub id: String,
    /// What the prompt asks for.
    pub task: Task,
    /// The context paragraph (QA) or the article (summarization).
    pub input: String,
    /// The question, for QA.
    pub question: Option<String>,
    /// Reference answers or summaries; at least one in well-formed data.
    pub references: Vec<String>,
}

/// What an [`Evaluator`](crate::Evaluator) scores: a candidate against references, with the input
/// (question or source) for evaluators that read it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EvalItem {
    /// The question or source text, when the evaluator needs it.
    #[serde(default)]
    pub input: Option<String>,
    /// The answer being scored.
    pub candidate: String,
    /// Ground-truth references; scores take the best match over them.
    pub references: Vec<String>,
}

impl EvalItem {
    /// An item without input.
    pub fn new(candidate: impl Into<String>, references: Vec<String>) -> Self {
        EvalItem { input: None, candidate: candidate.into(), references }
    }

    /// The same item with an input.
    pub fn with_input(mut self, input: impl Into<String>) -> Self {
        self.input = Some(input.into());
        self
    }
}

/// Who speaks in a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// System instructions.
    System,
    /// The user.
    User,
    /// The model.
    Assistant,
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who speaks.
    pub role: Role,
    /// What is said.
    pub content: String,
}

impl ChatMessage {
    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        ChatMessage { role: Role::User, content: content.into() }
    }
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        ChatMessage { role: Role::System, content: content.into() }
    }
}

/// How the next token is chosen. The default is greedy decoding, as in the paper.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Sampling {
    /// 0 means greedy.
    pub temperature: f64,
    /// Keep only the k most likely tokens (None: all).
    pub top_k: Option<usize>,
    /// Nucleus sampling mass (None: 1).
    pub top_p: Option<f64>,
    /// Penalty > 1 discourages repeating generated or prompt tokens (1: off).
    pub repetition_penalty: f32,
    /// Seed of the sampler, for reproducible non-greedy decoding.
    pub seed: u64,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling { temperature: 0.0, top_k: None, top_p: None, repetition_penalty: 1.0, seed: 42 }
    }
}

/// A request to a [`Generator`](crate::Generator).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationRequest {
    /// The conversation; the generator applies its own chat template.
    pub messages: Vec<ChatMessage>,
    /// Upper bound on generated tokens.
    pub max_new_tokens: usize,
    /// Decoding settings.
    #[serde(default)]
    pub sampling: Sampling,
    /// Generation stops when the text ends with any of these (they are not returned).
    #[serde(default)]
    pub stop: Vec<String>,
}

impl GenerationRequest {
    /// A single user turn, greedy decoding.
    pub fn user(prompt: impl Into<String>, max_new_tokens: usize) -> Self {
        GenerationRequest {
            messages: vec![ChatMessage::user(prompt)],
            max_new_tokens,
            sampling: Sampling::default(),
            stop: Vec::new(),
        }
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// An end-of-sequence token or a stop string.
    Stop,
    /// `max_new_tokens` was reached.
    Length,
}

/// What a generator returns: the text and what it cost to make it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    /// The generated text, without the prompt and without stop strings.
    pub text: String,
    /// Tokens in the rendered prompt.
    pub prompt_tokens: usize,
    /// Tokens generated.
    pub generated_tokens: usize,
    /// Time to process the prompt (time to first token for remote nodes).
    #[serde(rename = "prefill_ms", with = "duration_ms")]
    pub prefill: Duration,
    /// Time spent generating after the first token.
    #[serde(rename = "decode_ms", with = "duration_ms")]
    pub decode: Duration,
    /// Why it stopped.
    pub finish_reason: FinishReason,
}

impl Generation {
    /// End-to-end latency: prefill plus decode.
    #[must_use]
    pub fn latency(&self) -> Duration {
        self.prefill + self.decode
    }

    /// Prompt tokens per second of prefill (None when nothing was timed).
    #[must_use]
    pub fn prefill_tokens_per_s(&self) -> Option<f64> {
        per_second(self.prompt_tokens, self.prefill)
    }

    /// Generated tokens per second of decode (None when nothing was timed).
    #[must_use]
    pub fn decode_tokens_per_s(&self) -> Option<f64> {
        per_second(self.generated_tokens, self.decode)
    }
}

fn per_second(count: usize, d: Duration) -> Option<f64> {
    let s = d.as_secs_f64();
    (s > 0.0).then(|| count as f64 / s)
}

/// Serde for a [`Duration`] as fractional milliseconds, which is what CSV and JSON readers expect.
pub mod duration_ms {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};
    use std::time::Duration;

    /// Writes milliseconds as `f64`.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64() * 1e3)
    }

    /// Reads non-negative finite milliseconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let ms = f64::deserialize(d)?;
        Duration::try_from_secs_f64(ms / 1e3)
            .map_err(|_| D::Error::custom(format!("invalid duration {ms} ms: must be finite and >= 0")))
    }
}

/// The measured cost of running one node's model: what poq-profile produces and what rewards use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostProfile {
    /// Mean latency per request (per item for evaluators), milliseconds.
    pub latency_mean_ms: f64,
    /// Median latency, milliseconds.
    pub latency_p50_ms: f64,
    /// 95th percentile latency, milliseconds.
    pub latency_p95_ms: f64,
    /// Items (evaluations or generations) per second.
    pub throughput_items_per_s: f64,
    /// Prompt tokens per second (generators).
    #[serde(default)]
    pub prefill_tokens_per_s: Option<f64>,
    /// Generated tokens per second (generators).
    #[serde(default)]
    pub decode_tokens_per_s: Option<f64>,
    /// Peak memory, MB.
    pub peak_memory_mb: f64,
    /// Energy per item, joules, when it could be measured.
    #[serde(default)]
    pub energy_j: Option<f64>,
    /// What it ran on (`cpu`, `cuda:0`, ...).
    pub device: String,
    /// Batch size of the measurement.
    pub batch_size: usize,
}

impl CostProfile {
    /// A profile with only latency known (as in the paper); throughput follows from it.
    pub fn from_latency_ms(latency_ms: f64) -> Result<CostProfile> {
        check_cost(|| "latency_mean_ms".into(), latency_ms)?;
        Ok(CostProfile {
            latency_mean_ms: latency_ms,
            latency_p50_ms: latency_ms,
            latency_p95_ms: latency_ms,
            throughput_items_per_s: if latency_ms > 0.0 { 1e3 / latency_ms } else { 0.0 },
            prefill_tokens_per_s: None,
            decode_tokens_per_s: None,
            peak_memory_mb: 0.0,
            energy_j: None,
            device: "unknown".into(),
            batch_size: 1,
        })
    }

    /// Checks that every number is finite and non-negative, naming the first field that is not.
    pub fn validate(&self) -> Result<()> {
        let required = [
            ("latency_mean_ms", self.latency_mean_ms),
            ("latency_p50_ms", self.latency_p50_ms),
            ("latency_p95_ms", self.latency_p95_ms),
            ("throughput_items_per_s", self.throughput_items_per_s),
            ("peak_memory_mb", self.peak_memory_mb),
        ];
        let optional = [
            ("prefill_tokens_per_s", self.prefill_tokens_per_s),
            ("decode_tokens_per_s", self.decode_tokens_per_s),
            ("energy_j", self.energy_j),
        ];
        for (field, v) in required.into_iter().chain(optional.into_iter().filter_map(|(f, v)| Some((f, v?)))) {
            check_cost(|| field.to_owned(), v)?;
        }
        if self.batch_size == 0 {
            return Err(Error::InvalidParameter { name: "batch_size", value: 0.0, reason: "must be at least 1" });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_rates_and_serde_in_ms() {
        let g = Generation {
            text: "Paris".into(),
            prompt_tokens: 20,
            generated_tokens: 4,
            prefill: Duration::from_millis(10),
            decode: Duration::from_millis(40),
            finish_reason: FinishReason::Stop,
        };
        assert_eq!(g.prefill_tokens_per_s(), Some(2000.0));
        assert_eq!(g.decode_tokens_per_s(), Some(100.0));
        assert_eq!(g.latency(), Duration::from_millis(50));
        let json = serde_json::to_value(&g).unwrap();
        assert_eq!(json["prefill_ms"], 10.0);
        assert_eq!(json["finish_reason"], "stop");
        let back: Generation = serde_json::from_value(json).unwrap();
        assert_eq!(back, g);
    }

    #[test]
    fn zero_durations_have_no_rate() {
        let g = Generation {
            text: String::new(),
            prompt_tokens: 3,
            generated_tokens: 0,
            prefill: Duration::ZERO,
            decode: Duration::ZERO,
            finish_reason: FinishReason::Length,
        };
        assert_eq!(g.prefill_tokens_per_s(), None);
    }

    #[test]
    fn negative_duration_is_rejected_by_serde() {
        let bad = r#"{"text":"","prompt_tokens":1,"generated_tokens":0,"prefill_ms":-1,"decode_ms":0,"finish_reason":"stop"}"#;
        let err = serde_json::from_str::<Generation>(bad).unwrap_err().to_string();
        assert!(err.contains("-1"), "{err}");
    }

    #[test]
    fn cost_profile_validation_names_the_field() {
        let mut p = CostProfile::from_latency_ms(12.0).unwrap();
        assert_eq!(p.throughput_items_per_s, 1e3 / 12.0);
        p.validate().unwrap();
        p.energy_j = Some(f64::NAN);
        let e = p.validate().unwrap_err().to_string();
        assert!(e.contains("energy_j"), "{e}");
        p.energy_j = None;
        p.peak_memory_mb = -5.0;
        assert!(p.validate().unwrap_err().to_string().contains("peak_memory_mb"));
        assert!(CostProfile::from_latency_ms(f64::INFINITY).is_err());
    }

    #[test]
    fn task_names_are_stable() {
        assert_eq!(serde_json::to_string(&Task::QuestionAnswering).unwrap(), "\"question_answering\"");
        assert_eq!(Task::Summarization.short_name(), "summarization");
    }
}
