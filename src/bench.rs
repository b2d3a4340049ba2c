//! bench: measured ingest throughput (`mirrord-usage bench ingest`), compared in the same run
//! against DuckDB's own JSON reader loading the same file into a table with the same columns.
//!
//! Speed is measured here and printed, never asserted in tests. The figures quoted in the
//! README come from this command.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::NaiveDate;

use crate::generate::{GenerateOptions, OutputFormat, Renderer, Scenario};
use crate::ingest::{self, IngestOptions};
use crate::parse::InputFormat;
use crate::store::{Store, StoreError};

/// Benchmark errors.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("cannot write the benchmark file {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ingest(#[from] ingest::IngestError),
    #[error("database error: {0}")]
    Db(#[from] duckdb::Error),
}

/// One measured run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Measurement {
    pub name: String,
    pub events: u64,
    pub seconds: f64,
    pub events_per_second: f64,
    pub peak_rss_mib: f64,
}

/// Peak resident memory of this process since the last [`reset_peak_rss`], in MiB.
pub fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// Resets the kernel's peak-RSS mark (Linux), so each phase reports its own peak.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Writes `events` generated events as tracing-JSON NDJSON to `path`.
pub fn write_ndjson(path: &Path, events: usize, seed: u64) -> Result<usize, BenchError> {
    let opts = GenerateOptions {
        users: 200,
        days: 365,
        seed,
        end: NaiveDate::from_ymd_opt(2026, 6, 30).unwrap_or_default(),
        max_events: Some(events),
    };
    let scenario = Scenario::build(&opts);
    let err = |source| BenchError::Write { path: path.to_path_buf(), source };
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path).map_err(err)?);
    let mut renderer = Renderer::new(OutputFormat::TracingJson);
    scenario.write_to(&mut out, &mut renderer, 0.0).map_err(err)?;
    out.flush().map_err(err)?;
    Ok(scenario.len())
}

/// Ingests `file` into a fresh database at `db` with our pipeline.
pub fn measure_ours(file: &Path, db: &str) -> Result<Measurement, BenchError> {
    let mut store = Store::open(db)?;
    reset_peak_rss();
    let start = Instant::now();
    let opts = IngestOptions {
        format: InputFormat::Auto,
        batch_size: 100_000,
        progress: false,
    };
    let summary = ingest::ingest_paths(&mut store, &[file.display().to_string()], &opts)?;
    let seconds = start.elapsed().as_secs_f64();
    Ok(Measurement {
        name: "mirrord-usage ingest".into(),
        events: summary.stored,
        seconds,
        events_per_second: summary.stored as f64 / seconds,
        peak_rss_mib: peak_rss_mib(),
    })
}

/// Loads `file` with DuckDB's `read_json` into a table with the `events` columns.
pub fn measure_duckdb(file: &Path, db: &str) -> Result<Measurement, BenchError> {
    let store = Store::open(db)?;
    let conn = store.connection();
    let sql = include_str!("bench_read_json.sql").replace("$FILE", &file.display().to_string().replace('\'', "''"));
    reset_peak_rss();
    let start = Instant::now();
    conn.execute_batch(&sql)?;
    let seconds = start.elapsed().as_secs_f64();
    let events: i64 = conn.query_row("SELECT count(*) FROM reference_events", [], |r| r.get(0))?;
    Ok(Measurement {
        name: "duckdb read_json".into(),
        events: events as u64,
        seconds,
        events_per_second: events as f64 / seconds,
        peak_rss_mib: peak_rss_mib(),
    })
}

/// Runs the whole ingest benchmark in `dir` and prints a report.
pub fn run_ingest(dir: &Path, events: usize, seed: u64, out: &mut dyn Write) -> Result<(Measurement, Measurement), BenchError> {
    let file = dir.join("bench.ndjson");
    let t = Instant::now();
    let n = write_ndjson(&file, events, seed)?;
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let _ = writeln!(out, "generated {n} events ({:.1} MiB NDJSON) in {:.2}s", size as f64 / 1048576.0, t.elapsed().as_secs_f64());
    let reference = measure_duckdb(&file, &dir.join("reference.duckdb").display().to_string())?;
    let ours = measure_ours(&file, &dir.join("ours.duckdb").display().to_string())?;
    for m in [&ours, &reference] {
        let _ = writeln!(
            out,
            "{:<22} {:>9} events  {:>7.2}s  {:>11.0} events/s  peak RSS {:>7.1} MiB",
            m.name, m.events, m.seconds, m.events_per_second, m.peak_rss_mib
        );
    }
    let _ = writeln!(out, "ratio (ours / duckdb read_json): {:.2}x", ours.events_per_second / reference.events_per_second);
    Ok((ours, reference))
}
