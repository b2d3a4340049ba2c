//! export: every report of a range as CSV files in one ZIP (`GET /api/v1/export.zip`) — usage
//! metrics, users, services, session activity, namespaces, CI, trends, Jira, the directory and
//! the sessions themselves — with `manifest.json` naming each file, its rows, the range, the
//! group and the directory snapshot. Also the per-user CSV of `reports/usage?format=csv`.
//!
//! The reports are the API's own (the same functions, the same scope), so a file never says
//! something the dashboard doesn't. The sessions file is written row by row into the
//! compressed archive, so memory follows the archive's size, not the session count's.

use std::io::{Cursor, Write};

use chrono::{NaiveDate, NaiveDateTime};
use duckdb::{Connection, ToSql};
use serde::Serialize;
use zip::write::SimpleFileOptions;

use super::period::Period;
use super::reports::{self, ReportSettings, UsageReport, ts};
use crate::directory::scope::{GroupRef, Scope};
use crate::directory::store::{Snapshot, snapshot_info};
use crate::store::StoreError;

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("database error: {0}")]
    Db(#[from] duckdb::Error),
    #[error("writing the archive: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("writing CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("writing the archive: {0}")]
    Io(#[from] std::io::Error),
}

/// One file of the archive.
#[derive(Debug, Serialize, PartialEq)]
pub struct ManifestFile {
    pub name: String,
    pub rows: u64,
    pub description: &'static str,
}

/// `manifest.json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub generated_at: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub group: Option<GroupRef>,
    pub primary_key: String,
    pub snapshot: Option<Snapshot>,
    pub files: Vec<ManifestFile>,
}

/// What to export.
pub struct ExportRequest<'a> {
    pub period: Period,
    pub key: reports::PrimaryKey,
    pub settings: &'a ReportSettings,
    pub scope: &'a Scope,
    /// The trends' last day (today) when the range has no end.
    pub today: NaiveDate,
    pub now: NaiveDateTime,
    /// `[display] rewrite`, applied to the identities the files show.
    pub display: &'a super::display::Display,
}

/// The per-user rows as CSV (`reports/usage?format=csv` and `users.csv`).
pub fn users_csv(report: &UsageReport) -> Result<Vec<u8>, ExportError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    users_into(&mut w, report)?;
    Ok(w.into_inner().map_err(|e| e.into_error())?)
}

fn users_into<W: Write>(w: &mut csv::Writer<W>, report: &UsageReport) -> Result<u64, ExportError> {
    w.write_record([
        "identifier",
        "display_name",
        "client_user",
        "hostname",
        "first_active",
        "last_seen",
        "total_session_count",
        "total_session_time_seconds",
        "average_session_duration_seconds",
        "average_daily_sessions",
        "ci_session_count",
        "average_sessions_per_active_day",
        "person_id",
        "person_name",
        "team",
    ])?;
    for u in &report.user_metrics {
        w.write_record([
            u.identifier.clone(),
            opt(&u.display_name),
            opt(&u.client_user),
            opt(&u.hostname),
            opt(&u.first_active),
            opt(&u.last_seen),
            u.total_session_count.to_string(),
            format!("{:.3}", u.total_session_time_seconds),
            format!("{:.3}", u.average_session_duration_seconds),
            format!("{:.3}", u.average_daily_sessions),
            u.ci_session_count.to_string(),
            format!("{:.3}", u.average_sessions_per_active_day),
            opt(&u.person_id),
            opt(&u.person_name),
            opt(&u.team),
        ])?;
    }
    Ok(report.user_metrics.len() as u64)
}

fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

fn num<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

type Zip = zip::ZipWriter<Cursor<Vec<u8>>>;

/// Writes one CSV file into the archive: `fill` writes the header and rows and returns the
/// number of rows.
fn file(
    zip: &mut Zip,
    files: &mut Vec<ManifestFile>,
    name: &str,
    description: &'static str,
    fill: impl FnOnce(&mut csv::Writer<&mut Zip>) -> Result<u64, ExportError>,
) -> Result<(), ExportError> {
    zip.start_file(name, SimpleFileOptions::default())?;
    let mut w = csv::Writer::from_writer(&mut *zip);
    let rows = fill(&mut w)?;
    w.flush()?;
    drop(w);
    files.push(ManifestFile {
        name: name.to_string(),
        rows,
        description,
    });
    Ok(())
}

/// The whole archive.
pub fn archive(conn: &Connection, req: &ExportRequest<'_>) -> Result<Vec<u8>, ExportError> {
    let mut report = reports::usage_in(conn, req.period, req.key, req.settings, req.scope)?;
    req.display.usage(&mut report);
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let mut files = Vec::new();
    let z = &mut zip;
    let f = &mut files;

    file(
        z,
        f,
        "usage_metrics.csv",
        "the report's totals, one metric per row",
        |w| {
            w.write_record(["metric", "value"])?;
            let g = &report.general_metrics;
            let a = &report.all_time_metrics;
            let p = &report.period_metrics;
            let rows: Vec<(&str, String)> = vec![
                ("report_from", opt(&g.report_period.from)),
                ("report_to", opt(&g.report_period.to)),
                ("total_licenses", num(g.total_licenses)),
                ("active_users", g.active_users.to_string()),
                ("unique_machines", report.unique_machines.to_string()),
                ("period_session_count", p.session_count.to_string()),
                (
                    "period_session_time_seconds",
                    format!("{:.3}", p.session_time_seconds),
                ),
                ("period_ci_session_count", p.ci_session_count.to_string()),
                ("all_time_session_count", a.total_session_count.to_string()),
                (
                    "all_time_session_time_seconds",
                    format!("{:.3}", a.total_session_time_seconds),
                ),
                (
                    "all_time_ci_session_count",
                    a.total_ci_session_count.to_string(),
                ),
                ("operator_version", opt(&g.operator_version)),
                ("last_operator_event", opt(&g.last_operator_event)),
            ];
            for (k, v) in &rows {
                w.write_record([k, v.as_str()])?;
            }
            Ok(rows.len() as u64)
        },
    )?;
    file(
        z,
        f,
        "users.csv",
        "one row per user under primary_key, with person and team",
        |w| users_into(w, &report),
    )?;
    file(
        z,
        f,
        "services.csv",
        "exec sessions and unique users per service (target)",
        |w| {
            w.write_record([
                "namespace",
                "target_type",
                "target",
                "sessions",
                "total_session_time_seconds",
                "unique_users",
            ])?;
            for t in &report.target_metrics {
                w.write_record([
                    opt(&t.namespace),
                    opt(&t.target_type),
                    t.target.clone(),
                    t.sessions.to_string(),
                    format!("{:.3}", t.total_session_time_seconds),
                    t.unique_users.to_string(),
                ])?;
            }
            Ok(report.target_metrics.len() as u64)
        },
    )?;
    file(
        z,
        f,
        "session_activity.csv",
        "exec sessions per user and service",
        |w| {
            w.write_record([
                "identifier",
                "display_name",
                "person_name",
                "team",
                "namespace",
                "target_type",
                "target",
                "sessions",
                "total_session_time_seconds",
            ])?;
            for u in &report.user_target_metrics {
                w.write_record([
                    u.identifier.clone(),
                    opt(&u.display_name),
                    opt(&u.person_name),
                    opt(&u.team),
                    opt(&u.namespace),
                    opt(&u.target_type),
                    u.target.clone(),
                    u.sessions.to_string(),
                    format!("{:.3}", u.total_session_time_seconds),
                ])?;
            }
            Ok(report.user_target_metrics.len() as u64)
        },
    )?;
    file(z, f, "namespaces.csv", "exec sessions per namespace", |w| {
        w.write_record([
            "namespace",
            "sessions",
            "total_session_time_seconds",
            "unique_users",
        ])?;
        for n in &report.namespace_metrics {
            w.write_record([
                n.namespace.clone(),
                n.sessions.to_string(),
                format!("{:.3}", n.total_session_time_seconds),
                n.unique_users.to_string(),
            ])?;
        }
        Ok(report.namespace_metrics.len() as u64)
    })?;
    file(z, f, "ci.csv", "CI sessions of the range", |w| {
        let c = &report.ci_metrics;
        w.write_record([
            "current_running_sessions",
            "max_concurrent_ci_sessions",
            "total_ci_sessions",
            "avg_ci_session_duration_seconds",
        ])?;
        w.write_record([
            c.current_running_sessions.to_string(),
            c.max_concurrent_ci_sessions.to_string(),
            c.total_ci_sessions.to_string(),
            num(c.avg_ci_session_duration_seconds),
        ])?;
        Ok(1)
    })?;
    let trends = trends(conn, req)?;
    file(
        z,
        f,
        "trends.csv",
        "per UTC day of the range: sessions, time, active users, CI sessions, new users",
        |w| {
            w.write_record([
                "date",
                "sessions",
                "total_seconds",
                "active_users",
                "ci_sessions",
                "new_users",
                "cumulative_users",
            ])?;
            let t = &trends;
            for (i, s) in t.daily_sessions.iter().enumerate() {
                w.write_record([
                    s.date.clone(),
                    s.count.to_string(),
                    format!("{:.3}", s.total_seconds),
                    t.daily_active_users[i].count.to_string(),
                    t.daily_ci_sessions[i].count.to_string(),
                    t.user_adoption[i].new_users.to_string(),
                    t.user_adoption[i].cumulative_users.to_string(),
                ])?;
            }
            Ok(t.daily_sessions.len() as u64)
        },
    )?;
    file(z, f, "jira.csv", "sessions per Jira issue", |w| {
        w.write_record([
            "key",
            "sessions",
            "total_session_time_seconds",
            "unique_users",
            "first_used",
            "last_used",
            "ci_sessions",
            "exec_sessions",
        ])?;
        for j in &report.jira_metrics {
            w.write_record([
                j.key.clone(),
                j.sessions.to_string(),
                format!("{:.3}", j.total_session_time_seconds),
                j.unique_users.to_string(),
                opt(&j.first_used),
                opt(&j.last_used),
                j.ci_sessions.to_string(),
                j.exec_sessions.to_string(),
            ])?;
        }
        Ok(report.jira_metrics.len() as u64)
    })?;
    file(
        z,
        f,
        "directory.csv",
        "the directory in force: people, team, groups",
        |w| directory_into(conn, w),
    )?;
    file(
        z,
        f,
        "sessions.csv",
        "every session of the range, oldest first",
        |w| sessions_into(conn, req, w),
    )?;

    let manifest = Manifest {
        generated_at: ts(Some(req.now)).unwrap_or_default(),
        from: ts(req.period.from),
        to: ts(req.period.to),
        group: req.scope.group.clone(),
        primary_key: req.key.as_str().to_string(),
        snapshot: snapshot_info(conn)?,
        files,
    };
    zip.start_file("manifest.json", SimpleFileOptions::default())?;
    zip.write_all(&serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?)?;
    Ok(zip.finish()?.into_inner())
}

/// Dense daily trends of the range: from its first day (or the first session's) to its last
/// (or today), at most ten years. The scope is already installed (by the usage report).
fn trends(conn: &Connection, req: &ExportRequest<'_>) -> Result<reports::Trends, ExportError> {
    let to = req
        .period
        .to
        .map(|t| (t - chrono::Duration::microseconds(1)).date())
        .unwrap_or(req.today);
    let first: Option<NaiveDateTime> =
        conn.query_row("SELECT min(started_at) FROM sessions", [], |r| r.get(0))?;
    let from = req
        .period
        .from
        .or(first)
        .map(|t| t.date())
        .unwrap_or(to)
        .max(to - chrono::Duration::days(3649))
        .min(to);
    Ok(reports::trends_in(conn, from, to, true, None, req.scope)?)
}

fn directory_into<W: Write>(conn: &Connection, w: &mut csv::Writer<W>) -> Result<u64, ExportError> {
    w.write_record(["person_id", "name", "email", "team", "groups"])?;
    let mut stmt = conn.prepare(
        "SELECT person_id, name, email, team, array_to_string(groups, ';') FROM directory ORDER BY person_id",
    )?;
    let mut rows = stmt.query([])?;
    let mut n = 0;
    while let Some(r) = rows.next()? {
        let cells: [Option<String>; 5] = [r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?];
        w.write_record(cells.iter().map(opt))?;
        n += 1;
    }
    Ok(n)
}

fn sessions_into<W: Write>(
    conn: &Connection,
    req: &ExportRequest<'_>,
    w: &mut csv::Writer<W>,
) -> Result<u64, ExportError> {
    w.write_record([
        "session_id",
        "started_at",
        "ended_at",
        "duration_seconds",
        "status",
        "kind",
        "user",
        "client_id",
        "client_name",
        "client_hostname",
        "client_user",
        "namespace",
        "target_type",
        "target",
        "branch",
        "jira_key",
        "person_id",
        "person_name",
        "team",
    ])?;
    let lookup = req.scope.labels(conn)?;
    let sql = req.scope.sql(include_str!("sql/export_sessions.sql"));
    let mut stmt = conn.prepare(&sql)?;
    let p: [&dyn ToSql; 2] = [&req.period.from, &req.period.to];
    let mut rows = stmt.query(&p[..])?;
    let mut n = 0;
    while let Some(r) = rows.next()? {
        let text = |i: usize| r.get::<_, Option<String>>(i);
        let (client_id, client_name, client_hostname, client_user) =
            (text(7)?, text(8)?, text(9)?, text(10)?);
        let person = lookup.person(
            client_user.as_deref(),
            client_name.as_deref(),
            client_id.as_deref(),
            client_hostname.as_deref(),
        );
        w.write_record([
            r.get::<_, String>(0)?,
            opt(&ts(r.get(1)?)),
            opt(&ts(r.get(2)?)),
            num(r.get::<_, Option<f64>>(3)?),
            r.get(4)?,
            r.get(5)?,
            req.display.show(&r.get::<_, String>(6)?),
            opt(&client_id),
            req.display.show(&opt(&client_name)),
            req.display.show(&opt(&client_hostname)),
            req.display.show(&opt(&client_user)),
            opt(&text(11)?),
            opt(&text(12)?),
            opt(&text(13)?),
            opt(&text(14)?),
            opt(&text(15)?),
            person.map(|p| p.id.clone()).unwrap_or_default(),
            person.map(|p| p.name.clone()).unwrap_or_default(),
            person.and_then(|p| p.team.clone()).unwrap_or_default(),
        ])?;
        n += 1;
    }
    Ok(n)
}
