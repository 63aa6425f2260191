//! The real qwen2 and gemma3 GGUF files on our f32 forward, against llama.cpp and transformers
//! (tests/fixtures/gguf_real.json, made by tests/fixtures/make_gguf_references.py --real):
//! the metadata-built tokenizer gives llama.cpp's ids, the logits at the first prompt positions
//! and after the whole prompt agree, and the models answer "What is the capital of France?".
//! Skips a model that is absent (run scripts/fetch-models.sh), fails then if POQ_REQUIRE_MODELS=1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use poq_core::{GenerationRequest, Generator};
use poq_infer::{LoadOptions, LocalGenerator};
mod common;

use std::path::PathBuf;

fn fixture(name: &str) -> serde_json::Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gguf_real.json");
    let all: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    all[name].clone()
}

fn load(fx: &serde_json::Value) -> Option<LocalGenerator> {
    let p = common::real_model(fx["file"].as_str().unwrap().trim_start_matches("models/"))?;
    Some(LocalGenerator::load(p.to_str().unwrap(), &LoadOptions::default()).unwrap())
}

fn ids(v: &serde_json::Value) -> Vec<u32> {
    serde_json::from_value(v.clone()).unwrap()
}

/// Two references per position. transformers loads the same file dequantized to f32 and computes
/// in f32, as we do: we must agree with it to rounding (2e-3 of the spread of the position's
/// logits; measured 1e-4 and less). llama.cpp multiplies the same blocks with activations rounded
/// to 8 bits, which moves its logits by up to half their spread on Gemma (whose activations are
/// large) and a tenth on Qwen: we must be no farther from llama.cpp than transformers is (plus the
/// same rounding). A wrong architecture detail fails the first check by orders of magnitude.
const F32_TOLERANCE_OF_SPREAD: f32 = 2e-3;

fn check_against_references(name: &str) -> Option<LocalGenerator> {
    let fx = fixture(name);
    let mut g = load(&fx)?;
    for case in fx["texts"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        assert_eq!(g.tokenizer().encode(text, false).unwrap(), ids(&case["ids"]), "{name}: ids of {text:?}");
    }
    let prompt = ids(&fx["logit_ids"]);
    for row in fx["positions"].as_array().unwrap() {
        let p = row["position"].as_u64().unwrap() as usize;
        let logits = g.prompt_logits(&prompt[..=p]).unwrap();
        compare(name, &format!("position {p}"), &logits, row);
    }
    compare(name, "last position", &g.prompt_logits(&prompt).unwrap(), &fx["last"]);
    Some(g)
}

fn floats(v: &serde_json::Value) -> Vec<f32> {
    serde_json::from_value(v.clone()).unwrap()
}

fn compare(name: &str, at: &str, logits: &[f32], want: &serde_json::Value) {
    let keep = ids(&want["ids"]);
    let (llama_cpp, hf) = (floats(&want["logits"]), floats(&want["hf_logits"]));
    let tol = F32_TOLERANCE_OF_SPREAD * want["std"].as_f64().unwrap() as f32;
    let worst = |a: &[f32], b: &dyn Fn(usize) -> f32| (0..a.len()).map(|i| (a[i] - b(i)).abs()).fold(0f32, f32::max);
    let ours = |i: usize| logits[keep[i] as usize];
    let (to_hf, to_llama_cpp) = (worst(&hf, &ours), worst(&llama_cpp, &ours));
    let hf_to_llama_cpp = worst(&hf, &|i| llama_cpp[i]);
    eprintln!(
        "{name} {at}: max |ours - transformers| {to_hf:.5}, |ours - llama.cpp| {to_llama_cpp:.4} \
         (transformers - llama.cpp {hf_to_llama_cpp:.4}; tolerance {tol:.4})"
    );
    assert!(to_hf <= tol, "{name} {at}: {to_hf} from transformers' f32 logits (tolerance {tol})");
    assert!(to_llama_cpp <= hf_to_llama_cpp + tol, "{name} {at}: {to_llama_cpp} from llama.cpp's logits");
    // llama.cpp's best token is ours too where it leads by more than its distance to f32.
    if llama_cpp[0] - llama_cpp[1] > 2.0 * hf_to_llama_cpp {
        let best = logits.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i as u32);
        assert_eq!(best, Some(keep[0]), "{name} {at}: argmax");
    }
}

fn answers_paris(g: &mut LocalGenerator, name: &str) {
    let out = g.generate(&GenerationRequest::user("What is the capital of France?", 24)).unwrap();
    eprintln!("{name}: {:?}", out.text);
    assert!(out.text.contains("Paris"), "{name} answered {:?}", out.text);
}

#[test]
fn qwen25_coder_05b_matches_llama_cpp_and_answers() {
    let Some(mut g) = check_against_references("qwen2.5-coder-0.5b") else { return };
    answers_paris(&mut g, "Qwen2.5-Coder-0.5B");
}

#[test]
fn qwen25_coder_15b_matches_llama_cpp_and_answers() {
    let Some(mut g) = check_against_references("qwen2.5-coder-1.5b") else { return };
    answers_paris(&mut g, "Qwen2.5-Coder-1.5B");
}

#[test]
fn gemma3_270m_matches_llama_cpp_and_answers_with_its_few_shot_prompt() {
    let Some(mut g) = check_against_references("gemma-3-270m") else { return };
    let prompt = g.render_prompt(&[poq_core::ChatMessage::user("What is the capital of France?")]).unwrap();
    assert!(prompt.starts_with("<bos>") && prompt.ends_with("Assistant:"), "{prompt:?}");
    answers_paris(&mut g, "Gemma-3-270M");
}

/// With 8-bit activations (`GgufPrecision::Int8`) the logits move by 8-bit rounding, as
/// llama.cpp's do: at the first prompt positions (short prompts run the matrix–vector kernels,
/// where the mode applies) they stay within a few times llama.cpp's own distance from the f32
/// reference, and the models still answer.
#[test]
fn int8_activations_stay_near_the_reference() {
    for name in ["qwen2.5-coder-0.5b", "gemma-3-270m"] {
        let fx = fixture(name);
        let Some(p) = common::real_model(fx["file"].as_str().unwrap().trim_start_matches("models/")) else { continue };
        let opts = LoadOptions { gguf_precision: poq_infer::gguf::GgufPrecision::Int8, ..LoadOptions::default() };
        let mut g = LocalGenerator::load(p.to_str().unwrap(), &opts).unwrap();
        let prompt = ids(&fx["logit_ids"]);
        let (mut to_f32, mut to_llama_cpp, mut llama_cpp_to_f32) = (0f32, 0f32, 0f32);
        for row in fx["positions"].as_array().unwrap() {
            let at = row["position"].as_u64().unwrap() as usize;
            let logits = g.prompt_logits(&prompt[..=at]).unwrap();
            let keep = ids(&row["ids"]);
            let (llama_cpp, hf) = (floats(&row["logits"]), floats(&row["hf_logits"]));
            for (i, &id) in keep.iter().enumerate() {
                to_f32 = to_f32.max((logits[id as usize] - hf[i]).abs());
                to_llama_cpp = to_llama_cpp.max((logits[id as usize] - llama_cpp[i]).abs());
                llama_cpp_to_f32 = llama_cpp_to_f32.max((hf[i] - llama_cpp[i]).abs());
            }
        }
        eprintln!(
            "{name}: max |int8 - f32| {to_f32:.4}, |int8 - llama.cpp| {to_llama_cpp:.4}, \
             |llama.cpp - f32| {llama_cpp_to_f32:.4}"
        );
        assert!(to_f32 > 1e-3, "{name}: the mode changed nothing");
        assert!(to_f32 < 4.0 * llama_cpp_to_f32, "{name}: int8 moved logits by {to_f32}");
        answers_paris(&mut g, name);
    }
}
