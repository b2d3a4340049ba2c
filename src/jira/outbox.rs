//! The durable outbox (`jira_outbox`) of the webhook and the REST sink: what must be sent, and
//! what became of it.
//!
//! A push is queued in the same transaction that stores a session's end ([`enqueue_closed`],
//! called by the store's writer right after the session fold), or by the periodic sweep when a
//! session becomes abandoned ([`sweep_abandoned`]). Either way at most once: the primary key is
//! the idempotency key, derived from the reason and the session id. The delivery task then
//! moves each push to `delivered`, `skipped` (the session has no Jira key) or, after
//! `max_attempts`, `failed`; until then it stays `pending` and survives restarts.
//!
//! Rows of the REST sink ([`super::rest`]) sit in the same table with reasons prefixed `rest.`
//! (`rest.closed`, `rest.abandoned`, `rest.sync`) and their own idempotency keys, so each sink
//! keeps its own progress and neither one's backlog holds up the other.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, NaiveDateTime, Utc};
use duckdb::{Connection, params};
use serde::{Deserialize, Serialize};

use super::JiraError;
use crate::analytics::reports::{self, JiraMetric, Period, ts};
use crate::named_sql::NamedSql;

const ENQUEUE_CLOSED_SQL: &str = include_str!("enqueue_closed.sql");
const ENQUEUE_ABANDONED_SQL: &str = include_str!("enqueue_abandoned.sql");
pub const OUTBOX_SQL: NamedSql = NamedSql::new(
    "src/jira/outbox.sql",
    include_str!("outbox.sql"),
    &[
        "due",
        "session",
        "delivered",
        "retry",
        "skipped",
        "sinks",
        "counts",
        "summary",
        "problems",
    ],
);

/// Queues a push for every session whose Session End was stored by the commit stamped `stamp`
/// (when a webhook is configured). Runs inside that commit's transaction.
pub fn enqueue_closed(conn: &Connection, stamp: DateTime<Utc>) -> Result<usize, duckdb::Error> {
    // Cached: it runs in every commit, and planning it cost as much as running it.
    conn.prepare_cached(ENQUEUE_CLOSED_SQL)?
        .execute(params![stamp.naive_utc()])
}

/// Queues a push, once, for every session that has become abandoned since the webhook was
/// turned on. Returns how many were queued.
pub fn sweep_abandoned(conn: &Connection, now: DateTime<Utc>) -> Result<usize, duckdb::Error> {
    conn.execute(ENQUEUE_ABANDONED_SQL, params![now.naive_utc(), "webhook"])
}

/// The same for the REST sink: a `rest.abandoned` row for every session that has become
/// abandoned since `[jira.rest]` was turned on.
pub fn sweep_abandoned_rest(conn: &Connection, now: DateTime<Utc>) -> Result<usize, duckdb::Error> {
    conn.execute(ENQUEUE_ABANDONED_SQL, params![now.naive_utc(), "rest"])
}

/// A push whose attempt is due.
#[derive(Debug, Clone)]
pub struct Due {
    pub idempotency_key: String,
    pub session_id: String,
    /// `closed` or `abandoned`.
    pub reason: String,
    /// Attempts made so far.
    pub attempts: u32,
}

/// Up to `limit` pending pushes due at `now`, in the order they were queued.
pub fn due(conn: &Connection, now: DateTime<Utc>, limit: usize) -> Result<Vec<Due>, duckdb::Error> {
    let mut stmt = conn.prepare(OUTBOX_SQL.get("due"))?;
    let rows = stmt.query_map(params![now.naive_utc(), limit as i64], |r| {
        Ok(Due {
            idempotency_key: r.get(0)?,
            session_id: r.get(1)?,
            reason: r.get(2)?,
            attempts: r.get::<_, i32>(3)?.max(0) as u32,
        })
    })?;
    rows.collect()
}

/// The session a push is about, as the webhook receives it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PushSession {
    pub id: String,
    pub user: String,
    /// `exec` or `ci`.
    pub kind: String,
    /// `closed` or `abandoned`.
    pub status: String,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub duration_seconds: Option<f64>,
    pub branch: Option<String>,
}

/// The body of one webhook POST: the session that triggered it and the issue's totals over all
/// time, computed when the POST is sent (so the last POST a receiver accepts is the newest).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Push {
    /// `session.closed` or `session.abandoned`.
    pub event: String,
    pub issue_key: String,
    /// Also sent as the `Idempotency-Key` header.
    pub idempotency_key: String,
    pub session: PushSession,
    pub totals: JiraMetric,
    /// When the totals were computed (RFC 3339).
    pub as_of: String,
}

/// What to do with a due push.
#[derive(Debug)]
pub enum Prepared {
    /// The session has no Jira key: count it as skipped.
    NoKey,
    /// POST this.
    Send(Box<Push>),
}

type SessionRow = (Option<String>, PushSession);

fn session(conn: &Connection, session_id: &str) -> Result<Option<SessionRow>, duckdb::Error> {
    let mut stmt = conn.prepare(OUTBOX_SQL.get("session"))?;
    let mut rows = stmt.query(params![session_id])?;
    let Some(r) = rows.next()? else {
        return Ok(None);
    };
    let key: Option<String> = r.get(0)?;
    let s = PushSession {
        id: session_id.to_string(),
        user: r.get(1)?,
        kind: r.get(2)?,
        status: r.get(3)?,
        started_at: ts(r.get::<_, Option<NaiveDateTime>>(4)?),
        ended_at: ts(r.get::<_, Option<NaiveDateTime>>(5)?),
        duration_seconds: r.get(6)?,
        branch: r.get(7)?,
    };
    Ok(Some((key, s)))
}

/// Builds the POST for `due` from the database as it is now.
pub fn prepare(conn: &Connection, due: &Due, now: DateTime<Utc>) -> Result<Prepared, JiraError> {
    let Some((Some(key), session)) = session(conn, &due.session_id)? else {
        return Ok(Prepared::NoKey);
    };
    let totals = reports::jira(conn, Period::default(), Some(&key))?
        .into_iter()
        .next()
        .unwrap_or_else(|| empty_totals(&key));
    Ok(Prepared::Send(Box::new(Push {
        event: format!("session.{}", due.reason),
        issue_key: key,
        idempotency_key: due.idempotency_key.clone(),
        session,
        totals,
        as_of: now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    })))
}

/// The totals of an issue no session mentions (any more).
pub fn empty_totals(key: &str) -> JiraMetric {
    JiraMetric {
        key: key.to_string(),
        sessions: 0,
        total_session_time_seconds: 0.0,
        unique_users: 0,
        first_used: None,
        last_used: None,
        ci_sessions: 0,
        exec_sessions: 0,
    }
}

/// Records a successful push.
pub fn mark_delivered(
    conn: &Connection,
    due: &Due,
    key: &str,
    now: DateTime<Utc>,
) -> Result<(), duckdb::Error> {
    conn.execute(
        OUTBOX_SQL.get("delivered"),
        params![due.idempotency_key, key, now.naive_utc()],
    )?;
    Ok(())
}

/// Records a failed attempt: retry at `next`, or give up (`failed`) when `give_up`.
pub fn mark_retry(
    conn: &Connection,
    due: &Due,
    key: &str,
    now: DateTime<Utc>,
    next: DateTime<Utc>,
    error: &str,
    give_up: bool,
) -> Result<(), duckdb::Error> {
    let p = params![
        due.idempotency_key,
        key,
        now.naive_utc(),
        next.naive_utc(),
        error,
        give_up
    ];
    conn.execute(OUTBOX_SQL.get("retry"), p)?;
    Ok(())
}

/// Records that the session has no Jira key.
pub fn mark_skipped(conn: &Connection, due: &Due, now: DateTime<Utc>) -> Result<(), duckdb::Error> {
    conn.execute(
        OUTBOX_SQL.get("skipped"),
        params![due.idempotency_key, now.naive_utc()],
    )?;
    Ok(())
}

/// A push that has failed at least once and is not delivered.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    pub session_id: String,
    pub reason: String,
    pub state: String,
    pub jira_key: Option<String>,
    pub attempts: i64,
    pub last_attempt_at: Option<String>,
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
}

/// The outbox at a glance: `mirrord-usage jira status` and `GET /api/v1/jira/status`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OutboxStatus {
    /// Whether a webhook URL is configured (as of the last `serve` start).
    pub webhook: bool,
    /// Whether the REST sink (`[jira.rest]`) is configured (as of the last `serve` start).
    pub rest: bool,
    /// Pushes per state: pending, delivered, skipped, failed.
    pub counts: BTreeMap<String, i64>,
    pub oldest_pending: Option<String>,
    pub next_attempt: Option<String>,
    pub last_delivered: Option<String>,
    /// Up to 10 pushes that failed at least once and are not delivered, newest first.
    pub problems: Vec<Problem>,
}

/// Reads the outbox's state.
pub fn status(conn: &Connection) -> Result<OutboxStatus, duckdb::Error> {
    let (webhook, rest): (Option<String>, Option<String>) =
        conn.query_row(OUTBOX_SQL.get("sinks"), [], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let mut counts = BTreeMap::new();
    let mut stmt = conn.prepare(OUTBOX_SQL.get("counts"))?;
    for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
        let (state, n) = row?;
        counts.insert(state, n);
    }
    let (oldest_pending, next_attempt, last_delivered) =
        conn.query_row(OUTBOX_SQL.get("summary"), [], |r| {
            Ok((ts(r.get(0)?), ts(r.get(1)?), ts(r.get(2)?)))
        })?;
    let mut stmt = conn.prepare(OUTBOX_SQL.get("problems"))?;
    let problems = stmt
        .query_map([], |r| {
            Ok(Problem {
                session_id: r.get(0)?,
                reason: r.get(1)?,
                state: r.get(2)?,
                jira_key: r.get(3)?,
                attempts: r.get(4)?,
                last_attempt_at: ts(r.get(5)?),
                next_attempt_at: ts(r.get(6)?),
                last_error: r.get(7)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(OutboxStatus {
        webhook: webhook.as_deref() == Some("on"),
        rest: rest.as_deref() == Some("on"),
        counts,
        oldest_pending,
        next_attempt,
        last_delivered,
        problems,
    })
}

/// Asks a running `serve` at `base_url` (e.g. `http://localhost:8050`) for its outbox status,
/// for when the database is locked by that very server.
pub async fn fetch_status(
    base_url: &str,
    license_key: Option<&str>,
) -> Result<OutboxStatus, JiraError> {
    let url = format!("{}/api/v1/jira/status", base_url.trim_end_matches('/'));
    let http = |message: String| JiraError::Http {
        url: url.clone(),
        message,
    };
    let mut req = reqwest::Client::new().get(&url);
    if let Some(k) = license_key {
        req = req.header("x-license-key", k);
    }
    let resp = req.send().await.map_err(|e| http(e.to_string()))?;
    let code = resp.status();
    if !code.is_success() {
        let body = resp.text().await.unwrap_or_default();
        return Err(http(format!(
            "HTTP {code}: {body} (pass the API key with --license-key)"
        )));
    }
    resp.json().await.map_err(|e| http(e.to_string()))
}

fn or_dash(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("-")
}

impl fmt::Display for OutboxStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let on = if self.webhook {
            "configured"
        } else {
            "not configured ([jira] webhook_url)"
        };
        writeln!(f, "webhook:         {on}")?;
        let rest = if self.rest {
            "configured (rows with reason rest.*)"
        } else {
            "not configured ([jira.rest] base_url)"
        };
        writeln!(f, "rest:            {rest}")?;
        for (state, n) in &self.counts {
            writeln!(f, "{:<16} {n}", format!("{state}:"))?;
        }
        writeln!(f, "oldest pending:  {}", or_dash(&self.oldest_pending))?;
        writeln!(f, "next attempt:    {}", or_dash(&self.next_attempt))?;
        writeln!(f, "last delivered:  {}", or_dash(&self.last_delivered))?;
        for p in &self.problems {
            let key = or_dash(&p.jira_key);
            let err = or_dash(&p.last_error);
            writeln!(
                f,
                "  {} {} ({key}, {}): {} attempts, {err}",
                p.state, p.session_id, p.reason, p.attempts
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::batch::IncomingEvent;
    use crate::event::{EventKind, OperatorEvent};
    use crate::jira::{JiraConfig, sync_settings};

    fn event(kind: EventKind, at: DateTime<Utc>, session: &str) -> IncomingEvent {
        let mut e = OperatorEvent::new(kind, at);
        e.session_id = Some(session.into());
        e.client_user = Some("ana".into());
        e.branch = Some("SHOP-1".into());
        IncomingEvent {
            event: e.finish(),
            format: "tracing-json",
            source: Arc::from("test"),
        }
    }

    fn store(webhook: bool) -> crate::store::Store {
        let store = crate::database::open(":memory:").unwrap();
        let url = if webhook {
            "http://127.0.0.1:9/hook"
        } else {
            ""
        };
        let config = JiraConfig {
            webhook_url: url.into(),
            ..Default::default()
        };
        sync_settings(store.connection(), &config, Utc::now()).unwrap();
        store
    }

    fn rows(store: &crate::store::Store) -> Vec<(String, String, String)> {
        let mut stmt = store
            .connection()
            .prepare("SELECT session_id, reason, state FROM jira_outbox ORDER BY seq")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn a_session_end_queues_one_push_in_its_own_commit_and_replays_queue_nothing() {
        let mut store = store(true);
        let t = Utc.timestamp_opt(1_767_000_000, 0).unwrap();
        let batch = [
            event(EventKind::SessionStart, t, "s1"),
            event(EventKind::SessionEnd, t + Duration::seconds(60), "s1"),
        ];
        store.append(&batch[..1], &[], &[]).unwrap();
        assert!(rows(&store).is_empty(), "an open session is not pushed");
        store.append(&batch, &[], &[]).unwrap();
        let pending = (
            "s1".to_string(),
            "closed".to_string(),
            "pending".to_string(),
        );
        assert_eq!(rows(&store), vec![pending.clone()]);
        store.append(&batch, &[], &[]).unwrap();
        let late_end = [event(
            EventKind::SessionEnd,
            t + Duration::seconds(61),
            "s1",
        )];
        store.append(&late_end, &[], &[]).unwrap();
        assert_eq!(
            rows(&store),
            vec![pending],
            "one push per session and reason"
        );
    }

    #[test]
    fn nothing_is_queued_without_a_webhook() {
        let mut store = store(false);
        let t = Utc.timestamp_opt(1_767_000_000, 0).unwrap();
        store
            .append(&[event(EventKind::SessionEnd, t, "s1")], &[], &[])
            .unwrap();
        assert!(rows(&store).is_empty());
        assert!(!status(store.connection()).unwrap().webhook);
    }

    #[test]
    fn the_sweep_queues_sessions_abandoned_since_the_webhook_was_turned_on_once() {
        let mut store = store(true);
        let now = Utc::now();
        // Last seen two days ago: abandoned (after one day) before the webhook existed.
        store
            .append(
                &[event(
                    EventKind::SessionStart,
                    now - Duration::days(2),
                    "old",
                )],
                &[],
                &[],
            )
            .unwrap();
        // Last seen 25 h ago: abandoned for an hour, but the webhook was turned on 2 h ago.
        store
            .append(
                &[event(
                    EventKind::SessionStart,
                    now - Duration::hours(25),
                    "new",
                )],
                &[],
                &[],
            )
            .unwrap();
        let since = (now - Duration::hours(2))
            .naive_utc()
            .format("%Y-%m-%d %H:%M:%S")
            .to_string();
        let conn = store.connection();
        conn.execute(
            "UPDATE settings SET value = ? WHERE key = 'jira_webhook_since'",
            [since],
        )
        .unwrap();
        assert_eq!(sweep_abandoned(conn, now).unwrap(), 1);
        assert_eq!(sweep_abandoned(conn, now).unwrap(), 0, "queued once");
        let queued = (
            "new".to_string(),
            "abandoned".to_string(),
            "pending".to_string(),
        );
        assert_eq!(rows(&store), vec![queued]);
    }

    #[test]
    fn status_counts_every_state_and_lists_problems() {
        let mut store = store(true);
        let t = Utc.timestamp_opt(1_767_000_000, 0).unwrap();
        store
            .append(&[event(EventKind::SessionEnd, t, "s1")], &[], &[])
            .unwrap();
        let conn = store.connection();
        let item = due(conn, Utc::now(), 10).unwrap().remove(0);
        let later = Utc::now() + Duration::minutes(5);
        mark_retry(conn, &item, "SHOP-1", Utc::now(), later, "HTTP 500", false).unwrap();
        assert!(
            due(conn, Utc::now(), 10).unwrap().is_empty(),
            "not due before its next attempt"
        );
        let s = status(conn).unwrap();
        assert_eq!(
            (
                s.counts["pending"],
                s.counts["delivered"],
                s.counts["failed"]
            ),
            (1, 0, 0)
        );
        assert_eq!(s.problems[0].last_error.as_deref(), Some("HTTP 500"));
        assert!(s.to_string().contains("HTTP 500"));
    }
}
