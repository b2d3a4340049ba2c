//! The session fold: `session_state` kept current commit by commit must be what a from-scratch
//! aggregation of `events` gives, whatever the order, batch sizes and replays.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use mirrord_usage::batch::{EventBatch, IncomingEvent};
use mirrord_usage::event::{EventKind, OperatorEvent};
use mirrord_usage::store::Store;

fn event(kind: EventKind, secs: i64, session: &str) -> IncomingEvent {
    let mut e = OperatorEvent::new(kind, Utc.timestamp_opt(1_767_000_000 + secs, 0).unwrap());
    e.session_id = Some(session.into());
    e.client_id = Some("machine-1".into());
    e.client_user = Some("ana@corp.example".into());
    e.target = Some("deployment/api/container/main".into());
    e.target_namespace = Some("shop".into());
    if kind == EventKind::SessionEnd {
        e.session_duration = Some(secs as f64 - 10.0);
    }
    if kind == EventKind::PortSteal {
        e.port = Some(8080);
    }
    IncomingEvent {
        event: e.finish(),
        format: "tracing-json",
        source: Arc::from("test"),
    }
}

fn session_row(store: &Store, id: &str) -> (Option<String>, String, Option<f64>, i64, String) {
    store
        .connection()
        .query_row(
            "SELECT CAST(started_at AS VARCHAR), status, duration_seconds, event_count, array_to_string(ports_stolen, ',') FROM sessions WHERE session_id = ?",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap()
}

#[test]
fn sessions_fold_across_batches_in_any_order_and_replays_change_nothing() {
    let mut store = mirrord_usage::database::open(":memory:").unwrap();
    let end = [event(EventKind::SessionEnd, 70, "s1")];
    let first = store.append(&end, &[], &[]).unwrap();
    assert_eq!(first.stored, 1);
    let (started, status, duration, count, _) = session_row(&store, "s1");
    assert_eq!(status, "closed", "an end without a start still counts");
    assert_eq!(duration, Some(60.0));
    assert_eq!(
        started.as_deref(),
        Some("2025-12-29 09:20:10"),
        "start = end - duration"
    );
    assert_eq!(count, 1);

    let rest = [
        event(EventKind::SessionStart, 10, "s1"),
        event(EventKind::PortSteal, 20, "s1"),
    ];
    let second = store.append(&rest, &[], &[]).unwrap();
    assert_eq!(second.stored, 2);
    let (started, status, _, count, ports) = session_row(&store, "s1");
    assert_eq!(started.as_deref(), Some("2025-12-29 09:20:10"));
    assert_eq!(
        (status.as_str(), count, ports.as_str()),
        ("closed", 3, "8080")
    );

    let mut all: Vec<IncomingEvent> = rest.to_vec();
    all.extend(end.iter().cloned());
    all.push(all[0].clone());
    let replay = store.append(&all, &[], &[]).unwrap();
    assert_eq!((replay.stored, replay.duplicates), (0, 4));
    assert_eq!(
        session_row(&store, "s1").3,
        3,
        "a replay must not inflate the session"
    );
}

/// The columns of `session_state`, lists sorted so that element order doesn't matter, and an
/// empty list the same as none (both read as "no ports", "no filters" everywhere).
const COLUMNS: &str = "session_id, started_at, ended_at, first_seen_at, last_seen_at, \
     reported_duration, client_id, client_name, client_hostname, client_user, client_cli_version, \
     target, target_type, target_name, target_namespace, target_container, branch, ci_flag, \
     CAST(coalesce(list_sort(ports_stolen), []) AS VARCHAR) AS stolen, \
     CAST(coalesce(list_sort(ports_mirrored), []) AS VARCHAR) AS mirrored, \
     CAST(coalesce(list_sort(http_filters), []) AS VARCHAR) AS filters, copy_target, scale_down, trace_id, \
     operator_version, event_count, jira_override, cluster, kind, jira_key, start_at, closed_seconds, identity";

/// `session_state` as a from-scratch aggregation of every stored event, written here
/// independently of `fold_sessions.sql`. Within a session every descriptive field carries one
/// value (or none) in the generated histories, so `min` picks it whatever the order.
const SCRATCH: &str = "SELECT session_id,
        min(timestamp) FILTER (WHERE kind = 'session_start') AS started_at,
        max(timestamp) FILTER (WHERE kind = 'session_end') AS ended_at,
        min(timestamp) AS first_seen_at,
        max(timestamp) AS last_seen_at,
        max(session_duration) FILTER (WHERE kind = 'session_end') AS reported_duration,
        min(client_id) AS client_id, min(client_name) AS client_name,
        min(client_hostname) AS client_hostname, min(client_user) AS client_user,
        min(client_cli_version) AS client_cli_version, min(target) AS target,
        min(target_type) AS target_type, min(target_name) AS target_name,
        min(target_namespace) AS target_namespace, min(target_container) AS target_container,
        min(branch) AS branch, bool_or(ci) AS ci_flag,
        list_distinct(list(port) FILTER (WHERE kind = 'port_steal')) AS ports_stolen,
        list_distinct(list(port) FILTER (WHERE kind = 'port_mirror')) AS ports_mirrored,
        list_distinct(list(http_filter) FILTER (WHERE http_filter IS NOT NULL)) AS http_filters,
        bool_or(kind = 'copy_target') AS copy_target, bool_or(scale_down) AS scale_down,
        min(trace_id) AS trace_id, min(operator_version) AS operator_version,
        count(*) AS event_count,
        min(coalesce(attributes->>'jira_key', attributes->>'jira_issue')) AS jira_override,
        min(cluster) AS cluster,
        -- The derived columns, by the rules as the README states them: an explicit CI marker,
        -- else the CI service account ({CI_USER}); the first key in the override, else in the
        -- branch; the start, else end minus duration, else the first event; the duration once
        -- ended; the Kubernetes user, else name, host, client id.
        CASE WHEN bool_or(ci) IS NOT NULL THEN CASE WHEN bool_or(ci) THEN 'ci' ELSE 'exec' END
             WHEN coalesce(min(client_user), '') SIMILAR TO '{CI_USER}' THEN 'ci' ELSE 'exec' END AS kind,
        coalesce(nullif(regexp_extract(min(coalesce(attributes->>'jira_key', attributes->>'jira_issue')), '[A-Z][A-Z0-9_]+-[1-9][0-9]*'), ''),
                 nullif(regexp_extract(min(branch), '[A-Z][A-Z0-9_]+-[1-9][0-9]*'), '')) AS jira_key,
        coalesce(min(timestamp) FILTER (WHERE kind = 'session_start'),
                 max(timestamp) FILTER (WHERE kind = 'session_end')
                   - to_seconds(coalesce(max(session_duration) FILTER (WHERE kind = 'session_end'), 0)),
                 min(timestamp)) AS start_at,
        CASE WHEN max(timestamp) FILTER (WHERE kind = 'session_end') IS NOT NULL THEN
            coalesce(max(session_duration) FILTER (WHERE kind = 'session_end'),
                     greatest(0, epoch(max(timestamp) FILTER (WHERE kind = 'session_end'))
                                 - epoch(coalesce(min(timestamp) FILTER (WHERE kind = 'session_start'), min(timestamp)))))
        END AS closed_seconds,
        coalesce(min(client_user), min(client_name), min(client_hostname), min(client_id), 'unknown') AS identity
    FROM events WHERE session_id IS NOT NULL GROUP BY session_id";

/// The CI service account the histories use for CI sessions without a marker, and a pattern
/// (SQL `SIMILAR TO`) that the default `ci_user_regex` agrees with on these histories.
const CI_ACCOUNT: &str = "system:serviceaccount:ci:mirrord-ci";

/// A random history: sessions with and without a start or an end, open ones, old (abandoned)
/// ones, descriptive fields missing on some events, ports, filters, Jira overrides.
fn history(rng: &mut impl rand::Rng, sessions: usize) -> Vec<IncomingEvent> {
    let mut out = Vec::new();
    for s in 0..sessions {
        let id = format!("s{s}");
        // Old sessions (two days back) become abandoned when left open.
        let base = if rng.gen_bool(0.3) { -200_000 } else { 0 } + (s as i64) * 37;
        let has_start = rng.gen_bool(0.9);
        let has_end = rng.gen_bool(0.6);
        let ci = rng.gen_bool(0.2).then_some(true);
        let jira = rng.gen_bool(0.3).then(|| format!("SHOP-{}", s + 1));
        let middle = rng.gen_range(0..6);
        let mut kinds = Vec::new();
        if has_start {
            kinds.push((EventKind::SessionStart, 0));
        }
        for m in 0..middle {
            let kind = [
                EventKind::PortSteal,
                EventKind::PortMirror,
                EventKind::CopyTarget,
                EventKind::PortRelease,
            ][rng.gen_range(0..4)];
            kinds.push((kind, 5 + m as i64 * 3));
        }
        if has_end {
            kinds.push((EventKind::SessionEnd, 60 + rng.gen_range(0..600)));
        }
        for (kind, offset) in kinds {
            let at = Utc.timestamp_opt(1_767_000_000 + base + offset, 0).unwrap();
            let mut e = OperatorEvent::new(kind, at);
            e.session_id = Some(id.clone());
            let described = rng.gen_bool(0.7);
            if described {
                e.client_id = Some(format!("machine-{}", s % 5));
                e.client_name = Some(format!("user{}", s % 4));
                // Every seventh session unmarked CI, known by its service account only.
                e.client_user = Some(if s % 7 == 3 && ci.is_none() {
                    CI_ACCOUNT.to_string()
                } else {
                    format!("user{}@corp.example", s % 4)
                });
                e.client_hostname = Some(format!("host-{}", s % 3));
                e.target = Some(format!("deployment/api-{}/container/main", s % 3));
                e.target_namespace = Some("shop".into());
                e.branch = Some(format!("feature/SHOP-{s}"));
                e.operator_version = Some("3.170.0".into());
                e.trace_id = Some(format!("trace-{s}"));
                e.cluster = (s % 3 != 0).then(|| format!("cluster-{}", s % 2));
                e.ci = ci;
            }
            if let Some(key) = &jira
                && rng.gen_bool(0.5)
            {
                e.attributes
                    .insert("jira_key".into(), serde_json::Value::String(key.clone()));
            }
            match kind {
                EventKind::PortSteal | EventKind::PortMirror => {
                    e.port = Some([80, 443, 8080][rng.gen_range(0..3)]);
                    if rng.gen_bool(0.5) {
                        e.http_filter = Some(format!("x-user: {}", rng.gen_range(0..3)));
                    }
                }
                EventKind::CopyTarget => e.scale_down = Some(rng.gen_bool(0.5)),
                EventKind::SessionEnd => e.session_duration = Some((offset) as f64),
                _ => {}
            }
            out.push(IncomingEvent {
                event: e.finish(),
                format: "tracing-json",
                source: Arc::from("test"),
            });
        }
    }
    out
}

/// Rows of `session_state` and of the from-scratch aggregation that the other lacks.
fn fold_differences(store: &Store) -> (i64, Vec<String>) {
    fold_differences_with(store, "system:serviceaccount:[^:]+:mirrord-ci")
}

/// [`fold_differences`] with `ci_user` as the CI user pattern of the from-scratch side.
fn fold_differences_with(store: &Store, ci_user: &str) -> (i64, Vec<String>) {
    let scratch = SCRATCH.replace("{CI_USER}", ci_user);
    let query = format!(
        "WITH scratch AS ({scratch}),
         a AS (SELECT {COLUMNS} FROM session_state), b AS (SELECT {COLUMNS} FROM scratch),
         d AS ((SELECT 'folded only' AS side, * FROM (FROM a EXCEPT ALL FROM b))
               UNION ALL (SELECT 'scratch only', * FROM (FROM b EXCEPT ALL FROM a)))
         SELECT (SELECT count(*) FROM a), CAST(d AS VARCHAR) FROM d
         UNION ALL SELECT (SELECT count(*) FROM a), NULL WHERE NOT EXISTS (FROM d)"
    );
    let mut stmt = store.connection().prepare(&query).unwrap();
    let rows: Vec<(i64, Option<String>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let count = rows.first().map(|r| r.0).unwrap_or(0);
    (count, rows.into_iter().filter_map(|r| r.1).collect())
}

#[test]
fn the_incremental_fold_equals_a_from_scratch_aggregation_for_any_order_batching_and_replays() {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    for seed in [1u64, 2, 3] {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let events = history(&mut rng, 80);
        let sessions = events
            .iter()
            .map(|e| e.event.session_id.clone())
            .collect::<std::collections::HashSet<_>>()
            .len() as i64;
        // (events per batch, batches per commit): one batch per commit as the receivers
        // mostly send, and commits of several batches as `ingest` and group commit make.
        for (batch, per_commit) in [(1usize, 1usize), (7, 1), (7, 5), (64, 1), (64, 3)]
            .into_iter()
            .chain([(events.len(), 1)])
        {
            // Random order, and a tenth of the events sent again later.
            let mut sent = events.clone();
            sent.shuffle(&mut rng);
            let replays: Vec<IncomingEvent> = sent.iter().step_by(10).cloned().collect();
            sent.extend(replays);
            let mut store = mirrord_usage::database::open(":memory:").unwrap();
            for commit_events in sent.chunks(batch * per_commit) {
                let mut commit = store.begin().unwrap();
                for chunk in commit_events.chunks(batch) {
                    commit
                        .add_events(&EventBatch::build(chunk).unwrap())
                        .unwrap();
                }
                commit.finish().unwrap();
            }
            let (count, differences) = fold_differences(&store);
            assert_eq!(
                count, sessions,
                "seed {seed}, batch {batch} x {per_commit}: sessions"
            );
            assert!(
                differences.is_empty(),
                "seed {seed}, batch {batch} x {per_commit}: the folded state differs from scratch:\n{}",
                differences.join("\n")
            );
        }
    }
}

/// A CI rule changed after the sessions were folded: the next `refresh_views` (what `serve`
/// runs at start after copying the config into `settings`) recomputes every stored session's
/// kind, and the result equals the from-scratch aggregation under the new rule.
#[test]
fn a_changed_ci_rule_recomputes_the_stored_kinds() {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let events = history(&mut rng, 120);
    let (first, rest) = events.split_at(events.len() * 3 / 5);
    let mut store = mirrord_usage::database::open(":memory:").unwrap();
    for chunk in first.chunks(50) {
        store.append(chunk, &[], &[]).unwrap();
    }
    assert_eq!(fold_differences(&store).1, Vec::<String>::new());
    let ci = |store: &Store| -> i64 {
        store
            .connection()
            .query_row("SELECT count(*) FROM sessions WHERE kind = 'ci'", [], |r| {
                r.get(0)
            })
            .unwrap()
    };
    let before = ci(&store);
    store
        .connection()
        .execute(
            "INSERT OR REPLACE INTO settings VALUES ('ci_user_regex', '^user1@corp[.]example$')",
            [],
        )
        .unwrap();
    store.refresh_views().unwrap();
    let (count, differences) = fold_differences_with(&store, "user1@corp.example");
    assert!(count > 0);
    assert!(
        differences.is_empty(),
        "after the rule change:\n{}",
        differences.join("\n")
    );
    assert_ne!(
        ci(&store),
        before,
        "the new rule moved sessions between kinds"
    );
    // Later commits (new sessions and more events of folded ones) fold with the new rule.
    for chunk in rest.chunks(50) {
        store.append(chunk, &[], &[]).unwrap();
    }
    let (_, differences) = fold_differences_with(&store, "user1@corp.example");
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}
