//! Shared by the `tests/receivers*.rs` integration tests: starts the real `mirrord-usage serve`
//! with every receiver on a free loopback port, queries it through its SQL API, runs the real
//! client programs in `tests/clients/`, and makes operator events whose stored rows the tests
//! can predict exactly.
//!
//! The clients are installed by `.ci/install.d/receivers.sh` (a Python venv in
//! `tests/clients/.venv`, Node modules in `tests/clients/node_modules`).
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The API key the test servers require.
pub const KEY: &str = "receivers-test-key";
/// The admin key the harness gives `serve` (SQL and HTTP ingest need it).
pub const ADMIN_KEY: &str = "receivers-test-admin-key";

#[path = "../common/ports.rs"]
mod ports;
pub use ports::free_port;

/// The ports one server instance listens on.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub http: u16,
    pub otlp_grpc: u16,
    pub otlp_http: u16,
    pub forward: u16,
}

impl Ports {
    fn fresh() -> Ports {
        Ports {
            http: free_port(),
            otlp_grpc: free_port(),
            otlp_http: free_port(),
            forward: free_port(),
        }
    }
}

/// A running `mirrord-usage serve`, killed when dropped.
pub struct Server {
    child: Option<Child>,
    pub dir: PathBuf,
    pub ports: Ports,
    /// Extra TOML appended to the generated config (`[tail]`, `[pipeline]`, ...).
    extra: String,
    http: reqwest::blocking::Client,
    starts: usize,
}

impl Server {
    /// Starts a server on `dir/x.duckdb` with receivers on fresh ports and `extra` config.
    pub fn start(dir: &Path, extra: &str) -> Server {
        // The HTTP client's TLS backend needs the process's rustls provider, as in the binary.
        mirrord_usage::tls::install_provider();
        let mut server = Server {
            child: None,
            dir: dir.to_path_buf(),
            ports: Ports::fresh(),
            extra: extra.to_string(),
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("an HTTP client"),
            starts: 0,
        };
        server.launch_on_fresh_ports();
        server
    }

    /// Starts serve on fresh ports. A port picked free can be taken by another test before
    /// serve binds it (tests run in parallel); nobody knows a start's ports before it is up, so
    /// on "Address already in use" take fresh ones and try again.
    fn launch_on_fresh_ports(&mut self) {
        for _ in 0..5 {
            self.ports = Ports::fresh();
            match self.try_launch() {
                Ok(()) => return,
                Err(log) if log.contains("Address already in use") => {}
                Err(log) => panic!("{log}"),
            }
        }
        panic!("serve found no free ports in 5 tries:\n{}", self.log());
    }

    pub fn db(&self) -> PathBuf {
        self.dir.join("x.duckdb")
    }

    /// Starts serve and waits until it answers; `Err` with what it printed if it exits first.
    fn try_launch(&mut self) -> Result<(), String> {
        self.starts += 1;
        let p = self.ports;
        let config = format!(
            "[receivers]\notlp_grpc = \"127.0.0.1:{}\"\notlp_http = \"127.0.0.1:{}\"\nforward = \"127.0.0.1:{}\"\n{}\n",
            p.otlp_grpc, p.otlp_http, p.forward, self.extra
        );
        let config_path = self.dir.join("config.toml");
        std::fs::write(&config_path, config).expect("write the config");
        let log = std::fs::File::create(self.dir.join(format!("serve-{}.log", self.starts)))
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_mirrord-usage"))
            .arg("--db")
            .arg(self.db())
            .args([
                "serve",
                "--bind",
                "127.0.0.1",
                "--port",
                &p.http.to_string(),
                "--license-key",
                KEY,
                "--admin-key",
                ADMIN_KEY,
            ])
            .arg("--config")
            .arg(&config_path)
            .args(["--log-format", "text"])
            .env("RUST_LOG", "info")
            .stdout(Stdio::from(log.try_clone().expect("log file")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start mirrord-usage serve");
        self.child = Some(child);
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                let log =
                    std::fs::read_to_string(self.dir.join(format!("serve-{}.log", self.starts)))
                        .unwrap_or_default();
                return Err(format!("serve exited early ({status}):\n{log}"));
            }
            let up = self.http.get(format!("{}/healthz", self.url())).send();
            if up.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("serve did not come up:\n{}", self.log());
    }

    /// Everything the server printed so far (all starts).
    pub fn log(&self) -> String {
        (1..=self.starts)
            .map(|i| {
                std::fs::read_to_string(self.dir.join(format!("serve-{i}.log"))).unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("\n--- restart ---\n")
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.http)
    }

    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .map(Child::id)
            .expect("a running server")
    }

    /// Runs read-only SQL through `POST /api/v1/sql`; returns the rows.
    pub fn sql(&self, query: &str) -> Vec<Vec<Value>> {
        let response = self
            .http
            .post(format!("{}/api/v1/sql", self.url()))
            .header("x-license-key", ADMIN_KEY)
            .json(&json!({ "query": query }))
            .send()
            .expect("the SQL API answers");
        let status = response.status();
        let body: Value = response.json().expect("JSON from the SQL API");
        assert!(status.is_success(), "{query}: {status} {body}");
        serde_json::from_value(body["rows"].clone()).expect("rows")
    }

    /// The single number a query returns.
    pub fn count(&self, query: &str) -> i64 {
        self.sql(query)[0][0].as_i64().expect("a count")
    }

    /// Polls `query` until it returns `want` or `timeout` passes; returns the last value.
    pub fn wait_count(&self, query: &str, want: i64, timeout: Duration) -> i64 {
        let deadline = Instant::now() + timeout;
        loop {
            let n = self.count(query);
            if n == want || Instant::now() > deadline {
                return n;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM, then waits for a clean exit (the queue is drained and committed).
    pub fn terminate(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                assert!(
                    status.success(),
                    "serve exited with {status}:\n{}",
                    self.log()
                );
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        panic!("serve did not stop within 30 s of SIGTERM:\n{}", self.log());
    }

    /// SIGKILL: no draining, no clean-up, as in a crash.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts again on the same database and config (new ports).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop the server first");
        self.launch_on_fresh_ports();
    }

    /// Peak resident memory of the server so far, in KiB (`VmHWM`).
    pub fn peak_rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

// ------------------------------------------------------------------ operator events

/// Messages in the order a session emits them.
const MESSAGES: [&str; 6] = [
    "Session Start",
    "Copy Target",
    "Port Steal",
    "Port Mirror",
    "Port Release",
    "Session End",
];

/// 2026-02-01T03:55:25Z in microseconds.
const BASE_MICROS: i64 = 1_769_918_125_000_000;

/// One functional operator event, numbered so its stored row can be predicted.
#[derive(Debug, Clone, Copy)]
pub struct OpEvent {
    pub n: usize,
}

impl OpEvent {
    pub fn message(&self) -> &'static str {
        MESSAGES[self.n % MESSAGES.len()]
    }

    /// The stored `kind` (`session_start`, ...).
    pub fn kind(&self) -> String {
        self.message().to_ascii_lowercase().replace(' ', "_")
    }

    pub fn session_id(&self) -> String {
        format!("{:016X}", 0x5E55_0000_0000u64 + self.n as u64)
    }

    pub fn micros(&self) -> i64 {
        BASE_MICROS + self.n as i64 * 1_000 + 7
    }

    pub fn port(&self) -> Option<i64> {
        self.message()
            .starts_with("Port")
            .then_some(8000 + (self.n % 1000) as i64)
    }

    /// RFC 3339 with microseconds, as the operator writes it.
    pub fn timestamp(&self) -> String {
        let secs = self.micros().div_euclid(1_000_000);
        let micros = self.micros().rem_euclid(1_000_000);
        let t = chrono_like(secs);
        format!("{t}.{micros:06}Z")
    }

    /// The event fields (besides message and timestamp).
    pub fn fields(&self) -> serde_json::Map<String, Value> {
        let mut f = serde_json::Map::new();
        f.insert("session_id".into(), json!(self.session_id()));
        f.insert("client_id".into(), json!(format!("client-{}", self.n % 5)));
        f.insert("client_name".into(), json!(format!("Dev {}", self.n % 5)));
        f.insert(
            "client_hostname".into(),
            json!(format!("dev{}.local", self.n % 5)),
        );
        f.insert(
            "client_user".into(),
            json!(format!("dev{}@corp.example", self.n % 5)),
        );
        f.insert("client_cli_version".into(), json!("3.184.0"));
        f.insert("target_type".into(), json!("deployment"));
        f.insert("target_name".into(), json!(format!("svc-{}", self.n % 3)));
        f.insert("target_namespace".into(), json!("shop"));
        if let Some(port) = self.port() {
            f.insert("port".into(), json!(port));
        }
        if self.message() == "Session End" {
            f.insert("session_duration".into(), json!(12.5));
        }
        f
    }

    /// The operator's tracing JSON line (fields nested).
    pub fn json_line(&self) -> String {
        let mut fields = self.fields();
        fields.insert("message".into(), json!(self.message()));
        json!({"timestamp": self.timestamp(), "level": "INFO", "fields": fields, "target": "operator::session"}).to_string()
    }

    /// A CRI container-log line carrying the JSON line.
    pub fn cri_line(&self) -> String {
        format!("{} stdout F {}", self.timestamp(), self.json_line())
    }

    /// A fluentd record as `in_tail` with the CRI parser makes it (JSON still in `log`).
    pub fn fluentd_record(&self) -> Value {
        json!({"log": self.json_line(), "stream": "stdout",
               "kubernetes": {"pod_name": "mirrord-operator-0", "namespace_name": "mirrord"}})
    }

    /// What `tests/clients/otlp_send.py` emits for this event.
    pub fn sdk_record(&self) -> Value {
        json!({"time_unix_nano": self.micros() * 1000, "severity": "INFO", "body": self.message(),
               "attributes": self.fields()})
    }

    /// An OTLP/JSON log record (camelCase) for this event.
    pub fn otlp_json_record(&self) -> Value {
        let attributes: Vec<Value> = self
            .fields()
            .into_iter()
            .map(|(k, v)| json!({"key": k, "value": any_value(&v)}))
            .collect();
        json!({"timeUnixNano": (self.micros() * 1000).to_string(), "severityText": "INFO",
               "body": {"stringValue": self.message()}, "attributes": attributes})
    }

    /// The row the tests expect: `[session_id, kind, port]`.
    pub fn row(&self) -> Vec<Value> {
        vec![
            json!(self.session_id()),
            json!(self.kind()),
            json!(self.port()),
        ]
    }
}

pub fn any_value(v: &Value) -> Value {
    match v {
        Value::String(s) => json!({"stringValue": s}),
        Value::Number(n) if n.is_i64() => json!({"intValue": n.to_string()}),
        Value::Number(n) => json!({"doubleValue": n}),
        Value::Bool(b) => json!({"boolValue": b}),
        other => json!({"stringValue": other.to_string()}),
    }
}

/// `YYYY-MM-DDTHH:MM:SS` for seconds since the epoch (UTC), without a date crate.
fn chrono_like(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Events numbered `from..from + count`.
pub fn events(from: usize, count: usize) -> Vec<OpEvent> {
    (from..from + count).map(|n| OpEvent { n }).collect()
}

/// The expected rows of `events`, ordered like [`ROWS_QUERY`].
pub fn rows(events: &[OpEvent]) -> Vec<Vec<Value>> {
    let mut rows: Vec<_> = events.iter().map(OpEvent::row).collect();
    rows.sort_by(|a, b| a[0].as_str().cmp(&b[0].as_str()));
    rows
}

/// The stored rows to compare with [`rows`].
pub const ROWS_QUERY: &str = "SELECT session_id, kind, port FROM events ORDER BY session_id";

/// An OTLP/JSON `ExportLogsServiceRequest` carrying `records`.
pub fn otlp_json_request(records: Vec<Value>) -> Value {
    json!({"resourceLogs": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "mirrord-operator"}},
            {"key": "service.version", "value": {"stringValue": "3.120.0"}}]},
        "scopeLogs": [{"scope": {"name": "operator::session"}, "logRecords": records}]}]})
}

// ------------------------------------------------------------------ real clients

/// Where the client programs live.
pub fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

/// The venv's Python, with a hint when it is missing.
pub fn python() -> PathBuf {
    let python = clients_dir().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `bash .ci/install.d/receivers.sh` to install the test clients",
        python.display()
    );
    python
}

/// Runs a client program; panics with its output unless it succeeds. Returns its stdout.
pub fn run_client(command: &mut Command) -> String {
    let output = command.output().expect("run a client program");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    stdout
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path).expect("create a file");
    f.write_all(text.as_bytes()).expect("write a file");
    path
}

/// `value` as MessagePack.
pub fn msgpack(value: &rmpv::Value) -> Vec<u8> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, value).expect("encode");
    out
}

/// NDJSON of `values`.
pub fn ndjson(values: impl IntoIterator<Item = Value>) -> String {
    values.into_iter().map(|v| format!("{v}\n")).collect()
}

/// Sends `events` with the OpenTelemetry Python SDK's OTLP exporter (`grpc` or `http`).
pub fn send_with_otel_sdk(
    protocol: &str,
    endpoint: &str,
    events: &[OpEvent],
    dir: &Path,
    gzip: bool,
) -> String {
    let records = Value::Array(events.iter().map(OpEvent::sdk_record).collect());
    let file = write_file(dir, &format!("sdk-{protocol}.json"), &records.to_string());
    let mut cmd = Command::new(python());
    cmd.arg(clients_dir().join("otlp_send.py"))
        .args(["--protocol", protocol, "--endpoint", endpoint])
        .arg("--records")
        .arg(file);
    if gzip {
        cmd.arg("--gzip");
    }
    run_client(&mut cmd)
}

/// Sends NDJSON `records` with `@fluent-org/logger` in `mode`, with acks when `ack`.
pub fn send_with_fluent_node(
    port: u16,
    mode: &str,
    records: &[Value],
    ack: bool,
    shared_key: Option<&str>,
    dir: &Path,
) -> String {
    let file = write_file(
        dir,
        &format!("forward-{mode}.ndjson"),
        &ndjson(records.iter().cloned()),
    );
    let mut cmd = Command::new("node");
    cmd.current_dir(clients_dir())
        .arg("forward_send.mjs")
        .args(["--port", &port.to_string(), "--mode", mode])
        .arg("--records")
        .arg(file);
    if ack {
        cmd.arg("--ack");
    }
    if let Some(key) = shared_key {
        cmd.args(["--shared-key", key]);
    }
    run_client(&mut cmd)
}
