//! The browser dashboard: the built files from `web/dist/` (see `web/build.mjs`), embedded in
//! the binary; `/ui/config.json`, which tells the page its version and, only when
//! `[api] share_key_with_dashboard` is on, the viewer key (never the admin key); `/ui/login`,
//! which turns a key into an HttpOnly cookie holding only viewer rights; and `/docs/`, the
//! documentation the dashboard links to, served from the binary.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use super::AppState;

#[derive(RustEmbed)]
#[folder = "web/dist/"]
struct Assets;

/// The guides in `docs/`, served at `/docs/` (the dashboard's "Docs" link by default).
#[derive(RustEmbed)]
#[folder = "docs/"]
struct Docs;

/// `GET /ui/config.json`.
pub async fn config(State(state): State<AppState>) -> Json<serde_json::Value> {
    let key = state
        .config
        .api
        .share_key_with_dashboard
        .then(|| state.keys.as_ref().map(|k| k.viewer.to_string()))
        .flatten();
    Json(serde_json::json!({
        "licenseKey": key,
        "authRequired": state.keys.is_some(),
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
/// HttpOnly, SameSite=Strict cookie that authorizes the dashboard's API requests. The cookie
/// holds the viewer key whichever key was typed, so the browser never keeps admin rights.
pub async fn login(State(state): State<AppState>, axum::Json(body): axum::Json<Login>) -> Response {
    let Some(keys) = state.keys.as_deref() else {
        return StatusCode::NO_CONTENT.into_response();
    };
    let given = body.license_key.as_bytes();
    let eq = super::auth::constant_time_eq;
    if !(eq(given, keys.viewer.as_bytes()) || eq(given, keys.admin.as_bytes())) {
        return super::ApiError::new(StatusCode::FORBIDDEN, "wrong key").into_response();
    }
    let secure = if state.config.server.tls.is_some() {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{}={}; HttpOnly; SameSite=Strict; Path=/{secure}",
        super::auth::COOKIE,
        keys.viewer
    );
    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response()
}

/// `GET /docs/`: the list of guides.
pub async fn docs_index() -> Response {
    let mut names: Vec<String> = Docs::iter().map(|n| n.into_owned()).collect();
    names.sort();
    let items: String = names
        .iter()
        .map(|n| format!("<li><a href=\"{n}\">{n}</a></li>"))
        .collect();
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>mirrord-usage docs</title></head>\
         <body><h1>mirrord-usage {}</h1><ul>{items}</ul></body></html>",
        env!("CARGO_PKG_VERSION")
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

/// `GET /docs/<guide>.md`: one guide, as Markdown text (or an example file, as what it is).
pub async fn doc(Path(path): Path<String>) -> Response {
    let mime = if path.ends_with(".csv") {
        "text/csv; charset=utf-8"
    } else {
        "text/markdown; charset=utf-8"
    };
    match Docs::get(&path) {
        Some(file) => ([(header::CONTENT_TYPE, mime)], file.data.into_owned()).into_response(),
        None => (StatusCode::NOT_FOUND, "no such guide; see /docs/").into_response(),
    }
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
