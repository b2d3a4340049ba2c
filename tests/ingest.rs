//! `ingest`, `sql` and `generate` driven through the real binary, the way a user runs them:
//! sample files, bad input, idempotency, missing files and unwritable databases.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{bin, ok, run};
use serde_json::Value;

fn ingest_json(db: &Path, inputs: &[&str]) -> Value {
    let mut args = vec!["ingest", "--json"];
    args.extend_from_slice(inputs);
    serde_json::from_str(&ok(run(db, &args))).expect("summary JSON")
}

fn sql(db: &Path, query: &str) -> Vec<Value> {
    let out = ok(run(db, &["sql", query, "--format", "json"]));
    match serde_json::from_str(&out).expect("sql JSON") {
        Value::Array(rows) => rows,
        other => panic!("expected rows, got {other}"),
    }
}

fn samples() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("samples"))
            .expect("samples/")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e != "md"))
            .collect();
    files.sort();
    files
}

#[test]
fn every_sample_holds_the_same_six_events_and_reingest_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.duckdb");
    let files = samples();
    assert!(
        files.len() >= 8,
        "expected a sample per format, found {files:?}"
    );
    let paths: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
    let first = ingest_json(&db, &refs);
    assert_eq!(
        first["stored"], 6,
        "one session's six events, whatever the format: {first}"
    );
    assert_eq!(first["rejected"], 0, "{first}");
    assert!(
        first["skipped"].as_u64().unwrap() >= files.len() as u64,
        "each sample has a non-functional line: {first}"
    );
    assert_eq!(
        first["duplicates"].as_u64().unwrap(),
        6 * (files.len() as u64 - 1),
        "{first}"
    );
    let kinds = sql(
        &db,
        "select kind, count(*) as n from events group by 1 order by 1",
    );
    assert_eq!(kinds.len(), 6, "all six kinds: {kinds:?}");
    assert!(kinds.iter().all(|r| r["n"] == 1), "{kinds:?}");

    let again = ingest_json(&db, &refs);
    assert_eq!(
        again["stored"], 0,
        "re-ingest must not store anything: {again}"
    );
    assert_eq!(
        again["duplicates"].as_u64().unwrap(),
        6 * files.len() as u64
    );
    let total = sql(&db, "select count(*) as n from events");
    assert_eq!(total[0]["n"], 6);
}

#[test]
fn each_sample_file_parses_on_its_own() {
    for file in samples() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db.duckdb");
        let summary = ingest_json(&db, &[&file.display().to_string()]);
        assert_eq!(summary["stored"], 6, "{}: {summary}", file.display());
        assert_eq!(summary["rejected"], 0, "{}: {summary}", file.display());
        let rows = sql(
            &db,
            "select kind, session_id, client_name, target_name, target_namespace, port, http_filter, scale_down, session_duration from events order by timestamp, kind",
        );
        let by_kind = |k: &str| {
            rows.iter()
                .find(|r| r["kind"] == k)
                .unwrap_or_else(|| panic!("{k} in {}", file.display()))
        };
        assert!(
            by_kind("session_start")["client_name"].is_string(),
            "{}",
            file.display()
        );
        assert!(
            by_kind("port_steal")["port"].is_number(),
            "{}",
            file.display()
        );
        assert!(
            by_kind("port_steal")["http_filter"].is_string(),
            "{}",
            file.display()
        );
        assert!(
            by_kind("copy_target")["scale_down"].is_boolean(),
            "{}",
            file.display()
        );
        assert!(
            by_kind("session_end")["session_duration"].is_number(),
            "{}",
            file.display()
        );
        assert!(
            by_kind("session_start")["target_name"].is_string(),
            "{}",
            file.display()
        );
        let module_as_target = sql(
            &db,
            "select count(*) as n from events where target like '%::%' or target_name like '%::%'",
        );
        assert_eq!(
            module_as_target[0]["n"],
            0,
            "tracing's module path must never be a target ({})",
            file.display()
        );
    }
}

fn write_bad_input(path: &Path) {
    let good = |ts: &str, msg: &str, extra: &str| {
        format!(
            r#"{{"timestamp":"{ts}","level":"INFO","fields":{{"message":"{msg}","session_id":"AB12","client_id":"c1","client_name":"Ana"{extra}}},"target":"operator::session"}}"#
        )
    };
    let mut f = std::fs::File::create(path).unwrap();
    let lines: Vec<Vec<u8>> = vec![
        good("2026-03-01T10:00:00.000001Z", "Session Start", "").into_bytes(),
        br#"{"timestamp":"2026-03-01T10:00:01Z","level":"INFO","fields":{"message":"Port Steal","port":"#.to_vec(),
        good("2026-03-01T10:00:02.000001Z", "Port Steal", r#","port":"abc""#).into_bytes(),
        good("2026-03-01T10:00:03.000001Z", "Session End", r#","session_duration":-5"#).into_bytes(),
        good("2026-03-01T10:00:04.000001Z", "Session End", r#","session_duration":"NaN""#).into_bytes(),
        b"{\"timestamp\":\"2026-03-01T10:00:05Z\",\"fields\":{\"message\":\"Session Start\",\"client_name\":\"\xff\xfe\"}}".to_vec(),
        vec![b'x'; 10 * 1024 * 1024],
        vec![0u8, 159, 146, 150, 1, 2, 3, 255, 0, 7],
        good("2026-03-01T10:00:06.000001Z", "Teleported", "").into_bytes(),
        good("2026-03-01T10:00:07.000001Z", "Loaded license!", "").into_bytes(),
        good("2026-03-01T10:00:08.000001Z", "Port Mirror", r#","port":8080"#).into_bytes(),
        good("2026-03-01T10:00:09.000001Z", "Session End", r#","session_duration":9.5"#).into_bytes(),
    ];
    for l in lines {
        f.write_all(&l).unwrap();
        f.write_all(b"\n").unwrap();
    }
}

#[test]
fn bad_input_is_rejected_with_reasons_and_good_lines_survive() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.duckdb");
    let input = dir.path().join("bad.log");
    write_bad_input(&input);
    let summary = ingest_json(&db, &[&input.display().to_string()]);
    assert_eq!(summary["lines"], 12, "{summary}");
    assert_eq!(
        summary["stored"], 3,
        "start, mirror and the valid end survive: {summary}"
    );
    assert_eq!(
        summary["skipped"], 2,
        "unknown message and Loaded license! are skips: {summary}"
    );
    assert_eq!(summary["rejected"], 7, "{summary}");
    let rejects = sql(
        &db,
        "select location, reason, length(excerpt) as len from rejects order by location",
    );
    let reasons: Vec<String> = rejects
        .iter()
        .map(|r| r["reason"].as_str().unwrap().to_string())
        .collect();
    let has = |needle: &str| reasons.iter().any(|r| r.contains(needle));
    assert!(has("invalid JSON"), "truncated JSON: {reasons:?}");
    assert!(has("field `port`"), "port abc: {reasons:?}");
    assert!(
        reasons
            .iter()
            .filter(|r| r.contains("session_duration"))
            .count()
            == 2,
        "negative and NaN: {reasons:?}"
    );
    assert!(has("invalid UTF-8"), "{reasons:?}");
    assert!(has("exceeds"), "10 MB line: {reasons:?}");
    assert!(
        rejects.iter().all(|r| r["len"].as_u64().unwrap() <= 2048),
        "excerpts are capped: {rejects:?}"
    );
    assert!(
        rejects
            .iter()
            .all(|r| r["location"].as_str().unwrap().contains("bad.log:")),
        "{rejects:?}"
    );
}

#[test]
fn missing_file_and_unwritable_db_fail_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.duckdb");
    let out = run(&db, &["ingest", "/no/such/file.log"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such file: /no/such/file.log"));

    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "x").unwrap();
    let sample = samples()[0].display().to_string();
    let out = run(&blocker.join("db.duckdb"), &["ingest", &sample]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("database") || err.contains("directory"),
        "{err}"
    );
}

#[test]
fn a_bad_memory_limit_is_refused_before_anything_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.duckdb");
    let sample = samples()[0].display().to_string();
    let out = run(&db, &["ingest", &sample, "--memory-limit", "banana"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("memory limit") && err.contains("banana"),
        "{err}"
    );
    let out = run(&db, &["ingest", &sample, "--memory-limit", "64MB"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn stdin_and_gzip_inputs_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.duckdb");
    let sample = std::fs::read(&samples()[0]).unwrap();
    let gz = dir.path().join("s.log.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(&sample).unwrap();
    enc.finish().unwrap();
    let summary = ingest_json(&db, &[&gz.display().to_string()]);
    assert_eq!(summary["stored"], 6, "{summary}");

    let db2 = dir.path().join("db2.duckdb");
    let mut child = Command::new(bin())
        .args(["--db", &db2.display().to_string(), "ingest", "--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&sample).unwrap();
    let out = ok(child.wait_with_output().unwrap());
    let summary: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["stored"], 6, "{summary}");
    let src = sql(&db2, "select distinct source from events");
    assert_eq!(src[0]["source"], "stdin");
}

#[test]
fn sql_prints_table_csv_and_json_from_an_existing_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.duckdb");
    ingest_json(&db, &[&samples()[0].display().to_string()]);
    let table = ok(run(
        &db,
        &["sql", "select kind from events order by kind limit 2"],
    ));
    assert!(
        table.contains("│ kind") && table.contains("copy_target") && table.contains("2 rows"),
        "{table}"
    );
    let csv = ok(run(
        &db,
        &[
            "sql",
            "select kind, port from events where kind = 'port_steal'",
            "--format",
            "csv",
        ],
    ));
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("kind,port"));
    assert!(lines.next().unwrap().starts_with("port_steal,"), "{csv}");
    let bad = run(&db, &["sql", "select nope from events"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("nope"));
    let missing = run(&dir.path().join("absent.duckdb"), &["sql", "select 1"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no database"));
}

#[test]
fn generated_logs_in_every_format_store_the_same_events() {
    let dir = tempfile::tempdir().unwrap();
    let mut fingerprints = Vec::new();
    for format in [
        "tracing-json",
        "tracing-flat",
        "fluentd",
        "cri",
        "docker",
        "text",
        "otlp-json",
        "mixed",
    ] {
        let log = dir.path().join(format!("{format}.log"));
        let generated = Command::new(bin())
            .args([
                "generate",
                "--users",
                "8",
                "--days",
                "5",
                "--seed",
                "3",
                "--end",
                "2026-05-01",
                "--format",
                format,
            ])
            .output()
            .unwrap();
        std::fs::write(&log, ok(generated)).unwrap();
        let db = dir.path().join(format!("{format}.duckdb"));
        let summary = ingest_json(&db, &[&log.display().to_string()]);
        assert_eq!(summary["rejected"], 0, "{format}: {summary}");
        let fp = sql(
            &db,
            "select count(*) as n, sum(hash(id)) as h, count(distinct session_id) as s from events",
        );
        fingerprints.push((format, fp[0].clone()));
    }
    let (_, first) = &fingerprints[0];
    assert!(first["n"].as_u64().unwrap() > 50, "{first}");
    for (format, fp) in &fingerprints {
        assert_eq!(
            fp, first,
            "{format} must store exactly the events tracing-json stores"
        );
    }
}
