//! The driver: rounds in fixed chunks, chunks in parallel, merged in chunk order.

use crate::engine::Engine;
use crate::error::{Result, SimError};
use crate::report::Report;
use crate::round::Scratch;
use crate::scenario::Scenario;
use crate::stats::{ChunkAcc, Totals};
use crate::transcript::Transcript;
use crate::trust::TrustState;
use rayon::prelude::*;
use std::io::{IsTerminal, Write};

/// Rounds per chunk. Fixed (not derived from the thread count) so results do not depend on it.
pub const CHUNK: u64 = 4096;
/// Chunks run in parallel before merging; bounds memory whatever the number of rounds.
const BATCH: u64 = 64;

/// How to run.
#[derive(Default)]
pub struct RunOptions<'a> {
    /// Show a progress bar on stderr (only drawn when stderr is a terminal).
    pub progress: bool,
    /// Write one JSON transcript per round, one per line, here.
    pub transcripts: Option<&'a mut dyn Write>,
}

impl std::fmt::Debug for RunOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("progress", &self.progress)
            .field("transcripts", &self.transcripts.is_some())
            .finish()
    }
}

/// Sets the size of rayon's global thread pool (call before any run; `RAYON_NUM_THREADS` also works).
pub fn init_threads(n: usize) -> Result<()> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global()
        .map_err(|e| SimError::invalid("threads", e.to_string()))
}

/// Validates and runs a scenario with default options.
pub fn simulate(scenario: &Scenario) -> Result<Report> {
    Engine::new(scenario)?.run(RunOptions::default())
}

/// A progress bar over `len` steps, hidden unless asked for and stderr is a terminal.
pub fn progress_bar(len: u64, show: bool) -> indicatif::ProgressBar {
    if show && std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(len);
        if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {per_sec} eta {eta}") {
            bar.set_style(style);
        }
        bar
    } else {
        indicatif::ProgressBar::hidden()
    }
}

impl Engine {
    fn play_chunk(&self, chunk: u64, trust: Option<&mut TrustState>, tx: bool) -> Result<(ChunkAcc, Vec<Transcript>)> {
        let start = chunk * CHUNK;
        let end = (start + CHUNK).min(self.scenario.rounds);
        let mut acc = ChunkAcc::new(self.inf.len() + self.ev.len());
        let mut scratch = Scratch::new(self);
        let mut out = Vec::new();
        self.play_rounds(start..end, &mut scratch, &mut acc, trust, tx.then_some(&mut out))?;
        Ok((acc, out))
    }

    /// Runs every round. Without trust weighting rounds are independent and chunks run on the
    /// current rayon pool; with it, rounds run in order (each depends on the last).
    pub fn run(&self, mut opts: RunOptions<'_>) -> Result<Report> {
        let rounds = self.scenario.rounds;
        let chunks = rounds.div_ceil(CHUNK);
        let mut totals = Totals::new(self.inf.len() + self.ev.len());
        let mut trust = self.scenario.trust.state(self.ev.len())?;
        let bar = progress_bar(rounds, opts.progress);
        let want_tx = opts.transcripts.is_some();
        let mut batch = 0;
        while batch < chunks {
            let end = (batch + BATCH).min(chunks);
            let results: Vec<Result<(ChunkAcc, Vec<Transcript>)>> = match trust.as_mut() {
                None => (batch..end).into_par_iter().map(|c| self.play_chunk(c, None, want_tx)).collect(),
                Some(t) => (batch..end).map(|c| self.play_chunk(c, Some(&mut *t), want_tx)).collect(),
            };
            for res in results {
                let (acc, txs) = res?;
                totals.merge(&acc);
                if let Some(w) = opts.transcripts.as_deref_mut() {
                    for t in &txs {
                        serde_json::to_writer(&mut *w, t)?;
                        w.write_all(b"\n").map_err(|source| SimError::Io { path: "<transcripts>".into(), source })?;
                    }
                }
            }
            bar.set_position((end * CHUNK).min(rounds));
            batch = end;
        }
        bar.finish_and_clear();
        Ok(Report::build(self, &totals, trust.as_ref().map(|t| t.weights())))
    }

    /// The transcripts of rounds `rounds` (for inspection and verification; runs them alone).
    pub fn transcripts(&self, rounds: std::ops::Range<u64>) -> Result<Vec<Transcript>> {
        if self.scenario.trust != crate::trust::Trust::None {
            // Trust state depends on every earlier round: replay from round 0.
            let mut state = self.scenario.trust.state(self.ev.len())?;
            let mut acc = ChunkAcc::new(self.inf.len() + self.ev.len());
            let mut scratch = Scratch::new(self);
            let mut out = Vec::new();
            for r in 0..rounds.end.min(self.scenario.rounds) {
                let mut sink = Vec::new();
                self.play_rounds(r..r + 1, &mut scratch, &mut acc, state.as_mut(), Some(&mut sink))?;
                if r >= rounds.start {
                    out.extend(sink);
                }
            }
            return Ok(out);
        }
        let mut acc = ChunkAcc::new(self.inf.len() + self.ev.len());
        let mut scratch = Scratch::new(self);
        let mut out = Vec::new();
        self.play_rounds(rounds, &mut scratch, &mut acc, None, Some(&mut out))?;
        Ok(out)
    }
}
