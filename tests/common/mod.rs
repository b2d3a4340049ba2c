//! Shared helpers for integration tests: start the real `serve` on free loopback ports and talk
//! to it over HTTP.

#![allow(dead_code)]

pub mod operator;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The viewer key (`--license-key`): reports, trends, sessions, dashboards.
pub const KEY: &str = "test-key-123";
/// The admin key (`--admin-key`): SQL, ingest, admin routes, and every viewer route.
pub const ADMIN_KEY: &str = "test-admin-key-456";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_mirrord-usage")
}

mod ports;
pub use ports::free_port;

/// Runs the binary with `--db db` and `args`, without the caller's `MIRRORD_USAGE_SERVER` and
/// `MIRRORD_USAGE_CONFIG`.
pub fn run(db: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("MIRRORD_USAGE_SERVER")
        .env_remove("MIRRORD_USAGE_CONFIG")
        .output()
        .expect("run mirrord-usage")
}

/// Asserts that a run succeeded; its stdout.
pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "command failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Calls `done` every 100 ms until it is true (then true) or `timeout` has passed (false).
pub fn poll(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// Validates the live responses of `server` (every GET route with JSON, the SQL and ingest
/// POSTs) against `schemas/openapi.yaml` with `tests/api/check_openapi.py`.
pub fn check_openapi(server: &Server) {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("python3")
        .arg(format!("{root}/tests/api/check_openapi.py"))
        .arg(format!("{root}/schemas/openapi.yaml"))
        .arg(server.url(""))
        .arg(KEY)
        .arg(ADMIN_KEY)
        .output()
        .expect("python3 with PyYAML and jsonschema: run .ci/install.d/api.sh");
    ok(out);
}

/// A running `serve`, killed on drop.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub db: PathBuf,
    pub output: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `serve` on a free port with `extra` arguments and waits for `/healthz`.
    pub fn start(db: &Path, extra: &[&str]) -> Server {
        // The HTTP client's TLS backend needs the process's rustls provider, as in the binary.
        mirrord_usage::tls::install_provider();
        let port = free_port();
        let mut child = Command::new(bin())
            .arg("--db")
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
            ])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start serve");
        let output = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
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
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    out.lock().unwrap().push(line);
                }
            });
        }
        let server = Server {
            child,
            port,
            db: db.to_path_buf(),
            output,
        };
        server.wait_healthy();
        server
    }

    /// Starts `serve` without receivers, with the config file `config`.
    pub fn with_config(db: &Path, config: &Path) -> Server {
        Server::start(
            db,
            &["--no-receivers", "--config", config.to_str().unwrap()],
        )
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if let Ok(r) = reqwest::blocking::get(self.url("/healthz"))
                && r.status().is_success()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "serve did not become healthy; output:\n{}",
            self.output.lock().unwrap().join("\n")
        );
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    pub fn client() -> reqwest::blocking::Client {
        mirrord_usage::tls::install_provider();
        reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap()
    }

    /// `GET /metrics` (no key: the test servers set no bearer token), the body.
    pub fn metrics(&self) -> String {
        Self::client()
            .get(self.url("/metrics"))
            .send()
            .unwrap()
            .text()
            .unwrap()
    }

    /// GET with the key; returns status and body.
    pub fn get(&self, path: &str) -> (u16, String) {
        let r = Self::client()
            .get(self.url(path))
            .header("x-license-key", KEY)
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    }

    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// POST /api/v1/sql with the admin key.
    pub fn sql(&self, query: &str) -> (u16, serde_json::Value) {
        let r = Self::client()
            .post(self.url("/api/v1/sql"))
            .header("x-license-key", ADMIN_KEY)
            .json(&serde_json::json!({ "query": query }))
            .send()
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().unwrap_or(serde_json::Value::Null))
    }

    /// POST NDJSON lines to `/api/v1/ingest` with the admin key; asserts 200.
    pub fn ingest(&self, body: String) {
        let r = Self::client()
            .post(self.url("/api/v1/ingest"))
            .header("x-license-key", ADMIN_KEY)
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{}", r.text().unwrap_or_default());
    }

    /// The rows of a read-only SQL query through the API; asserts 200.
    pub fn rows(&self, query: &str) -> Vec<serde_json::Value> {
        let (status, body) = self.sql(query);
        assert_eq!(status, 200, "{query}: {body}");
        body["rows"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("{query}: {body}"))
    }

    /// Stops the server with SIGTERM and waits.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
