//! The OpenAI chat-completions wire format, shared by the [remote generator](crate::RemoteGenerator)
//! (which writes requests and reads responses) and the node server (which does the reverse).
//!
//! Only the fields a PoQ node needs are modelled; unknown fields are ignored when reading, so replies
//! from vLLM, llama.cpp, TGI and OpenAI all parse. `top_k` and `repetition_penalty` are the
//! extensions vLLM and llama.cpp accept. `timings` follows llama.cpp's server (server-side prefill
//! and decode milliseconds) and is absent from other servers' replies.

use poq_core::{ChatMessage, FinishReason, Generation, GenerationRequest, Role};
use serde::{Deserialize, Serialize};

/// `POST /v1/chat/completions` body.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChatCompletionRequest {
    /// The model the client asks for.
    #[serde(default)]
    pub model: String,
    /// The conversation.
    pub messages: Vec<WireMessage>,
    /// Upper bound on generated tokens (older name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// Upper bound on generated tokens (newer name; wins over `max_tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u64>,
    /// Sampling temperature; 0 is greedy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Keep only the k most likely tokens (vLLM / llama.cpp extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u64>,
    /// Repetition penalty (vLLM / llama.cpp extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repetition_penalty: Option<f32>,
    /// Sampler seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Stop strings: one string or a list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    /// Number of choices; only 1 is served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u64>,
    /// Answer as server-sent events.
    #[serde(default)]
    pub stream: bool,
    /// Streaming options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
}

/// `stop`: OpenAI accepts a single string or a list of strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    /// One stop string.
    One(String),
    /// Several stop strings.
    Many(Vec<String>),
}

impl Stop {
    /// The stop strings as a list.
    pub fn into_vec(self) -> Vec<String> {
        match self {
            Stop::One(s) => vec![s],
            Stop::Many(v) => v,
        }
    }
}

/// `stream_options`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StreamOptions {
    /// Send a last chunk with token usage.
    #[serde(default)]
    pub include_usage: bool,
}

/// One chat message on the wire. The role is kept as text so that an unsupported role is reported
/// by name rather than as a parse failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireMessage {
    /// `system`, `user` or `assistant` (`developer` is read as `system`).
    pub role: String,
    /// Text, or a list of content parts of which the `text` parts are used.
    pub content: Content,
}

/// Message content: a string or a list of parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Content parts (`{"type": "text", "text": ...}`).
    Parts(Vec<ContentPart>),
}

/// One content part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentPart {
    /// The part's kind; only `text` is supported.
    #[serde(rename = "type")]
    pub kind: String,
    /// The text of a `text` part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl From<&ChatMessage> for WireMessage {
    fn from(m: &ChatMessage) -> Self {
        let role = match m.role {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        WireMessage { role: role.into(), content: Content::Text(m.content.clone()) }
    }
}

impl ChatCompletionRequest {
    /// The wire form of a generation request.
    pub fn from_request(model: &str, request: &GenerationRequest, stream: bool) -> Self {
        let s = &request.sampling;
        ChatCompletionRequest {
            model: model.to_owned(),
            messages: request.messages.iter().map(WireMessage::from).collect(),
            max_tokens: Some(request.max_new_tokens as u64),
            max_completion_tokens: None,
            temperature: Some(s.temperature),
            top_p: s.top_p,
            top_k: s.top_k.map(|k| k as u64),
            repetition_penalty: (s.repetition_penalty != 1.0).then_some(s.repetition_penalty),
            seed: Some(s.seed),
            stop: (!request.stop.is_empty()).then(|| Stop::Many(request.stop.clone())),
            n: None,
            stream,
            stream_options: stream.then_some(StreamOptions { include_usage: true }),
        }
    }
}

/// Token counts of a completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the rendered prompt.
    pub prompt_tokens: u64,
    /// Tokens generated.
    pub completion_tokens: u64,
    /// Their sum.
    #[serde(default)]
    pub total_tokens: u64,
}

/// Server-side timings, as llama.cpp's server reports them.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Timings {
    /// Prompt tokens processed.
    pub prompt_n: u64,
    /// Prefill time, milliseconds.
    pub prompt_ms: f64,
    /// Tokens generated.
    pub predicted_n: u64,
    /// Decode time, milliseconds.
    pub predicted_ms: f64,
}

/// `finish_reason` on the wire. Anything but `length` is read as a stop (OpenAI also sends
/// `content_filter` and `tool_calls`, which end generation too).
pub fn finish_reason_str(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop => "stop",
        FinishReason::Length => "length",
    }
}

/// Reads a wire `finish_reason`; see [`finish_reason_str`].
pub fn parse_finish_reason(s: &str) -> FinishReason {
    if s == "length" { FinishReason::Length } else { FinishReason::Stop }
}

/// Non-streamed reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletionResponse {
    /// Completion id.
    #[serde(default)]
    pub id: String,
    /// `chat.completion`.
    #[serde(default)]
    pub object: String,
    /// Unix seconds.
    #[serde(default)]
    pub created: u64,
    /// The model that answered.
    #[serde(default)]
    pub model: String,
    /// The answers; a PoQ node reads the first.
    pub choices: Vec<Choice>,
    /// Token counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Server-side timings (llama.cpp style).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timings: Option<Timings>,
}

/// One answer of a non-streamed reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// Position among the choices.
    #[serde(default)]
    pub index: u32,
    /// The answer.
    pub message: ResponseMessage,
    /// `stop`, `length`, ...
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// The assistant message of a reply. `content` is null for tool calls, which we do not use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseMessage {
    /// `assistant`.
    #[serde(default)]
    pub role: String,
    /// The generated text.
    #[serde(default)]
    pub content: Option<String>,
}

/// One server-sent event of a streamed reply (`data: {...}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletionChunk {
    /// Completion id (the same in every chunk).
    #[serde(default)]
    pub id: String,
    /// `chat.completion.chunk`.
    #[serde(default)]
    pub object: String,
    /// Unix seconds.
    #[serde(default)]
    pub created: u64,
    /// The model that answers.
    #[serde(default)]
    pub model: String,
    /// Deltas; empty in the final usage chunk.
    #[serde(default)]
    pub choices: Vec<ChunkChoice>,
    /// Token counts, in the last chunk when `include_usage` was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Server-side timings (llama.cpp style).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timings: Option<Timings>,
}

/// One delta of a chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkChoice {
    /// Position among the choices.
    #[serde(default)]
    pub index: u32,
    /// What is new.
    #[serde(default)]
    pub delta: Delta,
    /// Set in the chunk that ends the choice.
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// New text of a streamed choice.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Delta {
    /// `assistant` in the first chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// An OpenAI-style error body: `{"error": {"message", "type", "param", "code"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// The error.
    pub error: ErrorBody,
}

/// The inner error object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong, for people.
    pub message: String,
    /// `invalid_request_error`, `server_error`, ...
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The request field at fault, if any.
    #[serde(default)]
    pub param: Option<String>,
    /// A machine-readable code (`model_not_found`, `request_too_large`, ...).
    #[serde(default)]
    pub code: Option<String>,
}

/// `GET /v1/models` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelList {
    /// `list`.
    pub object: String,
    /// The served models.
    pub data: Vec<ModelCard>,
}

/// One served model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelCard {
    /// Its id, as requests name it.
    pub id: String,
    /// `model`.
    pub object: String,
    /// Unix seconds.
    pub created: u64,
    /// Who serves it.
    pub owned_by: String,
}

/// Timings of a generation in llama.cpp's form.
pub fn timings_of(g: &Generation) -> Timings {
    Timings {
        prompt_n: g.prompt_tokens as u64,
        prompt_ms: g.prefill.as_secs_f64() * 1e3,
        predicted_n: g.generated_tokens as u64,
        predicted_ms: g.decode.as_secs_f64() * 1e3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_reads_string_or_list_and_content_reads_parts() {
        let r: ChatCompletionRequest = serde_json::from_str(
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"stop":"\n"}"#,
        )
        .unwrap();
        assert_eq!(r.stop.clone().unwrap().into_vec(), vec!["\n".to_string()]);
        assert!(matches!(&r.messages[0].content, Content::Parts(p) if p[0].text.as_deref() == Some("hi")));
        let r: ChatCompletionRequest =
            serde_json::from_str(r#"{"model":"m","messages":[],"stop":["a","b"],"stream":true}"#).unwrap();
        assert_eq!(r.stop.unwrap().into_vec(), vec!["a".to_string(), "b".to_string()]);
        assert!(r.stream);
    }

    #[test]
    fn request_from_generation_request_carries_sampling() {
        let mut g = GenerationRequest::user("What is 2+2?", 7);
        g.sampling.temperature = 0.5;
        g.sampling.seed = 9;
        g.stop = vec!["\n".into()];
        let w = ChatCompletionRequest::from_request("tiny", &g, true);
        let v = serde_json::to_value(&w).unwrap();
        assert_eq!(v["max_tokens"], 7);
        assert_eq!(v["temperature"], 0.5);
        assert_eq!(v["seed"], 9);
        assert_eq!(v["stop"][0], "\n");
        assert_eq!(v["messages"][0]["role"], "user");
        assert_eq!(v["stream_options"]["include_usage"], true);
        assert!(v.get("repetition_penalty").is_none());
    }

    #[test]
    fn finish_reasons_round_trip() {
        for r in [FinishReason::Stop, FinishReason::Length] {
            assert_eq!(parse_finish_reason(finish_reason_str(r)), r);
        }
        assert_eq!(parse_finish_reason("content_filter"), FinishReason::Stop);
    }
}
