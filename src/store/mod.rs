//! store: the DuckDB database. Opening and migrating it, the single writer that appends
//! event batches (skipping events already stored) together with rejects and the source's
//! checkpoint in one transaction, read-only query helpers, and the lockdown `serve` applies
//! to the instance before handing out reader connections ([`lockdown`]).
//!
//! The store knows nothing of the tables derived from events. The modules that own them
//! (session state, the Jira outbox) register their steps as [`Derivations`] when the store is
//! opened: `define` steps (macros, views) run after the migrations and again after a settings
//! change; `after_insert` steps run inside every commit that stored new events, in the same
//! transaction, so a derived table never lags `events`. The composition lives above the store
//! (`crate::database`).
//!
//! Idempotency without a primary-key index: an event's id is a hash that includes its
//! timestamp, so a duplicate can only sit among stored events with the same timestamp. A
//! batch's ids are looked up among committed events restricted to the batch's time range,
//! which DuckDB prunes with its per-row-group min/max (zone maps), and among the ids the open
//! commit already took ([`Commit`]). That keeps appends cheap on a large table and memory
//! flat, where an ART index over billions of ids would not.

pub mod arrow_scan;
pub mod lockdown;
pub mod query;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use duckdb::arrow::array::{Array, ArrayRef, BooleanArray, StringArray};
use duckdb::arrow::compute::filter_record_batch;
use duckdb::arrow::datatypes::{DataType, Field, Schema};
use duckdb::arrow::error::ArrowError;
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::{Connection, params};

use crate::batch::{EventBatch, IncomingEvent};
use arrow_scan::{ArrowBatchScan, Registration};

/// Numbered migrations, applied in order at open. Never edit one that has shipped; add another.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "core", include_str!("../../schemas/duckdb/001_core.sql")),
    (
        2,
        "sessions",
        include_str!("../../schemas/duckdb/002_sessions.sql"),
    ),
    (3, "jira", include_str!("../../schemas/duckdb/003_jira.sql")),
    (
        4,
        "session_key",
        include_str!("../../schemas/duckdb/004_session_key.sql"),
    ),
    (
        5,
        "derived",
        include_str!("../../schemas/duckdb/005_derived.sql"),
    ),
    (
        6,
        "session_cluster",
        include_str!("../../schemas/duckdb/006_session_cluster.sql"),
    ),
    (
        7,
        "rule_defaults",
        include_str!("../../schemas/duckdb/007_rule_defaults.sql"),
    ),
    (
        8,
        "rollups",
        include_str!("../../schemas/duckdb/008_rollups.sql"),
    ),
    (
        9,
        "directory",
        include_str!("../../schemas/duckdb/009_directory.sql"),
    ),
];

/// The `settings` table as key → value, for steps that render it into their SQL.
pub type Settings = std::collections::HashMap<String, Option<String>>;

/// (Re)creates what a derived module defines over the tables (macros, views).
pub type DefineFn = fn(&Connection, &Settings) -> Result<(), duckdb::Error>;

/// Keeps a derived table current: runs inside the commit that stored the events stamped
/// `ingested_at = stamp`. Returns the rows it changed (for tracing).
pub type AfterInsertFn = fn(&Connection, DateTime<Utc>) -> Result<usize, duckdb::Error>;

/// Brings a write-behind derived table up to date with what the commits since its last call
/// left for it; runs between commits, in its own transaction. Returns the rows it merged.
pub type CatchUpFn = fn(&Connection) -> Result<usize, duckdb::Error>;

/// The derived-table steps registered with the store, each run in registration order.
#[derive(Default, Clone)]
pub struct Derivations {
    define: Vec<(&'static str, DefineFn)>,
    after_insert: Vec<(&'static str, AfterInsertFn)>,
    catch_up: Vec<(&'static str, CatchUpFn)>,
}

impl Derivations {
    /// Adds a step run at open and after every settings change.
    pub fn define(mut self, name: &'static str, step: DefineFn) -> Self {
        self.define.push((name, step));
        self
    }

    /// Adds a step run inside every commit that stored new events.
    pub fn after_insert(mut self, name: &'static str, step: AfterInsertFn) -> Self {
        self.after_insert.push((name, step));
        self
    }

    /// Adds a step that [`Store::catch_up`] runs (the writer between commits, and readers
    /// through it before they read what the step keeps).
    pub fn catch_up(mut self, name: &'static str, step: CatchUpFn) -> Self {
        self.catch_up.push((name, step));
        self
    }
}

/// Largest raw excerpt kept with a reject.
pub const EXCERPT_BYTES: usize = 2048;

/// Storage errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the directory for the database {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the database {path}: {source}")]
    Open { path: String, source: duckdb::Error },
    #[error("migration {version} ({name}) failed: {source}")]
    Migrate {
        version: i32,
        name: &'static str,
        source: duckdb::Error,
    },
    #[error("database error: {0}")]
    Db(#[from] duckdb::Error),
    #[error("derived step `{step}` failed: {source}")]
    Derived {
        step: &'static str,
        source: duckdb::Error,
    },
    #[error("cannot build an Arrow batch: {0}")]
    Arrow(#[from] duckdb::arrow::error::ArrowError),
    #[error("cannot lock the database down for serve (check [sql] memory_limit and threads): {0}")]
    Lockdown(String),
    #[error("cannot set DuckDB's memory limit (use a size like 400MB or 2GB): {0}")]
    MemoryLimit(String),
}

/// A record that could not be turned into an event, with why and where.
#[derive(Debug, Clone)]
pub struct RejectRecord {
    pub source: String,
    pub location: Option<String>,
    pub reason: String,
    pub excerpt: String,
}

impl RejectRecord {
    /// A reject with its raw input capped at [`EXCERPT_BYTES`] (lossy UTF-8).
    pub fn new(source: &str, location: Option<String>, reason: String, raw: &[u8]) -> Self {
        let capped = &raw[..raw.len().min(EXCERPT_BYTES)];
        RejectRecord {
            source: source.to_string(),
            location,
            reason,
            excerpt: String::from_utf8_lossy(capped).into_owned(),
        }
    }
}

/// A source's position, saved with the events it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub source: String,
    pub position: i64,
    pub identity: Option<String>,
}

/// What one append did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AppendStats {
    /// New events stored.
    pub stored: u64,
    /// Events already stored (or repeated within the batch), skipped.
    pub duplicates: u64,
    /// Rejects recorded.
    pub rejected: u64,
}

/// The database: owns the writer connection.
pub struct Store {
    conn: Connection,
    /// Reads only what is committed (its own snapshot, outside the writer's transaction): the
    /// duplicate check of a batch scans stored events without the commit's own new rows.
    checker: Connection,
    path: String,
    /// The `ingested_at` of the last commit; each commit gets a strictly later one, so the
    /// rows of one commit can be told apart.
    last_stamp: DateTime<Utc>,
    derivations: Derivations,
}

/// Migrates a freshly opened database and adds the connection that checks for stored events.
fn store_migrated(
    conn: Connection,
    path: &str,
    derivations: Derivations,
) -> Result<Store, StoreError> {
    let checker = conn.try_clone()?;
    let store = Store {
        conn,
        checker,
        path: path.to_string(),
        last_stamp: DateTime::<Utc>::MIN_UTC,
        derivations,
    };
    store.migrate()?;
    store
        .checker
        .register_table_function::<ArrowBatchScan>(arrow_scan::FUNCTION)?;
    Ok(store)
}

impl Store {
    /// Opens (creating if needed) the database at `path`, applies migrations and runs the
    /// `define` steps of `derivations`. `:memory:` gives a private in-memory database.
    pub fn open(path: &str, derivations: Derivations) -> Result<Store, StoreError> {
        let conn = if path == ":memory:" {
            Connection::open_in_memory()
        } else {
            if let Some(dir) = Path::new(path)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                    path: dir.to_path_buf(),
                    source,
                })?;
            }
            Connection::open(path)
        }
        .map_err(|source| StoreError::Open {
            path: path.to_string(),
            source,
        })?;
        store_migrated(conn, path, derivations)
    }

    /// Where the database lives (`:memory:` for in-memory).
    pub fn path(&self) -> &str {
        &self.path
    }

    fn migrate(&self) -> Result<(), StoreError> {
        self.conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)",
        )?;
        for &(version, name, sql) in MIGRATIONS {
            let applied: i64 = self.conn.query_row(
                "SELECT count(*) FROM schema_migrations WHERE version = ?",
                params![version],
                |r| r.get(0),
            )?;
            if applied > 0 {
                continue;
            }
            let run = || -> Result<(), duckdb::Error> {
                let tx = self.conn.unchecked_transaction()?;
                tx.execute_batch(sql)?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                    params![version, name],
                )?;
                tx.commit()
            };
            run().map_err(|source| StoreError::Migrate {
                version,
                name,
                source,
            })?;
        }
        self.refresh_views()?;
        self.conn
            .register_table_function::<ArrowBatchScan>(arrow_scan::FUNCTION)?;
        Ok(())
    }

    /// Runs every `define` step (macros, views) with the current `settings`. Call again after
    /// changing settings.
    pub fn refresh_views(&self) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare("SELECT key, value FROM settings")?;
        let settings: Settings = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for &(step, define) in &self.derivations.define {
            define(&self.conn, &settings).map_err(|source| StoreError::Derived { step, source })?;
        }
        Ok(())
    }

    /// Locks the DuckDB instance down (see [`lockdown`]): call after migrations and view
    /// refreshes, before any reader connection is made. Irreversible for this process.
    pub fn lock_down(&self, lockdown: &lockdown::Lockdown) -> Result<(), StoreError> {
        lockdown::apply(&self.conn, lockdown)
    }

    /// Limits DuckDB's memory for this process (its buffer pool), e.g. `"400MB"`.
    pub fn set_memory_limit(&self, limit: &str) -> Result<(), StoreError> {
        lockdown::set_memory_limit(&self.conn, limit)
    }

    /// A second connection to the same database, for readers.
    /// Runs every catch-up step (write-behind derived tables merge what commits left for
    /// them). Returns the rows merged.
    pub fn catch_up(&self) -> Result<usize, StoreError> {
        let mut rows = 0;
        for &(step, catch_up) in &self.derivations.catch_up {
            rows += catch_up(&self.conn).map_err(|source| StoreError::Derived { step, source })?;
        }
        Ok(rows)
    }

    pub fn reader(&self) -> Result<Connection, StoreError> {
        Ok(self.conn.try_clone()?)
    }

    /// The writer connection (for derived-table maintenance that must share its transactions).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Appends events (skipping ones already stored), rejects and source checkpoints in one
    /// transaction. Either all of it is committed or none of it.
    pub fn append(
        &mut self,
        events: &[IncomingEvent],
        rejects: &[RejectRecord],
        checkpoints: &[Checkpoint],
    ) -> Result<AppendStats, StoreError> {
        self.append_retiring(events, rejects, checkpoints, &[])
    }

    /// [`Store::append`], also deleting the checkpoints named in `retired` (a source that is
    /// done with them, such as a rotated file read to its end) in the same transaction.
    pub fn append_retiring(
        &mut self,
        events: &[IncomingEvent],
        rejects: &[RejectRecord],
        checkpoints: &[Checkpoint],
        retired: &[String],
    ) -> Result<AppendStats, StoreError> {
        let batch = EventBatch::build(events)?;
        let mut commit = self.begin()?;
        commit.add_events(&batch)?;
        commit.add_rejects(rejects)?;
        commit.save_checkpoints(checkpoints, retired)?;
        let stats = commit.finish()?;
        // One-off appends (tests, the demo, tools) leave no pending work behind; the pipeline
        // commits through `begin` and catches up between commits.
        self.catch_up()?;
        Ok(stats)
    }

    /// Opens the transaction of one commit, stamped with a fresh `ingested_at`. Add batches,
    /// rejects and checkpoints to it, then [`Commit::finish`]; dropping it rolls back.
    pub fn begin(&mut self) -> Result<Commit<'_>, StoreError> {
        let stamp = Utc::now().max(self.last_stamp + chrono::Duration::microseconds(1));
        self.last_stamp = stamp;
        let Store {
            conn,
            checker,
            derivations,
            ..
        } = self;
        Ok(Commit {
            tx: conn.transaction()?,
            checker,
            derivations,
            stamp,
            stats: AppendStats::default(),
            ids: HashSet::new(),
        })
    }

    /// The saved position of `source`, if any.
    pub fn checkpoint(&self, source: &str) -> Result<Option<Checkpoint>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT source, position, identity FROM checkpoints WHERE source = ?")?;
        let mut rows = stmt.query(params![source])?;
        Ok(match rows.next()? {
            Some(r) => Some(Checkpoint {
                source: r.get(0)?,
                position: r.get(1)?,
                identity: r.get(2)?,
            }),
            None => None,
        })
    }
}

/// Replaces each `{{key}}` with that setting as a SQL string literal (`NULL` when unset), for
/// `define` steps whose SQL takes settings as constants.
pub fn render_settings(sql: &str, settings: &Settings) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        let key = &rest[start + 2..start + len];
        out.push_str(&rest[..start]);
        match settings.get(key).cloned().flatten() {
            Some(v) => out.push_str(&format!("'{}'", v.replace('\'', "''"))),
            None => out.push_str("NULL"),
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

/// One commit in progress: every batch, reject and checkpoint added to it is committed
/// together by [`Commit::finish`], after the `after_insert` steps ran over the new events.
///
/// Duplicates are found in three places, none of which scans the commit's own new rows in
/// DuckDB (an anti-join against `events` inside the transaction would, for every batch):
/// within a batch (dropped when it was built), against earlier batches of this commit (the
/// ids seen so far, kept here), and against committed events, through the checker connection
/// and only in the batch's time range (ids hash the timestamp; DuckDB skips row groups by
/// their min/max).
pub struct Commit<'a> {
    tx: duckdb::Transaction<'a>,
    checker: &'a Connection,
    derivations: &'a Derivations,
    stamp: DateTime<Utc>,
    stats: AppendStats,
    /// Ids stored by this commit so far.
    ids: HashSet<IdKey>,
}

/// An event id as a set key: its 128 bits when it is the usual 32 hex digits.
#[derive(Debug, PartialEq, Eq, Hash)]
enum IdKey {
    Hex(u128),
    Other(Box<str>),
}

impl IdKey {
    fn of(id: &str) -> IdKey {
        match (id.len(), u128::from_str_radix(id, 16)) {
            (32, Ok(n)) => IdKey::Hex(n),
            _ => IdKey::Other(id.into()),
        }
    }
}

impl Commit<'_> {
    /// Inserts the batch's events that are not stored yet, straight from the Arrow batch
    /// (DuckDB's Arrow reader scans it in place through `arrow_batch`, see [`arrow_scan`]),
    /// stamped with this commit's `ingested_at`.
    pub fn add_events(&mut self, batch: &EventBatch) -> Result<(), StoreError> {
        self.add_event_batches(&[batch])
    }

    /// [`Commit::add_events`] for several batches at once: one duplicate check and one
    /// `INSERT` for all of them.
    pub fn add_event_batches(&mut self, batches: &[&EventBatch]) -> Result<(), StoreError> {
        let mut lists = Vec::with_capacity(batches.len());
        let mut range: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
        for batch in batches {
            self.stats.duplicates += batch.repeats();
            let Some(rows) = batch.rows() else {
                continue;
            };
            let ids = rows
                .column(0)
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| {
                    StoreError::Arrow(ArrowError::SchemaError("id is not a string column".into()))
                })?;
            let (lo, hi) = batch.time_range();
            range = Some(range.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
            lists.push((rows, ids));
        }
        let Some(range) = range else {
            return Ok(());
        };
        let started = std::time::Instant::now();
        let stored = self.stored_ids(range, lists.iter().map(|(_, ids)| *ids))?;
        let ms = started.elapsed().as_secs_f64() * 1e3;
        tracing::debug!(found = stored.len(), ms, "stored ids");
        let mut fresh_rows = Vec::with_capacity(lists.len());
        for (rows, ids) in lists {
            let keep: Vec<bool> = ids
                .iter()
                .map(|id| {
                    let id = id.unwrap_or_default();
                    !stored.contains(id) && self.ids.insert(IdKey::of(id))
                })
                .collect();
            let fresh = keep.iter().filter(|&&k| k).count();
            self.stats.duplicates += (keep.len() - fresh) as u64;
            if fresh == keep.len() {
                fresh_rows.push(rows.clone());
            } else if fresh > 0 {
                fresh_rows.push(filter_record_batch(rows, &BooleanArray::from(keep))?);
            }
        }
        if fresh_rows.is_empty() {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let registration = Registration::many(fresh_rows);
        let inserted = self.tx.execute(
            include_str!("insert_new_events.sql"),
            params![registration.token(), self.stamp.naive_utc()],
        )? as u64;
        let ms = started.elapsed().as_secs_f64() * 1e3;
        tracing::debug!(inserted, ms, "insert");
        self.stats.stored += inserted;
        Ok(())
    }

    /// Which of the ids are already committed. `range`: the smallest and largest timestamp
    /// of their events.
    fn stored_ids<'b>(
        &self,
        (lo, hi): (DateTime<Utc>, DateTime<Utc>),
        ids: impl Iterator<Item = &'b StringArray>,
    ) -> Result<HashSet<String>, StoreError> {
        let (lo, hi) = (lo.naive_utc(), hi.naive_utc());
        let in_range: i64 = self.checker.query_row(
            "SELECT count(*) FROM events WHERE timestamp BETWEEN ? AND ?",
            params![lo, hi],
            |r| r.get(0),
        )?;
        if in_range == 0 {
            return Ok(HashSet::new());
        }
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Utf8, false)]));
        let only_ids = ids
            .map(|ids| {
                RecordBatch::try_new(schema.clone(), vec![Arc::new(ids.clone()) as ArrayRef])
            })
            .collect::<Result<Vec<_>, _>>()?;
        let registration = Registration::many(only_ids);
        let mut stmt = self.checker.prepare(include_str!("stored_ids.sql"))?;
        let found = stmt
            .query_map(params![registration.token(), lo, hi], |r| {
                r.get::<_, String>(0)
            })?
            .collect::<Result<HashSet<_>, _>>()?;
        Ok(found)
    }

    /// Records rejects.
    pub fn add_rejects(&mut self, rejects: &[RejectRecord]) -> Result<(), StoreError> {
        insert_rejects(&self.tx, rejects, self.stamp)?;
        self.stats.rejected += rejects.len() as u64;
        Ok(())
    }

    /// Deletes the checkpoints in `retired`, then saves `checkpoints`. Called once per source
    /// submission, in the order they were made: a later position for the same source wins,
    /// and a source retired and then checkpointed again keeps its checkpoint.
    pub fn save_checkpoints(
        &mut self,
        checkpoints: &[Checkpoint],
        retired: &[String],
    ) -> Result<(), StoreError> {
        for source in retired {
            self.tx
                .execute("DELETE FROM checkpoints WHERE source = ?", params![source])?;
        }
        for cp in checkpoints {
            self.tx.execute(
                "INSERT OR REPLACE INTO checkpoints (source, position, identity, updated_at) VALUES (?, ?, ?, ?)",
                params![cp.source, cp.position, cp.identity, self.stamp.naive_utc()],
            )?;
        }
        Ok(())
    }

    /// Events stored so far by this commit.
    pub fn stored(&self) -> u64 {
        self.stats.stored
    }

    /// Runs the `after_insert` steps over this commit's new events (when there are any) and
    /// commits.
    pub fn finish(self) -> Result<AppendStats, StoreError> {
        if self.stats.stored > 0 {
            for &(step, after_insert) in &self.derivations.after_insert {
                let started = std::time::Instant::now();
                let changed = after_insert(&self.tx, self.stamp)
                    .map_err(|source| StoreError::Derived { step, source })?;
                let ms = started.elapsed().as_secs_f64() * 1e3;
                tracing::debug!(step, changed, ms, "derived step");
            }
        }
        let started = std::time::Instant::now();
        self.tx.commit()?;
        let ms = started.elapsed().as_secs_f64() * 1e3;
        tracing::debug!(stored = self.stats.stored, ms, "commit");
        Ok(self.stats)
    }
}

fn insert_rejects(
    conn: &Connection,
    rejects: &[RejectRecord],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if rejects.is_empty() {
        return Ok(());
    }
    let mut appender = conn.appender("rejects")?;
    for r in rejects {
        appender.append_row(params![
            now.naive_utc(),
            r.source,
            r.location,
            r.reason,
            r.excerpt
        ])?;
    }
    appender.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::event::{EventKind, OperatorEvent};

    fn start(session: &str) -> IncomingEvent {
        let mut e = OperatorEvent::new(
            EventKind::SessionStart,
            Utc.timestamp_opt(1_767_000_001, 0).unwrap(),
        );
        e.session_id = Some(session.into());
        IncomingEvent {
            event: e.finish(),
            format: "tracing-json",
            source: Arc::from("test"),
        }
    }

    /// Several batches inserted as one: a repeat of a committed event, a repeat across the
    /// batches of the call and a repeat within a batch are each counted once as a duplicate;
    /// the rest is stored once. Expected values worked out by hand: s1 committed first;
    /// then [s1, s2], [s2, s3, s3] → s2 and s3 stored, s1 + s2 + s3 duplicates.
    #[test]
    fn batches_inserted_together_drop_every_kind_of_repeat() {
        let mut store = Store::open(":memory:", Derivations::default()).unwrap();
        store.append(&[start("s1")], &[], &[]).unwrap();
        let first = EventBatch::build(&[start("s1"), start("s2")]).unwrap();
        let second = EventBatch::build(&[start("s2"), start("s3"), start("s3")]).unwrap();
        let mut commit = store.begin().unwrap();
        commit.add_event_batches(&[&first, &second]).unwrap();
        let stats = commit.finish().unwrap();
        assert_eq!((stats.stored, stats.duplicates), (2, 3));
        let sessions: Vec<String> = store
            .connection()
            .prepare("SELECT session_id FROM events ORDER BY session_id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(sessions, ["s1", "s2", "s3"]);
    }

    #[test]
    fn rejects_and_checkpoints_commit_with_the_batch() {
        let mut store = Store::open(":memory:", Derivations::default()).unwrap();
        let reject = RejectRecord::new(
            "tail:/x.log",
            Some("/x.log:3".into()),
            "bad".into(),
            &[b'x'; 5000],
        );
        let cp = Checkpoint {
            source: "tail:/x.log".into(),
            position: 1234,
            identity: Some("1:2".into()),
        };
        store
            .append(&[start("s2")], &[reject], std::slice::from_ref(&cp))
            .unwrap();
        assert_eq!(store.checkpoint("tail:/x.log").unwrap(), Some(cp));
        let len: i64 = store
            .connection()
            .query_row("SELECT length(excerpt) FROM rejects", [], |r| r.get(0))
            .unwrap();
        assert_eq!(len, EXCERPT_BYTES as i64);
    }
}
