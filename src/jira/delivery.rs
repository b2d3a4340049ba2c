//! The webhook delivery task of `serve`: takes due pushes from the outbox, POSTs them, and
//! records the outcome.
//!
//! Each POST carries the push's `Idempotency-Key` (stable across retries and restarts), so a
//! receiver can drop repeats: a POST whose response was lost (a timeout) is sent again. A
//! failure is retried after an exponential backoff with jitter (`retry_initial_ms` doubling up
//! to `retry_max_ms`, each delay drawn from its upper half), so many stuck pushes don't retry in
//! lockstep. Pushes are sent one at a time, oldest first; a failing one waits for its next
//! attempt without holding up the others. Stopping mid-POST leaves the push pending, and the
//! next start sends it again.
//!
//! The task writes only `jira_outbox` (and the sweep's inserts into it) through its own
//! connection; the writer thread never updates those rows, so the two don't conflict.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use duckdb::Connection;
use rand::Rng;
use reqwest::header::{HeaderName, HeaderValue};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::outbox::{self, Due, Prepared, Push};
use super::{JiraConfig, JiraError, config_error};

/// Pushes fetched per look at the outbox.
const BATCH: usize = 64;

/// The longest delay between retries whatever the config says (a week), so the next attempt
/// stays a sane time.
const MAX_RETRY_MS: u64 = 7 * 24 * 3600 * 1000;

/// Where and how pushes are sent.
#[derive(Debug, Clone)]
pub struct Webhook {
    url: reqwest::Url,
    secret: Option<(HeaderName, HeaderValue)>,
    client: reqwest::Client,
}

impl Webhook {
    /// Checks the webhook options (nothing to check when no URL is set).
    pub fn check(config: &JiraConfig) -> Result<(), JiraError> {
        Webhook::new(config).map(|_| ())
    }

    /// The configured webhook, or `None` when `webhook_url` is empty.
    pub fn new(config: &JiraConfig) -> Result<Option<Webhook>, JiraError> {
        if !config.webhook_enabled() {
            return Ok(None);
        }
        let url = reqwest::Url::parse(config.webhook_url.trim())
            .map_err(|e| config_error("webhook_url", format!("not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(config_error(
                "webhook_url",
                "must be an http:// or https:// URL",
            ));
        }
        let secret = if config.webhook_secret.0.is_empty() {
            None
        } else {
            let name = HeaderName::from_bytes(config.webhook_secret_header.trim().as_bytes())
                .map_err(|e| config_error("webhook_secret_header", e.to_string()))?;
            let mut value = HeaderValue::from_str(&config.webhook_secret.0)
                .map_err(|_| config_error("webhook_secret", "must be printable ASCII"))?;
            value.set_sensitive(true);
            Some((name, value))
        };
        let client = http_client(config, "webhook_url")?;
        Ok(Some(Webhook {
            url,
            secret,
            client,
        }))
    }

    /// POSTs `push`; any non-2xx status, connection error or timeout is an error.
    pub async fn send(&self, push: &Push) -> Result<(), String> {
        let mut req = self
            .client
            .post(self.url.clone())
            .header("Idempotency-Key", &push.idempotency_key)
            .json(push);
        if let Some((name, value)) = &self.secret {
            req = req.header(name, value);
        }
        // `without_url`: a webtrigger URL is itself a credential; keep it out of logs and status.
        let resp = req.send().await.map_err(|e| describe(e.without_url()))?;
        let status = resp.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {status}"))
        }
    }
}

/// The HTTPS client of the Jira sinks: the system roots plus `[jira] ca_file`, the `[jira]
/// timeout, and our user agent. `option` names the option blamed if it cannot be built.
pub fn http_client(config: &JiraConfig, option: &str) -> Result<reqwest::Client, JiraError> {
    crate::tls::install_provider();
    let mut builder = reqwest::Client::builder().tls_backend_rustls();
    if let Some(path) = &config.ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| config_error("ca_file", format!("cannot read {}: {e}", path.display())))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| config_error("ca_file", format!("{}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(config_error(
                "ca_file",
                format!("{} holds no PEM certificate", path.display()),
            ));
        }
        builder = builder.tls_certs_merge(certs);
    }
    builder
        .timeout(Duration::from_millis(config.timeout_ms.max(1)))
        .user_agent(concat!("mirrord-usage/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| config_error(option, e.to_string()))
}

/// A request error in a few words, without the URL.
pub fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        format!("cannot connect: {e}")
    } else {
        e.to_string()
    }
}

/// The delay before attempt `attempt + 1` after `attempt` failures: `initial · 2^(attempt-1)`,
/// capped at `max`, then drawn uniformly from its upper half (jitter).
pub fn backoff(attempt: u32, initial: Duration, max: Duration, rng: &mut impl Rng) -> Duration {
    let doublings = attempt.saturating_sub(1).min(31);
    let base = initial.saturating_mul(1u32 << doublings).min(max);
    let half = base / 2;
    half + Duration::from_micros(rng.gen_range(0..=half.as_micros().min(u64::MAX as u128) as u64))
}

/// The retry policy both Jira sinks share: the backoff from `[jira] retry_initial_ms` up to
/// `retry_max_ms`, `max_attempts`, and how often abandoned sessions are swept.
#[derive(Debug, Clone, Copy)]
pub struct Retries {
    pub sweep_every: Duration,
    pub initial: Duration,
    pub max: Duration,
    /// 0: retry forever.
    pub max_attempts: u32,
}

impl Retries {
    pub fn new(config: &JiraConfig) -> Retries {
        Retries {
            sweep_every: Duration::from_millis(config.abandoned_sweep_interval_ms.max(10)),
            initial: Duration::from_millis(config.retry_initial_ms.max(1)),
            max: Duration::from_millis(
                config
                    .retry_max_ms
                    .max(config.retry_initial_ms)
                    .clamp(1, MAX_RETRY_MS),
            ),
            max_attempts: config.max_attempts,
        }
    }

    /// The wait before the next try after `attempts` failed ones.
    pub fn delay(&self, attempts: u32) -> Duration {
        backoff(attempts, self.initial, self.max, &mut rand::thread_rng())
    }

    /// True when `attempts` failed tries are all that `max_attempts` allows.
    pub fn give_up(&self, attempts: u32) -> bool {
        self.max_attempts > 0 && attempts >= self.max_attempts
    }
}

/// A database connection for the Jira tasks, used from async code one blocking job at a time.
#[derive(Clone)]
pub struct TaskDb(Arc<Mutex<Connection>>);

impl TaskDb {
    pub fn new(conn: Connection) -> TaskDb {
        TaskDb(Arc::new(Mutex::new(conn)))
    }

    /// Runs `f` on the connection on a blocking thread.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, JiraError> + Send + 'static,
    ) -> Result<T, JiraError> {
        let db = self.0.clone();
        tokio::task::spawn_blocking(move || {
            let conn = db
                .lock()
                .map_err(|_| JiraError::Internal("database handle poisoned".into()))?;
            f(&conn)
        })
        .await
        .map_err(|e| JiraError::Internal(format!("database task failed: {e}")))?
    }
}

/// The running task's settings and connection.
struct Task {
    webhook: Webhook,
    db: TaskDb,
    poll: Duration,
    retries: Retries,
}

/// Starts the delivery task when a webhook is configured. `conn` is a connection to the
/// database (a reader clone is fine: the task writes only the outbox). The task ends when
/// `shutdown` turns true.
pub fn start(
    config: &JiraConfig,
    conn: Connection,
    shutdown: watch::Receiver<bool>,
) -> Result<Option<JoinHandle<()>>, JiraError> {
    let Some(webhook) = Webhook::new(config)? else {
        return Ok(None);
    };
    let task = Task {
        webhook,
        db: TaskDb::new(conn),
        poll: Duration::from_millis(config.poll_interval_ms.max(10)),
        retries: Retries::new(config),
    };
    Ok(Some(tokio::spawn(task.run(shutdown))))
}

impl Task {
    /// Runs `f` on the task's connection on a blocking thread.
    async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, JiraError> + Send + 'static,
    ) -> Result<T, JiraError> {
        self.db.run(f).await
    }

    async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!("jira: webhook delivery started");
        let mut next_sweep = Instant::now();
        while !*shutdown.borrow() {
            if Instant::now() >= next_sweep {
                next_sweep = Instant::now() + self.retries.sweep_every;
                match self
                    .db(|c| Ok(outbox::sweep_abandoned(c, Utc::now())?))
                    .await
                {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(sessions = n, "jira: abandoned sessions queued"),
                    Err(e) => tracing::warn!(error = %e, "jira: abandoned sweep failed"),
                }
            }
            let due = self
                .db(|c| Ok(outbox::due(c, Utc::now(), BATCH)?))
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "jira: cannot read the outbox");
                    Vec::new()
                });
            let idle = due.is_empty();
            for item in due {
                if *shutdown.borrow() {
                    break;
                }
                if let Err(e) = self.deliver(item, &mut shutdown).await {
                    tracing::warn!(error = %e, "jira: cannot record a delivery");
                }
            }
            if idle {
                tokio::select! {
                    _ = tokio::time::sleep(self.poll) => {}
                    _ = shutdown.wait_for(|stop| *stop) => {}
                }
            }
        }
        tracing::info!("jira: webhook delivery stopped");
    }

    /// One attempt at one push. Returns early, leaving it pending, when shutdown comes first.
    async fn deliver(
        &self,
        item: Due,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), JiraError> {
        let due = item.clone();
        let prepared = self
            .db(move |c| outbox::prepare(c, &due, Utc::now()))
            .await?;
        let push = match prepared {
            Prepared::NoKey => {
                tracing::debug!(session_id = %item.session_id, reason = %item.reason, "jira: session has no issue key; skipped");
                return self
                    .db(move |c| Ok(outbox::mark_skipped(c, &item, Utc::now())?))
                    .await;
            }
            Prepared::Send(push) => push,
        };
        let outcome = tokio::select! {
            r = self.webhook.send(&push) => r,
            _ = shutdown.wait_for(|stop| *stop) => return Ok(()),
        };
        let key = push.issue_key.clone();
        match outcome {
            Ok(()) => {
                tracing::debug!(session_id = %item.session_id, issue = %key, "jira: pushed");
                self.db(move |c| Ok(outbox::mark_delivered(c, &item, &key, Utc::now())?))
                    .await
            }
            Err(error) => self.record_failure(item, key, error).await,
        }
    }

    async fn record_failure(&self, item: Due, key: String, error: String) -> Result<(), JiraError> {
        let attempts = item.attempts + 1;
        let give_up = self.retries.give_up(attempts);
        let delay = self.retries.delay(attempts);
        let now = Utc::now();
        let next = now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::days(7));
        if give_up {
            tracing::warn!(session_id = %item.session_id, issue = %key, attempts, %error, "jira: push failed; giving up");
        } else {
            tracing::warn!(session_id = %item.session_id, issue = %key, attempts, %error, retry_in_ms = delay.as_millis() as u64, "jira: push failed; will retry");
        }
        self.db(move |c| {
            Ok(outbox::mark_retry(
                c, &item, &key, now, next, &error, give_up,
            )?)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let (initial, max) = (Duration::from_millis(100), Duration::from_secs(5));
        for (attempt, base_ms) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (6, 3200),
            (7, 5000),
            (40, 5000),
        ] {
            for _ in 0..50 {
                let d = backoff(attempt, initial, max, &mut rng).as_millis() as u64;
                assert!(
                    (base_ms / 2..=base_ms).contains(&d),
                    "attempt {attempt}: {d} ms"
                );
            }
        }
    }

    #[test]
    fn bad_schemes_ca_files_and_headers_are_refused_at_start() {
        let c = |url: &str, header: &str| JiraConfig {
            webhook_url: url.into(),
            webhook_secret: super::super::Secret("s".into()),
            webhook_secret_header: header.into(),
            ..Default::default()
        };
        assert!(Webhook::new(&c("", "X-S")).unwrap().is_none());
        assert!(
            Webhook::new(&c("http://127.0.0.1:9/hook", "X-S"))
                .unwrap()
                .is_some()
        );
        assert!(
            Webhook::new(&c("https://x.example/hook", "X-S"))
                .unwrap()
                .is_some()
        );
        let ftp = Webhook::new(&c("ftp://x.example/hook", "X-S"))
            .unwrap_err()
            .to_string();
        assert!(
            ftp.contains("webhook_url") && ftp.contains("https://"),
            "{ftp}"
        );
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("ca.pem");
        std::fs::write(&empty, "no certificates here").unwrap();
        let with_ca = JiraConfig {
            ca_file: Some(empty),
            ..c("https://x.example/hook", "X-S")
        };
        let err = Webhook::new(&with_ca).unwrap_err().to_string();
        assert!(err.contains("ca_file") && err.contains("ca.pem"), "{err}");
        assert!(Webhook::new(&c("http://x/", "bad header")).is_err());
    }
}
