//! The session fold: `session_state` kept current commit by commit must be what a from-scratch
//! aggregation of `events` gives, whatever the order, batch sizes and replays.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use mirrord_usage::batch::IncomingEvent;
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
