//! The directory of engineers and groups over HTTP: an admin imports it as a whole, a bad file
//! is refused with every problem named and changes nothing, and viewers read the tree with
//! who no session matches. The file checks themselves are unit tests in src/directory/.

mod common;

use common::{ADMIN_KEY, KEY, Server};
use serde_json::Value;

const GOOD: &str = "\
kind,id,name,email,kubernetes_user,client_name,groups,type,parent
group,eng,Engineering,,,,,department,
group,pay,Payments,,,,,team,eng
group,web,Web,,,,,team,eng
person,ana,Ana Lima,ana@corp.example,ana@corp.example,ana,pay,,
person,bo,Bo Berg,bo@corp.example,bo@corp.example,,web,,
person,cy,Cy Chan,,cy@corp.example,,web,,
";

fn post(server: &Server, key: &str, content_type: &str, body: &str) -> (u16, Value) {
    let resp = Server::client()
        .post(server.url("/api/v1/directory"))
        .header("x-license-key", key)
        .header("content-type", content_type)
        .body(body.to_string())
        .send()
        .unwrap();
    (resp.status().as_u16(), resp.json().unwrap_or(Value::Null))
}

fn show(server: &Server) -> Value {
    let resp = Server::client()
        .get(server.url("/api/v1/directory"))
        .header("x-license-key", KEY)
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    resp.json().unwrap()
}

#[test]
fn an_import_is_all_or_nothing_and_viewers_read_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("db.duckdb"), &["--no-receivers"]);
    assert_eq!(
        show(&server)["snapshot"],
        Value::Null,
        "nothing imported yet"
    );

    let (status, body) = post(&server, KEY, "text/csv", GOOD);
    assert_eq!(status, 403, "a viewer can't import: {body}");

    let (status, report) = post(&server, ADMIN_KEY, "text/csv", GOOD);
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["imported"], true);
    assert_eq!(report["snapshot"], 1);
    assert_eq!(
        (report["people"].as_i64(), report["groups"].as_i64()),
        (Some(3), Some(3))
    );

    // Only Ana's Kubernetes user appears in the logs.
    let line = r#"{"timestamp":"2026-12-01T10:00:00Z","level":"INFO","fields":{"message":"Session Start","session_id":"s1","client_user":"ana@corp.example"},"target":"operator"}"#;
    server.ingest(format!("{line}\n"));

    let tree = show(&server);
    assert_eq!(tree["snapshot"]["snapshot"], 1);
    let group = |id: &str| {
        tree["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["id"] == id)
            .cloned()
            .unwrap()
    };
    // Engineering has nobody directly and all three below it; Web has Bo and Cy.
    assert_eq!(
        (
            group("eng")["directMembers"].as_i64(),
            group("eng")["people"].as_i64()
        ),
        (Some(0), Some(3))
    );
    assert_eq!(
        (
            group("web")["directMembers"].as_i64(),
            group("web")["people"].as_i64()
        ),
        (Some(2), Some(2))
    );
    assert_eq!(group("pay")["parent"], "eng");
    let never: Vec<&str> = tree["neverMatched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(never, vec!["bo", "cy"]);

    // A file with a cycle and an identity claimed twice: refused, every problem named, and the
    // directory in force unchanged.
    let bad = "\
kind,id,name,kubernetes_user,groups,type,parent
group,a,A,,,team,b
group,b,B,,,department,a
person,dee,Dee,dee@corp.example,a,,
person,eve,Eve,dee@corp.example,a,,
";
    let (status, report) = post(&server, ADMIN_KEY, "text/csv", bad);
    assert_eq!(status, 422, "{report}");
    assert_eq!(report["imported"], false);
    let problems: Vec<(i64, String)> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["row"].as_i64().unwrap(),
                p["column"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        problems,
        vec![
            (2, "parent".to_string()),
            (3, "parent".to_string()),
            (5, "kubernetes_user".to_string())
        ]
    );
    let after = show(&server);
    assert_eq!(
        after["snapshot"]["snapshot"], 1,
        "the refused file changed nothing"
    );
    assert_eq!(after["groups"].as_array().unwrap().len(), 3);

    // JSON works the same and becomes snapshot 2; the views read the newest.
    let json = r#"{"groups": [{"id": "ops", "type": "team", "name": "Ops"}],
                   "people": [{"id": "ana", "name": "Ana Lima", "kubernetes_user": "ana@corp.example", "groups": ["ops"]}]}"#;
    let (status, report) = post(&server, ADMIN_KEY, "application/json", json);
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["snapshot"], 2);
    // (SQL rows come back as arrays in column order; lists as their text.)
    let rows = server.rows("SELECT person_id, groups FROM directory");
    assert_eq!(rows, vec![serde_json::json!(["ana", "[ops]"])]);
    let matched = server.rows("SELECT person_id FROM session_people WHERE session_id = 's1'");
    assert_eq!(matched, vec![serde_json::json!(["ana"])]);
}

/// The CLI: `--check` reads and checks without importing, a bad file exits non-zero with its
/// problems and changes nothing, `import` stores a snapshot, `show` prints the tree.
#[test]
fn the_cli_checks_imports_and_shows() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.duckdb");
    let good = dir.path().join("people.csv");
    std::fs::write(&good, GOOD).unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "id,name,client_id\nana,Ana,m1\nbo,Bo,m1\n").unwrap();
    let path = |p: &std::path::Path| p.display().to_string();

    // Identities by hand: Ana's Kubernetes user and client name, Bo's and Cy's Kubernetes users.
    let checked = common::ok(common::run(
        &db,
        &["directory", "import", &path(&good), "--check"],
    ));
    assert!(
        checked.contains("no problems (3 people, 3 groups, 4 identities)"),
        "{checked}"
    );
    assert!(!db.exists(), "--check wrote nothing, not even a database");

    let refused = common::run(&db, &["directory", "import", &path(&bad), "--json"]);
    assert!(!refused.status.success(), "a bad file exits non-zero");
    let report: Value = serde_json::from_slice(&refused.stdout).unwrap();
    assert_eq!(report["imported"], false);
    assert_eq!(report["problems"][0]["row"], 3);
    assert_eq!(report["problems"][0]["column"], "client_id");

    assert!(!db.exists(), "a refused file wrote nothing");
    let imported = common::ok(common::run(&db, &["directory", "import", &path(&good)]));
    assert!(
        imported.contains("imported directory snapshot 1: 3 people, 3 groups, 4 identities"),
        "{imported}"
    );
    let tree = common::ok(common::run(&db, &["directory", "show"]));
    assert!(
        tree.contains("  Engineering (department, eng): 3 people, 0 direct"),
        "{tree}"
    );
    assert!(
        tree.contains("    Web (team, web): 2 people, 2 direct"),
        "{tree}"
    );
    assert!(tree.contains("matched by no session (3)"), "{tree}");
}

/// Each kind of bad file, over HTTP: refused (422) with the row, column and reason, and the
/// directory in force (snapshot 1) still there afterwards.
#[test]
fn each_bad_file_is_refused_with_its_row_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("db.duckdb"), &["--no-receivers"]);
    let (status, _) = post(&server, ADMIN_KEY, "text/csv", GOOD);
    assert_eq!(status, 200);
    let cases: [(&str, &str, (i64, &str, &str)); 6] = [
        (
            "missing column",
            "id,email\nana,ana@corp.example\n",
            (1, "name", "missing column"),
        ),
        (
            "duplicate id",
            "id,name\nana,Ana\nana,Ana Again\n",
            (3, "id", "duplicate person id `ana` (first at row 2)"),
        ),
        (
            "unknown parent",
            "kind,id,name,type,parent\ngroup,pay,Payments,team,nowhere\n",
            (2, "parent", "unknown parent group `nowhere`"),
        ),
        (
            "cycle",
            "kind,id,name,type,parent\ngroup,a,A,team,b\ngroup,b,B,team,a\n",
            (2, "parent", "parent links form a cycle"),
        ),
        (
            "identity claimed twice",
            "id,name,client_name\nana,Ana,ana\nbo,Bo,ana\n",
            (3, "client_name", "ana"),
        ),
        (
            "unknown group",
            "id,name,groups\nana,Ana,nowhere\n",
            (2, "groups", "nowhere"),
        ),
    ];
    for (case, body, (row, column, reason)) in cases {
        let (status, report) = post(&server, ADMIN_KEY, "text/csv", body);
        assert_eq!(status, 422, "{case}: {report}");
        let found = report["problems"].as_array().unwrap().iter().any(|p| {
            p["row"] == row
                && p["column"] == column
                && p["reason"].as_str().unwrap().contains(reason)
        });
        assert!(found, "{case}: row {row}, {column}, `{reason}` in {report}");
        let now = show(&server);
        assert_eq!(now["snapshot"]["snapshot"], 1, "{case}: nothing changed");
        assert_eq!(now["groups"].as_array().unwrap().len(), 3, "{case}");
    }
}
