//! The browser dashboard: the built files from `web/dist/` (see `web/build.mjs`), embedded in the binary, and `/ui/config.json`
//! which tells the page its API key (when shared) and version.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use super::AppState;

#[derive(RustEmbed)]
#[folder = "web/dist/"]
struct Assets;

/// `GET /ui/config.json`.
pub async fn config(State(state): State<AppState>) -> Json<serde_json::Value> {
    let key = state
        .config
        .api
        .share_key_with_dashboard
        .then(|| state.license_key.as_deref().map(str::to_string))
        .flatten();
    Json(serde_json::json!({
        "licenseKey": key,
        "authRequired": state.license_key.is_some(),
        "version": env!("CARGO_PKG_VERSION"),
        "docsUrl": state.config.dashboard.docs_url,
        "seats": state.config.licenses.seats,
    }))
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Login {
    pub license_key: String,
}

/// `POST /ui/login` with `{"licenseKey": ".."}`: checks the key once and answers with an
/// HttpOnly, SameSite=Strict cookie that authorizes the dashboard's API requests
/// (`serve --dashboard-login`, for exposed deployments).
pub async fn login(State(state): State<AppState>, axum::Json(body): axum::Json<Login>) -> Response {
    let Some(expected) = state.license_key.as_deref() else {
        return StatusCode::NO_CONTENT.into_response();
    };
    if !super::auth::constant_time_eq(body.license_key.as_bytes(), expected.as_bytes()) {
        return super::ApiError::new(StatusCode::FORBIDDEN, "wrong license key").into_response();
    }
    let cookie = format!(
        "{}={}; HttpOnly; SameSite=Strict; Path=/",
        super::auth::COOKIE,
        body.license_key
    );
    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response()
}

/// `GET /`.
pub async fn index() -> Response {
    serve("index.html")
}

/// `GET /<file>`.
pub async fn asset(Path(path): Path<String>) -> Response {
    serve(&path)
}

fn serve(path: &str) -> Response {
    match Assets::get(path) {
        Some(file) => {
            let mime = match path.rsplit('.').next() {
                Some("html") => "text/html; charset=utf-8",
                Some("js" | "mjs") => "text/javascript; charset=utf-8",
                Some("css") => "text/css; charset=utf-8",
                Some("svg") => "image/svg+xml",
                Some("json") => "application/json",
                Some("png") => "image/png",
                Some("ico") => "image/x-icon",
                Some("woff2") => "font/woff2",
                Some("txt") => "text/plain; charset=utf-8",
                Some("map") => "application/json",
                _ => "application/octet-stream",
            };
            ([(header::CONTENT_TYPE, mime)], file.data.into_owned()).into_response()
        }
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}
