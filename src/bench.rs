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

use crate::batch::IncomingEvent;
use crate::generate::{GenerateOptions, OutputFormat, Renderer, Scenario};
use crate::ingest::{self, IngestOptions};
use crate::parse::InputFormat;
use crate::store::{Store, StoreError};

/// Benchmark errors.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("cannot write the benchmark file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ingest(#[from] ingest::IngestError),
    #[error("database error: {0}")]
    Db(#[from] duckdb::Error),
    #[error("the benchmark's server: {0}")]
    Serve(String),
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

/// The generated activity `bench ingest` loads.
fn generate_options(events: usize, seed: u64) -> GenerateOptions {
    GenerateOptions {
        users: 200,
        days: 365,
        seed,
        end: NaiveDate::from_ymd_opt(2026, 6, 30).unwrap_or_default(),
        max_events: Some(events),
    }
}

/// Writes `events` generated events as tracing-JSON NDJSON to `path`.
pub fn write_ndjson(path: &Path, events: usize, seed: u64) -> Result<usize, BenchError> {
    let scenario = Scenario::build(&generate_options(events, seed));
    let err = |source| BenchError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path).map_err(err)?);
    let mut renderer = Renderer::new(OutputFormat::TracingJson);
    scenario
        .write_to(&mut out, &mut renderer, 0.0)
        .map_err(err)?;
    out.flush().map_err(err)?;
    Ok(scenario.len())
}

/// Ingests `file` into a fresh database at `db` with our pipeline.
pub fn measure_ours(file: &Path, db: &str) -> Result<Measurement, BenchError> {
    let store = crate::database::open(db)?;
    reset_peak_rss();
    let start = Instant::now();
    let opts = IngestOptions {
        format: InputFormat::Auto,
        ..IngestOptions::default()
    };
    let (store, summary) = ingest::ingest_paths(store, &[file.display().to_string()], &opts);
    let summary = summary?;
    // Both sides end with the data in the file, not in the WAL.
    store.connection().execute_batch("CHECKPOINT")?;
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
    let store = crate::database::open(db)?;
    let conn = store.connection();
    let sql = include_str!("bench_read_json.sql")
        .replace("$FILE", &file.display().to_string().replace('\'', "''"));
    reset_peak_rss();
    let start = Instant::now();
    conn.execute_batch(&sql)?;
    conn.execute_batch("CHECKPOINT")?;
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

/// How the writer is handed events: Arrow batches of `batch_rows` (what one parser chunk or
/// one receiver request carries), inserted `insert_rows` at a time (the pipeline's grouped
/// insert), committed every `commit_rows`; `serve_instance` sets up the DuckDB instance as
/// `serve` does with its default config (its lockdown: memory, threads, checkpoint threshold).
#[derive(Debug, Clone, Copy)]
pub struct CommitShape {
    pub batch_rows: usize,
    pub insert_rows: usize,
    pub commit_rows: usize,
    pub serve_instance: bool,
}

impl CommitShape {
    /// `ingest`'s shape: parser chunks, committed in whole row groups.
    pub fn ingest() -> CommitShape {
        CommitShape {
            batch_rows: ingest::CHUNK_LINES,
            insert_rows: crate::pipeline::INSERT_ROWS,
            commit_rows: IngestOptions::default().commit_rows,
            serve_instance: false,
        }
    }

    /// `serve`'s shape under saturation: requests of `request_rows`, group commits as big as
    /// `[pipeline] batch_size` allows by default, on an instance set up as `serve` sets it.
    pub fn serve(request_rows: usize) -> CommitShape {
        CommitShape {
            batch_rows: request_rows.max(1),
            insert_rows: crate::pipeline::INSERT_ROWS,
            commit_rows: crate::config::PipelineSection::default().batch_size,
            serve_instance: true,
        }
    }
}

/// The single writer's DuckDB work alone, for comparison: the same generated events, already
/// parsed and built into Arrow batches (built before the clock starts), inserted and committed
/// through the store's `Commit` in `shape`, then a `CHECKPOINT`. `with_fold` registers the
/// session fold and the other derived steps (as `ingest` and `serve` do); without it the store
/// only inserts and commits. This is the floor under `ingest`'s or `serve`'s time while their
/// writer thread is the bottleneck: no parsing, no queue, no network.
pub fn measure_writer(
    db: &str,
    generate: &GenerateOptions,
    with_fold: bool,
    shape: CommitShape,
) -> Result<Measurement, BenchError> {
    let mut store = if with_fold {
        crate::database::open(db)?
    } else {
        Store::open(db, crate::store::Derivations::default())?
    };
    if shape.serve_instance {
        store.lock_down(&crate::server::lockdown(
            &store,
            &crate::config::Config::default(),
        ))?;
    }
    let scenario = Scenario::build(generate);
    let incoming: Vec<_> =
        IncomingEvent::tagged(scenario.events(), "tracing-json", "bench").collect();
    let batches = incoming
        .chunks(shape.batch_rows.max(1))
        .map(crate::batch::EventBatch::build)
        .collect::<Result<Vec<_>, _>>()
        .map_err(StoreError::from)?;
    drop(incoming);
    reset_peak_rss();
    let start = Instant::now();
    let mut stored = 0;
    let per = |rows: usize| rows.div_ceil(shape.batch_rows.max(1)).max(1);
    for commit_batches in batches.chunks(per(shape.commit_rows)) {
        let mut commit = store.begin()?;
        for insert in commit_batches.chunks(per(shape.insert_rows)) {
            commit.add_event_batches(&insert.iter().collect::<Vec<_>>())?;
        }
        stored += commit.finish()?.stored;
    }
    store.connection().execute_batch("CHECKPOINT")?;
    let seconds = start.elapsed().as_secs_f64();
    Ok(Measurement {
        name: if with_fold {
            "writer alone, with fold".into()
        } else {
            "writer alone, no fold".into()
        },
        events: stored,
        seconds,
        events_per_second: stored as f64 / seconds,
        peak_rss_mib: peak_rss_mib(),
    })
}

/// One line of a measurement table.
pub fn print_measurement(out: &mut dyn Write, m: &Measurement) {
    let _ = writeln!(
        out,
        "{:<24} {:>9} events  {:>7.2}s  {:>11.0} events/s  peak RSS {:>7.1} MiB",
        m.name, m.events, m.seconds, m.events_per_second, m.peak_rss_mib
    );
}

/// Both writer floors (without and with the fold) on the activity `generate` makes, in fresh
/// databases under `dir`.
pub fn writer_floors(
    dir: &Path,
    generate: &GenerateOptions,
    shape: CommitShape,
) -> Result<Vec<Measurement>, BenchError> {
    let mut floors = Vec::new();
    for (with_fold, name) in [
        (false, "writer-nofold.duckdb"),
        (true, "writer-fold.duckdb"),
    ] {
        for path in [dir.join(name), dir.join(format!("{name}.wal"))] {
            let _ = std::fs::remove_file(path);
        }
        let db = dir.join(name).display().to_string();
        floors.push(measure_writer(&db, generate, with_fold, shape)?);
    }
    Ok(floors)
}

/// Runs the whole ingest benchmark in `dir` and prints a report.
pub fn run_ingest(
    dir: &Path,
    events: usize,
    seed: u64,
    out: &mut dyn Write,
) -> Result<(Measurement, Measurement), BenchError> {
    let file = dir.join("bench.ndjson");
    let t = Instant::now();
    let n = write_ndjson(&file, events, seed)?;
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let _ = writeln!(
        out,
        "generated {n} events ({:.1} MiB NDJSON) in {:.2}s",
        size as f64 / 1048576.0,
        t.elapsed().as_secs_f64()
    );
    // A rerun in the same --dir starts from fresh databases.
    for name in ["reference.duckdb", "ours.duckdb"] {
        for path in [dir.join(name), dir.join(format!("{name}.wal"))] {
            let _ = std::fs::remove_file(path);
        }
    }
    let reference = measure_duckdb(&file, &dir.join("reference.duckdb").display().to_string())?;
    let ours = measure_ours(&file, &dir.join("ours.duckdb").display().to_string())?;
    let floors = writer_floors(dir, &generate_options(events, seed), CommitShape::ingest())?;
    for m in [&ours, &reference].into_iter().chain(&floors) {
        print_measurement(out, m);
    }
    let _ = writeln!(
        out,
        "ratio (ours / duckdb read_json): {:.2}x",
        ours.events_per_second / reference.events_per_second
    );
    Ok((ours, reference))
}

/// A report query run directly on a connection, for comparison with its HTTP route.
type DirectQuery = dyn Fn(&duckdb::Connection) -> Result<(), BenchError>;

/// Latency percentiles of one measured query, over HTTP and run directly in DuckDB.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Latency {
    pub name: String,
    /// Over HTTP, the first request after a commit (the report cache can't answer).
    pub http_p50_ms: f64,
    pub http_p99_ms: f64,
    /// Over HTTP, the same request again with nothing committed in between (from the cache).
    pub cached_p50_ms: f64,
    pub direct_p50_ms: f64,
    pub direct_p99_ms: f64,
}

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples.get(i).copied().unwrap_or(f64::NAN)
}

/// Loads `events` generated events (about a tenth as many sessions) straight into a fresh
/// database at `db`, skipping text parsing: this benchmark measures queries, not ingest.
pub fn load_generated(db: &str, events: usize, seed: u64) -> Result<Store, BenchError> {
    let mut store = crate::database::open(db)?;
    let today = chrono::Utc::now().date_naive();
    let opts = GenerateOptions {
        users: 2000,
        days: 365,
        seed,
        end: today,
        max_events: Some(events),
    };
    let scenario = Scenario::build(&opts);
    let mut chunk = Vec::with_capacity(200_000);
    for event in IncomingEvent::tagged(scenario.events(), "generated", "bench") {
        chunk.push(event);
        if chunk.len() == 200_000 {
            store.append(&chunk, &[], &[])?;
            chunk.clear();
        }
    }
    store.append(&chunk, &[], &[])?;
    Ok(store)
}

/// One HTTP/1.1 GET over a fresh connection; returns the time to the last byte.
/// One timed request, as a script would make it (a fresh connection each time).
async fn http_get(
    client: &reqwest::Client,
    addr: std::net::SocketAddr,
    path: &str,
    key: &str,
) -> Result<f64, BenchError> {
    let start = Instant::now();
    let response = client
        .get(format!("http://{addr}{path}"))
        .header("x-license-key", key)
        .send()
        .await
        .map_err(|e| BenchError::Serve(e.to_string()))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| BenchError::Serve(e.to_string()))?;
    if !status.is_success() {
        return Err(BenchError::Serve(format!(
            "{path}: {status} {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        )));
    }
    Ok(start.elapsed().as_secs_f64() * 1000.0)
}

/// Measures `/api/v1/reports/usage` (all time and 30 days) and `/trends?days=90` over HTTP
/// against the real router, and the same report functions called directly, `runs` times each.
pub fn run_reports(
    dir: &Path,
    events: usize,
    runs: usize,
    out: &mut dyn Write,
) -> Result<Vec<Latency>, BenchError> {
    let t = Instant::now();
    let store = load_generated(&dir.join("reports.duckdb").display().to_string(), events, 7)?;
    let (n_events, n_sessions): (i64, i64) = store.connection().query_row(
        "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM session_state)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let _ = writeln!(
        out,
        "loaded {n_events} events / {n_sessions} sessions in {:.1}s",
        t.elapsed().as_secs_f64()
    );
    // The demo directory over the generated people, so the scoped report, the Adoption
    // report and the group metrics have teams to work on.
    let users: Vec<(String, Option<String>)> = {
        let mut stmt = store.connection().prepare(
            "SELECT client_user, min(client_name) FROM session_state \
             WHERE kind = 'exec' AND client_user IS NOT NULL GROUP BY 1 ORDER BY 1",
        )?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?
    };
    crate::directory::store::import(
        store.connection(),
        &crate::directory::demo::directory(&users),
        "bench",
        chrono::Utc::now(),
    )?;
    let reader = store.reader()?;
    let direct = store.reader()?;
    let (pipeline, _writer) =
        crate::pipeline::start(store, crate::pipeline::PipelineConfig::default());
    let stats = pipeline.stats.clone();
    let state = crate::api::AppState {
        db: std::sync::Arc::new(std::sync::Mutex::new(reader)),
        pipeline,
        config: std::sync::Arc::new(crate::config::Config::default()),
        keys: Some(std::sync::Arc::new(crate::api::auth::Keys {
            viewer: std::sync::Arc::from("bench"),
            admin: std::sync::Arc::from("bench-admin"),
            ingest: None,
        })),
        metrics_token: None,
        report_settings: crate::analytics::reports::ReportSettings::default(),
        sql_permits: std::sync::Arc::new(tokio::sync::Semaphore::new(2)),
        report_cache: Default::default(),
        scrape_cache: Default::default(),
        display: Default::default(),
        zone: chrono_tz::Tz::UTC,
        labels: Default::default(),
    };
    let serve_err = |e: std::io::Error| BenchError::Serve(e.to_string());
    let rt = tokio::runtime::Runtime::new().map_err(serve_err)?;
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .map_err(serve_err)?;
    let addr = listener.local_addr().map_err(serve_err)?;
    // As the dashboard's browser asks: gzip accepted (the server compresses at its fastest
    // level), a fresh connection each time.
    let client = reqwest::Client::builder()
        .gzip(true)
        .pool_max_idle_per_host(0)
        .build()
        .map_err(|e| BenchError::Serve(e.to_string()))?;
    // As `serve` does (tls::serve_http): no Nagle on the accepted connections.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    rt.spawn(async move { axum::serve(listener, crate::api::router(state)).await });
    let today = chrono::Utc::now().date_naive();
    let month_ago = (today - chrono::Duration::days(29)).and_hms_opt(0, 0, 0);
    let adoption_query = {
        let to = chrono::Utc::now().naive_utc();
        crate::analytics::adoption::AdoptionQuery {
            from: (today - chrono::Duration::days(89))
                .and_hms_opt(0, 0, 0)
                .unwrap_or(to),
            to,
            interval: crate::analytics::buckets::Interval::Week,
            zone: chrono_tz::Tz::UTC,
            thresholds: crate::api::adoption::thresholds(&Default::default()),
            team_type: "team".into(),
        }
    };
    let cases: [(&str, String, Box<DirectQuery>); 6] = [
        (
            "usage (All)",
            "/api/v1/reports/usage".into(),
            Box::new(|c| {
                crate::analytics::reports::usage(
                    c,
                    Default::default(),
                    Default::default(),
                    &Default::default(),
                )
                .map(|_| ())
                .map_err(BenchError::from)
            }),
        ),
        (
            "usage (team)",
            "/api/v1/reports/usage?group=payments".into(),
            Box::new(|c| {
                let scope = crate::directory::scope::Scope::resolve(c, Some("payments"))
                    .map_err(|e| BenchError::Serve(e.to_string()))?;
                crate::analytics::reports::usage_in(
                    c,
                    Default::default(),
                    Default::default(),
                    &Default::default(),
                    &scope,
                )
                .map(|_| ())
                .map_err(BenchError::from)
            }),
        ),
        (
            "adoption (90d)",
            format!(
                "/api/v1/reports/adoption?from={}",
                today - chrono::Duration::days(89)
            ),
            Box::new(move |c| {
                crate::analytics::adoption::report(
                    c,
                    &crate::directory::scope::Scope::all(),
                    &adoption_query,
                )
                .map(|_| ())
                .map_err(|e| BenchError::Serve(e.to_string()))
            }),
        ),
        (
            "usage (30d)",
            format!(
                "/api/v1/reports/usage?from={}",
                today - chrono::Duration::days(29)
            ),
            Box::new(move |c| {
                let p = crate::analytics::reports::Period {
                    from: month_ago,
                    to: None,
                };
                crate::analytics::reports::usage(c, p, Default::default(), &Default::default())
                    .map(|_| ())
                    .map_err(BenchError::from)
            }),
        ),
        (
            "/metrics",
            "/metrics".into(),
            Box::new(|c| {
                crate::api::metrics::registry(c, &Default::default(), 0, false)
                    .map(|_| ())
                    .map_err(BenchError::from)
            }),
        ),
        (
            "trends (90d)",
            "/api/v1/reports/usage/trends?days=90".into(),
            Box::new(move |c| {
                crate::analytics::reports::trends(
                    c,
                    today - chrono::Duration::days(89),
                    today,
                    false,
                )
                .map(|_| ())
                .map_err(BenchError::from)
            }),
        ),
    ];
    let mut results = Vec::new();
    for (name, path, query) in &cases {
        let mut http = Vec::with_capacity(runs);
        let mut cached = Vec::with_capacity(runs);
        let mut local = Vec::with_capacity(runs);
        for i in 0..runs + 2 {
            // As a commit would: the cached answer is no longer the database's.
            stats
                .generation
                .fetch_add(1, std::sync::atomic::Ordering::Release);
            let ms = rt.block_on(http_get(&client, addr, path, "bench"))?;
            let again = rt.block_on(http_get(&client, addr, path, "bench"))?;
            let start = Instant::now();
            query(&direct)?;
            let direct_ms = start.elapsed().as_secs_f64() * 1000.0;
            if i >= 2 {
                http.push(ms);
                cached.push(again);
                local.push(direct_ms);
            }
        }
        let l = Latency {
            name: name.to_string(),
            http_p50_ms: percentile(&mut http, 0.5),
            http_p99_ms: percentile(&mut http, 0.99),
            cached_p50_ms: percentile(&mut cached, 0.5),
            direct_p50_ms: percentile(&mut local, 0.5),
            direct_p99_ms: percentile(&mut local, 0.99),
        };
        let _ = writeln!(
            out,
            "{:<14} HTTP after a commit p50 {:>8.1} ms  p99 {:>8.1} ms | direct p50 {:>8.1} ms  p99 {:>8.1} ms | ratio p50 {:.2}x | HTTP unchanged (cache) p50 {:>6.1} ms",
            l.name,
            l.http_p50_ms,
            l.http_p99_ms,
            l.direct_p50_ms,
            l.direct_p99_ms,
            l.http_p50_ms / l.direct_p50_ms,
            l.cached_p50_ms
        );
        results.push(l);
    }
    Ok(results)
}
