//! Scores candidates in a JSONL file with one or more evaluators.
//!
//! ```text
//! cargo run --release --example score --no-default-features --features eval -- \
//!     --input IN.jsonl --output OUT.jsonl --evaluator f1 --evaluator em [--evaluator sts=MODEL_DIR] \
//!     [--evaluator ce=MODEL_DIR] [--evaluator judge=BASE_URL#MODEL]
//! ```
//! Each input line is `{"candidate": str, "references": [str], "input": str (optional), ...}`; each
//! output line is that object, byte for byte, plus `"scores": {"<evaluator>": value}` (0–10), in
//! input order. `sts` and `ce` load a local model folder; `judge` asks an OpenAI-compatible endpoint
//! (needs the `infer` feature). A progress bar shows on a terminal.

use clap::Parser;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use poq::core::{EvalItem, Evaluator};
use poq::eval::{ExactMatch, TokenF1};
use std::io::{BufRead, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(about = "Score candidates against references with poq-eval evaluators")]
struct Args {
    /// Input JSONL: {"candidate", "references", "input"?} per line.
    #[arg(long)]
    input: PathBuf,
    /// Output JSONL (the input objects plus "scores").
    #[arg(long)]
    output: PathBuf,
    /// Evaluator spec, repeatable: f1, em, sts=MODEL_DIR, ce=MODEL_DIR, judge=BASE_URL#MODEL.
    #[arg(long = "evaluator", required = true)]
    evaluators: Vec<String>,
    /// Items per evaluator call.
    #[arg(long, default_value_t = 256)]
    batch_size: usize,
}

#[derive(Debug, thiserror::Error)]
enum ScoreError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: line {line}: {message}")]
    Line { path: PathBuf, line: usize, message: String },
    #[error("--evaluator {spec:?}: {message}")]
    Spec { spec: String, message: String },
    #[error("evaluator {name} on input lines {first}-{last}: {source}")]
    Eval { name: String, first: usize, last: usize, source: poq::core::Error },
}

/// What `--evaluator` asked for.
#[derive(Debug, Clone, PartialEq)]
enum Spec {
    F1,
    Em,
    Sts(String),
    Ce(String),
    Judge { base_url: String, model: String },
}

impl Spec {
    fn parse(spec: &str) -> Result<Spec, ScoreError> {
        let err = |message: &str| ScoreError::Spec { spec: spec.to_owned(), message: message.to_owned() };
        let (name, arg) = match spec.split_once('=') {
            Some((n, a)) => (n, Some(a)),
            None => (spec, None),
        };
        let need = |a: Option<&str>, what: &str| -> Result<String, ScoreError> {
            a.filter(|s| !s.is_empty()).map(str::to_owned).ok_or_else(|| err(&format!("needs {what}")))
        };
        match name {
            "f1" | "em" if arg.is_some() => Err(err("takes no argument")),
            "f1" => Ok(Spec::F1),
            "em" => Ok(Spec::Em),
            "sts" => Ok(Spec::Sts(need(arg, "a model folder: sts=MODEL_DIR")?)),
            "ce" => Ok(Spec::Ce(need(arg, "a model folder: ce=MODEL_DIR")?)),
            "judge" => {
                let a = need(arg, "an endpoint: judge=BASE_URL#MODEL")?;
                let (base_url, model) = a.split_once('#').ok_or_else(|| err("write judge=BASE_URL#MODEL"))?;
                Ok(Spec::Judge { base_url: base_url.to_owned(), model: model.to_owned() })
            }
            _ => Err(err("unknown evaluator; use f1, em, sts=..., ce=... or judge=...")),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Spec::F1 => "f1",
            Spec::Em => "em",
            Spec::Sts(_) => "sts",
            Spec::Ce(_) => "ce",
            Spec::Judge { .. } => "judge",
        }
    }

    fn build(&self, spec: &str) -> Result<Box<dyn Evaluator>, ScoreError> {
        let load = |e: poq::eval::Error| ScoreError::Spec { spec: spec.to_owned(), message: e.to_string() };
        Ok(match self {
            Spec::F1 => Box::new(TokenF1),
            Spec::Em => Box::new(ExactMatch),
            Spec::Sts(dir) => Box::new(poq::eval::StsEvaluator::from_dir(dir).map_err(load)?),
            Spec::Ce(dir) => Box::new(poq::eval::CrossEncoder::from_dir(dir).map_err(load)?),
            Spec::Judge { base_url, model } => judge(spec, base_url, model)?,
        })
    }
}

#[cfg(feature = "infer")]
fn judge(spec: &str, base_url: &str, model: &str) -> Result<Box<dyn Evaluator>, ScoreError> {
    let config = poq::infer::RemoteConfig::new(base_url, model);
    let generator = poq::infer::RemoteGenerator::new(config)
        .map_err(|e| ScoreError::Spec { spec: spec.to_owned(), message: e.to_string() })?;
    Ok(Box::new(poq::eval::LlmJudge::new(generator)))
}

#[cfg(not(feature = "infer"))]
fn judge(spec: &str, _base_url: &str, _model: &str) -> Result<Box<dyn Evaluator>, ScoreError> {
    Err(ScoreError::Spec {
        spec: spec.to_owned(),
        message: "evaluator judge is not available in this build (build with --features infer)".to_owned(),
    })
}

/// One input line: the raw object text (written back unchanged) and the item to score.
struct Row {
    line: usize,
    raw: String,
    item: EvalItem,
}

fn parse_row(path: &Path, line: usize, raw: &str) -> Result<Row, ScoreError> {
    let bad = |message: String| ScoreError::Line { path: path.into(), line, message };
    let value: serde_json::Value = serde_json::from_str(raw).map_err(|e| bad(format!("invalid JSON: {e}")))?;
    let obj = value.as_object().ok_or_else(|| bad("expected a JSON object".into()))?;
    if obj.contains_key("scores") {
        return Err(bad("already has a \"scores\" field".into()));
    }
    let candidate = match obj.get("candidate") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(_) => return Err(bad("field \"candidate\" must be a string".into())),
        None => return Err(bad("missing field \"candidate\"".into())),
    };
    let refs = obj.get("references").ok_or_else(|| bad("missing field \"references\"".into()))?;
    let references = refs
        .as_array()
        .and_then(|a| a.iter().map(|r| r.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>())
        .ok_or_else(|| bad("field \"references\" must be an array of strings".into()))?;
    if references.is_empty() {
        return Err(bad("field \"references\" is empty".into()));
    }
    let input = match obj.get("input") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(bad("field \"input\" must be a string".into())),
    };
    Ok(Row { line, raw: raw.trim().to_owned(), item: EvalItem { input, candidate, references } })
}

fn read_rows(path: &Path) -> Result<Vec<Row>, ScoreError> {
    let io = |source| ScoreError::Io { path: path.into(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut rows = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(io)?;
        if !line.trim().is_empty() {
            rows.push(parse_row(path, i + 1, &line)?);
        }
    }
    Ok(rows)
}

fn run(args: &Args) -> Result<(), ScoreError> {
    if args.batch_size == 0 {
        return Err(ScoreError::Spec { spec: "--batch-size".into(), message: "must be at least 1".into() });
    }
    // Parse every spec before loading anything, so a typo fails fast.
    let specs: Vec<(String, Spec)> =
        args.evaluators.iter().map(|s| Spec::parse(s).map(|p| (s.clone(), p))).collect::<Result<_, _>>()?;
    for (k, (s, p)) in specs.iter().enumerate() {
        if specs[..k].iter().any(|(_, q)| q.name() == p.name()) {
            return Err(ScoreError::Spec { spec: s.clone(), message: format!("a second `{}` evaluator", p.name()) });
        }
    }
    let rows = read_rows(&args.input)?;
    let evaluators: Vec<Box<dyn Evaluator>> = specs.iter().map(|(s, p)| p.build(s)).collect::<Result<_, _>>()?;

    let bar = ProgressBar::new(rows.len() as u64);
    if std::io::stderr().is_terminal() {
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} items, {per_sec}, eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    let mut scores: Vec<Vec<f64>> = vec![Vec::with_capacity(rows.len()); evaluators.len()];
    let mut spent = vec![Duration::ZERO; evaluators.len()];
    for chunk in rows.chunks(args.batch_size) {
        let items: Vec<EvalItem> = chunk.iter().map(|r| r.item.clone()).collect();
        for (k, ev) in evaluators.iter().enumerate() {
            let t = Instant::now();
            let s = ev.score_batch(&items).map_err(|source| ScoreError::Eval {
                name: specs[k].1.name().to_owned(),
                first: chunk[0].line,
                last: chunk[chunk.len() - 1].line,
                source,
            })?;
            spent[k] += t.elapsed();
            scores[k].extend(s.iter().map(|x| x.value()));
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();

    let io = |source| ScoreError::Io { path: args.output.clone(), source };
    let mut out = BufWriter::new(std::fs::File::create(&args.output).map_err(io)?);
    for (i, row) in rows.iter().enumerate() {
        // The object's closing brace is its last byte; "scores" goes right before it.
        let body = row.raw[..row.raw.len() - 1].trim_end();
        let sep = if body.ends_with('{') { "" } else { "," };
        let fields: Vec<String> = specs
            .iter()
            .zip(&scores)
            .map(|((_, p), s)| format!("\"{}\":{}", p.name(), serde_json::Value::from(s[i])))
            .collect();
        writeln!(out, "{body}{sep}\"scores\":{{{}}}}}", fields.join(",")).map_err(io)?;
    }
    out.flush().map_err(io)?;
    for ((_, p), t) in specs.iter().zip(&spent) {
        let s = t.as_secs_f64();
        eprintln!("{}: {} items in {:.3} s ({:.0} items/s)", p.name(), rows.len(), s, rows.len() as f64 / s.max(1e-9));
    }
    Ok(())
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
