//! Adoption by team over HTTP, on a three-level directory whose every figure is worked out by
//! hand below: the Adoption report's funnel per group, % active per week across the March →
//! April boundary and per month, the heatmap, never started, going cold, services per team and
//! suggested actions; the `group` scope of the usage report, trends, sessions and export; team
//! labels; the group Prometheus series; `[directory] file` watched by `serve`.
//!
//! The directory (CSV below): Acme (organization) → Engineering, Operations (departments) →
//! Payments, Web under Engineering; SRE, QA under Operations (teams).
//!
//! | person   | groups   | matched by                  | exec sessions (10:00 UTC, 1 h)                      |
//! |----------|----------|-----------------------------|-----------------------------------------------------|
//! | Ada Ng   | pay      | k8s user ada@corp           | Mar 2, 3, 10, 17, 24 (api); Mar 31, Apr 1 (web); Mar 2 12:00 (a Copy Target pod, never a service) |
//! | Bob Li   | pay      | client name bob (k8s user shared@corp is nobody's) | Mar 4, 11, 12, 12 14:00 (ledger) |
//! | Cy Park  | web, sre | k8s user cy@corp            | Feb 20 (api), Mar 30 (checkout)                     |
//! | Dee Ray  | web      | k8s user dee@corp           | none                                                |
//! | Eve Holt | sre      | hostname eve-laptop         | Feb 10 (api)                                        |
//! | Fay Lin  | qa       | k8s user fay@corp           | none                                                |
//! | Gil Moss | ops      | k8s user gil@corp           | none (a department member: team falls back to "Operations") |
//! | (zed@corp, not in the directory)                      | Mar 5, Mar 25 (zedsvc)                  |
//!
//! Range 2026-03-02 .. 2026-04-05 (a date as `to` covers the day: up to Apr 6 00:00); weeks
//! from Monday: W1 Mar 2, W2 Mar 9, W3 Mar 16, W4 Mar 23, W5 Mar 30 (runs into April). Config:
//! regular ≥ 3 active days, champion ≥ 5, going cold after 14 days (window from Mar 23).

mod common;

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use common::{ADMIN_KEY, KEY, Server};
use mirrord_usage::batch::IncomingEvent;
use mirrord_usage::event::{EventKind, OperatorEvent};
use serde_json::{Value, json};

const DIRECTORY: &str = "\
kind,id,name,email,kubernetes_user,client_name,client_hostname,groups,type,parent
group,acme,Acme,,,,,,organization,
group,eng,Engineering,,,,,,department,acme
group,ops,Operations,,,,,,department,acme
group,pay,Payments,,,,,,team,eng
group,web,Web,,,,,,team,eng
group,sre,SRE,,,,,,team,ops
group,qa,QA,,,,,,team,ops
person,ada,Ada Ng,ada@example.com,ada@corp,,,pay,,
person,bob,Bob Li,bob@example.com,,bob,,pay,,
person,cy,Cy Park,cy@example.com,cy@corp,,,web;sre,,
person,dee,Dee Ray,dee@example.com,dee@corp,,,web,,
person,eve,Eve Holt,eve@example.com,,,eve-laptop,sre,,
person,fay,Fay Lin,fay@example.com,fay@corp,,,qa,,
person,gil,Gil Moss,gil@example.com,gil@corp,,,ops,,
";

const CONFIG: &str = "\
[adoption]
regular_active_days = 3
champion_active_days = 5
going_cold_days = 14
active_days = 30
";

/// (k8s user, client name, hostname, target, start).
type Spec = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    DateTime<Utc>,
);

fn at(m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.from_utc_datetime(
        &NaiveDate::from_ymd_opt(2026, m, d)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap(),
    )
}

fn sessions() -> Vec<Spec> {
    let mut s: Vec<Spec> = Vec::new();
    for (m, d, target) in [
        (3, 2, "api"),
        (3, 3, "api"),
        (3, 10, "api"),
        (3, 17, "api"),
        (3, 24, "api"),
        (3, 31, "web"),
        (4, 1, "web"),
    ] {
        s.push(("ada@corp", "ada", "ada-mbp", target, at(m, d, 10)));
    }
    s.push((
        "ada@corp",
        "ada",
        "ada-mbp",
        "mirrord-copy-7f3a",
        at(3, 2, 12),
    ));
    for (d, h) in [(4, 10), (11, 10), (12, 10), (12, 14)] {
        s.push(("shared@corp", "bob", "bob-pc", "ledger", at(3, d, h)));
    }
    s.push(("cy@corp", "cy", "cy-mbp", "api", at(2, 20, 10)));
    s.push(("cy@corp", "cy", "cy-mbp", "checkout", at(3, 30, 10)));
    s.push(("eve-sa@corp", "eve-m", "eve-laptop", "api", at(2, 10, 10)));
    s.push(("zed@corp", "zed", "zed-box", "zedsvc", at(3, 5, 10)));
    s.push(("zed@corp", "zed", "zed-box", "zedsvc", at(3, 25, 10)));
    s
}

fn events(specs: &[Spec]) -> Vec<IncomingEvent> {
    let mut out = Vec::new();
    for (i, (user, name, host, target, start)) in specs.iter().enumerate() {
        for (kind, t) in [
            (EventKind::SessionStart, *start),
            (EventKind::SessionEnd, *start + Duration::hours(1)),
        ] {
            let mut e = OperatorEvent::new(kind, t);
            e.session_id = Some(format!("{user}-{i}-{}", start.timestamp()));
            e.client_id = Some(format!("machine-{name}"));
            e.client_user = Some(user.to_string());
            e.client_name = Some(name.to_string());
            e.client_hostname = Some(host.to_string());
            e.target = Some(format!("deployment/{target}/container/main"));
            e.target_namespace = Some("prod".into());
            if kind == EventKind::SessionEnd {
                e.session_duration = Some(3600.0);
            }
            out.push(IncomingEvent {
                event: e.finish(),
                format: "test",
                source: Arc::from("test"),
            });
        }
    }
    out
}

/// A database with the sessions above, plus `recent` (relative to now), and a server on it
/// with the directory imported over HTTP.
fn server(dir: &Path, recent: &[Spec]) -> Server {
    let db = dir.join("db.duckdb");
    {
        let mut store = mirrord_usage::database::open(db.to_str().unwrap()).unwrap();
        let mut all = sessions();
        all.extend_from_slice(recent);
        store.append(&events(&all), &[], &[]).unwrap();
    }
    let config = dir.join("config.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let server = Server::with_config(&db, &config);
    let resp = Server::client()
        .post(server.url("/api/v1/directory"))
        .header("x-license-key", ADMIN_KEY)
        .header("content-type", "text/csv")
        .body(DIRECTORY)
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200, "{}", resp.text().unwrap());
    server
}

const RANGE: &str = "from=2026-03-02&to=2026-04-05";

fn adoption(server: &Server, query: &str) -> Value {
    server.get_json(&format!("/api/v1/reports/adoption?{RANGE}{query}"))
}

fn funnel(report: &Value) -> Vec<i64> {
    report["funnel"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["count"].as_i64().unwrap())
        .collect()
}

fn names(list: &Value, field: &str) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v[field].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn adoption_report_by_group_worked_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path(), &[]);

    // The funnel: in directory, ever started, active, regular (≥ 3 days), champion (≥ 5).
    // Everyone: 7 people; Ada, Bob, Cy, Eve started; Ada (7 days), Bob (3), Cy (1) active.
    let all = adoption(&server, "");
    assert_eq!(funnel(&all), [7, 4, 3, 2, 1]);
    let stages: Vec<&str> = all["funnel"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        [
            "inDirectory",
            "everStarted",
            "active",
            "regular",
            "champion"
        ]
    );
    for (group, expected) in [
        ("eng", [4, 3, 3, 2, 1]), // Ada, Bob, Cy, Dee
        ("ops", [4, 2, 1, 0, 0]), // Cy, Eve, Fay, Gil
        ("pay", [2, 2, 2, 2, 1]), // Ada, Bob
        ("sre", [2, 2, 1, 0, 0]), // Cy, Eve
        ("qa", [1, 0, 0, 0, 0]),  // Fay
    ] {
        assert_eq!(
            funnel(&adoption(&server, &format!("&group={group}"))),
            expected,
            "{group}"
        );
    }
    assert_eq!(
        all["thresholds"],
        json!({"regularActiveDays": 3, "championActiveDays": 5, "goingColdDays": 14})
    );
    // Services: api, web, ledger, checkout (zed's zedsvc is nobody's); teams of type team.
    assert_eq!(
        all["counts"],
        json!({"engineers": 7, "services": 4, "teams": 4})
    );

    // % active per week, 7 engineers: W1 Ada+Bob, W2 Ada+Bob, W3 Ada, W4 Ada, W5 (Mar 30 -
    // Apr 5) Ada+Cy.
    let weeks: Vec<(String, i64, f64)> = all["activeOverTime"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["start"].as_str().unwrap().to_string(),
                p["active"].as_i64().unwrap(),
                p["percent"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        weeks,
        [
            ("2026-03-02".to_string(), 2, 28.6),
            ("2026-03-09".to_string(), 2, 28.6),
            ("2026-03-16".to_string(), 1, 14.3),
            ("2026-03-23".to_string(), 1, 14.3),
            ("2026-03-30".to_string(), 2, 28.6),
        ]
    );
    // By month: March (from Mar 2) Ada, Bob, Cy; April (to Apr 5) Ada.
    let months = adoption(&server, "&interval=month");
    let points: Vec<(String, i64)> = months["activeOverTime"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["start"].as_str().unwrap().to_string(),
                p["active"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        points,
        [("2026-03-01".to_string(), 3), ("2026-04-01".to_string(), 1)]
    );

    // Heatmap: one organization at the top, so its departments are the rows.
    assert_eq!(
        all["heatmap"],
        json!({
            "weeks": ["2026-03-02", "2026-03-09", "2026-03-16", "2026-03-23", "2026-03-30"],
            "groups": [
                {"id": "eng", "name": "Engineering", "type": "department", "engineers": 4, "active": [2, 2, 1, 1, 2]},
                {"id": "ops", "name": "Operations", "type": "department", "engineers": 4, "active": [0, 0, 0, 0, 1]}
            ]
        })
    );

    // Never started, by name; Gil's team falls back to his department.
    assert_eq!(
        all["neverStarted"],
        json!([
            {"personId": "dee", "name": "Dee Ray", "email": "dee@example.com", "team": "Web"},
            {"personId": "fay", "name": "Fay Lin", "email": "fay@example.com", "team": "QA"},
            {"personId": "gil", "name": "Gil Moss", "email": "gil@example.com", "team": "Operations"}
        ])
    );
    // Going cold: Bob's last session Mar 12 14:00, nothing from Mar 23: 24 days before Apr 6.
    // Ada has sessions after Mar 23; Cy's only one in range is after it.
    assert_eq!(
        all["goingCold"],
        json!([{"personId": "bob", "name": "Bob Li", "email": "bob@example.com", "team": "Payments",
                "lastSession": "2026-03-12T14:00:00Z", "daysSince": 24}])
    );
    assert_eq!(names(&all["champions"], "personId"), ["ada"]);
    assert_eq!(all["champions"][0]["activeDays"], 7);

    // Services per team, from sessions in the range: Payments' are Ada's and Bob's (not Ada's
    // Copy Target pod); Cy's checkout counts for both of his teams.
    assert_eq!(
        all["servicesPerTeam"],
        json!([
            {"id": "pay", "name": "Payments", "engineers": 2, "services": [
                {"namespace": "prod", "targetType": "deployment", "target": "api", "sessions": 5, "engineers": 1},
                {"namespace": "prod", "targetType": "deployment", "target": "ledger", "sessions": 4, "engineers": 1},
                {"namespace": "prod", "targetType": "deployment", "target": "web", "sessions": 2, "engineers": 1}
            ]},
            {"id": "qa", "name": "QA", "engineers": 1, "services": []},
            {"id": "sre", "name": "SRE", "engineers": 2, "services": [
                {"namespace": "prod", "targetType": "deployment", "target": "checkout", "sessions": 1, "engineers": 1}
            ]},
            {"id": "web", "name": "Web", "engineers": 2, "services": [
                {"namespace": "prod", "targetType": "deployment", "target": "checkout", "sessions": 1, "engineers": 1}
            ]}
        ])
    );
    // Suggestions: Payments has Bob going cold; nobody in QA started. SRE and Web are at 50 %.
    assert_eq!(
        names(&all["suggestedActions"], "id"),
        ["teamGoingCold:pay", "teamNoStarts:qa"]
    );

    // A leaf team: its own row in the heatmap, everyone in it over the weeks.
    let pay = adoption(&server, "&group=pay");
    assert_eq!(
        pay["scope"]["path"],
        json!([
            {"id": "acme", "name": "Acme", "type": "organization"},
            {"id": "eng", "name": "Engineering", "type": "department"},
            {"id": "pay", "name": "Payments", "type": "team"}
        ])
    );
    assert_eq!(
        pay["counts"],
        json!({"engineers": 2, "services": 3, "teams": 1})
    );
    assert_eq!(
        pay["heatmap"]["groups"],
        json!([{"id": "pay", "name": "Payments", "type": "team", "engineers": 2, "active": [2, 2, 1, 1, 1]}])
    );
    let percents: Vec<f64> = pay["activeOverTime"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["percent"].as_f64().unwrap())
        .collect();
    assert_eq!(percents, [100.0, 100.0, 50.0, 50.0, 50.0]);

    let (status, body) = server.get("/api/v1/reports/adoption?group=nope");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("no group `nope`"), "{body}");
}

#[test]
fn reports_scoped_to_a_group_and_labelled_with_teams() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path(), &[]);

    // Payments' sessions in the range: Ada's 8 and Bob's 4 (under shared@corp).
    let pay = server.get_json(&format!(
        "/api/v1/reports/usage?{RANGE}&primary_key=username&group=pay"
    ));
    assert_eq!(pay["periodMetrics"]["sessionCount"], 12);
    assert_eq!(pay["scope"]["group"]["id"], "pay");
    let rows: Vec<(String, i64, Value, Value)> = pay["userMetrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["identifier"].as_str().unwrap().to_string(),
                u["totalSessionCount"].as_i64().unwrap(),
                u["personName"].clone(),
                u["team"].clone(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("ada@corp".into(), 8, json!("Ada Ng"), json!("Payments")),
            ("shared@corp".into(), 4, json!("Bob Li"), json!("Payments")),
        ]
    );
    // Unscoped, the identity nobody in the directory has is still there, unlabelled.
    let everyone = server.get_json(&format!(
        "/api/v1/reports/usage?{RANGE}&primary_key=username"
    ));
    let zed = everyone["userMetrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["identifier"] == "zed@corp")
        .expect("zed@corp is listed");
    assert_eq!(zed["totalSessionCount"], 2);
    assert!(zed["personId"].is_null() && zed["team"].is_null());
    assert_eq!(everyone["periodMetrics"]["sessionCount"], 8 + 4 + 1 + 2);
    // All time, scoped: SRE is Cy (2 sessions) and Eve (1).
    let sre = server.get_json("/api/v1/reports/usage?group=sre");
    assert_eq!(sre["allTimeMetrics"]["totalSessionCount"], 3);
    let cy = sre["userMetrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["clientUser"] == "cy@corp")
        .unwrap();
    assert_eq!(cy["team"], "SRE, Web", "both of Cy's teams");

    // Trends by week for Engineering (Ada, Bob, Cy, Dee): sessions W1 4 (Ada 3, Bob 1), W2 4
    // (Ada 1, Bob 3), W3 1, W4 1, W5 3 (Ada 2, Cy 1); the week of Mar 30 runs into April.
    let t = server.get_json(
        "/api/v1/reports/usage/trends?start=2026-03-02&end=2026-04-05&interval=week&dense=true&group=eng",
    );
    assert_eq!(t["interval"], "week");
    let weekly: Vec<(String, i64)> = t["dailySessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["date"].as_str().unwrap().to_string(),
                d["count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        weekly,
        [
            ("2026-03-02".to_string(), 4),
            ("2026-03-09".to_string(), 4),
            ("2026-03-16".to_string(), 1),
            ("2026-03-23".to_string(), 1),
            ("2026-03-30".to_string(), 3),
        ]
    );
    // interval=day in UTC is the vendor's daily series, day for day.
    let days = server.get_json(
        "/api/v1/reports/usage/trends?start=2026-03-01&end=2026-04-06&interval=day&dense=true",
    );
    let vendor =
        server.get_json("/api/v1/reports/usage/trends?start=2026-03-01&end=2026-04-06&dense=true");
    for series in [
        "dailySessions",
        "dailyActiveUsers",
        "dailyCiSessions",
        "userAdoption",
    ] {
        assert_eq!(days[series], vendor[series], "{series}");
    }

    // SQL users get the same labels from the `session_teams` view.
    let (status, teams) =
        server.sql("select team, count(*) from session_teams group by 1 order by 1");
    assert_eq!(status, 200, "{teams}");
    assert_eq!(
        teams["rows"],
        json!([["Payments", 12], ["SRE", 1], ["SRE, Web", 2], [null, 2]])
    );

    // The sessions list: SRE's three, labelled; QA has none.
    let list = server.get_json("/api/v1/sessions?group=sre");
    let labelled: Vec<(String, String)> = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["personName"].as_str().unwrap().to_string(),
                s["team"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        labelled,
        [
            ("Cy Park".to_string(), "SRE, Web".to_string()),
            ("Cy Park".to_string(), "SRE, Web".to_string()),
            ("Eve Holt".to_string(), "SRE".to_string()),
        ]
    );
    let qa = server.get_json("/api/v1/sessions?group=qa");
    assert_eq!(qa["sessions"], json!([]));

    // The export: the scoped report's files, listed in the manifest with their rows.
    let bytes = Server::client()
        .get(server.url(&format!(
            "/api/v1/export.zip?{RANGE}&group=pay&primary_key=username"
        )))
        .header("x-license-key", KEY)
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let manifest: Value = {
        let mut f = zip.by_name("manifest.json").unwrap();
        serde_json::from_reader(&mut f).unwrap()
    };
    assert_eq!(manifest["group"]["id"], "pay");
    let listed: Vec<(String, u64)> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_string(),
                f["rows"].as_u64().unwrap(),
            )
        })
        .collect();
    for (name, rows) in &listed {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut zip.by_name(name).unwrap(), &mut text).unwrap();
        assert_eq!(
            text.lines().count() as u64,
            rows + 1,
            "{name}: a header and its rows"
        );
    }
    let rows = |name: &str| listed.iter().find(|(n, _)| n == name).unwrap().1;
    assert_eq!(rows("sessions.csv"), 12);
    assert_eq!(rows("users.csv"), 2);
    assert_eq!(rows("services.csv"), 3, "api, ledger, web");
    assert_eq!(rows("directory.csv"), 7);
    assert_eq!(rows("trends.csv"), 35, "Mar 2 to Apr 5");
}

#[test]
fn group_metrics_count_recent_activity() {
    // Relative to now: Ada 2 days ago, Bob 20 days ago (in the 30-day window, nothing in the
    // last 14: going cold), Zed yesterday (nobody's).
    let now = Utc::now();
    let recent: Vec<Spec> = vec![
        ("ada@corp", "ada", "ada-mbp", "api", now - Duration::days(2)),
        (
            "shared@corp",
            "bob",
            "bob-pc",
            "ledger",
            now - Duration::days(20),
        ),
        (
            "zed@corp",
            "zed",
            "zed-box",
            "zedsvc",
            now - Duration::days(1),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path(), &recent);
    let body = server.metrics();
    let value = |name: &str, group: &str| -> f64 {
        let line = body
            .lines()
            .find(|l| l.starts_with(name) && l.contains(&format!("group_id=\"{group}\"")))
            .unwrap_or_else(|| panic!("{name} {group} missing:\n{body}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    for (group, active, cold) in [
        ("acme", 2.0, 1.0),
        ("eng", 2.0, 1.0),
        ("pay", 2.0, 1.0),
        ("web", 0.0, 0.0),
        ("ops", 0.0, 0.0),
        ("qa", 0.0, 0.0),
    ] {
        assert_eq!(
            value("mirrord_usage_group_active_users{", group),
            active,
            "{group}"
        );
        assert_eq!(
            value("mirrord_usage_group_going_cold_users{", group),
            cold,
            "{group}"
        );
    }
}

#[test]
fn serve_imports_the_directory_file_and_follows_changes() {
    let dir = tempfile::tempdir().unwrap();
    let people = dir.path().join("people.csv");
    std::fs::write(&people, DIRECTORY).unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[directory]\nfile = {:?}\npoll_seconds = 1\n",
            people.to_str().unwrap()
        ),
    )
    .unwrap();
    let db = dir.path().join("db.duckdb");
    let snapshot = |server: &Server| server.get_json("/api/v1/directory")["snapshot"].clone();
    let wait_for = |server: &Server, n: i64| {
        assert!(
            common::poll(
                std::time::Duration::from_secs(30),
                || snapshot(server)["snapshot"] == n
            ),
            "snapshot {n}: {}",
            snapshot(server)
        );
    };
    let server = Server::with_config(&db, &config);
    wait_for(&server, 1);
    assert_eq!(snapshot(&server)["people"], 7);
    // A change: one more person.
    std::fs::write(
        &people,
        format!("{DIRECTORY}person,hal,Hal Oh,,hal@corp,,,qa,,\n"),
    )
    .unwrap();
    wait_for(&server, 2);
    assert_eq!(snapshot(&server)["people"], 8);
    // A bad file (a parent that does not exist) is refused; the directory in force stays.
    std::fs::write(&people, format!("{DIRECTORY}group,x,X,,,,,,team,nowhere\n")).unwrap();
    assert!(common::poll(std::time::Duration::from_secs(30), || {
        server
            .output
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("refused"))
    }));
    assert_eq!(snapshot(&server)["snapshot"], 2);
    assert_eq!(snapshot(&server)["people"], 8);
    server.stop();
    // A restart with an unchanged good file adds no snapshot.
    std::fs::write(
        &people,
        format!("{DIRECTORY}person,hal,Hal Oh,,hal@corp,,,qa,,\n"),
    )
    .unwrap();
    let server = Server::with_config(&db, &config);
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(snapshot(&server)["snapshot"], 2);
}

#[test]
fn display_rewrite_changes_what_is_shown_not_what_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.duckdb");
    {
        let mut store = mirrord_usage::database::open(db.to_str().unwrap()).unwrap();
        store.append(&events(&sessions()), &[], &[]).unwrap();
    }
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[display]\nrewrite = [{ pattern = '^(\\w+)@corp$', replacement = 'corp/$1' }]\n",
    )
    .unwrap();
    let server = Server::with_config(&db, &config);
    let report = server.get_json(&format!(
        "/api/v1/reports/usage?{RANGE}&primary_key=username"
    ));
    let ada = report["userMetrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["identifier"] == "ada@corp")
        .expect("the identifier stays as logged");
    assert_eq!(ada["clientUser"], "corp/ada", "shown rewritten");
    assert_eq!(
        ada["displayName"], "ada",
        "no rule matches the machine's user name"
    );
    // Filters match the stored value; the rows show the rewritten one.
    let page = server.get_json("/api/v1/sessions?user=ada@corp&limit=1");
    assert_eq!(page["sessions"][0]["user"], "corp/ada");
    let (_, stored) = server.sql("select count(*) from sessions where client_user = 'ada@corp'");
    assert_eq!(stored["rows"][0][0], 8, "what is stored is untouched");
}

/// One session at 23:30 UTC on Sunday 2026-03-29, which is 01:30 on Monday 2026-03-30 in
/// Berlin (summer time began that night): a week from Monday puts it in the week of Mar 23 in
/// UTC and in the week of Mar 30 in Berlin; a day, on Mar 29 and Mar 30.
#[test]
fn intervals_begin_at_midnight_in_the_configured_time_zone() {
    let late: Vec<Spec> = vec![(
        "zed@corp",
        "zed",
        "zed-box",
        "zedsvc",
        Utc.from_utc_datetime(
            &NaiveDate::from_ymd_opt(2026, 3, 29)
                .unwrap()
                .and_hms_opt(23, 30, 0)
                .unwrap(),
        ),
    )];
    let counts = |zone: &str, interval: &str| -> Vec<(String, i64)> {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db.duckdb");
        {
            let mut store = mirrord_usage::database::open(db.to_str().unwrap()).unwrap();
            store.append(&events(&late), &[], &[]).unwrap();
        }
        let config = dir.path().join("config.toml");
        std::fs::write(&config, format!("[reports]\ntime_zone = \"{zone}\"\n")).unwrap();
        let server = Server::with_config(&db, &config);
        let t = server.get_json(&format!(
            "/api/v1/reports/usage/trends?start=2026-03-23&end=2026-04-05&interval={interval}&dense=true"
        ));
        assert_eq!(t["timeZone"], zone);
        t["dailySessions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["count"].as_i64().unwrap() > 0)
            .map(|d| {
                (
                    d["date"].as_str().unwrap().to_string(),
                    d["count"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(counts("UTC", "week"), [("2026-03-23".to_string(), 1)]);
    assert_eq!(
        counts("Europe/Berlin", "week"),
        [("2026-03-30".to_string(), 1)]
    );
    assert_eq!(counts("UTC", "day"), [("2026-03-29".to_string(), 1)]);
    assert_eq!(
        counts("Europe/Berlin", "day"),
        [("2026-03-30".to_string(), 1)]
    );
}

/// A range that ended before a reorganisation reads the directory in force then: Ada moves
/// from Payments to Web in the second import. Up to a moment between the two imports, she is
/// on Payments (snapshot 1); for an open range, on Web (snapshot 2).
#[test]
fn a_past_range_reads_the_directory_in_force_at_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path(), &[]);
    let first = server.get_json("/api/v1/directory")["snapshot"]["importedAt"]
        .as_str()
        .unwrap()
        .to_string();
    // The first import's time, to the second, plus one: after it, and before the second,
    // which comes two seconds later.
    let between = (DateTime::parse_from_rfc3339(&first).unwrap() + Duration::seconds(1))
        .to_utc()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    std::thread::sleep(std::time::Duration::from_secs(2));
    let moved = DIRECTORY.replace(
        "person,ada,Ada Ng,ada@example.com,ada@corp,,,pay,,",
        "person,ada,Ada Ng,ada@example.com,ada@corp,,,web,,",
    );
    let resp = Server::client()
        .post(server.url("/api/v1/directory"))
        .header("x-license-key", ADMIN_KEY)
        .header("content-type", "text/csv")
        .body(moved)
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);

    let report = |query: &str| {
        server.get_json(&format!(
            "/api/v1/reports/usage?from=2026-03-01{query}&primary_key=username"
        ))
    };
    let ada_team = |r: &Value| {
        r["userMetrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["identifier"] == "ada@corp")
            .map(|u| u["team"].clone())
    };
    let then = report(&format!("&to={between}"));
    assert_eq!(then["scope"]["snapshot"], 1, "{between}");
    assert_eq!(ada_team(&then), Some(json!("Payments")));
    let now = report("");
    assert_eq!(now["scope"]["snapshot"], 2);
    assert_eq!(ada_team(&now), Some(json!("Web")));
    // Scoped to Payments: Ada's 8 sessions and Bob's 4 then, only Bob's now.
    assert_eq!(
        report(&format!("&to={between}&group=pay"))["periodMetrics"]["sessionCount"],
        12
    );
    assert_eq!(report("&group=pay")["periodMetrics"]["sessionCount"], 4);
    // The Adoption report too: Payments had Ada and Bob, now only Bob.
    let adoption_then = server.get_json(&format!(
        "/api/v1/reports/adoption?from=2026-03-02&to={between}&group=pay"
    ));
    assert_eq!(adoption_then["snapshot"]["snapshot"], 1);
    assert_eq!(adoption_then["counts"]["engineers"], 2);
    let adoption_now = server.get_json("/api/v1/reports/adoption?from=2026-03-02&group=pay");
    assert_eq!(adoption_now["snapshot"]["snapshot"], 2);
    assert_eq!(adoption_now["counts"]["engineers"], 1);
}

/// `[directory] team_type` chooses which of a person's direct groups is their team: Ada is a
/// direct member of both Payments (a team) and Engineering (a department).
#[test]
fn the_team_type_chooses_which_direct_group_is_the_team() {
    let team_of_ada = |team_type: &str| {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db.duckdb");
        {
            let mut store = mirrord_usage::database::open(db.to_str().unwrap()).unwrap();
            store.append(&events(&sessions()), &[], &[]).unwrap();
        }
        let config = dir.path().join("config.toml");
        std::fs::write(
            &config,
            format!("[directory]\nteam_type = \"{team_type}\"\n"),
        )
        .unwrap();
        let server = Server::with_config(&db, &config);
        let resp = Server::client()
            .post(server.url("/api/v1/directory"))
            .header("x-license-key", ADMIN_KEY)
            .header("content-type", "text/csv")
            .body(DIRECTORY.replace(
                "person,ada,Ada Ng,ada@example.com,ada@corp,,,pay,,",
                "person,ada,Ada Ng,ada@example.com,ada@corp,,,pay;eng,,",
            ))
            .send()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let report = server.get_json(&format!(
            "/api/v1/reports/usage?{RANGE}&primary_key=username"
        ));
        report["userMetrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["identifier"] == "ada@corp")
            .unwrap()["team"]
            .clone()
    };
    assert_eq!(team_of_ada("team"), json!("Payments"));
    assert_eq!(team_of_ada("department"), json!("Engineering"));
}
