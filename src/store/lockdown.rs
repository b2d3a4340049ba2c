//! The database-level lockdown `serve` applies before it hands out any reader connection:
//! DuckDB itself refuses file and network access outside the server's own directories,
//! extension installs and loads, and any later change of its settings. This, not the SQL
//! endpoint's parse-tree guard, is what keeps an ad-hoc query inside the database; the guard
//! on top gives early, named refusals.
//!
//! The CLI (`sql`, `ingest`, `bench`, ...) never calls this: it is a local admin tool and keeps
//! full access.

use std::path::PathBuf;

use duckdb::Connection;

use super::StoreError;

/// The settings statements, in the order DuckDB requires.
const LOCKDOWN_SQL: &str = include_str!("lockdown.sql");

/// What the instance is limited to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lockdown {
    /// Directories the server itself reads or writes (the database's directory for backups);
    /// absolute. The database file, its WAL and the spill directory are always allowed.
    pub allowed_directories: Vec<PathBuf>,
    /// DuckDB `memory_limit`, e.g. `"4GB"`.
    pub memory_limit: String,
    /// DuckDB `threads`.
    pub threads: u32,
    /// DuckDB `checkpoint_threshold`: how much WAL builds up before DuckDB checkpoints it
    /// into the file, e.g. `"256MB"` (set here because nothing can change it afterwards).
    pub checkpoint_threshold: String,
}

/// Applies `lockdown` to the DuckDB instance behind `conn` (every connection of it).
/// Irreversible for the life of the process.
pub fn apply(conn: &Connection, lockdown: &Lockdown) -> Result<(), StoreError> {
    let dirs = lockdown
        .allowed_directories
        .iter()
        .map(|d| {
            d.to_str()
                .map(string_literal)
                .ok_or_else(|| StoreError::Lockdown(format!("{}: not UTF-8", d.display())))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let sql = LOCKDOWN_SQL
        .replace("{allowed_directories}", &format!("[{}]", dirs.join(", ")))
        .replace("{memory_limit}", &string_literal(&lockdown.memory_limit))
        .replace("{threads}", &lockdown.threads.max(1).to_string())
        .replace(
            "{checkpoint_threshold}",
            &string_literal(&lockdown.checkpoint_threshold),
        );
    conn.execute_batch(&sql)
        .map_err(|e| StoreError::Lockdown(e.to_string()))
}

/// Limits DuckDB's memory for this process to `limit` (e.g. `"400MB"`); see `memory_limit.sql`.
pub fn set_memory_limit(conn: &Connection, limit: &str) -> Result<(), StoreError> {
    conn.execute_batch(
        &include_str!("memory_limit.sql").replace("{memory_limit}", &string_literal(limit)),
    )
    .map_err(|e| StoreError::MemoryLimit(format!("{limit:?}: {e}")))
}

/// A single-quoted SQL string literal (`SET` takes no bound parameters).
fn string_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn locked_store(dir: &std::path::Path) -> Store {
        let db = dir.join("db").join("mu.duckdb");
        let store = Store::open(db.to_str().unwrap(), Default::default()).unwrap();
        let lockdown = Lockdown {
            allowed_directories: vec![dir.join("db")],
            memory_limit: "1GB".into(),
            threads: 1,
            checkpoint_threshold: "16MB".into(),
        };
        store.lock_down(&lockdown).unwrap();
        store
    }

    /// `checkpoint_threshold` reaches the instance: 256MB is 256,000,000 bytes, which DuckDB
    /// reports as 244.1 MiB (its default is 16.0 MiB).
    #[test]
    fn the_checkpoint_threshold_is_set_on_the_instance() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("mu.duckdb");
        let store = Store::open(db.to_str().unwrap(), Default::default()).unwrap();
        let lockdown = Lockdown {
            allowed_directories: vec![dir.path().to_path_buf()],
            memory_limit: "1GB".into(),
            threads: 1,
            checkpoint_threshold: "256MB".into(),
        };
        store.lock_down(&lockdown).unwrap();
        let setting: String = store
            .reader()
            .unwrap()
            .query_row("SELECT current_setting('checkpoint_threshold')", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(setting, "244.1 MiB");
    }

    /// Even with the SQL endpoint's guard out of the way, a reader connection can neither
    /// read a file outside the allowed directories, nor write one, nor undo the lockdown.
    #[test]
    fn a_reader_cannot_read_files_or_change_settings_after_the_lockdown() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("secret.txt");
        std::fs::write(&secret, "lockdown-secret-5c1f").unwrap();
        let store = locked_store(dir.path());
        let reader = store.reader().unwrap();
        let read = reader.query_row(
            &format!("SELECT content FROM read_text('{}')", secret.display()),
            [],
            |r| r.get::<_, String>(0),
        );
        let err = read.expect_err("read_text outside the allowed directories");
        assert!(
            err.to_string().contains("disabled by configuration"),
            "{err}"
        );
        assert!(
            reader
                .query_row("SELECT content FROM read_text('/etc/hostname')", [], |r| {
                    r.get::<_, String>(0)
                })
                .is_err()
        );
        let out = outside.path().join("out.csv");
        let copy = reader.execute_batch(&format!("COPY (SELECT 1) TO '{}'", out.display()));
        assert!(copy.is_err() && !out.exists(), "COPY must not write");
        for set in [
            "SET enable_external_access = true",
            "SET lock_configuration = false",
            "SET memory_limit = '100GB'",
            "RESET threads",
            "SET allowed_directories = ['/']",
            "SET autoload_known_extensions = true",
        ] {
            let err = reader.execute_batch(set).expect_err(set);
            assert!(err.to_string().contains("locked"), "{set}: {err}");
        }
        let err = reader.execute_batch("LOAD httpfs").expect_err("LOAD");
        assert!(err.to_string().contains("disabled"), "{err}");
        let (limit, threads): (String, i64) = reader
            .query_row(
                "SELECT current_setting('memory_limit'), current_setting('threads')",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((limit.as_str(), threads), ("953.6 MiB", 1));
        // Checked as settings rather than by triggering an autoload, which would download.
        let flags: (bool, bool, bool, bool) = reader
            .query_row(
                "SELECT current_setting('enable_external_access'), \
                 current_setting('autoload_known_extensions'), \
                 current_setting('autoinstall_known_extensions'), \
                 current_setting('lock_configuration')",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(flags, (false, false, false, true));
    }

    /// The server's own jobs still work: a backup into the database's directory.
    #[test]
    fn a_backup_beside_the_database_still_works_after_the_lockdown() {
        let dir = tempfile::tempdir().unwrap();
        let store = locked_store(dir.path());
        let out = dir.path().join("db").join(".backup-test.duckdb");
        let report = crate::ops::backup::snapshot(store.connection(), &out).unwrap();
        assert_eq!(report.events, 0);
        assert!(out.exists());
        let elsewhere = tempfile::tempdir().unwrap();
        let refused =
            crate::ops::backup::snapshot(store.connection(), &elsewhere.path().join("snap.duckdb"));
        assert!(refused.is_err(), "a backup outside the allowed directories");
    }
}
