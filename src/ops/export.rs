//! Export: tables as day-partitioned Parquet or CSV files in the hive layout
//! (`OUT/events/day=2026-02-01/data_0.parquet`), which Spark, Trino, ClickHouse and DuckDB read
//! as one table with a `day` column:
//!
//! ```sql
//! SELECT count(*) FROM read_parquet('OUT/events/*/*.parquet', hive_partitioning = true);
//! ```
//!
//! Re-exporting a day replaces that day's directory, so a daily `--from yesterday --to
//! yesterday` job keeps an archive current without duplicates. The files are written with
//! DuckDB's `COPY ... (PARTITION_BY (day))`.

use std::fmt;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use duckdb::Connection;
use serde::Serialize;

use super::{OpsError, sql_path_literal};

/// File format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Parquet,
    Csv,
}

impl ExportFormat {
    fn copy_options(self) -> &'static str {
        match self {
            ExportFormat::Parquet => "FORMAT PARQUET, COMPRESSION ZSTD",
            ExportFormat::Csv => "FORMAT CSV, HEADER true",
        }
    }
}

/// A table that can be exported, and the column its day comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportTable {
    /// By the day the event happened.
    Events,
    /// By the day the session started.
    Sessions,
    /// By the day the reject was received.
    Rejects,
}

impl ExportTable {
    /// The directory name under the output directory.
    pub fn name(self) -> &'static str {
        match self {
            ExportTable::Events => "events",
            ExportTable::Sessions => "sessions",
            ExportTable::Rejects => "rejects",
        }
    }

    fn select(self) -> (&'static str, &'static str) {
        match self {
            ExportTable::Events => (include_str!("export_events.sql"), "timestamp"),
            ExportTable::Sessions => (include_str!("export_sessions.sql"), "started_at"),
            ExportTable::Rejects => (include_str!("export_rejects.sql"), "ingested_at"),
        }
    }
}

/// What to export where.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    pub format: ExportFormat,
    /// Output directory; one subdirectory per table.
    pub out: PathBuf,
    /// First day included (UTC).
    pub from: Option<NaiveDate>,
    /// Last day included (UTC).
    pub to: Option<NaiveDate>,
    pub tables: Vec<ExportTable>,
}

/// One exported table.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ExportedTable {
    pub table: ExportTable,
    pub rows: u64,
    pub days: u64,
    pub dir: PathBuf,
}

/// What an export wrote.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ExportReport {
    pub format: ExportFormat,
    pub tables: Vec<ExportedTable>,
}

impl fmt::Display for ExportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "exported ({}):",
            if self.format == ExportFormat::Parquet {
                "parquet"
            } else {
                "csv"
            }
        )?;
        for t in &self.tables {
            writeln!(
                f,
                "  {:<9} {:>10} rows in {:>5} day(s)  {}",
                t.table.name(),
                t.rows,
                t.days,
                t.dir.display()
            )?;
        }
        Ok(())
    }
}

/// The date condition on `column`, from validated dates (safe to put into SQL).
fn range_condition(
    column: &str,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<String, OpsError> {
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(OpsError::Invalid(format!("--from {f} is after --to {t}")));
    }
    let mut parts = vec!["true".to_string()];
    if let Some(f) = from {
        parts.push(format!("{column} >= DATE '{}'", f.format("%Y-%m-%d")));
    }
    if let Some(t) = to {
        let next = t
            .succ_opt()
            .ok_or_else(|| OpsError::Invalid(format!("--to {t} is out of range")))?;
        parts.push(format!("{column} < DATE '{}'", next.format("%Y-%m-%d")));
    }
    Ok(parts.join(" AND "))
}

/// Writes the requested tables under `opts.out`.
pub fn export(conn: &Connection, opts: &ExportOptions) -> Result<ExportReport, OpsError> {
    let mut tables = Vec::new();
    for &table in &opts.tables {
        tables.push(export_table(conn, table, opts)?);
    }
    Ok(ExportReport {
        format: opts.format,
        tables,
    })
}

fn export_table(
    conn: &Connection,
    table: ExportTable,
    opts: &ExportOptions,
) -> Result<ExportedTable, OpsError> {
    let (template, column) = table.select();
    let select = template.replace("{range}", &range_condition(column, opts.from, opts.to)?);
    let dir = opts.out.join(table.name());
    std::fs::create_dir_all(&dir).map_err(OpsError::io(&dir))?;
    let dir = dir.canonicalize().map_err(OpsError::io(&dir))?;
    let days = days_in(conn, &select)?;
    for day in &days {
        remove_partition(&dir, day)?;
    }
    if days.is_empty() {
        return Ok(ExportedTable {
            table,
            rows: 0,
            days: 0,
            dir,
        });
    }
    let copy = format!(
        "COPY ({select}) TO {} ({}, PARTITION_BY (day), OVERWRITE_OR_IGNORE true)",
        sql_path_literal(&dir)?,
        opts.format.copy_options()
    );
    let rows = conn.execute(&copy, [])? as u64;
    Ok(ExportedTable {
        table,
        rows,
        days: days.len() as u64,
        dir,
    })
}

/// The days a select covers, as `YYYY-MM-DD`.
fn days_in(conn: &Connection, select: &str) -> Result<Vec<String>, OpsError> {
    let sql = format!(
        "SELECT DISTINCT strftime(day, '%Y-%m-%d') FROM ({select}) WHERE day IS NOT NULL ORDER BY 1"
    );
    let mut stmt = conn.prepare(&sql)?;
    let days = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(days)
}

/// Removes `dir/day=DAY` so a re-export replaces the day instead of adding files beside it.
fn remove_partition(dir: &Path, day: &str) -> Result<(), OpsError> {
    let partition = dir.join(format!("day={day}"));
    match std::fs::remove_dir_all(&partition) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(OpsError::io(&partition)(e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_ranges_include_both_days_and_refuse_a_reversed_range() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        assert_eq!(range_condition("t", None, None).unwrap(), "true");
        assert_eq!(
            range_condition("t", d("2026-01-01"), d("2026-01-31")).unwrap(),
            "true AND t >= DATE '2026-01-01' AND t < DATE '2026-02-01'"
        );
        assert!(range_condition("t", d("2026-02-01"), d("2026-01-31")).is_err());
    }
}
