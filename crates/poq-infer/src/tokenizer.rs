use crate::error::{Error, Result};
use std::path::Path;

/// A text tokenizer (from `tokenizer.json` or built from GGUF metadata).
///
/// A thin wrapper over a Hugging Face `tokenizers::Tokenizer` with typed errors and the
/// incremental decoding that stop strings need.
#[derive(Debug, Clone)]
pub struct TextTokenizer {
    inner: tokenizers::Tokenizer,
}

impl TextTokenizer {
    /// Reads a `tokenizer.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
        let inner = tokenizers::Tokenizer::from_bytes(&bytes).map_err(|e| Error::Format {
            path: path.to_path_buf(),
            location: "tokenizer.json".into(),
            message: e.to_string(),
        })?;
        Ok(TextTokenizer { inner })
    }

    /// Wraps a tokenizer built elsewhere.
    pub fn new(inner: tokenizers::Tokenizer) -> Self {
        TextTokenizer { inner }
    }

    /// The wrapped tokenizer.
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }

    /// Token ids of `text`; `add_special_tokens` adds what the post-processor adds (BOS...).
    /// Chat prompts are encoded without them: the template already wrote them, as in
    /// `transformers`' `apply_chat_template`.
    pub fn encode(&self, text: &str, add_special_tokens: bool) -> Result<Vec<u32>> {
        let enc = self.inner.encode(text, add_special_tokens).map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Text of `ids`, with special tokens left out when `skip_special_tokens`.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        self.inner.decode(ids, skip_special_tokens).map_err(|e| Error::Tokenizer(e.to_string()))
    }

    /// The id of a token string, if it is in the vocabulary.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The string of a token id.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// Number of tokens, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }
}
