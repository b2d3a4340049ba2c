//! TLS end to end with certificates made at test time (rcgen): https on the HTTP port checked
//! with curl and reqwest, HSTS, the OTel Python SDK's exporters over TLS to both OTLP
//! receivers with the bearer token (and refused without it), a certificate replaced while
//! running, and the Jira webhook delivered to an https receiver trusted through `[jira] ca_file`.

#[path = "clients/harness.rs"]
mod harness;
#[path = "common/pki.rs"]
mod pki;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use harness::{ADMIN_KEY, KEY, OpEvent, Ports, ROWS_QUERY, clients_dir, events, python, rows};
use pki::{Pki, pki};
use serde_json::{Value, json};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// An https client that trusts only `ca_pem`.
fn client(ca_pem: &str) -> reqwest::blocking::Client {
    mirrord_usage::tls::install_provider();
    let certs = reqwest::Certificate::from_pem_bundle(ca_pem.as_bytes()).unwrap();
    reqwest::blocking::Client::builder()
        .tls_backend_rustls()
        .tls_certs_only(certs)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// `serve` with `[server.tls]` on every TLS-capable port and the OTLP bearer token.
struct TlsServer {
    child: Child,
    ports: Ports,
    dir: PathBuf,
}

const TOKEN: &str = "otlp-t0ken";

impl TlsServer {
    fn start(dir: &Path, extra: &str) -> TlsServer {
        let ports = Ports {
            http: harness::free_port(),
            otlp_grpc: harness::free_port(),
            otlp_http: harness::free_port(),
            forward: harness::free_port(),
        };
        let config = format!(
            "[server.tls]\ncert = \"{}\"\nkey = \"{}\"\n\n[receivers]\notlp_grpc = \"127.0.0.1:{}\"\notlp_http = \"127.0.0.1:{}\"\nforward = \"\"\nbearer_token = \"{TOKEN}\"\n\n[pipeline]\nflush_interval_ms = 50\n{extra}",
            dir.join("tls.crt").display(),
            dir.join("tls.key").display(),
            ports.otlp_grpc,
            ports.otlp_http,
        );
        let path = write(dir, "serve.toml", &config);
        let child = Command::new(env!("CARGO_BIN_EXE_mirrord-usage"))
            .arg("--db")
            .arg(dir.join("db.duckdb"))
            .args(["serve", "--bind", "127.0.0.1"])
            .args(["--port", &ports.http.to_string()])
            .args(["--license-key", KEY, "--admin-key", ADMIN_KEY])
            .arg("--config")
            .arg(&path)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        TlsServer {
            child,
            ports,
            dir: dir.to_path_buf(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.ports.http)
    }

    fn wait_healthy(&self, c: &reqwest::blocking::Client) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if c.get(self.url("/healthz"))
                .send()
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("serve over TLS did not become healthy");
    }

    fn sql(&self, c: &reqwest::blocking::Client, query: &str) -> Vec<Value> {
        let r: Value = c
            .post(self.url("/api/v1/sql"))
            .header("x-license-key", ADMIN_KEY)
            .json(&json!({ "query": query }))
            .send()
            .unwrap()
            .json()
            .unwrap();
        r["rows"].as_array().cloned().unwrap_or_default()
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the OTel SDK sender; returns whether every export succeeded.
fn sdk(protocol: &str, endpoint: &str, batch: &[OpEvent], dir: &Path, extra: &[&str]) -> bool {
    let records = Value::Array(batch.iter().map(OpEvent::sdk_record).collect());
    let file = write(dir, &format!("sdk-{protocol}.json"), &records.to_string());
    let out = Command::new(python())
        .arg(clients_dir().join("otlp_send.py"))
        .args(["--protocol", protocol, "--endpoint", endpoint])
        .arg("--records")
        .arg(file)
        .args(extra)
        // requests lets these override the exporter's own CA file (its session-level verify).
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("CURL_CA_BUNDLE")
        .output()
        .unwrap();
    if !out.status.success() {
        eprintln!(
            "otlp_send.py {protocol} {extra:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out.status.success()
}

#[test]
fn https_api_otlp_over_tls_with_the_bearer_token_and_a_certificate_renewed_while_running() {
    let dir = tempfile::tempdir().unwrap();
    let first = pki("first test CA");
    write(dir.path(), "tls.crt", &first.cert_pem);
    write(dir.path(), "tls.key", &first.key_pem);
    let ca = write(dir.path(), "ca.pem", &first.ca_pem);
    let server = TlsServer::start(dir.path(), "");
    let https = client(&first.ca_pem);
    server.wait_healthy(&https);

    // curl over https, verified against the test CA; the viewer key opens the reports.
    let curl = Command::new("curl")
        .args(["-sS", "--fail", "--cacert"])
        .arg(&ca)
        .args(["-H", &format!("x-license-key: {KEY}")])
        .arg(server.url("/api/v1/reports/usage"))
        .output()
        .unwrap();
    assert!(
        curl.status.success(),
        "{}",
        String::from_utf8_lossy(&curl.stderr)
    );
    let report: Value = serde_json::from_slice(&curl.stdout).unwrap();
    assert!(report.get("allTimeMetrics").is_some(), "{report}");
    // Without the CA curl refuses the certificate; plain http to the TLS port gets no answer.
    let untrusted = Command::new("curl")
        .args(["-sS", "--fail"])
        .arg(server.url("/healthz"))
        .output()
        .unwrap();
    assert!(!untrusted.status.success());
    let plain = Command::new("curl")
        .args(["-sS", "--fail", "--max-time", "5"])
        .arg(format!("http://127.0.0.1:{}/healthz", server.ports.http))
        .output()
        .unwrap();
    assert!(!plain.status.success(), "plain http must not be answered");
    let r = https.get(server.url("/")).send().unwrap();
    assert_eq!(
        r.headers()["strict-transport-security"],
        "max-age=31536000",
        "HSTS over TLS"
    );

    // The OTel SDK over TLS: gRPC and HTTP/protobuf, with the bearer token.
    let ca_arg = ca.to_str().unwrap();
    let bearer = format!("authorization=Bearer {TOKEN}");
    let grpc = format!("https://localhost:{}", server.ports.otlp_grpc);
    let http = format!("https://localhost:{}/v1/logs", server.ports.otlp_http);
    let (a, b) = (events(0, 20), events(20, 20));
    assert!(sdk(
        "grpc",
        &grpc,
        &a,
        dir.path(),
        &["--ca", ca_arg, "--header", &bearer]
    ));
    assert!(sdk(
        "http",
        &http,
        &b,
        dir.path(),
        &["--ca", ca_arg, "--header", &bearer]
    ));
    let mut want: Vec<OpEvent> = a.clone();
    want.extend(b.iter().cloned());
    let got = server.sql(&https, ROWS_QUERY);
    assert_eq!(
        got,
        rows(&want).into_iter().map(Value::from).collect::<Vec<_>>()
    );

    // Without the token, or with a wrong one, nothing is stored.
    let c = events(100, 5);
    let wrong = "authorization=Bearer nope".to_string();
    assert!(!sdk("grpc", &grpc, &c, dir.path(), &["--ca", ca_arg]));
    assert!(!sdk(
        "grpc",
        &grpc,
        &c,
        dir.path(),
        &["--ca", ca_arg, "--header", &wrong]
    ));
    assert!(!sdk("http", &http, &c, dir.path(), &["--ca", ca_arg]));
    assert!(!sdk(
        "http",
        &http,
        &c,
        dir.path(),
        &["--ca", ca_arg, "--header", &wrong]
    ));
    for (header, code) in [(None, 401), (Some("Bearer nope"), 403)] {
        let mut req = https
            .post(&http)
            .header("content-type", "application/json")
            .body("{\"resourceLogs\":[]}");
        if let Some(h) = header {
            req = req.header("authorization", h);
        }
        assert_eq!(req.send().unwrap().status().as_u16(), code);
    }
    assert_eq!(server.sql(&https, ROWS_QUERY).len(), want.len());

    // A renewed certificate from another CA, written while serve runs, is served to new
    // handshakes; the old CA no longer verifies.
    let second = pki("second test CA");
    write(dir.path(), "tls.key", &second.key_pem);
    write(dir.path(), "tls.crt", &second.cert_pem);
    let renewed = client(&second.ca_pem);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let fresh = client(&second.ca_pem);
        if fresh.get(server.url("/healthz")).send().is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the renewed certificate was never served"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(renewed.get(server.url("/healthz")).send().is_ok());
    assert!(
        client(&first.ca_pem)
            .get(server.url("/healthz"))
            .send()
            .is_err()
    );
    let _ = server.dir.clone();
}

/// A local https receiver for the webhook: counts POSTs to `/hook`.
fn https_receiver(pki: &Pki, dir: &Path) -> (u16, Arc<AtomicUsize>) {
    let config = mirrord_usage::tls::CertFiles {
        cert: write(dir, "hook.crt", &pki.cert_pem),
        key: write(dir, "hook.key", &pki.key_pem),
    };
    let acceptor = mirrord_usage::tls::acceptor(&config, &[b"http/1.1"]).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let seen = seen.clone();
            async move {
                assert!(body.contains("SHOP-12"), "{body}");
                seen.fetch_add(1, Ordering::SeqCst);
                "ok"
            }
        }),
    );
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let never = std::future::pending::<()>();
            mirrord_usage::tls::serve_http(listener, Some(acceptor), app, never)
                .await
                .unwrap();
        });
    });
    (port, count)
}

fn session_lines() -> String {
    let end = chrono::Utc::now() - chrono::Duration::minutes(5);
    let start = end - chrono::Duration::minutes(30);
    let ts =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let f = json!({"session_id": "tls-1", "client_user": "ana@corp.example", "branch": "SHOP-12-checkout", "target": "deployment/api"});
    let mut end_f = f.clone();
    end_f["session_duration"] = json!(1800);
    let line = |t, m: &str, mut fields: Value| {
        fields["message"] = json!(m);
        json!({"timestamp": ts(t), "level": "INFO", "fields": fields, "target": "operator::session"}).to_string()
    };
    format!(
        "{}\n{}\n",
        line(start, "Session Start", f),
        line(end, "Session End", end_f)
    )
}

fn outbox_state(server: &TlsServer, c: &reqwest::blocking::Client) -> Vec<Value> {
    server.sql(c, "SELECT state, coalesce(last_error, '') FROM jira_outbox")
}

#[test]
fn the_jira_webhook_reaches_an_https_receiver_trusted_through_ca_file_only() {
    for trusted in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let own = pki("serve CA");
        write(dir.path(), "tls.crt", &own.cert_pem);
        write(dir.path(), "tls.key", &own.key_pem);
        let hook_pki = pki("hook CA");
        let (port, count) = https_receiver(&hook_pki, dir.path());
        let ca_line = if trusted {
            let ca = write(dir.path(), "hook-ca.pem", &hook_pki.ca_pem);
            format!("ca_file = \"{}\"\n", ca.display())
        } else {
            String::new()
        };
        let extra = format!(
            "\n[jira]\nwebhook_url = \"https://localhost:{port}/hook\"\n{ca_line}timeout_ms = 2000\nretry_initial_ms = 100\nretry_max_ms = 400\npoll_interval_ms = 50\n"
        );
        let server = TlsServer::start(dir.path(), &extra);
        let https = client(&own.ca_pem);
        server.wait_healthy(&https);
        let r = https
            .post(server.url("/api/v1/ingest"))
            .header("x-license-key", ADMIN_KEY)
            .header("content-type", "application/x-ndjson")
            .body(session_lines())
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let rows = outbox_state(&server, &https);
            let state = rows
                .first()
                .and_then(|r| r[0].as_str())
                .unwrap_or("")
                .to_string();
            let error = rows
                .first()
                .and_then(|r| r[1].as_str())
                .unwrap_or("")
                .to_string();
            if trusted && state == "delivered" {
                assert_eq!(count.load(Ordering::SeqCst), 1, "delivered once");
                break;
            }
            if !trusted && !error.is_empty() {
                assert_ne!(state, "delivered");
                assert_eq!(
                    count.load(Ordering::SeqCst),
                    0,
                    "an untrusted receiver gets nothing"
                );
                assert!(
                    error.to_lowercase().contains("certificate")
                        || error.to_lowercase().contains("tls")
                        || error.contains("error sending request"),
                    "{error}"
                );
                break;
            }
            assert!(Instant::now() < deadline, "outbox: {rows:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
