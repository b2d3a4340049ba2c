//! `x-license-key` on every `/api/` route: 401 when missing, 403 when wrong, compared in
//! constant time. The dashboard may instead present the key in the HttpOnly cookie that
//! `POST /ui/login` sets (`serve --dashboard-login`).

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

use super::{ApiError, AppState};

/// Middleware that checks the key.
pub async fn require_key(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some(expected) = state.license_key.as_deref() else {
        return Ok(next.run(req).await);
    };
    let given = req
        .headers()
        .get("x-license-key")
        .map(|v| v.as_bytes().to_vec())
        .or_else(|| cookie_key(req.headers()));
    match given {
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing x-license-key header",
        )),
        Some(given) if constant_time_eq(&given, expected.as_bytes()) => Ok(next.run(req).await),
        Some(_) => Err(ApiError::new(StatusCode::FORBIDDEN, "wrong x-license-key")),
    }
}

/// Name of the cookie `POST /ui/login` sets.
pub const COOKIE: &str = "mirrord_usage_key";

/// The key from the login cookie, if the request carries one.
fn cookie_key(headers: &axum::http::HeaderMap) -> Option<Vec<u8>> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .map(|v| v.as_bytes().to_vec())
}

/// Equality whose time depends only on the lengths, not on where the bytes differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() ^ b.len()) as u8 | ((a.len() ^ b.len()) >> 8) as u8;
    for i in 0..a.len().max(b.len()) {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0xff);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn constant_time_eq_compares_exactly() {
        use super::constant_time_eq as eq;
        assert!(eq(b"secret", b"secret"));
        assert!(!eq(b"secret", b"secreT"));
        assert!(!eq(b"secret", b"secret2"));
        assert!(!eq(b"", b"x"));
    }
}
