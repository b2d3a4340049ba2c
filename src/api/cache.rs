//! The report cache: answers a report request from memory while the database has not changed.
//!
//! Reports read only what the writer commits, so a report computed at one database
//! generation ([`crate::pipeline::PipelineStats::generation`], bumped by every commit and
//! maintenance job before anyone is told it finished) is the answer for every identical request
//! until the next one. Entries are keyed by the request's path and query, so every parameter
//! (period, `primary_key`, format, `dense`) is part of the key. A few fields also depend on the
//! clock (a session becomes abandoned after the timeout, "running now"), so an entry is also
//! dropped after [`MAX_AGE`]. Only successful answers of at most [`MAX_BODY`] bytes are kept,
//! at most [`MAX_ENTRIES`] of them (the oldest goes first).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;

/// How long an answer may be reused while nothing is committed (for the clock-dependent fields).
pub const MAX_AGE: Duration = Duration::from_secs(15);
/// Largest body kept.
pub const MAX_BODY: usize = 8 << 20;
/// Most answers kept.
pub const MAX_ENTRIES: usize = 64;

struct Entry {
    generation: u64,
    made: Instant,
    headers: HeaderMap,
    body: Bytes,
}

/// Cached report answers by request path and query.
#[derive(Default)]
pub struct ReportCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl ReportCache {
    fn get(&self, key: &str, generation: u64) -> Option<Response> {
        let entries = self.entries.lock().ok()?;
        let e = entries.get(key)?;
        if e.generation != generation || e.made.elapsed() > MAX_AGE {
            return None;
        }
        let mut response = Body::from(e.body.clone()).into_response();
        *response.headers_mut() = e.headers.clone();
        response
            .headers_mut()
            .insert("x-mirrord-usage-cache", "hit".parse().ok()?);
        Some(response)
    }

    fn put(&self, key: String, generation: u64, headers: HeaderMap, body: Bytes) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            let oldest = entries
                .iter()
                .min_by_key(|(_, e)| e.made)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                entries.remove(&k);
            }
        }
        entries.insert(
            key,
            Entry {
                generation,
                made: Instant::now(),
                headers,
                body,
            },
        );
    }
}

/// Middleware for the report routes: a cached answer while the generation is the same, else
/// the handler's, kept when it succeeded.
pub async fn cached(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let key = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    // Read before computing: a commit during the computation leaves the entry already stale.
    let generation = state.pipeline.stats.generation.load(Ordering::Acquire);
    if let Some(hit) = state.report_cache.get(&key, generation) {
        return hit;
    }
    let response = next.run(req).await;
    if response.status() != StatusCode::OK {
        return response;
    }
    let (parts, body) = response.into_parts();
    match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => {
            state
                .report_cache
                .put(key, generation, parts.headers.clone(), bytes.clone());
            Response::from_parts(parts, Body::from(bytes))
        }
        // Too big to keep (or the body failed): it is gone, so say so rather than truncate.
        Err(e) => super::ApiError::internal(format!("report body: {e}")).into_response(),
    }
}
