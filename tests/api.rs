//! The HTTP API of `serve`: authentication on every route, the read-only SQL guard, the
//! report formats, HTTP JSON ingest, and `/metrics` checked with `promtool`.

mod common;

use common::{ADMIN_KEY, KEY, Server};
use serde_json::Value;

/// Every `/api/` route and the role it needs: `true` for admin-only.
const API_ROUTES: &[(&str, &str, bool)] = &[
    ("GET", "/api/v1/reports/usage", false),
    ("GET", "/api/v1/reports/usage?format=csv", false),
    ("GET", "/api/v1/reports/usage?format=xlsx", false),
    ("GET", "/api/v1/reports/usage/trends?days=7", false),
    ("GET", "/api/v1/reports/jira", false),
    ("GET", "/api/v1/reports/jira/SHOP-1", false),
    ("GET", "/api/v1/jira/status", false),
    ("GET", "/api/v1/sessions", false),
    ("GET", "/api/v1/usage/sessions", false),
    ("GET", "/api/v1/dashboards/grafana-prometheus", false),
    ("GET", "/api/v1/directory", false),
    ("GET", "/api/v1/reports/adoption", false),
    ("GET", "/api/v1/export.zip", false),
    ("POST", "/api/v1/sql", true),
    ("POST", "/api/v1/ingest", true),
    ("POST", "/api/v1/admin/retention?dry_run=true", true),
    ("POST", "/api/v1/admin/backup", true),
    ("POST", "/api/v1/directory", true),
];

fn demo_server() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("db.duckdb"), &["--demo", "--no-receivers"]);
    (dir, server)
}

#[test]
fn every_api_route_by_role_401_missing_403_wrong_or_lesser_json_errors() {
    let (_dir, server) = demo_server();
    let client = Server::client();
    for (method, path, admin_only) in API_ROUTES {
        let req = |key: Option<&str>| {
            let mut r = match *method {
                "GET" => client.get(server.url(path)),
                // An empty body: each admin route answers 400 rather than doing work.
                _ => client
                    .post(server.url(path))
                    .header("content-type", "application/json")
                    .body("{"),
            };
            if let Some(k) = key {
                r = r.header("x-license-key", k);
            }
            r.send().unwrap()
        };
        let missing = req(None);
        assert_eq!(
            missing.status().as_u16(),
            401,
            "{method} {path} without a key"
        );
        let body: Value = missing.json().unwrap();
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("x-license-key"),
            "{body}"
        );
        let wrong = req(Some("nope"));
        assert_eq!(
            wrong.status().as_u16(),
            403,
            "{method} {path} with a wrong key"
        );
        let body: Value = wrong.json().unwrap();
        assert_eq!(body["error"]["status"], 403);
        let viewer = req(Some(KEY)).status().as_u16();
        if *admin_only {
            assert_eq!(viewer, 403, "{method} {path} with the viewer key");
        } else {
            assert!(
                ![401, 403].contains(&viewer),
                "{method} {path} with the viewer key: {viewer}"
            );
        }
        let admin = req(Some(ADMIN_KEY)).status().as_u16();
        assert!(
            ![401, 403].contains(&admin),
            "{method} {path} with the admin key: {admin}"
        );
    }
    let open = client.get(server.url("/healthz")).send().unwrap();
    assert_eq!(open.status().as_u16(), 200);
    let metrics = client.get(server.url("/metrics")).send().unwrap();
    assert_eq!(
        metrics.status().as_u16(),
        200,
        "/metrics needs no key unless [metrics] bearer_token is set"
    );
}

#[test]
fn sql_endpoint_refuses_every_write_and_escape_form() {
    let (dir, server) = demo_server();
    let file = dir.path().join("secret.csv");
    std::fs::write(&file, "a,b\n1,2\n").unwrap();
    let f = file.display().to_string();
    let forms = [
        "INSERT INTO events SELECT * FROM events LIMIT 1".to_string(),
        "UPDATE events SET level = 'x'".to_string(),
        "DELETE FROM events".to_string(),
        "DROP TABLE events".to_string(),
        "CREATE TABLE x (a INT)".to_string(),
        "ALTER TABLE events ADD COLUMN x INT".to_string(),
        format!("COPY events TO '{}'", dir.path().join("out.csv").display()),
        format!(
            "ATTACH '{}' AS other",
            dir.path().join("other.duckdb").display()
        ),
        "DETACH other".to_string(),
        "INSTALL httpfs".to_string(),
        "LOAD httpfs".to_string(),
        "PRAGMA database_list".to_string(),
        "SET threads = 1".to_string(),
        format!("EXPORT DATABASE '{}'", dir.path().join("exp").display()),
        format!("SELECT * FROM read_csv('{f}')"),
        format!("SELECT * FROM read_text('{f}')"),
        format!("SELECT * FROM '{f}'"),
        "SELECT * FROM glob('/etc/*')".to_string(),
        "SELECT * FROM query('DROP TABLE events')".to_string(),
        "SELECT getenv('HOME')".to_string(),
        "SELECT 1; DROP TABLE events".to_string(),
    ];
    for q in &forms {
        let (status, body) = server.sql(q);
        assert_eq!(status, 400, "must refuse: {q}: {body}");
        assert!(body["error"]["message"].is_string(), "{q}: {body}");
    }
    let (status, body) = server.sql("select count(*) as n from events");
    assert_eq!(status, 200, "{body}");
    assert!(
        body["rows"][0][0].as_i64().unwrap() > 1000,
        "the demo data is still there: {body}"
    );
    let (status, body) = server.sql(
        "with x as (select kind from events) select kind, count(*) from x group by 1 order by 1",
    );
    assert_eq!(status, 200, "CTEs are fine: {body}");
    assert_eq!(body["columns"][0], "kind");
}

#[test]
fn usage_report_formats_and_errors() {
    let (_dir, server) = demo_server();
    let report = server.get_json("/api/v1/reports/usage");
    for key in [
        "generalMetrics",
        "allTimeMetrics",
        "ciMetrics",
        "userMetrics",
        "targetMetrics",
        "userTargetMetrics",
        "uniqueMachines",
        "namespaceMetrics",
        "jiraMetrics",
    ] {
        assert!(report.get(key).is_some(), "{key} missing");
    }
    let users = report["userMetrics"].as_array().unwrap().len();
    let (status, csv) = server.get("/api/v1/reports/usage?format=csv");
    assert_eq!(status, 200);
    assert_eq!(
        csv.lines().count(),
        users + 1,
        "a header and one row per user"
    );
    let r = Server::client()
        .get(server.url("/api/v1/reports/usage?format=xlsx"))
        .header("x-license-key", KEY)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.bytes().unwrap().starts_with(b"PK"), "xlsx is a zip");
    let (status, body) = server.get("/api/v1/reports/usage?from=yesterday");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("not a date"));
    let (status, body) = server.get("/api/v1/usage/sessions?cursor=");
    assert_eq!(status, 400, "an empty cursor: {body}");
    let page = server.get_json("/api/v1/usage/sessions?limit=2");
    assert_eq!(page["sessions"].as_array().unwrap().len(), 2);
    let next = page["nextCursor"]
        .as_str()
        .expect("a non-empty page has a cursor");
    let (status, _) = server.get(&format!("/api/v1/usage/sessions?limit=2&cursor={next}"));
    assert_eq!(status, 200);
    let (status, _) = server.get("/api/v1/reports/usage/trends?days=0");
    assert_eq!(status, 400);
    let (status, _) = server.get("/api/v1/reports/usage/trends?days=3651");
    assert_eq!(status, 400);
    for bad in [
        "from=2026-01-07&to=2026-01-05",
        "from=2026-01-05T10:00:00Z&to=2026-01-05T10:00:00Z",
        "to=1969-12-31",
    ] {
        let (status, body) = server.get(&format!("/api/v1/reports/usage?{bad}"));
        assert_eq!(status, 400, "{bad}: {body}");
    }
    // Our explicit range is start/end; from/to are ignored, as by the vendor's trends.
    let range =
        server.get_json("/api/v1/reports/usage/trends?start=2026-01-01&end=2026-01-03&dense=true");
    assert_eq!(range["dailySessions"].as_array().unwrap().len(), 3);
    assert_eq!(range["from"], "2026-01-01");
    let ignored =
        server.get_json("/api/v1/reports/usage/trends?from=2026-01-01&to=2026-01-03&dense=true");
    assert_eq!(
        ignored["dailySessions"].as_array().unwrap().len(),
        30,
        "the default 30 days"
    );
    let dense = server.get_json("/api/v1/reports/usage/trends?days=90&dense=true");
    let dense = dense["dailySessions"].as_array().unwrap();
    assert_eq!(dense.len(), 90, "dense: every day is present");
    // Sparse (the vendor's): exactly the dense days with sessions, in order.
    let sparse = server.get_json("/api/v1/reports/usage/trends?days=90");
    let with_sessions: Vec<&serde_json::Value> = dense
        .iter()
        .filter(|d| d["count"].as_i64() > Some(0))
        .collect();
    let sparse: Vec<&serde_json::Value> =
        sparse["dailySessions"].as_array().unwrap().iter().collect();
    assert!(
        with_sessions.len() < 90,
        "the demo has days without sessions"
    );
    assert_eq!(sparse, with_sessions);
}

#[test]
fn sessions_are_cursor_paginated_without_gaps_or_repeats() {
    let (_dir, server) = demo_server();
    let total = server.sql("select count(*) from sessions").1["rows"][0][0]
        .as_i64()
        .unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/sessions?limit=500&cursor={c}"),
            None => "/api/v1/sessions?limit=500".to_string(),
        };
        let page = server.get_json(&path);
        for s in page["sessions"].as_array().unwrap() {
            assert!(
                seen.insert(s["sessionId"].as_str().unwrap().to_string()),
                "repeated {s}"
            );
        }
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len() as i64, total);
    let ci = server.get_json("/api/v1/sessions?kind=ci&limit=50");
    assert!(
        ci["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["kind"] == "ci")
    );
    let (status, _) = server.get("/api/v1/sessions?kind=robot");
    assert_eq!(status, 400);
}

#[test]
fn http_ingest_accepts_object_array_and_ndjson_and_counts_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("db.duckdb"), &["--no-receivers"]);
    let line = |ts: &str, msg: &str| serde_json::json!({"timestamp": ts, "level": "INFO", "fields": {"message": msg, "session_id": "H1", "client_id": "m1"}, "target": "operator::session"});
    let fluentd = |v: &Value| serde_json::json!({"log": v.to_string(), "stream": "stdout", "kubernetes": {"pod_name": "op"}});
    let a = line("2026-04-01T10:00:00.000001Z", "Session Start");
    let b = line("2026-04-01T10:05:00.000001Z", "Session End");
    let post = |body: String, ctype: &str| {
        Server::client()
            .post(server.url("/api/v1/ingest"))
            .header("x-license-key", ADMIN_KEY)
            .header("content-type", ctype)
            .body(body)
            .send()
            .unwrap()
    };
    let r = post(a.to_string(), "application/json");
    assert_eq!(r.status().as_u16(), 200);
    let r = post(
        serde_json::json!([fluentd(&a), fluentd(&b)]).to_string(),
        "application/json",
    );
    assert_eq!(r.status().as_u16(), 200);
    let r = post(
        format!("{}\n{}\nnot json\n", fluentd(&b), a),
        "application/x-ndjson",
    );
    let body: Value = r.json().unwrap();
    assert_eq!(body["rejected"], 1, "{body}");
    let (_, n) = server.sql("select count(*) from events");
    assert_eq!(
        n["rows"][0][0], 2,
        "two distinct events however often they came"
    );
    let (_, r) = server.sql("select count(*) from rejects");
    assert_eq!(r["rows"][0][0], 1);
}

#[test]
fn metrics_pass_promtool() {
    let (_dir, server) = demo_server();
    let body = server.metrics();
    for series in [
        "mirrord_sessions_create_total",
        "mirrord_ci_sessions_create_total",
        // The operator's histogram names, which its own dashboards query.
        "mirrord_sessions_duration_bucket",
        "mirrord_ci_sessions_duration_count",
        "mirrord_usage_sessions_total",
        "mirrord_usage_port_events_total",
        "mirrord_usage_ingest_records_total",
    ] {
        assert!(body.contains(series), "{series} missing");
    }
    assert!(
        !body.contains("mirrord_sessions_duration_seconds"),
        "the operator's histogram has no _seconds suffix"
    );
    let promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child =
        promtool.expect("promtool missing: run .ci/install.d/api.sh (Debian package prometheus)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The example alert rules: promtool accepts them, its unit test (alerts worked out by hand in
/// tests/dashboards/adoption.rules.test.yml) passes, and the series they read are in a real
/// scrape with the labels they use.
#[test]
fn adoption_alert_rules_pass_promtool_and_read_real_series() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for args in [
        vec!["check", "rules", "dashboards/alerts/adoption.rules.yml"],
        vec!["test", "rules", "tests/dashboards/adoption.rules.test.yml"],
    ] {
        let out = std::process::Command::new("promtool")
            .args(&args)
            .current_dir(root)
            .output()
            .expect("promtool missing: run .ci/install.d/api.sh (Debian package prometheus)");
        assert!(
            out.status.success(),
            "promtool {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (_dir, server) = demo_server();
    let body = server.metrics();
    for series in [
        "mirrord_usage_group_active_users",
        "mirrord_usage_group_going_cold_users",
    ] {
        assert!(
            body.lines().any(|l| l.starts_with(&format!(
                "{series}{{group_type=\"team\",group=\"Data\",group_id=\"data\"}} 0"
            ))),
            "{series} for the demo's Data team (nobody started): {body}"
        );
    }
}

#[test]
fn responses_match_the_openapi_spec() {
    let (_dir, server) = demo_server();
    common::check_openapi(&server);
}

#[test]
fn dashboards_route_serves_the_committed_files() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("db.duckdb"), &["--no-receivers"]);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards");
    for (vendor, file) in [
        ("grafana-prometheus", "grafana-prometheus.json"),
        ("grafana-loki", "grafana-loki.json"),
        ("datadog", "datadog.json"),
        ("kibana", "kibana.ndjson"),
    ] {
        let (status, body) = server.get(&format!("/api/v1/dashboards/{vendor}"));
        assert_eq!(status, 200, "{vendor}: {body}");
        assert_eq!(
            body,
            std::fs::read_to_string(root.join(file)).unwrap(),
            "{vendor}"
        );
    }
    let (status, body) = server.get("/api/v1/dashboards/splunk");
    assert_eq!(status, 400, "{body}");
}

#[test]
fn dashboard_login_sets_an_http_only_cookie_that_authorizes_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &dir.path().join("db.duckdb"),
        &["--no-receivers", "--dashboard-login"],
    );
    let client = Server::client();
    let config: Value = client
        .get(server.url("/ui/config.json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(
        config["licenseKey"].is_null(),
        "the key is not handed out: {config}"
    );
    let wrong = client
        .post(server.url("/ui/login"))
        .json(&serde_json::json!({"licenseKey": "nope"}))
        .send()
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 403);
    let ok = client
        .post(server.url("/ui/login"))
        .json(&serde_json::json!({"licenseKey": KEY}))
        .send()
        .unwrap();
    assert_eq!(ok.status().as_u16(), 204);
    let cookie = ok.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap();
    let report = client
        .get(server.url("/api/v1/reports/usage"))
        .header("cookie", pair)
        .send()
        .unwrap();
    assert_eq!(
        report.status().as_u16(),
        200,
        "the cookie authorizes API requests"
    );
    let forged = client
        .get(server.url("/api/v1/reports/usage"))
        .header("cookie", "mirrord_usage_key=nope")
        .send()
        .unwrap();
    assert_eq!(forged.status().as_u16(), 403);
}

#[test]
fn dashboard_port_serves_the_dashboard_and_its_api_too() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, format!("[dashboard]\nport = {port}\n")).unwrap();
    let server = Server::start(
        &dir.path().join("db.duckdb"),
        &["--no-receivers", "--config", &config.display().to_string()],
    );
    let second = format!("http://127.0.0.1:{port}");
    let client = Server::client();
    let page = client.get(format!("{second}/")).send().unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(
        page.text().unwrap().contains("<html"),
        "the dashboard's page"
    );
    let api = client
        .get(format!("{second}/api/v1/reports/usage"))
        .header("x-license-key", KEY)
        .send()
        .unwrap();
    assert_eq!(api.status().as_u16(), 200, "the API the dashboard reads");
    drop(server);
}

/// The flattened tracing sample carries two `target` keys (the module path, then the mirrord
/// target). Sent over HTTP as a JSON array, as NDJSON and one object at a time after the same
/// file was ingested from disk, it must be the same 6 events, so nothing new is stored.
#[test]
fn the_flattened_sample_by_file_then_http_array_ndjson_and_objects_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.duckdb");
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/tracing-flat.log");
    let out = std::process::Command::new(common::bin())
        .arg("--db")
        .arg(&db)
        .arg("ingest")
        .arg(&sample)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = Server::start(&db, &["--no-receivers"]);
    let text = std::fs::read_to_string(&sample).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let array = format!("[{}]", lines.join(","));
    let post = |body: String, content_type: &str| -> Value {
        let r = Server::client()
            .post(server.url("/api/v1/ingest"))
            .header("x-license-key", ADMIN_KEY)
            .header("content-type", content_type)
            .body(body)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        r.json().unwrap()
    };
    let mut bodies = vec![
        (array, "application/json"),
        (lines.join("\n"), "application/x-ndjson"),
    ];
    bodies.extend(lines.iter().map(|l| (l.to_string(), "application/json")));
    let mut duplicates = 0;
    for (body, content_type) in bodies {
        let reply = post(body, content_type);
        assert_eq!(reply["stored"], 0, "nothing new: {reply}");
        duplicates += reply["duplicates"].as_i64().unwrap();
    }
    // 6 functional events (the license line is not one), three times over.
    assert_eq!(duplicates, 18);
    let (_, rows) = server.sql("select count(*) from events");
    assert_eq!(rows["rows"][0][0], 6, "{rows}");
}

/// The report cache: an unchanged database answers a repeated report from memory, a commit
/// (here an HTTP ingest) makes the next answer a fresh one that includes it, and different
/// parameters are different answers. `/metrics` reuses its database part the same way.
#[test]
fn reports_are_cached_until_the_next_commit() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("db.duckdb"), &["--no-receivers"]);
    let report = |path: &str| {
        let r = Server::client()
            .get(server.url(path))
            .header("x-license-key", KEY)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let hit = r.headers().get("x-mirrord-usage-cache").is_some();
        let body: Value = r.json().unwrap();
        (hit, body["allTimeMetrics"]["totalSessionCount"].as_i64())
    };
    let ingest = |id: &str| {
        let line = serde_json::json!({"timestamp": "2026-04-01T10:00:00.000001Z", "level": "INFO",
            "fields": {"message": "Session Start", "session_id": id, "client_id": "m1", "client_user": "ana@corp"},
            "target": "operator::session"});
        let r = Server::client()
            .post(server.url("/api/v1/ingest"))
            .header("x-license-key", ADMIN_KEY)
            .header("content-type", "application/json")
            .body(line.to_string())
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    };
    let usage = "/api/v1/reports/usage";
    assert_eq!(report(usage), (false, Some(0)), "first: computed");
    assert_eq!(report(usage), (true, Some(0)), "again: from the cache");
    assert_eq!(
        report("/api/v1/reports/usage?primary_key=username"),
        (false, Some(0)),
        "other parameters: computed"
    );
    let created = || {
        let body = server.metrics();
        // Without user labels the family has one series, `mirrord_sessions_create_total{} N`.
        body.lines()
            .find(|l| l.starts_with("mirrord_sessions_create_total"))
            .and_then(|l| l.rsplit(' ').next())
            .map(|v| v.parse::<f64>().unwrap())
    };
    let scraped = created();
    assert_eq!(created(), scraped, "an unchanged database scrapes the same");
    ingest("C1");
    assert_eq!(
        report(usage),
        (false, Some(1)),
        "after a commit: the new session"
    );
    assert_eq!(report(usage), (true, Some(1)));
    assert_eq!(
        created(),
        Some(scraped.unwrap_or(0.0) + 1.0),
        "the scrape after a commit counts it"
    );
}
