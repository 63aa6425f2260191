//! Which models take part: command-line specs, discovery in `models/`, loading, and identities
//! (file hashes) for the cache keys and the manifest.

use super::{Error, Result};
use poq_core::{Evaluator, Generator};
use poq_eval::{CrossEncoder, StsEvaluator};
use poq_infer::{LoadOptions, LocalGenerator, RemoteConfig, RemoteGenerator};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// An inference model: `[NAME=]PATH` (a `.gguf` file or a model folder; a Hugging Face id with the
/// `hub` feature) or `[NAME=]MODEL@URL` (an OpenAI-compatible endpoint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratorSpec {
    /// Node name in the report.
    pub name: String,
    /// Where it runs.
    pub source: GeneratorSource,
}

/// Where a generator runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GeneratorSource {
    /// A local file, folder or hub id.
    Local(String),
    /// A remote endpoint serving `model`.
    Remote {
        /// Model name sent to the endpoint.
        model: String,
        /// Base URL (`http://host:port/v1`).
        url: String,
    },
}

fn split_name(spec: &str) -> (Option<&str>, &str) {
    // `NAME=` only when the part before `=` is not a path or URL.
    match spec.split_once('=') {
        Some((n, rest)) if !n.is_empty() && !n.contains(['/', ':', '\\', '.']) => (Some(n), rest),
        _ => (None, spec),
    }
}

impl FromStr for GeneratorSpec {
    type Err = Error;
    fn from_str(spec: &str) -> Result<Self> {
        let bad = |reason: &str| Error::Spec { what: "generator", spec: spec.to_owned(), reason: reason.to_owned() };
        let (name, rest) = split_name(spec.trim());
        if rest.is_empty() {
            return Err(bad("empty"));
        }
        let source = match rest.split_once('@') {
            Some((model, url)) if url.starts_with("http://") || url.starts_with("https://") => {
                if model.is_empty() {
                    return Err(bad("MODEL@URL needs a model name before @"));
                }
                GeneratorSource::Remote { model: model.to_owned(), url: url.to_owned() }
            }
            _ => GeneratorSource::Local(rest.to_owned()),
        };
        let default_name = match &source {
            GeneratorSource::Local(p) => model_name(Path::new(p)),
            GeneratorSource::Remote { model, .. } => model.clone(),
        };
        Ok(GeneratorSpec { name: name.map_or(default_name, str::to_owned), source })
    }
}

impl fmt::Display for GeneratorSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            GeneratorSource::Local(p) => write!(f, "{}={p}", self.name),
            GeneratorSource::Remote { model, url } => write!(f, "{}={model}@{url}", self.name),
        }
    }
}

/// A readable model name from a path: the file stem without a quantization suffix, or the folder.
fn model_name(p: &Path) -> String {
    let stem = if p.extension().is_some_and(|e| e == "gguf") { p.file_stem() } else { p.file_name() };
    let stem = stem.map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| p.display().to_string());
    // SmolLM2-135M-Instruct.Q4_1 → SmolLM2-135M-Instruct (Q4_1): keep the quantization visible.
    match stem.rsplit_once('.') {
        Some((base, quant)) if quant.starts_with('Q') || quant.starts_with('q') || quant.starts_with('F') => {
            format!("{base} ({quant})")
        }
        _ => stem,
    }
}

/// An evaluator besides token F1: `sts[=DIR]` (bi-encoder) or `ce[=DIR]` (cross-encoder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluatorSpec {
    /// `sts` or `ce`.
    pub kind: EvaluatorKind,
    /// The model folder.
    pub dir: PathBuf,
}

/// The evaluator families that take a model folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvaluatorKind {
    /// STS bi-encoder.
    Sts,
    /// Cross-encoder.
    CrossEncoder,
}

impl EvaluatorSpec {
    /// Column and node name: `sts:all-MiniLM-L6-v2`.
    pub fn name(&self) -> String {
        let kind = match self.kind {
            EvaluatorKind::Sts => "sts",
            EvaluatorKind::CrossEncoder => "ce",
        };
        format!("{kind}:{}", model_name(&self.dir))
    }

    /// Parses a spec; a bare `sts` means the MiniLM folder in `models_dir`.
    pub fn parse(spec: &str, models_dir: &Path) -> Result<Self> {
        let bad = |reason: &str| Error::Spec { what: "evaluator", spec: spec.to_owned(), reason: reason.to_owned() };
        let (kind, dir) = spec.split_once('=').map_or((spec, None), |(k, d)| (k, Some(d)));
        let kind = match kind.trim() {
            "sts" => EvaluatorKind::Sts,
            "ce" => EvaluatorKind::CrossEncoder,
            "f1" | "em" => return Err(bad("token F1 and exact match are always computed; name only model evaluators")),
            _ => return Err(bad("expected sts[=DIR] or ce=DIR")),
        };
        let dir = match (kind, dir) {
            (_, Some(d)) if !d.trim().is_empty() => PathBuf::from(d.trim()),
            (EvaluatorKind::Sts, _) => models_dir.join("all-MiniLM-L6-v2"),
            (EvaluatorKind::CrossEncoder, _) => return Err(bad("a cross-encoder needs its model folder: ce=DIR")),
        };
        Ok(EvaluatorSpec { kind, dir })
    }

    /// Loads the evaluator on the CPU (or the device the build's features select).
    pub fn load(&self) -> Result<Box<dyn Evaluator>> {
        Ok(match self.kind {
            EvaluatorKind::Sts => Box::new(StsEvaluator::from_dir(&self.dir)?),
            EvaluatorKind::CrossEncoder => Box::new(CrossEncoder::from_dir(&self.dir)?),
        })
    }
}

impl GeneratorSpec {
    /// Loads the generator.
    pub fn load(&self) -> Result<Box<dyn Generator>> {
        Ok(match &self.source {
            GeneratorSource::Local(p) => Box::new(LocalGenerator::load(p, &LoadOptions::best()?)?),
            GeneratorSource::Remote { model, url } => {
                Box::new(RemoteGenerator::new(RemoteConfig::new(url.clone(), model.clone()))?)
            }
        })
    }

    /// The files that make up a local model (for hashing), empty for remote ones.
    pub fn files(&self) -> Vec<PathBuf> {
        match &self.source {
            GeneratorSource::Local(p) => model_files(Path::new(p)),
            GeneratorSource::Remote { .. } => Vec::new(),
        }
    }
}

/// The files of a model: the file itself, or a folder's weights, configs and tokenizer.
pub(crate) fn model_files(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "json" || e == "safetensors" || e == "gguf"))
        .collect();
    files.sort();
    files
}

/// sha256 of a file, hex (the fetcher's, which pins the same files).
pub(crate) fn sha256_file(path: &Path) -> Result<String> {
    Ok(crate::fetch::sha256_file(path)?.0)
}

/// The folders directly inside `dir`, sorted; none when it cannot be read.
fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs
}

/// The folders of fetched models that serve as the judge (not as inference nodes).
fn judge_dirs(models_dir: &Path) -> Vec<PathBuf> {
    crate::fetch::MODELS
        .iter()
        .filter(|m| m.role == crate::fetch::Role::Judge)
        .map(|m| models_dir.join(m.dir))
        .collect()
}

/// The default judge: the fetched judge model's GGUF file in `models_dir`, when present.
pub fn default_judge(models_dir: &Path) -> Option<GeneratorSpec> {
    let dir = judge_dirs(models_dir).into_iter().next()?;
    let file = model_files(&dir).into_iter().find(|p| p.extension().is_some_and(|e| e == "gguf"))?;
    file.display().to_string().parse().ok()
}

/// The generators found in `models_dir`: every `.gguf` file one level down, and every folder with
/// a causal-LM `config.json` and safetensors weights; the judge's folder is left out.
pub fn default_generators(models_dir: &Path) -> Vec<GeneratorSpec> {
    let mut found = Vec::new();
    let judges = judge_dirs(models_dir);
    for dir in subdirs(models_dir).into_iter().filter(|d| !judges.contains(d)) {
        let config = std::fs::read_to_string(dir.join("config.json")).unwrap_or_default();
        let files = model_files(&dir);
        let ggufs: Vec<&PathBuf> = files.iter().filter(|p| p.extension().is_some_and(|e| e == "gguf")).collect();
        if config.contains("ForCausalLM") && files.iter().any(|p| p.extension().is_some_and(|e| e == "safetensors")) {
            if let Ok(spec) = dir.display().to_string().parse() {
                found.push(spec);
            }
        } else {
            found.extend(ggufs.into_iter().filter_map(|g| g.display().to_string().parse().ok()));
        }
    }
    found
}

/// The evaluators found in `models_dir`: sentence-transformers folders (with `modules.json`) as STS
/// bi-encoders, and folders whose config names a `ForSequenceClassification` architecture as
/// cross-encoders.
pub fn default_evaluators(models_dir: &Path) -> Vec<EvaluatorSpec> {
    let mut found = Vec::new();
    for dir in subdirs(models_dir) {
        let config = std::fs::read_to_string(dir.join("config.json")).unwrap_or_default();
        if dir.join("modules.json").is_file() {
            found.push(EvaluatorSpec { kind: EvaluatorKind::Sts, dir });
        } else if config.contains("ForSequenceClassification") {
            found.push(EvaluatorSpec { kind: EvaluatorKind::CrossEncoder, dir });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_specs() {
        let g: GeneratorSpec = "models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf".parse().unwrap();
        assert_eq!(g.name, "SmolLM2-135M-Instruct (Q4_1)");
        let g: GeneratorSpec = "phi=microsoft/Phi-3-mini-4k-instruct".parse().unwrap();
        assert_eq!(
            (g.name.as_str(), &g.source),
            ("phi", &GeneratorSource::Local("microsoft/Phi-3-mini-4k-instruct".into()))
        );
        let g: GeneratorSpec = "llama@http://127.0.0.1:8080/v1".parse().unwrap();
        assert_eq!(g.source, GeneratorSource::Remote { model: "llama".into(), url: "http://127.0.0.1:8080/v1".into() });
        assert!("@http://x".parse::<GeneratorSpec>().is_err());
        assert!("".parse::<GeneratorSpec>().is_err());
    }

    #[test]
    fn evaluator_specs() {
        let m = Path::new("models");
        let e = EvaluatorSpec::parse("sts", m).unwrap();
        assert_eq!(e.dir, m.join("all-MiniLM-L6-v2"));
        assert_eq!(e.name(), "sts:all-MiniLM-L6-v2");
        assert_eq!(EvaluatorSpec::parse("ce=/x/nli", m).unwrap().kind, EvaluatorKind::CrossEncoder);
        let err = EvaluatorSpec::parse("ce", m).unwrap_err().to_string();
        assert!(err.contains("ce=DIR"), "{err}");
        assert!(EvaluatorSpec::parse("bleu", m).is_err());
    }
}
