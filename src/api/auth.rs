//! Keys by role on every `/api/` route (see `docs/security.md`):
//!
//! - **viewer** (`[api] license_key`, sent as `x-license-key` like the vendor's reports API):
//!   reports, trends, sessions, dashboards, Jira status;
//! - **admin** (`[api] admin_key`): SQL, HTTP ingest and the admin routes, and every viewer
//!   route;
//! - **ingest** (`[api] ingest_key`, optional): `POST /api/v1/ingest` only.
//!
//! A key comes in `x-license-key` or `Authorization: Bearer …`. The dashboard may instead hold
//! the viewer key in the HttpOnly cookie `POST /ui/login` sets; the cookie never opens more
//! than viewer routes, so a browser never holds admin rights. Missing key: 401; a key that is
//! wrong or of a lesser role: 403. Keys are compared in constant time.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::{ApiError, AppState};

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Reports and other reads.
    Viewer,
    /// `POST /api/v1/ingest`.
    Ingest,
    /// SQL, admin routes, and everything else.
    Admin,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Ingest => "ingest",
            Role::Admin => "admin",
        }
    }
}

/// The keys `serve` checks. An unset ingest key means ingest takes the admin key.
#[derive(Clone)]
pub struct Keys {
    pub viewer: Arc<str>,
    pub admin: Arc<str>,
    pub ingest: Option<Arc<str>>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys { <redacted> }")
    }
}

impl Keys {
    /// Whether `given` opens a route that needs `role`.
    fn grants(&self, given: &[u8], role: Role) -> bool {
        let is = |k: &str| constant_time_eq(given, k.as_bytes());
        let admin = is(&self.admin);
        match role {
            Role::Admin => admin,
            Role::Viewer => admin || is(&self.viewer),
            Role::Ingest => admin || self.ingest.as_deref().is_some_and(is),
        }
    }

    /// Whether `given` is any of the keys (to tell "wrong key" from "not enough").
    fn known(&self, given: &[u8]) -> bool {
        [Role::Viewer, Role::Ingest, Role::Admin]
            .iter()
            .any(|r| self.grants(given, *r))
    }
}

/// Checks the request's key against what `role` needs.
pub fn check(keys: Option<&Keys>, headers: &HeaderMap, role: Role) -> Result<(), ApiError> {
    let Some(keys) = keys else {
        return Ok(());
    };
    if let Some(given) = header_key(headers) {
        if keys.grants(&given, role) {
            return Ok(());
        }
        let message = if keys.known(&given) {
            format!("this route needs the {} key", role.name())
        } else {
            "wrong key".to_string()
        };
        return Err(ApiError::new(StatusCode::FORBIDDEN, message));
    }
    match cookie_key(headers) {
        // The dashboard's cookie carries the viewer key and opens viewer routes only.
        Some(given) if role == Role::Viewer && keys.grants(&given, Role::Viewer) => Ok(()),
        Some(_) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "the dashboard login opens viewer routes only; this route needs the {} key in x-license-key",
                role.name()
            ),
        )),
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing key: send it in x-license-key (or Authorization: Bearer)",
        )),
    }
}

/// Middleware for viewer routes.
pub async fn require_viewer(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    check(state.keys.as_deref(), req.headers(), Role::Viewer)?;
    Ok(next.run(req).await)
}

/// Middleware for admin routes.
pub async fn require_admin(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    check(state.keys.as_deref(), req.headers(), Role::Admin)?;
    Ok(next.run(req).await)
}

/// Middleware for the HTTP ingest route.
pub async fn require_ingest(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    check(state.keys.as_deref(), req.headers(), Role::Ingest)?;
    Ok(next.run(req).await)
}

/// Name of the cookie `POST /ui/login` sets.
pub const COOKIE: &str = "mirrord_usage_key";

/// The key from `x-license-key` or `Authorization: Bearer`.
fn header_key(headers: &HeaderMap) -> Option<Vec<u8>> {
    if let Some(v) = headers.get("x-license-key") {
        return Some(v.as_bytes().to_vec());
    }
    bearer(headers).map(|t| t.as_bytes().to_vec())
}

/// The token of `Authorization: Bearer <token>`, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// The key from the login cookie, if the request carries one.
fn cookie_key(headers: &HeaderMap) -> Option<Vec<u8>> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .map(|v| v.as_bytes().to_vec())
}

pub use crate::secret::constant_time_eq;

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys {
            viewer: Arc::from("v"),
            admin: Arc::from("a"),
            ingest: Some(Arc::from("i")),
        }
    }

    fn with(name: &str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
        h
    }

    fn status(r: Result<(), ApiError>) -> u16 {
        match r {
            Ok(()) => 200,
            Err(e) => e.status.as_u16(),
        }
    }

    #[test]
    fn each_key_opens_its_role_and_no_more() {
        let k = keys();
        let cases = [
            ("v", Role::Viewer, 200),
            ("v", Role::Ingest, 403),
            ("v", Role::Admin, 403),
            ("i", Role::Viewer, 403),
            ("i", Role::Ingest, 200),
            ("i", Role::Admin, 403),
            ("a", Role::Viewer, 200),
            ("a", Role::Ingest, 200),
            ("a", Role::Admin, 200),
            ("x", Role::Viewer, 403),
        ];
        for (key, role, want) in cases {
            let got = status(check(Some(&k), &with("x-license-key", key), role));
            assert_eq!(got, want, "key {key} for {role:?}");
            let got = status(check(
                Some(&k),
                &with("authorization", &format!("Bearer {key}")),
                role,
            ));
            assert_eq!(got, want, "bearer {key} for {role:?}");
        }
        assert_eq!(
            status(check(Some(&k), &HeaderMap::new(), Role::Viewer)),
            401
        );
        assert_eq!(status(check(None, &HeaderMap::new(), Role::Admin)), 200);
    }

    #[test]
    fn the_cookie_opens_viewer_routes_only() {
        let k = keys();
        let cookie = with("cookie", &format!("theme=dark; {COOKIE}=v"));
        assert_eq!(status(check(Some(&k), &cookie, Role::Viewer)), 200);
        assert_eq!(status(check(Some(&k), &cookie, Role::Admin)), 403);
        // Even an admin key in the cookie opens nothing beyond viewer routes.
        let admin_cookie = with("cookie", &format!("{COOKIE}=a"));
        assert_eq!(status(check(Some(&k), &admin_cookie, Role::Admin)), 403);
    }
}
