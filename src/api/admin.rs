//! Admin routes (`x-license-key` like every `/api/` route) for jobs that must run inside
//! `serve`, which holds the only connection to the database file:
//!
//! - `POST /api/v1/admin/backup` — a consistent snapshot made on the writer thread between
//!   commits, streamed back as the response body (a DuckDB file). The temporary file lives
//!   beside the database (the data volume) and is unlinked as soon as it is open.
//! - `POST /api/v1/admin/retention?dry_run=true&days=N&keep_sessions_days=N` — applies (or
//!   counts) retention now; omitted numbers come from `[retention]`.

use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use rand::RngCore;
use serde::Deserialize;

use super::{ApiError, AppState, unavailable};
use crate::ops::remote::{EVENTS_HEADER, REJECTS_HEADER, SESSIONS_HEADER};
use crate::ops::retention::{self, RetentionPolicy, RetentionReport};
use crate::ops::{OpsError, backup};

fn failed(e: OpsError) -> ApiError {
    ApiError::internal(e.to_string())
}

/// `POST /api/v1/admin/backup`.
pub async fn backup(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (path, report) = state
        .pipeline
        .maintain(|store| {
            let mut nonce = [0u8; 8];
            rand::thread_rng().fill_bytes(&mut nonce);
            let path = backup::scratch_dir(store.path())
                .join(format!(".backup-{}.duckdb", hex::encode(nonce)));
            backup::snapshot(store.connection(), &path).map(|r| (path, r))
        })
        .await
        .map_err(unavailable)?
        .map_err(failed)?;
    let file = tokio::fs::File::open(&path).await;
    // Unlinked now: the open handle keeps the bytes until the response is sent.
    let _ = tokio::fs::remove_file(&path).await;
    let file = file.map_err(|e| ApiError::internal(format!("cannot read the snapshot: {e}")))?;
    tracing::info!(
        events = report.events,
        sessions = report.sessions,
        bytes = report.bytes,
        "backup taken"
    );
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, report.bytes.to_string()),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"mirrord-usage-backup.duckdb\"".to_string(),
            ),
            (
                header::HeaderName::from_static(EVENTS_HEADER),
                report.events.to_string(),
            ),
            (
                header::HeaderName::from_static(SESSIONS_HEADER),
                report.sessions.to_string(),
            ),
            (
                header::HeaderName::from_static(REJECTS_HEADER),
                report.rejects.to_string(),
            ),
        ],
        body,
    )
        .into_response())
}

/// Query of `POST /api/v1/admin/retention`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RetentionQuery {
    pub dry_run: bool,
    pub days: Option<u32>,
    pub keep_sessions_days: Option<u32>,
}

/// `POST /api/v1/admin/retention`.
pub async fn retention(
    State(state): State<AppState>,
    Query(q): Query<RetentionQuery>,
) -> Result<Json<RetentionReport>, ApiError> {
    let configured = RetentionPolicy::from(&state.config.retention);
    let policy = RetentionPolicy {
        days: q.days.unwrap_or(configured.days),
        keep_sessions_days: q
            .keep_sessions_days
            .unwrap_or(configured.keep_sessions_days),
    };
    let report = state
        .pipeline
        .maintain(move |store| {
            retention::apply(store.connection(), policy, chrono::Utc::now(), q.dry_run)
        })
        .await
        .map_err(unavailable)?
        .map_err(failed)?;
    Ok(Json(report))
}
