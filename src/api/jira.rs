//! HTTP handlers: the embeddable panel (`GET /jira/panel/{KEY}`, no API key so that an iframe
//! can load it) and the outbox status (`GET /api/v1/jira/status`, behind the API key).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};
use crate::analytics::reports::{self, Period};
use crate::jira::outbox::{self, OutboxStatus};
use crate::jira::{is_issue_key, panel};

/// `GET /jira/panel/{KEY}`: the issue's all-time totals as a small HTML page.
pub async fn panel(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    if !is_issue_key(&key) {
        let msg = "not a Jira issue key (like SHOP-123)\n";
        return Ok((
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            msg,
        )
            .into_response());
    }
    let k = key.clone();
    let metric = state
        .read(move |c| {
            Ok(reports::jira(c, Period::default(), Some(&k))?
                .into_iter()
                .next())
        })
        .await?;
    let html = panel::render(&key, metric.as_ref());
    let csp = HeaderValue::from_str(&panel::content_security_policy(&state.config.jira))
        .map_err(|e| ApiError::internal(format!("panel CSP: {e}")))?;
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        ),
        (header::CONTENT_SECURITY_POLICY, csp),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    Ok((headers, html).into_response())
}

/// `GET /api/v1/jira/status`: pushes per state, oldest pending, recent errors.
pub async fn status(State(state): State<AppState>) -> Result<Json<OutboxStatus>, ApiError> {
    Ok(Json(state.read(|c| Ok(outbox::status(c)?)).await?))
}
