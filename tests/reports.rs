//! Every number of the usage report and trends against a count done independently here, in
//! Rust, from the raw events (not from the `sessions` view): generated activity plus hand-made
//! edge cases — sessions across midnight and across the period bounds, an end without a start,
//! duplicates, CI vs exec, copy pods, open and abandoned sessions.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use mirrord_usage::analytics::reports::{self, Period, PrimaryKey, ReportSettings};
use mirrord_usage::batch::IncomingEvent;
use mirrord_usage::event::{EventKind, OperatorEvent};
use mirrord_usage::generate::{self, GenerateOptions};
use mirrord_usage::store::Store;
use regex::Regex;

fn ev(
    kind: EventKind,
    at: DateTime<Utc>,
    session: &str,
    user: &str,
    target: &str,
) -> OperatorEvent {
    let mut e = OperatorEvent::new(kind, at);
    e.session_id = Some(session.into());
    e.client_id = Some(format!("{user}-machine"));
    e.client_user = Some(user.into());
    e.client_name = Some(user.to_uppercase());
    e.target = Some(format!("deployment/{target}/container/main"));
    e.target_namespace = Some("edge".into());
    e
}

/// Hand-made sessions around `day` (a date inside the generated period).
fn edge_cases(day: NaiveDate) -> Vec<OperatorEvent> {
    let at = |h: i64, m: i64| {
        Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap())
            + Duration::hours(h)
            + Duration::minutes(m)
    };
    let mut out = Vec::new();
    let mut session = |id: &str,
                       user: &str,
                       target: &str,
                       start: Option<DateTime<Utc>>,
                       end: Option<DateTime<Utc>>| {
        if let Some(s) = start {
            out.push(ev(EventKind::SessionStart, s, id, user, target));
        }
        if let Some(e) = end {
            let mut end = ev(EventKind::SessionEnd, e, id, user, target);
            end.session_duration = start
                .map(|s| (e - s).num_milliseconds() as f64 / 1000.0)
                .or(Some(1800.0));
            out.push(end);
        }
    };
    session(
        "edge-midnight",
        "night@corp",
        "api",
        Some(at(23, 30)),
        Some(at(24, 45)),
    );
    session(
        "edge-before-from",
        "early@corp",
        "api",
        Some(at(-1, 50)),
        Some(at(0, 20)),
    );
    session("edge-end-only", "late@corp", "web", None, Some(at(10, 0)));
    session(
        "edge-ci-1",
        "system:serviceaccount:ci:mirrord-ci",
        "api",
        Some(at(12, 0)),
        Some(at(12, 30)),
    );
    session(
        "edge-ci-2",
        "system:serviceaccount:ci:mirrord-ci",
        "api",
        Some(at(12, 10)),
        Some(at(12, 20)),
    );
    session(
        "edge-ci-3",
        "system:serviceaccount:ci:mirrord-ci",
        "api",
        Some(at(12, 15)),
        Some(at(12, 40)),
    );
    session(
        "edge-copy",
        "copier@corp",
        "mirrord-copy-abc12",
        Some(at(9, 0)),
        Some(at(9, 30)),
    );
    session("edge-abandoned", "gone@corp", "api", Some(at(8, 0)), None);
    out
}

/// An open session that started a minute ago (it stays `open`).
fn open_now() -> OperatorEvent {
    ev(
        EventKind::SessionStart,
        Utc::now() - Duration::minutes(1),
        "edge-open",
        "now@corp",
        "api",
    )
}

#[derive(Debug, Clone)]
struct Truth {
    start: NaiveDateTime,
    duration: Option<f64>,
    ci: bool,
    user: String,
    machine: String,
    target: String,
}

/// Sessions computed straight from events, with the rules the report states.
fn truth(events: &[OperatorEvent], now: NaiveDateTime) -> HashMap<String, Truth> {
    let ci_user =
        // The rule as documented: a CI API key's service account, or its certificate name.
        Regex::new("^system:serviceaccount:[^:]+:mirrord-ci$").unwrap();
    let ci_name = Regex::new("^mirrord-ci@").unwrap();
    let mut by_session: BTreeMap<String, Vec<&OperatorEvent>> = BTreeMap::new();
    let mut seen = HashSet::new();
    for e in events {
        if let Some(s) = &e.session_id
            && seen.insert(e.id.clone())
        {
            by_session.entry(s.clone()).or_default().push(e);
        }
    }
    let mut out = HashMap::new();
    for (id, evs) in by_session {
        let ts = |k: EventKind| {
            evs.iter()
                .filter(move |e| e.kind == k)
                .map(|e| e.timestamp.naive_utc())
        };
        let start = ts(EventKind::SessionStart).min();
        let end = ts(EventKind::SessionEnd).max();
        let first = evs.iter().map(|e| e.timestamp.naive_utc()).min().unwrap();
        let last = evs.iter().map(|e| e.timestamp.naive_utc()).max().unwrap();
        let reported = evs
            .iter()
            .filter(|e| e.kind == EventKind::SessionEnd)
            .find_map(|e| e.session_duration);
        let eff_start = start
            .or_else(|| {
                end.map(|e| {
                    e - Duration::microseconds((reported.unwrap_or(0.0) * 1e6).round() as i64)
                })
            })
            .unwrap_or(first);
        let duration = match end {
            Some(e) => Some(reported.unwrap_or_else(|| {
                (e - start.unwrap_or(first)).num_microseconds().unwrap() as f64 / 1e6
            })),
            None if (now - last).num_seconds() > 86_400 => {
                Some((last - start.unwrap_or(first)).num_microseconds().unwrap() as f64 / 1e6)
            }
            None => None,
        };
        let pick = |f: fn(&OperatorEvent) -> &Option<String>| evs.iter().find_map(|e| f(e).clone());
        let user = pick(|e| &e.client_user)
            .or_else(|| pick(|e| &e.client_name))
            .unwrap_or_default();
        let name = pick(|e| &e.client_name).unwrap_or_default();
        let explicit = evs.iter().find_map(|e| e.ci);
        let ci = explicit.unwrap_or_else(|| ci_user.is_match(&user) || ci_name.is_match(&name));
        out.insert(
            id,
            Truth {
                start: eff_start,
                duration,
                ci,
                user,
                machine: pick(|e| &e.client_id).unwrap_or_default(),
                target: pick(|e| &e.target_name).unwrap_or_default(),
            },
        );
    }
    out
}

fn load() -> (Store, Vec<OperatorEvent>, NaiveDate) {
    let end = Utc::now().date_naive() - Duration::days(2);
    let opts = GenerateOptions {
        users: 12,
        days: 20,
        seed: 11,
        end,
        max_events: None,
    };
    let mut events = generate::events(&opts);
    let edge_day = end - Duration::days(5);
    events.extend(edge_cases(edge_day).into_iter().map(OperatorEvent::finish));
    events.push(open_now().finish());
    let mut store = mirrord_usage::database::open(":memory:").unwrap();
    let src: Arc<str> = Arc::from("test");
    let incoming: Vec<IncomingEvent> = events
        .iter()
        .cloned()
        .map(|event| IncomingEvent {
            event,
            format: "generated",
            source: src.clone(),
        })
        .collect();
    for chunk in incoming.chunks(997) {
        store.append(chunk, &[], &[]).unwrap();
    }
    let replay = store.append(&incoming[..500], &[], &[]).unwrap();
    assert_eq!(replay.stored, 0, "duplicates are not stored");
    (store, events, edge_day)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-3 * b.abs().max(1.0)
}

#[test]
fn usage_report_matches_independent_counts_for_several_periods() {
    let (store, events, edge_day) = load();
    let now = Utc::now().naive_utc();
    let sessions = truth(&events, now);
    let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).unwrap();
    let periods = [
        Period::default(),
        Period {
            from: Some(midnight(edge_day)),
            to: Some(midnight(edge_day + Duration::days(1))),
        },
        Period {
            from: Some(midnight(edge_day - Duration::days(7))),
            to: None,
        },
    ];
    for period in periods {
        let report = reports::usage(
            store.connection(),
            period,
            PrimaryKey::Username,
            &ReportSettings::default(),
        )
        .unwrap();
        let inside: Vec<&Truth> = sessions
            .values()
            .filter(|s| {
                period.from.is_none_or(|f| s.start >= f) && period.to.is_none_or(|t| s.start < t)
            })
            .collect();
        let pm = &report.period_metrics;
        assert_eq!(pm.session_count, inside.len() as i64, "{period:?}");
        let seconds: f64 = inside.iter().filter_map(|s| s.duration).sum();
        assert!(
            close(pm.session_time_seconds, seconds),
            "{period:?}: {} vs {seconds}",
            pm.session_time_seconds
        );
        assert_eq!(
            pm.ci_session_count,
            inside.iter().filter(|s| s.ci).count() as i64
        );
        let users: HashSet<&str> = inside
            .iter()
            .filter(|s| !s.ci)
            .map(|s| s.user.as_str())
            .collect();
        assert_eq!(pm.active_users, users.len() as i64);
        assert_eq!(report.general_metrics.active_users, users.len() as i64);
        let machines: HashSet<&str> = inside
            .iter()
            .filter(|s| !s.ci)
            .map(|s| s.machine.as_str())
            .collect();
        assert_eq!(report.unique_machines, machines.len() as i64);
        assert_eq!(report.ci_metrics.total_ci_sessions, pm.ci_session_count);
        assert_eq!(
            report.all_time_metrics.total_session_count,
            sessions.values().filter(|s| !s.ci).count() as i64,
            "all-time sessions are exec sessions"
        );
        assert_eq!(
            report.all_time_metrics.total_ci_session_count,
            sessions.values().filter(|s| s.ci).count() as i64
        );
        let user_total: i64 = report
            .user_metrics
            .iter()
            .map(|u| u.total_session_count)
            .sum();
        assert_eq!(
            user_total,
            inside.len() as i64,
            "every session belongs to one user row"
        );
        for u in &report.user_metrics {
            let mine: Vec<&&Truth> = inside.iter().filter(|s| s.user == u.identifier).collect();
            assert_eq!(u.total_session_count, mine.len() as i64, "{}", u.identifier);
            assert!(
                close(
                    u.total_session_time_seconds,
                    mine.iter().filter_map(|s| s.duration).sum()
                ),
                "{}",
                u.identifier
            );
        }
        let non_copy = inside
            .iter()
            .filter(|s| !s.ci && !s.target.starts_with("mirrord-copy-"))
            .count() as i64;
        assert!(
            report.target_metrics.len() < 50,
            "fewer targets than the top-50 cut, so every exec session is counted"
        );
        assert_eq!(
            report
                .target_metrics
                .iter()
                .map(|t| t.sessions)
                .sum::<i64>(),
            non_copy
        );
        assert!(
            report
                .target_metrics
                .iter()
                .all(|t| !t.target.starts_with("mirrord-copy-"))
        );
        let ns_total: i64 = report.namespace_metrics.iter().map(|n| n.sessions).sum();
        assert_eq!(ns_total, inside.len() as i64);
    }
}

#[test]
fn edge_cases_land_where_the_rules_say() {
    let (store, events, edge_day) = load();
    let sessions = truth(&events, Utc::now().naive_utc());
    let day = Period {
        from: Some(edge_day.and_hms_opt(0, 0, 0).unwrap()),
        to: Some((edge_day + Duration::days(1)).and_hms_opt(0, 0, 0).unwrap()),
    };
    let report = reports::usage(
        store.connection(),
        day,
        PrimaryKey::Username,
        &ReportSettings::default(),
    )
    .unwrap();
    let ids = |pred: &dyn Fn(&str) -> bool| report.user_metrics.iter().any(|u| pred(&u.identifier));
    assert!(
        ids(&|i| i == "night@corp"),
        "a session crossing midnight belongs to the day it started"
    );
    assert!(
        !ids(&|i| i == "early@corp"),
        "a session that started before `from` is not in the period"
    );
    assert!(
        ids(&|i| i == "late@corp"),
        "an end without a start still counts"
    );
    let late = report
        .user_metrics
        .iter()
        .find(|u| u.identifier == "late@corp")
        .unwrap();
    assert!(close(late.total_session_time_seconds, 1800.0));
    assert!(
        report.ci_metrics.max_concurrent_ci_sessions >= 3,
        "three overlapping CI sessions"
    );
    let ci_here: Vec<&Truth> = sessions
        .values()
        .filter(|s| {
            s.ci && day.from.is_none_or(|f| s.start >= f) && day.to.is_none_or(|t| s.start < t)
        })
        .collect();
    assert_eq!(
        report.ci_metrics.max_concurrent_ci_sessions,
        max_overlap(&ci_here)
    );
    assert!(
        report
            .target_metrics
            .iter()
            .all(|t| t.target != "mirrord-copy-abc12")
    );
    let abandoned: String = store
        .connection()
        .query_row(
            "SELECT status FROM sessions WHERE session_id = 'edge-abandoned'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(abandoned, "abandoned");
    let open: String = store
        .connection()
        .query_row(
            "SELECT status FROM sessions WHERE session_id = 'edge-open'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(open, "open");
}

fn max_overlap(ci: &[&Truth]) -> i64 {
    let mut sweep: Vec<(NaiveDateTime, i64)> = Vec::new();
    for s in ci {
        let end =
            s.start + Duration::microseconds((s.duration.unwrap_or(0.0) * 1e6).round() as i64);
        sweep.push((s.start, 1));
        sweep.push((end, -1));
    }
    sweep.sort();
    let (mut n, mut best) = (0, 0);
    for (_, d) in sweep {
        n += d;
        best = best.max(n);
    }
    best
}

#[test]
fn dense_trends_have_every_day_and_match_independent_daily_counts() {
    let (store, events, _) = load();
    let sessions = truth(&events, Utc::now().naive_utc());
    let to = Utc::now().date_naive();
    let from = to - Duration::days(29);
    let t = reports::trends(store.connection(), from, to, true).unwrap();
    assert_eq!(t.daily_sessions.len(), 30, "dense: every day");
    let mut first_day: HashMap<&str, NaiveDate> = HashMap::new();
    for s in sessions.values().filter(|s| !s.ci) {
        let d = s.start.date();
        first_day
            .entry(s.user.as_str())
            .and_modify(|v| *v = (*v).min(d))
            .or_insert(d);
    }
    let mut cumulative = first_day.values().filter(|d| **d < from).count() as i64;
    for (i, row) in t.daily_sessions.iter().enumerate() {
        let day = from + Duration::days(i as i64);
        assert_eq!(row.date, day.to_string());
        let today: Vec<&Truth> = sessions
            .values()
            .filter(|s| s.start.date() == day)
            .collect();
        let exec: Vec<&&Truth> = today.iter().filter(|s| !s.ci).collect();
        assert_eq!(row.count, exec.len() as i64, "{day}: exec sessions");
        assert!(
            close(
                row.total_seconds,
                exec.iter().filter_map(|s| s.duration).sum()
            ),
            "{day}"
        );
        let dau: HashSet<&str> = today
            .iter()
            .filter(|s| !s.ci)
            .map(|s| s.user.as_str())
            .collect();
        assert_eq!(t.daily_active_users[i].count, dau.len() as i64, "{day}");
        assert_eq!(
            t.daily_ci_sessions[i].count,
            today.iter().filter(|s| s.ci).count() as i64,
            "{day}"
        );
        let new = first_day.values().filter(|d| **d == day).count() as i64;
        cumulative += new;
        assert_eq!(t.user_adoption[i].new_users, new, "{day}");
        assert_eq!(t.user_adoption[i].cumulative_users, cumulative, "{day}");
    }
}
