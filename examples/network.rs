//! A live PoQ network on loopback: every model in `models/` becomes a node process, a coordinator
//! plays rounds against them, and the transcript and report are written.
//!
//! ```text
//! cargo run --release --example network -- --rounds 100 --out results/network \
//!     [--kill NAME@ROUND] [--misreport NAME=FACTOR] [--network FILE]
//! ```
//! Inference nodes: the chat models `reproduce` finds in `--models` (SmolLM2-135M, Qwen2.5-Coder-0.5B,
//! Gemma-3-270M after `scripts/fetch-models.sh`), each served by poq-infer's OpenAI-compatible
//! server. Evaluator nodes: the STS models found there (MiniLM, MPNet), each behind poq-net's
//! evaluator server. Each node is this program again (`--node`), started as its own process on a
//! free 127.0.0.1 port; all are stopped when the run ends. Prompts: SQuAD questions (the shared
//! data set, else the bundled sample). `--kill` stops a node's process after a round,
//! `--misreport` makes an inference node claim FACTOR times its real timings. A transcript already
//! in `--out` is resumed. `--network FILE` plays an existing network instead of starting nodes.

use clap::Parser;
use poq::core::{Generation, GenerationRequest, Generator, Task};
use poq::eval::datasets::PromptTemplates;
use poq::infer::{ServerConfig, serve};
use poq::net::{Coordinator, Network, NodeEntry, Prompt, serve_evaluator, verify_transcript};
use poq_app::network::{RunFacts, report};
use poq_app::reproduce::{
    Config, EvaluatorSpec, GeneratorSource, GeneratorSpec, default_evaluators, default_generators, load_prompts,
};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(about = "Run a live PoQ network of local node processes and write its report and transcript")]
struct Args {
    /// Rounds the transcript should hold at the end.
    #[arg(long, default_value_t = 100)]
    rounds: u64,
    /// Output folder: transcript.jsonl, report.md, network.json.
    #[arg(long, default_value = "results/network")]
    out: PathBuf,
    /// Where the models are.
    #[arg(long, default_value = "models")]
    models: PathBuf,
    /// Play this network file instead of starting local nodes.
    #[arg(long)]
    network: Option<PathBuf>,
    /// SQuAD questions in the prompt pool.
    #[arg(long, default_value_t = 40)]
    prompts: usize,
    /// Seed of the prompt sample and of every round.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Evaluators per round.
    #[arg(long, default_value_t = 2)]
    k: usize,
    /// Share of rounds with a spot audit.
    #[arg(long, default_value_t = 0.1)]
    audit_rate: f64,
    /// Stop node NAME's process after round ROUND (repeatable): NAME@ROUND.
    #[arg(long)]
    kill: Vec<String>,
    /// Make inference node NAME claim FACTOR times its real timings (repeatable): NAME=FACTOR.
    #[arg(long)]
    misreport: Vec<String>,
    /// Monte Carlo rounds beside the live ones.
    #[arg(long, default_value_t = 5000)]
    mc_rounds: u64,
    /// Internal: run as a node (`inference` or `evaluator`) serving --spec.
    #[arg(long, hide = true)]
    node: Option<String>,
    /// Internal: the node's model, as `reproduce` takes it (`PATH`, `MODEL@URL`, `sts=DIR`).
    #[arg(long, hide = true)]
    spec: Option<String>,
    /// Internal: the inference node's timing claims as a multiple of the real ones.
    #[arg(long, hide = true, default_value_t = 1.0)]
    claim: f64,
}

type BoxError = Box<dyn std::error::Error>;

/// A generator whose reported timings are `factor` times the real ones: a node that lies.
struct Claiming {
    inner: Box<dyn Generator>,
    factor: f64,
}

impl Generator for Claiming {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn generate(&mut self, request: &GenerationRequest) -> poq::core::Result<Generation> {
        let mut g = self.inner.generate(request)?;
        g.prefill = g.prefill.mul_f64(self.factor);
        g.decode = g.decode.mul_f64(self.factor);
        Ok(g)
    }
}

/// Node mode: load the model, listen on a free port, say where on stdout, serve until killed.
fn run_node(args: &Args, role: &str) -> Result<(), BoxError> {
    let spec = args.spec.as_deref().ok_or("--node needs --spec")?;
    let any = "127.0.0.1:0".parse()?;
    match role {
        "inference" => {
            let spec: GeneratorSpec = spec.parse()?;
            let mut generator = spec.load()?;
            if args.claim != 1.0 {
                generator = Box::new(Claiming { inner: generator, factor: args.claim });
            }
            let config = ServerConfig { model_id: Some(spec.name), accept_any_model: true, ..ServerConfig::default() };
            let server = serve(any, generator, config)?;
            println!("listening {}", server.base_url());
            std::io::stdout().flush()?;
            server.wait();
        }
        "evaluator" => {
            let evaluator: Arc<dyn poq::core::Evaluator> = Arc::from(EvaluatorSpec::parse(spec, &args.models)?.load()?);
            let server = serve_evaluator(any, evaluator, poq::net::EvaluatorNodeConfig::default())?;
            println!("listening {}", server.url());
            std::io::stdout().flush()?;
            server.wait();
        }
        other => return Err(format!("--node {other}: expected inference or evaluator").into()),
    }
    Ok(())
}

/// The node processes; every one is killed when this is dropped (at the end, or on an error).
#[derive(Default)]
struct Nodes(Vec<(String, Child)>);

impl Nodes {
    /// Starts `--node ROLE --spec SPEC` and waits for the line that says where it listens.
    fn start(&mut self, name: &str, role: &str, spec: &str, claim: f64, models: &PathBuf) -> Result<String, BoxError> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["--node", role, "--spec", spec, "--claim", &claim.to_string(), "--models"])
            .arg(models)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        self.0.push((name.to_owned(), child));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line =
            rx.recv_timeout(Duration::from_secs(300)).map_err(|_| format!("node {name} did not start in 5 min"))?;
        let url = line.trim().strip_prefix("listening ").ok_or_else(|| format!("node {name} failed to start"))?;
        eprintln!("node {name} ({role}) listening on {url}");
        Ok(url.to_owned())
    }

    fn kill(&mut self, name: &str) {
        for (n, child) in &mut self.0 {
            if n == name {
                let _ = child.kill();
                let _ = child.wait();
                eprintln!("killed node {name}");
            }
        }
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `NAME<sep>VALUE` flags.
fn pairs<T: std::str::FromStr>(flags: &[String], sep: char, flag: &str) -> Result<Vec<(String, T)>, BoxError> {
    flags
        .iter()
        .map(|f| {
            let (name, value) = f.rsplit_once(sep).ok_or_else(|| format!("--{flag} {f}: expected NAME{sep}VALUE"))?;
            let value = value.parse().map_err(|_| format!("--{flag} {f}: bad value `{value}`"))?;
            Ok((name.to_owned(), value))
        })
        .collect()
}

fn squad_prompts(args: &Args) -> Result<Vec<Prompt>, BoxError> {
    let config = Config {
        per_task: args.prompts,
        seed: args.seed,
        offline: true,
        models_dir: args.models.clone(),
        ..Config::default()
    };
    let (samples, _) = load_prompts(&config)?;
    let templates = PromptTemplates::default();
    samples
        .iter()
        .filter(|s| s.task == Task::QuestionAnswering)
        .map(|s| {
            Ok(Prompt {
                id: s.id.clone(),
                request: templates.request(s)?,
                references: s.references.clone(),
                input: s.question.clone(),
            })
        })
        .collect()
}

fn run(args: &Args) -> Result<(), BoxError> {
    let kills: Vec<(String, u64)> = pairs(&args.kill, '@', "kill")?;
    let lies: Vec<(String, f64)> = pairs(&args.misreport, '=', "misreport")?;
    let prompts = squad_prompts(args)?;
    std::fs::create_dir_all(&args.out)?;
    let mut nodes = Nodes::default();
    let mut described = Vec::new();
    let network = match &args.network {
        Some(file) => Network::from_path(file)?,
        None => {
            let generators = default_generators(&args.models);
            let evaluators = default_evaluators(&args.models);
            if generators.is_empty() || evaluators.is_empty() {
                return Err(format!("no models in {}: run scripts/fetch-models.sh", args.models.display()).into());
            }
            let mut inference = Vec::new();
            for g in &generators {
                let claim = lies.iter().find(|(n, _)| *n == g.name).map_or(1.0, |(_, f)| *f);
                let spec = match &g.source {
                    // The spec without `NAME=`: its name is the file's, as here (and names may hold dots).
                    GeneratorSource::Local(path) => path.clone(),
                    GeneratorSource::Remote { model, url } => format!("{model}@{url}"),
                };
                let url = nodes.start(&g.name, "inference", &spec, claim, &args.models)?;
                described.push(format!(
                    "inference `{}`: {spec}, poq-infer server{}",
                    g.name,
                    if claim != 1.0 { format!(", claims {claim}× its timings") } else { String::new() }
                ));
                inference.push(NodeEntry { name: g.name.clone(), url, stake: 1.0 });
            }
            let mut scorers = Vec::new();
            for e in &evaluators {
                let spec = format!("sts={}", e.dir.display());
                let url = nodes.start(&e.name(), "evaluator", &spec, 1.0, &args.models)?;
                described.push(format!("evaluator `{}`: poq-net evaluator server", e.name()));
                scorers.push(NodeEntry { name: e.name(), url, stake: 1.0 });
            }
            let mut n = Network::new(inference, scorers);
            n.k = args.k;
            n.seed = args.seed;
            n.audit_rate = args.audit_rate;
            n.validate()?;
            n
        }
    };
    std::fs::write(args.out.join("network.json"), serde_json::to_string_pretty(&network)?)?;
    let transcript = args.out.join("transcript.jsonl");
    let coordinator = Coordinator::new(network.clone(), prompts.clone())?;
    let summary = coordinator.run(args.rounds, &transcript, |line| {
        let paid: Vec<String> = line.inference.iter().map(|o| format!("{} {:.2}", o.name, o.payout)).collect();
        eprintln!("round {:>4}: {}", line.round, paid.join(", "));
        for (name, _) in kills.iter().filter(|(_, r)| *r == line.round) {
            nodes.kill(name);
        }
    })?;
    drop(nodes);
    let lines = verify_transcript(&network, &transcript)?;
    let mut injected: Vec<String> = kills.iter().map(|(n, r)| format!("`{n}` killed after round {r}")).collect();
    injected.extend(lies.iter().map(|(n, f)| format!("`{n}` claims {f}× its timings")));
    let facts = RunFacts {
        rounds: lines.len(),
        transcript: "transcript.jsonl".into(),
        nodes: described,
        injected,
        mc_rounds: args.mc_rounds,
    };
    std::fs::write(args.out.join("report.md"), report(&network, &prompts, &lines, &facts)?)?;
    eprintln!(
        "{} rounds ({} resumed, {} played); transcript verified; wrote {}",
        lines.len(),
        summary.resumed_at,
        summary.played,
        args.out.join("report.md").display()
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.node.as_deref() {
        Some(role) => run_node(&args, role),
        None => run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
