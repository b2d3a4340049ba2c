//! Reports: the usage report (the vendor's `/api/v1/reports/usage` shape, camelCase), trends,
//! Jira metrics and raw sessions — each answered by SQL in `sql/`. A bounded period reads its
//! sessions (the derived columns); the All-time period reads the all-time rollups
//! (`sql/all_time.sql`), which return the same columns.
//!
//! Rules: a session belongs to the period it started in; CI counts machine sessions; max
//! concurrency is the peak number of overlapping CI sessions in the window; `mirrord-copy-*`
//! pods are never targets.

use chrono::{NaiveDate, NaiveDateTime};
use duckdb::types::Value as DbValue;
use duckdb::{Connection, Row, ToSql, params};
use serde::Serialize;

use super::buckets::Interval;
use crate::directory::scope::{GroupRef, Scope};
use crate::named_sql::NamedSql;
use crate::store::StoreError;

const PERIOD: &str = include_str!("sql/period_sessions.sql");

/// The user identifier a report groups by: the vendor's `primary_key` values and meanings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum PrimaryKey {
    /// `client_id`: one per machine (the vendor's default).
    #[default]
    MachineId,
    /// `client_user`: the Kubernetes user.
    Username,
    /// `client_name`: the user machine's user name.
    ClientUsername,
    /// `client_hostname`.
    ClientHostname,
}

impl PrimaryKey {
    /// The name the API takes (`machine_id`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            PrimaryKey::MachineId => "machine_id",
            PrimaryKey::Username => "username",
            PrimaryKey::ClientUsername => "client_username",
            PrimaryKey::ClientHostname => "client_hostname",
        }
    }
}

pub use super::period::Period;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportPeriod {
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GeneralMetrics {
    pub total_licenses: Option<i64>,
    pub tier: &'static str,
    pub active_users: i64,
    pub report_period: ReportPeriod,
    pub operator_version: Option<String>,
    pub last_operator_event: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AllTimeMetrics {
    pub total_session_count: i64,
    pub total_session_time_seconds: f64,
    pub total_ci_session_count: i64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeriodMetrics {
    pub session_count: i64,
    pub session_time_seconds: f64,
    pub ci_session_count: i64,
    pub active_users: i64,
    pub unique_machines: i64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CiMetrics {
    pub current_running_sessions: i64,
    pub max_concurrent_ci_sessions: i64,
    pub total_ci_sessions: i64,
    /// `null` when the period has no CI sessions (the vendor's meaning).
    pub avg_ci_session_duration_seconds: Option<f64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserMetric {
    pub identifier: String,
    pub display_name: Option<String>,
    pub client_user: Option<String>,
    pub hostname: Option<String>,
    pub first_active: Option<String>,
    pub last_seen: Option<String>,
    pub total_session_count: i64,
    pub total_session_time_seconds: f64,
    pub average_session_duration_seconds: f64,
    /// Sessions divided by the days in the report window (the vendor's meaning).
    pub average_daily_sessions: f64,
    pub ci_session_count: i64,
    /// Ours: sessions per day on which this identity had at least one.
    pub average_sessions_per_active_day: f64,
    /// Ours: the directory's person for this identity, their name and team (`null`: not in
    /// the directory).
    pub person_id: Option<String>,
    pub person_name: Option<String>,
    pub team: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetMetric {
    pub namespace: Option<String>,
    pub target_type: Option<String>,
    pub target: String,
    pub sessions: i64,
    pub total_session_time_seconds: f64,
    pub unique_users: i64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserTargetMetric {
    pub identifier: String,
    pub display_name: Option<String>,
    pub namespace: Option<String>,
    pub target_type: Option<String>,
    pub target: String,
    pub sessions: i64,
    pub total_session_time_seconds: f64,
    /// Ours, as on [`UserMetric`].
    pub person_id: Option<String>,
    pub person_name: Option<String>,
    pub team: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceMetric {
    pub namespace: String,
    pub sessions: i64,
    pub total_session_time_seconds: f64,
    pub unique_users: i64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JiraMetric {
    pub key: String,
    pub sessions: i64,
    pub total_session_time_seconds: f64,
    pub unique_users: i64,
    pub first_used: Option<String>,
    pub last_used: Option<String>,
    pub ci_sessions: i64,
    pub exec_sessions: i64,
}

/// The whole usage report.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageReport {
    pub general_metrics: GeneralMetrics,
    pub all_time_metrics: AllTimeMetrics,
    pub period_metrics: PeriodMetrics,
    pub ci_metrics: CiMetrics,
    pub user_metrics: Vec<UserMetric>,
    pub target_metrics: Vec<TargetMetric>,
    pub user_target_metrics: Vec<UserTargetMetric>,
    pub namespace_metrics: Vec<NamespaceMetric>,
    pub jira_metrics: Vec<JiraMetric>,
    pub unique_machines: i64,
    /// Ours: the group the report is narrowed to and the directory snapshot that labels rows.
    pub scope: ReportScope,
}

/// Which part of the directory a report covers.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportScope {
    /// `null`: everyone.
    pub group: Option<GroupRef>,
    /// The directory snapshot in force (`null` before any import).
    pub snapshot: Option<i64>,
}

/// Settings a report needs that logs don't carry.
#[derive(Debug, Clone, Default)]
pub struct ReportSettings {
    pub licenses: Option<i64>,
    pub operator_version: Option<String>,
}

/// RFC 3339 UTC text for a stored timestamp.
pub fn ts(t: Option<NaiveDateTime>) -> Option<String> {
    t.map(|t| {
        t.and_utc()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    })
}

fn collect<T>(
    conn: &Connection,
    sql: &str,
    params: &[&dyn ToSql],
    map: impl FnMut(&Row<'_>) -> duckdb::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map(params, map)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn with_sessions(cte: &str, body: &str) -> String {
    if body.trim_start().starts_with(',') {
        format!("WITH {cte}{body}")
    } else {
        format!("WITH {cte}\n{body}")
    }
}

/// The All-time sections, read from the all-time rollups (see `rollups.rs`).
pub const ALL_TIME_SQL: NamedSql = NamedSql::new(
    "src/analytics/sql/all_time.sql",
    include_str!("sql/all_time.sql"),
    &[
        "totals",
        "ci_metrics",
        "period_metrics",
        "user_metrics",
        "target_metrics",
        "user_target_metrics",
        "namespace_metrics",
        "jira_metrics",
    ],
);

/// Where a report section's rows come from: the all-time rollups when the period is
/// unbounded, else the period's sessions (the windowed file with the `s` CTE).
struct Sections<'a> {
    period: Period,
    key: &'a str,
    /// A scoped report reads its sessions (the rollups have no group dimension).
    scope: &'a Scope,
}

impl Sections<'_> {
    fn all_time(&self) -> bool {
        self.period.from.is_none() && self.period.to.is_none() && !self.scope.is_scoped()
    }

    /// The statement for section `name` and its windowed twin `windowed`, with its parameters.
    fn query<T>(
        &self,
        conn: &Connection,
        name: &str,
        windowed: &str,
        map: impl FnMut(&Row<'_>) -> duckdb::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        if self.all_time() {
            collect(conn, ALL_TIME_SQL.get(name), &[&self.key], map)
        } else {
            let p: [&dyn ToSql; 3] = [&self.period.from, &self.period.to, &self.key];
            collect(conn, &self.windowed(windowed), &p, map)
        }
    }

    /// A windowed section's statement: the period's sessions (the scope's, when scoped).
    fn windowed(&self, body: &str) -> String {
        self.scope.sql(&with_sessions(PERIOD, body)).into_owned()
    }
}

/// Builds the usage report for `period`, grouping users by `key`, over everyone.
pub fn usage(
    conn: &Connection,
    period: Period,
    key: PrimaryKey,
    settings: &ReportSettings,
) -> Result<UsageReport, StoreError> {
    usage_in(conn, period, key, settings, &Scope::all())
}

/// The usage report narrowed to `scope`; rows carry their person and team.
pub fn usage_in(
    conn: &Connection,
    period: Period,
    key: PrimaryKey,
    settings: &ReportSettings,
    scope: &Scope,
) -> Result<UsageReport, StoreError> {
    let sections = Sections {
        period,
        key: key.as_str(),
        scope,
    };
    // The target sections, with the directory's labels loaded beside them.
    let second_half = |c: &Connection| {
        let targets = usage_targets(c, &sections)?;
        let snapshot = crate::directory::store::current_snapshot(c)?;
        Ok::<_, StoreError>((targets, scope.labels(c)?, snapshot))
    };
    scope.install(conn)?;
    let (first, second) = if scope.is_scoped() {
        // One connection: the scope's sessions are materialized once, on it.
        (
            usage_totals(conn, &sections, period, key),
            second_half(conn),
        )
    } else {
        // Two halves on two connections at once (a report's sections are independent reads,
        // and each is too small for DuckDB to spread over the cores on its own).
        let other = conn.try_clone()?;
        scope.install(&other)?;
        std::thread::scope(|threads| {
            let second = threads.spawn(move || second_half(&other));
            let first = usage_totals(conn, &sections, period, key);
            let second = second
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (first, second)
        })
    };
    let (pm, all, version, last_event, ci, mut users) = first?;
    let ((targets, mut user_targets, namespaces, jira), lookup, snapshot) = second?;
    let machine = key == PrimaryKey::MachineId;
    for u in &mut users {
        let p = lookup.person(
            u.client_user.as_deref(),
            u.display_name.as_deref(),
            machine.then_some(u.identifier.as_str()),
            u.hostname.as_deref(),
        );
        (u.person_id, u.person_name, u.team) = label(p);
    }
    // A user-target row names only its identifier: label it as that identifier's user row.
    let by_identifier: std::collections::HashMap<&str, &UserMetric> =
        users.iter().map(|u| (u.identifier.as_str(), u)).collect();
    for t in &mut user_targets {
        if let Some(u) = by_identifier.get(t.identifier.as_str()) {
            (t.person_id, t.person_name, t.team) =
                (u.person_id.clone(), u.person_name.clone(), u.team.clone());
        }
    }
    Ok(UsageReport {
        scope: ReportScope {
            group: scope.group.clone(),
            snapshot,
        },
        general_metrics: GeneralMetrics {
            total_licenses: settings.licenses,
            tier: "self-hosted",
            active_users: pm.active_users,
            report_period: ReportPeriod {
                from: ts(period.from),
                to: ts(period.to),
            },
            operator_version: version.or_else(|| settings.operator_version.clone()),
            last_operator_event: ts(last_event),
        },
        all_time_metrics: all,
        unique_machines: pm.unique_machines,
        period_metrics: pm,
        ci_metrics: ci,
        user_metrics: users,
        target_metrics: targets,
        user_target_metrics: user_targets,
        namespace_metrics: namespaces,
        jira_metrics: jira,
    })
}

fn label(
    p: Option<&crate::directory::scope::PersonLabel>,
) -> (Option<String>, Option<String>, Option<String>) {
    match p {
        Some(p) => (Some(p.id.clone()), Some(p.name.clone()), p.team.clone()),
        None => (None, None, None),
    }
}

type TotalSections = (
    PeriodMetrics,
    AllTimeMetrics,
    Option<String>,
    Option<NaiveDateTime>,
    CiMetrics,
    Vec<UserMetric>,
);

/// The period, all-time, CI and user sections.
fn usage_totals(
    conn: &Connection,
    sections: &Sections<'_>,
    period: Period,
    key: PrimaryKey,
) -> Result<TotalSections, StoreError> {
    let p: [&dyn ToSql; 3] = [&period.from, &period.to, &key.as_str()];
    // A bounded period reads its sessions from the view itself: with the derived columns
    // stored, that costs less than copying them into a temp table first (~0.3 s per million).
    let pm = sections
        .query(
            conn,
            "period_metrics",
            include_str!("sql/period_metrics.sql"),
            |r| {
                Ok(PeriodMetrics {
                    session_count: r.get(0)?,
                    session_time_seconds: r.get(1)?,
                    ci_session_count: r.get(2)?,
                    active_users: r.get(3)?,
                    unique_machines: r.get(4)?,
                })
            },
        )?
        .remove(0);
    let (mut all, version, last_event) = conn.query_row(ALL_TIME_SQL.get("totals"), [], |r| {
        Ok((
            AllTimeMetrics {
                total_session_count: r.get(0)?,
                total_session_time_seconds: r.get(1)?,
                total_ci_session_count: r.get(2)?,
            },
            r.get::<_, Option<String>>(3)?,
            r.get::<_, Option<NaiveDateTime>>(4)?,
        ))
    })?;
    if sections.scope.is_scoped() {
        // The scope's all-time totals: its sessions over no window.
        let unbounded = Sections {
            period: Period::default(),
            key: sections.key,
            scope: sections.scope,
        };
        let t = unbounded
            .query(
                conn,
                "period_metrics",
                include_str!("sql/period_metrics.sql"),
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?
            .remove(0);
        all = AllTimeMetrics {
            total_session_count: t.0,
            total_session_time_seconds: t.1,
            total_ci_session_count: t.2,
        };
    }
    // CI concurrency sweeps the period's CI sessions (All-time: every CI session, a small share).
    let ci_map = |r: &Row<'_>| {
        Ok(CiMetrics {
            current_running_sessions: r.get(0)?,
            max_concurrent_ci_sessions: r.get::<_, Option<i64>>(1)?.unwrap_or(0),
            total_ci_sessions: r.get(2)?,
            avg_ci_session_duration_seconds: r.get(3)?,
        })
    };
    let ci = if sections.all_time() {
        collect(conn, ALL_TIME_SQL.get("ci_metrics"), &[], ci_map)?
    } else {
        collect(
            conn,
            &sections.windowed(include_str!("sql/ci_metrics.sql")),
            &p,
            ci_map,
        )?
    }
    .remove(0);
    let users = sections.query(
        conn,
        "user_metrics",
        include_str!("sql/user_metrics.sql"),
        |r| {
            Ok(UserMetric {
                identifier: r.get(0)?,
                display_name: r.get(1)?,
                client_user: r.get(2)?,
                hostname: r.get(3)?,
                first_active: ts(r.get(4)?),
                last_seen: ts(r.get(5)?),
                total_session_count: r.get(6)?,
                total_session_time_seconds: r.get(7)?,
                average_session_duration_seconds: r.get(8)?,
                average_daily_sessions: r.get(9)?,
                ci_session_count: r.get(10)?,
                average_sessions_per_active_day: r.get(11)?,
                person_id: None,
                person_name: None,
                team: None,
            })
        },
    )?;
    Ok((pm, all, version, last_event, ci, users))
}

/// The target, user-target, namespace and Jira sections.
fn usage_targets(conn: &Connection, sections: &Sections<'_>) -> Result<TargetSections, StoreError> {
    let targets = sections.query(
        conn,
        "target_metrics",
        include_str!("sql/target_metrics.sql"),
        |r| {
            Ok(TargetMetric {
                namespace: r.get(0)?,
                target_type: r.get(1)?,
                target: r.get(2)?,
                sessions: r.get(3)?,
                total_session_time_seconds: r.get(4)?,
                unique_users: r.get(5)?,
            })
        },
    )?;
    let user_targets = sections.query(
        conn,
        "user_target_metrics",
        include_str!("sql/user_target_metrics.sql"),
        |r| {
            Ok(UserTargetMetric {
                identifier: r.get(0)?,
                display_name: r.get(1)?,
                namespace: r.get(2)?,
                target_type: r.get(3)?,
                target: r.get(4)?,
                sessions: r.get(5)?,
                total_session_time_seconds: r.get(6)?,
                person_id: None,
                person_name: None,
                team: None,
            })
        },
    )?;
    let namespaces = sections.query(
        conn,
        "namespace_metrics",
        include_str!("sql/namespace_metrics.sql"),
        |r| {
            Ok(NamespaceMetric {
                namespace: r.get(0)?,
                sessions: r.get(1)?,
                total_session_time_seconds: r.get(2)?,
                unique_users: r.get(3)?,
            })
        },
    )?;
    let jira = jira_in(conn, sections.period, None, sections.scope)?;
    Ok((targets, user_targets, namespaces, jira))
}

type TargetSections = (
    Vec<TargetMetric>,
    Vec<UserTargetMetric>,
    Vec<NamespaceMetric>,
    Vec<JiraMetric>,
);

/// Per-Jira-issue metrics for the period (every key over all time from the rollups, which the
/// caller must have caught up); `key` narrows to one issue. Unique users are people (the
/// Kubernetes user), whatever key the usage report uses.
pub fn jira(
    conn: &Connection,
    period: Period,
    key: Option<&str>,
) -> Result<Vec<JiraMetric>, StoreError> {
    jira_in(conn, period, key, &Scope::all())
}

/// [`jira`] narrowed to `scope` (installed on `conn` by the caller).
pub fn jira_in(
    conn: &Connection,
    period: Period,
    key: Option<&str>,
    scope: &Scope,
) -> Result<Vec<JiraMetric>, StoreError> {
    let map = |r: &Row<'_>| {
        Ok(JiraMetric {
            key: r.get(0)?,
            sessions: r.get(1)?,
            total_session_time_seconds: r.get(2)?,
            unique_users: r.get(3)?,
            first_used: ts(r.get(4)?),
            last_used: ts(r.get(5)?),
            ci_sessions: r.get(6)?,
            exec_sessions: r.get(7)?,
        })
    };
    // All keys over all time: the rollup. One key reads its own sessions, which is quick and
    // never waits for the rollups to catch up (the Jira pushes and panel read it on their own).
    if period.from.is_none() && period.to.is_none() && key.is_none() && !scope.is_scoped() {
        return collect(conn, ALL_TIME_SQL.get("jira_metrics"), &[&key], map);
    }
    let p: [&dyn ToSql; 4] = [
        &period.from,
        &period.to,
        &PrimaryKey::Username.as_str(),
        &key,
    ];
    let sql = with_sessions(PERIOD, include_str!("sql/jira_metrics.sql"));
    collect(conn, &scope.sql(&sql), &p, map)
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DailyCount {
    pub date: String,
    pub count: i64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DailySessions {
    pub date: String,
    pub count: i64,
    pub total_seconds: f64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Adoption {
    pub date: String,
    pub new_users: i64,
    pub cumulative_users: i64,
}

/// Daily series for charts. Sparse as the vendor's are (a day without sessions has no entry,
/// `userAdoption` only days that gained a user), or dense (every day of the range) on request.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Trends {
    pub from: String,
    pub to: String,
    /// Ours: the interval each entry covers (absent: UTC days, the vendor's series).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<Interval>,
    /// Ours: the time zone the intervals begin in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    pub daily_sessions: Vec<DailySessions>,
    pub daily_active_users: Vec<DailyCount>,
    pub daily_ci_sessions: Vec<DailyCount>,
    pub user_adoption: Vec<Adoption>,
}

/// Trends for the days `from..=to`; `dense` keeps days without activity, with zeros.
pub fn trends(
    conn: &Connection,
    from: NaiveDate,
    to: NaiveDate,
    dense: bool,
) -> Result<Trends, StoreError> {
    trends_in(conn, from, to, dense, None, &Scope::all())
}

/// How trends are cut when an `interval` is asked for: by it, in `zone`.
#[derive(Debug, Clone, Copy)]
pub struct TrendCut {
    pub interval: Interval,
    pub zone: chrono_tz::Tz,
}

/// [`trends`] narrowed to `scope` (installed on `conn` by the caller) and, with `cut`, by
/// interval in a time zone (each entry's date is its interval's first day); without, UTC days
/// as the vendor's.
pub fn trends_in(
    conn: &Connection,
    from: NaiveDate,
    to: NaiveDate,
    dense: bool,
    cut: Option<TrendCut>,
    scope: &Scope,
) -> Result<Trends, StoreError> {
    let mut t = Trends {
        from: from.to_string(),
        to: to.to_string(),
        interval: cut.map(|c| c.interval),
        time_zone: cut.map(|c| c.zone.name().to_string()),
        daily_sessions: Vec::new(),
        daily_active_users: Vec::new(),
        daily_ci_sessions: Vec::new(),
        user_adoption: Vec::new(),
    };
    let map = |r: &Row<'_>| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, f64>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, i64>(5)?,
            r.get::<_, DbValue>(6)?,
        ))
    };
    let rows = match cut {
        None => collect(
            conn,
            &scope.sql(include_str!("sql/trends.sql")),
            params![from, to],
            map,
        )?,
        Some(TrendCut { interval, zone }) => {
            let start = super::buckets::midnight(zone, from);
            let end = super::buckets::midnight(zone, to + chrono::Duration::days(1));
            let cover = super::buckets::cover(zone, start, end, interval);
            super::buckets::install(conn, &[("interval", &cover)])?;
            collect(
                conn,
                &scope.sql(include_str!("sql/trends_buckets.sql")),
                params![start, end],
                map,
            )?
        }
    };
    for (date, sessions, seconds, users, ci, new_users, cumulative) in rows {
        if dense || sessions > 0 {
            t.daily_sessions.push(DailySessions {
                date: date.clone(),
                count: sessions,
                total_seconds: seconds,
            });
        }
        if dense || users > 0 {
            t.daily_active_users.push(DailyCount {
                date: date.clone(),
                count: users,
            });
        }
        if dense || ci > 0 {
            t.daily_ci_sessions.push(DailyCount {
                date: date.clone(),
                count: ci,
            });
        }
        if dense || new_users > 0 {
            t.user_adoption.push(Adoption {
                date,
                new_users,
                cumulative_users: db_int(&cumulative),
            });
        }
    }
    Ok(t)
}

/// An integer from a DuckDB value of any integer or decimal type (sums widen to HUGEINT).
pub fn db_int(v: &DbValue) -> i64 {
    match v {
        DbValue::TinyInt(i) => *i as i64,
        DbValue::SmallInt(i) => *i as i64,
        DbValue::Int(i) => *i as i64,
        DbValue::BigInt(i) => *i,
        DbValue::HugeInt(i) => *i as i64,
        DbValue::UTinyInt(i) => *i as i64,
        DbValue::USmallInt(i) => *i as i64,
        DbValue::UInt(i) => *i as i64,
        DbValue::UBigInt(i) => *i as i64,
        DbValue::Double(f) => *f as i64,
        DbValue::Float(f) => *f as i64,
        DbValue::Decimal(d) => d.to_string().parse::<f64>().map(|f| f as i64).unwrap_or(0),
        _ => 0,
    }
}
