//! The Jira REST sink (`[jira.rest]`): each issue's all-time totals written onto the issue
//! itself, over Jira's own REST API, so they show on the issue and work in JQL
//! (`"mirrord hours" > 2`) with nothing installed in Jira.
//!
//! Per issue it writes, in this order and only what is configured:
//! 1. the custom fields (`PUT /rest/api/{v}/issue/{key}` with `{"fields": {...}}`);
//! 2. the issue property `mirrord-usage` with the full totals as JSON
//!    (`PUT …/issue/{key}/properties/mirrord-usage`);
//! 3. one comment, created once (`POST …/comment`) and then edited in place
//!    (`PUT …/comment/{id}`), its id kept in `jira_rest_issues`.
//!
//! `{v}` is 3 on Jira Cloud (email + API token, basic auth; comment bodies in the Atlassian
//! Document Format) and 2 on Data Center / Server (personal access token as a bearer; plain
//! text comments). Every write is an absolute total computed when it is sent, so a repeat is
//! harmless.
//!
//! # Layout
//! - this file: the config, its validation, and what is written (fields, property, comment).
//! - [`client`]: the HTTP client: auth, URLs, and each response sorted into done, retry
//!   (429/5xx/network, with `Retry-After`) or rejected (404, 400: Jira's error text).
//! - [`sink`]: the `serve` task (and `jira sync`): due `rest.*` rows of `jira_outbox`, grouped
//!   by issue, one write per issue per interval.
//! - [`check`]: `mirrord-usage jira check` against the live Jira.

pub mod check;
pub mod client;
pub mod sink;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{JiraError, config_error};
use crate::analytics::reports::JiraMetric;
use crate::secret::Secret;

/// The issue property the full totals are written to.
pub const PROPERTY_KEY: &str = "mirrord-usage";

/// Text that marks our comment, so that it is found again when its id is not known (a crash
/// right after creating it).
pub const COMMENT_MARKER: &str = "kept up to date by mirrord-usage";

/// Which Jira: it decides the API version, the auth and the comment format.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Deployment {
    /// Jira Cloud (`*.atlassian.net`): REST API 3, email + API token.
    #[default]
    Cloud,
    /// Jira Data Center or Server: REST API 2, personal access token.
    #[serde(alias = "server")]
    DataCenter,
}

impl Deployment {
    /// The REST API version used: 3 on Cloud, 2 on Data Center.
    pub fn api_version(self) -> u8 {
        match self {
            Deployment::Cloud => 3,
            Deployment::DataCenter => 2,
        }
    }
}

/// `[jira.rest]`: where the Jira is, how to sign in, and what to write on each issue.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct JiraRestConfig {
    /// The site, e.g. `https://corp.atlassian.net` or `https://jira.corp.example`; empty
    /// turns the sink off.
    pub base_url: String,
    /// `cloud` (API 3, email + API token) or `data_center` (API 2, personal access token).
    pub deployment: Deployment,
    /// Cloud: the Atlassian account the API token belongs to.
    pub email: String,
    /// Cloud: the API token (id.atlassian.com → Security → API tokens).
    pub api_token: Secret,
    /// Read the API token from this file (a mounted Kubernetes secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_token_file: Option<PathBuf>,
    /// Data Center: a personal access token (Profile → Personal Access Tokens).
    pub personal_access_token: Secret,
    /// Read the personal access token from this file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub personal_access_token_file: Option<PathBuf>,
    /// Number field for the issue's session count (e.g. `customfield_10050`); empty: not
    /// written.
    pub sessions_field: String,
    /// Number field for the total session time in hours, two decimals.
    pub hours_field: String,
    /// Number field for the distinct users.
    pub users_field: String,
    /// Number field for the CI sessions.
    pub ci_sessions_field: String,
    /// Text field for the user of the latest session.
    pub last_user_field: String,
    /// Write the full totals as the issue property `mirrord-usage`.
    pub property: bool,
    /// Keep one comment with the totals on each issue, edited in place.
    pub comment: bool,
    /// Updates for one issue within this many milliseconds make one write.
    pub interval_ms: u64,
}

impl Default for JiraRestConfig {
    fn default() -> Self {
        JiraRestConfig {
            base_url: String::new(),
            deployment: Deployment::Cloud,
            email: String::new(),
            api_token: Secret::default(),
            api_token_file: None,
            personal_access_token: Secret::default(),
            personal_access_token_file: None,
            sessions_field: String::new(),
            hours_field: String::new(),
            users_field: String::new(),
            ci_sessions_field: String::new(),
            last_user_field: String::new(),
            property: true,
            comment: false,
            interval_ms: 30_000,
        }
    }
}

/// What a field holds, which decides the Jira field type it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// A Jira number field (`schema.type = "number"`).
    Number,
    /// A Jira text field (`schema.type = "string"`).
    Text,
}

impl FieldKind {
    /// The `schema.type` Jira reports for a field that can hold this.
    pub fn schema_type(self) -> &'static str {
        match self {
            FieldKind::Number => "number",
            FieldKind::Text => "string",
        }
    }
}

/// One configured custom field: the option that names it, its Jira id, and what goes in it.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChoice {
    /// The `[jira.rest]` option, e.g. `hours_field`.
    pub option: &'static str,
    /// The Jira field id, e.g. `customfield_10051`.
    pub id: String,
    pub kind: FieldKind,
}

/// The Jira credentials, resolved from the config value, its `*_file` or the environment.
#[derive(Clone)]
pub enum Auth {
    /// Cloud: `Authorization: Basic base64(email:token)`.
    Basic { email: String, token: String },
    /// Data Center: `Authorization: Bearer token`.
    Bearer { token: String },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Basic { email, .. } => write!(f, "Basic({email}, <redacted>)"),
            Auth::Bearer { .. } => f.write_str("Bearer(<redacted>)"),
        }
    }
}

fn rest_error(option: &str, message: impl Into<String>) -> JiraError {
    config_error(format!("rest.{option}"), message)
}

impl JiraRestConfig {
    /// True when a site is configured.
    pub fn enabled(&self) -> bool {
        !self.base_url.trim().is_empty()
    }

    /// The configured custom fields, in a fixed order.
    pub fn fields(&self) -> Vec<FieldChoice> {
        [
            ("sessions_field", &self.sessions_field, FieldKind::Number),
            ("hours_field", &self.hours_field, FieldKind::Number),
            ("users_field", &self.users_field, FieldKind::Number),
            (
                "ci_sessions_field",
                &self.ci_sessions_field,
                FieldKind::Number,
            ),
            ("last_user_field", &self.last_user_field, FieldKind::Text),
        ]
        .into_iter()
        .filter(|(_, id, _)| !id.trim().is_empty())
        .map(|(option, id, kind)| FieldChoice {
            option,
            id: id.trim().to_string(),
            kind,
        })
        .collect()
    }

    /// The site URL, checked: `https://` (or `http://` for a local test instance), no query.
    pub fn url(&self) -> Result<reqwest::Url, JiraError> {
        let url = reqwest::Url::parse(self.base_url.trim())
            .map_err(|e| rest_error("base_url", format!("not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
            return Err(rest_error(
                "base_url",
                "must be the site's https:// URL, e.g. https://corp.atlassian.net",
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(rest_error(
                "base_url",
                "must not have a query or fragment; give the site URL only",
            ));
        }
        Ok(url)
    }

    /// The credentials for this deployment, read from the value or its file.
    pub fn auth(&self) -> Result<Auth, JiraError> {
        match self.deployment {
            Deployment::Cloud => {
                let token = crate::secret::resolve(
                    "[jira.rest] api_token",
                    &self.api_token,
                    self.api_token_file.as_deref(),
                )?
                .ok_or_else(|| {
                    rest_error(
                        "api_token",
                        "Jira Cloud needs an API token (api_token, api_token_file or MIRRORD_USAGE_JIRA_REST_API_TOKEN)",
                    )
                })?;
                let email = self.email.trim();
                if email.is_empty() || !email.contains('@') {
                    return Err(rest_error(
                        "email",
                        "Jira Cloud needs the email of the account the API token belongs to",
                    ));
                }
                Ok(Auth::Basic {
                    email: email.to_string(),
                    token,
                })
            }
            Deployment::DataCenter => {
                let token = crate::secret::resolve(
                    "[jira.rest] personal_access_token",
                    &self.personal_access_token,
                    self.personal_access_token_file.as_deref(),
                )?
                .ok_or_else(|| {
                    rest_error(
                        "personal_access_token",
                        "Jira Data Center needs a personal access token (personal_access_token, personal_access_token_file or MIRRORD_USAGE_JIRA_REST_PERSONAL_ACCESS_TOKEN)",
                    )
                })?;
                Ok(Auth::Bearer { token })
            }
        }
    }

    /// Checks every option (nothing when the sink is off).
    pub fn validate(&self) -> Result<(), JiraError> {
        if !self.enabled() {
            return Ok(());
        }
        self.url()?;
        self.auth()?;
        let fields = self.fields();
        for f in &fields {
            let ok =
                f.id.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
            if !ok {
                return Err(rest_error(
                    f.option,
                    format!("{:?} is not a Jira field id like customfield_10050", f.id),
                ));
            }
            if let Some(other) = fields.iter().find(|o| o.id == f.id && o.option != f.option) {
                return Err(rest_error(
                    f.option,
                    format!("{} is also {}; give each its own field", f.id, other.option),
                ));
            }
        }
        if fields.is_empty() && !self.property && !self.comment {
            return Err(rest_error(
                "base_url",
                "nothing to write: set a *_field, property = true or comment = true",
            ));
        }
        Ok(())
    }
}

/// An issue's totals as written to Jira: the report's numbers plus the latest user.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssueTotals {
    #[serde(flatten)]
    pub metric: JiraMetric,
    /// Total session time in hours, rounded to two decimals (what the hours field holds).
    pub hours: f64,
    /// The user of the session that was used last.
    pub last_user: Option<String>,
}

impl IssueTotals {
    pub fn new(metric: JiraMetric, last_user: Option<String>) -> IssueTotals {
        let hours = (metric.total_session_time_seconds / 36.0).round() / 100.0;
        IssueTotals {
            metric,
            hours,
            last_user,
        }
    }

    fn value(&self, option: &str) -> Value {
        match option {
            "sessions_field" => json!(self.metric.sessions),
            "hours_field" => json!(self.hours),
            "users_field" => json!(self.metric.unique_users),
            "ci_sessions_field" => json!(self.metric.ci_sessions),
            "last_user_field" => json!(self.last_user.clone().unwrap_or_default()),
            _ => Value::Null,
        }
    }

    /// The body of the edit-issue PUT: `{"fields": {"customfield_…": value, …}}`.
    pub fn fields_body(&self, fields: &[FieldChoice]) -> Value {
        let map: serde_json::Map<String, Value> = fields
            .iter()
            .map(|f| (f.id.clone(), self.value(f.option)))
            .collect();
        json!({ "fields": map })
    }

    /// The issue property's value: every total, and when they were computed.
    pub fn property_value(&self, as_of: &str) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        v["asOf"] = json!(as_of);
        v
    }

    /// The comment, as one line of text.
    pub fn comment_text(&self) -> String {
        let m = &self.metric;
        let minutes = (m.total_session_time_seconds / 60.0).round() as i64;
        let plural = |n: i64, one: &str, many: &str| {
            if n == 1 {
                format!("{n} {one}")
            } else {
                format!("{n} {many}")
            }
        };
        let mut text = format!(
            "mirrord: {} ({} CI), {} h ({} min), {}",
            plural(m.sessions, "session", "sessions"),
            m.ci_sessions,
            self.hours,
            minutes,
            plural(m.unique_users, "user", "users"),
        );
        if let Some(last) = &m.last_used {
            text.push_str(&format!(", last used {last}"));
            if let Some(user) = &self.last_user {
                text.push_str(&format!(" by {user}"));
            }
        }
        text.push_str(&format!(". ({COMMENT_MARKER})"));
        text
    }

    /// The comment body: ADF on Cloud (API 3), a plain string on Data Center (API 2).
    pub fn comment_body(&self, deployment: Deployment) -> Value {
        let text = self.comment_text();
        match deployment {
            Deployment::Cloud => json!({
                "body": {
                    "type": "doc",
                    "version": 1,
                    "content": [{
                        "type": "paragraph",
                        "content": [{ "type": "text", "text": text }]
                    }]
                }
            }),
            Deployment::DataCenter => json!({ "body": text }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(seconds: f64) -> JiraMetric {
        JiraMetric {
            key: "SHOP-12".into(),
            sessions: 3,
            total_session_time_seconds: seconds,
            unique_users: 2,
            first_used: Some("2026-01-05T09:00:00Z".into()),
            last_used: Some("2026-01-05T10:00:00Z".into()),
            ci_sessions: 1,
            exec_sessions: 2,
        }
    }

    fn cloud() -> JiraRestConfig {
        JiraRestConfig {
            base_url: "https://corp.atlassian.net".into(),
            email: "bot@corp.example".into(),
            api_token: Secret("t0ken".into()),
            hours_field: "customfield_10051".into(),
            last_user_field: "customfield_10052".into(),
            ..Default::default()
        }
    }

    #[test]
    fn hours_are_rounded_to_two_decimals_and_fields_keyed_by_id() {
        // 17 minutes = 1020 s = 0.2833… h.
        let t = IssueTotals::new(metric(1020.0), Some("eve@corp.example".into()));
        assert_eq!(t.hours, 0.28);
        let body = t.fields_body(&cloud().fields());
        assert_eq!(
            body,
            json!({"fields": {"customfield_10051": 0.28, "customfield_10052": "eve@corp.example"}})
        );
        let adf = t.comment_body(Deployment::Cloud);
        assert_eq!(adf["body"]["type"], "doc");
        assert_eq!(adf["body"]["version"], 1);
        let text = adf["body"]["content"][0]["content"][0]["text"]
            .as_str()
            .unwrap();
        assert!(
            text.contains("3 sessions (1 CI), 0.28 h (17 min), 2 users"),
            "{text}"
        );
        assert!(text.contains(COMMENT_MARKER));
        assert!(t.comment_body(Deployment::DataCenter)["body"].is_string());
    }

    #[test]
    fn each_misconfiguration_names_its_option() {
        let err = |c: JiraRestConfig| c.validate().unwrap_err().to_string();
        assert!(cloud().validate().is_ok());
        assert!(JiraRestConfig::default().validate().is_ok(), "off");
        let e = err(JiraRestConfig {
            email: String::new(),
            ..cloud()
        });
        assert!(e.contains("[jira] rest.email"), "{e}");
        let e = err(JiraRestConfig {
            api_token: Secret::default(),
            ..cloud()
        });
        assert!(e.contains("rest.api_token"), "{e}");
        let e = err(JiraRestConfig {
            deployment: Deployment::DataCenter,
            ..cloud()
        });
        assert!(e.contains("rest.personal_access_token"), "{e}");
        let e = err(JiraRestConfig {
            base_url: "ftp://x".into(),
            ..cloud()
        });
        assert!(e.contains("rest.base_url"), "{e}");
        let e = err(JiraRestConfig {
            sessions_field: "customfield_10051".into(),
            ..cloud()
        });
        assert!(
            e.contains("rest.hours_field") || e.contains("rest.sessions_field"),
            "{e}"
        );
        let e = err(JiraRestConfig {
            hours_field: "custom field".into(),
            ..cloud()
        });
        assert!(e.contains("rest.hours_field"), "{e}");
    }
}
