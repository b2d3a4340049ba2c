//! `serve`: wires the whole service together — config, store, pipeline writer, receivers and
//! the HTTP app — and shuts it down in order (stop accepting, drain the queue, commit, close).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use duckdb::params;
use rand::RngCore;

use crate::analytics::reports::ReportSettings;
use crate::api::auth::Keys;
use crate::api::{self, AppState};
use crate::config::Config;
use crate::generate::{self, GenerateOptions};
use crate::pipeline::{self, PipelineConfig};
use crate::sources;
use crate::store::lockdown::Lockdown;
use crate::store::{Store, StoreError};

/// Start-up errors.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("database error: {0}")]
    Db(#[from] duckdb::Error),
    #[error(
        "cannot listen on {addr}: {source} (is another process using the port? pick one with --port)"
    )]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Secret(#[from] crate::secret::SecretFileError),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error("a query file does not match its code: {0}")]
    NamedSql(#[from] crate::named_sql::NamedSqlError),
    #[error("{0}")]
    Other(String),
}

/// Every file of named queries the service runs, checked before it opens the database.
const NAMED_SQL: [&crate::named_sql::NamedSql; 9] = [
    &crate::directory::store::DIRECTORY_SQL,
    &crate::analytics::adoption::ADOPTION_SQL,
    &crate::analytics::sessions::FOLD_SQL,
    &crate::analytics::rollups::ROLLUP_SQL,
    &crate::analytics::reports::ALL_TIME_SQL,
    &crate::api::metrics::QUERIES,
    &crate::jira::SETTINGS_SQL,
    &crate::jira::outbox::OUTBOX_SQL,
    &crate::jira::rest::sink::REST_SQL,
];

/// What `serve` was asked to do beyond the config.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    pub db: String,
    /// Fill an empty database with 90 days of generated activity first.
    pub demo: bool,
    /// Don't start the OTLP, Forward and tail receivers (HTTP ingest stays on).
    pub no_receivers: bool,
    /// Turn the API's key checks off.
    pub insecure_no_auth: bool,
}

/// Copies configuration the SQL views read into the `settings` table.
fn sync_settings(store: &Store, config: &Config) -> Result<(), duckdb::Error> {
    let conn = store.connection();
    let set = |k: &str, v: Option<String>| {
        conn.execute(
            "INSERT OR REPLACE INTO settings VALUES (?, ?)",
            params![k, v],
        )
    };
    set("ci_user_regex", Some(config.sessions.ci_user_regex.clone()))?;
    set("ci_name_regex", Some(config.sessions.ci_name_regex.clone()))?;
    set(
        "abandon_after_seconds",
        Some(config.sessions.abandon_after_seconds.to_string()),
    )?;
    set("licenses", config.licenses.seats.map(|s| s.to_string()))?;
    set("operator_version", config.licenses.operator_version.clone())?;
    set(
        crate::directory::store::TEAM_TYPE,
        Some(config.directory.team_type.clone()),
    )?;
    Ok(())
}

/// One role's key: from config (or its file), else the one kept in the database under
/// `setting`, else a new random one that is kept so it survives restarts. Returns the key and
/// whether it was just made.
fn role_key(
    store: &Store,
    configured: Option<String>,
    setting: &str,
    prefix: &str,
) -> Result<(String, bool), duckdb::Error> {
    if let Some(k) = configured {
        return Ok((k, false));
    }
    let conn = store.connection();
    let stored: Option<String> = conn
        .query_row("SELECT value FROM settings WHERE key = ?", [setting], |r| {
            r.get(0)
        })
        .ok()
        .flatten();
    if let Some(k) = stored {
        return Ok((k, false));
    }
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    let key = format!("{prefix}{}", hex::encode(bytes));
    conn.execute(
        "INSERT OR REPLACE INTO settings VALUES (?, ?)",
        params![setting, key],
    )?;
    Ok((key, true))
}

/// The viewer, admin and ingest keys, each from config, a file, the database or made now.
/// Prints the ones just made (all of them with `--demo`), since nobody else knows them.
fn keys(store: &Store, config: &Config, demo: bool) -> Result<Keys, ServeError> {
    use crate::secret::resolve;
    let api = &config.api;
    let viewer = resolve(
        "api.license_key_file",
        &api.license_key,
        api.license_key_file.as_deref(),
    )?;
    let admin = resolve(
        "api.admin_key_file",
        &api.admin_key,
        api.admin_key_file.as_deref(),
    )?;
    let ingest = resolve(
        "api.ingest_key_file",
        &api.ingest_key,
        api.ingest_key_file.as_deref(),
    )?;
    let (viewer, viewer_new) = role_key(store, viewer, "api_license_key", "mu_view_")?;
    let (admin, admin_new) = role_key(store, admin, "api_admin_key", "mu_admin_")?;
    if viewer == admin {
        return Err(ServeError::Other(
            "[api] license_key (viewer) and admin_key must differ: one key cannot be both".into(),
        ));
    }
    if viewer_new || demo {
        println!("viewer key (x-license-key: reports, dashboard): {viewer}");
    }
    if admin_new || demo {
        println!("admin key (x-license-key: SQL, ingest, admin routes): {admin}");
    }
    if viewer_new || admin_new {
        println!(
            "  (made now and kept in the database; set [api] license_key / admin_key to choose)"
        );
    }
    Ok(Keys {
        viewer: Arc::from(viewer.as_str()),
        admin: Arc::from(admin.as_str()),
        ingest: ingest.map(|k| Arc::from(k.as_str())),
    })
}

/// The `/metrics` bearer token, if one is configured.
fn metrics_token(config: &Config) -> Result<Option<Arc<str>>, ServeError> {
    let m = &config.metrics;
    let token = crate::secret::resolve(
        "metrics.bearer_token_file",
        &m.bearer_token,
        m.bearer_token_file.as_deref(),
    )?;
    Ok(token.map(|t| Arc::from(t.as_str())))
}

/// What `serve` allows DuckDB: only the database's own directory, where backups are written
/// (the file, its WAL and the spill directory are allowed by DuckDB itself), and the `[sql]`
/// memory and thread limits.
pub fn lockdown(store: &Store, config: &Config) -> Lockdown {
    Lockdown {
        allowed_directories: vec![crate::ops::backup::scratch_dir(store.path())],
        memory_limit: config.sql.memory_limit.clone(),
        threads: config.sql.threads,
        checkpoint_threshold: config.pipeline.checkpoint_threshold.clone(),
    }
}

/// Fills an empty database with generated demo activity ending today.
fn fill_demo(store: &mut Store) -> Result<u64, ServeError> {
    let count: i64 = store
        .connection()
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))?;
    if count > 0 {
        tracing::info!(events = count, "database not empty; --demo adds nothing");
        return Ok(0);
    }
    // The generator fills whole days; keep only what has already happened, so the demo's
    // "last event" is not in the future (sessions running at the cut stay open).
    let now = chrono::Utc::now();
    let events: Vec<_> = generate::events(&GenerateOptions::default())
        .into_iter()
        .filter(|e| e.timestamp <= now)
        .collect();
    let incoming: Vec<_> =
        crate::batch::IncomingEvent::tagged(events, "generated", "demo").collect();
    let mut stored = 0;
    for chunk in incoming.chunks(50_000) {
        stored += store.append(chunk, &[], &[])?.stored;
    }
    // A directory of the generated people, so the Adoption view has teams on the first run.
    let conn = store.connection();
    let mut stmt = conn.prepare(
        "SELECT client_user, min(client_name) FROM session_state \
         WHERE kind = 'exec' AND client_user IS NOT NULL GROUP BY 1 ORDER BY 1",
    )?;
    let users: Vec<(String, Option<String>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let report = crate::directory::store::import(
        conn,
        &crate::directory::demo::directory(&users),
        "demo",
        chrono::Utc::now(),
    )?;
    tracing::info!(
        people = report.people,
        groups = report.groups,
        "demo directory imported"
    );
    Ok(stored)
}

/// Runs the service until Ctrl-C / SIGTERM.
pub async fn run(mut config: Config, opts: ServeOptions) -> Result<(), ServeError> {
    if opts.demo && config.licenses.seats.is_none() {
        // A demo shows a full Licenses card; real deployments set [licenses] seats.
        config.licenses.seats = Some(50);
    }
    crate::named_sql::check_all(&NAMED_SQL)?;
    let zone = config
        .reports
        .zone()
        .map_err(|e| ServeError::Other(e.to_string()))?;
    let display = crate::analytics::display::Display::new(
        config
            .display
            .rewrite
            .iter()
            .map(|r| (r.pattern.as_str(), r.replacement.as_str())),
    )
    .map_err(|e| ServeError::Other(e.to_string()))?;
    let mut store = crate::database::open(&opts.db)?;
    sync_settings(&store, &config)?;
    crate::jira::sync_settings(store.connection(), &config.jira, chrono::Utc::now())
        .map_err(|e| ServeError::Other(e.to_string()))?;
    // The views hold the settings as constants; rebuild them with what was just synced.
    store.refresh_views()?;
    if opts.demo {
        let n = fill_demo(&mut store)?;
        if n > 0 {
            tracing::info!(events = n, "demo data generated (90 days, 40 developers)");
        }
    }
    let keys = if opts.insecure_no_auth {
        tracing::warn!("--insecure-no-auth: the API accepts requests without a key");
        None
    } else {
        Some(Arc::new(keys(&store, &config, opts.demo)?))
    };
    let metrics_token = metrics_token(&config)?;
    // From here on DuckDB refuses files outside the server's own directories, extensions and
    // any change of its settings, whatever a query asks; only then are readers handed out.
    store.lock_down(&lockdown(&store, &config))?;
    let reader = store.reader()?;
    // The receivers read their saved checkpoints (file offsets) through their own connection.
    let sources_db = store.reader()?;
    // The Jira delivery task writes only its outbox rows, through its own connection.
    let jira_db = store.reader()?;
    // The Jira REST sink too: it writes only its own outbox rows and `jira_rest_issues`.
    let jira_rest_db = store.reader()?;
    let pipeline_cfg = PipelineConfig {
        batch_size: config.pipeline.batch_size.max(1),
        flush_interval: Duration::from_millis(config.pipeline.flush_interval_ms),
        queue_capacity: config.pipeline.queue_capacity.max(1),
        queue_rows: config.pipeline.queue_rows.max(1),
        min_commit_rows: 0,
    };
    let (handle, writer) = pipeline::start(store, pipeline_cfg);
    let state = AppState {
        db: Arc::new(Mutex::new(reader)),
        pipeline: handle.clone(),
        config: Arc::new(config.clone()),
        keys,
        metrics_token,
        report_settings: ReportSettings {
            licenses: config.licenses.seats,
            operator_version: config.licenses.operator_version.clone(),
        },
        sql_permits: Arc::new(tokio::sync::Semaphore::new(
            config.sql.max_concurrent.max(1),
        )),
        report_cache: Default::default(),
        scrape_cache: Default::default(),
        display: Arc::new(display),
        zone,
        labels: Default::default(),
    };
    let addr = format!("{}:{}", config.server.bind, config.server.port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: addr.clone(),
            source,
        })?;
    let local: SocketAddr = listener
        .local_addr()
        .map_err(|e| ServeError::Other(e.to_string()))?;
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let pipeline_metrics = crate::telemetry::register_pipeline_metrics(&handle);
    let retention = tokio::spawn(crate::ops::retention::run_schedule(
        handle.clone(),
        (&config.retention).into(),
        Duration::from_secs(config.retention.interval_minutes.max(1).saturating_mul(60)),
        shutdown_rx.clone(),
    ));
    let directory_file = config.directory.file.clone().map(|path| {
        tokio::spawn(sources::directory_file::run(
            path,
            handle.clone(),
            Duration::from_secs(config.directory.poll_seconds.max(1)),
            shutdown_rx.clone(),
        ))
    });
    let jira = crate::jira::delivery::start(&config.jira, jira_db, shutdown_rx.clone())
        .map_err(|e| ServeError::Other(e.to_string()))?;
    let jira_rest = crate::jira::rest::sink::start(&config.jira, jira_rest_db, shutdown_rx.clone())
        .map_err(|e| ServeError::Other(e.to_string()))?;
    let receivers = if opts.no_receivers {
        Vec::new()
    } else {
        sources::start_all(&config, handle.clone(), shutdown_rx.clone(), sources_db)
            .await
            .map_err(|e| ServeError::Other(e.to_string()))?
    };
    print_port_map(&local, &config, &receivers);
    let app = api::router(state);
    let dashboard_port = dashboard_listener(&config, local.port()).await?;
    let http_tls = config
        .server
        .tls
        .as_ref()
        .map(|t| crate::tls::acceptor(&t.files(), &[b"h2", b"http/1.1"]))
        .transpose()?;
    if let Some(listener) = dashboard_port {
        let (app, mut rx, tls) = (app.clone(), shutdown_rx.clone(), http_tls.clone());
        if let Ok(addr) = listener.local_addr() {
            println!("  dashboard {addr}  the dashboard and its API again ([dashboard] port)");
        }
        tokio::spawn(async move {
            let stop = async move {
                let _ = rx.wait_for(|stop| *stop).await;
            };
            let _ = crate::tls::serve_http(listener, tls, app, stop).await;
        });
    }
    let mut rx = shutdown_rx.clone();
    let server = crate::tls::serve_http(listener, http_tls, app, async move {
        let _ = rx.wait_for(|stop| *stop).await;
    });
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: no new data accepted, draining the queue");
        let _ = shutdown_tx.send(true);
    });
    server.await.map_err(|e| ServeError::Other(e.to_string()))?;
    for r in receivers {
        let _ = r.task.await;
    }
    let _ = retention.await;
    if let Some(task) = directory_file {
        let _ = task.await;
    }
    if let Some(jira) = jira {
        let _ = jira.await;
    }
    if let Some(jira_rest) = jira_rest {
        let _ = jira_rest.await;
    }
    drop(pipeline_metrics);
    drop(handle);
    // The writer drains every queued submission before it returns.
    let _ = tokio::task::spawn_blocking(move || writer.join()).await;
    tracing::info!("stopped");
    Ok(())
}

/// The listener for `[dashboard] port`, when it is set and differs from the server port.
async fn dashboard_listener(
    config: &Config,
    server_port: u16,
) -> Result<Option<tokio::net::TcpListener>, ServeError> {
    let Some(port) = config
        .dashboard
        .port
        .filter(|p| *p != server_port && config.dashboard.enabled)
    else {
        return Ok(None);
    };
    let addr = format!("{}:{port}", config.server.bind);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    Ok(Some(listener))
}

fn print_port_map(local: &SocketAddr, config: &Config, receivers: &[sources::Running]) {
    println!("mirrord-usage {} listening:", env!("CARGO_PKG_VERSION"));
    let scheme = if config.server.tls.is_some() {
        "https"
    } else {
        "http"
    };
    println!(
        "  {scheme:<9} {local}  dashboard /, API /api/v1, /metrics, HTTP JSON ingest /api/v1/ingest"
    );
    for r in receivers {
        println!("  {:<9} {}", r.name, r.address);
    }
    if !config.dashboard.enabled {
        println!("  (dashboard disabled)");
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

#[cfg(test)]
mod tests {
    /// What `serve` checks at start-up: every declared query name is in its file and every
    /// query in a file is declared.
    #[test]
    fn every_named_query_the_service_uses_exists() {
        assert_eq!(crate::named_sql::check_all(&super::NAMED_SQL), Ok(()));
    }
}
