//! The vendor's report semantics, field by field, on four sessions whose every figure is worked
//! out by hand below (not by re-running the views' rules): `primary_key` values and default,
//! exec-only totals, targets and session activity, CI fields, the daily mean over the report
//! window, and sparse trends. The meanings are listed in
//! `shared/reference/vendor-report-semantics.md`.
//!
//! The sessions (D = 2026-03-02), all with a Session Start and a Session End:
//!
//! | id | kind | client_id | k8s user       | client_name     | host | target         | start     | seconds |
//! |----|------|-----------|----------------|-----------------|------|----------------|-----------|---------|
//! | s1 | exec | m1        | alice@k8s      | alice           | h1   | deployment/api | D 10:00   | 1800    |
//! | s2 | exec | m1        | alice@k8s      | alice           | h1   | deployment/web | D+1 09:00 | 3600    |
//! | s3 | exec | m2        | alice@k8s      | alice2          | h2   | deployment/api | D 11:00   | 900     |
//! | s4 | ci   | m3        | system:serviceaccount:ci:mirrord-ci | mirrord-ci@acme | h3 | deployment/api | D 12:00 | 1200 |

use std::sync::Arc;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use mirrord_usage::analytics::reports::{self, Period, PrimaryKey, ReportSettings, UsageReport};
use mirrord_usage::batch::IncomingEvent;
use mirrord_usage::event::{EventKind, OperatorEvent};
use mirrord_usage::store::Store;

const D: (i32, u32, u32) = (2026, 3, 2);

struct Session {
    id: &'static str,
    machine: &'static str,
    user: &'static str,
    name: &'static str,
    host: &'static str,
    target: &'static str,
    day: i64,
    hour: u32,
    seconds: i64,
}

const SESSIONS: [Session; 4] = [
    Session {
        id: "s1",
        machine: "m1",
        user: "alice@k8s",
        name: "alice",
        host: "h1",
        target: "api",
        day: 0,
        hour: 10,
        seconds: 1800,
    },
    Session {
        id: "s2",
        machine: "m1",
        user: "alice@k8s",
        name: "alice",
        host: "h1",
        target: "web",
        day: 1,
        hour: 9,
        seconds: 3600,
    },
    Session {
        id: "s3",
        machine: "m2",
        user: "alice@k8s",
        name: "alice2",
        host: "h2",
        target: "api",
        day: 0,
        hour: 11,
        seconds: 900,
    },
    Session {
        id: "s4",
        machine: "m3",
        user: "system:serviceaccount:ci:mirrord-ci",
        name: "mirrord-ci@acme",
        host: "h3",
        target: "api",
        day: 0,
        hour: 12,
        seconds: 1200,
    },
];

fn day(offset: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(D.0, D.1, D.2).unwrap() + Duration::days(offset)
}

fn store() -> Store {
    let mut events = Vec::new();
    for s in &SESSIONS {
        let start = Utc.from_utc_datetime(&day(s.day).and_hms_opt(s.hour, 0, 0).unwrap());
        for (kind, at) in [
            (EventKind::SessionStart, start),
            (EventKind::SessionEnd, start + Duration::seconds(s.seconds)),
        ] {
            let mut e = OperatorEvent::new(kind, at);
            e.session_id = Some(s.id.into());
            e.client_id = Some(s.machine.into());
            e.client_user = Some(s.user.into());
            e.client_name = Some(s.name.into());
            e.client_hostname = Some(s.host.into());
            e.target = Some(format!("deployment/{}/container/main", s.target));
            e.target_namespace = Some("shop".into());
            if kind == EventKind::SessionEnd {
                e.session_duration = Some(s.seconds as f64);
            }
            events.push(IncomingEvent {
                event: e.finish(),
                format: "test",
                source: Arc::from("test"),
            });
        }
    }
    let mut store = mirrord_usage::database::open(":memory:").unwrap();
    store.append(&events, &[], &[]).unwrap();
    store
}

/// D to D+2 given as dates: `to` covers its whole day, so the window is three days.
fn three_days() -> Period {
    Period::parse(Some("2026-03-02"), Some("2026-03-04")).unwrap()
}

fn usage(store: &Store, period: Period, key: PrimaryKey) -> UsageReport {
    reports::usage(store.connection(), period, key, &ReportSettings::default()).unwrap()
}

fn rows(report: &UsageReport) -> Vec<(String, i64)> {
    let mut rows: Vec<_> = report
        .user_metrics
        .iter()
        .map(|u| (u.identifier.clone(), u.total_session_count))
        .collect();
    rows.sort();
    rows
}

fn owned(rows: &[(&str, i64)]) -> Vec<(String, i64)> {
    rows.iter().map(|(k, n)| (k.to_string(), *n)).collect()
}

#[test]
fn primary_key_values_mean_what_the_vendors_mean_and_machine_id_is_the_default() {
    let store = store();
    let p = three_days();
    // Default: machine_id, the client id.
    let default = usage(&store, p, PrimaryKey::default());
    assert_eq!(rows(&default), owned(&[("m1", 2), ("m2", 1), ("m3", 1)]));
    // username: the Kubernetes user.
    assert_eq!(
        rows(&usage(&store, p, PrimaryKey::Username)),
        owned(&[("alice@k8s", 3), ("system:serviceaccount:ci:mirrord-ci", 1)])
    );
    // client_username: the machine's user name (`client_name`).
    assert_eq!(
        rows(&usage(&store, p, PrimaryKey::ClientUsername)),
        owned(&[("alice", 2), ("alice2", 1), ("mirrord-ci@acme", 1)])
    );
    assert_eq!(
        rows(&usage(&store, p, PrimaryKey::ClientHostname)),
        owned(&[("h1", 2), ("h2", 1), ("h3", 1)])
    );
}

#[test]
fn totals_targets_and_session_activity_count_exec_sessions_only() {
    let store = store();
    let report = usage(&store, three_days(), PrimaryKey::MachineId);
    let all = &report.all_time_metrics;
    assert_eq!(all.total_session_count, 3, "s1, s2, s3");
    assert_eq!(all.total_session_time_seconds, 1800.0 + 3600.0 + 900.0);
    assert_eq!(all.total_ci_session_count, 1, "s4");
    let targets: Vec<(&str, i64, i64)> = report
        .target_metrics
        .iter()
        .map(|t| (t.target.as_str(), t.sessions, t.unique_users))
        .collect();
    // api: s1 (m1) and s3 (m2); s4 is CI. web: s2.
    assert_eq!(targets, [("api", 2, 2), ("web", 1, 1)]);
    let mut activity: Vec<(&str, &str, i64)> = report
        .user_target_metrics
        .iter()
        .map(|r| (r.identifier.as_str(), r.target.as_str(), r.sessions))
        .collect();
    activity.sort();
    assert_eq!(
        activity,
        [("m1", "api", 1), ("m1", "web", 1), ("m2", "api", 1)]
    );
}

#[test]
fn ci_fields_and_the_daily_mean_over_the_window() {
    let store = store();
    let report = usage(&store, three_days(), PrimaryKey::MachineId);
    assert_eq!(report.ci_metrics.total_ci_sessions, 1);
    assert_eq!(
        report.ci_metrics.avg_ci_session_duration_seconds,
        Some(1200.0)
    );
    assert_eq!(report.ci_metrics.current_running_sessions, 0, "s4 ended");
    let m1 = report
        .user_metrics
        .iter()
        .find(|u| u.identifier == "m1")
        .unwrap();
    // Two sessions over a three-day window; two active days.
    assert!((m1.average_daily_sessions - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(m1.average_sessions_per_active_day, 1.0);
    assert_eq!(m1.average_session_duration_seconds, (1800.0 + 3600.0) / 2.0);
    // D+1 alone has no CI session: the average is null, not 0.
    let next_day = Period::parse(Some("2026-03-03"), Some("2026-03-03")).unwrap();
    let report = usage(&store, next_day, PrimaryKey::MachineId);
    assert_eq!(report.ci_metrics.total_ci_sessions, 0);
    assert_eq!(report.ci_metrics.avg_ci_session_duration_seconds, None);
    let json = serde_json::to_value(&report).unwrap();
    assert!(json["ciMetrics"]["avgCiSessionDurationSeconds"].is_null());
    // One session in a one-day window.
    assert_eq!(report.user_metrics[0].average_daily_sessions, 1.0);
}

#[test]
fn trends_are_sparse_exec_only_unless_dense_is_asked_for() {
    let store = store();
    let t = reports::trends(store.connection(), day(0), day(2), false).unwrap();
    let sessions: Vec<(&str, i64, f64)> = t
        .daily_sessions
        .iter()
        .map(|d| (d.date.as_str(), d.count, d.total_seconds))
        .collect();
    // D: s1 + s3 (s4 is CI); D+1: s2; D+2: nothing, so no entry.
    assert_eq!(
        sessions,
        [("2026-03-02", 2, 2700.0), ("2026-03-03", 1, 3600.0)]
    );
    let ci: Vec<(&str, i64)> = t
        .daily_ci_sessions
        .iter()
        .map(|d| (d.date.as_str(), d.count))
        .collect();
    assert_eq!(ci, [("2026-03-02", 1)]);
    let active: Vec<(&str, i64)> = t
        .daily_active_users
        .iter()
        .map(|d| (d.date.as_str(), d.count))
        .collect();
    assert_eq!(active, [("2026-03-02", 1), ("2026-03-03", 1)], "alice@k8s");
    let adoption: Vec<(&str, i64, i64)> = t
        .user_adoption
        .iter()
        .map(|a| (a.date.as_str(), a.new_users, a.cumulative_users))
        .collect();
    assert_eq!(
        adoption,
        [("2026-03-02", 1, 1)],
        "only days that gained a user"
    );
    let dense = reports::trends(store.connection(), day(0), day(2), true).unwrap();
    assert_eq!(dense.daily_sessions.len(), 3);
    assert_eq!(dense.daily_sessions[2].count, 0);
    assert_eq!(dense.user_adoption[2].cumulative_users, 1);
}

#[test]
fn the_operators_duration_histograms_have_its_names_and_count_closed_sessions_into_buckets() {
    let store = store();
    let registry =
        mirrord_usage::api::metrics::registry(store.connection(), &Default::default(), 0, false)
            .unwrap();
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    let value = |series: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("{series} missing from:\n{text}"))
            .parse()
            .unwrap()
    };
    // Exec: 900, 1800, 3600 s. Buckets are cumulative: a duration equal to a bound is in it.
    assert_eq!(value("mirrord_sessions_duration_bucket{le=\"300.0\"}"), 0.0);
    assert_eq!(value("mirrord_sessions_duration_bucket{le=\"900.0\"}"), 1.0);
    assert_eq!(
        value("mirrord_sessions_duration_bucket{le=\"1800.0\"}"),
        2.0
    );
    assert_eq!(
        value("mirrord_sessions_duration_bucket{le=\"3600.0\"}"),
        3.0
    );
    assert_eq!(value("mirrord_sessions_duration_bucket{le=\"+Inf\"}"), 3.0);
    assert_eq!(value("mirrord_sessions_duration_count"), 3.0);
    assert_eq!(value("mirrord_sessions_duration_sum"), 6300.0);
    // CI: one session of 1200 s.
    assert_eq!(
        value("mirrord_ci_sessions_duration_bucket{le=\"900.0\"}"),
        0.0
    );
    assert_eq!(
        value("mirrord_ci_sessions_duration_bucket{le=\"1800.0\"}"),
        1.0
    );
    assert_eq!(value("mirrord_ci_sessions_duration_sum"), 1200.0);
    assert_eq!(
        value("mirrord_usage_session_duration_seconds_bucket{le=\"1800.0\",kind=\"exec\"}"),
        2.0
    );
}

#[test]
fn cloud_session_rows_page_oldest_first_and_reconcile_with_the_report() {
    use mirrord_usage::analytics::sessions::{UsageSessionQuery, usage_sessions};
    let store = store();
    let page = |cursor: Option<String>| {
        usage_sessions(
            store.connection(),
            &UsageSessionQuery {
                cursor,
                limit: Some(3),
                ..Default::default()
            },
            None,
        )
        .unwrap()
    };
    // Oldest first: s1 (D 10:00), s3 (D 11:00), s4 (D 12:00), then s2 (D+1 09:00).
    let first = page(None);
    let ids: Vec<&str> = first.sessions.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["s1", "s3", "s4"]);
    let s1 = serde_json::to_value(&first.sessions[0]).unwrap();
    assert_eq!(s1["startedAt"], "2026-03-02T10:00:00Z");
    assert_eq!(s1["stoppedAt"], "2026-03-02T10:30:00Z");
    assert_eq!(s1["durationSeconds"], 1800.0);
    assert_eq!(s1["kind"], "exec");
    assert_eq!(
        s1["user"],
        serde_json::json!({"id": "m1", "kubernetesUsername": "alice@k8s",
                           "clientUsername": "alice", "clientHostname": "h1"})
    );
    assert_eq!(
        s1["target"],
        serde_json::json!({"namespace": "shop", "kind": "deployment", "name": "api", "container": "main"})
    );
    assert_eq!(first.sessions[2].kind, "ci");
    let second = page(first.next_cursor.clone());
    let ids: Vec<&str> = second.sessions.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["s2"]);
    assert!(second.next_cursor.is_some(), "every non-empty page has one");
    let end = page(second.next_cursor.clone());
    assert!(
        end.sessions.is_empty() && end.next_cursor.is_none(),
        "the first empty page is the end"
    );
    // Grouped by kind, the rows are the report's counts.
    let all = usage(&store, Period::default(), PrimaryKey::MachineId);
    let rows: Vec<_> = first.sessions.iter().chain(&second.sessions).collect();
    let exec = rows.iter().filter(|r| r.kind == "exec").count() as i64;
    assert_eq!(exec, all.all_time_metrics.total_session_count);
    assert_eq!(rows.len() as i64 - exec, all.ci_metrics.total_ci_sessions);
    // An empty cursor and an out-of-range limit are bad parameters.
    for bad in [
        UsageSessionQuery {
            cursor: Some(String::new()),
            ..Default::default()
        },
        UsageSessionQuery {
            limit: Some(1001),
            ..Default::default()
        },
    ] {
        assert!(usage_sessions(store.connection(), &bad, None).is_err());
    }
}
