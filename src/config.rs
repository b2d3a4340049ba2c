//! Service configuration: defaults < TOML file (`--config`) < `MIRRORD_USAGE_*` environment
//! variables < command-line flags. `pipelines/mirrord-usage.toml` documents every option.
//!
//! Environment variables name a section and a key: `MIRRORD_USAGE_SERVER_PORT=9000` sets
//! `[server] port`, `MIRRORD_USAGE_LICENSES_SEATS=50` sets `[licenses] seats`. Values are read as
//! TOML (numbers, booleans, `["arrays"]`), falling back to plain strings.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Configuration errors.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid config in {origin}: {message}")]
    Invalid { origin: String, message: String },
}

/// Everything `serve` can be told.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub api: ApiConfig,
    pub dashboard: DashboardConfig,
    pub receivers: ReceiversConfig,
    pub tail: TailConfig,
    pub pipeline: PipelineSection,
    pub sessions: SessionsConfig,
    pub licenses: LicensesConfig,
    pub sql: SqlConfig,
    pub jira: crate::jira::JiraConfig,
    pub retention: RetentionConfig,
}

/// `[server]`: the main HTTP port (API, dashboard, `/metrics`, HTTP JSON ingest).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to bind.
    pub bind: String,
    /// Port of the API, dashboard and metrics.
    pub port: u16,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: "0.0.0.0".into(),
            port: 8050,
        }
    }
}

/// `[api]`: access to `/api/` routes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// Value every `/api/` request must send in `x-license-key`. When empty, a random key is
    /// made at start-up and printed.
    pub license_key: Option<String>,
    /// Give the key to the browser dashboard (`/ui/config.json`), so that anyone who can reach
    /// the port can read reports, as with the vendor's dashboard. Turn off to make users paste
    /// the key.
    pub share_key_with_dashboard: bool,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            license_key: None,
            share_key_with_dashboard: true,
        }
    }
}

/// `[dashboard]`: the browser dashboard, served on the server port.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DashboardConfig {
    /// Serve the dashboard at `/`.
    pub enabled: bool,
    /// Link shown in the app bar.
    pub docs_url: String,
    /// A second port that also serves the dashboard and the API it reads, as the vendor's
    /// `dashboard.port` does; unset means the server port only.
    pub port: Option<u16>,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        DashboardConfig {
            enabled: true,
            docs_url: "https://github.com/metalbear-co/mirrord-usage#readme".into(),
            port: None,
        }
    }
}

/// `[receivers]`: the network receivers (each an address, or empty to disable).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ReceiversConfig {
    /// OTLP/gRPC logs (`LogsService/Export`).
    pub otlp_grpc: String,
    /// OTLP/HTTP logs (`POST /v1/logs`, protobuf or JSON).
    pub otlp_http: String,
    /// fluentd Forward protocol (TCP).
    pub forward: String,
    /// Shared key for the Forward handshake; empty means no authentication.
    pub forward_shared_key: String,
    /// Largest accepted request body after decompression, in bytes.
    pub max_body_bytes: usize,
}

impl Default for ReceiversConfig {
    fn default() -> Self {
        ReceiversConfig {
            otlp_grpc: "0.0.0.0:4317".into(),
            otlp_http: "0.0.0.0:4318".into(),
            forward: "0.0.0.0:24224".into(),
            forward_shared_key: String::new(),
            max_body_bytes: 64 << 20,
        }
    }
}

/// `[tail]`: container-log files to follow.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TailConfig {
    /// Glob patterns, e.g. `/var/log/containers/*mirrord-operator*.log`. Empty disables tailing.
    pub paths: Vec<String>,
    /// Where to start in a file seen for the first time: `beginning` or `end`.
    pub start_at: String,
    /// Rescan interval in milliseconds (file-system events only wake the rescan early).
    pub poll_interval_ms: u64,
    /// How long a file rotated away (renamed or removed) is still read for lines written to it
    /// late, in milliseconds.
    pub rotate_wait_ms: u64,
}

impl Default for TailConfig {
    fn default() -> Self {
        TailConfig {
            paths: Vec::new(),
            start_at: "beginning".into(),
            poll_interval_ms: 1000,
            rotate_wait_ms: 5000,
        }
    }
}

/// `[pipeline]`: batching and back-pressure.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineSection {
    /// Commit once this many events are gathered.
    pub batch_size: usize,
    /// Commit at least this often while events wait, in milliseconds.
    pub flush_interval_ms: u64,
    /// Submissions that may queue before senders are pushed back (HTTP 429 and the like).
    pub queue_capacity: usize,
}

impl Default for PipelineSection {
    fn default() -> Self {
        PipelineSection {
            batch_size: 10_000,
            flush_interval_ms: 500,
            queue_capacity: 256,
        }
    }
}

/// `[sessions]`: how sessions are classified.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SessionsConfig {
    /// A session with a start but no end becomes `abandoned` after this many seconds without events.
    pub abandon_after_seconds: u64,
    /// Regex over `client_user` that marks a CI session (when the record has no CI field).
    pub ci_user_regex: String,
    /// Regex over `client_name` that marks a CI session.
    pub ci_name_regex: String,
}

impl Default for SessionsConfig {
    fn default() -> Self {
        SessionsConfig {
            abandon_after_seconds: 86_400,
            ci_user_regex:
                "^system:serviceaccount:[^:]+:mirrord-ci$|(^|[^a-z])mirrord-ci([^a-z]|$)".into(),
            ci_name_regex: "^mirrord-ci@|(^|[^a-z])mirrord-ci([^a-z]|$)".into(),
        }
    }
}

/// `[licenses]`: facts logs don't carry.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LicensesConfig {
    /// Number of seats bought (shown on the Licenses card).
    pub seats: Option<i64>,
    /// Operator version to show when no record carries one.
    pub operator_version: Option<String>,
}

/// `[sql]`: limits of the read-only SQL endpoint.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SqlConfig {
    /// Most rows a query returns.
    pub max_rows: usize,
    /// Longest a query may run, in milliseconds.
    pub timeout_ms: u64,
}

impl Default for SqlConfig {
    fn default() -> Self {
        SqlConfig {
            max_rows: 10_000,
            timeout_ms: 10_000,
        }
    }
}

/// `[retention]`: how long data is kept (applied by `serve` on a schedule, or by the
/// `retention` subcommand).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Events and rejects older than this many days are deleted; 0 keeps them forever.
    pub days: u32,
    /// Sessions whose last event is older than this many days are deleted; 0 keeps them
    /// forever. Never less than `days` (a smaller value is raised to it).
    pub keep_sessions_days: u32,
    /// How often `serve` applies retention, in minutes (first at start-up).
    pub interval_minutes: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            days: 1825,
            keep_sessions_days: 0,
            interval_minutes: 60,
        }
    }
}

const SECTIONS: [&str; 11] = [
    "server",
    "api",
    "dashboard",
    "receivers",
    "tail",
    "pipeline",
    "sessions",
    "licenses",
    "sql",
    "jira",
    "retention",
];

impl Config {
    /// Loads defaults, then `file` (if any), then the environment.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut doc = toml::Table::new();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.display().to_string(),
                source,
            })?;
            doc = text
                .parse::<toml::Table>()
                .map_err(|e| ConfigError::Invalid {
                    origin: path.display().to_string(),
                    message: e.to_string(),
                })?;
        }
        for (name, value) in env {
            apply_env(&mut doc, &name, &value);
        }
        let origin = file
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "environment".into());
        toml::Value::Table(doc)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid {
                origin,
                message: e.to_string(),
            })
    }
}

/// Applies `MIRRORD_USAGE_<SECTION>_<KEY>` to the document; other variables are ignored.
fn apply_env(doc: &mut toml::Table, name: &str, value: &str) {
    let Some(rest) = name.strip_prefix("MIRRORD_USAGE_") else {
        return;
    };
    let rest = rest.to_ascii_lowercase();
    let Some(section) = SECTIONS.iter().find(|s| rest.starts_with(&format!("{s}_"))) else {
        return;
    };
    let key = &rest[section.len() + 1..];
    let parsed = format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    let table = doc
        .entry(section.to_string())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let toml::Value::Table(t) = table {
        t.insert(key.to_string(), parsed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_file_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[server]\nport = 9000\n[licenses]\nseats = 10\n").unwrap();
        let env = vec![
            ("MIRRORD_USAGE_LICENSES_SEATS".to_string(), "25".to_string()),
            (
                "MIRRORD_USAGE_TAIL_PATHS".to_string(),
                "[\"/var/log/*.log\"]".to_string(),
            ),
            ("UNRELATED".to_string(), "x".to_string()),
        ];
        let c = Config::load(Some(&path), env).unwrap();
        assert_eq!(c.server.port, 9000);
        assert_eq!(c.licenses.seats, Some(25));
        assert_eq!(c.tail.paths, vec!["/var/log/*.log".to_string()]);
        assert_eq!(c.server.bind, "0.0.0.0");
    }

    #[test]
    fn unknown_keys_are_errors_with_the_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "[server]\nprot = 9000\n").unwrap();
        let err = Config::load(Some(&path), Vec::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("bad.toml") && err.contains("prot"), "{err}");
    }
}
