//! `GET /api/v1/reports/adoption` (viewer): the Adoption report for a directory group
//! (`group`, default everyone), a range (`from`/`to`, default the last 90 days) and an
//! `interval` for "% active over time" (default `week`). See docs/adoption.md.

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use serde::Deserialize;

use super::{ApiError, AppState};
use crate::analytics::adoption::{self, AdoptionError, AdoptionQuery, DEFAULT_DAYS};
use crate::analytics::buckets::{self, Interval};
use crate::analytics::period::Period;
use crate::directory::scope::Scope;

#[derive(Debug, Deserialize)]
pub struct Params {
    pub group: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub interval: Option<String>,
}

impl From<AdoptionError> for ApiError {
    fn from(e: AdoptionError) -> Self {
        match e {
            AdoptionError::Scope(e) => e.into(),
            AdoptionError::Db(e) => e.into(),
        }
    }
}

/// The report's thresholds from `[adoption]`.
pub fn thresholds(c: &crate::config::AdoptionConfig) -> adoption::Thresholds {
    adoption::Thresholds {
        regular_active_days: c.regular_active_days,
        champion_active_days: c.champion_active_days,
        going_cold_days: c.going_cold_days,
    }
}

/// `GET /api/v1/reports/adoption`.
pub async fn adoption(
    State(state): State<AppState>,
    Query(p): Query<Params>,
) -> Result<Response, ApiError> {
    let period = Period::parse(p.from.as_deref(), p.to.as_deref())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let interval: Interval = match p.interval.as_deref() {
        None => Interval::Week,
        Some(i) => i.parse().map_err(ApiError::bad_request)?,
    };
    let zone = state.zone;
    let to = period.to.unwrap_or_else(|| Utc::now().naive_utc());
    let from = period.from.unwrap_or_else(|| {
        let first = buckets::local_date(zone, to) - Duration::days(DEFAULT_DAYS - 1);
        buckets::midnight(zone, first)
    });
    if from >= to {
        return Err(ApiError::bad_request("`from` must be before `to`"));
    }
    if (to - from).num_days() > 3660 {
        return Err(ApiError::bad_request("the range may span at most 10 years"));
    }
    let q = AdoptionQuery {
        from,
        to,
        interval,
        zone,
        thresholds: thresholds(&state.config.adoption),
        team_type: state.config.directory.team_type.clone(),
    };
    let group = p.group.clone();
    let report = state
        .read(move |c| {
            let scope = Scope::resolve_at(c, group.as_deref(), Some(q.to))?;
            Ok(adoption::report(c, &scope, &q)?)
        })
        .await?;
    Ok(Json(report).into_response())
}
