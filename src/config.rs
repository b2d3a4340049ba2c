//! Service configuration: defaults < TOML file (`--config`) < `MIRRORD_USAGE_*` environment
//! variables < command-line flags. `pipelines/mirrord-usage.toml` documents every option.
//!
//! Environment variables name a section and a key: `MIRRORD_USAGE_SERVER_PORT=9000` sets
//! `[server] port`, `MIRRORD_USAGE_LICENSES_SEATS=50` sets `[licenses] seats`. Values are read as
//! TOML (numbers, booleans, `["arrays"]`), falling back to plain strings.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

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
    pub metrics: MetricsConfig,
    pub jira: crate::jira::JiraConfig,
    pub retention: RetentionConfig,
    pub directory: DirectoryConfig,
    pub adoption: AdoptionConfig,
    pub reports: ReportsConfig,
    pub display: DisplayConfig,
}

/// `[server]`: the main HTTP port (API, dashboard, `/metrics`, HTTP JSON ingest).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to bind.
    pub bind: String,
    /// Port of the API, dashboard and metrics.
    pub port: u16,
    /// Host names the HTTP port answers to besides the built-in ones (`localhost`,
    /// `*.localhost`, IP addresses, `*.svc` and `*.svc.cluster.local`); a request with any
    /// other `Host` is refused, which defeats DNS rebinding. `"*.example.com"` matches
    /// subdomains; `"*"` turns the check off.
    pub allowed_hosts: Vec<String>,
    /// `[server.tls]`: serve https (and TLS on the OTLP receivers) with this certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: "0.0.0.0".into(),
            port: 8050,
            allowed_hosts: Vec::new(),
            tls: None,
        }
    }
}

/// `[server.tls]`: the certificate of the HTTP port, the dashboard port and the OTLP gRPC and
/// HTTP receivers. Both files are PEM and are read again when they change (cert-manager
/// renewals need no restart).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// Certificate chain (PEM), leaf first.
    pub cert: PathBuf,
    /// Private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl TlsConfig {
    /// The files, as the TLS module takes them.
    pub fn files(&self) -> crate::tls::CertFiles {
        crate::tls::CertFiles {
            cert: self.cert.clone(),
            key: self.key.clone(),
        }
    }
}

/// `[api]`: the keys of the HTTP API, one per role (see `docs/security.md`).
///
/// - the **viewer** key (`license_key`, sent as `x-license-key` like the vendor's reports API):
///   reports, trends, sessions, dashboards, Jira status;
/// - the **admin** key: everything the viewer key opens, plus SQL, HTTP ingest and the admin
///   routes (backup, retention);
/// - the optional **ingest** key: `POST /api/v1/ingest` only (for fluentd / fluent-bit).
///
/// A key left unset is made at first start, kept in the database and printed once.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// The viewer key (`x-license-key`).
    pub license_key: Secret,
    /// Read the viewer key from this file instead (e.g. a mounted Kubernetes secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_key_file: Option<PathBuf>,
    /// The admin key: SQL, ingest and admin routes, and every viewer route.
    pub admin_key: Secret,
    /// Read the admin key from this file instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_key_file: Option<PathBuf>,
    /// A key that opens only `POST /api/v1/ingest`; unset means ingest takes the admin key.
    pub ingest_key: Secret,
    /// Read the ingest key from this file instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingest_key_file: Option<PathBuf>,
    /// Give the viewer key to the browser dashboard (`/ui/config.json`), so anyone who can
    /// reach the port can read reports without typing a key. Off by default: the dashboard asks
    /// for the viewer key once and keeps it in an HttpOnly cookie. The admin key is never given
    /// to the browser.
    pub share_key_with_dashboard: bool,
}

/// `[dashboard]`: the browser dashboard, served on the server port.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DashboardConfig {
    /// Serve the dashboard at `/`.
    pub enabled: bool,
    /// Link shown in the app bar: the guides this server serves at `/docs/`, or any URL (an
    /// internal wiki page, say).
    pub docs_url: String,
    /// A second port that also serves the dashboard and the API it reads, as the vendor's
    /// `dashboard.port` does; unset means the server port only.
    pub port: Option<u16>,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        DashboardConfig {
            enabled: true,
            docs_url: "/docs/".into(),
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
    pub forward_shared_key: Secret,
    /// Read the Forward shared key from this file instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward_shared_key_file: Option<PathBuf>,
    /// Bearer token the OTLP receivers (gRPC and HTTP) require in `Authorization: Bearer …`
    /// (what the Collector's `bearertokenauth` extension sends); empty means none.
    pub bearer_token: Secret,
    /// Read the OTLP bearer token from this file instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bearer_token_file: Option<PathBuf>,
    /// Largest accepted request body after decompression, in bytes.
    pub max_body_bytes: usize,
    /// Most records one request may carry: OTLP log records, Forward chunk entries, HTTP JSON
    /// records (array elements or lines). Counted on the wire before decoding.
    pub max_records_per_request: usize,
    /// Most nested values one request may carry (attributes, array and map items, JSON
    /// objects, MessagePack values), so a small body can't decode into millions of structs.
    pub max_items_per_request: usize,
    /// Forward: a connection that sends nothing for this many seconds is closed.
    pub forward_idle_timeout_seconds: u64,
    /// Forward: most connections open at once; one more is closed at accept, with a log line.
    pub forward_max_connections: usize,
}

impl Default for ReceiversConfig {
    fn default() -> Self {
        ReceiversConfig {
            otlp_grpc: "0.0.0.0:4317".into(),
            otlp_http: "0.0.0.0:4318".into(),
            forward: "0.0.0.0:24224".into(),
            forward_shared_key: Secret::default(),
            forward_shared_key_file: None,
            bearer_token: Secret::default(),
            bearer_token_file: None,
            max_body_bytes: 64 << 20,
            max_records_per_request: 100_000,
            max_items_per_request: 2_000_000,
            forward_idle_timeout_seconds: 300,
            forward_max_connections: 1024,
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
    /// Most events one commit gathers (group commit: whatever is queued, up to this).
    pub batch_size: usize,
    /// How long the writer lingers for more before committing, in milliseconds; 0 commits
    /// as soon as nothing more is queued.
    pub flush_interval_ms: u64,
    /// Submissions that may queue before senders are pushed back (HTTP 429 and the like).
    pub queue_capacity: usize,
    /// Rows (events and rejects) that may queue before senders are pushed back.
    pub queue_rows: usize,
    /// How much write-ahead log `serve` lets build up before DuckDB checkpoints it into the
    /// database file (DuckDB's `checkpoint_threshold`, e.g. "256MB"). Commits smaller than a
    /// row group go through the WAL; each checkpoint recompresses the table's unfinished last
    /// row group, so a small threshold compresses the same rows again and again.
    pub checkpoint_threshold: String,
}

impl Default for PipelineSection {
    fn default() -> Self {
        PipelineSection {
            batch_size: 50_000,
            flush_interval_ms: 0,
            queue_capacity: 256,
            queue_rows: 500_000,
            checkpoint_threshold: "256MB".into(),
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
    /// The default is `crate::rules::CI_USER_GLOB` as a regex, the rule the generated
    /// dashboards use; a different regex applies to the API, views and `/metrics` only.
    pub ci_user_regex: String,
    /// Regex over `client_name` that marks a CI session (default: `crate::rules::CI_NAME_GLOB`).
    pub ci_name_regex: String,
}

impl Default for SessionsConfig {
    fn default() -> Self {
        SessionsConfig {
            abandon_after_seconds: crate::rules::ABANDON_AFTER_SECONDS,
            ci_user_regex: crate::rules::default_ci_user_regex(),
            ci_name_regex: crate::rules::default_ci_name_regex(),
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
    /// DuckDB's `memory_limit` for the whole database (queries and the writer), e.g. `"4GB"`.
    pub memory_limit: String,
    /// DuckDB's `threads`: worker threads a query may use.
    pub threads: u32,
    /// Queries that may run at once; more wait, and are refused (429) after the timeout.
    pub max_concurrent: usize,
}

impl Default for SqlConfig {
    fn default() -> Self {
        SqlConfig {
            max_rows: 10_000,
            timeout_ms: 10_000,
            memory_limit: "4GB".into(),
            threads: 2,
            max_concurrent: 2,
        }
    }
}

/// `[metrics]`: the Prometheus endpoint `/metrics`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Bearer token `/metrics` requires (Prometheus `authorization` / `bearer_token_file`);
    /// empty means `/metrics` is open.
    pub bearer_token: Secret,
    /// Read the `/metrics` bearer token from this file instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bearer_token_file: Option<PathBuf>,
    /// Export the user-identifying series (per user, host and client id). Unset means: only
    /// when `/metrics` is protected by a bearer token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_labels: Option<bool>,
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

/// `[directory]`: the engineers and groups reports scope by (see docs/adoption.md).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DirectoryConfig {
    /// A directory file (CSV, or JSON when it ends in `.json`) that `serve` imports at start
    /// and again whenever it changes; a bad file is refused and logged, the one in force stays.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// How often `serve` looks at `file` for a change, in seconds.
    pub poll_seconds: u64,
    /// The group type shown as an engineer's team.
    pub team_type: String,
}

impl Default for DirectoryConfig {
    fn default() -> Self {
        DirectoryConfig {
            file: None,
            poll_seconds: 5,
            team_type: "team".into(),
        }
    }
}

/// `[adoption]`: the thresholds of the Adoption report and the group metrics.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AdoptionConfig {
    /// Days with a session in the range that make an engineer *regular*.
    pub regular_active_days: u32,
    /// Days with a session in the range that make an engineer a *champion*.
    pub champion_active_days: u32,
    /// An engineer active earlier in the range with no session in its last this-many days is
    /// *going cold*.
    pub going_cold_days: u32,
    /// The window, in days up to now, of the Prometheus group metrics.
    pub active_days: u32,
}

impl Default for AdoptionConfig {
    fn default() -> Self {
        AdoptionConfig {
            regular_active_days: 4,
            champion_active_days: 10,
            going_cold_days: 14,
            active_days: 30,
        }
    }
}

/// `[reports]`: how reports cut time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ReportsConfig {
    /// The IANA time zone (e.g. `Europe/Berlin`) where days and weeks (from Monday) begin, for
    /// trends with an `interval` and the Adoption report.
    pub time_zone: String,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        ReportsConfig {
            time_zone: "UTC".into(),
        }
    }
}

impl ReportsConfig {
    /// The configured zone; an unknown name is a config error.
    pub fn zone(&self) -> Result<chrono_tz::Tz, ConfigError> {
        self.time_zone.parse().map_err(|_| ConfigError::Invalid {
            origin: "[reports] time_zone".into(),
            message: format!(
                "unknown time zone `{}`; use an IANA name such as `UTC` or `Europe/Berlin`",
                self.time_zone
            ),
        })
    }
}

/// `[display]`: how identities are shown (never how they are stored).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DisplayConfig {
    /// Rules applied in order to each identity a report shows, e.g. `{ pattern = "^keycloak:",
    /// replacement = "" }`; `$1` in a replacement is the first capture group.
    pub rewrite: Vec<RewriteRule>,
}

/// One display rewrite: a regular expression and its replacement.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RewriteRule {
    pub pattern: String,
    #[serde(default)]
    pub replacement: String,
}

/// Sections the environment can set, nested ones (`server_tls` = `[server.tls]`) before their
/// parents so the longest prefix wins.
const SECTIONS: [&str; 18] = [
    "server_tls",
    "server",
    "api",
    "dashboard",
    "receivers",
    "tail",
    "pipeline",
    "sessions",
    "licenses",
    "sql",
    "metrics",
    "jira_rest",
    "jira",
    "retention",
    "directory",
    "adoption",
    "reports",
    "display",
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
    let mut table = doc;
    for part in section.split('_') {
        let entry = table
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(t) = entry else { return };
        table = t;
    }
    table.insert(key.to_string(), parsed);
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
    fn nested_sections_from_the_environment_and_redacted_debug() {
        let env = vec![
            (
                "MIRRORD_USAGE_SERVER_TLS_CERT".to_string(),
                "/tls/crt.pem".to_string(),
            ),
            (
                "MIRRORD_USAGE_SERVER_TLS_KEY".to_string(),
                "/tls/key.pem".to_string(),
            ),
            ("MIRRORD_USAGE_SERVER_PORT".to_string(), "9001".to_string()),
            (
                "MIRRORD_USAGE_API_ADMIN_KEY".to_string(),
                "adm-s3cret".to_string(),
            ),
        ];
        let c = Config::load(None, env).unwrap();
        let tls = c
            .server
            .tls
            .as_ref()
            .expect("[server.tls] from the environment");
        assert_eq!(tls.cert, PathBuf::from("/tls/crt.pem"));
        assert_eq!(tls.key, PathBuf::from("/tls/key.pem"));
        assert_eq!(c.server.port, 9001);
        assert_eq!(c.api.admin_key.get(), Some("adm-s3cret"));
        assert!(!format!("{c:?}").contains("adm-s3cret"));
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
