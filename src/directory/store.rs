//! The directory's tables (migration 009): an import stored as a new snapshot in one
//! transaction, the views over the newest one (registered as a `define` step), and what
//! `directory show` and `GET /api/v1/directory` report.

use chrono::{DateTime, NaiveDateTime, Utc};
use duckdb::{Connection, OptionalExt, params};
use serde::Serialize;

use super::{Directory, ImportReport};
use crate::named_sql::NamedSql;
use crate::store::{Settings, render_settings};

pub const DIRECTORY_SQL: NamedSql = NamedSql::new(
    "src/directory/directory.sql",
    include_str!("directory.sql"),
    &[
        "views",
        "next_snapshot",
        "insert_snapshot",
        "current",
        "groups",
        "never_matched",
        "lookup",
        "group",
        "group_path",
        "scope_table",
        "scope_view",
        "snapshot_at",
        "pin",
    ],
);

/// The store's `define` step: (re)creates the directory views. Needs `session_state`.
pub fn define_views(conn: &Connection, settings: &Settings) -> Result<(), duckdb::Error> {
    let mut values = settings.clone();
    if values.get(TEAM_TYPE).cloned().flatten().is_none() {
        values.insert(TEAM_TYPE.into(), Some(DEFAULT_TEAM_TYPE.into()));
    }
    conn.execute_batch(&render_settings(DIRECTORY_SQL.get("views"), &values))
}

/// The setting that holds `[directory] team_type`, and its default.
pub const TEAM_TYPE: &str = "directory_team_type";
pub const DEFAULT_TEAM_TYPE: &str = "team";

/// Stores `dir` as the next snapshot, all of it or nothing.
pub fn import(
    conn: &Connection,
    dir: &Directory,
    source: &str,
    now: DateTime<Utc>,
) -> Result<ImportReport, duckdb::Error> {
    let tx = conn.unchecked_transaction()?;
    let snapshot: i64 = tx.query_row(DIRECTORY_SQL.get("next_snapshot"), [], |r| r.get(0))?;
    let identities: usize = dir.people.iter().map(|p| p.identities.len()).sum();
    tx.execute(
        DIRECTORY_SQL.get("insert_snapshot"),
        params![
            snapshot,
            now.naive_utc(),
            source,
            dir.people.len() as i64,
            dir.groups.len() as i64,
            identities as i64
        ],
    )?;
    {
        let mut people = tx.appender("directory_people")?;
        let mut ids = tx.appender("directory_identities")?;
        let mut members = tx.appender("directory_members")?;
        for p in &dir.people {
            people.append_row(params![snapshot, p.id, p.name, p.email])?;
            for (kind, value) in &p.identities {
                ids.append_row(params![snapshot, p.id, kind, value])?;
            }
            for g in &p.groups {
                members.append_row(params![snapshot, p.id, g])?;
            }
        }
        let mut groups = tx.appender("directory_groups")?;
        for g in &dir.groups {
            groups.append_row(params![snapshot, g.id, g.group_type, g.name, g.parent])?;
        }
    }
    tx.commit()?;
    Ok(ImportReport {
        imported: true,
        snapshot: Some(snapshot),
        people: dir.people.len(),
        groups: dir.groups.len(),
        identities,
        problems: Vec::new(),
    })
}

/// The snapshot in force.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub snapshot: i64,
    pub imported_at: String,
    pub source: Option<String>,
    pub people: i64,
    pub groups: i64,
    pub identities: i64,
}

/// A group in the tree.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GroupNode {
    pub id: String,
    #[serde(rename = "type")]
    pub group_type: String,
    pub name: String,
    pub parent: Option<String>,
    /// People who are members of this group itself.
    pub direct_members: i64,
    /// People in it or any group below it.
    pub people: i64,
}

/// Someone in the directory whom no session matches.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    pub id: String,
    pub name: String,
}

/// `directory show`: the snapshot, the tree and who never appeared in the logs.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    pub snapshot: Option<Snapshot>,
    pub groups: Vec<GroupNode>,
    pub never_matched: Vec<Person>,
}

fn ts(t: NaiveDateTime) -> String {
    t.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The snapshot in force at `at` (the newest imported by then; the first one when `at` is
/// before every import), or `None` without a directory.
pub fn snapshot_at(conn: &Connection, at: NaiveDateTime) -> Result<Option<i64>, duckdb::Error> {
    conn.query_row(DIRECTORY_SQL.get("snapshot_at"), [at], |r| r.get(0))
}

/// Makes `snapshot` the one in force for `conn`'s queries (views, scope, labels).
pub fn pin(conn: &Connection, snapshot: i64) -> Result<(), duckdb::Error> {
    conn.prepare_cached(DIRECTORY_SQL.get("pin"))?
        .execute([snapshot])?;
    Ok(())
}

/// The number of the snapshot in force (`None` before the first import).
pub fn current_snapshot(conn: &Connection) -> Result<Option<i64>, duckdb::Error> {
    conn.query_row("SELECT snapshot FROM directory_current", [], |r| r.get(0))
}

/// The snapshot in force, with when and from where it came (`None` before any import).
pub fn snapshot_info(conn: &Connection) -> Result<Option<Snapshot>, duckdb::Error> {
    conn.query_row(DIRECTORY_SQL.get("current"), [], |r| {
        Ok(Snapshot {
            snapshot: r.get(0)?,
            imported_at: ts(r.get(1)?),
            source: r.get(2)?,
            people: r.get(3)?,
            groups: r.get(4)?,
            identities: r.get(5)?,
        })
    })
    .optional()
}

/// The directory in force (an empty overview before the first import).
pub fn overview(conn: &Connection) -> Result<Overview, duckdb::Error> {
    let snapshot = snapshot_info(conn)?;
    let mut stmt = conn.prepare(DIRECTORY_SQL.get("groups"))?;
    let groups = stmt
        .query_map([], |r| {
            Ok(GroupNode {
                id: r.get(0)?,
                group_type: r.get(1)?,
                name: r.get(2)?,
                parent: r.get(3)?,
                direct_members: r.get(4)?,
                people: r.get(5)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut stmt = conn.prepare(DIRECTORY_SQL.get("never_matched"))?;
    let never_matched = stmt
        .query_map([], |r| {
            Ok(Person {
                id: r.get(0)?,
                name: r.get(1)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(Overview {
        snapshot,
        groups,
        never_matched,
    })
}

impl std::fmt::Display for Overview {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(s) = &self.snapshot else {
            return writeln!(
                f,
                "no directory imported yet (mirrord-usage directory import FILE)"
            );
        };
        writeln!(
            f,
            "directory snapshot {} (imported {} from {}): {} people, {} groups, {} identities",
            s.snapshot,
            s.imported_at,
            s.source.as_deref().unwrap_or("?"),
            s.people,
            s.groups,
            s.identities
        )?;
        fn walk(
            f: &mut std::fmt::Formatter<'_>,
            groups: &[GroupNode],
            parent: Option<&str>,
            depth: usize,
        ) -> std::fmt::Result {
            for g in groups.iter().filter(|g| g.parent.as_deref() == parent) {
                writeln!(
                    f,
                    "{:indent$}{} ({}, {}): {} people, {} direct",
                    "",
                    g.name,
                    g.group_type,
                    g.id,
                    g.people,
                    g.direct_members,
                    indent = 2 + depth * 2
                )?;
                walk(f, groups, Some(&g.id), depth + 1)?;
            }
            Ok(())
        }
        walk(f, &self.groups, None, 0)?;
        writeln!(
            f,
            "matched by no session ({}): {}",
            self.never_matched.len(),
            self.never_matched
                .iter()
                .map(|p| format!("{} ({})", p.name, p.id))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}
