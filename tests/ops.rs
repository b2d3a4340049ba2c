//! Running it in production, driven through the real binary: retention (the dry run, rows
//! before and after, inside `serve` on its schedule and through the admin route), export (files
//! read back by DuckDB with the same row counts), backup while ingesting (the snapshot opens,
//! is consistent, and restores), the deployment files (yamllint, Kubernetes schemas, the
//! properties the issue asks for) and docs/configuration.md against the config struct.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chrono::{Duration as Days, SecondsFormat, Utc};
use common::{ADMIN_KEY, Server, bin, ok, run};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn json(out: Output) -> Value {
    let text = ok(out);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// A single number from `mirrord-usage sql` on `db` (`:memory:` reads files only).
fn count(db: &Path, query: &str) -> i64 {
    let rows = json(run(db, &["sql", query, "--format", "json"]));
    let row = rows
        .as_array()
        .and_then(|r| r.first())
        .and_then(Value::as_object)
        .unwrap_or_else(|| panic!("no row: {rows}"));
    let v = row.values().next().unwrap();
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Three events (start, steal, end) per session, the first `days_ago` days before now, as
/// tracing JSON lines.
fn sessions_at(prefix: &str, sessions: usize, days_ago: i64) -> String {
    let base = Utc::now() - Days::days(days_ago);
    let mut out = String::new();
    for i in 0..sessions {
        let at = |s: i64| {
            (base + Days::seconds(i as i64 * 100 + s)).to_rfc3339_opts(SecondsFormat::Micros, true)
        };
        let ids = format!(
            "\"session_id\":\"{prefix}{i:05}\",\"client_id\":\"c-{prefix}\",\"client_user\":\"ana@corp.example\",\"target\":\"deployment/api/container/main\",\"target_namespace\":\"shop\""
        );
        for (offset, message, extra) in [
            (0, "Session Start", ""),
            (5, "Port Steal", ",\"port\":8080"),
            (50, "Session End", ",\"session_duration\":50"),
        ] {
            out.push_str(&format!(
                "{{\"timestamp\":\"{}\",\"level\":\"INFO\",\"fields\":{{\"message\":\"{message}\",{ids}{extra}}},\"target\":\"operator::session\"}}\n",
                at(offset)
            ));
        }
    }
    out
}

/// A database with recent generated activity, 10 sessions 2500 days old, 5 sessions 4000 days
/// old, and rejects received now and (planted) 4000 days ago.
fn fixture(dir: &Path) -> PathBuf {
    let db = dir.join("usage.duckdb");
    let generated = dir.join("recent.log");
    let out = Command::new(bin())
        .args(["generate", "--users", "6", "--days", "20", "--seed", "11"])
        .output()
        .unwrap();
    std::fs::write(&generated, ok(out)).unwrap();
    let old = dir.join("old.log");
    std::fs::write(
        &old,
        sessions_at("OLDA", 10, 2500) + &sessions_at("OLDB", 5, 4000) + "{\"timestamp\": broken\n",
    )
    .unwrap();
    ok(run(
        &db,
        &["ingest", generated.to_str().unwrap(), old.to_str().unwrap()],
    ));
    let store = mirrord_usage::database::open(db.to_str().unwrap()).unwrap();
    store
        .connection()
        .execute_batch("INSERT INTO rejects SELECT now()::TIMESTAMP - INTERVAL 4000 DAY, 'file:ancient.log', 'ancient.log:1', 'planted', 'x' FROM range(7)")
        .unwrap();
    db
}

/// A single number from `POST /api/v1/sql` on a running server.
fn server_count(server: &Server, query: &str) -> i64 {
    let (status, result) = server.sql(query);
    assert_eq!(status, 200, "{result}");
    result["rows"][0][0]
        .as_i64()
        .unwrap_or_else(|| panic!("not a number: {result}"))
}

const OLD_EVENTS: &str =
    "select count(*) from events where timestamp < now()::TIMESTAMP - INTERVAL 1825 DAY";

// ------------------------------------------------------------------ retention

#[test]
fn retention_dry_run_changes_nothing_and_the_run_deletes_exactly_what_it_reported() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixture(dir.path());
    let events = count(&db, "select count(*) from events");
    let sessions = count(&db, "select count(*) from session_state");
    assert_eq!(count(&db, OLD_EVENTS), 45);
    assert_eq!(count(&db, "select count(*) from rejects"), 8);

    let dry = json(run(&db, &["retention", "--dry-run", "--json"]));
    assert_eq!(
        (
            dry["dry_run"].as_bool(),
            dry["events"].as_u64(),
            dry["rejects"].as_u64(),
            dry["sessions"].as_u64()
        ),
        (Some(true), Some(45), Some(7), Some(0)),
        "{dry}"
    );
    assert_eq!(
        count(&db, "select count(*) from events"),
        events,
        "a dry run deletes nothing"
    );
    let text = ok(run(&db, &["retention", "--dry-run"]));
    assert!(
        text.contains("would delete") && text.contains("45"),
        "{text}"
    );

    let done = json(run(&db, &["retention", "--json"]));
    assert_eq!(
        (
            done["events"].as_u64(),
            done["rejects"].as_u64(),
            done["sessions"].as_u64()
        ),
        (Some(45), Some(7), Some(0)),
        "{done}"
    );
    assert_eq!(count(&db, "select count(*) from events"), events - 45);
    assert_eq!(count(&db, OLD_EVENTS), 0);
    assert_eq!(
        count(&db, "select count(*) from rejects"),
        1,
        "the reject received today stays"
    );
    assert_eq!(
        count(&db, "select count(*) from session_state"),
        sessions,
        "sessions are kept longer by default"
    );
    assert_eq!(
        count(
            &db,
            "select count(*) from sessions where session_id like 'OLD%'"
        ),
        15
    );

    let sessions_too = json(run(
        &db,
        &["retention", "--keep-sessions-days", "3000", "--json"],
    ));
    assert_eq!(sessions_too["sessions"].as_u64(), Some(5), "{sessions_too}");
    assert_eq!(
        count(
            &db,
            "select count(*) from sessions where session_id like 'OLDB%'"
        ),
        0
    );
    assert_eq!(
        count(
            &db,
            "select count(*) from sessions where session_id like 'OLDA%'"
        ),
        10
    );
    let again = json(run(
        &db,
        &["retention", "--keep-sessions-days", "3000", "--json"],
    ));
    assert_eq!(
        (again["events"].as_u64(), again["sessions"].as_u64()),
        (Some(0), Some(0))
    );
}

#[test]
fn serve_applies_retention_on_its_schedule_and_through_the_admin_route() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixture(dir.path());
    let events = count(&db, "select count(*) from events");
    // 3000 days: the 4000-day-old sessions' events go at start-up, the 2500-day-old ones stay.
    let config = dir.path().join("retention.toml");
    std::fs::write(&config, "[retention]\ndays = 3000\n").unwrap();
    let server = Server::start(
        &db,
        &["--no-receivers", "--config", config.to_str().unwrap()],
    );
    let mut left = 0;
    for _ in 0..100 {
        left = server_count(&server, "select count(*) from events");
        if left == events - 15 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        left,
        events - 15,
        "serve deleted the events older than [retention] days at start-up"
    );

    let client = Server::client();
    let dry: Value = client
        .post(server.url("/api/v1/admin/retention?dry_run=true&days=1825"))
        .header("x-license-key", ADMIN_KEY)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        (dry["dry_run"].as_bool(), dry["events"].as_u64()),
        (Some(true), Some(30)),
        "{dry}"
    );
    let refused = client
        .post(server.url("/api/v1/admin/retention"))
        .send()
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401, "admin routes need the key");

    let url = server.url("");
    let cli = json(run(
        &db,
        &[
            "retention",
            "--server",
            &url,
            "--key",
            ADMIN_KEY,
            "--days",
            "1825",
            "--json",
        ],
    ));
    assert_eq!(cli["events"].as_u64(), Some(30), "{cli}");
    let locked = run(&db, &["retention", "--dry-run"]);
    let message = String::from_utf8_lossy(&locked.stderr);
    assert!(
        !locked.status.success() && message.contains("--server"),
        "a held database is explained: {message}"
    );
    server.stop();
    assert_eq!(count(&db, OLD_EVENTS), 0);
}

// ------------------------------------------------------------------ export

fn read_back(dir: &Path, table: &str, format: &str) -> i64 {
    let reader = if format == "parquet" {
        "read_parquet"
    } else {
        "read_csv"
    };
    let glob = dir.join(table).join(format!("*/*.{format}"));
    count(
        Path::new(":memory:"),
        &format!(
            "select count(*) from {reader}('{}', hive_partitioning = true)",
            glob.display()
        ),
    )
}

#[test]
fn export_writes_day_partitions_that_duckdb_reads_back_with_the_same_counts() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixture(dir.path());
    let events = count(&db, "select count(*) from events");
    let sessions = count(&db, "select count(*) from sessions");
    let rejects = count(&db, "select count(*) from rejects");
    let days = count(
        &db,
        "select count(distinct CAST(timestamp AS DATE)) from events",
    );
    for format in ["parquet", "csv"] {
        let out = dir.path().join(format!("export-{format}"));
        let report = json(run(
            &db,
            &[
                "export",
                "--format",
                format,
                "--out",
                out.to_str().unwrap(),
                "--tables",
                "events,sessions,rejects",
                "--json",
            ],
        ));
        assert_eq!(
            report["tables"][0]["rows"].as_i64(),
            Some(events),
            "{report}"
        );
        assert_eq!(report["tables"][0]["days"].as_i64(), Some(days), "{report}");
        assert_eq!(read_back(&out, "events", format), events, "{format} events");
        assert_eq!(
            read_back(&out, "sessions", format),
            sessions,
            "{format} sessions"
        );
        assert_eq!(
            read_back(&out, "rejects", format),
            rejects,
            "{format} rejects"
        );
        let partitions = std::fs::read_dir(out.join("events"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("day=")
            })
            .count();
        assert_eq!(
            partitions as i64, days,
            "one day=YYYY-MM-DD directory per day"
        );
    }
    let parquet = dir.path().join("export-parquet");
    let misplaced = count(
        Path::new(":memory:"),
        &format!(
            "select count(*) from read_parquet('{}', hive_partitioning = true) where day <> CAST(timestamp AS DATE)",
            parquet.join("events/*/*.parquet").display()
        ),
    );
    assert_eq!(misplaced, 0, "every row sits in its own day's partition");

    // A range, exported twice: the days are replaced, not doubled.
    let (from, to) = (
        (Utc::now() - Days::days(10)).date_naive().to_string(),
        (Utc::now() - Days::days(5)).date_naive().to_string(),
    );
    let in_range = count(
        &db,
        &format!(
            "select count(*) from events where timestamp >= DATE '{from}' and timestamp < DATE '{to}' + 1"
        ),
    );
    assert!(in_range > 0);
    let ranged = dir.path().join("ranged");
    for _ in 0..2 {
        ok(run(
            &db,
            &[
                "export",
                "--out",
                ranged.to_str().unwrap(),
                "--from",
                &from,
                "--to",
                &to,
                "--tables",
                "events",
            ],
        ));
        assert_eq!(read_back(&ranged, "events", "parquet"), in_range);
    }
    let reversed = run(
        &db,
        &[
            "export",
            "--out",
            ranged.to_str().unwrap(),
            "--from",
            &to,
            "--to",
            &from,
        ],
    );
    assert!(!reversed.status.success(), "a reversed range is refused");
}

// ------------------------------------------------------------------ backup

#[test]
fn backup_while_ingesting_is_consistent_and_restores() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.duckdb");
    let server = Server::start(&db, &["--no-receivers"]);
    let url = server.url("");
    let stop = Arc::new(AtomicBool::new(false));
    let posted = Arc::new(AtomicU64::new(0));
    const PER_POST: u64 = 40 * 3;
    let writer = {
        let (stop, posted, ingest) = (stop.clone(), posted.clone(), server.url("/api/v1/ingest"));
        std::thread::spawn(move || {
            let client = Server::client();
            let mut batch = 0;
            while !stop.load(Ordering::Relaxed) {
                let body = sessions_at(&format!("B{batch:04}-"), 40, 1);
                let r = client
                    .post(&ingest)
                    .header("x-license-key", ADMIN_KEY)
                    .body(body)
                    .send()
                    .unwrap();
                assert_eq!(r.status().as_u16(), 200);
                posted.fetch_add(PER_POST, Ordering::Relaxed);
                batch += 1;
            }
        })
    };
    while posted.load(Ordering::Relaxed) < 5 * PER_POST {
        std::thread::sleep(Duration::from_millis(20));
    }
    let snapshot = dir.path().join("snapshot.duckdb");
    let said = ok(run(
        &db,
        &[
            "backup",
            "--server",
            &url,
            "--key",
            ADMIN_KEY,
            "--out",
            snapshot.to_str().unwrap(),
        ],
    ));
    let during = posted.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let total = posted.load(Ordering::Relaxed);
    assert!(total > during, "ingest went on after the backup");

    let direct = run(
        &db,
        &[
            "backup",
            "--out",
            dir.path().join("x.duckdb").to_str().unwrap(),
        ],
    );
    assert!(
        String::from_utf8_lossy(&direct.stderr).contains("--server"),
        "while serve runs, the file is held: say so"
    );
    let exists = run(
        &db,
        &[
            "backup",
            "--server",
            &url,
            "--key",
            ADMIN_KEY,
            "--out",
            snapshot.to_str().unwrap(),
        ],
    );
    assert!(
        !exists.status.success(),
        "an existing snapshot isn't overwritten without --force"
    );
    let live = server_count(&server, "select count(*) from events");
    server.stop();

    let snap_events = count(&snapshot, "select count(*) from events");
    assert!(
        snap_events > 0 && (snap_events as u64) <= total,
        "{snap_events} of {total}"
    );
    assert_eq!(
        snap_events as u64 % PER_POST,
        0,
        "whole commits only: {snap_events}"
    );
    assert!(said.contains(&format!("{snap_events} events")), "{said}");
    assert_eq!(
        count(&snapshot, "select sum(event_count) from session_state"),
        snap_events,
        "sessions agree with events"
    );
    assert_eq!(
        count(&snapshot, "select count(*) from sessions") as u64,
        snap_events as u64 / 3
    );
    assert_eq!(live as u64, total, "everything posted was stored");

    // Restore: put the snapshot where the database goes and start serve on it.
    let restored = dir.path().join("restored.duckdb");
    std::fs::copy(&snapshot, &restored).unwrap();
    let server = Server::start(&restored, &["--no-receivers"]);
    assert_eq!(
        server_count(&server, "select count(*) from events"),
        snap_events
    );
    let page = server.get_json("/api/v1/sessions?limit=1");
    assert_eq!(page["sessions"].as_array().map(Vec::len), Some(1));
    server.stop();

    // With serve stopped, backup works on the file directly.
    let offline = dir.path().join("offline.duckdb");
    let said = ok(run(
        &restored,
        &["backup", "--out", offline.to_str().unwrap()],
    ));
    assert!(said.contains(&format!("{snap_events} events")), "{said}");
}

// ------------------------------------------------------------------ deployment files

/// The Python in tests/ops/.venv (yamllint, kubernetes-validate, PyYAML), or a failure that
/// says how to install it.
fn ops_python() -> PathBuf {
    let python = root().join("tests/ops/.venv/bin/python");
    assert!(
        python.exists(),
        "tests/ops/.venv is missing: run `bash .ci/install.d/ops.sh` (installs yamllint and kubernetes-validate)"
    );
    python
}

fn python(args: &[&str]) -> Output {
    Command::new(ops_python())
        .args(args)
        .current_dir(root())
        .output()
        .expect("run the ops venv's python")
}

fn manifests() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("deploy/kubernetes"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn deployment_yaml_lints_and_validates_against_the_kubernetes_schemas() {
    let lint = python(&[
        "-m",
        "yamllint",
        "--strict",
        "-c",
        "deploy/.yamllint.yaml",
        "deploy/",
    ]);
    assert!(
        lint.status.success(),
        "yamllint:\n{}",
        String::from_utf8_lossy(&lint.stdout)
    );
    let mut args = vec![
        "-m".to_string(),
        "kubernetes_validate".into(),
        "--strict".into(),
    ];
    args.extend(manifests().iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let validated = python(&args);
    assert!(
        validated.status.success(),
        "kubernetes-validate:\n{}{}",
        String::from_utf8_lossy(&validated.stdout),
        String::from_utf8_lossy(&validated.stderr)
    );
    // The validator does reject a wrong manifest (so a pass means something).
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  ports:\n    - port: \"http\"\n").unwrap();
    let rejected = python(&[
        "-m",
        "kubernetes_validate",
        "--strict",
        bad.to_str().unwrap(),
    ]);
    assert!(
        !rejected.status.success(),
        "kubernetes-validate accepted a bad Service"
    );
}

/// Every document of every manifest, as JSON (through PyYAML).
fn documents() -> Vec<Value> {
    let files: Vec<String> = manifests()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let mut args = vec![
        "-c",
        "import json, sys, yaml; json.dump([d for f in sys.argv[1:] for d in yaml.safe_load_all(open(f)) if d], sys.stdout)",
    ];
    args.extend(files.iter().map(String::as_str));
    let out = python(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
}

fn find<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in deploy/kubernetes"))
}

#[test]
fn the_deployment_has_probes_a_data_volume_a_non_root_read_only_container_and_every_port() {
    let docs = documents();
    let deployment = find(&docs, "Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(
        deployment["spec"]["replicas"], 1,
        "one writer per database file"
    );
    assert_eq!(deployment["spec"]["strategy"]["type"], "Recreate");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"],
        false
    );

    let env = container["env"].as_array().unwrap();
    let db = env
        .iter()
        .find(|e| e["name"] == "MIRRORD_USAGE_DB")
        .unwrap()["value"]
        .as_str()
        .unwrap();
    let mounts = container["volumeMounts"].as_array().unwrap();
    let data = mounts
        .iter()
        .find(|m| db.starts_with(m["mountPath"].as_str().unwrap()))
        .expect("the database sits on a mounted volume");
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == data["name"])
        .unwrap();
    let claim = volume["persistentVolumeClaim"]["claimName"]
        .as_str()
        .expect("the data volume is a PVC");
    assert!(
        docs.iter()
            .any(|d| d["kind"] == "PersistentVolumeClaim" && d["metadata"]["name"] == claim)
    );
    let key = env
        .iter()
        .find(|e| e["name"] == "MIRRORD_USAGE_LICENSE_KEY")
        .unwrap();
    let secret = key["valueFrom"]["secretKeyRef"]["name"]
        .as_str()
        .expect("the key comes from a Secret");
    assert!(
        docs.iter()
            .any(|d| d["kind"] == "Secret" && d["metadata"]["name"] == secret)
    );

    let ports: Vec<i64> = find(&docs, "Service")["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["port"].as_i64().unwrap())
        .collect();
    assert_eq!(ports, [8050, 4317, 4318, 24224]);

    // The ConfigMap's config loads, and the container reads it where it is mounted.
    let config_map = find(&docs, "ConfigMap");
    let toml = config_map["data"]["mirrord-usage.toml"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mirrord-usage.toml");
    std::fs::write(&path, toml).unwrap();
    let config = mirrord_usage::config::Config::load(Some(&path), Vec::new())
        .expect("the ConfigMap's config loads");
    assert_eq!(config.server.port, 8050);
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let config_arg = args
        .iter()
        .position(|a| *a == "--config")
        .map(|i| args[i + 1])
        .unwrap();
    let config_mount = mounts
        .iter()
        .find(|m| config_arg.starts_with(m["mountPath"].as_str().unwrap()))
        .unwrap();
    assert!(
        pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["name"] == config_mount["name"]
                && v["configMap"]["name"] == config_map["metadata"]["name"])
    );
}

#[test]
fn the_dockerfile_is_multi_stage_with_a_slim_non_root_runtime() {
    let text = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let stages: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert!(stages.len() >= 2, "multi-stage: {stages:?}");
    assert!(
        stages.last().unwrap().contains("slim"),
        "slim runtime: {stages:?}"
    );
    let runtime = &text[text.rfind("\nFROM ").unwrap()..];
    assert!(
        runtime.contains("\nUSER 10001"),
        "the runtime runs as a non-root user"
    );
    assert!(runtime.contains("EXPOSE 8050 4317 4318 24224"));
    assert!(runtime.contains("MIRRORD_USAGE_DB=/data/"));
    // The build copies every directory the crate embeds.
    for embedded in ["src", "schemas", "web"] {
        assert!(
            text.contains(&format!("COPY {embedded} ")),
            "Dockerfile doesn't copy {embedded} (build.rs and the crate need it)"
        );
    }
    let ignore = std::fs::read_to_string(root().join(".dockerignore")).unwrap();
    assert!(ignore.lines().any(|l| l == "target") && ignore.lines().any(|l| l == "*.duckdb"));
}

// ------------------------------------------------------------------ docs/configuration.md

/// One documented option.
#[derive(Debug)]
struct DocRow {
    section: String,
    key: String,
    default: String,
    env: String,
    example: String,
}

/// Splits a Markdown table row on unescaped `|` and strips one pair of backticks per cell.
fn cells(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cell = String::new();
    let mut chars = line.trim().trim_start_matches('|').chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => cell.push(chars.next().unwrap()),
            '|' => out.push(std::mem::take(&mut cell)),
            _ => cell.push(c),
        }
    }
    out.into_iter()
        .map(|c| {
            let c = c.trim();
            c.strip_prefix('`')
                .and_then(|c| c.strip_suffix('`'))
                .unwrap_or(c)
                .to_string()
        })
        .collect()
}

fn documented_options(doc: &str) -> Vec<DocRow> {
    let mut rows = Vec::new();
    let mut section = None;
    for line in doc.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            section = h
                .strip_prefix("`[")
                .and_then(|h| h.strip_suffix("]`"))
                .map(str::to_string);
            continue;
        }
        let Some(section) = &section else { continue };
        if !line.starts_with("| `") {
            continue;
        }
        let c = cells(line);
        assert!(
            c.len() >= 5,
            "docs/configuration.md: a row of [{section}] needs key, default, variable, example, meaning: {line}"
        );
        rows.push(DocRow {
            section: section.clone(),
            key: c[0].clone(),
            default: c[1].clone(),
            env: c[2].clone(),
            example: c[3].clone(),
        });
    }
    rows
}

#[test]
fn configuration_doc_matches_the_config_struct() {
    use mirrord_usage::config::Config;
    let doc = std::fs::read_to_string(root().join("docs/configuration.md")).unwrap();
    let rows = documented_options(&doc);
    let defaults = toml::Value::try_from(Config::default()).unwrap();
    let defaults = defaults.as_table().unwrap();
    let fix = "update docs/configuration.md (one table per section: key | default | environment variable | example | meaning)";

    // Every option in the struct is documented with its real default.
    for (section, table) in defaults {
        let table = table.as_table().unwrap();
        for (key, value) in table {
            let row = rows.iter().find(|r| &r.section == section && &r.key == key);
            let row = row.unwrap_or_else(|| panic!("[{section}] {key} is not documented: {fix}"));
            assert_eq!(
                row.default,
                value.to_string(),
                "[{section}] {key}: documented default differs: {fix}"
            );
        }
        assert!(
            rows.iter().any(|r| &r.section == section),
            "section [{section}] is not documented: {fix}"
        );
    }
    // Every documented option exists, its variable is the right one, and its example loads the
    // same from a file and from the environment.
    let dir = tempfile::tempdir().unwrap();
    for row in &rows {
        // A whole section documented ahead of the code that adds it (work landing in parallel)
        // is left alone; within a section the binary knows, every documented key must exist.
        if !defaults.contains_key(&row.section) {
            continue;
        }
        let in_defaults = defaults
            .get(&row.section)
            .and_then(|t| t.get(&row.key))
            .is_some();
        assert!(
            in_defaults || row.default == "unset",
            "[{}] {}: documented default {} but the struct has none: {fix}",
            row.section,
            row.key,
            row.default
        );
        let env = format!("MIRRORD_USAGE_{}_{}", row.section, row.key).to_ascii_uppercase();
        assert_eq!(row.env, env, "[{}] {}", row.section, row.key);
        let path = dir.path().join("example.toml");
        std::fs::write(
            &path,
            format!("[{}]\n{} = {}\n", row.section, row.key, row.example),
        )
        .unwrap();
        let from_file = Config::load(Some(&path), Vec::new()).unwrap_or_else(|e| {
            panic!(
                "[{}] {}: the example doesn't load ({e}): {fix}",
                row.section, row.key
            )
        });
        assert_ne!(
            from_file,
            Config::default(),
            "[{}] {}: the example should differ from the default",
            row.section,
            row.key
        );
        let from_env = Config::load(None, vec![(env.clone(), row.example.clone())]).unwrap();
        assert_eq!(
            from_env, from_file,
            "{env}={} must mean the same as the file",
            row.example
        );
    }
}

/// `[jira.rest]` is absent from `Config::default()` (the sink is off), so the test above cannot
/// see its keys. Here it is turned on empty, which gives its own defaults, and its rows are held
/// to the same rules: every key documented with its real default and variable, every example
/// loading the same from a file and from the environment.
#[test]
fn optional_sections_are_documented_with_their_defaults() {
    use mirrord_usage::config::Config;
    let doc = std::fs::read_to_string(root().join("docs/configuration.md")).unwrap();
    let rows = documented_options(&doc);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("example.toml");
    for section in ["jira.rest"] {
        let (parent, child) = section.split_once('.').unwrap();
        std::fs::write(&path, format!("[{section}]\n")).unwrap();
        let on = Config::load(Some(&path), Vec::new()).unwrap();
        let table = toml::Value::try_from(&on).unwrap();
        let defaults = table[parent][child].as_table().unwrap().clone();
        let documented: Vec<&DocRow> = rows.iter().filter(|r| r.section == section).collect();
        for (key, value) in &defaults {
            let row = documented.iter().find(|r| &r.key == key);
            let row = row.unwrap_or_else(|| panic!("[{section}] {key} is not documented"));
            assert_eq!(row.default, value.to_string(), "[{section}] {key}");
        }
        for row in documented {
            let key = &row.key;
            assert!(
                defaults.contains_key(key) || row.default == "unset",
                "[{section}] {key}: documented but not an option"
            );
            let env = format!("MIRRORD_USAGE_{}_{key}", section.replace('.', "_"));
            assert_eq!(row.env, env.to_ascii_uppercase(), "[{section}] {key}");
            std::fs::write(&path, format!("[{section}]\n{key} = {}\n", row.example)).unwrap();
            let from_file = Config::load(Some(&path), Vec::new())
                .unwrap_or_else(|e| panic!("[{section}] {key}: the example doesn't load: {e}"));
            assert_ne!(
                from_file, on,
                "[{section}] {key}: the example is the default"
            );
            let from_env = Config::load(None, vec![(row.env.clone(), row.example.clone())]);
            assert_eq!(
                from_env.unwrap(),
                from_file,
                "{} = {}",
                row.env,
                row.example
            );
        }
    }
}
