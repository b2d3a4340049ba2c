//! Self-telemetry and trace links, driven through the real binary.
//!
//! - `serve` pointed at a small OTLP collector inside the test (gRPC and HTTP/protobuf, both
//!   built from `opentelemetry-proto`) exports a span per API request that continues the
//!   caller's `traceparent`, a `store.commit` span per batch with its record counts, and the
//!   pipeline metrics; stopping it flushes them and doesn't hang.
//! - Operator records keep their trace ids and baggage members; `GET /api/v1/sessions?trace_id=`
//!   finds the session.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{ADMIN_KEY, KEY, bin, free_port};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use prost::Message;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN: &str = "00f067aa0ba902b7";

// ------------------------------------------------------------------ the test's collector

/// Everything the collector received.
#[derive(Clone, Default)]
struct Received {
    traces: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
    metrics: Arc<Mutex<Vec<ExportMetricsServiceRequest>>>,
}

#[tonic::async_trait]
impl TraceService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.traces.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.metrics.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

async fn grpc_collector(received: Received) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(received.clone()))
            .add_service(MetricsServiceServer::new(received))
            .serve_with_incoming(incoming),
    );
    addr
}

async fn http_collector(received: Received) -> SocketAddr {
    use axum::body::Bytes;
    use axum::routing::post;
    let traces = received.clone();
    let metrics = received;
    let app = axum::Router::new()
        .route(
            "/v1/traces",
            post(move |body: Bytes| async move {
                let request =
                    ExportTraceServiceRequest::decode(body).expect("OTLP/HTTP trace protobuf");
                traces.traces.lock().unwrap().push(request);
                (
                    [("content-type", "application/x-protobuf")],
                    ExportTraceServiceResponse::default().encode_to_vec(),
                )
            }),
        )
        .route(
            "/v1/metrics",
            post(move |body: Bytes| async move {
                let request =
                    ExportMetricsServiceRequest::decode(body).expect("OTLP/HTTP metrics protobuf");
                metrics.metrics.lock().unwrap().push(request);
                (
                    [("content-type", "application/x-protobuf")],
                    ExportMetricsServiceResponse::default().encode_to_vec(),
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

// ------------------------------------------------------------------ reading what arrived

fn text(v: &AnyValue) -> String {
    match &v.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    }
}

fn attr(attrs: &[KeyValue], key: &str) -> Option<String> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .map(text)
}

/// A received span, flattened.
#[derive(Debug, Clone)]
struct SeenSpan {
    name: String,
    trace_id: String,
    parent_span_id: String,
    attributes: Vec<KeyValue>,
    service_name: Option<String>,
}

impl Received {
    fn spans(&self) -> Vec<SeenSpan> {
        let mut out = Vec::new();
        for request in self.traces.lock().unwrap().iter() {
            for rs in &request.resource_spans {
                let service = rs
                    .resource
                    .as_ref()
                    .and_then(|r| attr(&r.attributes, "service.name"));
                for ss in &rs.scope_spans {
                    for s in &ss.spans {
                        out.push(SeenSpan {
                            name: s.name.clone(),
                            trace_id: hex::encode(&s.trace_id),
                            parent_span_id: hex::encode(&s.parent_span_id),
                            attributes: s.attributes.clone(),
                            service_name: service.clone(),
                        });
                    }
                }
            }
        }
        out
    }

    /// The latest value of a sum metric's data point whose attributes include `(key, value)`.
    fn latest_sum(&self, name: &str, key: &str, value: &str) -> Option<i64> {
        let mut latest = None;
        for request in self.metrics.lock().unwrap().iter() {
            for rm in &request.resource_metrics {
                for sm in &rm.scope_metrics {
                    for m in sm.metrics.iter().filter(|m| m.name == name) {
                        let Some(metric::Data::Sum(sum)) = &m.data else {
                            continue;
                        };
                        for p in sum
                            .data_points
                            .iter()
                            .filter(|p| attr(&p.attributes, key).as_deref() == Some(value))
                        {
                            latest = match p.value {
                                Some(number_data_point::Value::AsInt(i)) => Some(i),
                                Some(number_data_point::Value::AsDouble(d)) => Some(d as i64),
                                None => latest,
                            };
                        }
                    }
                }
            }
        }
        latest
    }

    fn metric_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .metrics
            .lock()
            .unwrap()
            .iter()
            .flat_map(|r| r.resource_metrics.iter())
            .flat_map(|rm| rm.scope_metrics.iter())
            .flat_map(|sm| sm.metrics.iter().map(|m| m.name.clone()))
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

// ------------------------------------------------------------------ serve with OTEL_* set

struct Serve {
    child: Child,
    port: u16,
    output: Arc<Mutex<Vec<String>>>,
}

impl Serve {
    fn start(db: &Path, env: &[(&str, String)]) -> Serve {
        let port = free_port();
        let mut cmd = Command::new(bin());
        cmd.arg("--db")
            .arg(db)
            .args([
                "serve",
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--license-key",
                KEY,
                "--admin-key",
                ADMIN_KEY,
                "--no-receivers",
            ])
            .env("RUST_LOG", "warn")
            .env_remove("OTEL_SERVICE_NAME")
            .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .env_remove("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start serve");
        let output = Arc::new(Mutex::new(Vec::new()));
        for pipe in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let out = output.clone();
            std::thread::spawn(move || {
                use std::io::BufRead;
                for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                    out.lock().unwrap().push(line);
                }
            });
        }
        let serve = Serve {
            child,
            port,
            output,
        };
        mirrord_usage::tls::install_provider();
        serve.wait_until("healthy", || {
            reqwest::blocking::get(serve.url("/healthz")).is_ok_and(|r| r.status().is_success())
        });
        serve
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn wait_until(&self, what: &str, mut ok: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "serve: not {what} in time; output:\n{}",
            self.output.lock().unwrap().join("\n")
        );
    }

    /// SIGTERM, then the process must exit by itself (flushing telemetry on the way).
    fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "serve exited with {status}");
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "serve did not stop within 30 s of SIGTERM; output:\n{}",
            self.output.lock().unwrap().join("\n")
        );
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `n` operator events (a session start, a port steal and an end per session) from yesterday,
/// as tracing JSON lines; sessions carry `trace` as their trace id when given.
fn operator_lines(prefix: &str, sessions: usize, trace: Option<&str>) -> String {
    let base = chrono::Utc::now() - chrono::Duration::days(1);
    let mut out = String::new();
    for i in 0..sessions {
        let at = |s: i64| {
            (base + chrono::Duration::seconds(i as i64 * 100 + s))
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        };
        let session = format!("{prefix}{i:04}");
        let trace_field = trace
            .map(|t| format!(",\"trace_id\":\"{t}\",\"span_id\":\"{PARENT_SPAN}\""))
            .unwrap_or_default();
        let common = format!(
            "\"session_id\":\"{session}\",\"client_id\":\"c-{prefix}\",\"client_user\":\"ana@corp.example\",\"target\":\"deployment/api/container/main\",\"target_namespace\":\"shop\"{trace_field}"
        );
        out.push_str(&format!("{{\"timestamp\":\"{}\",\"level\":\"INFO\",\"fields\":{{\"message\":\"Session Start\",{common}}},\"target\":\"operator::session\"}}\n", at(0)));
        out.push_str(&format!("{{\"timestamp\":\"{}\",\"level\":\"INFO\",\"fields\":{{\"message\":\"Port Steal\",\"port\":8080,{common}}},\"target\":\"operator::session\"}}\n", at(5)));
        out.push_str(&format!("{{\"timestamp\":\"{}\",\"level\":\"INFO\",\"fields\":{{\"message\":\"Session End\",\"session_duration\":50,{common}}},\"target\":\"operator::session\"}}\n", at(50)));
    }
    out
}

fn client() -> reqwest::blocking::Client {
    mirrord_usage::tls::install_provider();
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Drives `serve` exporting to `received` and checks what arrives.
fn check_export(db: &Path, endpoint: String, protocol: &str, received: &Received) {
    let serve = Serve::start(
        db,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.to_string()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100".into()),
            ("OTEL_METRIC_EXPORT_INTERVAL", "300".into()),
        ],
    );
    let ingested = client()
        .post(serve.url("/api/v1/ingest"))
        .header("x-license-key", ADMIN_KEY)
        .header("traceparent", format!("00-{TRACE_ID}-{PARENT_SPAN}-01"))
        .header("content-type", "application/x-ndjson")
        .body(operator_lines("TEL", 4, None))
        .send()
        .unwrap();
    assert_eq!(ingested.status().as_u16(), 200, "{:?}", ingested.text());
    let listed = client()
        .get(serve.url("/api/v1/sessions?limit=5"))
        .header("x-license-key", KEY)
        .send()
        .unwrap();
    assert_eq!(listed.status().as_u16(), 200);

    serve.wait_until(
        "exporting the request spans, the commit span and the metrics",
        || {
            let spans = received.spans();
            let request = spans
                .iter()
                .any(|s| s.name == "POST /api/v1/ingest" && s.trace_id == TRACE_ID);
            let commit = spans.iter().any(|s| {
                s.name == "store.commit" && attr(&s.attributes, "stored").as_deref() == Some("12")
            });
            let listing = spans.iter().any(|s| s.name == "GET /api/v1/sessions");
            let stored = received.latest_sum("mirrord_usage.pipeline.events", "outcome", "stored")
                == Some(12);
            let histogram = received
                .metric_names()
                .iter()
                .any(|n| n == "http.server.request.duration");
            request && commit && listing && stored && histogram
        },
    );

    let spans = received.spans();
    let request = spans
        .iter()
        .find(|s| s.name == "POST /api/v1/ingest")
        .unwrap();
    assert_eq!(
        request.parent_span_id, PARENT_SPAN,
        "the request span continues the caller's traceparent"
    );
    assert_eq!(
        attr(&request.attributes, "http.route").as_deref(),
        Some("/api/v1/ingest")
    );
    assert_eq!(
        attr(&request.attributes, "http.request.method").as_deref(),
        Some("POST")
    );
    assert_eq!(
        attr(&request.attributes, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(request.service_name.as_deref(), Some("mirrord-usage"));
    let commit = spans
        .iter()
        .find(|s| {
            s.name == "store.commit" && attr(&s.attributes, "stored").as_deref() == Some("12")
        })
        .unwrap();
    assert_eq!(attr(&commit.attributes, "events").as_deref(), Some("12"));
    assert_eq!(attr(&commit.attributes, "duplicates").as_deref(), Some("0"));
    assert_eq!(attr(&commit.attributes, "rejected").as_deref(), Some("0"));
    let listing = spans.iter().find(|s| s.name == "GET /api/v1/sessions");
    assert!(
        listing.is_some_and(|s| s.parent_span_id.is_empty()),
        "a request without traceparent starts a trace"
    );

    let names = received.metric_names();
    for expected in [
        "http.server.request.duration",
        "mirrord_usage.pipeline.commits",
        "mirrord_usage.pipeline.queue.depth",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "metric {expected} missing from {names:?}"
        );
    }
    serve.stop();
}

#[test]
fn serve_exports_its_spans_and_metrics_over_otlp_grpc() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let received = Received::default();
    let addr = runtime.block_on(grpc_collector(received.clone()));
    let dir = tempfile::tempdir().unwrap();
    check_export(
        &dir.path().join("db.duckdb"),
        format!("http://{addr}"),
        "grpc",
        &received,
    );
}

#[test]
fn serve_exports_its_spans_and_metrics_over_otlp_http() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let received = Received::default();
    let addr = runtime.block_on(http_collector(received.clone()));
    let dir = tempfile::tempdir().unwrap();
    check_export(
        &dir.path().join("db.duckdb"),
        format!("http://{addr}"),
        "http/protobuf",
        &received,
    );
}

#[test]
fn without_an_endpoint_nothing_is_exported_and_serve_still_stops() {
    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::start(
        &dir.path().join("db.duckdb"),
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", String::new())],
    );
    serve.stop();
}

// ------------------------------------------------------------------ trace links in the data

#[test]
fn sessions_are_found_by_the_trace_id_their_records_carried() {
    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::start(&dir.path().join("db.duckdb"), &[]);
    let body = operator_lines("TRC", 2, Some(TRACE_ID)) + &operator_lines("OTH", 3, None);
    let r = client()
        .post(serve.url("/api/v1/ingest"))
        .header("x-license-key", ADMIN_KEY)
        .body(body)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let page: serde_json::Value = client()
        .get(serve.url(&format!(
            "/api/v1/sessions?trace_id={}",
            TRACE_ID.to_ascii_uppercase()
        )))
        .header("x-license-key", KEY)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let mut ids: Vec<&str> = page["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sessionId"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, ["TRC0000", "TRC0001"], "{page}");
    assert!(
        page["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["traceId"] == TRACE_ID)
    );
    serve.stop();
}

/// An OTLP log record as the operator sends it when `mirrord.json` carries `traceparent` and
/// `baggage`: the ids on the record, the baggage members as attributes.
fn baggage_record() -> opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    let s = |v: &str| {
        Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        })
    };
    let kv = |k: &str, v: &str| KeyValue {
        key: k.into(),
        value: s(v),
        ..Default::default()
    };
    let record = LogRecord {
        time_unix_nano: 1_767_000_000_000_000_000,
        body: s("Session Start"),
        attributes: vec![
            kv("session_id", "BAG1"),
            kv("client_user", "ana@corp.example"),
            kv("team", "payments"),
            kv("mirrord-session", "pr-42"),
        ],
        trace_id: hex::decode(TRACE_ID).unwrap(),
        span_id: hex::decode(PARENT_SPAN).unwrap(),
        ..Default::default()
    };
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![record],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[test]
fn otlp_records_keep_trace_ids_and_baggage_members() {
    use mirrord_usage::parse::Mapped;
    use mirrord_usage::parse::otlp::{json_request, proto_request};
    let proto = baggage_record();
    let json: serde_json::Value = serde_json::to_value(&proto).unwrap();
    let mut from_json = json_request(&json).unwrap();
    // The `with-serde` JSON carries ids as hex, as OTLP/JSON does.
    for raw in proto_request(&proto).into_iter().chain(from_json.drain(..)) {
        let Mapped::Event(event) = raw.map() else {
            panic!("the record maps to an event")
        };
        assert_eq!(event.trace_id.as_deref(), Some(TRACE_ID));
        assert_eq!(event.span_id.as_deref(), Some(PARENT_SPAN));
        assert_eq!(event.session_id.as_deref(), Some("BAG1"));
        assert_eq!(
            event.attributes.get("team"),
            Some(&serde_json::json!("payments"))
        );
        assert_eq!(
            event.attributes.get("mirrord-session"),
            Some(&serde_json::json!("pr-42"))
        );
    }
}
