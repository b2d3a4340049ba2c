//! Retention: events and rejects older than `[retention] days` are deleted; sessions (and so
//! the daily rollups derived from them) can be kept longer, `keep_sessions_days`. A dry run
//! counts what would go and changes nothing.
//!
//! Inside `serve`, [`run_schedule`] applies the policy at start-up and then every
//! `interval_minutes`, on the writer thread. The `retention` subcommand applies it to the file
//! while `serve` is stopped, or asks a running `serve` (`POST /api/v1/admin/retention`).
//!
//! DuckDB reuses the space of deleted rows for new ones; the file itself doesn't shrink. A
//! backup (`backup --out`) is compact, so restoring one is how to reclaim the space.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use duckdb::{Connection, params};
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use super::OpsError;
use crate::config::RetentionConfig;
use crate::pipeline::PipelineHandle;

/// How long data is kept; 0 days means forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Events and rejects are kept this many days.
    pub days: u32,
    /// Sessions are kept this many days after their last event (never less than `days`).
    pub keep_sessions_days: u32,
}

impl From<&RetentionConfig> for RetentionPolicy {
    fn from(c: &RetentionConfig) -> Self {
        RetentionPolicy {
            days: c.days,
            keep_sessions_days: c.keep_sessions_days,
        }
    }
}

impl RetentionPolicy {
    /// The cutoffs at `now`: rows strictly older go. `None` keeps everything.
    pub fn cutoffs(&self, now: DateTime<Utc>) -> (Option<NaiveDateTime>, Option<NaiveDateTime>) {
        let cutoff = |days: u32| {
            (days > 0).then(|| (now - chrono::Duration::days(i64::from(days))).naive_utc())
        };
        let sessions = match (self.days, self.keep_sessions_days) {
            (_, 0) | (0, _) => None,
            (d, k) => Some(d.max(k)),
        };
        (cutoff(self.days), sessions.and_then(cutoff))
    }
}

/// What a retention run deleted (or, in a dry run, would delete).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetentionReport {
    pub dry_run: bool,
    /// Events and rejects older than this go (UTC); `None`: kept forever.
    pub cutoff: Option<NaiveDateTime>,
    /// Sessions whose last event is older than this go; `None`: kept forever.
    pub sessions_cutoff: Option<NaiveDateTime>,
    pub events: u64,
    pub rejects: u64,
    pub sessions: u64,
}

impl fmt::Display for RetentionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.dry_run {
            "would delete"
        } else {
            "deleted"
        };
        let when = |c: Option<NaiveDateTime>| {
            c.map_or("kept forever".to_string(), |c| {
                format!("before {} UTC", c.format("%Y-%m-%d %H:%M:%S"))
            })
        };
        writeln!(
            f,
            "retention{}:",
            if self.dry_run {
                " (dry run, nothing changed)"
            } else {
                ""
            }
        )?;
        writeln!(
            f,
            "  events    {verb} {:>10}  ({})",
            self.events,
            when(self.cutoff)
        )?;
        writeln!(
            f,
            "  rejects   {verb} {:>10}  ({})",
            self.rejects,
            when(self.cutoff)
        )?;
        write!(
            f,
            "  sessions  {verb} {:>10}  ({})",
            self.sessions,
            when(self.sessions_cutoff)
        )
    }
}

/// Applies `policy` as of `now` in one transaction, or only counts when `dry_run`.
pub fn apply(
    conn: &Connection,
    policy: RetentionPolicy,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<RetentionReport, OpsError> {
    let (cutoff, sessions_cutoff) = policy.cutoffs(now);
    let (events, rejects, sessions): (i64, i64, i64) = conn.query_row(
        include_str!("retention_count.sql"),
        params![cutoff, sessions_cutoff],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let report = RetentionReport {
        dry_run,
        cutoff,
        sessions_cutoff,
        events: events as u64,
        rejects: rejects as u64,
        sessions: sessions as u64,
    };
    if dry_run || (events, rejects, sessions) == (0, 0, 0) {
        return Ok(report);
    }
    let tx = conn.unchecked_transaction()?;
    if let Some(c) = cutoff {
        tx.execute(include_str!("retention_delete_events.sql"), params![c])?;
        tx.execute(include_str!("retention_delete_rejects.sql"), params![c])?;
    }
    if let Some(c) = sessions_cutoff {
        tx.execute(include_str!("retention_delete_sessions.sql"), params![c])?;
        // The all-time rollups count the deleted sessions: rebuilt in the same transaction.
        crate::analytics::rollups::rebuild(&tx)?;
    }
    tx.commit()?;
    Ok(report)
}

/// Applies `policy` through the writer at once and then every `interval`, until `shutdown`
/// turns true. Failures are logged and retried at the next interval.
pub async fn run_schedule(
    pipeline: PipelineHandle,
    policy: RetentionPolicy,
    interval: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    if policy.days == 0 && policy.keep_sessions_days == 0 {
        tracing::info!("retention off: data is kept forever ([retention] days = 0)");
        return;
    }
    loop {
        run_once(&pipeline, policy).await;
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}

async fn run_once(pipeline: &PipelineHandle, policy: RetentionPolicy) {
    let span = tracing::info_span!(
        "retention",
        days = policy.days,
        keep_sessions_days = policy.keep_sessions_days
    );
    let outcome = pipeline
        .maintain_if(move |store| {
            let out = apply(store.connection(), policy, Utc::now(), false);
            // Nothing deleted: cached reports stay valid.
            let changed = !matches!(&out, Ok(r) if r.events + r.rejects + r.sessions == 0);
            (out, changed)
        })
        .instrument(span.clone())
        .await;
    span.in_scope(|| match outcome {
        Ok(Ok(r)) if r.events + r.rejects + r.sessions > 0 => {
            tracing::info!(events = r.events, rejects = r.rejects, sessions = r.sessions, cutoff = ?r.cutoff, "retention deleted old data");
        }
        Ok(Ok(_)) => tracing::debug!("retention: nothing to delete"),
        Ok(Err(e)) => tracing::error!(error = %e, "retention failed; retrying at the next interval"),
        Err(e) => tracing::warn!(error = %e, "retention skipped"),
    });
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn sessions_are_kept_at_least_as_long_as_events_and_zero_means_forever() {
        let now = Utc.with_ymd_and_hms(2030, 1, 10, 0, 0, 0).unwrap();
        let day = |d| {
            Some(
                Utc.with_ymd_and_hms(2030, 1, d, 0, 0, 0)
                    .unwrap()
                    .naive_utc(),
            )
        };
        let p = |days, keep_sessions_days| {
            RetentionPolicy {
                days,
                keep_sessions_days,
            }
            .cutoffs(now)
        };
        assert_eq!(p(5, 0), (day(5), None));
        assert_eq!(p(5, 8), (day(5), day(2)));
        assert_eq!(
            p(5, 2),
            (day(5), day(5)),
            "a shorter session retention is raised to days"
        );
        assert_eq!(
            p(0, 3),
            (None, None),
            "events kept forever keep their sessions"
        );
    }
}
