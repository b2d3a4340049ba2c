//! `POST /api/v1/sql`: ad-hoc read-only SQL for report writers, with a row cap, a timeout and a
//! cap on concurrent queries.
//!
//! Three layers, outermost first:
//! - **The database is locked** ([`crate::store::lockdown`], applied by `serve` before any
//!   reader exists): DuckDB refuses files outside the server's own directory, extension
//!   installs and loads, and any change of its settings (`memory_limit`, `threads`, ...). This
//!   holds even for a query the guard below lets through by mistake.
//! - **The parse-tree guard** ([`guard`]): only one SELECT serializes through
//!   `json_serialize_sql`, so every write, `PRAGMA`, `CALL`, `SET`, `ATTACH`, `INSTALL`/`LOAD`
//!   and multi-statement text is refused by DuckDB's own parser. Then the tree is walked: table
//!   functions must be on an allow-list, relations must be this database's tables/views or a
//!   CTE in scope at that query level, `SHOW`/`DESCRIBE`/`SUMMARIZE` and functions that run SQL
//!   text or reveal settings are refused. A refusal is 400 with a reason naming the construct.
//! - **Limits**: at most `[sql] max_concurrent` queries run at once (a request that waits
//!   longer than `timeout_ms` for a turn gets 429); a running query is interrupted after
//!   `timeout_ms`, including while its Arrow batches are fetched (408), so the connection and
//!   its threads are free for the next one. Out of memory (`[sql] memory_limit`) is a 400.

pub mod guard;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use duckdb::Connection;
use serde::Deserialize;
use serde_json::Value;

use super::{ApiError, AppState};
use crate::store::query::{self, QueryResult};

#[derive(Debug, Deserialize)]
pub struct SqlRequest {
    pub query: String,
}

/// Why a query is refused (a reason naming the construct), or `Ok` when it may run.
pub fn check_read_only(conn: &Connection, sql: &str) -> Result<(), String> {
    let tree: String = conn
        .query_row("SELECT json_serialize_sql(?::VARCHAR)", [sql], |r| r.get(0))
        .map_err(|e| format!("cannot parse the query: {e}"))?;
    let tree: Value =
        serde_json::from_str(&tree).map_err(|e| format!("cannot read the parse tree: {e}"))?;
    let catalog = guard::Catalog::load(conn).map_err(|e| e.to_string())?;
    guard::check(&tree, &catalog)
}

/// Interrupts the query on a connection when a deadline passes, unless stopped first.
struct Watchdog {
    done: mpsc::Sender<()>,
    fired: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Watchdog {
    fn start(conn: &Connection, timeout: Duration) -> Watchdog {
        let handle = conn.interrupt_handle();
        let (done, done_rx) = mpsc::channel::<()>();
        let fired = Arc::new(AtomicBool::new(false));
        let flag = fired.clone();
        let thread = std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(timeout) {
                flag.store(true, Ordering::SeqCst);
                handle.interrupt();
            }
        });
        Watchdog {
            done,
            fired,
            thread,
        }
    }

    /// Stops the watchdog; true when it had already interrupted the query.
    fn stop(self) -> bool {
        let _ = self.done.send(());
        let _ = self.thread.join();
        self.fired.load(Ordering::SeqCst)
    }
}

/// Checks and runs a query with a row cap, interrupting it after `timeout`. The watchdog covers
/// the check, the execution and the fetching of every batch: after an interrupt the result is
/// discarded even if DuckDB returned part of it.
pub fn run_read_only(
    conn: &Connection,
    sql: &str,
    max_rows: usize,
    timeout: Duration,
) -> Result<QueryResult, ApiError> {
    let watchdog = Watchdog::start(conn, timeout);
    let checked = check_read_only(conn, sql);
    let result = checked.map(|()| query::run(conn, sql, max_rows));
    let timed_out = watchdog.stop();
    if timed_out {
        return Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the query ran longer than {} ms ([sql] timeout_ms) and was stopped",
                timeout.as_millis()
            ),
        ));
    }
    match result {
        Err(reason) => Err(ApiError::bad_request(reason)),
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(ApiError::bad_request(explain(&e.to_string()))),
    }
}

/// DuckDB's message, with what to do about the limits the server sets.
fn explain(message: &str) -> String {
    if message.contains("Out of Memory") {
        format!(
            "the query needs more memory than the server allows ([sql] memory_limit); \
             aggregate or filter more: {message}"
        )
    } else if message.contains("disabled by configuration") {
        format!("the SQL endpoint cannot read or write files: {message}")
    } else {
        message.to_string()
    }
}

/// `POST /api/v1/sql` with `{"query": "..."}`.
pub async fn run(
    State(state): State<AppState>,
    Json(req): Json<SqlRequest>,
) -> Result<Json<QueryResult>, ApiError> {
    let max_rows = state.config.sql.max_rows;
    let timeout = Duration::from_millis(state.config.sql.timeout_ms);
    let permit = tokio::time::timeout(timeout, state.sql_permits.clone().acquire_owned())
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "{} SQL queries are already running ([sql] max_concurrent) and none finished \
                     within {} ms; try again later",
                    state.config.sql.max_concurrent,
                    timeout.as_millis()
                ),
            )
        })?
        .map_err(|_| ApiError::internal("the SQL endpoint is shutting down"))?;
    let result = state
        .read(move |c| {
            // Held until the query has really stopped, even if the client went away.
            let _permit = permit;
            run_read_only(c, &req.query, max_rows, timeout)
        })
        .await?;
    Ok(Json(result))
}
