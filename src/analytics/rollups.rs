//! All-time rollups: `usage_users` (and per day, `usage_user_days`), `usage_targets`,
//! `usage_jira` (and per key, `usage_jira_keys`), `usage_durations` and `usage_events`
//! (migration 008), so the All-time report and `/metrics` aggregate a few thousand rows
//! instead of every session or event.
//!
//! Each commit appends, in its own transaction, the sessions it touched before and after to
//! `rollup_pending` ([`before_fold`] and [`after_fold`], called by `sessions::fold`) and notes
//! its stamp ([`count_events`]). The writer merges that into the rollups ([`catch_up`], the
//! store's catch-up step) when it has been idle, every so many commits, and before a report or
//! scrape reads them, so rollups plus pending always equal the sessions. Merging in every
//! commit cost ~100 ms a commit (about forty statements at ~1-3 ms each on two cores), which
//! live ingest can't afford; appending costs two inserts. See `rollups.sql` for the merge. [`rebuild`] computes everything from scratch with the same statements;
//! it runs when the derived columns are recomputed (a rules change), after a retention delete,
//! and once for a database that predates the rollups. Only values that do not depend on "now"
//! are stored: reports take off the sessions still open (`open_sessions()`).

use chrono::NaiveDateTime;
use duckdb::Connection;

use crate::named_sql::NamedSql;

/// The rollup statements: see `rollups.sql`.
pub const ROLLUP_SQL: NamedSql = NamedSql::new(
    "src/analytics/rollups.sql",
    include_str!("rollups.sql"),
    &[
        "is_set_up",
        "setup",
        "pending_old",
        "pending_new",
        "pending_stamp",
        "has_pending",
        "src_pending",
        "pending_clear",
        "pending_stamps_clear",
        "src_all",
        "src_stale",
        "expand",
        "days_hits",
        "days_active",
        "days_delete",
        "days_insert",
        "users_hits",
        "users_stale",
        "users_delete",
        "users_insert",
        "targets_hits",
        "targets_delete",
        "targets_insert",
        "jira_hits",
        "jira_stale",
        "jira_delete",
        "jira_insert",
        "jira_dirty",
        "jira_keys_delete",
        "jira_keys_insert",
        "durations_hits",
        "durations_delete",
        "durations_insert",
        "events_hits",
        "events_delete",
        "events_insert",
        "stale_count",
        "stale_delete_users",
        "stale_delete_jira",
        "stale_users",
        "stale_jira",
        "stale_dirty",
        "clear",
        "empty_src",
        "empty_expanded",
        "empty_hits",
        "empty_users_hits",
        "empty_targets_hits",
        "empty_jira_hits",
        "empty_durations_hits",
        "empty_events_hits",
        "empty_active",
        "empty_stale_users",
        "empty_stale_jira",
        "empty_jira_dirty",
    ],
);

/// The merges, in order, once `rollup_src` holds the commit's rows (signed) and is expanded.
/// Everything that reads `rollup_src` runs before a stale recompute refills it.
const MERGE: [&str; 19] = [
    "days_hits",
    "days_active",
    "days_delete",
    "days_insert",
    "users_hits",
    "users_stale",
    "users_delete",
    "users_insert",
    "targets_hits",
    "targets_delete",
    "targets_insert",
    "jira_hits",
    "jira_stale",
    "jira_delete",
    "jira_insert",
    "jira_dirty",
    "durations_hits",
    "durations_delete",
    "durations_insert",
];

/// Rows whose extreme a change undid, recomputed from all their sessions.
const STALE: [&str; 8] = [
    "stale_delete_users",
    "stale_delete_jira",
    "empty_src",
    "empty_expanded",
    "src_stale",
    "expand",
    "stale_users",
    "stale_jira",
];

/// The scratch tables emptied for the next commit.
const EMPTY: [&str; 12] = [
    "empty_src",
    "empty_expanded",
    "empty_hits",
    "empty_users_hits",
    "empty_targets_hits",
    "empty_jira_hits",
    "empty_durations_hits",
    "empty_events_hits",
    "empty_active",
    "empty_stale_users",
    "empty_stale_jira",
    "empty_jira_dirty",
];

/// Runs the single statement `name`, prepared once per connection; returns the rows it changed.
fn run(conn: &Connection, name: &str) -> Result<usize, duckdb::Error> {
    let started = std::time::Instant::now();
    let rows = conn.prepare_cached(ROLLUP_SQL.get(name))?.execute([])?;
    tracing::trace!(
        step = name,
        rows,
        ms = started.elapsed().as_secs_f64() * 1e3,
        "rollup"
    );
    Ok(rows)
}

/// Creates the scratch tables and macros on this connection unless it has them already
/// (creating them anew each commit cost more than the rest of the rollups' work).
fn setup(conn: &Connection) -> Result<(), duckdb::Error> {
    let ready: bool = conn
        .prepare_cached(ROLLUP_SQL.get("is_set_up"))?
        .query_row([], |r| r.get(0))?;
    if !ready {
        conn.execute_batch(ROLLUP_SQL.get("setup"))?;
    }
    Ok(())
}

/// Inside the fold, after `fold_touched` is built and before `session_state` is written: the
/// stored sessions the commit touches, as they are, appended to `rollup_pending` (sign -1).
pub fn before_fold(conn: &Connection, stamp: NaiveDateTime) -> Result<(), duckdb::Error> {
    conn.prepare_cached(ROLLUP_SQL.get("pending_old"))?
        .execute([stamp])?;
    Ok(())
}

/// Inside the fold, after `session_state` is written: the commit's sessions as they are now
/// (sign +1). The merge into the rollups waits for [`catch_up`].
pub fn after_fold(conn: &Connection, stamp: NaiveDateTime) -> Result<(), duckdb::Error> {
    conn.prepare_cached(ROLLUP_SQL.get("pending_new"))?
        .execute([stamp])?;
    Ok(())
}

/// Whether commits are pending: a reader must have the writer [`catch_up`] before it reads the
/// rollups.
pub fn has_pending(conn: &Connection) -> Result<bool, duckdb::Error> {
    conn.prepare_cached(ROLLUP_SQL.get("has_pending"))?
        .query_row([], |r| r.get(0))
}

/// The store's `catch_up` step: merges what the commits since the last call left in
/// `rollup_pending` into the rollups, in one transaction. Returns the pending rows merged.
pub fn catch_up(conn: &Connection) -> Result<usize, duckdb::Error> {
    if !has_pending(conn)? {
        return Ok(0);
    }
    let started = std::time::Instant::now();
    let tx = conn.unchecked_transaction()?;
    setup(&tx)?;
    let rows = run(&tx, "src_pending")?;
    merge(&tx)?;
    add_events(&tx, false)?;
    run(&tx, "pending_clear")?;
    run(&tx, "pending_stamps_clear")?;
    tx.commit()?;
    tracing::debug!(
        rows,
        ms = started.elapsed().as_secs_f64() * 1e3,
        "pending commits merged into the rollups"
    );
    Ok(rows)
}

/// Expands `rollup_src`, merges it into every rollup, recomputes stale rows, and empties the
/// scratch tables.
fn merge(conn: &Connection) -> Result<(), duckdb::Error> {
    let started = std::time::Instant::now();
    run(conn, "expand")?;
    for step in MERGE {
        run(conn, step)?;
    }
    let stale: i64 = conn
        .prepare_cached(ROLLUP_SQL.get("stale_count"))?
        .query_row([], |r| r.get(0))?;
    if stale > 0 {
        tracing::debug!(stale, "rollup rows recomputed from their sessions");
        for step in STALE {
            run(conn, step)?;
        }
        run(conn, "stale_dirty")?;
    }
    run(conn, "jira_keys_delete")?;
    run(conn, "jira_keys_insert")?;
    for step in EMPTY {
        run(conn, step)?;
    }
    tracing::debug!(
        ms = started.elapsed().as_secs_f64() * 1e3,
        stale,
        "rollups merged"
    );
    Ok(())
}

/// The store's `after_insert` step for the event counts: notes the commit, whose events
/// [`catch_up`] counts.
pub fn count_events(
    conn: &Connection,
    stamp: chrono::DateTime<chrono::Utc>,
) -> Result<usize, duckdb::Error> {
    conn.prepare_cached(ROLLUP_SQL.get("pending_stamp"))?
        .execute([stamp.naive_utc()])
}

/// Adds the pending commits' events (`all`: every stored event) to `usage_events`.
fn add_events(conn: &Connection, all: bool) -> Result<usize, duckdb::Error> {
    conn.prepare_cached(ROLLUP_SQL.get("events_hits"))?
        .execute([all])?;
    run(conn, "events_delete")?;
    let rows = conn
        .prepare_cached(ROLLUP_SQL.get("events_insert"))?
        .execute([all])?;
    run(conn, "empty_events_hits")?;
    Ok(rows)
}

/// The rollups computed from scratch from `session_state` and `events`. Run it inside the
/// transaction that changed the sessions wholesale, so readers never see them disagree.
pub fn rebuild(conn: &Connection) -> Result<(), duckdb::Error> {
    let started = std::time::Instant::now();
    setup(conn)?;
    conn.execute_batch(ROLLUP_SQL.get("clear"))?;
    for step in EMPTY {
        run(conn, step)?;
    }
    run(conn, "src_all")?;
    merge(conn)?;
    add_events(conn, true)?;
    tracing::info!(
        ms = started.elapsed().as_secs_f64() * 1e3,
        "all-time rollups rebuilt"
    );
    Ok(())
}
