//! The Jira REST sink (`[jira.rest]`) end to end: the real `serve`, `jira check` and `jira sync`
//! against a local HTTPS stand-in of Jira's REST API (`tests/common/jira_standin.rs`), which
//! the product trusts through `[jira] ca_file` as it would a private CA. The stand-in checks
//! every request's method, path, auth header and JSON body against Atlassian's documented
//! shapes; each test asserts it found nothing off-spec.
//!
//! Every expected number is worked out by hand in the test from the sessions it feeds, and
//! compared with what the stand-in holds and with the reports API.

mod common;
#[path = "common/jira_standin.rs"]
mod jira_standin;
#[path = "common/pki.rs"]
mod pki;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use common::operator::{closed, closed_at};
use common::{Server, ok, run};
use jira_standin::{Field, Flavor, Inject, Issue, Seen, StandIn, basic, text_of};
use serde_json::{Value, json};

const EMAIL: &str = "bot@corp.example";
const TOKEN: &str = "cloud-api-t0ken";
const PAT: &str = "dc-personal-access-t0ken";

const SESSIONS: &str = "customfield_10050";
const HOURS: &str = "customfield_10051";
const USERS: &str = "customfield_10052";
const CI: &str = "customfield_10053";
const LAST_USER: &str = "customfield_10054";
/// A text field that is not ours: the wrong type for a count.
const NOTES: &str = "customfield_10060";

/// The fields created in Jira as docs/jira.md says (plus one unrelated text field).
fn jira_fields() -> Vec<Field> {
    let f = |id, name, kind| Field { id, name, kind };
    vec![
        f(SESSIONS, "mirrord sessions", "number"),
        f(HOURS, "mirrord hours", "number"),
        f(USERS, "mirrord users", "number"),
        f(CI, "mirrord CI sessions", "number"),
        f(LAST_USER, "mirrord last user", "string"),
        f(NOTES, "Release notes", "string"),
    ]
}

/// A stand-in of `flavor` that knows `issues` and accepts only our credentials.
fn jira(flavor: Flavor, issues: &[&str]) -> Arc<StandIn> {
    let auth = match flavor {
        Flavor::Cloud => basic(EMAIL, TOKEN),
        Flavor::DataCenter => format!("Bearer {PAT}"),
    };
    let issues: Vec<(&str, Issue)> = issues
        .iter()
        .map(|k| {
            let issue = Issue {
                summary: format!("Work on {k}"),
                ..Default::default()
            };
            (*k, issue)
        })
        .collect();
    StandIn::start(flavor, &auth, jira_fields(), &issues)
}

/// All five fields of `[jira.rest]`.
fn all_fields() -> String {
    format!(
        "sessions_field = \"{SESSIONS}\"\nhours_field = \"{HOURS}\"\nusers_field = \"{USERS}\"\n\
         ci_sessions_field = \"{CI}\"\nlast_user_field = \"{LAST_USER}\"\n"
    )
}

/// The config text: `[jira] ca_file` with the stand-in's CA, fast retries, and `[jira.rest]`
/// with the stand-in's URL, its credentials and `rest` (fields, property, comment, interval).
fn config_text(dir: &Path, j: &StandIn, rest: &str) -> String {
    let ca = dir.join("jira-ca.pem");
    std::fs::write(&ca, &j.ca_pem).unwrap();
    let auth = match j.flavor {
        Flavor::Cloud => {
            format!("deployment = \"cloud\"\nemail = \"{EMAIL}\"\napi_token = \"{TOKEN}\"\n")
        }
        Flavor::DataCenter => {
            format!("deployment = \"data_center\"\npersonal_access_token = \"{PAT}\"\n")
        }
    };
    format!(
        "[sessions]\nabandon_after_seconds = 86400\n\n[jira]\nca_file = \"{}\"\ntimeout_ms = 5000\n\
         retry_initial_ms = 100\nretry_max_ms = 400\nabandoned_sweep_interval_ms = 200\n\n\
         [jira.rest]\nbase_url = \"{}\"\n{auth}{rest}",
        ca.display(),
        j.base_url()
    )
}

fn write_config(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn lines(sessions: Vec<Vec<String>>) -> String {
    sessions.concat().join("\n") + "\n"
}

/// Polls `done` for up to two minutes; on timeout shows what the stand-in saw.
fn wait_until(what: &str, j: &StandIn, done: impl FnMut() -> bool) {
    if common::poll(Duration::from_secs(120), done) {
        return;
    }
    let seen: Vec<String> = j.seen().iter().map(summary).collect();
    panic!(
        "timed out waiting for {what}; the stand-in saw:\n{}",
        seen.join("\n")
    );
}

fn summary(s: &Seen) -> String {
    format!("{} {} -> {}", s.method, s.path, s.status)
}

/// One issue's totals, worked out by hand.
#[derive(Debug, Clone, PartialEq)]
struct Want {
    sessions: i64,
    /// Total session time in minutes.
    minutes: i64,
    /// What the hours field holds: minutes / 60, rounded to two decimals.
    hours: f64,
    users: i64,
    ci: i64,
    last_user: &'static str,
}

/// (sessions, minutes, hours, users, CI sessions, last user).
const fn want(
    sessions: i64,
    minutes: i64,
    hours: f64,
    users: i64,
    ci: i64,
    last_user: &'static str,
) -> Want {
    Want {
        sessions,
        minutes,
        hours,
        users,
        ci,
        last_user,
    }
}

/// The values the five fields hold on the stand-in's issue `key` (Null where not written).
fn fields_on(j: &StandIn, key: &str) -> Vec<Value> {
    let issue = j.issue(key).unwrap_or_default();
    [SESSIONS, HOURS, USERS, CI, LAST_USER]
        .iter()
        .map(|f| issue.fields.get(*f).cloned().unwrap_or(Value::Null))
        .collect()
}

fn want_fields(w: &Want) -> Vec<Value> {
    vec![
        json!(w.sessions),
        json!(w.hours),
        json!(w.users),
        json!(w.ci),
        json!(w.last_user),
    ]
}

/// The issue's fields, property and comment say `want`, and agree with the reports API.
fn check_issue(server: &Server, j: &StandIn, key: &str, want: &Want) {
    assert_eq!(fields_on(j, key), want_fields(want), "{key}: the fields");
    let issue = j.issue(key).unwrap();
    let property = &issue.properties["mirrord-usage"];
    assert_eq!(property["sessions"], want.sessions, "{key}: {property}");
    assert_eq!(
        property["totalSessionTimeSeconds"].as_f64(),
        Some((want.minutes * 60) as f64)
    );
    assert_eq!(property["lastUser"], want.last_user);
    let report = server.get_json(&format!("/api/v1/reports/jira/{key}"));
    for (name, value) in report.as_object().unwrap() {
        assert_eq!(
            &property[name], value,
            "{key}: property {name} vs the report"
        );
    }
    assert_eq!(report["sessions"], issue.fields[SESSIONS]);
    assert_eq!(report["uniqueUsers"], issue.fields[USERS]);
    assert_eq!(report["ciSessions"], issue.fields[CI]);
    assert_eq!(
        issue.comments.len(),
        1,
        "{key}: one comment, edited in place"
    );
    let text = text_of(j.flavor, &issue.comments[0].1);
    let s = if want.sessions == 1 { "" } else { "s" };
    let u = if want.users == 1 { "" } else { "s" };
    let line = format!(
        "{} session{s} ({} CI), {} h ({} min), {} user{u}",
        want.sessions, want.ci, want.hours, want.minutes, want.users
    );
    assert!(text.contains(&line), "{key}: {text:?} should say {line:?}");
    assert!(text.contains(&format!("by {}", want.last_user)), "{text}");
}

/// Nothing off-spec, and every request carried our credentials.
fn check_requests(j: &StandIn) {
    assert_eq!(
        j.violations(),
        Vec::<String>::new(),
        "requests off the spec"
    );
    let refused: Vec<String> = j
        .seen()
        .iter()
        .filter(|s| !s.authorized)
        .map(summary)
        .collect();
    assert!(refused.is_empty(), "requests without our auth: {refused:?}");
}

/// (session id, reason, state, issue, attempts, last error) of every outbox row.
fn outbox(server: &Server) -> BTreeMap<String, (String, String, Value, i64, Value)> {
    server
        .rows("SELECT session_id, reason, state, jira_key, attempts, last_error FROM jira_outbox")
        .into_iter()
        .map(|r| {
            let s = |i: usize| r[i].as_str().unwrap_or_default().to_string();
            let row = (
                s(1),
                s(2),
                r[3].clone(),
                r[4].as_i64().unwrap(),
                r[5].clone(),
            );
            (s(0), row)
        })
        .collect()
}

fn states(server: &Server) -> BTreeMap<String, usize> {
    let mut n = BTreeMap::new();
    for (_, state, ..) in outbox(server).values() {
        *n.entry(state.clone()).or_default() += 1;
    }
    n
}

fn requests_to(j: &StandIn, method: &str, path: &str) -> Vec<Seen> {
    j.seen()
        .into_iter()
        .filter(|s| s.method == method && s.path == path)
        .collect()
}

// ---- the sessions ----

/// Closed sessions: (id, user, branch, ended this many minutes ago, lasting this many minutes).
fn sessions(table: &[(&str, &str, &str, i64, i64)]) -> String {
    lines(
        table
            .iter()
            .map(|(id, user, branch, ago, minutes)| {
                closed(id, user, Some(branch), json!({}), *ago, *minutes)
            })
            .collect(),
    )
}

const CI_USER: &str = "system:serviceaccount:ci:mirrord-ci";

/// Six sessions: three on SHOP-12, two on OPS-7, one on no issue (`main`).
fn first_sessions() -> String {
    sessions(&[
        (
            "s1",
            "ana@corp.example",
            "feature/SHOP-12-checkout",
            100,
            10,
        ),
        ("s2", CI_USER, "SHOP-12-fix", 90, 3),
        ("s3", "ana@corp.example", "ops/OPS-7", 80, 20),
        ("s4", "cy@corp.example", "main", 70, 5),
        ("s5", "eve@corp.example", "OPS-7-alerts", 50, 30),
        ("s6", "bob@corp.example", "SHOP-12", 40, 4),
    ])
}

/// SHOP-12 after the first sessions: s1 10 + s2 3 + s6 4 = 17 min = 1020 s, 0.2833 h → 0.28;
/// users ana, the CI service account, bob; s2 is CI; bob's s6 ended last (40 min ago).
const SHOP_12_FIRST: Want = want(3, 17, 0.28, 3, 1, "bob@corp.example");

/// OPS-7 after the first sessions: s3 20 + s5 30 = 50 min = 3000 s, 0.8333 h → 0.83; ana, eve;
/// eve's s5 ended last.
const OPS_7_FIRST: Want = want(2, 50, 0.83, 2, 0, "eve@corp.example");

/// Two more sessions: dee on SHOP-12 (45 min, ended 10 min ago) and ana again on OPS-7 (7 min,
/// ended 5 min ago).
fn second_sessions() -> String {
    sessions(&[
        ("s7", "dee@corp.example", "SHOP-12", 10, 45),
        ("s8", "ana@corp.example", "OPS-7", 5, 7),
    ])
}

/// SHOP-12 then: 17 + 45 = 62 min = 3720 s, 1.0333 h → 1.03; four users; dee last.
const SHOP_12_SECOND: Want = want(4, 62, 1.03, 4, 1, "dee@corp.example");

/// OPS-7 then: 50 + 7 = 57 min = 3420 s, 0.95 h; still ana and eve; ana last.
const OPS_7_SECOND: Want = want(3, 57, 0.95, 2, 0, "ana@corp.example");

fn everything() -> String {
    format!(
        "{}property = true\ncomment = true\ninterval_ms = 300\n",
        all_fields()
    )
}

// ---- serve ----

#[test]
fn totals_on_each_issue_equal_the_report_after_5xx_429_and_an_outage() {
    let dir = tempfile::tempdir().unwrap();
    let j = jira(Flavor::Cloud, &["SHOP-12", "OPS-7"]);
    j.script.lock().unwrap().extend([
        Inject::Status(500),
        Inject::TooMany("2".into()),
        Inject::Status(502),
    ]);
    let config = write_config(
        dir.path(),
        "jira.toml",
        &config_text(dir.path(), &j, &everything()),
    );
    let server = Server::with_config(&dir.path().join("db.duckdb"), &config);
    server.ingest(first_sessions());
    wait_until("the first totals on both issues", &j, || {
        fields_on(&j, "SHOP-12") == want_fields(&SHOP_12_FIRST)
            && fields_on(&j, "OPS-7") == want_fields(&OPS_7_FIRST)
            && j.issue("OPS-7").unwrap().comments.len() == 1
    });
    check_issue(&server, &j, "SHOP-12", &SHOP_12_FIRST);
    check_issue(&server, &j, "OPS-7", &OPS_7_FIRST);

    // The scripted failures were answered, and after the 429 nothing at all was sent until its
    // Retry-After (2 s) had passed: Jira's rate limit is per user, not per issue.
    let seen = j.seen();
    let statuses: Vec<u16> = seen.iter().map(|s| s.status).collect();
    for status in [500, 429, 502] {
        assert!(statuses.contains(&status), "{statuses:?}");
    }
    let i = seen.iter().position(|s| s.status == 429).unwrap();
    assert_eq!(seen[i].retry_after.as_deref(), Some("2"));
    let waited = seen[i + 1].at - seen[i].at;
    assert!(
        waited >= Duration::from_secs(2),
        "next request {waited:?} after the 429"
    );

    // The whole site answers 503 while two more sessions close; the sink keeps retrying and
    // writes the new totals once Jira is back.
    j.down.store(true, Ordering::SeqCst);
    let before = j.seen().len();
    server.ingest(second_sessions());
    wait_until("three refused attempts during the outage", &j, || {
        j.seen()[before..]
            .iter()
            .filter(|s| s.status == 503)
            .count()
            >= 3
    });
    assert_eq!(fields_on(&j, "SHOP-12"), want_fields(&SHOP_12_FIRST));
    j.down.store(false, Ordering::SeqCst);
    wait_until("the second totals on both issues", &j, || {
        fields_on(&j, "SHOP-12") == want_fields(&SHOP_12_SECOND)
            && fields_on(&j, "OPS-7") == want_fields(&OPS_7_SECOND)
            && !states(&server).contains_key("pending")
    });
    check_issue(&server, &j, "SHOP-12", &SHOP_12_SECOND);
    check_issue(&server, &j, "OPS-7", &OPS_7_SECOND);
    check_requests(&j);

    // Seven keyed sessions delivered, s4 (branch main) skipped without a request.
    let rows = outbox(&server);
    assert_eq!(rows["s4"].1, "skipped");
    for s in ["s1", "s2", "s3", "s5", "s6", "s7", "s8"] {
        assert_eq!(rows[s].0, "rest.closed");
        assert_eq!(rows[s].1, "delivered", "{s}: {:?}", rows[s]);
    }
    assert_eq!(rows.len(), 8);
}

#[test]
fn a_kill_9_mid_delivery_resumes_from_the_outbox_without_a_second_comment() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.duckdb");
    let j = jira(Flavor::Cloud, &["SHOP-12", "OPS-7"]);
    // Jira creates the comment but the answer never comes back in time: serve dies mid-request
    // having written the fields and the property, and with a comment it doesn't know the id of.
    *j.slow_path.lock().unwrap() = "/comment".into();
    j.slow_ms.store(60_000, Ordering::SeqCst);
    let config = write_config(
        dir.path(),
        "jira.toml",
        &config_text(dir.path(), &j, &everything()),
    );
    let first = Server::with_config(&db, &config);
    first.ingest(first_sessions());
    wait_until("a comment POST in flight", &j, || {
        j.seen()
            .iter()
            .any(|s| s.method == "POST" && s.path.ends_with("/comment"))
    });
    drop(first); // SIGKILL
    j.slow_ms.store(0, Ordering::SeqCst);
    let written: Vec<&str> = ["SHOP-12", "OPS-7"]
        .into_iter()
        .filter(|k| !j.issue(k).unwrap().comments.is_empty())
        .collect();
    assert_eq!(
        written.len(),
        1,
        "one issue got its comment before the kill"
    );

    // The outbox still has every keyed session pending: nothing was recorded as delivered.
    let status = ok(run(&db, &["jira", "status", "--json"]));
    let status: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["rest"], true);
    assert_eq!(status["counts"]["pending"], 5, "{status}");
    assert_eq!(status["counts"]["delivered"], 0, "{status}");

    let second = Server::with_config(&db, &config);
    wait_until("both issues written after the restart", &j, || {
        !states(&second).contains_key("pending")
    });
    check_issue(&second, &j, "SHOP-12", &SHOP_12_FIRST);
    check_issue(&second, &j, "OPS-7", &OPS_7_FIRST);
    // The comment made before the kill was found by its marker and edited, not added again.
    let key = written[0];
    let comments = format!("/rest/api/3/issue/{key}/comment");
    assert_eq!(requests_to(&j, "POST", &comments).len(), 1);
    assert_eq!(
        requests_to(&j, "GET", &comments).len(),
        2,
        "looked up at each start"
    );
    let id = &j.issue(key).unwrap().comments[0].0;
    assert_eq!(
        requests_to(&j, "PUT", &format!("{comments}/{id}")).len(),
        1,
        "edited in place"
    );
    check_requests(&j);
}

#[test]
fn a_burst_of_1000_closing_sessions_makes_one_write_per_issue_per_interval() {
    const INTERVAL: Duration = Duration::from_millis(1500);
    let dir = tempfile::tempdir().unwrap();
    let issues: Vec<String> = (1..=10).map(|k| format!("BURST-{k}")).collect();
    let keys: Vec<&str> = issues.iter().map(String::as_str).collect();
    let j = jira(Flavor::Cloud, &keys);
    let rest = format!(
        "sessions_field = \"{SESSIONS}\"\nhours_field = \"{HOURS}\"\nusers_field = \"{USERS}\"\n\
         property = false\ninterval_ms = {}\n",
        INTERVAL.as_millis()
    );
    let config = write_config(dir.path(), "jira.toml", &config_text(dir.path(), &j, &rest));
    let server = Server::with_config(&dir.path().join("db.duckdb"), &config);

    // 90 sessions on each of BURST-1..10 (those of BURST-k last k minutes each; users u0..u2 in
    // turn) and 100 on `main`, all ending within the same second.
    let users = ["u0@corp.example", "u1@corp.example", "u2@corp.example"];
    let end = Utc::now() - chrono::Duration::minutes(1);
    let mut sessions = Vec::new();
    for i in 0..1000 {
        let id = format!("b{i:04}");
        let end = end + chrono::Duration::milliseconds(i);
        let (branch, minutes) = if i < 900 {
            let k = i / 90 + 1;
            (format!("BURST-{k}-work"), k)
        } else {
            ("main".to_string(), 1)
        };
        let user = users[i as usize % 3];
        sessions.push(closed_at(&id, user, Some(&branch), json!({}), end, minutes));
    }
    let started = Instant::now();
    server.ingest(lines(sessions));
    let ingested = started.elapsed();

    // BURST-k: 90 sessions × k min = 90k min = 1.5k h; three users.
    wait_until("every issue's totals", &j, || {
        (1..=10).all(|k| {
            let f = &j.issue(&format!("BURST-{k}")).unwrap().fields;
            f.get(SESSIONS) == Some(&json!(90))
                && f.get(HOURS).and_then(Value::as_f64) == Some(1.5 * k as f64)
                && f.get(USERS) == Some(&json!(3))
        })
    });
    wait_until("the outbox drained", &j, || {
        !states(&server).contains_key("pending")
    });
    check_requests(&j);
    assert_eq!(
        states(&server),
        BTreeMap::from([("delivered".into(), 900), ("skipped".into(), 100)])
    );
    let seen = j.seen();
    assert!(
        seen.iter()
            .all(|s| s.method == "PUT" && s.path.starts_with("/rest/api/3/issue/BURST-")),
        "only field writes to the ten issues: {:?}",
        seen.iter().map(summary).collect::<Vec<_>>()
    );
    // Rounds are at least an interval apart and each writes an issue once, so while the burst
    // was being stored (`ingested`) and in the round after it, an issue is written at most
    // ingested / interval + 2 times, whatever the number of its sessions.
    let most = (ingested.as_millis() / INTERVAL.as_millis()) as usize + 2;
    for key in &issues {
        let writes = requests_to(&j, "PUT", &format!("/rest/api/3/issue/{key}"));
        assert!(
            (1..=most).contains(&writes.len()),
            "{key}: {} writes for 90 sessions (at most {most})",
            writes.len()
        );
        for pair in writes.windows(2) {
            let gap = pair[1].at - pair[0].at;
            assert!(
                gap + Duration::from_millis(50) >= INTERVAL,
                "{key}: two writes {gap:?} apart"
            );
        }
    }
}

#[test]
fn sessions_without_an_issue_key_make_no_request() {
    let dir = tempfile::tempdir().unwrap();
    let j = jira(Flavor::Cloud, &["SHOP-12"]);
    let config = write_config(
        dir.path(),
        "jira.toml",
        &config_text(dir.path(), &j, &everything()),
    );
    let server = Server::with_config(&dir.path().join("db.duckdb"), &config);
    let none = json!({});
    server.ingest(lines(vec![
        closed("k1", "ana@corp.example", Some("main"), none.clone(), 30, 5),
        closed("k2", "bob@corp.example", None, none.clone(), 20, 5),
        closed("k3", "cy@corp.example", Some("release/2026.1"), none, 10, 5),
    ]));
    wait_until("three rows skipped", &j, || {
        states(&server) == BTreeMap::from([("skipped".into(), 3)])
    });
    std::thread::sleep(Duration::from_millis(1000)); // three more rounds
    assert_eq!(j.seen().len(), 0, "no request for sessions without a key");
    let rows = outbox(&server);
    assert!(
        rows.values()
            .all(|r| r.4.as_str().unwrap().contains("no Jira key")),
        "{rows:?}"
    );

    // The sink is live: a keyed session is written.
    server.ingest(sessions(&[("k4", "dee@corp.example", "SHOP-12", 5, 6)]));
    wait_until("SHOP-12 written", &j, || {
        states(&server).get("delivered") == Some(&1)
    });
    assert_eq!(fields_on(&j, "SHOP-12")[0], json!(1));
    assert_eq!(fields_on(&j, "SHOP-12")[1], json!(0.1), "6 min = 0.1 h");
    check_requests(&j);
}

#[test]
fn an_unknown_issue_and_a_wrong_field_type_are_recorded_once_with_jiras_text() {
    let dir = tempfile::tempdir().unwrap();
    let j = jira(Flavor::Cloud, &["SHOP-12"]);
    // hours_field names a text field: Jira answers 400 for the number written to it.
    let rest = format!(
        "sessions_field = \"{SESSIONS}\"\nhours_field = \"{NOTES}\"\nproperty = true\n\
         interval_ms = 200\n"
    );
    let config = write_config(dir.path(), "jira.toml", &config_text(dir.path(), &j, &rest));
    let server = Server::with_config(&dir.path().join("db.duckdb"), &config);
    server.ingest(sessions(&[
        ("w1", "ana@corp.example", "SHOP-12", 20, 5),
        ("w2", "bob@corp.example", "NOPE-9-gone", 10, 5),
    ]));
    wait_until("both rows failed", &j, || {
        states(&server) == BTreeMap::from([("failed".into(), 2)])
    });
    std::thread::sleep(Duration::from_millis(2000)); // ten more rounds: no retry
    let rows = outbox(&server);
    let (_, _, key, attempts, error) = &rows["w2"];
    assert_eq!((key, *attempts), (&json!("NOPE-9"), 1));
    assert_eq!(
        error,
        "HTTP 404 Not Found: Issue does not exist or you do not have permission to see it."
    );
    let (_, _, key, attempts, error) = &rows["w1"];
    assert_eq!((key, *attempts), (&json!("SHOP-12"), 1));
    assert_eq!(
        error,
        &format!("HTTP 400 Bad Request: {NOTES}: Operation value must be a string")
    );
    for key in ["SHOP-12", "NOPE-9"] {
        let path = format!("/rest/api/3/issue/{key}");
        assert_eq!(requests_to(&j, "PUT", &path).len(), 1, "{key}: sent once");
    }
    assert_eq!(j.seen().len(), 2, "nothing after a refused field write");
    assert!(j.issue("SHOP-12").unwrap().fields.is_empty());
    let status = server.get_json("/api/v1/jira/status");
    assert_eq!(status["rest"], true);
    assert_eq!(status["counts"]["failed"], 2, "{status}");
    let problems = status["problems"].as_array().unwrap();
    assert!(
        problems.iter().any(|p| p["reason"] == "rest.closed"
            && p["jiraKey"] == "NOPE-9"
            && p["lastError"]
                .as_str()
                .unwrap()
                .contains("Issue does not exist")),
        "{status}"
    );
    // The status with REST rows in it still matches the OpenAPI spec.
    common::check_openapi(&server);
    check_requests(&j);
}

// ---- jira check ----

#[derive(Debug)]
struct Finding {
    check: String,
    ok: bool,
    message: String,
}

/// Runs `jira check --json` with `config` and `--issue`; (exit success, findings).
fn jira_check(dir: &Path, config: &str, issue: &str) -> (bool, Vec<Finding>) {
    let path = write_config(dir, "check.toml", config);
    let out = Command::new(common::bin())
        .arg("--db")
        .arg(dir.join("no-database.duckdb"))
        .args(["jira", "check", "--json", "--issue", issue, "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stdout));
    });
    let findings = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| Finding {
            check: f["check"].as_str().unwrap().into(),
            ok: f["ok"].as_bool().unwrap(),
            message: f["message"].as_str().unwrap().into(),
        })
        .collect();
    (out.status.success(), findings)
}

/// Asserts that `jira check` failed, with a failed finding of `check` that mentions each of
/// `words`; returns how many findings failed.
fn failed(result: (bool, Vec<Finding>), check: &str, words: &[&str]) -> usize {
    let (success, findings) = result;
    assert!(!success, "jira check exits non-zero: {findings:#?}");
    let failed: Vec<&Finding> = findings.iter().filter(|f| !f.ok).collect();
    let named = failed
        .iter()
        .any(|f| f.check == check && words.iter().all(|w| f.message.contains(w)));
    assert!(
        named,
        "a failed {check} check naming {words:?}: {findings:#?}"
    );
    failed.len()
}

#[test]
fn jira_check_names_each_misconfiguration() {
    let dir = tempfile::tempdir().unwrap();
    let j = jira(Flavor::Cloud, &["SHOP-12", "OPS-7"]);
    j.issues
        .lock()
        .unwrap()
        .get_mut("OPS-7")
        .unwrap()
        .off_screen
        .insert(HOURS.into());
    let good = config_text(dir.path(), &j, &everything());

    let (success, findings) = jira_check(dir.path(), &good, "SHOP-12");
    assert!(success, "{findings:#?}");
    assert!(findings.iter().all(|f| f.ok));
    let auth = findings.iter().find(|f| f.check == "auth").unwrap();
    assert!(auth.message.contains("mirrord bot"), "{auth:?}");
    // config, auth, five fields, the issue, five fields editable on it.
    assert_eq!(findings.len(), 13, "{findings:#?}");

    // A refused token stops the check: nothing else can be known.
    let wrong_token = good.replace(TOKEN, "revoked-token");
    let n = failed(
        jira_check(dir.path(), &wrong_token, "SHOP-12"),
        "auth",
        &["email", "api_token", "401"],
    );
    assert_eq!(n, 1);
    // An unknown id fails the field check, and is not on the issue's edit screen either.
    let unknown = good.replace(SESSIONS, "customfield_19999");
    let n = failed(
        jira_check(dir.path(), &unknown, "SHOP-12"),
        "field",
        &[
            "sessions_field",
            "customfield_19999",
            "no field with this id",
        ],
    );
    assert_eq!(n, 2);
    let wrong_type = good.replace(HOURS, NOTES);
    let n = failed(
        jira_check(dir.path(), &wrong_type, "SHOP-12"),
        "field",
        &[
            "hours_field",
            NOTES,
            "its type is string",
            "needs a number field",
        ],
    );
    assert_eq!(n, 1);
    let n = failed(
        jira_check(dir.path(), &good, "NOPE-9"),
        "issue",
        &["NOPE-9", "not found", "Browse projects"],
    );
    assert_eq!(n, 1);
    let n = failed(
        jira_check(dir.path(), &good, "OPS-7"),
        "issue",
        &["hours_field", HOURS, "not editable on OPS-7", "edit screen"],
    );
    assert_eq!(n, 1);
    assert!(
        j.seen().iter().all(|s| s.method == "GET"),
        "jira check only reads"
    );
    assert_eq!(j.violations(), Vec::<String>::new());

    // Data Center: a refused personal access token is named as such.
    let dc = jira(Flavor::DataCenter, &["SHOP-12"]);
    let dc_config = config_text(dir.path(), &dc, &everything());
    let (success, findings) = jira_check(dir.path(), &dc_config, "SHOP-12");
    assert!(success, "{findings:#?}");
    let n = failed(
        jira_check(dir.path(), &dc_config.replace(PAT, "expired"), "SHOP-12"),
        "auth",
        &["personal_access_token", "401"],
    );
    assert_eq!(n, 1);
    assert!(dc.seen().iter().all(|s| s.path.starts_with("/rest/api/2/")));
    assert_eq!(dc.violations(), Vec::<String>::new());
}

// ---- jira sync ----

/// Runs `jira sync` on `db` with `config` and `extra` arguments; the JSON report.
fn jira_sync(db: &Path, config: &Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "jira",
        "sync",
        "--json",
        "--config",
        config.to_str().unwrap(),
    ];
    args.extend(extra);
    serde_json::from_str(&ok(run(db, &args))).unwrap()
}

fn synced(report: &Value) -> Vec<(String, String)> {
    report["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let s = |k: &str| i[k].as_str().unwrap().to_string();
            (s("key"), s("state"))
        })
        .collect()
}

#[test]
fn jira_sync_from_a_date_backfills_data_center_issues_of_an_existing_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.duckdb");
    let at = |d: u32, h: u32, m: u32| Utc.with_ymd_and_hms(2026, 1, d, h, m, 0).unwrap();
    let none = json!({});
    let log = lines(vec![
        closed_at(
            "o1",
            "ana@corp.example",
            Some("OLD-1"),
            none.clone(),
            at(2, 10, 30),
            30,
        ),
        closed_at(
            "n1",
            "ana@corp.example",
            Some("NEW-2"),
            none.clone(),
            at(2, 9, 15),
            15,
        ),
        closed_at(
            "n2",
            "bo@corp.example",
            Some("NEW-2-x"),
            none.clone(),
            at(10, 14, 45),
            45,
        ),
        closed_at(
            "n3",
            "cy@corp.example",
            Some("NEW-3"),
            none.clone(),
            at(12, 9, 6),
            6,
        ),
        closed_at(
            "k1",
            "dee@corp.example",
            Some("main"),
            none,
            at(11, 8, 0),
            20,
        ),
    ]);
    let file = dir.path().join("operator.log");
    std::fs::write(&file, log).unwrap();
    // The database was filled before the sink existed: no `serve`, no outbox rows.
    ok(run(&db, &["ingest", file.to_str().unwrap()]));

    let j = jira(Flavor::DataCenter, &["OLD-1", "NEW-2", "NEW-3"]);
    let config = write_config(
        dir.path(),
        "jira.toml",
        &config_text(dir.path(), &j, &everything()),
    );
    // Only issues with a session started on or after 2026-01-05: NEW-2 (n2 on the 10th) and
    // NEW-3; OLD-1's only session is older. The totals written are all-time.
    let report = jira_sync(&db, &config, &["--from", "2026-01-05"]);
    assert_eq!(
        synced(&report),
        vec![
            ("NEW-2".to_string(), "delivered".to_string()),
            ("NEW-3".to_string(), "delivered".to_string())
        ]
    );
    // NEW-2: n1 15 + n2 45 = 60 min = 1 h, ana and bo, bo last. NEW-3: 6 min = 0.1 h, cy.
    let new_2 = want(2, 60, 1.0, 2, 0, "bo@corp.example");
    let new_3 = want(1, 6, 0.1, 1, 0, "cy@corp.example");
    assert_eq!(fields_on(&j, "NEW-2"), want_fields(&new_2));
    assert_eq!(fields_on(&j, "NEW-3"), want_fields(&new_3));
    assert!(j.seen().iter().all(|s| !s.path.contains("OLD-1")));
    // Data Center: API 2, a bearer token, comments as plain strings.
    assert!(j.seen().iter().all(|s| s.path.starts_with("/rest/api/2/")));
    let comment = &j.issue("NEW-2").unwrap().comments[0].1;
    assert!(comment.is_string(), "{comment}");
    assert!(
        text_of(Flavor::DataCenter, comment).contains("2 sessions (0 CI), 1 h (60 min), 2 users"),
        "{comment}"
    );

    // Without --from every issue is written; the comments are edited, not added.
    let report = jira_sync(&db, &config, &[]);
    assert_eq!(synced(&report).len(), 3, "{report}");
    // OLD-1: 30 min = 0.5 h.
    assert_eq!(fields_on(&j, "OLD-1")[..2], [json!(1), json!(0.5)]);
    for key in ["OLD-1", "NEW-2", "NEW-3"] {
        assert_eq!(j.issue(key).unwrap().comments.len(), 1, "{key}");
    }
    assert_eq!(fields_on(&j, "NEW-2"), want_fields(&new_2));
    let property = &j.issue("NEW-3").unwrap().properties["mirrord-usage"];
    assert_eq!(property["totalSessionTimeSeconds"].as_f64(), Some(360.0));
    check_requests(&j);

    // The totals written are the report's: serve the same database and compare.
    let server = Server::with_config(&db, &config);
    for key in ["NEW-2", "NEW-3"] {
        let report = server.get_json(&format!("/api/v1/reports/jira/{key}"));
        let property = &j.issue(key).unwrap().properties["mirrord-usage"];
        for (name, value) in report.as_object().unwrap() {
            assert_eq!(&property[name], value, "{key}: {name}");
        }
    }
}

// ---- docs/jira.md ----

#[test]
fn the_config_example_in_docs_jira_md_loads_and_is_valid() {
    use mirrord_usage::config::Config;
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/jira.md"))
        .unwrap();
    let example = doc
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a ```toml block in docs/jira.md");
    let dir = tempfile::tempdir().unwrap();
    let token = write_config(dir.path(), "jira-api-token", "t0ken\n");
    let text = example.replace(
        "/var/run/secrets/mirrord-usage/jira-api-token",
        token.to_str().unwrap(),
    );
    let path = write_config(dir.path(), "example.toml", &text);
    let config = Config::load(Some(&path), Vec::new()).unwrap();
    config.jira.validate().unwrap();
    let rest = config.jira.rest_enabled().expect("[jira.rest] is on");
    assert_eq!(rest.fields().len(), 5);
    assert!(rest.property && rest.comment);
}
