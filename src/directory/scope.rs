//! scope: what reports need from the directory — the `group` a report is narrowed to, and the
//! person and team behind each identity a report shows.
//!
//! A scope is installed on the request's own connection as a temp table of the group's
//! sessions and a temp view `scoped_sessions`; a scoped report reads that view wherever the
//! unscoped one reads `sessions` ([`Scope::sql`]). Nothing is spliced but those two fixed names:
//! the group id is bound. Rows are labelled in Rust from [`Lookup`] (the identities in force,
//! a few per person), by the matching order of [`super::IDENTITY_KINDS`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use duckdb::{Connection, OptionalExt};
use serde::Serialize;

use super::store::DIRECTORY_SQL;

/// A group of the directory in force.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupRef {
    pub id: String,
    #[serde(rename = "type")]
    pub group_type: String,
    pub name: String,
}

/// Why a scope cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScopeError {
    #[error("no group `{0}` in the directory in force (see GET /api/v1/directory)")]
    UnknownGroup(String),
    #[error(transparent)]
    Db(#[from] duckdb::Error),
}

/// The group a report is narrowed to (`None` is everyone, and every identity), and the labels
/// to put on its rows when the caller has them at hand (else the report loads them).
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub group: Option<GroupRef>,
    pub labels: Option<Arc<Lookup>>,
    /// The directory snapshot the report reads, when not the newest: a range that ended in
    /// the past reads the membership in force then.
    pub pinned: Option<i64>,
}

impl Scope {
    /// Everyone.
    pub fn all() -> Scope {
        Scope::default()
    }

    /// With `labels` already loaded (see [`LabelCache`]).
    pub fn with_labels(mut self, labels: Arc<Lookup>) -> Scope {
        self.labels = Some(labels);
        self
    }

    /// The labels: the ones handed in when they are of the snapshot `conn` reads, else
    /// loaded from `conn`.
    pub fn labels(&self, conn: &Connection) -> Result<Arc<Lookup>, duckdb::Error> {
        Lookup::current(conn, self.labels.as_ref())
    }

    /// The scope of `group` as the directory stood at `at` (the end of the report's range;
    /// `None`: open, the newest snapshot). Pins that snapshot on `conn`.
    pub fn resolve_at(
        conn: &Connection,
        group: Option<&str>,
        at: Option<chrono::NaiveDateTime>,
    ) -> Result<Scope, ScopeError> {
        let pinned = match at {
            Some(at) => super::store::snapshot_at(conn, at)?,
            None => None,
        };
        if let Some(s) = pinned {
            super::store::pin(conn, s)?;
        }
        let mut scope = Scope::resolve(conn, group)?;
        scope.pinned = pinned;
        Ok(scope)
    }

    /// The scope of `group` (`None` or empty: everyone); an unknown group is an error.
    pub fn resolve(conn: &Connection, group: Option<&str>) -> Result<Scope, ScopeError> {
        let Some(id) = group.filter(|g| !g.is_empty()) else {
            return Ok(Scope::all());
        };
        let found = conn
            .query_row(DIRECTORY_SQL.get("group"), [id], |r| {
                Ok(GroupRef {
                    id: r.get(0)?,
                    group_type: r.get(1)?,
                    name: r.get(2)?,
                })
            })
            .optional()?;
        match found {
            Some(g) => Ok(Scope {
                group: Some(g),
                labels: None,
                pinned: None,
            }),
            None => Err(ScopeError::UnknownGroup(id.to_string())),
        }
    }

    pub fn is_scoped(&self) -> bool {
        self.group.is_some()
    }

    /// Makes the scope readable on `conn`: its snapshot pinned, its sessions materialized
    /// (a no-op for everyone, now). Each connection a report reads from needs it once.
    pub fn install(&self, conn: &Connection) -> Result<(), duckdb::Error> {
        if let Some(s) = self.pinned {
            super::store::pin(conn, s)?;
        }
        if let Some(g) = &self.group {
            conn.execute(DIRECTORY_SQL.get("scope_table"), [&g.id])?;
            conn.execute_batch(DIRECTORY_SQL.get("scope_view"))?;
        }
        Ok(())
    }

    /// `sql` reading the scope's sessions: `FROM sessions` becomes `FROM scoped_sessions`.
    pub fn sql<'a>(&self, sql: &'a str) -> Cow<'a, str> {
        if self.is_scoped() {
            Cow::Owned(sql.replace("FROM sessions", "FROM scoped_sessions"))
        } else {
            Cow::Borrowed(sql)
        }
    }

    /// The groups from the top of the tree down to the scope (empty for everyone).
    pub fn path(&self, conn: &Connection) -> Result<Vec<GroupRef>, duckdb::Error> {
        let Some(g) = &self.group else {
            return Ok(Vec::new());
        };
        let mut stmt = conn.prepare(DIRECTORY_SQL.get("group_path"))?;
        let rows = stmt.query_map([&g.id], |r| {
            Ok(GroupRef {
                id: r.get(0)?,
                group_type: r.get(1)?,
                name: r.get(2)?,
            })
        })?;
        rows.collect()
    }
}

/// A person as reports label a row.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonLabel {
    pub id: String,
    pub name: String,
    pub team: Option<String>,
}

/// The identities in force, to label report rows with their person and team.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    /// The snapshot the labels are of.
    pub snapshot: Option<i64>,
    by_identity: HashMap<(String, String), usize>,
    people: Vec<PersonLabel>,
}

impl Lookup {
    /// `cached` when it is of the snapshot `conn` reads, else that snapshot's, loaded.
    pub fn current(
        conn: &Connection,
        cached: Option<&Arc<Lookup>>,
    ) -> Result<Arc<Lookup>, duckdb::Error> {
        let snapshot = super::store::current_snapshot(conn)?;
        match cached {
            Some(l) if l.snapshot == snapshot => Ok(l.clone()),
            _ => Lookup::load_of(conn, snapshot).map(Arc::new),
        }
    }

    /// The labels of `snapshot`, the one `conn` reads.
    fn load_of(conn: &Connection, snapshot: Option<i64>) -> Result<Lookup, duckdb::Error> {
        let mut lookup = Lookup {
            snapshot,
            ..Lookup::default()
        };
        // No directory (the usual case before adopting one): nothing to join.
        if lookup.snapshot.is_none() {
            return Ok(lookup);
        }
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut stmt = conn.prepare(DIRECTORY_SQL.get("lookup"))?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let (kind, value, id): (String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
            let at = match index.get(&id) {
                Some(&at) => at,
                None => {
                    lookup.people.push(PersonLabel {
                        id: id.clone(),
                        name: r.get(3)?,
                        team: r.get(4)?,
                    });
                    index.insert(id, lookup.people.len() - 1);
                    lookup.people.len() - 1
                }
            };
            lookup.by_identity.insert((kind, value), at);
        }
        Ok(lookup)
    }

    /// The person of an identity's values, by the matching order (Kubernetes user, machine
    /// user name, client id, hostname); `None`: not in the directory.
    pub fn person(
        &self,
        kubernetes_user: Option<&str>,
        client_name: Option<&str>,
        client_id: Option<&str>,
        client_hostname: Option<&str>,
    ) -> Option<&PersonLabel> {
        let values = [kubernetes_user, client_name, client_id, client_hostname];
        super::IDENTITY_KINDS
            .iter()
            .zip(values)
            .find_map(|(kind, value)| {
                let key = (kind.to_string(), value?.to_string());
                self.by_identity.get(&key)
            })
            .map(|&at| &self.people[at])
    }
}

/// The labels of the directory in force, kept while its snapshot is the same: only an import
/// changes them (a new snapshot), and loading them costs a few joins that a report after every
/// commit would otherwise pay again.
#[derive(Debug, Default)]
pub struct LabelCache(Mutex<Option<Arc<Lookup>>>);

impl LabelCache {
    /// The labels of the snapshot in force on `conn`.
    pub fn get(&self, conn: &Connection) -> Result<Arc<Lookup>, duckdb::Error> {
        let cached = self.0.lock().ok().and_then(|g| g.clone());
        let labels = Lookup::current(conn, cached.as_ref())?;
        if !cached.is_some_and(|c| Arc::ptr_eq(&c, &labels))
            && let Ok(mut guard) = self.0.lock()
        {
            *guard = Some(labels.clone());
        }
        Ok(labels)
    }
}
