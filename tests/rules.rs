//! One rule, read everywhere: on one data set (generated activity plus hand-made near misses),
//! the API's session kinds (the `sessions` view, from the `[sessions]` defaults) are exactly the
//! generated dashboards' CI condition (`dashboards::model::CI_SESSION`, which every vendor
//! renderer translates) evaluated on each session's fields, and the targets both leave out are
//! the same copy pods.

use std::sync::Arc;

use chrono::{NaiveDate, TimeZone, Utc};
use mirrord_usage::batch::IncomingEvent;
use mirrord_usage::dashboards::model::{CI_SESSION, Cond, Field, NOT_COPY_POD, glob_to_regex};
use mirrord_usage::event::{EventKind, OperatorEvent};
use mirrord_usage::generate::{self, GenerateOptions};

/// A session as the API stores it: id, kind, user, name, target name, and whether the
/// `targets` view lists that target.
type Row = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<bool>,
);

/// Whether `cond` holds for a session with these fields (the dashboards see them on every
/// functional event of the session).
fn holds(cond: &Cond, user: Option<&str>, name: Option<&str>, target: Option<&str>) -> bool {
    match cond {
        Cond::Glob(field, glob) => {
            let value = match field {
                Field::ClientUser => user,
                Field::ClientName => name,
                Field::TargetName => target,
                other => panic!("the test reads no {other:?}"),
            };
            let re = regex::Regex::new(&format!("^{}$", glob_to_regex(glob))).unwrap();
            value.is_some_and(|v| re.is_match(v))
        }
        Cond::Not(inner) => !holds(inner, user, name, target),
        Cond::Any(conds) => conds.iter().any(|c| holds(c, user, name, target)),
    }
}

/// Sessions whose users or names come near the CI rule without matching it, and ones that do.
fn near_misses() -> Vec<OperatorEvent> {
    let cases = [
        (
            "n1",
            "system:serviceaccount:ci:mirrord-ci",
            "someone",
            "api",
        ),
        (
            "n2",
            "system:serviceaccount:ci:mirrord-ci-2",
            "someone",
            "api",
        ),
        ("n3", "mirrord-ci", "mirrord-ci", "api"),
        ("n4", "bob@corp", "mirrord-ci@acme", "mirrord-copy-x1y2"),
        ("n5", "bob@corp", "ci/mirrord-ci", "web"),
        ("n6", "ci-bot", "xmirrord-ci@acme", "mirrord-copyx"),
    ];
    cases
        .iter()
        .map(|(id, user, name, target)| {
            let mut e = OperatorEvent::new(
                EventKind::SessionStart,
                Utc.with_ymd_and_hms(2026, 5, 4, 10, 0, 0).unwrap(),
            );
            e.session_id = Some(id.to_string());
            e.client_user = Some(user.to_string());
            e.client_name = Some(name.to_string());
            e.target = Some(format!("pod/{target}"));
            e.finish()
        })
        .collect()
}

#[test]
fn the_api_and_the_generated_dashboards_count_the_same_sessions_as_ci() {
    let mut events = generate::events(&GenerateOptions {
        users: 30,
        days: 30,
        seed: 5,
        end: NaiveDate::from_ymd_opt(2026, 5, 31).unwrap(),
        max_events: None,
    });
    events.extend(near_misses());
    let incoming: Vec<IncomingEvent> = events
        .into_iter()
        .map(|event| IncomingEvent {
            event,
            format: "generated",
            source: Arc::from("test"),
        })
        .collect();
    let mut store = mirrord_usage::database::open(":memory:").unwrap();
    store.append(&incoming, &[], &[]).unwrap();
    let mut stmt = store
        .connection()
        .prepare("SELECT session_id, kind, client_user, client_name, target_name, target_name IN (SELECT target_name FROM targets) FROM sessions")
        .unwrap();
    let rows: Vec<Row> = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let (mut ci, mut exec, mut copies) = (0, 0, 0);
    for (id, kind, user, name, target, in_targets) in &rows {
        let dashboards_ci = holds(&CI_SESSION, user.as_deref(), name.as_deref(), None);
        assert_eq!(
            kind == "ci",
            dashboards_ci,
            "{id}: the API says {kind}, the dashboards' rule {dashboards_ci} ({user:?}, {name:?})"
        );
        if dashboards_ci {
            ci += 1
        } else {
            exec += 1
        }
        if let Some(target) = target {
            let dashboards_target = holds(&NOT_COPY_POD, None, None, Some(target));
            assert_eq!(
                in_targets.unwrap_or(false),
                dashboards_target,
                "{id}: target {target}"
            );
            copies += usize::from(!dashboards_target);
        }
    }
    assert!(ci > 0 && exec > 0, "both kinds occur: {ci} CI, {exec} exec");
    assert!(copies > 0, "copy pods occur");
    let near: Vec<(&str, &str)> = rows
        .iter()
        .filter(|r| r.0.starts_with('n'))
        .map(|r| (r.0.as_str(), r.1.as_str()))
        .collect::<std::collections::BTreeMap<_, _>>()
        .into_iter()
        .collect();
    // By hand: the service account (n1) and the certificate name (n4) are CI; the rest only
    // resemble them.
    assert_eq!(
        near,
        [
            ("n1", "ci"),
            ("n2", "exec"),
            ("n3", "exec"),
            ("n4", "ci"),
            ("n5", "exec"),
            ("n6", "exec")
        ]
    );
}
