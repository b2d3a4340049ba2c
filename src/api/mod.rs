//! serve: one axum app on the main port — the reports API (viewer key, `x-license-key`), the
//! read-only SQL endpoint and admin routes (admin key), HTTP JSON ingest (ingest or admin key),
//! `/metrics` (optional bearer token), health, and the embedded browser dashboard. Every
//! response passes the Host allow-list and gets the browser hardening headers (`guard.rs`).
//!
//! Readers never share the writer: each request clones a DuckDB connection from
//! [`AppState::db`] and runs its queries on a blocking thread.

pub mod admin;
pub mod adoption;
pub mod auth;
pub mod cache;
pub mod directory;
pub mod error;
pub mod guard;
pub mod ingest;
pub mod jira;
pub mod metrics;
pub mod reports;
pub mod sql;
pub mod ui;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::{get, post};
use duckdb::Connection;

use crate::analytics::reports::ReportSettings;
use crate::config::Config;
use crate::pipeline::PipelineHandle;
pub use error::ApiError;

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    /// A connection to clone for each request.
    pub db: Arc<Mutex<Connection>>,
    pub pipeline: PipelineHandle,
    pub config: Arc<Config>,
    /// The keys `/api/` routes check, by role; `None` when auth is explicitly off.
    pub keys: Option<Arc<auth::Keys>>,
    /// The bearer token `/metrics` requires, if any.
    pub metrics_token: Option<Arc<str>>,
    pub report_settings: ReportSettings,
    /// Turns for `POST /api/v1/sql`: `[sql] max_concurrent` queries run at once.
    pub sql_permits: Arc<tokio::sync::Semaphore>,
    /// Report answers per database generation (see [`cache`]).
    pub report_cache: Arc<cache::ReportCache>,
    /// The database part of `/metrics` per database generation.
    pub scrape_cache: Arc<metrics::ScrapeCache>,
    /// `[display] rewrite`, compiled.
    pub display: Arc<crate::analytics::display::Display>,
    /// `[reports] time_zone`: where days and weeks begin.
    pub zone: chrono_tz::Tz,
    /// The directory's row labels per snapshot.
    pub labels: Arc<crate::directory::scope::LabelCache>,
}

/// The writer is gone (the server is stopping): 503, for every route that hands it work.
pub(crate) fn unavailable(e: crate::pipeline::SubmitError) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        format!("{e}: the server is shutting down"),
    )
}

impl AppState {
    /// Makes the all-time rollups current before a read that uses them: when commits are
    /// pending, the writer merges them first (one merge, however many commits; usually done
    /// already, in the writer's idle time).
    pub async fn rollups_current(&self) -> Result<(), ApiError> {
        let pending = self
            .read(|c| Ok(crate::analytics::rollups::has_pending(c)?))
            .await?;
        if pending {
            self.pipeline.catch_up().await.map_err(unavailable)??;
        }
        Ok(())
    }

    /// The scope of `group` as the directory stood at `at` (a range's end; `None`: the newest
    /// snapshot), with the cached row labels, resolved on `conn` (inside [`Self::read`]).
    pub fn scope(
        labels: &crate::directory::scope::LabelCache,
        conn: &Connection,
        group: Option<&str>,
        at: Option<chrono::NaiveDateTime>,
    ) -> Result<crate::directory::scope::Scope, ApiError> {
        let scope = crate::directory::scope::Scope::resolve_at(conn, group, at)?;
        Ok(scope.with_labels(labels.get(conn)?))
    }

    /// Runs `f` with a fresh reader connection on a blocking thread.
    pub async fn read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let conn = db
                .lock()
                .map_err(|_| ApiError::internal("database handle poisoned"))?
                .try_clone()
                .map_err(ApiError::from)?;
            f(&conn)
        })
        .await
        .map_err(|e| ApiError::internal(format!("query task failed: {e}")))?
    }
}

/// The whole HTTP app.
pub fn router(state: AppState) -> Router {
    use axum::middleware::from_fn_with_state as layer;
    let reports = Router::new()
        .route("/api/v1/reports/usage", get(reports::usage))
        .route("/api/v1/reports/usage/trends", get(reports::trends))
        .route("/api/v1/reports/jira", get(reports::jira_all))
        .route("/api/v1/reports/jira/{key}", get(reports::jira_one))
        .route("/api/v1/reports/adoption", get(adoption::adoption))
        .route_layer(layer(state.clone(), cache::cached));
    let viewer = Router::new()
        .merge(reports)
        .route("/api/v1/jira/status", get(jira::status))
        .route("/api/v1/sessions", get(reports::sessions))
        .route("/api/v1/export.zip", get(reports::export_zip))
        .route("/api/v1/usage/sessions", get(reports::usage_sessions))
        .route("/api/v1/dashboards/{vendor}", get(reports::dashboard))
        .route("/api/v1/directory", get(directory::show))
        .route_layer(layer(state.clone(), auth::require_viewer));
    let admin = Router::new()
        .route("/api/v1/sql", post(sql::run))
        .route("/api/v1/admin/backup", post(admin::backup))
        .route("/api/v1/admin/retention", post(admin::retention))
        .route(
            "/api/v1/directory",
            post(directory::import).layer(axum::extract::DefaultBodyLimit::max(
                crate::directory::MAX_BYTES,
            )),
        )
        .route_layer(layer(state.clone(), auth::require_admin));
    let ingest = Router::new()
        .route("/api/v1/ingest", post(ingest::ingest))
        .route_layer(layer(state.clone(), auth::require_ingest));
    let mut app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::metrics))
        .route("/docs/", get(ui::docs_index))
        .route("/docs/{*path}", get(ui::doc))
        .merge(viewer)
        .merge(admin)
        .merge(ingest)
        .route("/api/{*rest}", axum::routing::any(error::not_found));
    if state.config.jira.panel {
        // No API key: a Jira app or any page embeds it in an iframe, which cannot send one.
        app = app.route("/jira/panel/{key}", get(jira::panel));
    }
    if state.config.dashboard.enabled {
        app = app
            .route("/ui/config.json", get(ui::config))
            .route("/ui/login", post(ui::login))
            .route("/", get(ui::index))
            .route("/{*path}", get(ui::asset));
    }
    let hosts = guard::HostAllowList::new(&state.config.server.allowed_hosts);
    let tls = state.config.server.tls.is_some();
    app.with_state(state)
        // The fastest gzip level: a 2 MB report compresses ~5x in a third of the default's time.
        .layer(
            tower_http::compression::CompressionLayer::new()
                .quality(tower_http::CompressionLevel::Fastest),
        )
        .layer(axum::middleware::from_fn(move |req, next| {
            guard::harden(tls, req, next)
        }))
        .layer(axum::middleware::from_fn(move |req, next| {
            guard::check_host(hosts.clone(), req, next)
        }))
        .layer(axum::middleware::from_fn(crate::telemetry::trace_request))
}

async fn readyz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<&'static str, ApiError> {
    state
        .read(|conn| {
            conn.query_row("SELECT count(*) FROM session_state", [], |r| {
                r.get::<_, i64>(0)
            })?;
            Ok(())
        })
        .await?;
    Ok("ready")
}
