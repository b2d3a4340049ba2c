//! Back-pressure end to end: with a one-submission queue, concurrent senders flood the real
//! server faster than it commits. HTTP senders see 429 with `Retry-After`, gRPC senders see
//! RESOURCE_EXHAUSTED with `RetryInfo`, Forward senders just wait for their acks; everything
//! that was accepted is stored exactly once, and the server's memory stays bounded.

#[path = "clients/harness.rs"]
mod harness;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use harness::*;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use serde_json::Value;

/// A queue of one submission and small batches: senders are pushed back quickly.
const TINY_QUEUE: &str =
    "[pipeline]\nqueue_capacity = 1\nbatch_size = 200\nflush_interval_ms = 20\n";

/// The server's peak RSS must stay under this while flooded.
const MAX_RSS_KIB: u64 = 768 * 1024;

const SENDERS: usize = 8;
const REQUESTS_PER_SENDER: usize = 40;
const EVENTS_PER_REQUEST: usize = 100;
const TOTAL: usize = SENDERS * REQUESTS_PER_SENDER * EVENTS_PER_REQUEST;

/// The events of request `r` of sender `s`.
fn request_events(s: usize, r: usize) -> Vec<OpEvent> {
    events(
        (s * REQUESTS_PER_SENDER + r) * EVENTS_PER_REQUEST,
        EVENTS_PER_REQUEST,
    )
}

#[test]
fn an_otlp_http_flood_sees_429_and_everything_accepted_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), TINY_QUEUE);
    let url = format!("http://127.0.0.1:{}/v1/logs", server.ports.otlp_http);
    let refused = Arc::new(AtomicU64::new(0));
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let (url, refused) = (url.clone(), refused.clone());
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                for r in 0..REQUESTS_PER_SENDER {
                    let body = otlp_json_request(
                        request_events(s, r)
                            .iter()
                            .map(OpEvent::otlp_json_record)
                            .collect(),
                    );
                    send_until_accepted(&client, &url, &body.to_string(), &refused);
                }
            })
        })
        .collect();
    for s in senders {
        s.join().expect("a sender thread");
    }
    let refused = refused.load(Ordering::Relaxed);
    eprintln!("OTLP/HTTP flood: {refused} requests refused with 429, then accepted");
    assert!(refused > 0, "the flood was never pushed back");
    assert_eq!(server.count("SELECT count(*) FROM events"), TOTAL as i64);
    assert_eq!(
        server.count("SELECT count(DISTINCT session_id) FROM events"),
        TOTAL as i64
    );
    let rss = server.peak_rss_kib();
    eprintln!("peak RSS of the server under the flood: {} MiB", rss / 1024);
    assert!(rss < MAX_RSS_KIB, "peak RSS {rss} KiB");
}

/// Posts until 200; a 429/503 must carry `Retry-After` (the test retries sooner than it says).
fn send_until_accepted(
    client: &reqwest::blocking::Client,
    url: &str,
    body: &str,
    refused: &AtomicU64,
) {
    for _ in 0..2_000 {
        let response = client
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .expect("the receiver answers");
        match response.status().as_u16() {
            200 => return,
            429 | 503 => {
                assert!(
                    response.headers().contains_key("retry-after"),
                    "push-back without Retry-After"
                );
                refused.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(10));
            }
            other => panic!("unexpected status {other}: {:?}", response.text()),
        }
    }
    panic!("a request was never accepted");
}

fn attribute(key: &str, value: &Value) -> KeyValue {
    let value = match value {
        Value::Number(n) if n.is_i64() => {
            any_value::Value::IntValue(n.as_i64().unwrap_or_default())
        }
        Value::Number(n) => any_value::Value::DoubleValue(n.as_f64().unwrap_or_default()),
        other => any_value::Value::StringValue(other.as_str().unwrap_or_default().to_string()),
    };
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn proto_request(events: &[OpEvent]) -> ExportLogsServiceRequest {
    let log_records = events
        .iter()
        .map(|e| LogRecord {
            time_unix_nano: (e.micros() * 1000) as u64,
            severity_text: "INFO".into(),
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(e.message().into())),
            }),
            attributes: e.fields().iter().map(|(k, v)| attribute(k, v)).collect(),
            ..Default::default()
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[test]
fn an_otlp_grpc_flood_sees_resource_exhausted_with_retry_info() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), TINY_QUEUE);
    let endpoint = format!("http://127.0.0.1:{}", server.ports.otlp_grpc);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let refused = runtime.block_on(async move {
        let mut tasks = Vec::new();
        for s in 0..SENDERS {
            let endpoint = endpoint.clone();
            tasks.push(tokio::spawn(async move {
                let mut client = LogsServiceClient::connect(endpoint)
                    .await
                    .expect("connect over gRPC");
                let mut refused = 0u64;
                for r in 0..REQUESTS_PER_SENDER {
                    let request = proto_request(&request_events(s, r));
                    loop {
                        match client.export(request.clone()).await {
                            Ok(reply) => {
                                assert!(reply.into_inner().partial_success.is_none());
                                break;
                            }
                            Err(status) if status.code() == tonic::Code::ResourceExhausted => {
                                assert!(
                                    !status.details().is_empty(),
                                    "RESOURCE_EXHAUSTED without RetryInfo"
                                );
                                refused += 1;
                                tokio::time::sleep(Duration::from_millis(10)).await;
                            }
                            Err(status) => panic!("unexpected gRPC status {status:?}"),
                        }
                    }
                }
                refused
            }));
        }
        let mut refused = 0;
        for t in tasks {
            refused += t.await.expect("a sender task");
        }
        refused
    });
    eprintln!("OTLP/gRPC flood: {refused} requests refused with RESOURCE_EXHAUSTED, then accepted");
    assert!(refused > 0, "the flood was never pushed back");
    assert_eq!(server.count("SELECT count(*) FROM events"), TOTAL as i64);
    assert_eq!(
        server.count("SELECT count(DISTINCT session_id) FROM events"),
        TOTAL as i64
    );
    let rss = server.peak_rss_kib();
    eprintln!("peak RSS of the server under the flood: {} MiB", rss / 1024);
    assert!(rss < MAX_RSS_KIB, "peak RSS {rss} KiB");
}

#[test]
fn forward_senders_wait_for_withheld_acks_and_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), TINY_QUEUE);
    let sent = events(0, 4_000);
    let records: Vec<Value> = sent.iter().map(OpEvent::fluentd_record).collect();
    let halves = records
        .chunks(2_000)
        .map(<[Value]>::to_vec)
        .collect::<Vec<_>>();
    let port = server.ports.forward;
    let senders: Vec<_> = halves
        .into_iter()
        .enumerate()
        .map(|(i, half)| {
            let dir = dir.path().join(format!("sender-{i}"));
            std::fs::create_dir(&dir).unwrap();
            std::thread::spawn(move || {
                send_with_fluent_node(port, "PackedForward", &half, true, None, &dir)
            })
        })
        .collect();
    for s in senders {
        s.join().expect("a Forward sender");
    }
    // Every emit resolved on its ack, so every record is already committed.
    assert_eq!(server.count("SELECT count(*) FROM events"), 4_000);
}

#[test]
fn an_otlp_grpc_request_over_tonics_4_mib_default_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "");
    let sent = events(0, 20_000);
    let request = proto_request(&sent);
    let size = prost::Message::encoded_len(&request);
    assert!(size > 5 << 20, "the request is only {size} bytes");
    let endpoint = format!("http://127.0.0.1:{}", server.ports.otlp_grpc);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let mut client = LogsServiceClient::connect(endpoint)
            .await
            .expect("connect over gRPC");
        let reply = client
            .export(request)
            .await
            .expect("a 5+ MiB export is accepted");
        assert!(reply.into_inner().partial_success.is_none());
    });
    assert_eq!(server.count("SELECT count(*) FROM events"), 20_000);
}
