//! Browser hardening for the HTTP port: the Host allow-list that defeats DNS rebinding, and the
//! security headers every response carries.
//!
//! DNS rebinding points an attacker's name at this server's address, so a page on that name
//! can call the API from a victim's browser. The browser still sends the attacker's name in
//! `Host`, so answering only the names the server is known by stops it. IP literals are always
//! allowed (a page can't be served from an IP it doesn't own), as are `localhost` and the
//! cluster-internal `*.svc` / `*.svc.cluster.local` names, which no public DNS can hand out.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// Names always answered besides IP literals (a leading `*.` matches any subdomain).
const BUILT_IN: [&str; 5] = [
    "localhost",
    "*.localhost",
    "*.svc",
    "*.svc.cluster.local",
    "*.cluster.local",
];

/// The dashboard's Content-Security-Policy: its own scripts only, no framing, API calls to
/// this origin only. Inline styles are allowed for the chart library's positioning.
pub const DASHBOARD_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The `Host` names the server answers to.
#[derive(Debug, Clone)]
pub struct HostAllowList {
    /// `None` when `"*"` turned the check off.
    names: Option<Arc<Vec<String>>>,
}

impl HostAllowList {
    /// The built-in names plus `configured` (`[server] allowed_hosts`).
    pub fn new(configured: &[String]) -> HostAllowList {
        if configured.iter().any(|h| h.trim() == "*") {
            return HostAllowList { names: None };
        }
        let names = BUILT_IN
            .iter()
            .map(|s| s.to_string())
            .chain(configured.iter().map(|h| h.trim().to_ascii_lowercase()))
            .filter(|h| !h.is_empty())
            .collect();
        HostAllowList {
            names: Some(Arc::new(names)),
        }
    }

    /// Whether a request for `host` (as sent, maybe with a port) is answered.
    pub fn allows(&self, host: &str) -> bool {
        let Some(names) = &self.names else {
            return true;
        };
        let name = strip_port(host).trim_end_matches('.').to_ascii_lowercase();
        if name.parse::<std::net::IpAddr>().is_ok() {
            return true;
        }
        names
            .iter()
            .any(|pattern| match pattern.strip_prefix("*.") {
                Some(parent) => name
                    .strip_suffix(parent)
                    .is_some_and(|sub| sub.ends_with('.') && sub.len() > 1),
                None => *pattern == name,
            })
    }
}

/// `example.com:8050` → `example.com`; `[::1]:8050` → `::1`.
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Refuses requests whose `Host` (or HTTP/2 authority) is not allowed. A request without one
/// (HTTP/1.0 tools) passes: a browser always sends it.
pub async fn check_host(hosts: HostAllowList, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    match host {
        Some(h) if !hosts.allows(&h) => ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "host `{h}` is not one this server answers to; add it to [server] allowed_hosts"
            ),
        )
        .into_response(),
        _ => next.run(req).await,
    }
}

/// Adds the hardening headers: `nosniff`, no referrer, no framing (unless the response set its
/// own CSP, like the embeddable Jira panel), the dashboard's CSP on HTML, and HSTS over TLS.
pub async fn harden(tls: bool, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        let html = h
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"));
        let csp = if html {
            DASHBOARD_CSP
        } else {
            "default-src 'none'; frame-ancestors 'none'"
        };
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        );
    }
    if tls {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_built_in_configured_and_foreign() {
        let hosts = HostAllowList::new(&["usage.example.com".into(), "*.corp.internal".into()]);
        for ok in [
            "localhost",
            "localhost:8050",
            "LOCALHOST.",
            "127.0.0.1:8050",
            "10.2.3.4",
            "[::1]:8050",
            "app.localhost",
            "mirrord-usage.monitoring.svc:8050",
            "mirrord-usage.monitoring.svc.cluster.local",
            "usage.example.com",
            "a.b.corp.internal:443",
        ] {
            assert!(hosts.allows(ok), "{ok} should be allowed");
        }
        for bad in [
            "evil.example",
            "usage.example.com.evil.example",
            "corp.internal",
            "localhost.evil.example",
            "svc",
            "xsvc",
            "example.com",
        ] {
            assert!(!hosts.allows(bad), "{bad} should be refused");
        }
        assert!(HostAllowList::new(&["*".into()]).allows("evil.example"));
    }
}
