//! Jira: which issue a session worked on, per-issue totals pushed to a webhook, and a panel to
//! embed in an issue.
//!
//! # The issue key of a session
//! A Jira key is case-sensitive `[A-Z][A-Z0-9_]+-[1-9][0-9]*` (`KEY-123`; not `key-123`, not
//! `KEY-0123`, not a one-letter project). The `sessions` view resolves the final key in SQL
//! (`resolve_jira_key` in `jira/resolve_key.sql`), so reports, the API, the panel and the webhook
//! all agree and a config change needs no rebuild. First that gives a key wins:
//!
//! 1. **Override**: a `jira_key` or `jira_issue` field on any event of the session (its first
//!    key-shaped substring; the project filter does not apply to an explicit choice).
//! 2. **Rules**: the first `[[jira.rules]]` entry, in config order, whose `user` (client user,
//!    name, hostname or id), `branch` pattern (a GLOB: `*`, `?`, `[abc]`; `""` matches only a
//!    session without a branch) and `from`/`to` window (on the session start, `to` exclusive)
//!    all match. For detached-HEAD (`jj`) users, whose sessions carry no branch.
//! 3. **Branch**: the keys in the branch are read from the left without overlapping
//!    (`feat/ABC-DEF-12` holds `DEF-12`; `SHOP-1-OPS-2` holds `SHOP-1` then `OPS-2`); the first
//!    whose project prefix is in `[jira] project_keys` (any project when the list is empty) wins.
//!
//! # Layout
//! - this file: `[jira]` config, its validation, and copying it into `settings`/`jira_rules`.
//! - [`outbox`]: the durable `jira_outbox` table: enqueue on close (inside the store's commit),
//!   the abandoned sweep, state changes and the status report.
//! - [`delivery`]: the `serve` task that POSTs due pushes with backoff and an idempotency key.
//! - [`rest`]: the REST sink (`[jira.rest]`) that writes each issue's totals onto the issue in
//!   Jira (custom fields, an issue property, one comment), `jira check` and `jira sync`.
//! - [`panel`]: the embeddable HTML panel (its HTTP handlers live in `api::jira`).

pub mod delivery;
pub mod outbox;
pub mod panel;
pub mod rest;

use crate::named_sql::NamedSql;
use chrono::{DateTime, NaiveDateTime, Utc};
use duckdb::{Connection, params};
use serde::{Deserialize, Serialize};

/// The `resolve_jira_key` macro the `sessions` view calls; created before the views.
const RESOLVE_KEY_SQL: &str = include_str!("jira/resolve_key.sql");

/// The store's `define` step: (re)creates `resolve_jira_key`, which the session views call,
/// so it is registered before them (see `crate::database`).
pub fn define_key_macro(
    conn: &Connection,
    _settings: &crate::store::Settings,
) -> Result<(), duckdb::Error> {
    conn.execute_batch(RESOLVE_KEY_SQL)
}

pub const SETTINGS_SQL: NamedSql = NamedSql::new(
    "src/jira/settings.sql",
    include_str!("jira/settings.sql"),
    &["set", "since", "clear_rules", "add_rule"],
);

/// The REST sink's own table and settings rows, created when the settings are synced.
const REST_SCHEMA_SQL: &str = include_str!("jira/rest_schema.sql");

/// A whole Jira issue key, e.g. `SHOP-123`: [`crate::rules::JIRA_KEY_PATTERN`] over the value.
static ISSUE_KEY: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("^{}$", crate::rules::JIRA_KEY_PATTERN));

/// A project prefix, e.g. `SHOP`.
const PROJECT_KEY: &str = r"^[A-Z][A-Z0-9_]+$";

/// Jira errors: bad configuration, or the database.
#[derive(Debug, thiserror::Error)]
pub enum JiraError {
    #[error("[jira] {option}: {message}")]
    Config { option: String, message: String },
    #[error("database error: {0}")]
    Db(#[from] duckdb::Error),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("cannot reach {url}: {message}")]
    Http { url: String, message: String },
    #[error(transparent)]
    Secret(#[from] crate::secret::SecretFileError),
    #[error("{0}")]
    Internal(String),
}

fn config_error(option: impl Into<String>, message: impl Into<String>) -> JiraError {
    JiraError::Config {
        option: option.into(),
        message: message.into(),
    }
}

/// A secret config value: compared and (de)serialized as a string, never printed by `Debug`.
pub use crate::secret::Secret;

/// `[jira]`: issue keys, the webhook push and the embeddable panel.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct JiraConfig {
    /// Only keys of these projects count when read from a branch (e.g. `["SHOP", "OPS"]`);
    /// empty means any project.
    pub project_keys: Vec<String>,
    /// Mapping rules for sessions without a usable branch, first match wins.
    pub rules: Vec<JiraRule>,
    /// Where to POST per-issue totals when a session ends or is abandoned; empty disables.
    pub webhook_url: String,
    /// Sent in `webhook_secret_header` with every push when not empty.
    pub webhook_secret: Secret,
    /// The header that carries `webhook_secret`.
    pub webhook_secret_header: String,
    /// PEM bundle of CAs trusted for an `https://` webhook besides the system roots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<std::path::PathBuf>,
    /// Longest a push may take, in milliseconds (a timeout counts as a failure and is retried).
    pub timeout_ms: u64,
    /// Delay before the first retry, in milliseconds; it doubles each attempt, with jitter.
    pub retry_initial_ms: u64,
    /// Longest delay between retries, in milliseconds.
    pub retry_max_ms: u64,
    /// Give a push up (state `failed`) after this many attempts; 0 retries forever.
    pub max_attempts: u32,
    /// How often the delivery task looks for due pushes, in milliseconds.
    pub poll_interval_ms: u64,
    /// How often sessions that became abandoned are queued, in milliseconds.
    pub abandoned_sweep_interval_ms: u64,
    /// Serve `GET /jira/panel/{KEY}` (no API key needed, so that Jira can embed it).
    pub panel: bool,
    /// Origins allowed to embed the panel (CSP `frame-ancestors`).
    pub frame_ancestors: Vec<String>,
    /// The panel's Content-Security-Policy; `style-src` (the hash of the panel's own styles)
    /// and `frame-ancestors` are added unless it sets them.
    pub panel_csp: String,
    /// `[jira.rest]`: write each issue's totals onto the issue over Jira's REST API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rest: Option<rest::JiraRestConfig>,
}

impl Default for JiraConfig {
    fn default() -> Self {
        JiraConfig {
            project_keys: Vec::new(),
            rules: Vec::new(),
            webhook_url: String::new(),
            webhook_secret: Secret::default(),
            webhook_secret_header: "X-Webhook-Secret".into(),
            ca_file: None,
            timeout_ms: 10_000,
            retry_initial_ms: 1_000,
            retry_max_ms: 600_000,
            max_attempts: 0,
            poll_interval_ms: 1_000,
            abandoned_sweep_interval_ms: 60_000,
            panel: true,
            frame_ancestors: vec![
                "'self'".into(),
                "https://*.atlassian.net".into(),
                "https://*.atlassian-dev.net".into(),
            ],
            panel_csp: "default-src 'none'; base-uri 'none'; form-action 'none'".into(),
            rest: None,
        }
    }
}

/// `[[jira.rules]]`: sessions matching every given condition get `key`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct JiraRule {
    /// The session's client user, name, hostname or client id; any user when unset.
    pub user: Option<String>,
    /// GLOB pattern over the whole branch (`release/*`); `""` matches only a session without
    /// a branch.
    pub branch: Option<String>,
    /// Sessions that started at or after this (`2026-01-05` or RFC 3339).
    pub from: Option<String>,
    /// Sessions that started before this (exclusive).
    pub to: Option<String>,
    /// The issue key to use, e.g. `SHOP-42`.
    pub key: String,
}

/// True for a whole Jira issue key such as `SHOP-123`.
///
/// ```
/// use mirrord_usage::jira::is_issue_key;
/// assert!(is_issue_key("SHOP-123"));
/// assert!(!is_issue_key("shop-123") && !is_issue_key("SHOP-0") && !is_issue_key("S-1"));
/// ```
pub fn is_issue_key(s: &str) -> bool {
    matches(&ISSUE_KEY, s)
}

fn matches(pattern: &str, s: &str) -> bool {
    regex::Regex::new(pattern).is_ok_and(|re| re.is_match(s))
}

/// A rule time, read like a report's `from` (a date is its midnight UTC; see
/// [`crate::analytics::period`]).
fn parse_time(option: &str, s: &str) -> Result<NaiveDateTime, JiraError> {
    crate::analytics::period::parse_bound(option, s, crate::analytics::period::End::From)
        .map_err(|e| config_error(option, e.to_string()))
}

/// A rule, checked and with its times parsed.
struct CheckedRule<'a> {
    rule: &'a JiraRule,
    from: Option<NaiveDateTime>,
    to: Option<NaiveDateTime>,
}

impl JiraRule {
    fn check(&self, index: usize) -> Result<CheckedRule<'_>, JiraError> {
        let option = format!("rules[{index}]");
        if !is_issue_key(&self.key) {
            return Err(config_error(
                &option,
                format!("key {:?} is not a Jira issue key like SHOP-42", self.key),
            ));
        }
        let from = self
            .from
            .as_deref()
            .map(|s| parse_time(&format!("{option}.from"), s))
            .transpose()?;
        let to = self
            .to
            .as_deref()
            .map(|s| parse_time(&format!("{option}.to"), s))
            .transpose()?;
        if let (Some(f), Some(t)) = (from, to)
            && f >= t
        {
            return Err(config_error(&option, "`from` must be before `to`"));
        }
        Ok(CheckedRule {
            rule: self,
            from,
            to,
        })
    }
}

impl JiraConfig {
    /// Checks every option, with messages that name the option and say what to write.
    pub fn validate(&self) -> Result<(), JiraError> {
        for p in &self.project_keys {
            if !matches(PROJECT_KEY, p) {
                return Err(config_error(
                    "project_keys",
                    format!("{p:?} is not a project key like SHOP"),
                ));
            }
        }
        for (i, rule) in self.rules.iter().enumerate() {
            rule.check(i)?;
        }
        delivery::Webhook::check(self)?;
        if let Some(rest) = &self.rest {
            rest.validate()?;
        }
        panel::check(self)
    }

    /// True when pushes are configured.
    pub fn webhook_enabled(&self) -> bool {
        !self.webhook_url.trim().is_empty()
    }

    /// The REST sink's config when it is turned on (`[jira.rest]` with a `base_url`).
    pub fn rest_enabled(&self) -> Option<&rest::JiraRestConfig> {
        self.rest.as_ref().filter(|r| r.enabled())
    }
}

/// Validates `config` and copies what the SQL reads into the database: the project filter
/// and the webhook and REST sink switches into `settings`, the rules into `jira_rules`. `now`
/// starts a sink's `since` the first time it is turned on. Also creates the REST sink's table.
/// The key rules take effect with the store's next `refresh_views` (the macros hold them as
/// constants, and the stored keys are recomputed when they changed).
pub fn sync_settings(
    conn: &Connection,
    config: &JiraConfig,
    now: DateTime<Utc>,
) -> Result<(), JiraError> {
    config.validate()?;
    let projects = (!config.project_keys.is_empty()).then(|| config.project_keys.join(","));
    conn.execute_batch(REST_SCHEMA_SQL)?;
    let tx = conn.unchecked_transaction()?;
    tx.execute(
        SETTINGS_SQL.get("set"),
        params!["jira_project_keys", projects],
    )?;
    set_switch(&tx, "jira_webhook", config.webhook_enabled(), now)?;
    set_switch(&tx, "jira_rest", config.rest_enabled().is_some(), now)?;
    tx.execute(SETTINGS_SQL.get("clear_rules"), [])?;
    for (i, rule) in config.rules.iter().enumerate() {
        let r = rule.check(i)?;
        tx.execute(
            SETTINGS_SQL.get("add_rule"),
            params![
                i as i32,
                r.rule.user,
                r.rule.branch,
                r.from,
                r.to,
                r.rule.key
            ],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Turns a sink's switch (`jira_webhook`, `jira_rest`) on or off; `<switch>_since` keeps the
/// time it was first turned on, until it is turned off.
fn set_switch(
    conn: &Connection,
    switch: &str,
    on: bool,
    now: DateTime<Utc>,
) -> Result<(), JiraError> {
    let since = format!("{switch}_since");
    conn.execute(
        SETTINGS_SQL.get("set"),
        params![switch, if on { "on" } else { "off" }],
    )?;
    if on {
        conn.execute(
            SETTINGS_SQL.get("since"),
            params![
                now.naive_utc().format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
                since
            ],
        )?;
    } else {
        conn.execute(SETTINGS_SQL.get("set"), params![since, None::<String>])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{TimeZone, Utc};
    use serde_json::Value;

    use super::*;
    use crate::batch::IncomingEvent;
    use crate::event::{EventKind, OperatorEvent};

    const T0: i64 = 1_767_000_000; // 2025-12-29 09:20:00 UTC

    fn start(
        session: &str,
        user: &str,
        branch: Option<&str>,
        extra: Option<(&str, &str)>,
    ) -> IncomingEvent {
        let mut e = OperatorEvent::new(EventKind::SessionStart, Utc.timestamp_opt(T0, 0).unwrap());
        e.session_id = Some(session.into());
        e.client_user = Some(user.into());
        e.branch = branch.map(str::to_string);
        if let Some((k, v)) = extra {
            e.attributes.insert(k.into(), Value::String(v.into()));
        }
        IncomingEvent {
            event: e.finish(),
            format: "tracing-json",
            source: Arc::from("test"),
        }
    }

    /// The key the `sessions` view gives one session, under `config`.
    fn key_of(config: &JiraConfig, event: IncomingEvent) -> Option<String> {
        let mut store = crate::database::open(":memory:").unwrap();
        sync_settings(store.connection(), config, Utc::now()).unwrap();
        store.refresh_views().unwrap();
        let id = event.event.session_id.clone().unwrap();
        store.append(&[event], &[], &[]).unwrap();
        store
            .connection()
            .query_row(
                "SELECT jira_key FROM sessions WHERE session_id = ?",
                [id],
                |r| r.get(0),
            )
            .unwrap()
    }

    fn branch_key(config: &JiraConfig, branch: Option<&str>) -> Option<String> {
        key_of(config, start("s", "ana", branch, None))
    }

    #[test]
    fn a_key_anywhere_in_the_branch() {
        let c = JiraConfig::default();
        assert_eq!(
            branch_key(&c, Some("my-new-branch-KEY-123-latest")).as_deref(),
            Some("KEY-123")
        );
        assert_eq!(
            branch_key(&c, Some("feature/SHOP_2-7")).as_deref(),
            Some("SHOP_2-7")
        );
        assert_eq!(branch_key(&c, Some("SHOP-12")).as_deref(), Some("SHOP-12"));
    }

    #[test]
    fn invalid_lowercase_and_missing_keys_give_none() {
        let c = JiraConfig::default();
        for branch in [
            "feature/shop-12-x",
            "Shop-12",
            "K-12",
            "KEY-0123",
            "KEY-",
            "main",
            "",
        ] {
            assert_eq!(branch_key(&c, Some(branch)), None, "{branch:?}");
        }
        assert_eq!(branch_key(&c, None), None, "no branch (detached HEAD)");
    }

    #[test]
    fn several_keys_first_from_the_left_that_passes_the_project_filter() {
        let any = JiraConfig::default();
        assert_eq!(
            branch_key(&any, Some("SHOP-1-OPS-2")).as_deref(),
            Some("SHOP-1")
        );
        assert_eq!(
            branch_key(&any, Some("feat/ABC-DEF-12")).as_deref(),
            Some("DEF-12")
        );
        let ops = JiraConfig {
            project_keys: vec!["OPS".into()],
            ..Default::default()
        };
        assert_eq!(
            branch_key(&ops, Some("SHOP-1-OPS-2")).as_deref(),
            Some("OPS-2")
        );
        assert_eq!(branch_key(&ops, Some("SHOP-1")), None);
    }

    #[test]
    fn the_override_field_wins_even_outside_the_project_filter() {
        let ops = JiraConfig {
            project_keys: vec!["OPS".into()],
            ..Default::default()
        };
        let over = |k: &str, v: &str| key_of(&ops, start("s", "ana", Some("OPS-2"), Some((k, v))));
        assert_eq!(over("jira_key", "SHOP-9").as_deref(), Some("SHOP-9"));
        assert_eq!(
            over("jira_issue", "https://x.atlassian.net/browse/SHOP-10").as_deref(),
            Some("SHOP-10")
        );
        assert_eq!(
            over("jira_key", "not a key").as_deref(),
            Some("OPS-2"),
            "an unusable override is ignored"
        );
    }

    #[test]
    fn mapping_rules_cover_sessions_without_a_branch() {
        let rule = |user: Option<&str>,
                    branch: Option<&str>,
                    from: Option<&str>,
                    to: Option<&str>,
                    key: &str| JiraRule {
            user: user.map(str::to_string),
            branch: branch.map(str::to_string),
            from: from.map(str::to_string),
            to: to.map(str::to_string),
            key: key.into(),
        };
        let c = JiraConfig {
            rules: vec![
                rule(Some("bo"), None, Some("2026-01-01"), None, "OPS-1"),
                rule(
                    Some("jj-user"),
                    Some(""),
                    Some("2025-12-29"),
                    Some("2025-12-30T00:00:00Z"),
                    "SHOP-77",
                ),
                rule(None, Some("release/*"), None, None, "REL-5"),
            ],
            ..Default::default()
        };
        assert_eq!(
            key_of(&c, start("a", "jj-user", None, None)).as_deref(),
            Some("SHOP-77")
        );
        assert_eq!(
            key_of(&c, start("b", "jj-user", Some("SHOP-3"), None)).as_deref(),
            Some("SHOP-3"),
            "branch \"\" needs no branch"
        );
        assert_eq!(
            key_of(&c, start("c", "bo", None, None)),
            None,
            "outside the time window"
        );
        assert_eq!(
            key_of(&c, start("d", "zed", Some("release/2.1"), None)).as_deref(),
            Some("REL-5"),
            "any user"
        );
        assert_eq!(
            key_of(&c, start("e", "jj-user", None, Some(("jira_key", "OPS-4")))).as_deref(),
            Some("OPS-4"),
            "the override beats a rule"
        );
    }

    #[test]
    fn bad_config_is_reported_with_the_option() {
        let bad = |c: JiraConfig| c.validate().unwrap_err().to_string();
        let rule = JiraRule {
            key: "shop-1".into(),
            ..Default::default()
        };
        assert!(
            bad(JiraConfig {
                rules: vec![rule],
                ..Default::default()
            })
            .contains("rules[0]")
        );
        assert!(
            bad(JiraConfig {
                project_keys: vec!["shop".into()],
                ..Default::default()
            })
            .contains("project_keys")
        );
        let when = JiraRule {
            key: "SHOP-1".into(),
            from: Some("yesterday".into()),
            ..Default::default()
        };
        assert!(
            bad(JiraConfig {
                rules: vec![when],
                ..Default::default()
            })
            .contains("rules[0].from")
        );
        assert!(format!("{:?}", Secret("s3cret".into())).contains("redacted"));
    }
}
