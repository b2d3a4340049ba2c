//! The all-time rollups: the All-time usage report, read from rollups kept current commit by
//! commit, must equal every field computed from scratch from `events` with plain SQL written
//! here, independently of the product's SQL (no view, macro or derived column is used).
//!
//! The rollups `/metrics` reads (duration buckets, sessions per target, event counts) are
//! compared the same way.
//!
//! The histories arrive in random order with replays, in commits of random size; sessions
//! cross midnight and commits; some are open, some abandoned, CI sessions overlap; the CI rule
//! changes half-way and a retention delete removes the oldest sessions.

use std::sync::Arc;

use chrono::{DateTime, Duration, Timelike, Utc};
use mirrord_usage::analytics::reports::{self, Period, PrimaryKey, ReportSettings};
use mirrord_usage::batch::{EventBatch, IncomingEvent};
use mirrord_usage::event::{EventKind, OperatorEvent};
use mirrord_usage::ops::retention::{self, RetentionPolicy};
use mirrord_usage::store::Store;
use rand::Rng;
use serde_json::Value;

/// Who runs sessions: (client id, client name, Kubernetes user, hostname). Ana has two
/// machines; the last one is a CI account known by its service account only.
const PEOPLE: [(&str, &str, &str, &str); 5] = [
    ("m-ana-1", "ana", "ana@corp.example", "ana-laptop"),
    ("m-ana-2", "ana", "ana@corp.example", "ana-desktop"),
    ("m-bo", "bo", "bo@corp.example", "bo-laptop"),
    ("m-cy", "cy", "cy@corp.example", "shared-host"),
    (
        "m-ci",
        "runner",
        "system:serviceaccount:ci:mirrord-ci",
        "ci-node",
    ),
];

const TARGETS: [Option<(&str, &str)>; 5] = [
    Some(("deployment/api/container/main", "shop")),
    Some(("deployment/web", "shop")),
    Some(("pod/mirrord-copy-abc12", "shop")),
    Some(("deployment/api/container/main", "payments")),
    None,
];

/// How old a session is, which decides its fate.
#[derive(Clone, Copy, PartialEq)]
enum Age {
    /// Ten days back: removed by the retention delete.
    Old,
    /// Two to three days back.
    Past,
    /// Within the last hours, often without an end (open).
    Recent,
}

struct Session {
    age: Age,
    events: Vec<IncomingEvent>,
}

/// One random session. Closed ones often start just before a midnight and end after it.
fn session(rng: &mut impl Rng, now: DateTime<Utc>, n: usize) -> Session {
    let age = match rng.gen_range(0..10) {
        0 | 1 => Age::Old,
        2..=5 => Age::Past,
        _ => Age::Recent,
    };
    let midnight = now
        .with_hour(0)
        .unwrap()
        .with_minute(0)
        .unwrap()
        .with_second(0)
        .unwrap();
    let start = match age {
        Age::Old => midnight - Duration::days(10) - Duration::seconds(rng.gen_range(0..1200)),
        Age::Past => midnight - Duration::days(2) - Duration::seconds(rng.gen_range(-20_000..1200)),
        Age::Recent => now - Duration::seconds(rng.gen_range(600..7200)),
    };
    let has_end = match age {
        Age::Recent => rng.gen_bool(0.4),
        _ => rng.gen_bool(0.7),
    };
    let has_start = rng.gen_bool(0.85);
    // Some durations sit exactly on a histogram bound (a bound is the bucket's upper end).
    let length = if rng.gen_bool(0.2) {
        [60, 300, 900][rng.gen_range(0..3)]
    } else {
        rng.gen_range(61..1800)
    };
    let who = PEOPLE[rng.gen_range(0..PEOPLE.len())];
    let target = TARGETS[rng.gen_range(0..TARGETS.len())];
    let marker = match rng.gen_range(0..10) {
        0 | 1 => Some(true),
        2 => Some(false),
        _ => None,
    };
    let branch = rng
        .gen_bool(0.6)
        .then(|| format!("feature/SHOP-{}-work", rng.gen_range(1..6)));
    let override_key = rng
        .gen_bool(0.15)
        .then(|| format!("OPS-{}", rng.gen_range(1..3)));
    let reported = rng.gen_bool(0.8);
    let undescribed = rng.gen_bool(0.05);
    let mut kinds = Vec::new();
    if has_start {
        kinds.push((EventKind::SessionStart, 0));
    }
    for m in 0..rng.gen_range(0..4) {
        let kind = [
            EventKind::PortSteal,
            EventKind::PortMirror,
            EventKind::CopyTarget,
        ][rng.gen_range(0..3)];
        kinds.push((kind, 5 + m * 7));
    }
    if has_end {
        kinds.push((EventKind::SessionEnd, length));
    }
    if kinds.is_empty() {
        kinds.push((EventKind::PortMirror, 3));
    }
    let events = kinds
        .into_iter()
        .map(|(kind, offset)| {
            let mut e = OperatorEvent::new(kind, start + Duration::seconds(offset));
            e.session_id = Some(format!("r{n}"));
            // Some events carry no description; a few sessions none at all ('unknown').
            if !undescribed && rng.gen_bool(0.8) {
                e.client_id = Some(who.0.into());
                e.client_name = Some(who.1.into());
                e.client_user = Some(who.2.into());
                e.client_hostname = Some(who.3.into());
                if let Some((t, ns)) = target {
                    e.target = Some(t.into());
                    e.target_namespace = Some(ns.into());
                }
                e.branch = branch.clone();
                e.ci = marker;
                e.operator_version = Some("3.170.0".into());
            }
            if let Some(key) = &override_key {
                e.attributes
                    .insert("jira_key".into(), Value::String(key.clone()));
            }
            match kind {
                EventKind::PortSteal => e.port = Some(8080),
                EventKind::PortMirror => {
                    e.port = Some(80);
                    e.http_filter = rng.gen_bool(0.5).then(|| "x-user: ana".to_string());
                }
                EventKind::CopyTarget => e.scale_down = Some(rng.gen_bool(0.5)),
                _ => {}
            }
            if kind == EventKind::SessionEnd && reported {
                e.session_duration = Some(offset as f64);
            }
            IncomingEvent {
                event: e.finish(),
                format: "tracing-json",
                source: Arc::from(["otlp:127.0.0.1", "file:/var/log/operator.log"][n % 2]),
            }
        })
        .collect();
    Session { age, events }
}

/// Sends `events` in random order, a tenth of them again, in commits of random size.
fn send(store: &mut Store, rng: &mut impl Rng, mut events: Vec<IncomingEvent>) {
    use rand::seq::SliceRandom;
    events.shuffle(rng);
    let replays: Vec<IncomingEvent> = events.iter().step_by(10).cloned().collect();
    events.extend(replays);
    let mut rest = &events[..];
    while !rest.is_empty() {
        let take = rng.gen_range(1..=40).min(rest.len());
        let (now, later) = rest.split_at(take);
        let mut commit = store.begin().unwrap();
        for chunk in now.chunks(rng.gen_range(1..=take)) {
            commit
                .add_events(&EventBatch::build(chunk).unwrap())
                .unwrap();
        }
        commit.finish().unwrap();
        rest = later;
    }
}

/// Sessions from scratch: one row per session from `events`, by the rules as the README states
/// them. `{CI}` is the CI user pattern (SQL `SIMILAR TO`), `{PK}` the primary key.
const SCRATCH: &str = "
ss AS (
    SELECT session_id,
        min(timestamp) FILTER (WHERE kind = 'session_start') AS started,
        max(timestamp) FILTER (WHERE kind = 'session_end') AS ended,
        max(session_duration) FILTER (WHERE kind = 'session_end') AS reported,
        min(timestamp) AS first_seen,
        max(timestamp) AS last_seen,
        min(client_id) AS client_id, min(client_name) AS client_name,
        min(client_user) AS client_user, min(client_hostname) AS client_hostname,
        min(target_namespace) AS ns, min(target_type) AS ttype, min(target_name) AS tname,
        bool_or(ci) AS marker, min(branch) AS branch,
        min(attributes->>'jira_key') AS override_key
    FROM events WHERE session_id IS NOT NULL GROUP BY session_id
),
s AS (
    SELECT *,
        CASE WHEN marker IS NOT NULL THEN (CASE WHEN marker THEN 'ci' ELSE 'exec' END)
             WHEN coalesce(client_user, '') SIMILAR TO '{CI}' THEN 'ci' ELSE 'exec' END AS kind,
        coalesce(started, ended - to_seconds(coalesce(reported, 0)), first_seen) AS start,
        coalesce(client_user, client_name, client_hostname, client_id, 'unknown') AS person,
        CASE WHEN ended IS NOT NULL
                 THEN coalesce(reported, greatest(0, epoch(ended) - epoch(coalesce(started, first_seen))))
             WHEN epoch(CAST(current_timestamp AS TIMESTAMP)) - epoch(last_seen) > 86400
                 THEN epoch(last_seen) - epoch(coalesce(started, first_seen))
        END AS seconds,
        CASE WHEN ended IS NULL AND epoch(CAST(current_timestamp AS TIMESTAMP)) - epoch(last_seen) <= 86400
             THEN true ELSE false END AS is_open,
        coalesce(override_key, regexp_extract(branch, '[A-Z]+-[0-9]+')) AS jira,
        coalesce(tname, ttype, 'unknown') AS tlabel
    FROM ss
),
u AS (
    SELECT *, coalesce(CASE '{PK}' WHEN 'username' THEN client_user WHEN 'client_username' THEN client_name
                                   WHEN 'client_hostname' THEN client_hostname ELSE client_id END, person) AS who
    FROM s
)";

/// The expected sections, each a JSON value named as the report names its fields.
const EXPECTED: [(&str, &str); 9] = [
    (
        "allTimeMetrics",
        "SELECT to_json({'totalSessionCount': count(*) FILTER (WHERE kind = 'exec'),
            'totalSessionTimeSeconds': coalesce(sum(seconds) FILTER (WHERE kind = 'exec'), 0),
            'totalCiSessionCount': count(*) FILTER (WHERE kind = 'ci')}) FROM u",
    ),
    (
        "periodMetrics",
        "SELECT to_json({'sessionCount': count(*), 'sessionTimeSeconds': coalesce(sum(seconds), 0),
            'ciSessionCount': count(*) FILTER (WHERE kind = 'ci'),
            'activeUsers': count(DISTINCT who) FILTER (WHERE kind = 'exec'),
            'uniqueMachines': count(DISTINCT client_id) FILTER (WHERE kind = 'exec')}) FROM u",
    ),
    (
        "ciMetrics",
        "SELECT to_json({'currentRunningSessions': count(*) FILTER (WHERE is_open),
            'totalCiSessions': count(*), 'avgCiSessionDurationSeconds': avg(seconds)}) FROM u WHERE kind = 'ci'",
    ),
    (
        "userMetrics",
        "SELECT to_json(coalesce(list(r ORDER BY r.totalSessionTimeSeconds DESC, r.totalSessionCount DESC, r.identifier), [])) FROM (
            SELECT {'identifier': who, 'displayName': min(client_name), 'clientUser': min(client_user),
                'hostname': min(client_hostname),
                'firstActive': strftime(min(start), '%Y-%m-%dT%H:%M:%SZ'),
                'lastSeen': strftime(max(coalesce(ended, last_seen)), '%Y-%m-%dT%H:%M:%SZ'),
                'totalSessionCount': count(*), 'totalSessionTimeSeconds': coalesce(sum(seconds), 0),
                'averageSessionDurationSeconds': coalesce(sum(seconds), 0) / count(*),
                'averageDailySessions': count(*) / (SELECT greatest(1, ceil((epoch(CAST(current_timestamp AS TIMESTAMP)) - epoch(min(start))) / 86400)) FROM u),
                'ciSessionCount': count(*) FILTER (WHERE kind = 'ci'),
                'averageSessionsPerActiveDay': count(*) / count(DISTINCT CAST(start AS DATE))} AS r
            FROM u GROUP BY who)",
    ),
    (
        "targetMetrics",
        "SELECT to_json(coalesce(list(r ORDER BY r.sessions DESC, r.target, r.namespace, r.targetType), [])) FROM (
            SELECT {'namespace': ns, 'targetType': ttype, 'target': tlabel, 'sessions': count(*),
                'totalSessionTimeSeconds': coalesce(sum(seconds), 0), 'uniqueUsers': count(DISTINCT who)} AS r
            FROM u WHERE kind = 'exec' AND coalesce(tname, '') NOT LIKE 'mirrord-copy-%' GROUP BY ns, ttype, tlabel)",
    ),
    (
        "userTargetMetrics",
        "SELECT to_json(coalesce(list(r ORDER BY r.sessions DESC, r.identifier, r.target, r.namespace, r.targetType), [])) FROM (
            SELECT {'identifier': who, 'displayName': min(client_name), 'namespace': ns, 'targetType': ttype,
                'target': tlabel, 'sessions': count(*), 'totalSessionTimeSeconds': coalesce(sum(seconds), 0)} AS r
            FROM u WHERE kind = 'exec' AND coalesce(tname, '') NOT LIKE 'mirrord-copy-%' GROUP BY who, ns, ttype, tlabel)",
    ),
    (
        "namespaceMetrics",
        "SELECT to_json(coalesce(list(r ORDER BY r.sessions DESC, r.namespace), [])) FROM (
            SELECT {'namespace': coalesce(ns, '(none)'), 'sessions': count(*),
                'totalSessionTimeSeconds': coalesce(sum(seconds), 0), 'uniqueUsers': count(DISTINCT who)} AS r
            FROM u GROUP BY coalesce(ns, '(none)'))",
    ),
    (
        "jiraMetrics",
        "SELECT to_json(coalesce(list(r ORDER BY r.totalSessionTimeSeconds DESC, r.key), [])) FROM (
            SELECT {'key': jira, 'sessions': count(*), 'totalSessionTimeSeconds': coalesce(sum(seconds), 0),
                'uniqueUsers': count(DISTINCT person),
                'firstUsed': strftime(min(start), '%Y-%m-%dT%H:%M:%SZ'),
                'lastUsed': strftime(max(coalesce(ended, last_seen)), '%Y-%m-%dT%H:%M:%SZ'),
                'ciSessions': count(*) FILTER (WHERE kind = 'ci'),
                'execSessions': count(*) FILTER (WHERE kind = 'exec')} AS r
            FROM u WHERE jira IS NOT NULL GROUP BY jira)",
    ),
    (
        "uniqueMachines",
        "SELECT to_json(count(DISTINCT client_id) FILTER (WHERE kind = 'exec')) FROM u",
    ),
];

/// Equal as JSON, numbers within a relative 1e-9 (sums of seconds are added in another order).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// Every rollup-backed field of the All-time report, for every primary key, against scratch.
fn check(store: &Store, ci_pattern: &str, when: &str) {
    // What the commits left pending merged first, as the writer does before a report.
    store.catch_up().unwrap();
    let conn = store.connection();
    let all = Period {
        from: None,
        to: None,
    };
    for (key, name) in [
        (PrimaryKey::MachineId, "machine_id"),
        (PrimaryKey::Username, "username"),
        (PrimaryKey::ClientUsername, "client_username"),
        (PrimaryKey::ClientHostname, "client_hostname"),
    ] {
        let report = serde_json::to_value(
            reports::usage(conn, all, key, &ReportSettings::default()).unwrap(),
        )
        .unwrap();
        let scratch = SCRATCH.replace("{CI}", ci_pattern).replace("{PK}", name);
        for (field, sql) in EXPECTED {
            let text: String = conn
                .query_row(&format!("WITH {scratch} {sql}"), [], |r| r.get(0))
                .unwrap();
            let expected: Value = serde_json::from_str(&text).unwrap();
            let mut actual = report[field].clone();
            // Directory labels are not rollups (none is imported here); tests/adoption.rs
            // checks them.
            if let Some(rows) = actual.as_array_mut() {
                for row in rows.iter_mut().filter_map(|r| r.as_object_mut()) {
                    for label in ["personId", "personName", "team"] {
                        row.remove(label);
                    }
                }
            }
            if field == "ciMetrics" {
                // Concurrency is checked by the reports tests; here, what the rollups feed.
                actual
                    .as_object_mut()
                    .unwrap()
                    .remove("maxConcurrentCiSessions");
            }
            assert!(
                same(&expected, &actual),
                "{when}, primary_key={name}: {field} differs\n  from scratch: {expected}\n  report:       {actual}"
            );
        }
        let sessions = report["periodMetrics"]["sessionCount"].as_i64().unwrap();
        assert!(sessions > 0, "{when}: the history has sessions");
    }
    check_metrics(store, ci_pattern, when);
}

/// What `/metrics` reads from the rollups, against scratch: closed sessions per kind and
/// duration bucket (the bounds written out here), sessions and closed time per target, and
/// stored events per kind, source and target (Copy Target's pods as one `mirrord-copy-*`).
const METRICS: [(&str, &str, &str); 3] = [
    (
        "duration buckets",
        "SELECT kind, bucket, sessions, round(seconds, 6) FROM usage_durations",
        "SELECT kind, CASE WHEN seconds <= 60 THEN 0 WHEN seconds <= 300 THEN 1 WHEN seconds <= 900 THEN 2
                WHEN seconds <= 1800 THEN 3 WHEN seconds <= 3600 THEN 4 WHEN seconds <= 7200 THEN 5
                WHEN seconds <= 14400 THEN 6 WHEN seconds <= 28800 THEN 7 ELSE 8 END AS b,
            count(*), round(sum(seconds), 6)
         FROM u WHERE ended IS NOT NULL GROUP BY kind, b",
    ),
    (
        "sessions per target",
        "SELECT kind, target_namespace, target_type, target_name, sum(sessions), round(sum(closed_seconds), 6)
         FROM usage_targets GROUP BY ALL",
        "SELECT kind, ns, ttype, tname, count(*), round(coalesce(sum(seconds) FILTER (WHERE ended IS NOT NULL), 0), 6)
         FROM u GROUP BY ALL",
    ),
    (
        "events",
        "SELECT kind, source, target_namespace, target_name, filtered, scale_down, events FROM usage_events",
        "SELECT kind, split_part(source, ':', 1), target_namespace,
            CASE WHEN target_name LIKE 'mirrord-copy-%' THEN 'mirrord-copy-*' ELSE target_name END,
            http_filter IS NOT NULL, scale_down, count(*)
         FROM events GROUP BY ALL",
    ),
];

fn check_metrics(store: &Store, ci_pattern: &str, when: &str) {
    let scratch = SCRATCH
        .replace("{CI}", ci_pattern)
        .replace("{PK}", "username");
    for (what, rollup, expected) in METRICS {
        let sql = format!(
            "WITH {scratch}, a AS ({rollup}), b AS ({expected})
             SELECT CAST(d AS VARCHAR) FROM (
                 (SELECT 'rollup only' AS side, * FROM (FROM a EXCEPT ALL FROM b))
                 UNION ALL (SELECT 'scratch only', * FROM (FROM b EXCEPT ALL FROM a))) d"
        );
        let mut stmt = store.connection().prepare(&sql).unwrap();
        let differences: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            differences.is_empty(),
            "{when}: {what} differ:\n{}",
            differences.join("\n")
        );
    }
}

#[test]
fn the_all_time_report_from_rollups_equals_a_from_scratch_computation_from_events() {
    use rand::SeedableRng;
    let default_ci = "system:serviceaccount:[^:]+:mirrord-ci";
    let changed_ci = "bo@corp.example";
    for seed in [11u64, 12, 13] {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let now = Utc::now();
        let sessions: Vec<Session> = (0..160).map(|n| session(&mut rng, now, n)).collect();
        // The old sessions all arrive before the retention delete, with part of the rest.
        let (mut first, mut second, mut third) = (Vec::new(), Vec::new(), Vec::new());
        for s in &sessions {
            for e in &s.events {
                match (s.age, rng.gen_range(0..10)) {
                    (Age::Old, _) | (_, 0..=3) => first.push(e.clone()),
                    (_, 4..=6) => second.push(e.clone()),
                    _ => third.push(e.clone()),
                }
            }
        }
        let mut store = mirrord_usage::database::open(":memory:").unwrap();
        send(&mut store, &mut rng, first);
        check(&store, default_ci, &format!("seed {seed}, first part"));

        // The CI rule changes: bo's sessions become CI, the service account's become exec.
        store
            .connection()
            .execute(
                "INSERT OR REPLACE INTO settings VALUES ('ci_user_regex', '^bo@corp[.]example$')",
                [],
            )
            .unwrap();
        store.refresh_views().unwrap();
        check(&store, changed_ci, &format!("seed {seed}, CI rule changed"));
        send(&mut store, &mut rng, second);
        check(&store, changed_ci, &format!("seed {seed}, second part"));

        // Retention: events and sessions older than five days go.
        let policy = RetentionPolicy {
            days: 5,
            keep_sessions_days: 5,
        };
        let removed = retention::apply(store.connection(), policy, Utc::now(), false).unwrap();
        assert!(
            removed.sessions > 0,
            "seed {seed}: the old sessions are deleted"
        );
        check(&store, changed_ci, &format!("seed {seed}, after retention"));
        send(&mut store, &mut rng, third);
        check(&store, changed_ci, &format!("seed {seed}, last part"));
    }
}
