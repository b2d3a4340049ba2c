//! `GET /api/v1/directory` (viewer): the directory in force, its tree and who no session
//! matches. `POST /api/v1/directory` (admin): imports a CSV (`text/csv`) or JSON
//! (`application/json`) directory; a file with any problem is refused with 422 and the
//! import report (row, column, reason), and the directory in force stays as it was.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState, unavailable};
use crate::directory::{self, Format, ImportReport, store};

/// `GET /api/v1/directory`.
pub async fn show(State(state): State<AppState>) -> Result<Response, ApiError> {
    let overview = state.read(|c| Ok(store::overview(c)?)).await?;
    Ok(Json(overview).into_response())
}

/// `POST /api/v1/directory`.
pub async fn import(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let format = Format::guess(
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("text/csv"),
    );
    let parsed = tokio::task::spawn_blocking(move || directory::parse(&body, format))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let dir = match parsed {
        Ok(dir) => dir,
        Err(problems) => {
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(ImportReport::refused(problems)),
            )
                .into_response());
        }
    };
    let report = state
        .pipeline
        .maintain(move |s| store::import(s.connection(), &dir, "api", chrono::Utc::now()))
        .await
        .map_err(unavailable)?
        .map_err(|e| ApiError::internal(e.to_string()))?;
    tracing::info!(
        snapshot = report.snapshot,
        people = report.people,
        groups = report.groups,
        "directory imported"
    );
    Ok(Json(report).into_response())
}
