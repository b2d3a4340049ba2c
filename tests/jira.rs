//! Jira, end to end through the real binary: sessions fed over `POST /api/v1/ingest` get their
//! issue keys (branch, project filter, override field, mapping rule), their pushes reach a local
//! webhook receiver that fails the first attempts (500s and timeouts) exactly once per
//! idempotency key with totals that match the database, also across a kill and restart of
//! `serve`, and the embeddable panel is checked without a browser.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use chrono::Utc;
use common::operator::{closed, line};
use common::{KEY, Server};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const SECRET: &str = "s3cret";
/// Sessions with a key (6 closed, 1 abandoned) and the one without.
const PUSHED: usize = 7;
const SKIPPED: usize = 1;

// ---- the webhook receiver ----

/// One request the receiver saw.
#[derive(Debug, Clone)]
struct Seen {
    idempotency_key: Option<String>,
    secret: Option<String>,
    body: Value,
    accepted: bool,
}

/// A local webhook: the first `fail_first` requests fail (even ones with 500, odd ones by
/// outlasting the client's timeout), and while `healthy` is false every request fails.
struct Receiver {
    port: u16,
    fail_first: usize,
    count: AtomicUsize,
    healthy: AtomicBool,
    seen: Mutex<Vec<Seen>>,
}

impl Receiver {
    fn start(fail_first: usize, healthy: bool) -> Arc<Receiver> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let receiver = Arc::new(Receiver {
            port: listener.local_addr().unwrap().port(),
            fail_first,
            count: AtomicUsize::new(0),
            healthy: AtomicBool::new(healthy),
            seen: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(receiver.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        receiver
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn accepted(&self) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.accepted).collect()
    }
}

async fn hook(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let n = r.count.fetch_add(1, Ordering::SeqCst);
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let accepted = n >= r.fail_first && r.healthy.load(Ordering::SeqCst);
    r.seen.lock().unwrap().push(Seen {
        idempotency_key: header("idempotency-key"),
        secret: header("x-webhook-secret"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        accepted,
    });
    if accepted {
        return StatusCode::OK;
    }
    if n < r.fail_first && n % 2 == 1 {
        // Longer than the client's 400 ms timeout: the push times out.
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    StatusCode::INTERNAL_SERVER_ERROR
}

// ---- the operator's log lines ----

/// The scenario: what each session's key should be, and why.
fn scenario() -> String {
    let none = json!({});
    let mut lines = Vec::new();
    lines.extend(closed(
        "s1",
        "ana@corp.example",
        Some("feature/SHOP-12-checkout"),
        none.clone(),
        100,
        10,
    ));
    lines.extend(closed(
        "s2",
        "system:serviceaccount:ci:mirrord-ci",
        Some("SHOP-12-fix"),
        none.clone(),
        90,
        3,
    ));
    lines.extend(closed(
        "s3",
        "ana@corp.example",
        Some("ops/OPS-7"),
        none.clone(),
        80,
        20,
    ));
    lines.extend(closed(
        "s4",
        "cy@corp.example",
        Some("main"),
        none.clone(),
        70,
        5,
    )); // no key: skipped
    lines.extend(closed(
        "s5",
        "dee@corp.example",
        Some("XYZ-1-SHOP-13"),
        none.clone(),
        60,
        7,
    )); // XYZ filtered out
    lines.extend(closed("s6", "jj@corp.example", None, none.clone(), 50, 30)); // rule → OPS-7
    lines.extend(closed(
        "s7",
        "eve@corp.example",
        Some("OPS-7"),
        json!({ "jira_key": "SHOP-12" }),
        40,
        4,
    )); // override
    // s8: started a minute ago, last seen now, never ended: abandoned 3 s later.
    let now = Utc::now();
    let f =
        json!({ "session_id": "s8", "client_user": "fay@corp.example", "branch": "OPS-8-migrate" });
    lines.push(line(
        now - chrono::Duration::minutes(1),
        "Session Start",
        f.clone(),
    ));
    let mut steal = f;
    steal["port"] = json!(8080);
    lines.push(line(now, "Port Steal", steal));
    lines.join("\n") + "\n"
}

fn expected_keys() -> BTreeMap<&'static str, Option<&'static str>> {
    BTreeMap::from([
        ("s1", Some("SHOP-12")),
        ("s2", Some("SHOP-12")),
        ("s3", Some("OPS-7")),
        ("s4", None),
        ("s5", Some("SHOP-13")),
        ("s6", Some("OPS-7")),
        ("s7", Some("SHOP-12")),
        ("s8", Some("OPS-8")),
    ])
}

// ---- serve ----

fn write_config(dir: &Path, receiver_port: u16) -> PathBuf {
    let path = dir.join("jira.toml");
    let toml = format!(
        r#"
[sessions]
abandon_after_seconds = 3

[jira]
project_keys = ["SHOP", "OPS"]
webhook_url = "http://127.0.0.1:{receiver_port}/hook"
webhook_secret = "{SECRET}"
timeout_ms = 400
retry_initial_ms = 100
retry_max_ms = 800
poll_interval_ms = 50
abandoned_sweep_interval_ms = 200
frame_ancestors = ["'self'", "https://jira.example.com"]

[[jira.rules]]
user = "jj@corp.example"
branch = ""
key = "OPS-7"
"#
    );
    std::fs::write(&path, toml).unwrap();
    path
}

fn outbox_counts(server: &Server) -> BTreeMap<String, i64> {
    let status = server.get_json("/api/v1/jira/status");
    serde_json::from_value(status["counts"].clone()).unwrap()
}

fn wait_for(what: &str, server: &Server, done: impl FnMut() -> bool) {
    if common::poll(Duration::from_secs(90), done) {
        return;
    }
    panic!(
        "timed out waiting for {what}; status {}",
        server.get_json("/api/v1/jira/status")
    );
}

fn wait_delivered(server: &Server) {
    wait_for("every push delivered", server, || {
        let c = outbox_counts(server);
        c["delivered"] == PUSHED as i64 && c["skipped"] == SKIPPED as i64 && c["pending"] == 0
    });
}

// ---- checks ----

/// Each keyed session reached the receiver exactly once under its outbox idempotency key, with
/// the secret, and the last accepted totals per issue equal the reports API.
fn check_deliveries(server: &Server, receiver: &Receiver) {
    let accepted = receiver.accepted();
    let keys: Vec<String> = accepted
        .iter()
        .map(|s| s.idempotency_key.clone().expect("Idempotency-Key header"))
        .collect();
    let distinct: BTreeSet<&String> = keys.iter().collect();
    assert_eq!(
        distinct.len(),
        keys.len(),
        "an idempotency key was accepted twice: {keys:?}"
    );
    assert_eq!(keys.len(), PUSHED, "accepted pushes: {accepted:#?}");
    assert!(
        receiver
            .seen()
            .iter()
            .all(|s| s.secret.as_deref() == Some(SECRET)),
        "every push carries the secret"
    );

    let outbox = server.rows(
        "SELECT idempotency_key, session_id, reason, jira_key FROM jira_outbox WHERE state = 'delivered'",
    );
    let by_key: BTreeMap<String, (String, String, String)> = outbox
        .iter()
        .map(|r| {
            let s = |i: usize| r[i].as_str().unwrap().to_string();
            (s(0), (s(1), s(2), s(3)))
        })
        .collect();
    let expected = expected_keys();
    let mut last_totals: BTreeMap<String, Value> = BTreeMap::new();
    for push in &accepted {
        let ik = push.idempotency_key.as_ref().unwrap();
        let (session, reason, issue) = by_key
            .get(ik)
            .unwrap_or_else(|| panic!("{ik} is not a delivered outbox row"));
        let body = &push.body;
        assert_eq!(body["idempotencyKey"].as_str(), Some(ik.as_str()));
        assert_eq!(body["session"]["id"].as_str(), Some(session.as_str()));
        assert_eq!(
            body["event"].as_str(),
            Some(format!("session.{reason}").as_str())
        );
        assert_eq!(body["issueKey"].as_str(), Some(issue.as_str()));
        assert_eq!(
            expected[session.as_str()],
            Some(issue.as_str()),
            "{session}"
        );
        last_totals.insert(issue.clone(), body["totals"].clone());
    }
    let pushed: BTreeSet<&str> = by_key.values().map(|(s, _, _)| s.as_str()).collect();
    let keyed: BTreeSet<&str> = expected
        .iter()
        .filter(|(_, k)| k.is_some())
        .map(|(s, _)| *s)
        .collect();
    assert_eq!(
        pushed, keyed,
        "every keyed session, and only those, was pushed"
    );
    let abandoned = accepted
        .iter()
        .find(|p| p.body["session"]["id"] == "s8")
        .unwrap();
    assert_eq!(abandoned.body["event"], "session.abandoned");
    assert_eq!(abandoned.body["session"]["status"], "abandoned");

    for (issue, totals) in &last_totals {
        let db = server.get_json(&format!("/api/v1/reports/jira/{issue}"));
        assert_eq!(totals, &db, "{issue}: last pushed totals vs the database");
    }
    assert_eq!(last_totals["SHOP-12"]["sessions"], 3);
    assert_eq!(last_totals["SHOP-12"]["ciSessions"], 1);
    assert_eq!(
        last_totals["OPS-7"]["totalSessionTimeSeconds"].as_f64(),
        Some(50.0 * 60.0)
    );
}

fn check_keys_in_sessions(server: &Server) {
    let rows = server.rows("SELECT session_id, jira_key FROM sessions ORDER BY session_id");
    let got: BTreeMap<String, Option<String>> = rows
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_string(),
                r[1].as_str().map(str::to_string),
            )
        })
        .collect();
    let want: BTreeMap<String, Option<String>> = expected_keys()
        .into_iter()
        .map(|(s, k)| (s.to_string(), k.map(str::to_string)))
        .collect();
    assert_eq!(got, want);
}

// ---- tests ----

#[test]
fn pushes_survive_500s_and_timeouts_and_arrive_once_per_idempotency_key() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(4, true);
    let config = write_config(dir.path(), receiver.port);
    let server = Server::with_config(&dir.path().join("db.duckdb"), &config);
    let logs = scenario();
    server.ingest(logs.clone());
    check_keys_in_sessions(&server);
    wait_delivered(&server);
    check_deliveries(&server, &receiver);
    assert!(
        receiver.seen().len() >= PUSHED + 4,
        "the first four attempts failed and were retried"
    );

    let metrics = Server::client()
        .get(server.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains(&format!(
            "mirrord_usage_jira_outbox{{state=\"delivered\"}} {PUSHED}"
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains("mirrord_usage_jira_outbox{state=\"skipped\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("mirrord_usage_jira_outbox{state=\"pending\"} 0"),
        "{metrics}"
    );

    // A replay of the same logs stores nothing and queues nothing.
    server.ingest(logs);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(receiver.accepted().len(), PUSHED);

    let status = common::ok(common::run(
        &server.db,
        &[
            "jira",
            "status",
            "--json",
            "--server",
            &server.url(""),
            "--key",
            KEY,
        ],
    ));
    let status: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["webhook"], true);
    assert_eq!(status["counts"]["delivered"], PUSHED);
    assert_eq!(status["problems"], json!([]));
}

#[test]
fn pending_pushes_resume_after_serve_is_killed_and_started_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.duckdb");
    let receiver = Receiver::start(0, false);
    let config = write_config(dir.path(), receiver.port);
    let first = Server::with_config(&db, &config);
    first.ingest(scenario());
    wait_for("every push tried and pending", &first, || {
        let tried =
            first.rows("SELECT count(*) FROM jira_outbox WHERE state = 'pending' AND attempts > 0");
        tried[0][0] == json!(PUSHED) && outbox_counts(&first)["skipped"] == SKIPPED as i64
    });
    assert!(receiver.accepted().is_empty());
    drop(first); // SIGKILL: no graceful shutdown
    receiver.healthy.store(true, Ordering::SeqCst);

    let second = Server::with_config(&db, &config);
    wait_delivered(&second);
    check_deliveries(&second, &receiver);
    check_keys_in_sessions(&second);
}

#[test]
fn the_panel_is_self_contained_html_with_the_issue_totals_and_a_strict_policy() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(0, true);
    let config = write_config(dir.path(), receiver.port);
    let server = Server::with_config(&dir.path().join("db.duckdb"), &config);
    server.ingest(scenario());

    // No API key: an iframe can't send one.
    let r = Server::client()
        .get(server.url("/jira/panel/SHOP-12"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let header = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    assert!(header("content-type").starts_with("text/html"));
    let csp = header("content-security-policy");
    let html = r.text().unwrap();

    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(
        csp.contains("frame-ancestors 'self' https://jira.example.com"),
        "{csp}"
    );
    let style = html
        .split("<style>")
        .nth(1)
        .and_then(|s| s.split("</style>").next())
        .expect("an inline stylesheet");
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(style.as_bytes()));
    assert!(
        csp.contains(&format!("style-src 'sha256-{hash}'")),
        "the policy allows exactly the panel's stylesheet: {csp}"
    );
    for forbidden in [
        "<script", "<link", "<img", "<iframe", "src=", "href=", "http://", "https://", "url(",
    ] {
        assert!(
            !html.contains(forbidden),
            "the panel must be self-contained; found {forbidden:?}"
        );
    }

    let metric = |name: &str| {
        let start = html
            .find(&format!("data-metric=\"{name}\""))
            .unwrap_or_else(|| panic!("{name} in {html}"));
        let rest = &html[start..];
        let open = rest.find('>').unwrap() + 1;
        rest[open..rest.find("</dd>").unwrap()].to_string()
    };
    let db = server.get_json("/api/v1/reports/jira/SHOP-12");
    assert_eq!(metric("sessions"), db["sessions"].to_string());
    assert_eq!(metric("users"), db["uniqueUsers"].to_string());
    assert_eq!(metric("total-time"), "17 min", "10 + 3 + 4 minutes");
    let last = db["lastUsed"].as_str().unwrap();
    assert!(
        metric("last-used").contains(&format!("datetime=\"{last}\"")),
        "{}",
        metric("last-used")
    );
    assert!(html.contains("SHOP-12"));

    let unknown = Server::client()
        .get(server.url("/jira/panel/NOPE-1"))
        .send()
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 200);
    assert!(unknown.text().unwrap().contains("No mirrord sessions"));
    let bad = Server::client()
        .get(server.url("/jira/panel/shop-12"))
        .send()
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400, "a lowercase key is not a key");
}

#[test]
fn status_needs_the_key_and_a_bad_jira_config_stops_serve_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(0, true);
    let config = write_config(dir.path(), receiver.port);
    let server = Server::with_config(&dir.path().join("db.duckdb"), &config);
    let r = Server::client()
        .get(server.url("/api/v1/jira/status"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    drop(server);

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[jira]\nwebhook_url = \"ftp://x.example/hook\"\n").unwrap();
    let out = std::process::Command::new(common::bin())
        .arg("--db")
        .arg(dir.path().join("other.duckdb"))
        .args([
            "serve",
            "--bind",
            "127.0.0.1",
            "--port",
            &common::free_port().to_string(),
            "--no-receivers",
        ])
        .arg("--config")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("[jira] webhook_url") && err.contains("https://"),
        "{err}"
    );
}
