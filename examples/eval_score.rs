//! poq-eval alone: score answers with token F1 (no model) and the MiniLM STS bi-encoder.
//!
//! `cargo run --release --example eval_score` (the model: `cargo run --release --example fetch`)

use std::path::Path;

use poq_core::{EvalItem, Evaluator};
use poq_eval::{DeviceChoice, ModelDir, StsEvaluator, TokenF1};

const MODEL: &str = "models/all-MiniLM-L6-v2";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // An answer and the reference answers it is scored against, on 0–10.
    let items = [
        EvalItem::new("Paris", vec!["Paris".into(), "Paris, France".into()]),
        EvalItem::new("the French capital city", vec!["Paris".into()]),
        EvalItem::new("Denver Broncos", vec!["The Denver Broncos".into()]),
    ];
    // Token F1: word overlap, as SQuAD's official script computes it.
    let f1 = TokenF1.score_batch(&items)?;
    // STS: cosine of sentence embeddings, so a paraphrase without shared words still scores.
    if !Path::new(MODEL).is_dir() {
        return Err(format!("{MODEL} is missing: fetch it with `cargo run --release --example fetch`").into());
    }
    let sts = StsEvaluator::load(&ModelDir::open(MODEL)?, DeviceChoice::Cpu)?;
    let semantic = sts.score_batch(&items)?;
    for ((item, f1), sts) in items.iter().zip(&f1).zip(&semantic) {
        println!("{:<26} f1 {:>5.2}  sts {:>5.2}", item.candidate, f1.value(), sts.value());
    }
    Ok(())
}
