//! Hostile input at every receiver: bodies that are small on the wire and huge once decoded
//! (gzip of millions of empty OTLP records, msgpack `nil`s, JSON `{}`s), silent connections and
//! connection floods. Each is refused early with the documented answer (HTTP 413, gRPC
//! INVALID_ARGUMENT, Forward connection closed), the reason is logged, the server's peak memory
//! stays bounded, and it goes on storing good records afterwards.

#[path = "clients/harness.rs"]
mod harness;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use harness::*;

/// Peak RSS allowed while refusing a bomb. The decompressed body itself may take up to
/// `max_body_bytes` (64 MiB); the 57 KiB bomb of the issue took 11.6 GiB before the limits.
const RSS_BOUND_KIB: u64 = 512 * 1024;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip")
}

fn varint(mut n: usize, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// An `ExportLogsServiceRequest` of one ResourceLogs holding one ScopeLogs holding `records`
/// empty LogRecords (each `0x12 0x00` on the wire: field 2, length 0), encoded by hand.
fn empty_records_request(records: usize) -> Vec<u8> {
    let mut scope = Vec::with_capacity(records * 2 + 8);
    for _ in 0..records {
        scope.extend_from_slice(&[0x12, 0x00]);
    }
    let mut resource = vec![0x12];
    varint(scope.len(), &mut resource);
    resource.extend_from_slice(&scope);
    drop(scope);
    let mut request = vec![0x0a];
    varint(resource.len(), &mut request);
    request.extend_from_slice(&resource);
    request
}

/// 30 million empty records: 60 MB decoded (under the default 64 MiB body limit), ~60 KB gzip.
const BOMB_RECORDS: usize = 30_000_000;

fn assert_bounded(server: &Server, what: &str) {
    let peak = server.peak_rss_kib();
    eprintln!("{what}: server peak RSS {} MiB", peak / 1024);
    assert!(
        peak > 0 && peak < RSS_BOUND_KIB,
        "{what}: peak RSS {peak} KiB, bound {RSS_BOUND_KIB} KiB"
    );
}

/// The server still stores a good record over OTLP/HTTP JSON after refusing a bomb.
fn still_serves(server: &Server, n: usize) {
    let body = otlp_json_request(vec![OpEvent { n }.otlp_json_record()]);
    let status = reqwest::blocking::Client::new()
        .post(format!(
            "http://127.0.0.1:{}/v1/logs",
            server.ports.otlp_http
        ))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .expect("post a good record")
        .status();
    assert_eq!(status.as_u16(), 200);
}

#[test]
fn an_otlp_http_gzip_bomb_of_empty_records_is_413_before_decoding() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "");
    let bomb = gzip(&empty_records_request(BOMB_RECORDS));
    assert!(bomb.len() < 100 * 1024, "the bomb is {} bytes", bomb.len());
    let response = reqwest::blocking::Client::new()
        .post(format!(
            "http://127.0.0.1:{}/v1/logs",
            server.ports.otlp_http
        ))
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(bomb)
        .send()
        .expect("post the bomb");
    assert_eq!(response.status().as_u16(), 413);
    let text = response.text().unwrap_or_default();
    assert!(
        text.contains("max_records_per_request"),
        "the reply names the limit: {text}"
    );
    assert_bounded(&server, "OTLP/HTTP bomb");
    assert!(
        server.log().contains("refused before decoding"),
        "{}",
        server.log()
    );
    still_serves(&server, 0);
    assert_eq!(
        server.wait_count("SELECT count(*) FROM events", 1, Duration::from_secs(30)),
        1
    );
}

#[test]
fn an_otlp_grpc_gzip_bomb_is_invalid_argument_and_records_past_the_limit_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    // A low record limit, so the second case (a real, small request) is over it too.
    let server = Server::start(dir.path(), "max_records_per_request = 1000\n");
    let send = |records: usize| {
        let file = dir.path().join("grpc-body.bin");
        std::fs::write(&file, empty_records_request(records)).unwrap();
        run_client(
            Command::new(python())
                .arg(clients_dir().join("grpc_raw.py"))
                .args([
                    "--endpoint",
                    &format!("127.0.0.1:{}", server.ports.otlp_grpc),
                ])
                .arg("--body")
                .arg(&file),
        )
    };
    let outcome = send(BOMB_RECORDS);
    assert!(
        outcome.starts_with("INVALID_ARGUMENT") && outcome.contains("max_records_per_request"),
        "{outcome}"
    );
    assert_bounded(&server, "OTLP/gRPC bomb");
    let outcome = send(1001);
    assert!(outcome.starts_with("INVALID_ARGUMENT"), "{outcome}");
    // 1000 empty records are within the limit: decoded, and each a reject (no body).
    assert_eq!(send(1000).trim(), "OK");
    assert_eq!(server.count("SELECT count(*) FROM events"), 0);
}

#[test]
fn a_json_bomb_at_the_ingest_api_and_at_otlp_http_is_413() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "");
    // 20 million `{}` in an array: 60 MB, ~60 KB gzip.
    let mut body = Vec::with_capacity(60_000_010);
    body.push(b'[');
    for i in 0..20_000_000 {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(b"{}");
    }
    body.push(b']');
    let bomb = gzip(&body);
    drop(body);
    let client = reqwest::blocking::Client::new();
    let ingest = client
        .post(format!("{}/api/v1/ingest", server.url()))
        .header("x-license-key", ADMIN_KEY)
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(bomb.clone())
        .send()
        .unwrap();
    assert_eq!(ingest.status().as_u16(), 413);
    let otlp = client
        .post(format!(
            "http://127.0.0.1:{}/v1/logs",
            server.ports.otlp_http
        ))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(bomb)
        .send()
        .unwrap();
    assert_eq!(otlp.status().as_u16(), 413);
    assert_bounded(&server, "JSON bombs");
    still_serves(&server, 1);
}

/// Reads until the server closes the connection (Ok) or `within` passes (Err).
fn closed_within(socket: &mut TcpStream, within: Duration) -> Result<Vec<u8>, String> {
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match socket.read(&mut buf) {
            Ok(0) => return Ok(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(got),
            Err(_) => {}
        }
    }
    Err(format!("still open after {within:?}"))
}

#[test]
fn a_forward_chunk_of_millions_of_nils_closes_the_connection_without_an_ack() {
    use rmpv::Value as M;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "");
    // CompressedPackedForward whose stream inflates to 60 million `nil` entries.
    let nils = gzip(&vec![0xc0u8; 60_000_000]);
    let message = M::Array(vec![
        M::from("kube.op"),
        M::Binary(nils),
        M::Map(vec![
            (M::from("compressed"), M::from("gzip")),
            (M::from("chunk"), M::from("Ym9tYg==")),
        ]),
    ]);
    let mut socket = TcpStream::connect(("127.0.0.1", server.ports.forward)).unwrap();
    socket.write_all(&msgpack(&message)).unwrap();
    let answer = closed_within(&mut socket, Duration::from_secs(60)).expect("closed");
    assert!(answer.is_empty(), "no ack for a refused chunk: {answer:?}");
    assert_bounded(&server, "Forward nil bomb");
    let log = server.log();
    assert!(log.contains("max_records_per_request"), "{log}");
    // A Forward-mode message promising 2^32-1 entries in its header is refused at the header.
    let mut socket = TcpStream::connect(("127.0.0.1", server.ports.forward)).unwrap();
    let mut header = msgpack(&M::Array(vec![M::from("kube.op")]));
    header[0] = 0x92; // [tag, entries]
    header.extend_from_slice(&[0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc0]);
    socket.write_all(&header).unwrap();
    closed_within(&mut socket, Duration::from_secs(30)).expect("closed at the header");
    assert_eq!(server.count("SELECT count(*) FROM events"), 0);
    still_serves(&server, 2);
}

#[test]
fn forward_connections_are_closed_when_idle_and_past_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        "forward_idle_timeout_seconds = 1\nforward_max_connections = 2\n",
    );
    let connect = || TcpStream::connect(("127.0.0.1", server.ports.forward)).unwrap();
    // A silent connection is closed after the idle timeout.
    let mut idle = connect();
    let started = Instant::now();
    closed_within(&mut idle, Duration::from_secs(30)).expect("an idle connection is closed");
    assert!(started.elapsed() >= Duration::from_millis(900));
    // Two connections held open (each sending a heartbeat now and then), a third refused.
    let mut held: Vec<TcpStream> = (0..2).map(|_| connect()).collect();
    std::thread::sleep(Duration::from_millis(300));
    for s in &mut held {
        s.write_all(&[0xc0]).unwrap();
    }
    let mut third = connect();
    closed_within(&mut third, Duration::from_secs(10)).expect("the third is closed at once");
    for s in &mut held {
        s.write_all(&[0xc0]).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut b = [0u8; 1];
        assert!(
            !matches!(s.read(&mut b), Ok(0)),
            "a connection within the cap stays open"
        );
    }
    let log = server.log();
    assert!(log.contains("forward_idle_timeout_seconds"), "{log}");
    assert!(log.contains("forward_max_connections"), "{log}");
}
