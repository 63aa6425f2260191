use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::debertav2;
use poq_core::{EvalItem, Evaluator, Score};
use serde_json::Value;
use tokenizers::Tokenizer;

use crate::device::DeviceChoice;
use crate::encoder::{
    DEFAULT_BATCH_SIZE, EncoderConfig, Family, Linear, Transformer, Weights, encode, load_weights, pad, plan, softmax,
};
use crate::model_dir::ModelDir;
use crate::{Error, Result};

/// Which texts form the pair fed to the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PairInput {
    /// (reference, candidate) for every reference; the best score counts (the default: STS and NLI
    /// cross-encoders, the reference as premise).
    #[default]
    ReferenceCandidate,
    /// (input, candidate): question or source with the answer (re-rankers such as ms-marco).
    InputCandidate,
}

/// How the logits become a 0–10 score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogitRule {
    /// One logit: sigmoid × 10.
    Sigmoid,
    /// Several logits: softmax probability of this label index × 10.
    Softmax {
        /// The `entailment` label's index.
        label: usize,
    },
}

enum Head {
    Bert { transformer: Transformer, pooler: Linear, classifier: Linear },
    Roberta { transformer: Transformer, dense: Linear, out_proj: Linear },
    Deberta(Box<debertav2::DebertaV2SeqClassificationModel>),
}

impl std::fmt::Debug for Head {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Head::Bert { .. } => "Head::Bert",
            Head::Roberta { .. } => "Head::Roberta",
            Head::Deberta(_) => "Head::Deberta",
        })
    }
}

/// A sequence-classification cross-encoder evaluator (name `ce`).
///
/// Cross-encoders: a text pair through one transformer with a sequence-classification head.
///
/// candle ships no cross-encoder, so the heads are ours: BERT (pooler dense + tanh on `[CLS]`, then
/// the classifier), RoBERTa (dense + tanh + `out_proj` on `<s>`) and DeBERTa-v2 (context pooler +
/// classifier, on candle-transformers' DeBERTa-v2 backbone). One logit → sigmoid × 10; several
/// logits → softmax probability of the `entailment` label (found in `id2label`) × 10.
#[derive(Debug)]
pub struct CrossEncoder {
    tokenizer: Tokenizer,
    head: Head,
    rule: LogitRule,
    num_labels: usize,
    pair: PairInput,
    batch_size: usize,
    pad_id: u32,
    use_types: bool,
    device: Device,
}

impl CrossEncoder {
    /// Loads a `*ForSequenceClassification` folder on the CPU.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<CrossEncoder> {
        Self::load(&ModelDir::open(dir)?, DeviceChoice::Cpu)
    }

    /// Loads a checked model folder (BERT, RoBERTa or DeBERTa-v2 family) on `device`.
    pub fn load(dir: &ModelDir, device: DeviceChoice) -> Result<CrossEncoder> {
        let device = device.resolve()?;
        let model_type = dir.model_type()?;
        match Family::from_model_type(model_type) {
            // No MPNet cross-encoder weights exist to test a head against; MPNet is an STS encoder here.
            Some(Family::Mpnet) => Err(Error::Unsupported(format!(
                "{}: model_type `mpnet` has no cross-encoder head here (bert, roberta, deberta-v2)",
                dir.config_path().display()
            ))),
            Some(family) => Self::load_encoder(dir, family, device),
            None if model_type == "deberta-v2" => Self::load_deberta(dir, device),
            None => Err(Error::Unsupported(format!(
                "{}: model_type `{model_type}` has no cross-encoder head here (bert, roberta, deberta-v2)",
                dir.config_path().display()
            ))),
        }
    }

    fn load_encoder(dir: &ModelDir, family: Family, device: Device) -> Result<CrossEncoder> {
        let config = EncoderConfig::from_model_dir(dir)?;
        let w = load_weights(dir, &device)?;
        let h = config.hidden_size;
        let base = w
            .find_prefix(&[family.prefix(), ""], "embeddings.word_embeddings.weight")
            .ok_or_else(|| missing_head(dir, "embeddings.word_embeddings.weight"))?;
        let transformer = Transformer::load(&w.pp(base), &config, &device)?;
        let head = match family {
            Family::Bert => {
                let num_labels = label_count(dir, &w, "classifier")?;
                let head = Head::Bert {
                    transformer,
                    pooler: Linear::load(&w.pp(base), "pooler.dense", h, h)?,
                    classifier: Linear::load(&w, "classifier", h, num_labels)?,
                };
                (head, num_labels)
            }
            Family::Roberta | Family::Mpnet => {
                let num_labels = label_count(dir, &w, "classifier.out_proj")?;
                let head = Head::Roberta {
                    transformer,
                    dense: Linear::load(&w, "classifier.dense", h, h)?,
                    out_proj: Linear::load(&w, "classifier.out_proj", h, num_labels)?,
                };
                (head, num_labels)
            }
        };
        let (head, num_labels) = head;
        let rule = logit_rule(dir, num_labels)?;
        Ok(CrossEncoder {
            tokenizer: dir.tokenizer(config.max_positions(), config.vocab_size)?,
            head,
            rule,
            num_labels,
            pair: PairInput::default(),
            batch_size: DEFAULT_BATCH_SIZE,
            pad_id: config.pad_token_id,
            use_types: config.type_vocab_size > 1,
            device,
        })
    }

    fn load_deberta(dir: &ModelDir, device: Device) -> Result<CrossEncoder> {
        let config: debertav2::Config = dir.parse_config()?;
        if config.conv_kernel_size.unwrap_or(0) > 0 {
            // candle's DeBERTa-v2 has no convolution layer (deberta-v2-xlarge style checkpoints).
            return Err(Error::Unsupported(format!(
                "{}: DeBERTa-v2 with conv_kernel_size > 0",
                dir.config_path().display()
            )));
        }
        let bad =
            |field: &str, message: String| Error::Format { path: dir.config_path(), location: field.into(), message };
        if config.pooler_hidden_size.is_none() || config.pooler_dropout.is_none() || config.pooler_hidden_act.is_none()
        {
            return Err(bad(
                "pooler_hidden_size",
                "pooler_hidden_size, pooler_dropout and pooler_hidden_act are required".into(),
            ));
        }
        let w = load_weights(dir, &device)?;
        let num_labels = label_count(dir, &w, "classifier")?;
        let rule = logit_rule(dir, num_labels)?;
        let vb = VarBuilder::from_tensors(w.into_map(), DType::F32, &device);
        let model = debertav2::DebertaV2SeqClassificationModel::load(vb.pp("deberta"), &config, None).map_err(|e| {
            Error::Format {
                path: dir.path().to_path_buf(),
                location: "deberta-v2 weights".into(),
                message: crate::error::candle_message(&e),
            }
        })?;
        let pad = config.pad_token_id.unwrap_or(0);
        Ok(CrossEncoder {
            tokenizer: dir.tokenizer(config.max_position_embeddings, config.vocab_size)?,
            head: Head::Deberta(Box::new(model)),
            rule,
            num_labels,
            pair: PairInput::default(),
            batch_size: DEFAULT_BATCH_SIZE,
            pad_id: u32::try_from(pad).map_err(|_| bad("pad_token_id", format!("{pad} is too large")))?,
            use_types: config.type_vocab_size > 0,
            device,
        })
    }

    /// The same cross-encoder fed another pair.
    pub fn with_pair_input(mut self, pair: PairInput) -> CrossEncoder {
        self.pair = pair;
        self
    }

    /// The same cross-encoder with another batch size (at least 1).
    pub fn with_batch_size(mut self, batch_size: usize) -> CrossEncoder {
        self.batch_size = batch_size.max(1);
        self
    }

    /// How logits become scores.
    pub fn rule(&self) -> LogitRule {
        self.rule
    }

    /// Number of logits per pair.
    pub fn num_labels(&self) -> usize {
        self.num_labels
    }

    /// Raw logits for each (first, second) pair, in input order.
    pub fn logits(&self, pairs: &[(&str, &str)]) -> Result<Vec<Vec<f32>>> {
        let encodings = encode(&self.tokenizer, pairs.to_vec())?;
        let lengths: Vec<usize> = encodings.iter().map(|e| e.get_ids().len()).collect();
        let mut out = vec![Vec::new(); pairs.len()];
        for idx in plan(&lengths, self.batch_size) {
            let b = pad(&encodings, &idx, self.pad_id, self.use_types, &self.device)?;
            let logits = self.forward(&b.ids, &b.type_ids, &b.mask)?;
            for (row, v) in idx.iter().zip(logits.to_vec2::<f32>()?) {
                out[*row] = v;
            }
        }
        Ok(out)
    }

    /// 0–10 scores for each (first, second) pair, in input order.
    pub fn score_pairs(&self, pairs: &[(&str, &str)]) -> Result<Vec<Score>> {
        self.logits(pairs)?.iter().map(|l| self.to_score(l)).collect()
    }

    fn forward(&self, ids: &Tensor, type_ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let first = |hidden: Tensor| -> Result<Tensor> {
            let (b, _, h) = hidden.dims3()?;
            Ok(hidden.narrow(1, 0, 1)?.reshape((b, h))?)
        };
        match &self.head {
            Head::Bert { transformer, pooler, classifier } => {
                let cls = first(transformer.forward(ids, type_ids, mask)?)?;
                classifier.forward(&pooler.forward(&cls)?.tanh()?)
            }
            Head::Roberta { transformer, dense, out_proj } => {
                let cls = first(transformer.forward(ids, type_ids, mask)?)?;
                out_proj.forward(&dense.forward(&cls)?.tanh()?)
            }
            Head::Deberta(model) => {
                let types = self.use_types.then(|| type_ids.clone());
                Ok(model.forward(ids, types, Some(mask.clone()))?)
            }
        }
    }

    fn to_score(&self, logits: &[f32]) -> Result<Score> {
        let v = match self.rule {
            LogitRule::Sigmoid => {
                let x = f64::from(logits.first().copied().unwrap_or(f32::NAN));
                10.0 / (1.0 + (-x).exp())
            }
            LogitRule::Softmax { label } => {
                let t = Tensor::new(logits, &Device::Cpu)?.to_dtype(DType::F64)?;
                let p = softmax(&t)?.to_vec1::<f64>()?;
                10.0 * p.get(label).copied().unwrap_or(f64::NAN)
            }
        };
        Ok(Score::clamped(v)?)
    }
}

impl Evaluator for CrossEncoder {
    fn name(&self) -> &str {
        "ce"
    }

    fn score_batch(&self, items: &[EvalItem]) -> poq_core::Result<Vec<Score>> {
        Ok(score_items(self, items)?)
    }
}

fn score_items(ce: &CrossEncoder, items: &[EvalItem]) -> Result<Vec<Score>> {
    // All pairs of all items go through one length-sorted batching pass.
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    let mut spans = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let start = pairs.len();
        match ce.pair {
            PairInput::ReferenceCandidate => {
                if item.references.is_empty() {
                    return Err(Error::InvalidArgument {
                        name: "references",
                        message: format!("item {i} has no references"),
                    });
                }
                pairs.extend(item.references.iter().map(|r| (r.as_str(), item.candidate.as_str())));
            }
            PairInput::InputCandidate => {
                let input = item.input.as_deref().ok_or_else(|| Error::InvalidArgument {
                    name: "input",
                    message: format!("item {i} has no input, which PairInput::InputCandidate needs"),
                })?;
                pairs.push((input, item.candidate.as_str()));
            }
        }
        spans.push(start..pairs.len());
    }
    let scores = ce.score_pairs(&pairs)?;
    Ok(spans
        .into_iter()
        .map(|span| scores[span].iter().copied().fold(Score::MIN, |a, b| if b.value() > a.value() { b } else { a }))
        .collect())
}

fn missing_head(dir: &ModelDir, tensor: &str) -> Error {
    Error::Format { path: dir.path().to_path_buf(), location: tensor.into(), message: "missing tensor".into() }
}

/// Rows of the classifier's output weight, checked against `id2label` / `num_labels` when given.
fn label_count(dir: &ModelDir, w: &Weights, out: &str) -> Result<usize> {
    let t = w.get_any(&format!("{out}.weight")).map_err(|_| {
        Error::Unsupported(format!(
            "{}: no `{out}.weight` tensor: not a sequence-classification checkpoint (add a head with ModelDir::with_extra_weights)",
            dir.path().display()
        ))
    })?;
    let n = t.dims().first().copied().unwrap_or(0);
    let declared = match dir.config().get("id2label").and_then(Value::as_object) {
        Some(m) => Some(m.len()),
        None => dir.config().get("num_labels").and_then(Value::as_u64).map(|n| n as usize),
    };
    // transformers writes a default two-label id2label even for a bare encoder: only a
    // *ForSequenceClassification config is held to it.
    let is_classifier = dir.architectures().iter().any(|a| a.ends_with("ForSequenceClassification"));
    match declared {
        Some(d) if is_classifier && d != n => Err(Error::Format {
            path: dir.config_path(),
            location: "id2label".into(),
            message: format!("{d} labels, but `{out}.weight` has {n} rows"),
        }),
        _ if n == 0 => Err(Error::Format {
            path: dir.path().into(),
            location: format!("{out}.weight"),
            message: "no labels".into(),
        }),
        _ => Ok(n),
    }
}

/// Sigmoid for one logit, else the softmax entry of the label named `entailment` (any case).
fn logit_rule(dir: &ModelDir, num_labels: usize) -> Result<LogitRule> {
    if num_labels == 1 {
        return Ok(LogitRule::Sigmoid);
    }
    let labels: HashMap<String, Value> = dir
        .config()
        .get("id2label")
        .and_then(Value::as_object)
        .map(|m| m.clone().into_iter().collect())
        .unwrap_or_default();
    for (id, name) in &labels {
        if name.as_str().is_some_and(|n| n.eq_ignore_ascii_case("entailment")) {
            let label = id.parse::<usize>().ok().filter(|&l| l < num_labels).ok_or_else(|| Error::Format {
                path: dir.config_path(),
                location: format!("id2label.{id}"),
                message: format!("not a label index below {num_labels}"),
            })?;
            return Ok(LogitRule::Softmax { label });
        }
    }
    Err(Error::Unsupported(format!(
        "{}: {num_labels} labels but none named `entailment` in id2label",
        dir.config_path().display()
    )))
}
