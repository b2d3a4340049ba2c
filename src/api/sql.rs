//! `POST /api/v1/sql`: ad-hoc read-only SQL with a row cap and a timeout.
//!
//! The guard uses DuckDB's own parser, not a keyword list: `json_serialize_sql` serializes only
//! SELECT statements (and exactly one), so anything that writes or changes state
//! (INSERT/UPDATE/DELETE/DROP/CREATE/ALTER/COPY/ATTACH/DETACH/INSTALL/LOAD/PRAGMA/SET/EXPORT,
//! several statements) is refused by the parser's statement type. The parsed tree is then
//! checked for escapes a SELECT can still make: table functions or replacement scans that read
//! files or run SQL text, and functions that reveal the environment.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use duckdb::Connection;
use serde::Deserialize;
use serde_json::Value;

use super::{ApiError, AppState};
use crate::store::query::{self, QueryResult};

/// Functions a read-only query may not call: they read files or URLs, run SQL given as text,
/// or expose the environment and configuration.
const FORBIDDEN_FUNCTIONS: &[&str] = &[
    "read_csv",
    "read_csv_auto",
    "read_json",
    "read_json_auto",
    "read_json_objects",
    "read_json_objects_auto",
    "read_ndjson",
    "read_ndjson_auto",
    "read_ndjson_objects",
    "read_parquet",
    "parquet_scan",
    "parquet_metadata",
    "parquet_schema",
    "parquet_file_metadata",
    "parquet_kv_metadata",
    "read_text",
    "read_blob",
    "glob",
    "sniff_csv",
    "query",
    "query_table",
    "getenv",
    "current_setting",
    "duckdb_settings",
    "duckdb_secrets",
    "which_secret",
    "duckdb_extensions",
    "read_xlsx",
    "iceberg_scan",
    "delta_scan",
    "sqlite_scan",
    "postgres_scan",
    "mysql_scan",
];

#[derive(Debug, Deserialize)]
pub struct SqlRequest {
    pub query: String,
}

/// Why a query is refused, or `None` when it may run.
pub fn check_read_only(conn: &Connection, sql: &str) -> Result<(), String> {
    let tree: String = conn
        .query_row("SELECT json_serialize_sql(?::VARCHAR)", [sql], |r| r.get(0))
        .map_err(|e| format!("cannot parse the query: {e}"))?;
    let tree: Value =
        serde_json::from_str(&tree).map_err(|e| format!("cannot read the parse tree: {e}"))?;
    if tree.get("error").and_then(Value::as_bool) == Some(true) {
        let msg = tree
            .get("error_message")
            .and_then(Value::as_str)
            .unwrap_or("not a query");
        return Err(format!("only a single read-only SELECT is allowed: {msg}"));
    }
    let statements = tree
        .get("statements")
        .and_then(Value::as_array)
        .map(Vec::len)
        .unwrap_or(0);
    if statements != 1 {
        return Err(format!(
            "exactly one SELECT statement is allowed, got {statements}"
        ));
    }
    let known = known_relations(conn).map_err(|e| e.to_string())?;
    let mut ctes = Vec::new();
    collect_ctes(&tree, &mut ctes);
    walk(&tree, &known, &ctes)
}

fn known_relations(conn: &Connection) -> Result<Vec<String>, duckdb::Error> {
    let mut stmt = conn.prepare(
        "SELECT lower(table_name) FROM information_schema.tables WHERE table_schema = 'main'",
    )?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(names)
}

fn collect_ctes(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Object(cte)) = m.get("cte_map")
                && let Some(Value::Array(entries)) = cte.get("map")
            {
                for e in entries {
                    if let Some(k) = e.get("key").and_then(Value::as_str) {
                        out.push(k.to_ascii_lowercase());
                    }
                }
            }
            m.values().for_each(|c| collect_ctes(c, out));
        }
        Value::Array(a) => a.iter().for_each(|c| collect_ctes(c, out)),
        _ => {}
    }
}

fn walk(v: &Value, known: &[String], ctes: &[String]) -> Result<(), String> {
    match v {
        Value::Object(m) => {
            if let Some(name) = m.get("function_name").and_then(Value::as_str) {
                let lower = name.to_ascii_lowercase();
                if FORBIDDEN_FUNCTIONS.contains(&lower.as_str()) || lower.starts_with("read_") {
                    return Err(format!("function `{name}` is not allowed in read-only SQL"));
                }
            }
            if m.get("type").and_then(Value::as_str) == Some("BASE_TABLE") {
                let name = m
                    .get("table_name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_ascii_lowercase();
                let schema = m.get("schema_name").and_then(Value::as_str).unwrap_or("");
                let catalog = m.get("catalog_name").and_then(Value::as_str).unwrap_or("");
                let system = matches!(schema, "information_schema" | "pg_catalog");
                let plain = catalog.is_empty() && (schema.is_empty() || schema == "main");
                if !system && !(plain && (known.contains(&name) || ctes.contains(&name))) {
                    return Err(format!("`{name}` is not a table of this database"));
                }
            }
            m.values().try_for_each(|c| walk(c, known, ctes))
        }
        Value::Array(a) => a.iter().try_for_each(|c| walk(c, known, ctes)),
        _ => Ok(()),
    }
}

/// Runs a checked query with a row cap, interrupting it after `timeout`.
pub fn run_read_only(
    conn: &Connection,
    sql: &str,
    max_rows: usize,
    timeout: Duration,
) -> Result<QueryResult, ApiError> {
    check_read_only(conn, sql).map_err(ApiError::bad_request)?;
    let handle = conn.interrupt_handle();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if done_rx.recv_timeout(timeout).is_err() {
            handle.interrupt();
            return true;
        }
        false
    });
    let result = query::run(conn, sql, max_rows);
    let _ = done_tx.send(());
    let timed_out = watchdog.join().unwrap_or(false);
    match result {
        Ok(r) => Ok(r),
        Err(_) if timed_out => Err(ApiError::new(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            format!(
                "the query ran longer than {} ms and was stopped",
                timeout.as_millis()
            ),
        )),
        Err(e) => Err(ApiError::bad_request(e.to_string())),
    }
}

/// `POST /api/v1/sql` with `{"query": "..."}`.
pub async fn run(
    State(state): State<AppState>,
    Json(req): Json<SqlRequest>,
) -> Result<Json<QueryResult>, ApiError> {
    let max_rows = state.config.sql.max_rows;
    let timeout = Duration::from_millis(state.config.sql.timeout_ms);
    let result = state
        .read(move |c| run_read_only(c, &req.query, max_rows, timeout))
        .await?;
    Ok(Json(result))
}
