//! Session state, kept current as batches commit, and the session listing. This module
//! registers two steps with the store (see `crate::database`): [`fold`] runs inside the
//! transaction that inserts a batch, so `session_state` never lags `events` and a replayed
//! batch (all duplicates) changes nothing; [`define_views`] (re)creates the `sessions`,
//! `users`, `targets` and `days` views from the current settings. The fold keeps the all-time
//! rollups (`rollups`) current in the same transaction.

/// The fold's statements, run in order: see `fold_sessions.sql`.
pub const FOLD_SQL: NamedSql = NamedSql::new(
    "src/analytics/fold_sessions.sql",
    include_str!("fold_sessions.sql"),
    &[
        "aggregate",
        "touched",
        "update",
        "new",
        "insert",
        "clean_up",
        "rules_fingerprint",
        "derived_fingerprint",
        "derive_all",
        "remember_fingerprint",
    ],
);
const FOLD_STEPS: [&str; 5] = ["touched", "new", "update", "insert", "clean_up"];

/// The views over `session_state`, with `{{setting}}` placeholders.
const VIEWS_SQL: &str = include_str!("../../schemas/duckdb/views.sql");

/// The store's `after_insert` step: folds the rows stamped `stamp` into `session_state`,
/// touching only the sessions they belong to. Returns how many sessions the batch touched.
pub fn fold(
    conn: &Connection,
    stamp: chrono::DateTime<chrono::Utc>,
) -> Result<usize, duckdb::Error> {
    let started = std::time::Instant::now();
    let touched = conn
        .prepare_cached(FOLD_SQL.get("aggregate"))?
        .execute(duckdb::params![stamp.naive_utc()])?;
    tracing::debug!(
        step = "aggregate",
        ms = started.elapsed().as_secs_f64() * 1e3,
        "fold"
    );
    for step in FOLD_STEPS {
        let started = std::time::Instant::now();
        match step {
            "clean_up" => conn.execute_batch(FOLD_SQL.get(step))?,
            // The rollups read the days the commit changes before and after it writes.
            "update" => {
                rollups::before_fold(conn, stamp.naive_utc())?;
                conn.prepare_cached(FOLD_SQL.get(step))?.execute([])?;
            }
            "insert" => {
                conn.prepare_cached(FOLD_SQL.get(step))?.execute([])?;
                rollups::after_fold(conn, stamp.naive_utc())?;
            }
            _ => {
                conn.prepare_cached(FOLD_SQL.get(step))?.execute([])?;
            }
        }
        tracing::debug!(step, ms = started.elapsed().as_secs_f64() * 1e3, "fold");
    }
    Ok(touched)
}

/// `settings` with the rules' own values (src/rules.rs) added for the macros, and their
/// defaults where a setting is absent.
fn with_rule_defaults(settings: &Settings) -> Settings {
    use crate::rules;
    let mut values = settings.clone();
    let defaults = [
        ("ci_user_regex", rules::default_ci_user_regex()),
        ("ci_name_regex", rules::default_ci_name_regex()),
        ("jira_key_regex", rules::JIRA_KEY_PATTERN.to_string()),
        (
            "abandon_after_seconds",
            rules::ABANDON_AFTER_SECONDS.to_string(),
        ),
    ];
    for (key, value) in defaults {
        if values.get(key).cloned().flatten().is_none() {
            values.insert(key.into(), Some(value));
        }
    }
    values.insert(
        "copy_pod_prefix".into(),
        Some(rules::COPY_POD_PREFIX.into()),
    );
    values.insert("copy_pod_glob".into(), Some(rules::COPY_POD_GLOB.into()));
    values.insert(
        "duration_buckets".into(),
        Some(rules::duration_buckets_sql()),
    );
    values.insert(
        "default_abandon_after_seconds".into(),
        Some(rules::ABANDON_AFTER_SECONDS.to_string()),
    );
    values
}

/// The store's `define` step: recreates the rule macros and the views with `settings` filled
/// in as constants, then, when the rules differ from the ones the stored derived columns were
/// computed with, recomputes those for every session (one `UPDATE`) and rebuilds the all-time
/// rollups from them, in one transaction.
/// Needs `resolve_jira_key` (defined by the Jira step, registered before this one).
pub fn define_views(conn: &Connection, settings: &Settings) -> Result<(), duckdb::Error> {
    let values = with_rule_defaults(settings);
    conn.execute_batch(&render_settings(VIEWS_SQL, &values))?;
    // What the derived columns depend on, as rendered: the CI and Jira settings in effect.
    let rules = [
        "ci_user_regex",
        "ci_name_regex",
        "jira_key_regex",
        "jira_project_keys",
        "duration_buckets",
        "copy_pod_glob",
    ]
    .map(|k| format!("{k}={:?}", values.get(k).cloned().flatten()))
    .join(";");
    let now: String = conn.query_row(FOLD_SQL.get("rules_fingerprint"), [&rules], |r| r.get(0))?;
    let then: Option<String> = conn
        .query_row(FOLD_SQL.get("derived_fingerprint"), [], |r| r.get(0))
        .optional()?;
    if then.as_deref() != Some(now.as_str()) {
        let started = std::time::Instant::now();
        let tx = conn.unchecked_transaction()?;
        let sessions = tx.execute(FOLD_SQL.get("derive_all"), [])?;
        // The rollups aggregate the derived columns: rebuilt with them, in the same transaction.
        rollups::rebuild(&tx)?;
        tx.execute(FOLD_SQL.get("remember_fingerprint"), [&now])?;
        tx.commit()?;
        tracing::info!(
            sessions,
            ms = started.elapsed().as_secs_f64() * 1e3,
            "session rules changed: derived columns recomputed"
        );
    }
    Ok(())
}

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use duckdb::{Connection, OptionalExt, ToSql};
use serde::{Deserialize, Serialize};

use crate::analytics::reports::ts;
use crate::analytics::rollups;
use std::sync::Arc;

use crate::directory::scope::{Lookup, Scope, ScopeError};
use crate::named_sql::NamedSql;
use crate::store::{Settings, StoreError, render_settings};

/// Filters and paging for `GET /api/v1/sessions`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SessionQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    /// Matches the user, client name, hostname or client id exactly.
    pub user: Option<String>,
    /// Matches the target name exactly.
    pub target: Option<String>,
    /// `exec` or `ci`.
    pub kind: Option<String>,
    pub trace_id: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<usize>,
    /// Ours: only sessions of the people in this directory group (or below it).
    pub group: Option<String>,
}

/// One session as the API returns it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRow {
    pub session_id: String,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub duration_seconds: Option<f64>,
    pub status: String,
    pub kind: String,
    pub user: String,
    pub client_id: Option<String>,
    pub client_name: Option<String>,
    pub client_hostname: Option<String>,
    pub target_type: Option<String>,
    pub target_name: Option<String>,
    pub namespace: Option<String>,
    pub branch: Option<String>,
    pub jira_key: Option<String>,
    pub trace_id: Option<String>,
    pub ports: Vec<i32>,
    /// Ours: the directory's person for this session, their name and team (`null`: not in
    /// the directory).
    pub person_id: Option<String>,
    pub person_name: Option<String>,
    pub team: Option<String>,
}

/// A page of sessions, newest first.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionPage {
    pub sessions: Vec<SessionRow>,
    pub next_cursor: Option<String>,
}

/// Why a listing failed.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ScopeError> for ListError {
    fn from(e: ScopeError) -> Self {
        match e {
            ScopeError::UnknownGroup(_) => ListError::BadRequest(e.to_string()),
            ScopeError::Db(e) => e.into(),
        }
    }
}

/// The listing's scope as the directory stood at `to`, installed on `conn`, with `labels` when
/// the caller has them (used when they are of that snapshot).
fn scope_on(
    conn: &Connection,
    group: Option<&str>,
    to: Option<chrono::NaiveDateTime>,
    labels: Option<Arc<Lookup>>,
) -> Result<Scope, ListError> {
    let mut scope = Scope::resolve_at(conn, group, to)?;
    scope.labels = labels;
    scope.install(conn)?;
    Ok(scope)
}

impl From<duckdb::Error> for ListError {
    fn from(e: duckdb::Error) -> Self {
        ListError::Store(e.into())
    }
}

/// The cursor is the (started_at µs, session_id) of the last row of the previous page.
fn decode_cursor(c: &str) -> Result<(i64, String), ListError> {
    let bad = || ListError::BadRequest("invalid cursor".into());
    let bytes = URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (t, id) = text.split_once('|').ok_or_else(bad)?;
    Ok((t.parse().map_err(|_| bad())?, id.to_string()))
}

/// Lists sessions matching `q`, newest first, at most `limit` (default 100, max 1000).
pub fn list(
    conn: &Connection,
    q: &SessionQuery,
    labels: Option<Arc<Lookup>>,
) -> Result<SessionPage, ListError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    if let Some(k) = q.kind.as_deref()
        && k != "exec"
        && k != "ci"
    {
        return Err(ListError::BadRequest("`kind` must be exec or ci".into()));
    }
    let cursor = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let (cur_t, cur_id) = match cursor {
        Some((t, id)) => (Some(t), Some(id)),
        None => (None, None),
    };
    let crate::analytics::period::Period { from, to } =
        crate::analytics::period::Period::parse(q.from.as_deref(), q.to.as_deref())
            .map_err(|e| ListError::BadRequest(e.to_string()))?;
    let limit_plus = (limit + 1) as i64;
    let params: [&dyn ToSql; 9] = [
        &from,
        &to,
        &q.user,
        &q.target,
        &q.kind,
        &q.trace_id,
        &cur_t,
        &cur_id,
        &limit_plus,
    ];
    let scope = scope_on(conn, q.group.as_deref(), to, labels)?;
    let lookup = scope.labels(conn)?;
    let mut stmt = conn.prepare(&scope.sql(include_str!("sql/list_sessions.sql")))?;
    let mut rows: Vec<(i64, SessionRow, Option<String>)> = stmt
        .query_map(&params[..], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                SessionRow {
                    session_id: r.get(1)?,
                    started_at: ts(r.get(2)?),
                    ended_at: ts(r.get(3)?),
                    duration_seconds: r.get(4)?,
                    status: r.get(5)?,
                    kind: r.get(6)?,
                    user: r.get(7)?,
                    client_id: r.get(8)?,
                    client_name: r.get(9)?,
                    client_hostname: r.get(10)?,
                    target_type: r.get(11)?,
                    target_name: r.get(12)?,
                    namespace: r.get(13)?,
                    branch: r.get(14)?,
                    jira_key: r.get(15)?,
                    trace_id: r.get(16)?,
                    ports: r
                        .get::<_, String>(17)?
                        .split(',')
                        .filter_map(|p| p.trim().parse().ok())
                        .collect(),
                    person_id: None,
                    person_name: None,
                    team: None,
                },
                r.get::<_, Option<String>>(18)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    for (_, row, client_user) in &mut rows {
        if let Some(p) = lookup.person(
            client_user.as_deref(),
            row.client_name.as_deref(),
            row.client_id.as_deref(),
            row.client_hostname.as_deref(),
        ) {
            row.person_id = Some(p.id.clone());
            row.person_name = Some(p.name.clone());
            row.team = p.team.clone();
        }
    }
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last()
            .map(|(t, r, _)| URL_SAFE_NO_PAD.encode(format!("{t}|{}", r.session_id)))
    } else {
        None
    };
    Ok(SessionPage {
        sessions: rows.into_iter().map(|(_, r, _)| r).collect(),
        next_cursor,
    })
}

/// Paging of `GET /api/v1/usage/sessions` (the vendor's cloud usage API).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UsageSessionQuery {
    /// `nextCursor` of the previous page; absent for the first page, never empty.
    pub cursor: Option<String>,
    /// Rows per page: default 500, at most 1000.
    pub limit: Option<usize>,
    /// Ours: only sessions that started in this window (see [`crate::analytics::period`]).
    pub from: Option<String>,
    pub to: Option<String>,
    /// Ours: only sessions of the people in this directory group (or below it).
    pub group: Option<String>,
}

/// Who ran a session, as the vendor names it.
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UsageUser {
    /// The machine (client) id.
    pub id: Option<String>,
    pub kubernetes_username: Option<String>,
    /// The user name on the user's machine (`client_name` in the logs).
    pub client_username: Option<String>,
    pub client_hostname: Option<String>,
}

/// What a session targeted.
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UsageTarget {
    pub namespace: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub container: Option<String>,
}

/// One session row of the cloud usage API.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageSessionRow {
    pub id: String,
    pub started_at: Option<String>,
    pub stopped_at: Option<String>,
    pub duration_seconds: Option<f64>,
    /// `exec` or `ci`.
    pub kind: String,
    pub cluster_id: Option<String>,
    /// Omitted when nothing about the user is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<UsageUser>,
    pub target: UsageTarget,
    /// Ours: the directory's person and team, when the session matches one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
}

/// A page of session rows, oldest first. Every non-empty page has a `nextCursor`; the first
/// empty page is the end.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageSessionPage {
    pub sessions: Vec<UsageSessionRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// One page of `GET /api/v1/usage/sessions`.
pub fn usage_sessions(
    conn: &Connection,
    q: &UsageSessionQuery,
    labels: Option<Arc<Lookup>>,
) -> Result<UsageSessionPage, ListError> {
    let limit = q.limit.unwrap_or(500);
    if !(1..=1000).contains(&limit) {
        return Err(ListError::BadRequest(
            "`limit` must be between 1 and 1000".into(),
        ));
    }
    let (cur_t, cur_id) = match q.cursor.as_deref() {
        Some("") => {
            return Err(ListError::BadRequest(
                "`cursor` is empty: pass the previous page's nextCursor, or none for the first page"
                    .into(),
            ));
        }
        Some(c) => {
            let (t, id) = decode_cursor(c)?;
            (Some(t), Some(id))
        }
        None => (None, None),
    };
    let crate::analytics::period::Period { from, to } =
        crate::analytics::period::Period::parse(q.from.as_deref(), q.to.as_deref())
            .map_err(|e| ListError::BadRequest(e.to_string()))?;
    let limit = limit as i64;
    let params: [&dyn ToSql; 5] = [&cur_t, &cur_id, &limit, &from, &to];
    let scope = scope_on(conn, q.group.as_deref(), to, labels)?;
    let lookup = scope.labels(conn)?;
    let mut stmt = conn.prepare(&scope.sql(include_str!("sql/usage_sessions.sql")))?;
    let rows: Vec<(i64, UsageSessionRow)> = stmt
        .query_map(&params[..], |r| {
            let user = UsageUser {
                id: r.get(7)?,
                kubernetes_username: r.get(8)?,
                client_username: r.get(9)?,
                client_hostname: r.get(10)?,
            };
            let person = lookup.person(
                user.kubernetes_username.as_deref(),
                user.client_username.as_deref(),
                user.id.as_deref(),
                user.client_hostname.as_deref(),
            );
            let known = user.id.is_some()
                || user.kubernetes_username.is_some()
                || user.client_username.is_some()
                || user.client_hostname.is_some();
            Ok((
                r.get::<_, i64>(0)?,
                UsageSessionRow {
                    id: r.get(1)?,
                    started_at: ts(r.get(2)?),
                    stopped_at: ts(r.get(3)?),
                    duration_seconds: r.get(4)?,
                    kind: r.get(5)?,
                    cluster_id: r.get(6)?,
                    user: known.then_some(user),
                    target: UsageTarget {
                        namespace: r.get(11)?,
                        kind: r.get(12)?,
                        name: r.get(13)?,
                        container: r.get(14)?,
                    },
                    person_id: person.map(|p| p.id.clone()),
                    person_name: person.map(|p| p.name.clone()),
                    team: person.and_then(|p| p.team.clone()),
                },
            ))
        })?
        .collect::<Result<_, _>>()?;
    let next_cursor = rows
        .last()
        .map(|(t, r)| URL_SAFE_NO_PAD.encode(format!("{t}|{}", r.id)));
    Ok(UsageSessionPage {
        sessions: rows.into_iter().map(|(_, r)| r).collect(),
        next_cursor,
    })
}
