//! All-time rollups: `usage_users`, `usage_targets`, `usage_jira` (and per key,
//! `usage_jira_keys`), `usage_durations` and `usage_events` (migration 008), so the All-time report and `/metrics` aggregate a few
//! thousand rows instead of every session or event.
//!
//! They are kept current inside the fold's transaction ([`before_fold`] and [`after_fold`],
//! called by `sessions::fold`), with work proportional to the start days a commit touches:
//! see `rollups.sql` for how. The event counts are added by their own `after_insert` step
//! ([`count_events`]). [`rebuild`] computes them from scratch with the same shapes; it
//! runs when the derived columns are recomputed (a rules change), after a retention delete,
//! and once for a database that predates them. Only values that do not depend on "now" are
//! stored: the reports add abandoned sessions' durations per request (`abandoned_sessions()`).

use duckdb::Connection;

use crate::named_sql::NamedSql;

/// The rollup statements, run in the order below: see `rollups.sql`.
pub const ROLLUP_SQL: NamedSql = NamedSql::new(
    "src/analytics/rollups.sql",
    include_str!("rollups.sql"),
    &[
        "begin",
        "dirty_days",
        "scope",
        "clear_sides",
        "users_shape",
        "targets_shape",
        "jira_shape",
        "durations_shape",
        "users_apply",
        "targets_apply",
        "jira_apply",
        "durations_apply",
        "events_add",
        "events_apply",
        "stale_count",
        "stale_recompute",
        "jira_keys_apply",
        "clear",
        "end",
    ],
);

const SHAPES: [&str; 4] = [
    "users_shape",
    "targets_shape",
    "jira_shape",
    "durations_shape",
];

/// Runs `step`, tracing how long it took (`RUST_LOG=mirrord_usage=debug`).
fn timed<T>(
    step: &str,
    run: impl FnOnce() -> Result<T, duckdb::Error>,
) -> Result<T, duckdb::Error> {
    let started = std::time::Instant::now();
    let out = run()?;
    tracing::debug!(step, ms = started.elapsed().as_secs_f64() * 1e3, "rollup");
    Ok(out)
}

fn shapes(conn: &Connection, side: &str) -> Result<(), duckdb::Error> {
    for shape in SHAPES {
        timed(shape, || {
            conn.prepare_cached(ROLLUP_SQL.get(shape))?.execute([side])
        })?;
    }
    Ok(())
}

fn scope(conn: &Connection, which: &str) -> Result<(), duckdb::Error> {
    timed("scope", || {
        conn.prepare_cached(ROLLUP_SQL.get("scope"))?
            .execute([which])
    })?;
    Ok(())
}

/// Inside the fold, after `fold_touched` is built and before `session_state` is written: the
/// days the commit changes, aggregated as they are now ('old').
pub fn before_fold(conn: &Connection) -> Result<(), duckdb::Error> {
    conn.execute_batch(ROLLUP_SQL.get("begin"))?;
    conn.prepare_cached(ROLLUP_SQL.get("dirty_days"))?
        .execute([])?;
    scope(conn, "days")?;
    shapes(conn, "old")
}

/// Inside the fold, after `session_state` is written: the same days aggregated again ('new'),
/// merged into the rollups, and any row whose minimum or maximum the change undid recomputed.
pub fn after_fold(conn: &Connection) -> Result<(), duckdb::Error> {
    scope(conn, "days")?;
    shapes(conn, "new")?;
    apply(conn)?;
    conn.execute_batch(ROLLUP_SQL.get("end"))
}

fn apply(conn: &Connection) -> Result<(), duckdb::Error> {
    for step in [
        "users_apply",
        "targets_apply",
        "jira_apply",
        "durations_apply",
    ] {
        timed(step, || conn.execute_batch(ROLLUP_SQL.get(step)))?;
    }
    let stale: i64 = conn
        .prepare_cached(ROLLUP_SQL.get("stale_count"))?
        .query_row([], |r| r.get(0))?;
    if stale > 0 {
        tracing::debug!(stale, "rollup rows recomputed from their sessions");
        conn.execute_batch(ROLLUP_SQL.get("clear_sides"))?;
        scope(conn, "stale")?;
        shapes(conn, "new")?;
        conn.execute_batch(ROLLUP_SQL.get("stale_recompute"))?;
    }
    timed("jira_keys_apply", || {
        conn.execute_batch(ROLLUP_SQL.get("jira_keys_apply"))
    })
}

/// The store's `after_insert` step for the event counts: adds the events the commit stamped
/// `stamp` stored (`None`: every stored event, when rebuilding).
pub fn count_events(
    conn: &Connection,
    stamp: chrono::DateTime<chrono::Utc>,
) -> Result<usize, duckdb::Error> {
    add_events(conn, Some(stamp.naive_utc()))
}

fn add_events(
    conn: &Connection,
    stamp: Option<chrono::NaiveDateTime>,
) -> Result<usize, duckdb::Error> {
    let rows = conn
        .prepare_cached(ROLLUP_SQL.get("events_add"))?
        .execute([stamp])?;
    conn.execute_batch(ROLLUP_SQL.get("events_apply"))?;
    Ok(rows)
}

/// The rollups computed from scratch from `session_state`. Run it inside the transaction
/// that changed the sessions wholesale, so readers never see them disagree.
pub fn rebuild(conn: &Connection) -> Result<(), duckdb::Error> {
    let started = std::time::Instant::now();
    conn.execute_batch(ROLLUP_SQL.get("begin"))?;
    conn.execute_batch(ROLLUP_SQL.get("clear"))?;
    scope(conn, "all")?;
    shapes(conn, "new")?;
    apply(conn)?;
    conn.execute_batch(ROLLUP_SQL.get("end"))?;
    add_events(conn, None)?;
    tracing::info!(
        ms = started.elapsed().as_secs_f64() * 1e3,
        "all-time rollups rebuilt"
    );
    Ok(())
}
