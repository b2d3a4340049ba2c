//! Report routes: usage (JSON, CSV, xlsx), trends, Jira, raw sessions and the generated
//! vendor dashboards.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use serde::Deserialize;

use super::{ApiError, AppState};
use crate::analytics::export;
use crate::analytics::period::{End, parse_bound};
use crate::analytics::reports::{self, Period, PrimaryKey};
use crate::analytics::sessions as session_list;
use crate::directory::scope::Scope;

/// The report window of `from`/`to` (see [`crate::analytics::period`]); a bad one is a 400.
fn period(from: Option<&str>, to: Option<&str>) -> Result<Period, ApiError> {
    Period::parse(from, to).map_err(|e| ApiError::bad_request(e.to_string()))
}

#[derive(Debug, Deserialize)]
pub struct UsageQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub format: Option<String>,
    pub primary_key: Option<PrimaryKey>,
    /// Ours: only the people of this directory group (and the groups below it).
    pub group: Option<String>,
}

/// `GET /api/v1/reports/usage`.
pub async fn usage(
    State(state): State<AppState>,
    Query(q): Query<UsageQuery>,
) -> Result<Response, ApiError> {
    let p = period(q.from.as_deref(), q.to.as_deref())?;
    let key = q.primary_key.unwrap_or_default();
    let settings = state.report_settings.clone();
    state.rollups_current().await?;
    let group = q.group.clone();
    let display = state.display.clone();
    let labels = state.labels.clone();
    let report = state
        .read(move |c| {
            let scope = AppState::scope(&labels, c, group.as_deref(), p.to)?;
            let mut report = reports::usage_in(c, p, key, &settings, &scope)?;
            display.usage(&mut report);
            Ok(report)
        })
        .await?;
    match q.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(report).into_response()),
        "csv" => Ok(download(
            "text/csv; charset=utf-8",
            "mirrord-usage.csv",
            export::users_csv(&report).map_err(|e| ApiError::internal(e.to_string()))?,
        )),
        "xlsx" => {
            let bytes = crate::analytics::xlsx::usage_workbook(&report)
                .map_err(|e| ApiError::internal(e.to_string()))?;
            Ok(download(
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "mirrord-usage.xlsx",
                bytes,
            ))
        }
        other => Err(ApiError::bad_request(format!(
            "unknown format `{other}`; use json, csv or xlsx"
        ))),
    }
}

fn download(mime: &'static str, name: &str, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
pub struct TrendsQuery {
    pub days: Option<i64>,
    /// Ours: the first day of an explicit range (`from`/`to` are ignored here, as the vendor's
    /// trends ignore them: the window is `days` ending today).
    pub start: Option<String>,
    /// Ours: the last day of an explicit range (default: today).
    pub end: Option<String>,
    /// Ours: every day of the range, zeros included (the vendor's series are sparse).
    pub dense: Option<bool>,
    /// Ours: `day`, `week` (from Monday), `2week` or `month`, in `[reports] time_zone`;
    /// absent: UTC days.
    pub interval: Option<String>,
    /// Ours: only the people of this directory group (and the groups below it).
    pub group: Option<String>,
}

/// `GET /api/v1/reports/usage/trends?days=N` (1..3650) or, ours, `?start=&end=`.
pub async fn trends(
    State(state): State<AppState>,
    Query(q): Query<TrendsQuery>,
) -> Result<Response, ApiError> {
    let today = Utc::now().date_naive();
    let (from, to) = match (q.start.as_deref(), q.end.as_deref()) {
        (Some(f), t) => {
            let bound = |name, v| {
                parse_bound(name, v, End::From).map_err(|e| ApiError::bad_request(e.to_string()))
            };
            let from = bound("start", f)?.date();
            let to = t
                .map(|t| bound("end", t).map(|d| d.date()))
                .transpose()?
                .unwrap_or(today);
            (from, to)
        }
        (None, _) => {
            let days = q.days.unwrap_or(30);
            if !(1..=3650).contains(&days) {
                return Err(ApiError::bad_request("`days` must be between 1 and 3650"));
            }
            (today - Duration::days(days - 1), today)
        }
    };
    if from > to || (to - from).num_days() >= 3650 {
        return Err(ApiError::bad_request(
            "the range must be 1 to 3650 days with `start` before `end`",
        ));
    }
    let dense = q.dense.unwrap_or(false);
    let cut = match q.interval.as_deref() {
        None => None,
        Some(i) => Some(reports::TrendCut {
            interval: i.parse().map_err(ApiError::bad_request)?,
            zone: state.zone,
        }),
    };
    let group = q.group.clone();
    let t = state
        .read(move |c| {
            // The directory as it stood at the range's end (tomorrow for one ending today).
            let end = (to + Duration::days(1)).and_hms_opt(0, 0, 0);
            let scope = Scope::resolve_at(c, group.as_deref(), end)?;
            scope.install(c)?;
            Ok(reports::trends_in(c, from, to, dense, cut, &scope)?)
        })
        .await?;
    Ok(Json(t).into_response())
}

/// `GET /api/v1/export.zip`: every report of the range as CSV files (see
/// [`crate::analytics::export`]).
pub async fn export_zip(
    State(state): State<AppState>,
    Query(q): Query<UsageQuery>,
) -> Result<Response, ApiError> {
    let p = period(q.from.as_deref(), q.to.as_deref())?;
    let key = q.primary_key.unwrap_or_default();
    let settings = state.report_settings.clone();
    state.rollups_current().await?;
    let group = q.group.clone();
    let display = state.display.clone();
    let labels = state.labels.clone();
    let bytes = state
        .read(move |c| {
            let scope = AppState::scope(&labels, c, group.as_deref(), p.to)?;
            let now = Utc::now();
            let req = export::ExportRequest {
                period: p,
                key,
                settings: &settings,
                scope: &scope,
                today: now.date_naive(),
                now: now.naive_utc(),
                display: &display,
            };
            export::archive(c, &req).map_err(|e| ApiError::internal(e.to_string()))
        })
        .await?;
    let name = format!(
        "mirrord-usage-{}{}.zip",
        q.from.as_deref().unwrap_or("all"),
        q.to.as_deref().map(|t| format!("-{t}")).unwrap_or_default()
    );
    Ok(download("application/zip", &sanitize(&name), bytes))
}

/// A file name safe in a `Content-Disposition` header.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[derive(Debug, Deserialize)]
pub struct JiraQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    /// Ours: only the people of this directory group (and the groups below it).
    pub group: Option<String>,
}

/// `GET /api/v1/reports/jira`.
pub async fn jira_all(
    State(state): State<AppState>,
    Query(q): Query<JiraQuery>,
) -> Result<Response, ApiError> {
    let p = period(q.from.as_deref(), q.to.as_deref())?;
    state.rollups_current().await?;
    let group = q.group.clone();
    let issues = state
        .read(move |c| {
            let scope = Scope::resolve_at(c, group.as_deref(), p.to)?;
            scope.install(c)?;
            Ok(reports::jira_in(c, p, None, &scope)?)
        })
        .await?;
    Ok(Json(serde_json::json!({ "issues": issues })).into_response())
}

/// `GET /api/v1/reports/jira/{KEY}`: 404 when no session mentions the key.
pub async fn jira_one(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(q): Query<JiraQuery>,
) -> Result<Response, ApiError> {
    let p = period(q.from.as_deref(), q.to.as_deref())?;
    let k = key.clone();
    state.rollups_current().await?;
    let group = q.group.clone();
    let mut issues = state
        .read(move |c| {
            let scope = Scope::resolve_at(c, group.as_deref(), p.to)?;
            scope.install(c)?;
            Ok(reports::jira_in(c, p, Some(&k), &scope)?)
        })
        .await?;
    match issues.pop() {
        Some(issue) => Ok(Json(issue).into_response()),
        None => Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            format!("no sessions for issue {key}"),
        )),
    }
}

/// A listing's bad parameter is a 400; a database failure, a 500.
fn list_error(e: session_list::ListError) -> ApiError {
    match e {
        session_list::ListError::BadRequest(m) => ApiError::bad_request(m),
        session_list::ListError::Store(e) => e.into(),
    }
}

/// `GET /api/v1/sessions`.
pub async fn sessions(
    State(state): State<AppState>,
    Query(q): Query<session_list::SessionQuery>,
) -> Result<Response, ApiError> {
    let display = state.display.clone();
    let labels = state.labels.clone();
    let page = state
        .read(move |c| {
            let labels = labels.get(c)?;
            let mut page = session_list::list(c, &q, Some(labels)).map_err(list_error)?;
            display.sessions(&mut page);
            Ok(page)
        })
        .await?;
    Ok(Json(page).into_response())
}

/// `GET /api/v1/usage/sessions`: session rows as the vendor's cloud usage API lists them.
pub async fn usage_sessions(
    State(state): State<AppState>,
    Query(q): Query<session_list::UsageSessionQuery>,
) -> Result<Response, ApiError> {
    let display = state.display.clone();
    let labels = state.labels.clone();
    let page = state
        .read(move |c| {
            let labels = labels.get(c)?;
            let mut page = session_list::usage_sessions(c, &q, Some(labels)).map_err(list_error)?;
            display.usage_sessions(&mut page);
            Ok(page)
        })
        .await?;
    Ok(Json(page).into_response())
}

/// `GET /api/v1/dashboards/{vendor}`: the generated dashboard file(s) for a vendor.
pub async fn dashboard(Path(vendor): Path<String>) -> Result<Response, ApiError> {
    let files = render_dashboard(&vendor)?;
    let Some((name, content)) = files.into_iter().next() else {
        return Err(ApiError::internal("the generator produced no file"));
    };
    let mime = if name.ends_with(".ndjson") {
        "application/x-ndjson"
    } else {
        "application/json"
    };
    Ok(download(mime, &name, content.into_bytes()))
}

/// Renders one vendor's dashboard with default options.
fn render_dashboard(vendor: &str) -> Result<Vec<(String, String)>, ApiError> {
    let vendor: crate::dashboards::Vendor = vendor
        .parse()
        .map_err(|e: crate::dashboards::DashboardError| ApiError::bad_request(e.to_string()))?;
    crate::dashboards::render(vendor, &crate::dashboards::DashboardOptions::default())
        .map_err(|e| ApiError::internal(e.to_string()))
}
