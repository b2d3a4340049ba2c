//! The read-only SQL endpoint cannot read or write files, leak settings, load extensions or
//! exhaust the server: one test per escape class, each against the real `serve`, asserting the
//! status, a refusal reason that names the construct, that a secret file outside the database
//! directory never shows up in a response, that no file was written, and that the server still
//! answers afterwards. Then the queries a report writer runs, with results worked out by hand
//! from `samples/tracing-json.log` (six events, one session of five, ports 80, 8080, 80).

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{ADMIN_KEY, Server, bin};
use serde_json::{Value, json};

/// A database with the sample ingested, and a secret file outside the database's directory.
struct Fixture {
    _db_dir: tempfile::TempDir,
    outside: tempfile::TempDir,
    db: PathBuf,
    secret_path: PathBuf,
    secret: String,
}

impl Fixture {
    fn new() -> Fixture {
        let db_dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let db = db_dir.path().join("usage.duckdb");
        let out = Command::new(bin())
            .arg("--db")
            .arg(&db)
            .args(["ingest", "samples/tracing-json.log"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let secret = format!("secret-{}-{:?}", std::process::id(), Instant::now());
        let secret_path = outside.path().join("secret.csv");
        std::fs::write(&secret_path, format!("value\n{secret}\n")).unwrap();
        Fixture {
            _db_dir: db_dir,
            outside,
            db,
            secret_path,
            secret,
        }
    }

    /// `serve` on this database, with `sql` as the `[sql]` section of a config file.
    fn serve(&self, sql: &str) -> Server {
        let config = self.outside.path().join("serve.toml");
        std::fs::write(&config, format!("[sql]\n{sql}\n")).unwrap();
        Server::start(
            &self.db,
            &["--no-receivers", "--config", config.to_str().unwrap()],
        )
    }

    fn secret(&self) -> String {
        self.secret_path.display().to_string()
    }

    /// A path in the temporary directory outside the database's, which must stay absent.
    fn target(&self, name: &str) -> PathBuf {
        self.outside.path().join(name)
    }
}

/// Asserts `query` gets `status` with a message containing `reason`, that the secret is
/// nowhere in the answer, and that the server still answers.
fn assert_refused(server: &Server, fx: &Fixture, query: &str, status: u16, reason: &str) {
    let (got, body) = server.sql(query);
    let text = body.to_string();
    assert_eq!(got, status, "{query}: {text}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(reason),
        "{query}: the reason should name `{reason}`: {message}"
    );
    assert!(
        !text.contains(&fx.secret),
        "{query} leaked the file: {text}"
    );
    assert_alive(server);
}

/// `/healthz` and a normal query still answer, promptly.
fn assert_alive(server: &Server) {
    let started = Instant::now();
    let health = reqwest::blocking::get(server.url("/healthz")).unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let (status, body) = server.sql("SELECT count(*) FROM events");
    assert_eq!((status, &body["rows"]), (200, &json!([[6]])), "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the server answered slowly: {:?}",
        started.elapsed()
    );
}

fn rows(server: &Server, query: &str) -> Value {
    let (status, body) = server.sql(query);
    assert_eq!(status, 200, "{query}: {body}");
    body["rows"].clone()
}

#[test]
fn sql_given_as_text_is_not_executed() {
    let fx = Fixture::new();
    let server = fx.serve("");
    let s = fx.secret();
    let inner = format!("SELECT * FROM read_text(''{s}'')");
    assert_refused(
        &server,
        &fx,
        &format!("SELECT * FROM json_execute_serialized_sql(json_serialize_sql('{inner}'))"),
        400,
        "table function `json_execute_serialized_sql` is not allowed",
    );
    assert_refused(
        &server,
        &fx,
        &format!("SELECT json_serialize_sql('{inner}')"),
        400,
        "function `json_serialize_sql` is not allowed",
    );
    assert_refused(
        &server,
        &fx,
        &format!("SELECT * FROM query('{inner}')"),
        400,
        "table function `query` is not allowed",
    );
    assert_refused(
        &server,
        &fx,
        "SELECT * FROM query_table('events')",
        400,
        "table function `query_table` is not allowed",
    );
    assert_refused(
        &server,
        &fx,
        &format!("SELECT * FROM read_text('{s}')"),
        400,
        "table function `read_text` is not allowed",
    );
}

#[test]
fn replacement_scans_and_cte_shadowing_are_refused() {
    let fx = Fixture::new();
    let server = fx.serve("");
    let s = fx.secret();
    let not_a_table = format!("`{s}` is not a table of this database");
    for query in [
        format!("SELECT * FROM '{s}'"),
        format!("FROM \"{s}\""),
        // A CTE at the outer level and one in a subquery make neither name a file's.
        format!("WITH x AS (SELECT 1) SELECT * FROM (WITH t AS (SELECT 1) SELECT 1), '{s}'"),
        // A subquery's CTE named like the file does not cover the outer reference.
        format!("SELECT * FROM (WITH \"{s}\" AS (SELECT 1) SELECT 1), '{s}'"),
        format!(
            "SELECT (SELECT count(*) FROM (WITH \"{s}\" AS (SELECT 1) SELECT 1)), * FROM '{s}'"
        ),
        // A CTE defined later in the same WITH is not visible to an earlier one.
        format!("WITH a AS (SELECT * FROM '{s}'), \"{s}\" AS (SELECT 1) SELECT * FROM a"),
    ] {
        assert_refused(&server, &fx, &query, 400, &not_a_table);
    }
    // In its own scope the shadowing CTE is what the name means: no file is read.
    assert_eq!(
        rows(
            &server,
            &format!("WITH \"{s}\" AS (SELECT 42 AS n) SELECT n FROM \"{s}\"")
        ),
        json!([[42]])
    );
}

#[test]
fn summarize_show_and_describe_are_refused() {
    let fx = Fixture::new();
    let server = fx.serve("");
    let s = fx.secret();
    for (query, reason) in [
        (format!("SUMMARIZE '{s}'"), "SUMMARIZE is not allowed"),
        ("SUMMARIZE events".to_string(), "SUMMARIZE is not allowed"),
        (
            format!("SUMMARIZE SELECT * FROM '{s}'"),
            "SUMMARIZE is not allowed",
        ),
        ("SHOW TABLES".to_string(), "SHOW is not allowed"),
        ("SHOW ALL TABLES".to_string(), "SHOW is not allowed"),
        ("SHOW events".to_string(), "SHOW is not allowed"),
        ("DESCRIBE events".to_string(), "DESCRIBE is not allowed"),
        (
            format!("DESCRIBE SELECT * FROM '{s}'"),
            "DESCRIBE is not allowed",
        ),
    ] {
        assert_refused(&server, &fx, &query, 400, reason);
    }
}

#[test]
fn table_functions_with_side_effects_are_refused() {
    let fx = Fixture::new();
    let server = fx.serve("");
    let logs = fx.target("logs");
    let profile = fx.target("profile.json");
    for (query, reason) in [
        (
            format!(
                "SELECT * FROM enable_logging(storage_path = '{}')",
                logs.display()
            ),
            "table function `enable_logging` is not allowed",
        ),
        (
            format!("CALL enable_logging(storage_path = '{}')", logs.display()),
            "only a single read-only SELECT is allowed",
        ),
        (
            format!(
                "SELECT * FROM enable_profiling(save_location = '{}')",
                profile.display()
            ),
            "table function `enable_profiling` is not allowed",
        ),
        (
            "SELECT * FROM checkpoint()".to_string(),
            "table function `checkpoint` is not allowed",
        ),
        (
            "SELECT * FROM force_checkpoint()".to_string(),
            "table function `force_checkpoint` is not allowed",
        ),
        (
            "CALL checkpoint()".to_string(),
            "only a single read-only SELECT is allowed",
        ),
        (
            format!("COPY events TO '{}'", fx.target("events.csv").display()),
            "only a single read-only SELECT is allowed",
        ),
    ] {
        assert_refused(&server, &fx, &query, 400, reason);
    }
    for written in [logs, profile, fx.target("events.csv")] {
        assert!(!written.exists(), "{} was written", written.display());
    }
    assert_nothing_written_outside(&fx);
}

#[test]
fn settings_and_paths_do_not_leak() {
    let fx = Fixture::new();
    let server = fx.serve("");
    let dir = fx.db.parent().unwrap().display().to_string();
    for (query, reason) in [
        (
            "SELECT * FROM pg_catalog.pg_settings",
            "`pg_catalog.pg_settings` is not allowed",
        ),
        ("SELECT * FROM pg_settings", "`pg_settings` is not allowed"),
        (
            "SELECT * FROM duckdb_databases()",
            "table function `duckdb_databases` is not allowed",
        ),
        (
            "SELECT * FROM duckdb_settings()",
            "table function `duckdb_settings` is not allowed",
        ),
        (
            "SELECT * FROM duckdb_temporary_files()",
            "table function `duckdb_temporary_files` is not allowed",
        ),
        (
            "SELECT current_setting('temp_directory')",
            "function `current_setting` is not allowed",
        ),
        (
            "SELECT current_setting('allowed_directories')",
            "function `current_setting` is not allowed",
        ),
        (
            "SELECT getvariable('x')",
            "function `getvariable` is not allowed",
        ),
        (
            "SELECT * FROM information_schema.schemata",
            "`information_schema.schemata` is not allowed",
        ),
        (
            "SELECT * FROM system.main.duckdb_settings",
            "`duckdb_settings` is not allowed",
        ),
        (
            "PRAGMA database_list",
            "only a single read-only SELECT is allowed",
        ),
        (
            "SET threads = 64",
            "only a single read-only SELECT is allowed",
        ),
        (
            "RESET memory_limit",
            "only a single read-only SELECT is allowed",
        ),
    ] {
        assert_refused(&server, &fx, query, 400, reason);
    }
    // information_schema.tables and .columns list names and types, never a path.
    for query in [
        "SELECT * FROM information_schema.tables",
        "SELECT * FROM information_schema.columns",
    ] {
        let (status, body) = server.sql(query);
        assert_eq!(status, 200, "{query}: {body}");
        assert!(
            !body.to_string().contains(&dir),
            "{query} shows the path: {body}"
        );
    }
}

#[test]
fn extensions_cannot_be_installed_or_loaded() {
    let fx = Fixture::new();
    let server = fx.serve("");
    // Each is refused before DuckDB runs anything, so nothing here reaches the network.
    for (query, reason) in [
        (
            "INSTALL httpfs",
            "only a single read-only SELECT is allowed",
        ),
        (
            "FORCE INSTALL httpfs FROM core_nightly",
            "only a single read-only SELECT is allowed",
        ),
        ("LOAD httpfs", "only a single read-only SELECT is allowed"),
        (
            "LOAD '/tmp/evil.duckdb_extension'",
            "only a single read-only SELECT is allowed",
        ),
        // Would autoload httpfs.
        (
            "SELECT * FROM 'https://example.invalid/x.parquet'",
            "reading files (replacement scans) is not allowed",
        ),
        (
            "SELECT * FROM read_parquet('https://example.invalid/x.parquet')",
            "table function `read_parquet` is not allowed",
        ),
        // Would autoload the excel extension.
        (
            "SELECT * FROM read_xlsx('/tmp/x.xlsx')",
            "table function `read_xlsx` is not allowed",
        ),
    ] {
        assert_refused(&server, &fx, query, 400, reason);
    }
}

#[test]
fn a_query_needing_more_than_the_memory_limit_fails_cleanly() {
    let fx = Fixture::new();
    let server = fx.serve("memory_limit = \"200MB\"");
    // One string of 1 GB: it cannot spill to disk.
    assert_refused(
        &server,
        &fx,
        "SELECT length(string_agg(repeat('x', 1000), '')) FROM range(1000000)",
        400,
        "[sql] memory_limit",
    );
    // A query that fits still runs.
    assert_eq!(
        rows(
            &server,
            "SELECT length(string_agg(repeat('x', 1000), '')) FROM range(1000)"
        ),
        json!([[1_000_000]])
    );
}

#[test]
fn a_query_past_the_timeout_is_stopped_with_408() {
    let fx = Fixture::new();
    let server = fx.serve("timeout_ms = 1000");
    let started = Instant::now();
    assert_refused(
        &server,
        &fx,
        "SELECT count(*) FROM range(100000000) a, range(100000) b",
        408,
        "longer than 1000 ms",
    );
    // Stopped, not left running: the refusal and the next queries all came back quickly.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn more_queries_than_max_concurrent_wait_then_get_429() {
    let fx = Fixture::new();
    let server = fx.serve("timeout_ms = 2000\nmax_concurrent = 1");
    let slow = "SELECT count(*) FROM range(100000000) a, range(100000) b";
    let url = server.url("/api/v1/sql");
    // The first runs until the timeout, the second gets its turn when the first is stopped and
    // runs until its own timeout; the third waits longer than timeout_ms for a turn.
    let handles: Vec<_> = (0..3)
        .map(|i| {
            let url = url.clone();
            std::thread::sleep(Duration::from_millis(if i == 0 { 0 } else { 300 }));
            std::thread::spawn(move || {
                let r = Server::client()
                    .post(url)
                    .header("x-license-key", ADMIN_KEY)
                    .json(&json!({ "query": slow }))
                    .send()
                    .unwrap();
                let status = r.status().as_u16();
                (status, r.json::<Value>().unwrap())
            })
        })
        .collect();
    let answers: Vec<(u16, Value)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let statuses: Vec<u16> = answers.iter().map(|a| a.0).collect();
    assert_eq!(statuses, vec![408, 408, 429], "{answers:?}");
    let message = answers[2].1["error"]["message"].as_str().unwrap();
    assert!(message.contains("[sql] max_concurrent"), "{message}");
    assert_alive(&server);
}

#[test]
fn the_queries_a_report_writer_runs_still_work() {
    let fx = Fixture::new();
    let server = fx.serve("");
    // Join: the port steal's session belongs to aris.
    assert_eq!(
        rows(
            &server,
            "SELECT e.kind, s.client_user FROM events e JOIN sessions s USING (session_id) \
             WHERE e.kind = 'port_steal'"
        ),
        json!([["port_steal", "aris@corp.example"]])
    );
    // CTEs, one nested inside another's definition: ports 80 twice, 8080 once.
    assert_eq!(
        rows(
            &server,
            "WITH ports AS (SELECT port FROM events WHERE port IS NOT NULL), \
             agg AS (WITH p AS (SELECT port FROM ports) SELECT port, count(*) AS n FROM p GROUP BY port) \
             SELECT port, n FROM agg ORDER BY port"
        ),
        json!([[80, 2], [8080, 1]])
    );
    // A recursive CTE: 1 + 2 + 3 + 4.
    assert_eq!(
        rows(
            &server,
            "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 4) \
             SELECT CAST(sum(n) AS BIGINT) FROM t"
        ),
        json!([[10]])
    );
    // Window functions: the first three events in time order, and a running count per session.
    assert_eq!(
        rows(
            &server,
            "SELECT kind, row_number() OVER (ORDER BY timestamp) AS n, \
             count(session_id) OVER (ORDER BY timestamp) AS in_session \
             FROM events ORDER BY timestamp LIMIT 3"
        ),
        json!([
            ["session_start", 1, 1],
            ["copy_target", 2, 1],
            ["port_steal", 3, 2]
        ])
    );
    // json_extract on attributes: the sample's events carry no field without a column (the
    // functional events' module path, the same on every row, is not stored).
    assert_eq!(
        rows(
            &server,
            "SELECT json_extract_string(coalesce(attributes, '{\"from\": \"none\"}'), '$.from') AS t, \
             CAST(json_extract(coalesce(attributes, '{\"from\": \"none\"}'), '$.from') AS VARCHAR) AS raw, count(*) \
             FROM events GROUP BY ALL"
        ),
        json!([["none", "\"none\"", 6]])
    );
    // range, generate_series, unnest, json_each.
    assert_eq!(
        rows(&server, "SELECT count(*), max(range) FROM range(5)"),
        json!([[5, 4]])
    );
    assert_eq!(
        rows(
            &server,
            "SELECT count(*), min(generate_series), max(generate_series) FROM generate_series(2, 10, 4)"
        ),
        json!([[3, 2, 10]])
    );
    assert_eq!(
        rows(
            &server,
            "SELECT u FROM unnest(['b', 'a']) AS t(u) ORDER BY u"
        ),
        json!([["a"], ["b"]])
    );
    assert_eq!(
        rows(&server, "SELECT unnest([1, 2, 3]) AS x"),
        json!([[1], [2], [3]])
    );
    assert_eq!(
        rows(
            &server,
            "SELECT key FROM json_each('{\"a\": 1, \"b\": 2}') ORDER BY key"
        ),
        json!([["a"], ["b"]])
    );
    // Listing what there is.
    assert_eq!(
        rows(
            &server,
            "SELECT table_name, table_type FROM information_schema.tables \
             WHERE table_name IN ('events', 'sessions') ORDER BY 1"
        ),
        json!([["events", "BASE TABLE"], ["sessions", "VIEW"]])
    );
    assert_eq!(
        rows(
            &server,
            "SELECT data_type FROM information_schema.columns \
             WHERE table_name = 'events' AND column_name = 'attributes'"
        ),
        json!([["JSON"]])
    );
    assert_nothing_written_outside(&fx);
}

/// The directory outside the database's holds only what the test put there.
fn assert_nothing_written_outside(fx: &Fixture) {
    let mut names: Vec<String> = std::fs::read_dir(fx.outside.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec!["secret.csv", "serve.toml"],
        "{}",
        fx.outside.path().display()
    );
}
