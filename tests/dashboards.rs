//! The generated dashboards, checked the way a user would meet them: `mirrord-usage dashboards`
//! writes the files, the committed copies under `dashboards/` must equal them, and each vendor's
//! own schema or client accepts them, offline:
//!
//! - Grafana: JSON Schemas derived from `@grafana/schema` (ts-json-schema-generator + ajv) and
//!   Grafana 12's published schemas for the dashboard and each panel; each panel's options and
//!   custom field config against its type's own Grafana 12 schema, unknown keys rejected (a
//!   panel type without one fails); query schemas; LogQL through Grafana's grammar; every PromQL
//!   expression through `promtool check rules`.
//! - Datadog: `datadog-api-client`'s `Dashboard` model, failing on unparsed nodes and unknown keys.
//! - Kibana: a structural checker of the saved objects (references, JSON strings, grid, KQL,
//!   migration versions).
//!
//! The validators live in `tests/dashboards/`; `.ci/install.d/dashboards.sh` installs their tools.
//! A missing tool fails the test with that hint rather than skipping it.
//! `UPDATE_GOLDEN=1` rewrites the committed files.

use std::ffi::OsStr;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const INSTALL_HINT: &str =
    "run `bash .ci/install.d/dashboards.sh` to install the dashboard validators";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn validators() -> PathBuf {
    repo().join("tests/dashboards")
}

/// Runs `mirrord-usage dashboards --out DIR ARGS` and returns DIR.
fn generate(args: &[&str]) -> tempfile::TempDir {
    let out = tempfile::tempdir().expect("temporary directory");
    let output = Command::new(env!("CARGO_BIN_EXE_mirrord-usage"))
        .arg("dashboards")
        .arg("--out")
        .arg(out.path())
        .args(args)
        .output()
        .expect("mirrord-usage runs");
    assert!(
        output.status.success(),
        "mirrord-usage dashboards failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// Runs a validator tool in `tests/dashboards`; a tool that is not installed fails the test.
fn run_tool<I, S>(program: &str, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    match Command::new(program)
        .args(args)
        .current_dir(validators())
        .output()
    {
        Ok(output) => output,
        Err(error) if error.kind() == ErrorKind::NotFound => {
            panic!("{program} is not installed: {INSTALL_HINT}")
        }
        Err(error) => panic!("cannot run {program}: {error}"),
    }
}

fn report(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn assert_accepted(what: &str, output: &Output) {
    let text = report(output);
    assert!(
        !text.contains("is not installed") && !text.contains("Cannot find package"),
        "{what}: {INSTALL_HINT}\n{text}"
    );
    assert!(
        output.status.success(),
        "{what} rejected the dashboards:\n{text}"
    );
}

fn assert_rejected(what: &str, output: &Output, expected: &str) {
    let text = report(output);
    assert!(
        !output.status.success(),
        "{what} accepted a broken dashboard:\n{text}"
    );
    assert!(
        text.contains(expected),
        "{what} failed for another reason than {expected:?}:\n{text}"
    );
}

fn require_node_modules() {
    assert!(
        validators().join("node_modules/@grafana/schema").is_dir()
            && validators()
                .join("node_modules/ts-json-schema-generator")
                .is_dir(),
        "tests/dashboards/node_modules is missing: {INSTALL_HINT}"
    );
}

/// Validates Grafana dashboards and checks their PromQL with promtool.
fn grafana(files: &[PathBuf]) -> (Output, Option<Output>) {
    require_node_modules();
    let rules = tempfile::tempdir().expect("temporary directory");
    let rules_file = rules.path().join("promql-rules.json");
    let mut args = vec![
        "validate-grafana.mjs".into(),
        "--promql-rules".into(),
        rules_file.clone().into_os_string(),
    ];
    args.extend(files.iter().map(|file| file.clone().into_os_string()));
    let schema = run_tool("node", args);
    let promtool = rules_file.exists().then(|| {
        run_tool(
            "promtool",
            [
                OsStr::new("check"),
                OsStr::new("rules"),
                rules_file.as_os_str(),
            ],
        )
    });
    (schema, promtool)
}

fn datadog(file: &Path) -> Output {
    run_tool(
        "python3",
        [OsStr::new("validate_datadog.py"), file.as_os_str()],
    )
}

fn kibana(file: &Path, version: &str) -> Output {
    run_tool(
        "python3",
        [
            OsStr::new("validate_kibana.py"),
            OsStr::new("--kibana-version"),
            OsStr::new(version),
            file.as_os_str(),
        ],
    )
}

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).expect("generated file");
    serde_json::from_str(&text).expect("generated JSON")
}

/// The index and title of the dashboard's first panel of this type.
fn first_panel(dashboard: &Value, panel_type: &str) -> (usize, String) {
    let panels = dashboard["panels"].as_array().expect("panels");
    let index = panels
        .iter()
        .position(|panel| panel["type"] == panel_type)
        .unwrap_or_else(|| panic!("a {panel_type} panel"));
    let title = panels[index]["title"].as_str().expect("title").to_owned();
    (index, title)
}

fn write_json(path: &Path, value: &Value) {
    fs::write(
        path,
        serde_json::to_string_pretty(value).expect("serializes"),
    )
    .expect("writes");
}

#[test]
fn committed_dashboards_match_the_generator() {
    let out = generate(&[]);
    let committed = repo().join("dashboards");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|value| value == "1");
    let mut names: Vec<_> = fs::read_dir(out.path())
        .expect("output directory")
        .map(|entry| entry.expect("entry").file_name())
        .collect();
    names.sort();
    assert_eq!(names.len(), 5, "four dashboards and a README: {names:?}");
    let mut stale = Vec::new();
    for name in names {
        let generated = fs::read_to_string(out.path().join(&name)).expect("generated file");
        let path = committed.join(&name);
        if update {
            fs::create_dir_all(&committed).expect("dashboards/ directory");
            fs::write(&path, &generated).expect("rewrites the committed file");
        } else if fs::read_to_string(&path).ok().as_deref() != Some(generated.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "committed dashboards differ from the generator: {stale:?}\n\
         if the change is intended, run `UPDATE_GOLDEN=1 cargo test --release --test dashboards` \
         and commit dashboards/"
    );
}

#[test]
fn grafana_dashboards_match_grafanas_schemas_and_their_queries_parse() {
    let out = generate(&[]);
    let files = [
        out.path().join("grafana-prometheus.json"),
        out.path().join("grafana-loki.json"),
    ];
    let (schema, promtool) = grafana(&files);
    assert_accepted("the Grafana schema validator", &schema);
    let promtool = promtool.expect("the validator wrote the PromQL rules file");
    assert_accepted("promtool check rules", &promtool);
    assert!(
        report(&promtool).contains("SUCCESS"),
        "{}",
        report(&promtool)
    );
}

#[test]
fn datadog_dashboard_deserializes_into_the_client_model() {
    let out = generate(&[]);
    assert_accepted(
        "the Datadog model check",
        &datadog(&out.path().join("datadog.json")),
    );
}

#[test]
fn kibana_saved_objects_are_consistent_for_the_target_version() {
    let out = generate(&[]);
    assert_accepted(
        "the Kibana checker",
        &kibana(&out.path().join("kibana.ndjson"), "8.15"),
    );
    let older = generate(&["--kibana-version", "8.9", "--index", "fluentd-*"]);
    let file = older.path().join("kibana.ndjson");
    assert_accepted("the Kibana checker (8.9)", &kibana(&file, "8.9"));
    let text = fs::read_to_string(&file).expect("generated file");
    assert!(
        text.contains("\"title\":\"fluentd-*\""),
        "--index sets the data view"
    );
}

#[test]
fn options_reach_the_log_queries() {
    let out = generate(&["--namespace", "ops", "--container", "operator"]);
    let loki = fs::read_to_string(out.path().join("grafana-loki.json")).expect("generated file");
    assert!(loki.contains(r#"{namespace=\"ops\", container=\"operator\"}"#));
    let datadog = fs::read_to_string(out.path().join("datadog.json")).expect("generated file");
    assert!(datadog.contains("kube_namespace:ops kube_container_name:operator"));
}

#[test]
fn unsupported_kibana_versions_are_refused() {
    let out = tempfile::tempdir().expect("temporary directory");
    let output = Command::new(env!("CARGO_BIN_EXE_mirrord-usage"))
        .args(["dashboards", "--kibana-version", "7.17", "--out"])
        .arg(out.path())
        .output()
        .expect("mirrord-usage runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("7.17"));
}

/// The validators are not vacuous: each rejects a dashboard broken the way real ones break.
#[test]
fn validators_reject_broken_dashboards() {
    let out = generate(&[]);
    let dir = out.path();

    let grafana_file = dir.join("grafana-loki.json");
    let mut dashboard = read_json(&grafana_file);
    dashboard["panels"][0]["fieldConfig"]["defaults"]["bogus"] = Value::Bool(true);
    dashboard["panels"][3]["targets"][0]["expr"] =
        Value::from("sum(count_over_time({a=\"b\"} | json [1m]");
    // A key Grafana 12's piechart options don't have (the generator once wrote it).
    let (pie, pie_title) = first_panel(&dashboard, "piechart");
    dashboard["panels"][pie]["options"]["sort"] = Value::from("desc");
    write_json(&grafana_file, &dashboard);
    let prometheus_file = dir.join("grafana-prometheus.json");
    let mut dashboard = read_json(&prometheus_file);
    dashboard["panels"][0]["targets"][0]["expr"] = Value::from("sum(rate(x[5m])");
    // A panel type with no schema in tests/dashboards/grafana-jsonschema.
    let (table, _) = first_panel(&dashboard, "table");
    dashboard["panels"][table]["type"] = Value::from("barchart");
    write_json(&prometheus_file, &dashboard);
    let (schema, promtool) = grafana(&[grafana_file, prometheus_file]);
    assert_rejected(
        "the Grafana schema validator",
        &schema,
        r#"must NOT have additional properties {"additionalProperty":"bogus"}"#,
    );
    assert_rejected(
        "the Grafana schema validator",
        &schema,
        &format!(
            "\"{pie_title}\" (piechart) against piechart.jsonschema.json: options.sort must NOT \
             have additional properties"
        ),
    );
    assert_rejected(
        "the Grafana schema validator",
        &schema,
        "no schema for panel type barchart",
    );
    assert_rejected(
        "the Grafana schema validator",
        &schema,
        "LogQL does not parse",
    );
    let promtool = promtool.expect("the validator wrote the PromQL rules file");
    assert_rejected("promtool check rules", &promtool, "parse error");

    let datadog_file = dir.join("datadog.json");
    let mut dashboard = read_json(&datadog_file);
    dashboard["widgets"][0]["definition"]["type"] = Value::from("query_valu");
    dashboard["widgets"][1]["definition"]["requests"][0]["bogus"] = Value::from(1);
    write_json(&datadog_file, &dashboard);
    let output = datadog(&datadog_file);
    assert_rejected("the Datadog model check", &output, "unparsed");
    assert_rejected("the Datadog model check", &output, "unknown key");

    let kibana_file = dir.join("kibana.ndjson");
    let text = fs::read_to_string(&kibana_file).expect("generated file");
    let broken = text.replacen(
        "\"id\":\"mirrord-usage-logstash\"",
        "\"id\":\"elsewhere\"",
        1,
    );
    fs::write(&kibana_file, broken).expect("writes");
    assert_rejected(
        "the Kibana checker",
        &kibana(&kibana_file, "8.15"),
        "missing index-pattern",
    );
    assert_rejected(
        "the Kibana checker",
        &kibana(&kibana_file, "8.10"),
        "newer than Kibana",
    );
}
