//! The CLI side of the admin API: while `serve` runs it holds the database file (DuckDB
//! allows one process per file), so `backup --server` and `retention --server` ask it over
//! HTTP instead (`POST /api/v1/admin/backup`, `POST /api/v1/admin/retention`).

use std::path::Path;
use std::time::Duration;

use reqwest::blocking::{Client, Response};

use super::OpsError;
use super::backup::BackupReport;
use super::retention::RetentionReport;

/// Response headers that carry a backup's row counts.
pub const EVENTS_HEADER: &str = "x-mirrord-usage-events";
pub const SESSIONS_HEADER: &str = "x-mirrord-usage-sessions";
pub const REJECTS_HEADER: &str = "x-mirrord-usage-rejects";

/// A running `serve`, reached at its HTTP port.
pub struct Remote {
    base: String,
    key: Option<String>,
    client: Client,
}

impl Remote {
    /// `server` is the base URL, e.g. `http://localhost:8050`; `key` the `x-license-key`.
    pub fn new(server: &str, key: Option<&str>) -> Result<Remote, OpsError> {
        let client = Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(None)
            .build()
            .map_err(|e| OpsError::Remote(format!("cannot build an HTTP client: {e}")))?;
        Ok(Remote {
            base: server.trim_end_matches('/').to_string(),
            key: key.map(str::to_string),
            client,
        })
    }

    fn post(&self, path: &str, query: &[(&str, String)]) -> Result<Response, OpsError> {
        // The values are numbers and booleans: nothing to percent-encode.
        let pairs: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let url = if pairs.is_empty() {
            format!("{}{path}", self.base)
        } else {
            format!("{}{path}?{}", self.base, pairs.join("&"))
        };
        let mut request = self.client.post(&url);
        if let Some(k) = &self.key {
            request = request.header("x-license-key", k);
        }
        let response = request.send().map_err(|e| {
            OpsError::Remote(format!("POST {url}: {e} (is `serve` running there?)"))
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let body = response.text().unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
            .unwrap_or(body);
        let hint = if status.as_u16() == 401 || status.as_u16() == 403 {
            " (pass the key with --key: the admin key for backup and retention, the viewer key for jira status)"
        } else {
            ""
        };
        Err(OpsError::Remote(format!(
            "POST {url}: {status}: {message}{hint}"
        )))
    }

    /// Asks the server for a snapshot and writes it to `out` (complete, or not at all).
    pub fn backup(&self, out: &Path) -> Result<BackupReport, OpsError> {
        let mut response = self.post("/api/v1/admin/backup", &[])?;
        let count = |name: &str| -> u64 {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        let (events, sessions, rejects) = (
            count(EVENTS_HEADER),
            count(SESSIONS_HEADER),
            count(REJECTS_HEADER),
        );
        let mut partial = out.as_os_str().to_os_string();
        partial.push(".partial");
        let partial = std::path::PathBuf::from(partial);
        let mut file = std::fs::File::create(&partial).map_err(OpsError::io(&partial))?;
        let bytes = response
            .copy_to(&mut file)
            .map_err(|e| OpsError::Remote(format!("reading the snapshot from the server: {e}")))?;
        file.sync_all().map_err(OpsError::io(&partial))?;
        std::fs::rename(&partial, out).map_err(OpsError::io(out))?;
        Ok(BackupReport {
            path: out.to_path_buf(),
            bytes,
            events,
            sessions,
            rejects,
        })
    }

    /// Asks the server to apply (or, with `dry_run`, count) retention. `days` and
    /// `keep_sessions_days` override its configuration for this run.
    pub fn retention(
        &self,
        dry_run: bool,
        days: Option<u32>,
        keep_sessions_days: Option<u32>,
    ) -> Result<RetentionReport, OpsError> {
        let mut query = vec![("dry_run", dry_run.to_string())];
        query.extend(days.map(|d| ("days", d.to_string())));
        query.extend(keep_sessions_days.map(|d| ("keep_sessions_days", d.to_string())));
        self.post("/api/v1/admin/retention", &query)?
            .json()
            .map_err(|e| OpsError::Remote(format!("unexpected retention answer: {e}")))
    }
}
