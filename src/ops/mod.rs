//! ops: running mirrord-usage in production — retention, export and backup.
//!
//! Each job is a function over a DuckDB connection, so the same code runs in two places:
//! inside `serve`, on the writer thread through [`crate::pipeline::PipelineHandle::maintain`]
//! (DuckDB allows one process per database file, and the writer owns the only write
//! connection), and from the CLI on the file directly while `serve` is stopped.
//!
//! - [`retention`]: delete events and rejects past `[retention] days`, sessions past
//!   `keep_sessions_days`; a dry run only counts.
//! - [`export`]: day-partitioned Parquet or CSV files (hive layout `day=YYYY-MM-DD/`) that
//!   Spark, Trino, ClickHouse or DuckDB read as one table.
//! - [`backup`]: a consistent single-file snapshot, restored by putting it where the database
//!   file goes.
//! - [`remote`]: the CLI's client for a running `serve`'s admin routes.

pub mod backup;
pub mod export;
pub mod remote;
pub mod retention;

use std::path::Path;

use crate::store::{Store, StoreError};

/// Errors of the maintenance jobs.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error("no database at {0}: ingest something first, or pass --db / MIRRORD_USAGE_DB")]
    NoDatabase(String),
    #[error(
        "the database {path} is in use by another process (a running `serve`?): \
         pass --server URL --key KEY to ask it, or stop it first ({detail})"
    )]
    Locked { path: String, detail: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("database error: {0}")]
    Db(#[from] duckdb::Error),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Remote(String),
}

impl OpsError {
    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OpsError + '_ {
        move |source| OpsError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// Opens an existing database file for a maintenance job run from the CLI, explaining a lock
/// held by a running `serve` instead of DuckDB's bare "could not set lock".
pub fn open_existing(db: &str) -> Result<Store, OpsError> {
    if db != ":memory:" && !Path::new(db).exists() {
        return Err(OpsError::NoDatabase(db.to_string()));
    }
    crate::database::open(db).map_err(|e| match e {
        StoreError::Open { path, source }
            if source.to_string().to_ascii_lowercase().contains("lock") =>
        {
            OpsError::Locked {
                path,
                detail: source.to_string(),
            }
        }
        other => OpsError::Store(other),
    })
}

/// A path as a single-quoted SQL string literal (for `COPY ... TO` and `ATTACH`, which take no
/// bound parameters). Refuses control characters rather than trying to escape them.
pub(crate) fn sql_path_literal(path: &Path) -> Result<String, OpsError> {
    let text = path.to_str().ok_or_else(|| {
        OpsError::Invalid(format!("{}: the path is not valid UTF-8", path.display()))
    })?;
    if text.chars().any(char::is_control) {
        return Err(OpsError::Invalid(format!(
            "{text:?}: the path contains control characters"
        )));
    }
    Ok(format!("'{}'", text.replace('\'', "''")))
}

/// An identifier as a double-quoted SQL identifier.
pub(crate) fn sql_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_quoted_and_control_characters_refused() {
        assert_eq!(
            sql_path_literal(Path::new("/tmp/it's")).unwrap(),
            "'/tmp/it''s'"
        );
        assert!(sql_path_literal(Path::new("/tmp/a\nb")).is_err());
        assert_eq!(sql_identifier("my\"db"), "\"my\"\"db\"");
    }

    #[test]
    fn a_missing_database_is_reported_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("none.duckdb");
        let err = open_existing(path.to_str().unwrap()).err().unwrap();
        assert!(matches!(err, OpsError::NoDatabase(_)), "{err}");
        assert!(!path.exists());
    }
}
