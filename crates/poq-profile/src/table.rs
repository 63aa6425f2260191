//! A llama-bench style Markdown table: one row per test, rates as `mean ± std`.
//!
//! Evaluators get one row per batch size (`b8`, the knee marked `b8 (knee)`), rated in items per
//! second. Generators get, per prompt, a prompt-processing row `pp<prompt tokens>` (prefill tokens/s)
//! and a token-generation row `tg<generated tokens>` (decode tokens/s), then one `e2e` row with
//! requests per second and end-to-end latency over all prompts. Latency columns are per call of
//! that row's test, milliseconds.

use crate::record::{ProfileRecord, SubjectKind};
use crate::report::ProfileReport;
use crate::stats::Summary;

const HEADER: [&str; 11] =
    ["name", "kind", "dtype", "device", "threads", "test", "rate", "mean ms", "p50 ms", "p95 ms", "peak MB"];
/// Columns after `name`, `kind`, `dtype`, `device` hold numbers (or the test) and align right.
const RIGHT: [bool; 11] = [false, false, false, false, true, true, true, true, true, true, true];

impl ProfileReport {
    /// The report as a Markdown table with a footnote naming the machine and the memory source.
    pub fn markdown(&self) -> String {
        let rows: Vec<[String; 11]> = self.records.iter().flat_map(rows_of).collect();
        let mut widths = HEADER.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| -> String {
            let padded: Vec<String> = cells
                .iter()
                .zip(widths)
                .zip(RIGHT)
                .map(|((c, w), right)| if right { format!("{c:>w$}") } else { format!("{c:<w$}") })
                .collect();
            format!("| {} |\n", padded.join(" | "))
        };
        let mut out = line(&HEADER.map(String::from));
        let rule: Vec<String> = widths
            .iter()
            .zip(RIGHT)
            .map(|(&w, right)| if right { format!("{}:", "-".repeat(w - 1)) } else { "-".repeat(w) })
            .collect();
        out += &format!("| {} |\n", rule.join(" | "));
        for row in &rows {
            out += &line(row);
        }
        out + &footnote(self)
    }
}

fn rate(s: &Summary, unit: &str) -> String {
    format!("{:.2} ± {:.2} {unit}", s.mean, s.std)
}

/// Milliseconds with three decimals, or four significant digits below 1 ms (token F1 takes
/// microseconds).
fn fmt_ms(v: f64) -> String {
    if v >= 1.0 || v == 0.0 { format!("{v:.3}") } else { format!("{v:.3e}") }
}

fn rows_of(r: &ProfileRecord) -> Vec<[String; 11]> {
    let row = |test: String, rate: String, lat: (f64, f64, f64), mb: f64| {
        [
            r.name.clone(),
            r.kind.to_string(),
            r.dtype.clone(),
            r.device.clone(),
            r.machine.threads.to_string(),
            test,
            rate,
            fmt_ms(lat.0),
            fmt_ms(lat.1),
            fmt_ms(lat.2),
            format!("{mb:.1}"),
        ]
    };
    let lat = |s: &Summary| (s.mean, s.p50, s.p95);
    match r.kind {
        SubjectKind::Evaluator => r
            .batches
            .iter()
            .map(|b| {
                let knee = if r.knee_batch_size == Some(b.batch_size) { " (knee)" } else { "" };
                row(
                    format!("b{}{knee}", b.batch_size),
                    rate(&b.items_per_s, "it/s"),
                    lat(&b.batch_latency_ms),
                    b.memory.megabytes(),
                )
            })
            .collect(),
        SubjectKind::Generator => {
            let mut rows = Vec::new();
            let mb = r.memory.megabytes();
            for p in &r.prompts {
                let na = || "n/a".to_owned();
                let pp = p.prefill_tokens_per_s.as_ref().map_or_else(na, |s| rate(s, "t/s"));
                let tg = p.decode_tokens_per_s.as_ref().map_or_else(na, |s| rate(s, "t/s"));
                rows.push(row(format!("pp{}", p.prompt_tokens), pp, lat(&p.prefill_ms), mb));
                rows.push(row(format!("tg{}", p.generated_tokens.mean.round()), tg, lat(&p.decode_ms), mb));
            }
            let c = &r.cost;
            rows.push(row(
                "e2e".to_owned(),
                format!("{:.2} req/s", c.throughput_items_per_s),
                (c.latency_mean_ms, c.latency_p50_ms, c.latency_p95_ms),
                mb,
            ));
            rows
        }
    }
}

fn footnote(report: &ProfileReport) -> String {
    let mut notes = Vec::new();
    for r in &report.records {
        let m = &r.machine;
        let reset = if r.memory.reset { "" } else { ", not reset: whole-process peak" };
        let note = format!(
            "\n- `{}`: {} ({} threads, {}/{}); peak memory: {}{reset}; {} warm-up + {} measured runs per test; poq-profile {}",
            r.name, m.cpu_model, m.threads, m.os, m.arch, r.memory.source, r.warmup, r.repetitions, r.crate_version
        );
        notes.push(note);
    }
    notes.concat()
}
