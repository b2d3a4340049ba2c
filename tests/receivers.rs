//! Live ingestion end to end: the real `mirrord-usage serve` receiving from real clients no one
//! here wrote — the OpenTelemetry Python SDK's OTLP exporters (gRPC and HTTP/protobuf), `curl`
//! for OTLP/JSON and NDJSON, `@fluent-org/logger` (Node) for every Forward mode with acks and
//! the shared-key handshake, and `fluent-logger` (Python) for Message mode. Each test checks
//! the exact rows stored, and that the same events over every route are stored once.

#[path = "clients/harness.rs"]
mod harness;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use harness::*;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

/// Runs curl; returns the HTTP status and body.
fn curl(dir: &Path, args: &[&str]) -> (u16, String) {
    let body_file = dir.join("curl-body");
    let out = run_client(
        Command::new("curl")
            .args(["-s", "-S", "--max-time", "60", "-o"])
            .arg(&body_file)
            .args(["-w", "%{http_code}"])
            .args(args),
    );
    let status = out.trim().parse().expect("an HTTP status from curl");
    (
        status,
        std::fs::read_to_string(&body_file).unwrap_or_default(),
    )
}

fn post_file(
    dir: &Path,
    url: &str,
    content_type: &str,
    body: &[u8],
    extra: &[&str],
) -> (u16, String) {
    let file = dir.join("curl-request");
    std::fs::write(&file, body).expect("write the request body");
    let data = format!("@{}", file.display());
    let ct = format!("Content-Type: {content_type}");
    let mut args = vec!["-X", "POST", "-H", &ct, "--data-binary", &data];
    args.extend_from_slice(extra);
    args.push(url);
    curl(dir, &args)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip")
}

#[test]
fn otlp_grpc_from_the_python_sdk_stores_every_record_with_resource_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "");
    let sent = events(0, 600);
    let endpoint = format!("http://127.0.0.1:{}", server.ports.otlp_grpc);
    send_with_otel_sdk("grpc", &endpoint, &sent, dir.path(), true);
    assert_eq!(server.sql(ROWS_QUERY), rows(&sent));
    let meta = server.sql(
        "SELECT DISTINCT source, format, operator_version, cluster, client_user FROM events WHERE session_id = '00005E5500000002'",
    );
    assert_eq!(
        meta,
        vec![vec![
            json!("otlp-grpc"),
            json!("otlp"),
            json!("3.120.0"),
            json!("receivers-test"),
            json!("dev2@corp.example")
        ]]
    );
    assert_eq!(server.count("SELECT count(*) FROM rejects"), 0);
}

#[test]
fn otlp_http_protobuf_from_the_python_sdk_stores_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "");
    let sent = events(10_000, 500);
    let endpoint = format!("http://127.0.0.1:{}/v1/logs", server.ports.otlp_http);
    send_with_otel_sdk("http", &endpoint, &sent, dir.path(), true);
    assert_eq!(server.sql(ROWS_QUERY), rows(&sent));
    assert_eq!(
        server.count("SELECT count(*) FROM events WHERE source = 'otlp-http' AND port IS NOT NULL"),
        250
    );
}

#[test]
fn otlp_http_json_with_curl_is_as_lenient_as_the_collector_and_uses_otlp_status_codes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "");
    let url = format!("http://127.0.0.1:{}/v1/logs", server.ports.otlp_http);
    let d = dir.path();

    // camelCase, gzip.
    let camel = events(0, 4);
    let body = otlp_json_request(camel.iter().map(OpEvent::otlp_json_record).collect()).to_string();
    let (status, reply) = post_file(
        d,
        &url,
        "application/json",
        &gzip(body.as_bytes()),
        &["-H", "Content-Encoding: gzip"],
    );
    assert_eq!((status, reply.as_str()), (200, "{}"));

    // snake_case keys and enum names, as the Collector accepts them: nothing may be lost.
    let snake = events(4, 3);
    let snake_body = body_to_snake_case(&otlp_json_request(
        snake.iter().map(OpEvent::otlp_json_record).collect(),
    ));
    let (status, reply) = post_file(
        d,
        &url,
        "application/json; charset=utf-8",
        snake_body.as_bytes(),
        &[],
    );
    assert_eq!((status, reply.as_str()), (200, "{}"));

    // One bad record among good ones: 200 with partialSuccess, the good ones stored.
    let good = events(7, 2);
    let mut records: Vec<Value> = good.iter().map(OpEvent::otlp_json_record).collect();
    let mut bad = OpEvent { n: 9 }.otlp_json_record();
    bad["attributes"] = json!([{"key": "port", "value": {"stringValue": "not-a-port"}}]);
    records.insert(1, bad);
    let (status, reply) = post_file(
        d,
        &url,
        "application/json",
        otlp_json_request(records).to_string().as_bytes(),
        &[],
    );
    assert_eq!(status, 200, "{reply}");
    let reply: Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(
        reply["partialSuccess"]["rejectedLogRecords"],
        json!("1"),
        "{reply}"
    );
    assert!(
        reply["partialSuccess"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("port"),
        "{reply}"
    );

    let stored: Vec<OpEvent> = camel.into_iter().chain(snake).chain(good).collect();
    assert_eq!(server.sql(ROWS_QUERY), rows(&stored));
    let rejects = server.sql("SELECT source, location, reason FROM rejects");
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0][0], json!("otlp-http"));
    assert_eq!(rejects[0][1], json!("record 2"));
    assert!(
        rejects[0][2].as_str().unwrap().contains("field `port`"),
        "{rejects:?}"
    );

    // Bad data, wrong type, wrong method, unknown path.
    assert_eq!(
        post_file(d, &url, "application/json", b"{\"resourceLogs\": 7}", &[]).0,
        400
    );
    assert_eq!(
        post_file(d, &url, "application/json", b"not json", &[]).0,
        400
    );
    assert_eq!(
        post_file(d, &url, "application/x-protobuf", b"\xff\xff\xff", &[]).0,
        400
    );
    assert_eq!(post_file(d, &url, "text/plain", b"hello", &[]).0, 415);
    assert_eq!(curl(d, &[&url]).0, 405);
    assert_eq!(
        post_file(
            d,
            &url.replace("/v1/logs", "/v1/traces"),
            "application/json",
            b"{}",
            &[]
        )
        .0,
        404
    );
    assert_eq!(
        server.sql(ROWS_QUERY).len(),
        9,
        "refused requests store nothing"
    );
}

#[test]
fn oversized_bodies_are_413_also_after_decompression() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "max_body_bytes = 100000\n");
    let url = format!("http://127.0.0.1:{}/v1/logs", server.ports.otlp_http);
    // 1 MB of spaces compresses to about 1 KB: a small gzip bomb.
    let padded = format!(
        "{}{}",
        " ".repeat(1_000_000),
        otlp_json_request(vec![OpEvent { n: 1 }.otlp_json_record()])
    );
    let (status, _) = post_file(
        dir.path(),
        &url,
        "application/json",
        &gzip(padded.as_bytes()),
        &["-H", "Content-Encoding: gzip"],
    );
    assert_eq!(status, 413);
    assert_eq!(
        post_file(dir.path(), &url, "application/json", padded.as_bytes(), &[]).0,
        413
    );
    let ingest = format!("{}/api/v1/ingest", server.url());
    let key = format!("x-license-key: {ADMIN_KEY}");
    assert_eq!(
        post_file(
            dir.path(),
            &ingest,
            "application/x-ndjson",
            padded.as_bytes(),
            &["-H", &key]
        )
        .0,
        413
    );
    assert_eq!(server.count("SELECT count(*) FROM events"), 0);
}

/// Rewrites an OTLP/JSON body with snake_case keys and `SEVERITY_NUMBER_INFO` enum names.
fn body_to_snake_case(v: &Value) -> String {
    fn snake(key: &str) -> String {
        let mut out = String::new();
        for c in key.chars() {
            if c.is_ascii_uppercase() {
                out.push('_');
                out.push(c.to_ascii_lowercase());
            } else {
                out.push(c);
            }
        }
        out
    }
    fn walk(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut out: serde_json::Map<String, Value> =
                    m.iter().map(|(k, v)| (snake(k), walk(v))).collect();
                if out.contains_key("severity_text") {
                    out.insert("severity_number".into(), json!("SEVERITY_NUMBER_INFO"));
                }
                Value::Object(out)
            }
            Value::Array(a) => Value::Array(a.iter().map(walk).collect()),
            other => other.clone(),
        }
    }
    walk(v).to_string()
}

#[test]
fn http_ingest_takes_ndjson_and_arrays_from_curl_with_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "");
    let url = format!("{}/api/v1/ingest", server.url());
    let key = format!("x-license-key: {ADMIN_KEY}");
    let first = events(0, 5);
    let ndjson_body = ndjson(first.iter().map(OpEvent::fluentd_record));
    let (status, reply) = post_file(
        dir.path(),
        &url,
        "application/x-ndjson",
        ndjson_body.as_bytes(),
        &["-H", &key],
    );
    assert_eq!(status, 200, "{reply}");
    let reply: Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(
        (reply["accepted"].clone(), reply["rejected"].clone()),
        (json!(5), json!(0))
    );

    // fluent-bit `format json`: an array, `date` as a double, gzip.
    let second = events(5, 4);
    let array = Value::Array(
        second
            .iter()
            .map(|e| json!({"date": 1769918125.5, "log": e.cri_line()}))
            .collect(),
    );
    let (status, reply) = post_file(
        dir.path(),
        &url,
        "application/json",
        &gzip(array.to_string().as_bytes()),
        &["-H", &key, "-H", "Content-Encoding: gzip"],
    );
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        post_file(
            dir.path(),
            &url,
            "application/x-ndjson",
            ndjson_body.as_bytes(),
            &[]
        )
        .0,
        401
    );
    let all: Vec<OpEvent> = first.into_iter().chain(second).collect();
    assert_eq!(server.sql(ROWS_QUERY), rows(&all));
    assert_eq!(
        server.count("SELECT count(*) FROM events WHERE source = 'http'"),
        9
    );
}

#[test]
fn forward_every_mode_from_the_fluent_node_client_is_acknowledged_after_commit() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "");
    let port = server.ports.forward;
    let mut all = Vec::new();
    for (i, mode) in [
        "Message",
        "Forward",
        "PackedForward",
        "CompressedPackedForward",
    ]
    .iter()
    .enumerate()
    {
        let batch = events(1_000 * i, 150);
        let records: Vec<Value> = batch.iter().map(OpEvent::fluentd_record).collect();
        send_with_fluent_node(port, mode, &records, true, None, dir.path());
        // Acknowledged means committed: the rows are there without waiting.
        let query = format!(
            "SELECT count(*) FROM events WHERE session_id BETWEEN '{}' AND '{}'",
            batch[0].session_id(),
            batch[149].session_id()
        );
        assert_eq!(server.count(&query), 150, "{mode}");
        all.extend(batch);
    }
    assert_eq!(server.sql(ROWS_QUERY), rows(&all));
    assert_eq!(
        server.count("SELECT count(*) FROM events WHERE source = 'forward'"),
        600
    );
    assert_eq!(server.count("SELECT count(*) FROM events WHERE attributes->>'$.kubernetes.pod_name' = 'mirrord-operator-0'"), 600);
}

#[test]
fn forward_shared_key_handshake_admits_the_right_key_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "forward_shared_key = \"s3cret\"\n");
    let records: Vec<Value> = events(0, 20).iter().map(OpEvent::fluentd_record).collect();
    send_with_fluent_node(
        server.ports.forward,
        "PackedForward",
        &records,
        true,
        Some("s3cret"),
        dir.path(),
    );
    assert_eq!(server.count("SELECT count(*) FROM events"), 20);

    let file = write_file(
        dir.path(),
        "wrong-key.ndjson",
        &ndjson(events(100, 5).iter().map(OpEvent::fluentd_record)),
    );
    let wrong = Command::new("timeout")
        .args([
            "20",
            "node",
            "forward_send.mjs",
            "--mode",
            "Forward",
            "--ack",
            "--shared-key",
            "wrong",
        ])
        .args(["--port", &server.ports.forward.to_string()])
        .arg("--records")
        .arg(file)
        .current_dir(clients_dir())
        .output()
        .unwrap();
    assert!(
        !wrong.status.success(),
        "a wrong shared key must not be accepted"
    );
    assert_eq!(server.count("SELECT count(*) FROM events"), 20);
    assert!(
        server.log().contains("shared_key mismatch"),
        "{}",
        server.log()
    );
}

#[test]
fn forward_message_mode_from_python_fluent_logger() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "");
    let sent = events(0, 120);
    let file = write_file(
        dir.path(),
        "fluent.ndjson",
        &ndjson(sent.iter().map(OpEvent::fluentd_record)),
    );
    run_client(
        Command::new(python())
            .arg(clients_dir().join("fluent_send.py"))
            .args(["--port", &server.ports.forward.to_string()])
            .arg("--records")
            .arg(file),
    );
    // fluent-logger has no acks: wait for the rows.
    assert_eq!(
        server.wait_count("SELECT count(*) FROM events", 120, WAIT),
        120
    );
    assert_eq!(server.sql(ROWS_QUERY), rows(&sent));
}

#[test]
fn the_same_events_over_three_transports_are_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "");
    let sent = events(0, 240);
    send_with_otel_sdk(
        "grpc",
        &format!("http://127.0.0.1:{}", server.ports.otlp_grpc),
        &sent,
        dir.path(),
        false,
    );
    let records: Vec<Value> = sent.iter().map(OpEvent::fluentd_record).collect();
    send_with_fluent_node(
        server.ports.forward,
        "PackedForward",
        &records,
        true,
        None,
        dir.path(),
    );
    let key = format!("x-license-key: {ADMIN_KEY}");
    // fluent-bit `json_lines` without a CRI parser: the raw container line in `log`.
    let body = ndjson(
        sent.iter()
            .map(|e| json!({"date": 1769918125.5, "log": e.cri_line()})),
    );
    let (status, reply) = post_file(
        dir.path(),
        &format!("{}/api/v1/ingest", server.url()),
        "application/x-ndjson",
        body.as_bytes(),
        &["-H", &key],
    );
    assert_eq!(status, 200, "{reply}");
    let reply: Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(reply["duplicates"], json!(240), "{reply}");
    assert_eq!(server.sql(ROWS_QUERY), rows(&sent));
    assert_eq!(server.count("SELECT count(*) FROM events"), 240);
}

#[test]
fn forward_bad_records_are_rejected_with_reasons_and_the_good_ones_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "");
    let good = events(0, 10);
    let mut records: Vec<Value> = good.iter().map(OpEvent::fluentd_record).collect();
    let bad = |log: &str| json!({"log": log, "stream": "stdout", "kubernetes": {"pod_name": "mirrord-operator-0"}});
    records.insert(
        3,
        bad(r#"{"timestamp": "yesterday", "fields": {"message": "Session Start"}}"#),
    );
    records.insert(7, bad("{broken json"));
    send_with_fluent_node(
        server.ports.forward,
        "Forward",
        &records,
        true,
        None,
        dir.path(),
    );
    assert_eq!(server.sql(ROWS_QUERY), rows(&good));
    let reasons = server.sql("SELECT reason FROM rejects WHERE source = 'forward' ORDER BY reason");
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons
            .iter()
            .any(|r| r[0].as_str().unwrap().contains("timestamp")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r[0].as_str().unwrap().contains("JSON")),
        "{reasons:?}"
    );
}

#[test]
fn sigterm_drains_and_commits_what_was_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(
        dir.path(),
        "[pipeline]\nflush_interval_ms = 2000\nbatch_size = 100000\n",
    );
    let sent = events(0, 50);
    let file = write_file(
        dir.path(),
        "fluent.ndjson",
        &ndjson(sent.iter().map(OpEvent::fluentd_record)),
    );
    run_client(
        Command::new(python())
            .arg(clients_dir().join("fluent_send.py"))
            .args(["--port", &server.ports.forward.to_string()])
            .arg("--records")
            .arg(file),
    );
    // The writer waits up to 2 s to fill a batch; SIGTERM must still commit it.
    std::thread::sleep(Duration::from_millis(300));
    server.terminate();
    server.restart();
    assert_eq!(
        server.count("SELECT count(*) FROM events"),
        50,
        "{}",
        server.log()
    );
}

#[test]
fn the_documented_pipeline_config_sets_every_option_to_its_default() {
    use mirrord_usage::config::Config;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/mirrord-usage.toml");
    let loaded = Config::load(Some(&path), Vec::<(String, String)>::new())
        .expect("the documented config loads");
    assert_eq!(loaded, Config::default());
    let documented: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
    let defaults = toml::Table::try_from(Config::default()).unwrap();
    for (section, keys) in defaults {
        let keys = keys.as_table().cloned().unwrap_or_default();
        for key in keys.keys() {
            let present = documented.get(&section).and_then(|s| s.get(key)).is_some();
            assert!(
                present,
                "pipelines/mirrord-usage.toml does not document [{section}] {key}"
            );
        }
    }
}

/// Encodes a MessagePack value.

#[test]
fn forward_heartbeats_are_ignored_and_chunks_are_acked_in_order_after_commit() {
    use rmpv::Value as M;
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "");
    let mut socket = std::net::TcpStream::connect(("127.0.0.1", server.ports.forward)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let entry = |e: &OpEvent| {
        let secs = (e.micros() / 1_000_000) as u32;
        let nanos = (e.micros() % 1_000_000 * 1000) as u32;
        let time = M::Ext(0, [secs.to_be_bytes(), nanos.to_be_bytes()].concat());
        let record = M::Map(vec![
            (M::from("log"), M::from(e.json_line())),
            (M::from("stream"), M::from("stdout")),
            (M::from("_p"), M::from("F")),
        ]);
        M::Array(vec![time, record])
    };
    let message = |events: &[OpEvent], chunk: &str| {
        let option = M::Map(vec![
            (M::from("chunk"), M::from(chunk)),
            (M::from("size"), M::from(events.len())),
        ]);
        M::Array(vec![
            M::from("kube.op"),
            M::Array(events.iter().map(entry).collect()),
            option,
        ])
    };
    let (first, second) = (events(0, 30), events(30, 20));
    let mut bytes = msgpack(&M::Nil);
    bytes.extend(msgpack(&message(&first, "Y2h1bmstMQ==")));
    bytes.extend(msgpack(&M::Nil));
    bytes.extend(msgpack(&message(&second, "Y2h1bmstMg==")));
    // Written in small pieces, as a slow network would deliver them.
    for piece in bytes.chunks(97) {
        socket.write_all(piece).unwrap();
    }
    let mut acks = Vec::new();
    let mut buf = Vec::new();
    while acks.len() < 2 {
        let mut chunk = [0u8; 256];
        let n = socket.read(&mut chunk).expect("an ack within 20 s");
        assert!(n > 0, "the server closed the connection");
        buf.extend_from_slice(&chunk[..n]);
        // Decode whole acks; keep an incomplete one for the next read.
        loop {
            let mut cursor = &buf[..];
            let Ok(value) = rmpv::decode::read_value(&mut cursor) else {
                break;
            };
            acks.push(value);
            buf = cursor.to_vec();
        }
    }
    let ack = |c: &str| M::Map(vec![(M::from("ack"), M::from(c))]);
    assert_eq!(acks, vec![ack("Y2h1bmstMQ=="), ack("Y2h1bmstMg==")]);
    // Acknowledged means committed.
    let all: Vec<OpEvent> = first.into_iter().chain(second).collect();
    assert_eq!(server.sql(ROWS_QUERY), rows(&all));
}

#[test]
fn a_busy_receiver_port_stops_start_up_with_a_message_that_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    // Empty addresses turn the other receivers off.
    let config = format!(
        "[receivers]\nforward = \"127.0.0.1:{port}\"\notlp_grpc = \"\"\notlp_http = \"\"\n"
    );
    let config = write_file(dir.path(), "busy.toml", &config);
    let out = Command::new(env!("CARGO_BIN_EXE_mirrord-usage"))
        .arg("--db")
        .arg(dir.path().join("x.duckdb"))
        .args([
            "serve",
            "--bind",
            "127.0.0.1",
            "--port",
            &free_port().to_string(),
            "--config",
        ])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "serve started although its Forward port is taken"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("127.0.0.1:{port}")) && stderr.contains("forward"),
        "{stderr}"
    );
}

/// A JSON object's entries in order, duplicates kept (the flattened tracing line has two
/// `target` keys: the mirrord target and tracing's module path).
fn entries(line: &str) -> Vec<(String, Value)> {
    struct Entries;
    impl<'de> serde::de::Visitor<'de> for Entries {
        type Value = Vec<(String, Value)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(entry) = map.next_entry::<String, Value>()? {
                out.push(entry);
            }
            Ok(out)
        }
    }
    use serde::Deserializer;
    serde_json::Deserializer::from_str(line)
        .deserialize_map(Entries)
        .expect("a JSON object")
}

/// How a Collector's `filelog` receiver with a JSON parser ships a tracing line: the time as
/// `timeUnixNano`, the level as severity, the message as the body, every other key (in order,
/// duplicates kept) as an attribute.
struct OtlpLine {
    nanos: i64,
    level: String,
    message: String,
    attributes: Vec<(String, Value)>,
}

impl OtlpLine {
    fn of(line: &str) -> OtlpLine {
        let mut out = OtlpLine {
            nanos: 0,
            level: String::new(),
            message: String::new(),
            attributes: Vec::new(),
        };
        for (k, v) in entries(line) {
            match (k.as_str(), v.as_str()) {
                ("timestamp", Some(t)) => {
                    out.nanos = chrono::DateTime::parse_from_rfc3339(t)
                        .unwrap()
                        .timestamp_nanos_opt()
                        .unwrap()
                }
                ("level", Some(l)) => out.level = l.to_string(),
                ("message", Some(m)) => out.message = m.to_string(),
                _ => out.attributes.push((k, v)),
            }
        }
        out
    }

    fn json(&self) -> Value {
        let attributes: Vec<Value> = self
            .attributes
            .iter()
            .map(|(k, v)| json!({"key": k, "value": any_value(v)}))
            .collect();
        json!({"timeUnixNano": self.nanos.to_string(), "severityText": self.level,
               "body": {"stringValue": self.message}, "attributes": attributes})
    }

    fn proto(&self) -> opentelemetry_proto::tonic::logs::v1::LogRecord {
        use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value as V};
        let value = |v: &Value| {
            let v = match v {
                Value::String(s) => V::StringValue(s.clone()),
                Value::Bool(b) => V::BoolValue(*b),
                Value::Number(n) if n.is_i64() => V::IntValue(n.as_i64().unwrap()),
                Value::Number(n) => V::DoubleValue(n.as_f64().unwrap()),
                other => V::StringValue(other.to_string()),
            };
            Some(AnyValue { value: Some(v) })
        };
        opentelemetry_proto::tonic::logs::v1::LogRecord {
            time_unix_nano: self.nanos as u64,
            severity_text: self.level.clone(),
            body: value(&Value::String(self.message.clone())),
            attributes: self
                .attributes
                .iter()
                .map(|(k, v)| KeyValue {
                    key: k.clone(),
                    value: value(v),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }
}

fn proto_request(
    lines: &[OtlpLine],
) -> opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest {
    use opentelemetry_proto::tonic::logs::v1::{ResourceLogs, ScopeLogs};
    opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: lines.iter().map(OtlpLine::proto).collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// The pipeline's count of live records that were already stored (`/metrics`).
fn live_duplicates(server: &Server) -> i64 {
    let text = reqwest::blocking::Client::new()
        .get(format!("{}/metrics", server.url()))
        .header("x-license-key", KEY)
        .send()
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .find(|l| {
            l.starts_with("mirrord_usage_ingest_records")
                && l.contains("\"live\"")
                && l.contains("\"duplicate\"")
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no live duplicate counter in /metrics:\n{text}")) as i64
}

#[test]
fn the_flattened_sample_is_stored_once_whatever_the_route() {
    use prost::Message;
    let dir = tempfile::tempdir().unwrap();
    let sample = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/tracing-flat.log"),
    )
    .unwrap();
    let lines: Vec<&str> = sample.lines().filter(|l| !l.trim().is_empty()).collect();
    // By hand: six functional events (Session Start .. Session End), each with the mirrord
    // target and tracing's `operator::session`; the first line ("Loaded license!") is not one.
    let functional = lines
        .iter()
        .filter(|l| l.contains("\"target\":\"deployment/") && l.contains("operator::session"))
        .count();
    assert_eq!(functional, 6);
    let want = functional as i64;
    // Routes that need the database to themselves: the CLI's file and stdin ingest.
    let db = dir.path().join("x.duckdb");
    let file = write_file(dir.path(), "sample.log", &sample);
    let cli = |args: &[&str], stdin: Option<&str>| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mirrord-usage"))
            .arg("--db")
            .arg(&db)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(text) = stdin {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        drop(child.stdin.take());
        assert!(child.wait_with_output().unwrap().status.success());
    };
    cli(&["ingest", file.to_str().unwrap()], None);
    cli(&["ingest", "-"], Some(&sample));
    // Then serve, tailing a copy of the file as well.
    let tailed = write_file(dir.path(), "tailed.log", &sample);
    let server = Server::start(
        dir.path(),
        &format!(
            "[tail]\npaths = [{:?}]\npoll_interval_ms = 100\n",
            tailed.display().to_string()
        ),
    );
    assert_eq!(server.count("SELECT count(*) FROM events"), want);
    let stored_once = |route: &str, before: i64| {
        let deadline = std::time::Instant::now() + WAIT;
        while live_duplicates(&server) < before + want && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(
            (
                live_duplicates(&server),
                server.count("SELECT count(*) FROM events")
            ),
            (before + want, want),
            "{route}: each of the six must arrive and be found already stored; rejects: {:?}",
            server.sql("SELECT source, reason, excerpt FROM rejects")
        );
        before + want
    };
    let mut dups = stored_once("tail", 0);
    let key = format!("x-license-key: {ADMIN_KEY}");
    let ingest = format!("{}/api/v1/ingest", server.url());
    for l in lines.iter().filter(|l| l.contains("operator::session")) {
        let (status, reply) = post_file(
            dir.path(),
            &ingest,
            "application/json",
            l.as_bytes(),
            &["-H", &key],
        );
        assert_eq!(status, 200, "{reply}");
    }
    dups = stored_once("POST /api/v1/ingest, one object each", dups);
    let array = format!("[{}]", lines.join(","));
    let (status, reply) = post_file(
        dir.path(),
        &ingest,
        "application/json",
        array.as_bytes(),
        &["-H", &key],
    );
    assert_eq!(status, 200, "{reply}");
    dups = stored_once("POST /api/v1/ingest, a JSON array", dups);
    let (status, reply) = post_file(
        dir.path(),
        &ingest,
        "application/x-ndjson",
        sample.as_bytes(),
        &["-H", &key],
    );
    assert_eq!(status, 200, "{reply}");
    dups = stored_once("POST /api/v1/ingest, NDJSON", dups);
    // OTLP: the Collector's shape, over HTTP (JSON and protobuf) and gRPC.
    let otlp: Vec<OtlpLine> = lines
        .iter()
        .filter(|l| l.contains("operator::session"))
        .map(|l| OtlpLine::of(l))
        .collect();
    let logs = format!("http://127.0.0.1:{}/v1/logs", server.ports.otlp_http);
    let body = otlp_json_request(otlp.iter().map(OtlpLine::json).collect());
    let (status, reply) = post_file(
        dir.path(),
        &logs,
        "application/json",
        body.to_string().as_bytes(),
        &[],
    );
    assert_eq!(status, 200, "{reply}");
    dups = stored_once("OTLP/HTTP JSON", dups);
    let proto = proto_request(&otlp).encode_to_vec();
    let (status, reply) = post_file(dir.path(), &logs, "application/x-protobuf", &proto, &[]);
    assert_eq!(status, 200, "{reply}");
    dups = stored_once("OTLP/HTTP protobuf", dups);
    let endpoint = format!("http://127.0.0.1:{}", server.ports.otlp_grpc);
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
        let mut client = LogsServiceClient::connect(endpoint).await.unwrap();
        client.export(proto_request(&otlp)).await.unwrap();
    });
    dups = stored_once("OTLP/gRPC", dups);
    // Forward, every mode, as fluentd's tail input ships a container line: the line in `log`.
    let records: Vec<Value> = lines
        .iter()
        .map(|l| json!({"log": l, "stream": "stdout"}))
        .collect();
    for mode in [
        "Message",
        "Forward",
        "PackedForward",
        "CompressedPackedForward",
    ] {
        send_with_fluent_node(server.ports.forward, mode, &records, true, None, dir.path());
        dups = stored_once(&format!("Forward {mode}"), dups);
    }
    assert_eq!(server.count("SELECT count(*) FROM rejects"), 0);
    assert_eq!(
        server.count("SELECT count(DISTINCT target) FROM events WHERE target LIKE 'deployment/%'"),
        1,
        "the mirrord target survives every route"
    );
}
