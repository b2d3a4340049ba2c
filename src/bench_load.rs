//! bench_load: the receivers' load benchmark (`mirrord-usage bench load`).
//!
//! Starts the real binary as `serve` on a fresh database with OTLP/gRPC, OTLP/HTTP and
//! Forward receivers on loopback, then, per transport, runs `concurrency` concurrent senders
//! that send pre-built batches of generated events and wait for each to be acknowledged
//! (HTTP 200, gRPC OK, Forward `{"ack": chunk}`, all only after the commit). It reports the
//! accepted records per second, p50/p99 request latency, push-backs (429/RESOURCE_EXHAUSTED,
//! retried after a short back-off) and the server's peak RSS, and finally the stored count.
//!
//! Each transport gets its own server and empty database, so none is measured against a table
//! the previous one filled; each also sends its own copy of the events, shifted in time by 400
//! days per transport. Requests are encoded before the clock starts. The load generator runs
//! on the same machine as the server and shares its cores.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::event::OperatorEvent;
use crate::generate::{FieldValue, GenerateOptions, LogLine, OutputFormat, Scenario};

/// The license key the benchmark's server is started with.
const KEY: &str = "bench";

/// The admin key of the benchmark's server: the stored count goes through `/api/v1/sql`.
const ADMIN_KEY: &str = "bench-admin";

/// First back-off after a push-back; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(5);
const MAX_BACKOFF: Duration = Duration::from_millis(200);

/// Load benchmark errors.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("I/O error ({what}): {source}")]
    Io {
        what: &'static str,
        source: std::io::Error,
    },
    #[error("the server did not become ready: {0}")]
    NotReady(String),
    #[error("{transport}: {message}")]
    Send {
        transport: &'static str,
        message: String,
    },
    #[error("HTTP client error: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the writer floor: {0}")]
    Floor(#[from] crate::bench::BenchError),
}

fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> LoadError {
    move |source| LoadError::Io { what, source }
}

/// What to send.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Records per transport.
    pub records: usize,
    /// Concurrent senders per transport.
    pub concurrency: usize,
    /// Records per request.
    pub batch: usize,
    /// Stop a transport after this long, even if records remain.
    pub seconds: Option<f64>,
    /// Fixed-rate mode: send this many records per second in all (requests are started on a
    /// schedule, whatever the answers); `None` saturates.
    pub rate: Option<f64>,
}

/// The result for one transport.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoadResult {
    pub transport: &'static str,
    pub requests: usize,
    pub records: usize,
    pub retries: usize,
    pub seconds: f64,
    pub records_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub server_peak_rss_mib: f64,
}

/// The three receiver ports and the HTTP port of the server under test.
#[derive(Debug, Clone, Copy)]
struct Ports {
    http: u16,
    otlp_grpc: u16,
    otlp_http: u16,
    forward: u16,
}

/// The `serve` child process; killed when dropped.
struct ServerProcess {
    child: Child,
    ports: Ports,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, LoadError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(io("pick a free port"))?;
    Ok(l.local_addr().map_err(io("pick a free port"))?.port())
}

fn pick_ports() -> Result<Ports, LoadError> {
    Ok(Ports {
        http: free_port()?,
        otlp_grpc: free_port()?,
        otlp_http: free_port()?,
        forward: free_port()?,
    })
}

/// Starts `serve` from this executable on `dir/load.duckdb` with the default pipeline
/// settings, logging to `dir/serve.log`.
fn start_server(dir: &Path) -> Result<ServerProcess, LoadError> {
    let ports = pick_ports()?;
    let config = format!(
        "[receivers]\notlp_grpc = \"127.0.0.1:{}\"\notlp_http = \"127.0.0.1:{}\"\nforward = \"127.0.0.1:{}\"\n",
        ports.otlp_grpc, ports.otlp_http, ports.forward
    );
    let config_path = dir.join("load.toml");
    std::fs::write(&config_path, config).map_err(io("write the config"))?;
    let log = std::fs::File::create(dir.join("serve.log")).map_err(io("create serve.log"))?;
    let log2 = log.try_clone().map_err(io("create serve.log"))?;
    let exe = std::env::current_exe().map_err(io("find the executable"))?;
    let child = Command::new(exe)
        .arg("--db")
        .arg(dir.join("load.duckdb"))
        .args(["serve", "--bind", "127.0.0.1", "--port"])
        .arg(ports.http.to_string())
        .args(["--license-key", KEY, "--admin-key", ADMIN_KEY, "--config"])
        .arg(&config_path)
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log2))
        .spawn()
        .map_err(io("start serve"))?;
    let mut server = ServerProcess { child, ports };
    wait_ready(&mut server)?;
    Ok(server)
}

/// Waits for `/healthz` and for every receiver port to accept connections.
fn wait_ready(server: &mut ServerProcess) -> Result<(), LoadError> {
    let client = reqwest::blocking::Client::new();
    let url = format!("http://127.0.0.1:{}/healthz", server.ports.http);
    let deadline = Instant::now() + Duration::from_secs(60);
    let p = server.ports;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = server.child.try_wait() {
            return Err(LoadError::NotReady(format!("serve exited ({status})")));
        }
        let healthy = client
            .get(&url)
            .send()
            .is_ok_and(|r| r.status().is_success());
        let listening = [p.otlp_grpc, p.otlp_http, p.forward]
            .iter()
            .all(|port| std::net::TcpStream::connect(("127.0.0.1", *port)).is_ok());
        if healthy && listening {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(LoadError::NotReady("no answer within 60 s".into()))
}

/// Peak RSS of process `pid` (VmHWM) in MiB.
fn peak_rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// Resets the peak-RSS mark of process `pid` (Linux), so each transport reports its own.
fn reset_peak_rss(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// `records` generated events (the operator's mix of session events).
/// The generated activity the load is made of.
fn generate_options(records: usize) -> GenerateOptions {
    GenerateOptions {
        users: 2000,
        days: 365,
        seed: 11,
        end: NaiveDate::from_ymd_opt(2026, 6, 30).unwrap_or_default(),
        max_events: Some(records),
    }
}

fn generated_events(records: usize) -> Vec<OperatorEvent> {
    Scenario::build(&generate_options(records))
        .events()
        .collect()
}

/// A copy of `event` moved `shift` 400-day steps back, so each transport's copy is distinct.
fn shifted(event: &OperatorEvent, shift: i64) -> OperatorEvent {
    let mut e = event.clone();
    e.timestamp -= chrono::Duration::days(400 * shift);
    e
}

fn any_value(v: FieldValue<'_>) -> AnyValue {
    let value = match v {
        FieldValue::Str(s) => any_value::Value::StringValue(s.to_string()),
        FieldValue::Int(i) => any_value::Value::IntValue(i),
        FieldValue::Float(f) => any_value::Value::DoubleValue(f),
        FieldValue::Bool(b) => any_value::Value::BoolValue(b),
    };
    AnyValue { value: Some(value) }
}

/// The OTLP log record the operator's exporter sends for `event`.
fn log_record(event: &OperatorEvent) -> LogRecord {
    let line = LogLine::from_event(event);
    LogRecord {
        time_unix_nano: line.timestamp.timestamp_nanos_opt().unwrap_or_default() as u64,
        severity_text: line.level.to_string(),
        body: Some(any_value(FieldValue::Str(line.message))),
        attributes: line
            .fields
            .iter()
            .map(|(k, v)| KeyValue {
                key: k.to_string(),
                value: Some(any_value(*v)),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn otlp_request(events: &[OperatorEvent]) -> ExportLogsServiceRequest {
    let resource = opentelemetry_proto::tonic::resource::v1::Resource {
        attributes: vec![KeyValue {
            key: "service.name".into(),
            value: Some(any_value(FieldValue::Str("mirrord-operator"))),
            ..Default::default()
        }],
        ..Default::default()
    };
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(resource),
            scope_logs: vec![ScopeLogs {
                log_records: events.iter().map(log_record).collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// A PackedForward message of `events` (each `{"log": <tracing JSON line>}`) with `chunk`.
fn forward_message(events: &[OperatorEvent], chunk: &str) -> Result<Vec<u8>, LoadError> {
    use rmpv::Value;
    let mut packed = Vec::new();
    for e in events {
        let line = crate::generate::render_to_string(e, OutputFormat::TracingJson);
        let entry = Value::Array(vec![
            Value::from(e.timestamp.timestamp()),
            Value::Map(vec![
                (Value::from("log"), Value::from(line)),
                (Value::from("stream"), Value::from("stdout")),
            ]),
        ]);
        rmpv::encode::write_value(&mut packed, &entry)
            .map_err(|e| io("encode msgpack")(std::io::Error::other(e)))?;
    }
    let message = Value::Array(vec![
        Value::from("mirrord.operator"),
        Value::Binary(packed),
        Value::Map(vec![(Value::from("chunk"), Value::from(chunk))]),
    ]);
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, &message)
        .map_err(|e| io("encode msgpack")(std::io::Error::other(e)))?;
    Ok(out)
}

/// Pre-built requests of one transport, with the record count of each.
enum Requests {
    Http(Vec<(usize, bytes::Bytes)>),
    Grpc(Vec<(usize, ExportLogsServiceRequest)>),
    Forward(Vec<(usize, Vec<u8>)>),
}

impl Requests {
    fn len(&self) -> usize {
        match self {
            Requests::Http(r) => r.len(),
            Requests::Grpc(r) => r.len(),
            Requests::Forward(r) => r.len(),
        }
    }
}

/// Builds the requests of transport number `shift`.
fn build_requests(
    transport: &'static str,
    shift: i64,
    events: &[OperatorEvent],
    batch: usize,
) -> Result<Requests, LoadError> {
    let chunks = events.chunks(batch.max(1)).map(|c| {
        let copy: Vec<OperatorEvent> = c.iter().map(|e| shifted(e, shift)).collect();
        (c.len(), copy)
    });
    Ok(match transport {
        "otlp-http" => Requests::Http(
            chunks
                .map(|(n, c)| (n, bytes::Bytes::from(otlp_request(&c).encode_to_vec())))
                .collect(),
        ),
        "otlp-grpc" => Requests::Grpc(chunks.map(|(n, c)| (n, otlp_request(&c))).collect()),
        _ => Requests::Forward(
            chunks
                .enumerate()
                .map(|(i, (n, c))| Ok((n, forward_message(&c, &format!("c{shift}-{i}"))?)))
                .collect::<Result<_, LoadError>>()?,
        ),
    })
}

/// What one sender measured.
#[derive(Default)]
struct SenderStats {
    latencies_ms: Vec<f64>,
    records: usize,
    retries: usize,
}

/// Shared by the senders of one transport: the requests, the next index and the deadline.
struct Work {
    requests: Requests,
    next: AtomicUsize,
    deadline: Option<Instant>,
    start: Instant,
    /// Fixed-rate mode: request `i` starts at `start + i * interval`.
    interval: Option<Duration>,
}

impl Work {
    /// [`Work::take`], waiting for the request's slot in fixed-rate mode.
    async fn next_request(&self) -> Option<usize> {
        let i = self.take()?;
        if let Some(interval) = self.interval {
            tokio::time::sleep_until((self.start + interval * i as u32).into()).await;
        }
        Some(i)
    }

    /// The index of the next request to send, or None when done.
    fn take(&self) -> Option<usize> {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        (i < self.requests.len()).then_some(i)
    }
}

fn send_error(transport: &'static str, message: impl ToString) -> LoadError {
    LoadError::Send {
        transport,
        message: message.to_string(),
    }
}

async fn backoff(delay: &mut Duration) {
    tokio::time::sleep(*delay).await;
    *delay = (*delay * 2).min(MAX_BACKOFF);
}

async fn http_sender(work: Arc<Work>, port: u16) -> Result<SenderStats, LoadError> {
    let Requests::Http(requests) = &work.requests else {
        return Ok(SenderStats::default());
    };
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/v1/logs");
    let mut stats = SenderStats::default();
    while let Some(i) = work.next_request().await {
        let Some((n, body)) = requests.get(i) else {
            break;
        };
        let mut delay = FIRST_BACKOFF;
        loop {
            let start = Instant::now();
            let response = client
                .post(&url)
                .header("content-type", "application/x-protobuf")
                .body(body.clone())
                .send()
                .await?;
            let status = response.status().as_u16();
            let _ = response.bytes().await?;
            match status {
                200..=299 => {
                    stats.latencies_ms.push(start.elapsed().as_secs_f64() * 1e3);
                    stats.records += n;
                    break;
                }
                429 | 503 => {
                    stats.retries += 1;
                    backoff(&mut delay).await;
                }
                other => return Err(send_error("otlp-http", format!("status {other}"))),
            }
        }
    }
    Ok(stats)
}

async fn grpc_sender(work: Arc<Work>, port: u16) -> Result<SenderStats, LoadError> {
    let Requests::Grpc(requests) = &work.requests else {
        return Ok(SenderStats::default());
    };
    let mut client = LogsServiceClient::connect(format!("http://127.0.0.1:{port}"))
        .await
        .map_err(|e| send_error("otlp-grpc", e))?
        .max_encoding_message_size(usize::MAX);
    let mut stats = SenderStats::default();
    while let Some(i) = work.next_request().await {
        let Some((n, request)) = requests.get(i) else {
            break;
        };
        let mut delay = FIRST_BACKOFF;
        loop {
            let start = Instant::now();
            match client.export(request.clone()).await {
                Ok(_) => {
                    stats.latencies_ms.push(start.elapsed().as_secs_f64() * 1e3);
                    stats.records += n;
                    break;
                }
                Err(s)
                    if matches!(
                        s.code(),
                        tonic::Code::ResourceExhausted | tonic::Code::Unavailable
                    ) =>
                {
                    stats.retries += 1;
                    backoff(&mut delay).await;
                }
                Err(s) => return Err(send_error("otlp-grpc", s)),
            }
        }
    }
    Ok(stats)
}

/// Reads one MessagePack value (the ack) from `stream`, buffering partial reads in `buf`.
async fn read_ack(
    stream: &mut tokio::net::TcpStream,
    buf: &mut Vec<u8>,
) -> Result<rmpv::Value, LoadError> {
    loop {
        let mut cursor = std::io::Cursor::new(buf.as_slice());
        if let Ok(value) = rmpv::decode::read_value(&mut cursor) {
            let used = cursor.position() as usize;
            buf.drain(..used);
            return Ok(value);
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.map_err(io("read an ack"))?;
        if n == 0 {
            return Err(send_error("forward", "the server closed the connection"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn forward_sender(work: Arc<Work>, port: u16) -> Result<SenderStats, LoadError> {
    let Requests::Forward(requests) = &work.requests else {
        return Ok(SenderStats::default());
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(io("connect to Forward"))?;
    stream.set_nodelay(true).map_err(io("set TCP_NODELAY"))?;
    let mut buf = Vec::new();
    let mut stats = SenderStats::default();
    while let Some(i) = work.next_request().await {
        let Some((n, message)) = requests.get(i) else {
            break;
        };
        let start = Instant::now();
        stream
            .write_all(message)
            .await
            .map_err(io("send a Forward message"))?;
        let ack = read_ack(&mut stream, &mut buf).await?;
        let acked = ack
            .as_map()
            .is_some_and(|m| m.iter().any(|(k, _)| k.as_str() == Some("ack")));
        if !acked {
            return Err(send_error("forward", format!("unexpected reply {ack}")));
        }
        stats.latencies_ms.push(start.elapsed().as_secs_f64() * 1e3);
        stats.records += n;
    }
    Ok(stats)
}

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples.get(i).copied().unwrap_or(f64::NAN)
}

/// Runs `concurrency` senders of one transport over its pre-built requests.
fn run_transport(
    rt: &tokio::runtime::Runtime,
    server: &ServerProcess,
    transport: &'static str,
    requests: Requests,
    opts: &LoadOptions,
) -> Result<LoadResult, LoadError> {
    let pid = server.child.id();
    reset_peak_rss(pid);
    let start = Instant::now();
    let work = Arc::new(Work {
        requests,
        next: AtomicUsize::new(0),
        deadline: opts.seconds.map(|s| start + Duration::from_secs_f64(s)),
        start,
        interval: opts
            .rate
            .filter(|r| *r > 0.0)
            .map(|r| Duration::from_secs_f64(opts.batch.max(1) as f64 / r)),
    });
    let p = server.ports;
    let all = rt.block_on(async {
        let tasks: Vec<_> = (0..opts.concurrency.max(1))
            .map(|_| {
                let work = work.clone();
                tokio::spawn(async move {
                    match transport {
                        "otlp-http" => http_sender(work, p.otlp_http).await,
                        "otlp-grpc" => grpc_sender(work, p.otlp_grpc).await,
                        _ => forward_sender(work, p.forward).await,
                    }
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.push(t.await.map_err(|e| send_error(transport, e))?);
        }
        Ok::<_, LoadError>(all)
    })?;
    let seconds = start.elapsed().as_secs_f64();
    let mut merged = SenderStats::default();
    for stats in all {
        let stats = stats?;
        merged.latencies_ms.extend(stats.latencies_ms);
        merged.records += stats.records;
        merged.retries += stats.retries;
    }
    Ok(LoadResult {
        transport,
        requests: merged.latencies_ms.len(),
        records: merged.records,
        retries: merged.retries,
        seconds,
        records_per_second: merged.records as f64 / seconds,
        p50_ms: percentile(&mut merged.latencies_ms, 0.5),
        p99_ms: percentile(&mut merged.latencies_ms, 0.99),
        server_peak_rss_mib: peak_rss_mib(pid),
    })
}

/// `select count(*) from events` through the server's SQL endpoint.
fn stored_count(port: u16) -> Result<String, LoadError> {
    let response = reqwest::blocking::Client::new()
        .post(format!("http://127.0.0.1:{port}/api/v1/sql"))
        .header("x-license-key", ADMIN_KEY)
        .json(&serde_json::json!({"query": "select count(*) from events"}))
        .send()?;
    let body: serde_json::Value = response.json()?;
    let count = body
        .get("rows")
        .and_then(|r| r.get(0))
        .and_then(|r| r.get(0))
        .map(|v| v.to_string());
    Ok(count.unwrap_or_else(|| body.to_string()))
}

/// Runs the load benchmark in `dir` and writes a report to `out`.
pub fn run_load(
    dir: &Path,
    opts: &LoadOptions,
    out: &mut dyn Write,
) -> Result<Vec<LoadResult>, LoadError> {
    let t = Instant::now();
    let events = generated_events(opts.records);
    let transports: [&'static str; 3] = ["otlp-http", "otlp-grpc", "forward"];
    let mut prepared = Vec::new();
    for (shift, transport) in transports.iter().enumerate() {
        prepared.push((
            *transport,
            build_requests(transport, shift as i64, &events, opts.batch)?,
        ));
    }
    let _ = writeln!(
        out,
        "prepared {} records x {} transports in batches of {} in {:.1}s; {} senders each, {}",
        events.len(),
        transports.len(),
        opts.batch,
        t.elapsed().as_secs_f64(),
        opts.concurrency,
        match opts.rate {
            Some(r) => format!("fixed rate {r:.0} records/s"),
            None => "saturating".to_string(),
        }
    );
    drop(events);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(io("start the runtime"))?;
    let mut results = Vec::new();
    for (transport, requests) in prepared {
        let server_dir = dir.join(transport);
        std::fs::create_dir_all(&server_dir).map_err(io("create the server directory"))?;
        let server = start_server(&server_dir)?;
        let r = run_transport(&rt, &server, transport, requests, opts)?;
        let _ = writeln!(
            out,
            "{:<10} {:>9} records {:>6} requests {:>7.2}s {:>10.0} records/s  p50 {:>7.1} ms  p99 {:>7.1} ms  retries {:>5}  server peak RSS {:>6.1} MiB",
            r.transport,
            r.records,
            r.requests,
            r.seconds,
            r.records_per_second,
            r.p50_ms,
            r.p99_ms,
            r.retries,
            r.server_peak_rss_mib
        );
        let _ = writeln!(
            out,
            "{:<10} accepted {} records; stored events: {}",
            r.transport,
            r.records,
            stored_count(server.ports.http)?
        );
        results.push(r);
    }
    // The floor under the receivers: the writer alone, on the same generated events already
    // built into request-sized Arrow batches, inserted and committed as `serve` does at
    // saturation, on an instance set up as `serve` sets it.
    let floors = crate::bench::writer_floors(
        dir,
        &generate_options(opts.records),
        crate::bench::CommitShape::serve(opts.batch),
    )?;
    let _ = writeln!(
        out,
        "floor: serve's writer thread alone, the same events prebuilt as {}-record batches, {}-event group commits:",
        opts.batch,
        crate::config::PipelineSection::default().batch_size
    );
    for m in &floors {
        crate::bench::print_measurement(out, m);
    }
    Ok(results)
}
