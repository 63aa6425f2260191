//! The node server's request parsing (`/v1/chat/completions` body) and the client's parsing of
//! replies and stream chunks: a typed error or a value, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poq_infer::openai::{ChatCompletionChunk, ChatCompletionResponse, ErrorResponse};
use poq_infer::{ServerConfig, parse_chat_request};
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static CONFIG: OnceLock<ServerConfig> = OnceLock::new();
    let config = CONFIG.get_or_init(ServerConfig::default);
    let _ = parse_chat_request(data, config);
    let _ = serde_json::from_slice::<ChatCompletionResponse>(data);
    let _ = serde_json::from_slice::<ChatCompletionChunk>(data);
    let _ = serde_json::from_slice::<ErrorResponse>(data);
});
