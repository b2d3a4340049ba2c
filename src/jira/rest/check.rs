//! `mirrord-usage jira check`: the `[jira.rest]` config against the live Jira, before `serve`
//! relies on it. Each check says what it found and, when it fails, what to change:
//!
//! 1. the config itself (URL, credentials present for the deployment, field ids well formed);
//! 2. sign-in: `GET /rest/api/{v}/myself` (a refused token stops here: nothing else would work);
//! 3. fields: `GET /rest/api/{v}/field`, each configured id exists and its `schema.type` is
//!    `number` (counts, hours) or `string` (the last user);
//! 4. one issue: `GET /rest/api/{v}/issue/{key}` is readable, and `…/editmeta` lists every
//!    configured field (a field missing from the issue's edit screen cannot be written).

use std::fmt;

use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

use super::client::{Client, Outcome};
use super::{Deployment, FieldChoice, JiraRestConfig};
use crate::jira::{JiraConfig, is_issue_key};

/// One check and its result.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// `config`, `auth`, `field`, `issue`.
    pub check: &'static str,
    pub ok: bool,
    /// What was found, or exactly what is wrong and what to do.
    pub message: String,
}

/// Every check that ran.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckReport {
    pub findings: Vec<Finding>,
}

impl CheckReport {
    /// True when nothing failed.
    pub fn ok(&self) -> bool {
        self.findings.iter().all(|f| f.ok)
    }

    fn push(&mut self, check: &'static str, ok: bool, message: impl Into<String>) {
        self.findings.push(Finding {
            check,
            ok,
            message: message.into(),
        });
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for finding in &self.findings {
            let mark = if finding.ok { "ok  " } else { "FAIL" };
            writeln!(f, "{mark} {:<6} {}", finding.check, finding.message)?;
        }
        let failed = self.findings.iter().filter(|f| !f.ok).count();
        if failed == 0 {
            writeln!(f, "Jira is ready for the REST sink.")
        } else {
            writeln!(
                f,
                "{failed} problem(s); fix them and run `jira check` again."
            )
        }
    }
}

fn outcome_error(o: &Outcome) -> String {
    match o {
        Outcome::Done(_) => String::new(),
        Outcome::Retry { error, .. } | Outcome::Rejected { error, .. } => error.clone(),
    }
}

fn status_of(o: &Outcome) -> Option<u16> {
    match o {
        Outcome::Done(_) => Some(200),
        Outcome::Retry { status, .. } => *status,
        Outcome::Rejected { status, .. } => Some(*status),
    }
}

/// Runs the checks; `issue` is the issue to read (`None`: that check fails and says to pass
/// one).
pub async fn check(config: &JiraConfig, issue: Option<&str>) -> CheckReport {
    let mut report = CheckReport::default();
    let Some(rest) = config.rest_enabled() else {
        report.push(
            "config",
            false,
            "[jira.rest] base_url is not set; add a [jira.rest] section (docs/jira.md)",
        );
        return report;
    };
    let client = match config.validate().and_then(|()| Client::new(config, rest)) {
        Ok(c) => c,
        Err(e) => {
            report.push("config", false, e.to_string());
            return report;
        }
    };
    report.push(
        "config",
        true,
        format!(
            "{} ({:?}, REST API {})",
            rest.base_url.trim(),
            rest.deployment,
            rest.deployment.api_version()
        ),
    );
    if !check_auth(&client, rest, &mut report).await {
        return report;
    }
    let fields = rest.fields();
    check_fields(&client, &fields, &mut report).await;
    check_issue(&client, &fields, issue, &mut report).await;
    report
}

async fn check_auth(client: &Client, rest: &JiraRestConfig, report: &mut CheckReport) -> bool {
    let o = client.send(Method::GET, "myself", &[], None).await;
    let me = match &o {
        Outcome::Done(me) => me,
        _ => {
            let hint = match (status_of(&o), rest.deployment) {
                (Some(401), Deployment::Cloud) => {
                    "Jira refused the credentials: check [jira.rest] email and api_token (an API token of that account, from id.atlassian.com → Security → API tokens)"
                }
                (Some(401), Deployment::DataCenter) => {
                    "Jira refused the personal access token: check [jira.rest] personal_access_token (Profile → Personal Access Tokens; it may have expired)"
                }
                (Some(403), _) => {
                    "Jira knows the account but refuses it the REST API (a CAPTCHA after failed logins, or no Jira access): sign in once in a browser, or check the account's product access"
                }
                (None, _) => "cannot reach Jira: check [jira.rest] base_url and [jira] ca_file",
                _ => "unexpected answer from Jira",
            };
            report.push("auth", false, format!("{hint} ({})", outcome_error(&o)));
            return false;
        }
    };
    let who = ["displayName", "emailAddress", "name", "accountId"]
        .iter()
        .filter_map(|k| me[*k].as_str())
        .collect::<Vec<_>>()
        .join(", ");
    report.push("auth", true, format!("signed in as {who}"));
    true
}

fn describe_field(f: &Value) -> String {
    format!(
        "{} ({:?}, {})",
        f["id"].as_str().unwrap_or("?"),
        f["name"].as_str().unwrap_or("?"),
        f["schema"]["type"].as_str().unwrap_or("no type")
    )
}

async fn check_fields(client: &Client, fields: &[FieldChoice], report: &mut CheckReport) {
    if fields.is_empty() {
        return;
    }
    let all = match client.send(Method::GET, "field", &[], None).await {
        Outcome::Done(Value::Array(all)) => all,
        o => {
            let e = outcome_error(&o);
            report.push("field", false, format!("cannot list Jira's fields: {e}"));
            return;
        }
    };
    for choice in fields {
        let Some(field) = all.iter().find(|f| f["id"].as_str() == Some(&choice.id)) else {
            let like: Vec<String> = all
                .iter()
                .filter(|f| {
                    f["name"]
                        .as_str()
                        .is_some_and(|n| n.to_lowercase().contains("mirrord"))
                })
                .map(describe_field)
                .collect();
            let hint = if like.is_empty() {
                "create it (docs/jira.md) and put its id here".to_string()
            } else {
                format!("fields named like mirrord: {}", like.join(", "))
            };
            report.push(
                "field",
                false,
                format!(
                    "[jira.rest] {} = {:?}: Jira has no field with this id; {hint}",
                    choice.option, choice.id
                ),
            );
            continue;
        };
        let want = choice.kind.schema_type();
        let got = field["schema"]["type"].as_str().unwrap_or("none");
        if got == want {
            report.push(
                "field",
                true,
                format!("{} = {}", choice.option, describe_field(field)),
            );
        } else {
            report.push(
                "field",
                false,
                format!(
                    "[jira.rest] {} = {}: its type is {got}, but {} needs a {want} field ({})",
                    choice.option,
                    describe_field(field),
                    choice.option.trim_end_matches("_field"),
                    if want == "number" {
                        "a Number Field custom field"
                    } else {
                        "a Text Field (single line) custom field"
                    }
                ),
            );
        }
    }
}

async fn check_issue(
    client: &Client,
    fields: &[FieldChoice],
    issue: Option<&str>,
    report: &mut CheckReport,
) {
    let Some(key) = issue else {
        report.push(
            "issue",
            false,
            "no issue to read: pass --issue KEY (the database has no session with an issue key)",
        );
        return;
    };
    if !is_issue_key(key) {
        report.push(
            "issue",
            false,
            format!("{key:?} is not an issue key like SHOP-12"),
        );
        return;
    }
    let o = client
        .send(
            Method::GET,
            &format!("issue/{key}"),
            &[("fields", "summary")],
            None,
        )
        .await;
    let Outcome::Done(found) = &o else {
        let why = match status_of(&o) {
            Some(404) => {
                "not found, or this account may not browse it (Browse projects permission)"
            }
            Some(403) => "this account may not browse it (Browse projects permission)",
            _ => "cannot read it",
        };
        report.push(
            "issue",
            false,
            format!("issue {key}: {why} ({})", outcome_error(&o)),
        );
        return;
    };
    let summary = found["fields"]["summary"].as_str().unwrap_or("");
    report.push("issue", true, format!("{key} is readable: {summary:?}"));
    if fields.is_empty() {
        return;
    }
    let meta = client
        .send(Method::GET, &format!("issue/{key}/editmeta"), &[], None)
        .await;
    let Outcome::Done(meta) = meta else {
        let e = outcome_error(&meta);
        report.push(
            "issue",
            false,
            format!("issue {key}: cannot read what may be edited (editmeta): {e}"),
        );
        return;
    };
    for choice in fields {
        let editable = meta["fields"].get(&choice.id).is_some();
        if editable {
            report.push(
                "issue",
                true,
                format!("{} ({}) is editable on {key}", choice.id, choice.option),
            );
        } else {
            report.push(
                "issue",
                false,
                format!(
                    "[jira.rest] {} = {}: not editable on {key}: add the field to the edit screen of the project's issue types (or this account lacks Edit issues)",
                    choice.option, choice.id
                ),
            );
        }
    }
}
