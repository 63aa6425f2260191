//! The real SmolLM2-135M-Instruct Q4_1 GGUF: the metadata-built tokenizer matches Python
//! transformers, and the model answers a question through its chat template.
//! Skips when the model is absent (run scripts/fetch-models.sh), fails then if POQ_REQUIRE_MODELS=1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use poq_core::{ChatMessage, FinishReason, GenerationRequest, Generator, Sampling};
use poq_infer::gguf::GgufPrecision;
use poq_infer::{LoadOptions, LocalGenerator};
mod common;

use std::path::PathBuf;

fn model_path() -> Option<PathBuf> {
    common::real_model("SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf")
}

fn fixture() -> serde_json::Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/smollm2_tokenizer.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn load() -> Option<LocalGenerator> {
    let p = model_path()?;
    Some(LocalGenerator::load(p.to_str().unwrap(), &LoadOptions::default()).unwrap())
}

#[test]
fn gguf_tokenizer_matches_transformers_and_round_trips() {
    let Some(g) = load() else { return };
    let fx = fixture();
    for case in fx["texts"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let want: Vec<u32> = serde_json::from_value(case["ids"].clone()).unwrap();
        let ids = g.tokenizer().encode(text, false).unwrap();
        assert_eq!(ids, want, "ids of {text:?}");
        assert_eq!(g.tokenizer().decode(&ids, false).unwrap(), text);
    }
}

#[test]
fn chat_prompt_matches_transformers() {
    let Some(g) = load() else { return };
    let fx = fixture();
    let prompt = g.render_prompt(&[ChatMessage::user("What is the capital of France?")]).unwrap();
    assert_eq!(prompt, fx["chat_prompt"].as_str().unwrap());
    let want: Vec<u32> = serde_json::from_value(fx["chat_prompt_ids"].clone()).unwrap();
    assert_eq!(g.tokenizer().encode(&prompt, false).unwrap(), want);
    // <|im_end|> ends generation.
    assert_eq!(g.eos_ids(), &[2]);
}

#[test]
fn answers_the_capital_of_france() {
    let Some(mut g) = load() else { return };
    let out = g.generate(&GenerationRequest::user("What is the capital of France?", 32)).unwrap();
    assert!(out.text.contains("Paris"), "answer: {:?}", out.text);
    // Token for token the answer of transformers on the dequantized GGUF.
    let fx = fixture();
    assert_eq!(out.text, fx["greedy_answer"].as_str().unwrap());
    let want: Vec<u32> = serde_json::from_value(fx["greedy_answer_ids"].clone()).unwrap();
    assert_eq!(out.generated_tokens, want.len());
    assert_eq!(out.finish_reason, FinishReason::Stop);
    assert!(out.prompt_tokens > 10 && out.generated_tokens > 0 && out.generated_tokens <= 32);
    assert!(out.prefill > std::time::Duration::ZERO);
    assert!(!out.text.contains("<|im_end|>"));
}

#[test]
fn quantized_kernels_run_too() {
    let Some(p) = model_path() else { return };
    for precision in [GgufPrecision::Quantized, GgufPrecision::Q8_0] {
        let opts = LoadOptions { gguf_precision: precision, ..LoadOptions::default() };
        let mut g = LocalGenerator::load(p.to_str().unwrap(), &opts).unwrap();
        let out = g.generate(&GenerationRequest::user("What is the capital of France?", 3)).unwrap();
        assert_eq!(out.generated_tokens, 3, "{precision:?}");
        assert!(!out.text.is_empty(), "{precision:?}");
    }
}

#[test]
fn stop_strings_cut_the_text_and_batches_keep_order() {
    let Some(mut g) = load() else { return };
    let full = g.generate(&GenerationRequest::user("What is the capital of France?", 24)).unwrap();
    let cut_at = full.text.find("Paris").expect("greedy answer names Paris");
    let mut req = GenerationRequest::user("What is the capital of France?", 24);
    req.stop = vec!["Paris".into()];
    let stopped = g.generate(&req).unwrap();
    assert_eq!(stopped.text, full.text[..cut_at]);
    assert_eq!(stopped.finish_reason, FinishReason::Stop);
    assert!(stopped.generated_tokens <= full.generated_tokens);

    let reqs =
        vec![GenerationRequest::user("What is the capital of France?", 24), GenerationRequest::user("Say hi.", 4)];
    let outs = g.generate_batch(&reqs).unwrap();
    assert_eq!(outs[0].text, full.text, "greedy decoding is deterministic");
    assert!(outs[1].generated_tokens <= 4);
}

#[test]
fn batched_decoding_gives_the_tokens_of_one_at_a_time() {
    let Some(g) = load() else { return };
    // Two places for six requests: finished sequences hand their place to the next request.
    let mut g = g.with_max_batch(2);
    let mut sampled = GenerationRequest::user("Write a word.", 12);
    sampled.sampling =
        Sampling { temperature: 0.9, top_k: Some(40), top_p: Some(0.95), repetition_penalty: 1.1, seed: 7 };
    let mut stopped = GenerationRequest::user("What is the capital of France?", 24);
    stopped.stop = vec!["Paris".into()];
    let long = format!("Summarize: {}", "The committee met on Tuesday and approved the budget. ".repeat(60));
    let reqs = vec![
        GenerationRequest::user("What is the capital of France?", 24),
        GenerationRequest::user("Say hi.", 3),
        GenerationRequest::user(long, 40),
        GenerationRequest::user("Nothing to generate.", 0),
        sampled,
        stopped,
    ];
    let batched = g.generate_batch(&reqs).unwrap();
    assert_eq!(batched.len(), reqs.len());
    for (i, (req, b)) in reqs.iter().zip(&batched).enumerate() {
        let one = g.generate(req).unwrap();
        assert_eq!(
            (&b.text, b.generated_tokens, b.finish_reason),
            (&one.text, one.generated_tokens, one.finish_reason),
            "request {i}"
        );
        assert_eq!(b.prompt_tokens, one.prompt_tokens);
    }
    assert_eq!(batched[3].generated_tokens, 0);
    assert!(batched[2].prompt_tokens > 500 && batched[2].generated_tokens > 3, "{:?}", batched[2]);
    // Bad requests fail before anything runs, naming the prompt.
    let e = g.generate_batch(&[GenerationRequest::user("ok", 4), GenerationRequest::user(" x".repeat(10_000), 4)]);
    assert!(e.unwrap_err().to_string().contains("context"));
}

/// With 8-bit activations a batch of eight decodes on another kernel (eight sequences per pass,
/// AVX-512 VNNI where the CPU has it) than one sequence alone: the tokens must still be the same.
#[test]
fn int8_batches_of_eight_give_the_tokens_of_one_at_a_time() {
    let Some(p) = model_path() else { return };
    if !poq_infer::quant::Isa::Avx2.available() {
        return;
    }
    let opts = LoadOptions { gguf_precision: GgufPrecision::Int8, ..LoadOptions::default() };
    let mut g = LocalGenerator::load(p.to_str().unwrap(), &opts).unwrap().with_max_batch(8);
    let questions = [
        "What is the capital of France?",
        "Name a colour.",
        "What is 2 + 2?",
        "Say hello.",
        "Name a fruit.",
        "What is the largest ocean?",
        "Who wrote Hamlet?",
        "Name a planet.",
    ];
    let reqs: Vec<GenerationRequest> = questions.iter().map(|q| GenerationRequest::user(*q, 16)).collect();
    let batched = g.generate_batch(&reqs).unwrap();
    for (i, (req, b)) in reqs.iter().zip(&batched).enumerate() {
        let one = g.generate(req).unwrap();
        assert_eq!((&b.text, b.generated_tokens), (&one.text, one.generated_tokens), "request {i}");
    }
    assert!(batched.iter().filter(|b| b.generated_tokens > 4).count() >= 6, "{batched:?}");
}

#[test]
fn seeded_sampling_repeats() {
    let Some(mut g) = load() else { return };
    let mut req = GenerationRequest::user("Write a word.", 12);
    req.sampling = Sampling { temperature: 0.9, top_k: Some(40), top_p: Some(0.95), repetition_penalty: 1.1, seed: 7 };
    let a = g.generate(&req).unwrap();
    let b = g.generate(&req).unwrap();
    assert_eq!(a.text, b.text);
}

/// The bits of each logit, to compare two passes exactly.
fn bits(logits: &[f32]) -> Vec<u32> {
    logits.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn prompts_started_together_or_from_a_shared_beginning_match_each_alone() {
    use poq_infer::BatchLm;
    let Some(p) = model_path() else { return };
    let mut model = poq_infer::gguf::load(&p, &candle_core::Device::Cpu).unwrap().model;
    // A shared beginning of 24 tokens (a system prompt's share), then rests of every kind: past
    // the prompt-kernel bound (16) or not, a rest that would be too short to reuse all 24, a
    // prompt shorter than the bound, one identical to another, a long one.
    let ids =
        |seed: u32, n: usize| -> Vec<u32> { (0..n as u32).map(|i| (seed * 7919 + i * 104_729) % 49_000 + 2).collect() };
    let system = ids(1, 24);
    let with = |rest: Vec<u32>| -> Vec<u32> { system.iter().copied().chain(rest).collect() };
    let prompts = [
        with(ids(2, 30)),
        with(ids(3, 17)),
        with(ids(4, 5)),
        ids(5, 10),
        with(ids(2, 30)),
        with(ids(6, 200)),
        system.clone(),
    ];
    // Each alone, from empty caches: its logits and its next step's.
    let next = 17u32;
    let alone: Vec<(Vec<u32>, Vec<u32>)> = prompts
        .iter()
        .map(|prompt| {
            model.release();
            let first = bits(&model.start(0, prompt).unwrap());
            (first, bits(&model.step(&[0], &[next]).unwrap()[0]))
        })
        .collect();
    model.release();
    let check = |model: &mut poq_infer::gguf::GgufModel, slots: &[usize], which: &[usize], what: &str| {
        let starts: Vec<(usize, &[u32])> = slots.iter().zip(which).map(|(&s, &w)| (s, prompts[w].as_slice())).collect();
        let firsts = model.start_many(&starts).unwrap();
        let steps = model.step(slots, &vec![next; slots.len()]).unwrap();
        for ((&w, first), step) in which.iter().zip(&firsts).zip(&steps) {
            assert!(bits(first) == alone[w].0, "{what}: prompt {w}'s logits differ from its own pass");
            assert!(bits(step) == alone[w].1, "{what}: prompt {w}'s cache differs from its own pass");
        }
    };
    // Together from empty caches (nothing to copy): one pass for the long ones.
    check(&mut model, &[0, 1, 2, 3, 4, 5, 6], &[0, 1, 2, 3, 4, 5, 6], "together");
    // Restarted with other prompts: every one now begins like another slot's prompt, or its own.
    check(&mut model, &[7, 8, 9, 10], &[1, 0, 5, 2], "copied from other slots");
    check(&mut model, &[0, 5, 6], &[4, 5, 1], "own slot and others");
    // One at a time through `start`, copying from what is cached.
    for (slot, w) in [(11, 0), (12, 6), (13, 1)] {
        check(&mut model, &[slot], &[w], "one at a time");
    }
    // Bad calls fail and name the problem.
    let e = model.start_many(&[(1, &prompts[0][..]), (1, &prompts[1][..])]).unwrap_err();
    assert!(e.to_string().contains("twice"), "{e}");
    let e = model.start_many(&[(99, &prompts[0][..])]).unwrap_err();
    assert!(e.to_string().contains("99"), "{e}");
}
