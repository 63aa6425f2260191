//! A small in-process model for scheduler and server tests: it answers with its prompt's tokens,
//! one per step, then EOS. Steps can be made slow, and every step is logged, so tests can see
//! how sequences were batched and when the model worked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use poq_infer::{BatchLm, CausalLm, ChatTemplate, LocalGenerator, TextTokenizer};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `<|im_end|>` in the tiny tokenizer.
pub const EOS: u32 = 2;

/// What the model did.
#[derive(Debug, Default)]
pub struct Log {
    /// Sequences in each decoding step, in order.
    pub widths: Vec<usize>,
    /// When the last decoding step ended.
    pub last_step: Option<Instant>,
    /// Prompts started.
    pub starts: usize,
}

#[derive(Debug)]
pub struct Echo {
    vocab: usize,
    context: usize,
    step: Duration,
    batched: bool,
    /// Per slot: the prompt and how many positions are cached.
    seqs: Vec<(Vec<u32>, usize)>,
    pub log: Arc<Mutex<Log>>,
}

impl Echo {
    /// The logits after `len` cached positions of a sequence with `prompt`: its next prompt token
    /// (answer token i is prompt token i), EOS once the prompt is used up.
    fn logits(&self, prompt: &[u32], len: usize) -> Vec<f32> {
        let next = prompt.get(len - prompt.len()).copied().unwrap_or(EOS);
        let mut l = vec![0.0; self.vocab];
        l[next as usize] = 40.0;
        l
    }

    fn check_fits(&self, len: usize) -> poq_infer::Result<()> {
        if len > self.context {
            return Err(poq_infer::Error::InvalidArgument { name: "tokens", message: "past the context".into() });
        }
        Ok(())
    }
}

impl CausalLm for Echo {
    fn forward(&mut self, tokens: &[u32], pos: usize) -> poq_infer::Result<Vec<f32>> {
        std::thread::sleep(self.step);
        if pos == 0 {
            self.seqs[0] = (tokens.to_vec(), 0);
            self.log.lock().unwrap().starts += 1;
        }
        let (prompt, len) = self.seqs[0].clone();
        assert_eq!(pos, len, "forward continues the cache");
        let len = len + tokens.len();
        self.check_fits(len)?;
        self.seqs[0].1 = len;
        if pos > 0 {
            let mut log = self.log.lock().unwrap();
            log.widths.push(1);
            log.last_step = Some(Instant::now());
        }
        Ok(self.logits(&prompt, len))
    }

    fn reset(&mut self) -> poq_infer::Result<()> {
        self.seqs[0] = (Vec::new(), 0);
        Ok(())
    }

    fn context_length(&self) -> usize {
        self.context
    }

    fn batch(&mut self) -> Option<&mut dyn BatchLm> {
        if self.batched { Some(self) } else { None }
    }
}

impl BatchLm for Echo {
    fn max_sequences(&self) -> usize {
        self.seqs.len()
    }

    fn start(&mut self, slot: usize, prompt: &[u32]) -> poq_infer::Result<Vec<f32>> {
        std::thread::sleep(self.step);
        self.seqs[slot] = (prompt.to_vec(), prompt.len());
        self.log.lock().unwrap().starts += 1;
        Ok(self.logits(prompt, prompt.len()))
    }

    fn step(&mut self, slots: &[usize], tokens: &[u32]) -> poq_infer::Result<Vec<Vec<f32>>> {
        assert_eq!(slots.len(), tokens.len());
        // One pass for the whole batch, as a real model reads its weights once per step.
        std::thread::sleep(self.step);
        let mut out = Vec::new();
        for &s in slots {
            let (prompt, len) = self.seqs[s].clone();
            self.check_fits(len + 1)?;
            self.seqs[s].1 = len + 1;
            out.push(self.logits(&prompt, len + 1));
        }
        let mut log = self.log.lock().unwrap();
        log.widths.push(slots.len());
        log.last_step = Some(Instant::now());
        Ok(out)
    }

    fn release(&mut self) {}
}

/// The tiny byte-level BPE tokenizer of the test fixtures (320 tokens: multi-byte characters
/// take several tokens).
pub fn tokenizer() -> TextTokenizer {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny/llama/tokenizer.json");
    TextTokenizer::from_file(&p).unwrap()
}

/// An echo generator: the prompt is the messages' text as is, each step takes `step`,
/// `slots` sequences at once (`batched`) or one cache only.
pub fn generator(step: Duration, slots: usize, batched: bool, context: usize) -> (LocalGenerator, Arc<Mutex<Log>>) {
    let tok = tokenizer();
    let log = Arc::new(Mutex::new(Log::default()));
    let model =
        Echo { vocab: tok.vocab_size(), context, step, batched, seqs: vec![(Vec::new(), 0); 16], log: log.clone() };
    let template = ChatTemplate::new("{% for m in messages %}{{ m['content'] }}{% endfor %}", BTreeMap::new()).unwrap();
    let g = LocalGenerator::new("echo", Box::new(model), tok, Some(template), vec![EOS]).with_max_batch(slots);
    (g, log)
}
