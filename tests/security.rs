//! Secure by default (`docs/security.md`): keys by role and from files, the dashboard never
//! handed the admin key, the Host allow-list against DNS rebinding, the hardening headers,
//! `/metrics` behind a bearer token with user labels only when protected, and no secret in
//! the server's output.

mod common;

use std::path::Path;

use common::{ADMIN_KEY, KEY, Server};
use serde_json::Value;

fn demo(dir: &Path, name: &str, extra: &[&str]) -> Server {
    let mut args = vec!["--demo", "--no-receivers"];
    args.extend_from_slice(extra);
    Server::start(&dir.join(name), &args)
}

fn config_file(dir: &Path, text: &str) -> String {
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn status(r: reqwest::blocking::RequestBuilder) -> u16 {
    r.send().unwrap().status().as_u16()
}

#[test]
fn the_dashboard_config_never_carries_the_admin_key() {
    let dir = tempfile::tempdir().unwrap();
    let client = Server::client();
    // No demo, no flag: nothing is handed out, the dashboard asks for a login.
    let plain = Server::start(&dir.path().join("a.duckdb"), &["--no-receivers"]);
    let config: Value = client
        .get(plain.url("/ui/config.json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(config["licenseKey"], Value::Null, "{config}");
    assert_eq!(config["authRequired"], true);
    assert_eq!(config["docsUrl"], "/docs/");
    // The docs link works on the server itself.
    let docs = client
        .get(plain.url("/docs/"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(docs.contains("security.md"), "{docs}");
    let guide = client.get(plain.url("/docs/security.md")).send().unwrap();
    assert_eq!(guide.status().as_u16(), 200);
    assert!(guide.text().unwrap().contains("admin key"));
    // Shared: the viewer key, still never the admin key.
    let shared = Server::start(
        &dir.path().join("b.duckdb"),
        &["--no-receivers", "--dashboard-share-key"],
    );
    let body = client
        .get(shared.url("/ui/config.json"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let config: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(config["licenseKey"], KEY);
    assert!(!body.contains(ADMIN_KEY), "{body}");
    // A login with the admin key still leaves only the viewer key in the cookie.
    let r = client
        .post(shared.url("/ui/login"))
        .json(&serde_json::json!({ "licenseKey": ADMIN_KEY }))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.starts_with(&format!("mirrord_usage_key={KEY};")),
        "{cookie}"
    );
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let sql = |c: &str| {
        status(
            client
                .post(shared.url("/api/v1/sql"))
                .header("cookie", c)
                .json(&serde_json::json!({ "query": "select 1" })),
        )
    };
    assert_eq!(sql(&format!("mirrord_usage_key={KEY}")), 403);
    assert_eq!(sql(&format!("mirrord_usage_key={ADMIN_KEY}")), 403);
    let wrong = client
        .post(shared.url("/ui/login"))
        .json(&serde_json::json!({ "licenseKey": "guess" }))
        .send()
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 403);
    assert!(wrong.headers().get("set-cookie").is_none());
}

#[test]
fn keys_come_from_files_and_the_ingest_key_opens_ingest_only() {
    let dir = tempfile::tempdir().unwrap();
    let (viewer, admin, ingest) = ("file-viewer-k1", "file-admin-k2", "file-ingest-k3");
    for (name, key) in [("viewer", viewer), ("admin", admin), ("ingest", ingest)] {
        std::fs::write(dir.path().join(name), format!("{key}\n")).unwrap();
    }
    let d = dir.path().display();
    let config = config_file(
        dir.path(),
        &format!(
            "[api]\nlicense_key_file = \"{d}/viewer\"\nadmin_key_file = \"{d}/admin\"\ningest_key_file = \"{d}/ingest\"\n"
        ),
    );
    // Started without --license-key/--admin-key, so only the files give keys.
    let port = common::free_port();
    let child = std::process::Command::new(common::bin())
        .arg("--db")
        .arg(dir.path().join("db.duckdb"))
        .args(["serve", "--bind", "127.0.0.1", "--no-receivers"])
        .args(["--port", &port.to_string(), "--config", &config])
        .env("RUST_LOG", "debug")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    let client = Server::client();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while client.get(url("/healthz")).send().is_err() {
        assert!(std::time::Instant::now() < deadline, "serve did not start");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let line = r#"{"timestamp":"2026-02-01T10:00:00.000000Z","level":"INFO","fields":{"message":"Session Start","session_id":"s1","client_id":"c1","client_name":"dev","client_hostname":"h","client_user":"u","target":"deployment/api","namespace":"default"},"target":"operator::session"}"#;
    let post = |key: &str| {
        status(
            client
                .post(url("/api/v1/ingest"))
                .header("x-license-key", key)
                .header("content-type", "application/x-ndjson")
                .body(line),
        )
    };
    let report = |key: &str| {
        status(
            client
                .get(url("/api/v1/reports/usage"))
                .header("authorization", format!("Bearer {key}")),
        )
    };
    assert_eq!(post(ingest), 200, "the ingest key opens ingest");
    assert_eq!(post(admin), 200, "the admin key opens ingest");
    assert_eq!(post(viewer), 403, "the viewer key does not");
    assert_eq!(report(ingest), 403, "the ingest key opens nothing else");
    assert_eq!(report(viewer), 200);
    assert_eq!(report(admin), 200);
    assert_eq!(report(KEY), 403, "no other key works");
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for key in [viewer, admin, ingest] {
        assert!(
            !printed.contains(key),
            "a configured key was printed:\n{printed}"
        );
    }
}

#[test]
fn a_foreign_host_is_refused_and_the_configured_names_answer() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(
        dir.path(),
        "[server]\nallowed_hosts = [\"usage.example.com\"]\n",
    );
    let server = demo(dir.path(), "db.duckdb", &["--config", &config]);
    let client = Server::client();
    let get = |path: &str, host: &str| {
        client
            .get(server.url(path))
            .header("host", host)
            .header("x-license-key", KEY)
            .send()
            .unwrap()
    };
    for path in ["/", "/ui/config.json", "/api/v1/reports/usage", "/metrics"] {
        let r = get(path, "rebind.attacker.example");
        assert_eq!(r.status().as_u16(), 421, "{path} for a foreign host");
        let body: Value = r.json().unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("allowed_hosts"), "{message}");
        for host in [
            "localhost:8050",
            "127.0.0.1",
            "usage.example.com",
            "mirrord-usage.monitoring.svc.cluster.local:8050",
        ] {
            assert_eq!(get(path, host).status().as_u16(), 200, "{path} for {host}");
        }
    }
}

#[test]
fn every_response_carries_the_hardening_headers() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo(dir.path(), "db.duckdb", &[]);
    let client = Server::client();
    let page = client.get(server.url("/")).send().unwrap();
    let h = page.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert!(
        h.get("strict-transport-security").is_none(),
        "no HSTS over plain http"
    );
    let api = client
        .get(server.url("/api/v1/reports/usage"))
        .header("x-license-key", KEY)
        .send()
        .unwrap();
    assert_eq!(api.headers()["x-content-type-options"], "nosniff");
    assert_eq!(api.headers()["x-frame-options"], "DENY");
    // The Jira panel is meant to be framed by Jira: its own CSP names who may, and no DENY.
    let panel = client.get(server.url("/jira/panel/SHOP-1")).send().unwrap();
    let csp = panel.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("frame-ancestors") && !csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(panel.headers().get("x-frame-options").is_none());
}

/// Label sets of the `mirrord_sessions_create_total` series in a scrape.
fn create_series(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("mirrord_sessions_create_total"))
        .map(str::to_string)
        .collect()
}

#[test]
fn metrics_behind_a_bearer_token_and_user_labels_only_when_protected() {
    let dir = tempfile::tempdir().unwrap();
    let client = Server::client();
    // Open /metrics: no user, host or client id anywhere.
    let open = demo(dir.path(), "open.duckdb", &[]);
    let text = client
        .get(open.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let series = create_series(&text);
    assert_eq!(series.len(), 1, "one series summed over users: {series:?}");
    assert!(!series[0].contains('='), "no labels: {}", series[0]);
    assert!(
        !text.contains("mirrord_usage_user_sessions"),
        "per-user series left out"
    );
    assert!(!text.contains("client_hostname="));
    let total: f64 = series[0].rsplit(' ').next().unwrap().parse().unwrap();
    // The same count from the sessions themselves (exec sessions started).
    let (code, rows) = open.sql("select count(*) from sessions where kind = 'exec'");
    assert_eq!(code, 200, "{rows}");
    assert_eq!(total, rows["rows"][0][0].as_f64().unwrap());
    open.stop();

    // A token from a file: 401 without, 403 wrong, 200 right, and the user labels come back.
    std::fs::write(dir.path().join("token"), "scrape-t0ken\n").unwrap();
    let config = config_file(
        dir.path(),
        &format!(
            "[metrics]\nbearer_token_file = \"{}\"\n",
            dir.path().join("token").display()
        ),
    );
    // The same database (--demo adds nothing to a database that has data).
    let locked = demo(dir.path(), "open.duckdb", &["--config", &config]);
    let scrape = |token: Option<&str>| {
        let mut r = client.get(locked.url("/metrics"));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().unwrap()
    };
    assert_eq!(scrape(None).status().as_u16(), 401);
    assert_eq!(scrape(Some("nope")).status().as_u16(), 403);
    assert_eq!(
        scrape(Some(KEY)).status().as_u16(),
        403,
        "API keys don't open /metrics"
    );
    let r = scrape(Some("scrape-t0ken"));
    assert_eq!(r.status().as_u16(), 200);
    let text = r.text().unwrap();
    let series = create_series(&text);
    assert!(series.len() > 1, "{series:?}");
    assert!(series.iter().all(|s| s.contains("client_hostname=")));
    assert!(text.contains("mirrord_usage_user_sessions"));
    let sum: f64 = series
        .iter()
        .map(|s| s.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(
        sum, total,
        "the per-user series add up to the unlabelled one"
    );
}
