//! The driver: rounds in fixed chunks, chunks in parallel, merged in chunk order.

use crate::engine::Engine;
use crate::error::Result;
#[cfg(feature = "transcripts")]
use crate::error::SimError;
use crate::report::{ConsensusAccuracy, Report};
use crate::round::Scratch;
use crate::scenario::Scenario;
use crate::stats::{ChunkAcc, ErrorSums, Totals};
use crate::transcript::Transcript;
use crate::trust::TrustState;
use poq_core::{Aggregator, RewardRule};
use rayon::prelude::*;

/// Rounds per chunk. Fixed (not derived from the thread count) so results do not depend on it.
pub(crate) const CHUNK: u64 = 4096;
/// Chunks run in parallel before merging; bounds memory whatever the number of rounds.
const BATCH: u64 = 64;

/// How to run: [`RunOptions::default`] (quiet, no transcripts), then the builder methods.
///
/// Runs use the current rayon thread pool: set its size with `RAYON_NUM_THREADS`, rayon's
/// `ThreadPoolBuilder::build_global`, or run inside a pool of your own (`pool.install(|| …)`).
#[derive(Default)]
pub struct RunOptions<'a> {
    progress: bool,
    #[cfg(feature = "transcripts")]
    transcripts: Option<&'a mut dyn std::io::Write>,
    #[cfg(not(feature = "transcripts"))]
    transcripts: std::marker::PhantomData<&'a mut ()>,
}

impl<'a> RunOptions<'a> {
    /// Shows a progress bar on stderr (drawn only with feature `progress` and when stderr is a
    /// terminal; otherwise this does nothing).
    #[must_use]
    pub fn progress(mut self, show: bool) -> Self {
        self.progress = show;
        self
    }

    /// Writes one JSON [`Transcript`](crate::Transcript) per round, one per line, to `out`
    /// (feature `transcripts`).
    #[cfg(feature = "transcripts")]
    #[must_use]
    pub fn transcripts(mut self, out: &'a mut dyn std::io::Write) -> Self {
        self.transcripts = Some(out);
        self
    }

    #[cfg(feature = "transcripts")]
    fn wants_transcripts(&self) -> bool {
        self.transcripts.is_some()
    }

    #[cfg(not(feature = "transcripts"))]
    fn wants_transcripts(&self) -> bool {
        false
    }

    /// Writes a chunk's transcripts to the sink, if any.
    #[cfg(feature = "transcripts")]
    fn write(&mut self, txs: &[Transcript]) -> Result<()> {
        if let Some(w) = self.transcripts.as_deref_mut() {
            for t in txs {
                serde_json::to_writer(&mut *w, t)?;
                w.write_all(b"\n").map_err(|source| SimError::Io { path: "<transcripts>".into(), source })?;
            }
        }
        Ok(())
    }

    #[cfg(not(feature = "transcripts"))]
    fn write(&mut self, _: &[Transcript]) -> Result<()> {
        Ok(())
    }
}

impl std::fmt::Debug for RunOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("progress", &self.progress)
            .field("transcripts", &self.wants_transcripts())
            .finish()
    }
}

/// Validates and runs a scenario with its own rules and default options.
///
/// # Errors
/// The first invalid scenario field ([`SimError::Invalid`], [`SimError::Core`]).
pub fn simulate(scenario: &Scenario) -> Result<Report> {
    Engine::new(scenario)?.run(RunOptions::default())
}

/// Validates and runs a scenario with consensus rule `aggregator` and reward rule `rule` in place of
/// the scenario's own ([`Engine::with_rules`]), with default options.
///
/// # Errors
/// The first invalid scenario field, or the first error of a rule during the run
/// ([`SimError::Round`]).
pub fn simulate_with<A, R>(scenario: &Scenario, aggregator: A, rule: R) -> Result<Report>
where
    A: Aggregator + 'static,
    R: RewardRule + 'static,
{
    Engine::with_rules(scenario, aggregator, rule)?.run(RunOptions::default())
}

/// A progress bar over `len` steps, drawn only when asked for and stderr is a terminal.
#[cfg(feature = "progress")]
pub(crate) struct Progress(indicatif::ProgressBar);

#[cfg(feature = "progress")]
impl Progress {
    pub(crate) fn new(len: u64, show: bool) -> Self {
        use std::io::IsTerminal;
        if show && std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(len);
            if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {per_sec} eta {eta}") {
                bar.set_style(style);
            }
            Progress(bar)
        } else {
            Progress(indicatif::ProgressBar::hidden())
        }
    }
    pub(crate) fn set_position(&self, pos: u64) {
        self.0.set_position(pos);
    }
    pub(crate) fn inc(&self, n: u64) {
        self.0.inc(n);
    }
    pub(crate) fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// Without feature `progress`: nothing is drawn.
#[cfg(not(feature = "progress"))]
pub(crate) struct Progress;

#[cfg(not(feature = "progress"))]
impl Progress {
    pub(crate) fn new(_len: u64, _show: bool) -> Self {
        Progress
    }
    pub(crate) fn set_position(&self, _pos: u64) {}
    pub(crate) fn inc(&self, _n: u64) {}
    pub(crate) fn finish(&self) {}
}

impl<A: Aggregator + 'static, R: RewardRule + 'static> Engine<A, R> {
    fn play_chunk(&self, chunk: u64, trust: Option<&mut TrustState>, tx: bool) -> Result<(ChunkAcc, Vec<Transcript>)> {
        let start = chunk * CHUNK;
        let end = (start + CHUNK).min(self.scenario.rounds);
        let mut acc = ChunkAcc::new(self.inference.len() + self.evaluators.len());
        let mut scratch = Scratch::new(self);
        let mut out = Vec::new();
        let mut trust = trust;
        let warm_end = self.scenario.warmup.clamp(start, end);
        if warm_end > start {
            // Warm-up rounds: played and paid, but their consensus errors are dropped.
            self.play_rounds(start..warm_end, &mut scratch, &mut acc, trust.as_deref_mut(), tx.then_some(&mut out))?;
            acc.error = ErrorSums::default();
        }
        self.play_rounds(warm_end..end, &mut scratch, &mut acc, trust, tx.then_some(&mut out))?;
        Ok((acc, out))
    }

    /// Consensus error per window of `window` rounds, over every round including the warm-up: how
    /// fast a trust rule converges. Plays the rounds once, in order when trust weighting is on.
    ///
    /// # Errors
    /// `window` is 0 ([`SimError::Invalid`]), or a rule's error in some round.
    pub fn consensus_curve(&self, window: u64) -> Result<Vec<(u64, ConsensusAccuracy)>> {
        if window == 0 {
            return Err(crate::error::SimError::invalid("window", "must be at least 1"));
        }
        let rounds = self.scenario.rounds;
        let starts: Vec<u64> = (0..rounds).step_by(usize::try_from(window).unwrap_or(usize::MAX)).collect();
        let n = self.inference.len() + self.evaluators.len();
        let play =
            |a: u64, scratch: &mut Scratch, trust: Option<&mut TrustState>| -> Result<(u64, ConsensusAccuracy)> {
                let b = (a + window).min(rounds);
                let mut acc = ChunkAcc::new(n);
                self.play_rounds(a..b, scratch, &mut acc, trust, None)?;
                Ok((b, ConsensusAccuracy::from_sums(&acc.error)))
            };
        match self.scenario.trust.state(self.evaluators.len())? {
            None => starts.par_iter().map(|&a| play(a, &mut Scratch::new(self), None)).collect(),
            Some(mut t) => {
                let mut scratch = Scratch::new(self);
                starts.iter().map(|&a| play(a, &mut scratch, Some(&mut t))).collect()
            }
        }
    }

    /// Runs every round. Without trust weighting rounds are independent and chunks run on the
    /// current rayon pool; with it, rounds run in order (each depends on the last).
    ///
    /// # Errors
    /// A rule's error in some round ([`SimError::Round`]; the built-in rules have none on a valid
    /// scenario), or a failure to write transcripts.
    pub fn run(&self, mut opts: RunOptions<'_>) -> Result<Report> {
        let rounds = self.scenario.rounds;
        let chunks = rounds.div_ceil(CHUNK);
        let mut totals = Totals::new(self.inference.len() + self.evaluators.len());
        let mut trust = self.scenario.trust.state(self.evaluators.len())?;
        let bar = Progress::new(rounds, opts.progress);
        let want_tx = opts.wants_transcripts();
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
                opts.write(&txs)?;
            }
            bar.set_position((end * CHUNK).min(rounds));
            batch = end;
        }
        bar.finish();
        Ok(Report::build(self, &totals, trust.as_ref().map(|t| t.weights())))
    }

    /// The transcripts of rounds `rounds` (for inspection and verification; runs them alone).
    ///
    /// # Errors
    /// A rule's error in one of the rounds ([`SimError::Round`]).
    #[cfg(feature = "transcripts")]
    pub fn transcripts(&self, rounds: std::ops::Range<u64>) -> Result<Vec<Transcript>> {
        if self.scenario.trust != crate::trust::Trust::None {
            // Trust state depends on every earlier round: replay from round 0.
            let mut state = self.scenario.trust.state(self.evaluators.len())?;
            let mut acc = ChunkAcc::new(self.inference.len() + self.evaluators.len());
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
        let mut acc = ChunkAcc::new(self.inference.len() + self.evaluators.len());
        let mut scratch = Scratch::new(self);
        let mut out = Vec::new();
        self.play_rounds(rounds, &mut scratch, &mut acc, None, Some(&mut out))?;
        Ok(out)
    }
}
