//! Backup: a consistent single-file snapshot of the database.
//!
//! The snapshot is a new DuckDB file filled by `COPY FROM DATABASE` in one transaction, so it
//! holds exactly the commits made before it started: events, sessions, rejects and checkpoints
//! agree with each other. It is compact (deleted rows aren't copied). While `serve` runs it
//! does this on its writer thread (`POST /api/v1/admin/backup` streams the file back); while
//! it is stopped, the `backup` subcommand does it on the file.
//!
//! Restoring is putting the snapshot where the database goes: stop `serve`, move the file to
//! the `--db` path (removing a stale `.wal` beside it), start `serve`. Migrations that are
//! newer than the snapshot are applied at start as usual.

use std::fmt;
use std::path::{Path, PathBuf};

use duckdb::Connection;
use serde::{Deserialize, Serialize};

use super::{OpsError, sql_identifier, sql_path_literal};

/// The name the snapshot is attached under while it is written.
const SNAPSHOT: &str = "mirrord_usage_backup_snapshot";

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupReport {
    pub path: PathBuf,
    pub bytes: u64,
    pub events: u64,
    pub sessions: u64,
    pub rejects: u64,
}

impl fmt::Display for BackupReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "backup written to {} ({} bytes): {} events, {} sessions, {} rejects",
            self.path.display(),
            self.bytes,
            self.events,
            self.sessions,
            self.rejects
        )
    }
}

/// Writes a snapshot of the database behind `conn` to `out`, replacing it if it exists. The
/// file appears only when complete (written beside it, then renamed).
pub fn snapshot(conn: &Connection, out: &Path) -> Result<BackupReport, OpsError> {
    let partial = partial_path(out);
    remove_if_present(&partial)?;
    remove_if_present(&wal_path(&partial))?;
    let counts = copy_into(conn, &partial).inspect_err(|_| {
        let _ = conn.execute_batch(&format!("DETACH DATABASE IF EXISTS {SNAPSHOT}"));
        let _ = std::fs::remove_file(&partial);
        let _ = std::fs::remove_file(wal_path(&partial));
    })?;
    std::fs::rename(&partial, out).map_err(OpsError::io(out))?;
    let bytes = std::fs::metadata(out).map_err(OpsError::io(out))?.len();
    Ok(BackupReport {
        path: out.to_path_buf(),
        bytes,
        events: counts.0,
        sessions: counts.1,
        rejects: counts.2,
    })
}

/// Attaches a new file at `path`, copies the current database into it in one transaction, and
/// detaches it (which checkpoints it: no `.wal` is left). Returns the snapshot's row counts.
fn copy_into(conn: &Connection, path: &Path) -> Result<(u64, u64, u64), OpsError> {
    let current: String = conn.query_row("SELECT current_database()", [], |r| r.get(0))?;
    conn.execute_batch(&format!("ATTACH {} AS {SNAPSHOT}", sql_path_literal(path)?))?;
    conn.execute_batch(&format!(
        "BEGIN TRANSACTION; COPY FROM DATABASE {} TO {SNAPSHOT}; COMMIT;",
        sql_identifier(&current)
    ))
    .inspect_err(|_| {
        let _ = conn.execute_batch("ROLLBACK");
    })?;
    let counts: (i64, i64, i64) = conn.query_row(
        &include_str!("backup_counts.sql").replace("{snapshot}", SNAPSHOT),
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    conn.execute_batch(&format!("DETACH DATABASE {SNAPSHOT}"))?;
    Ok((counts.0 as u64, counts.1 as u64, counts.2 as u64))
}

/// Where a snapshot is written before it is renamed to `out`.
fn partial_path(out: &Path) -> PathBuf {
    let mut name = out
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".partial");
    out.with_file_name(name)
}

fn wal_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_os_string();
    name.push(".wal");
    PathBuf::from(name)
}

fn remove_if_present(path: &Path) -> Result<(), OpsError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(OpsError::io(path)(e)),
        _ => Ok(()),
    }
}

/// A directory for a temporary snapshot of the database at `db`: beside it (the data volume,
/// writable even under a read-only root filesystem), or the system's temporary directory for
/// an in-memory database. Absolute, because `serve` allows DuckDB this directory by path
/// ([`crate::store::lockdown`]) and DuckDB compares paths as written.
pub fn scratch_dir(db: &str) -> PathBuf {
    let dir = match Path::new(db).parent() {
        _ if db == ":memory:" => std::env::temp_dir(),
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::path::absolute(&dir).unwrap_or(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_opens_as_a_database_with_the_same_rows() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("live.duckdb");
        let store = crate::database::open(db.to_str().unwrap()).unwrap();
        store
            .connection()
            .execute_batch("INSERT INTO rejects VALUES (TIMESTAMP '2026-01-01 00:00:00', 'test', NULL, 'bad', 'x')")
            .unwrap();
        let out = dir.path().join("snap's.duckdb");
        let report = snapshot(store.connection(), &out).unwrap();
        assert_eq!((report.events, report.rejects), (0, 1));
        assert!(report.bytes > 0 && !partial_path(&out).exists());
        let restored = crate::database::open(out.to_str().unwrap()).unwrap();
        let n: i64 = restored
            .connection()
            .query_row("SELECT count(*) FROM rejects", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        // A second snapshot to the same place replaces the first.
        drop(restored);
        snapshot(store.connection(), &out).unwrap();
    }

    #[test]
    fn scratch_space_is_beside_the_database() {
        assert_eq!(scratch_dir("/data/mu.duckdb"), PathBuf::from("/data"));
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(scratch_dir("mu.duckdb"), std::path::absolute(".").unwrap());
        assert!(scratch_dir("mu.duckdb").starts_with(cwd));
        assert_eq!(scratch_dir(":memory:"), std::env::temp_dir());
    }
}
