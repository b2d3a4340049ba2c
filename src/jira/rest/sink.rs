//! The REST sink's task: every `interval_ms` it takes the due `rest.*` rows of `jira_outbox`,
//! groups them by issue, and writes each issue once with its totals as of now. That is the
//! coalescing: a thousand sessions of one issue closing within an interval make one write.
//!
//! A write that fails with 429/5xx/a timeout is retried with the webhook's backoff
//! (`[jira] retry_initial_ms` … `retry_max_ms`), or after exactly the `Retry-After` Jira sent;
//! a `Retry-After` also pauses the whole sink until then, since Jira's rate limits are per user,
//! not per issue. A rejected write (404 unknown issue, 400 field error) marks the issue's rows
//! `failed` with Jira's error text, once; a later session of that issue tries again. Rows stay
//! `pending` until written, so a restart (or a `kill -9`) resumes where the sink was.
//!
//! `jira sync` runs the same rounds from the CLI ([`sync`]) after queueing one row per issue.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use duckdb::{Connection, OptionalExt, params};
use reqwest::Method;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::client::{Client, Outcome};
use super::{COMMENT_MARKER, FieldChoice, IssueTotals, JiraRestConfig, PROPERTY_KEY};
use crate::analytics::reports::{self, Period};
use crate::jira::delivery::{Retries, TaskDb};
use crate::jira::outbox::{self, empty_totals};
use crate::jira::{JiraConfig, JiraError, is_issue_key};
use crate::named_sql::NamedSql;

pub const REST_SQL: NamedSql = NamedSql::new(
    "src/jira/rest.sql",
    include_str!("../rest.sql"),
    &[
        "due",
        "pending",
        "skipped",
        "delivered",
        "retry",
        "last_user",
        "comment_id",
        "remember_comment",
        "written",
        "enqueue_sync",
        "latest_issue",
        "sync_result",
    ],
);

/// Rows taken per round: enough that a burst of closing sessions is one round.
const BATCH: usize = 20_000;

/// Pages of comments looked through for ours when its id is not known.
const COMMENT_PAGES: usize = 20;

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Round {
    /// Issues written.
    pub written: usize,
    /// Rows whose session has no issue key (no request).
    pub skipped: usize,
    /// Issues to try again later.
    pub retrying: usize,
    /// Issues Jira refused (recorded as failed).
    pub failed: usize,
}

/// The due rows of one issue.
struct Group {
    key: String,
    rows: Vec<String>,
    attempts: u32,
}

/// The sink: where to write, what, and how often.
pub struct Sink {
    client: Client,
    fields: Vec<FieldChoice>,
    property: bool,
    comment: bool,
    db: TaskDb,
    interval: Duration,
    retries: Retries,
    /// No request before this (a `Retry-After`).
    paused_until: std::sync::Mutex<Option<DateTime<Utc>>>,
}

/// Starts the sink when `[jira.rest]` is on. `conn` is the sink's own connection (it writes
/// only `rest.*` outbox rows and `jira_rest_issues`). Ends when `shutdown` turns true.
pub fn start(
    config: &JiraConfig,
    conn: Connection,
    shutdown: watch::Receiver<bool>,
) -> Result<Option<JoinHandle<()>>, JiraError> {
    let Some(rest) = config.rest_enabled() else {
        return Ok(None);
    };
    let sink = Sink::new(config, rest, conn)?;
    Ok(Some(tokio::spawn(sink.run(shutdown))))
}

fn ids(rows: &[String]) -> String {
    rows.join(",")
}

fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(7))
}

impl Sink {
    pub fn new(
        config: &JiraConfig,
        rest: &JiraRestConfig,
        conn: Connection,
    ) -> Result<Sink, JiraError> {
        Ok(Sink {
            client: Client::new(config, rest)?,
            fields: rest.fields(),
            property: rest.property,
            comment: rest.comment,
            db: TaskDb::new(conn),
            interval: Duration::from_millis(rest.interval_ms.max(10)),
            retries: Retries::new(config),
            paused_until: std::sync::Mutex::new(None),
        })
    }

    /// How long until requests may be sent again, if Jira asked to wait.
    fn paused_for(&self, now: DateTime<Utc>) -> Option<Duration> {
        let until = (*self.paused_until.lock().ok()?)?;
        (until > now).then(|| (until - now).to_std().unwrap_or_default())
    }

    fn pause(&self, until: DateTime<Utc>) {
        if let Ok(mut p) = self.paused_until.lock()
            && p.is_none_or(|t| t < until)
        {
            *p = Some(until);
        }
    }

    async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!("jira: REST sink started");
        let mut next_sweep = tokio::time::Instant::now();
        while !*shutdown.borrow() {
            if tokio::time::Instant::now() >= next_sweep {
                next_sweep = tokio::time::Instant::now() + self.retries.sweep_every;
                let swept = self
                    .db
                    .run(|c| Ok(outbox::sweep_abandoned_rest(c, Utc::now())?))
                    .await;
                if let Err(e) = swept {
                    tracing::warn!(error = %e, "jira: REST abandoned sweep failed");
                }
            }
            let wait = match self.paused_for(Utc::now()) {
                Some(wait) => wait,
                None => {
                    tokio::select! {
                        r = self.round() => if let Err(e) = r {
                            tracing::warn!(error = %e, "jira: REST round failed");
                        },
                        _ = shutdown.wait_for(|stop| *stop) => break,
                    }
                    self.interval
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait.min(self.retries.sweep_every)) => {}
                _ = shutdown.wait_for(|stop| *stop) => {}
            }
        }
        tracing::info!("jira: REST sink stopped");
    }

    /// One pass: every due row, one write per issue.
    pub async fn round(&self) -> Result<Round, JiraError> {
        let now = Utc::now();
        let due = self.db.run(move |c| due(c, now)).await?;
        let mut round = Round::default();
        let mut keyless = Vec::new();
        let mut groups: Vec<Group> = Vec::new();
        for (row, attempts, key) in due {
            let Some(key) = key else {
                keyless.push(row);
                continue;
            };
            match groups.iter_mut().find(|g| g.key == key) {
                Some(g) => {
                    g.rows.push(row);
                    g.attempts = g.attempts.max(attempts);
                }
                None => groups.push(Group {
                    key,
                    rows: vec![row],
                    attempts,
                }),
            }
        }
        if !keyless.is_empty() {
            round.skipped = keyless.len();
            let list = ids(&keyless);
            self.db
                .run(move |c| {
                    c.execute(
                        REST_SQL.get("skipped"),
                        params![list, Utc::now().naive_utc()],
                    )?;
                    Ok(())
                })
                .await?;
        }
        for group in groups {
            if self.paused_for(Utc::now()).is_some() {
                break;
            }
            let outcome = self.write_issue(&group.key).await?;
            match &outcome {
                Outcome::Done(_) => round.written += 1,
                Outcome::Retry { .. } => round.retrying += 1,
                Outcome::Rejected { .. } => round.failed += 1,
            }
            self.record(group, outcome).await?;
        }
        Ok(round)
    }

    async fn record(&self, group: Group, outcome: Outcome) -> Result<(), JiraError> {
        let now = Utc::now();
        let Group {
            key,
            rows,
            attempts,
        } = group;
        let list = ids(&rows);
        let attempts = attempts + 1;
        let (error, next, give_up) = match outcome {
            Outcome::Done(_) => {
                tracing::debug!(issue = %key, sessions = rows.len(), "jira: issue written");
                return self
                    .db
                    .run(move |c| {
                        c.execute(
                            REST_SQL.get("delivered"),
                            params![list, key, now.naive_utc()],
                        )?;
                        Ok(())
                    })
                    .await;
            }
            Outcome::Retry { error, after, .. } => {
                let delay = after.unwrap_or_else(|| self.retries.delay(attempts));
                let next = now + to_chrono(delay);
                if after.is_some() {
                    self.pause(next);
                }
                let give_up = self.retries.give_up(attempts);
                tracing::warn!(issue = %key, attempts, %error, retry_in_ms = delay.as_millis() as u64, give_up, "jira: REST write failed");
                (error, next, give_up)
            }
            Outcome::Rejected { error, .. } => {
                tracing::warn!(issue = %key, %error, "jira: Jira refused the write; recorded as failed");
                (error, now, true)
            }
        };
        self.db
            .run(move |c| {
                let p = params![list, key, now.naive_utc(), next.naive_utc(), error, give_up];
                c.execute(REST_SQL.get("retry"), p)?;
                Ok(())
            })
            .await
    }

    /// Writes the configured fields, the property and the comment of `key`; stops at the first
    /// request that is not done and returns how it went.
    async fn write_issue(&self, key: &str) -> Result<Outcome, JiraError> {
        if !is_issue_key(key) {
            return Ok(Outcome::Rejected {
                status: 0,
                error: format!("{key:?} is not a Jira issue key"),
            });
        }
        let k = key.to_string();
        let totals = self.db.run(move |c| issue_totals(c, &k)).await?;
        let issue = format!("issue/{key}");
        if !self.fields.is_empty() {
            let body = totals.fields_body(&self.fields);
            let o = self
                .client
                .send(Method::PUT, &issue, &[], Some(&body))
                .await;
            if !matches!(o, Outcome::Done(_)) {
                return Ok(o);
            }
        }
        if self.property {
            let as_of = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let path = format!("{issue}/properties/{PROPERTY_KEY}");
            let body = totals.property_value(&as_of);
            let o = self.client.send(Method::PUT, &path, &[], Some(&body)).await;
            if !matches!(o, Outcome::Done(_)) {
                return Ok(o);
            }
        }
        if self.comment {
            let o = self.write_comment(key, &totals).await?;
            if !matches!(o, Outcome::Done(_)) {
                return Ok(o);
            }
        }
        let (k, json) = (key.to_string(), serde_json::to_string(&totals).ok());
        self.db
            .run(move |c| {
                c.execute(
                    REST_SQL.get("written"),
                    params![k, Utc::now().naive_utc(), json],
                )?;
                Ok(())
            })
            .await?;
        Ok(Outcome::Done(Value::Null))
    }

    async fn remember_comment(&self, key: &str, id: Option<String>) -> Result<(), JiraError> {
        let k = key.to_string();
        self.db
            .run(move |c| {
                c.execute(REST_SQL.get("remember_comment"), params![k, id])?;
                Ok(())
            })
            .await
    }

    /// Edits our comment in place, or creates it (once) and remembers its id.
    async fn write_comment(&self, key: &str, totals: &IssueTotals) -> Result<Outcome, JiraError> {
        let body = totals.comment_body(self.client.deployment());
        let k = key.to_string();
        let mut id = self
            .db
            .run(move |c| {
                Ok(c.query_row(REST_SQL.get("comment_id"), params![k], |r| {
                    r.get::<_, Option<String>>(0)
                })
                .optional()?
                .flatten())
            })
            .await?;
        if id.is_none() {
            match self.find_comment(key).await {
                Ok(Some(found)) => {
                    self.remember_comment(key, Some(found.clone())).await?;
                    id = Some(found);
                }
                Ok(None) => {}
                Err(o) => return Ok(o),
            }
        }
        let comments = format!("issue/{key}/comment");
        if let Some(cid) = id {
            let path = format!("{comments}/{cid}");
            match self.client.send(Method::PUT, &path, &[], Some(&body)).await {
                // Someone deleted it: make a new one.
                Outcome::Rejected { status: 404, .. } => self.remember_comment(key, None).await?,
                other => return Ok(other),
            }
        }
        let o = self
            .client
            .send(Method::POST, &comments, &[], Some(&body))
            .await;
        if let Outcome::Done(created) = &o {
            let Some(cid) = comment_id(&created["id"]) else {
                return Ok(Outcome::Rejected {
                    status: 0,
                    error: format!("Jira created a comment on {key} but sent no usable id"),
                });
            };
            self.remember_comment(key, Some(cid)).await?;
        }
        Ok(o)
    }

    /// Our comment on `key`, found by its marker, when its id is not known (first write, or a
    /// crash between creating it and remembering it).
    async fn find_comment(&self, key: &str) -> Result<Option<String>, Outcome> {
        let path = format!("issue/{key}/comment");
        let mut start = 0usize;
        for _ in 0..COMMENT_PAGES {
            let at = start.to_string();
            let query = [("startAt", at.as_str()), ("maxResults", "100")];
            let page = match self.client.send(Method::GET, &path, &query, None).await {
                Outcome::Done(page) => page,
                other => return Err(other),
            };
            let comments = page["comments"].as_array().cloned().unwrap_or_default();
            if let Some(ours) = comments
                .iter()
                .find(|c| c["body"].to_string().contains(COMMENT_MARKER))
            {
                return Ok(comment_id(&ours["id"]));
            }
            start += comments.len();
            let total = page["total"].as_u64().unwrap_or(0) as usize;
            if comments.is_empty() || start >= total {
                break;
            }
        }
        Ok(None)
    }
}

/// A comment id from Jira (a string of digits; accepted as a number too), if it is safe to put
/// in a path.
fn comment_id(v: &Value) -> Option<String> {
    let id = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let safe = !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    safe.then_some(id)
}

type DueRow = (String, u32, Option<String>);

fn due(conn: &Connection, now: DateTime<Utc>) -> Result<Vec<DueRow>, JiraError> {
    let mut stmt = conn.prepare(REST_SQL.get("due"))?;
    let rows = stmt.query_map(params![now.naive_utc(), BATCH as i64], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i32>(1)?.max(0) as u32,
            r.get::<_, Option<String>>(2)?,
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The issue's all-time totals (the report's numbers) and its latest user, as of now.
pub fn issue_totals(conn: &Connection, key: &str) -> Result<IssueTotals, JiraError> {
    let metric = reports::jira(conn, Period::default(), Some(key))?
        .into_iter()
        .next()
        .unwrap_or_else(|| empty_totals(key));
    let last_user = conn
        .query_row(REST_SQL.get("last_user"), params![key], |r| r.get(0))
        .optional()?;
    Ok(IssueTotals::new(metric, last_user))
}

/// The outcome of `jira sync` for one issue.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncedIssue {
    pub key: String,
    /// `delivered`, `pending` (still retrying when the sync stopped) or `failed`.
    pub state: String,
    pub error: Option<String>,
}

/// What `jira sync` did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncReport {
    pub issues: Vec<SyncedIssue>,
}

impl std::fmt::Display for SyncReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = |state: &str| self.issues.iter().filter(|i| i.state == state).count();
        writeln!(
            f,
            "{} issues: {} written, {} failed, {} still pending",
            self.issues.len(),
            count("delivered"),
            count("failed"),
            count("pending")
        )?;
        for i in self.issues.iter().filter(|i| i.state != "delivered") {
            let error = i.error.as_deref().unwrap_or("-");
            writeln!(f, "  {} {}: {error}", i.state, i.key)?;
        }
        Ok(())
    }
}

/// `jira sync`: queues one write for every issue with a session started at or after `from`
/// (every issue when `None`), then writes until nothing is pending or `give_up_after` has
/// passed (what is left stays queued for `serve`).
pub async fn sync(
    config: &JiraConfig,
    conn: Connection,
    from: Option<NaiveDateTime>,
    give_up_after: Duration,
) -> Result<SyncReport, JiraError> {
    let rest = config.rest_enabled().ok_or_else(|| {
        crate::jira::config_error("rest.base_url", "[jira.rest] is not configured")
    })?;
    let sink = Sink::new(config, rest, conn)?;
    let stamp = Utc::now().naive_utc();
    sink.db
        .run(move |c| Ok(c.execute(REST_SQL.get("enqueue_sync"), params![stamp, from])?))
        .await?;
    let deadline = tokio::time::Instant::now() + give_up_after;
    loop {
        let wait = match sink.paused_for(Utc::now()) {
            Some(wait) => wait,
            None => {
                sink.round().await?;
                let next = sink
                    .db
                    .run(|c| {
                        let (n, next): (i64, Option<NaiveDateTime>) =
                            c.query_row(REST_SQL.get("pending"), [], |r| {
                                Ok((r.get(0)?, r.get(1)?))
                            })?;
                        Ok((n > 0).then_some(next).flatten())
                    })
                    .await?;
                let Some(next) = next else { break };
                (next.and_utc() - Utc::now())
                    .to_std()
                    .unwrap_or_default()
                    .max(Duration::from_millis(20))
            }
        };
        if tokio::time::Instant::now() + wait > deadline {
            break;
        }
        tokio::time::sleep(wait).await;
    }
    let issues = sink
        .db
        .run(move |c| {
            let mut stmt = c.prepare(REST_SQL.get("sync_result"))?;
            let rows = stmt.query_map(params![stamp], |r| {
                Ok(SyncedIssue {
                    key: r.get(0)?,
                    state: r.get(1)?,
                    error: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?;
    Ok(SyncReport { issues })
}

/// The issue of the session seen last, for `jira check` without `--issue`.
pub fn latest_issue(conn: &Connection) -> Result<Option<String>, JiraError> {
    Ok(conn
        .query_row(REST_SQL.get("latest_issue"), [], |r| r.get(0))
        .optional()?)
}
