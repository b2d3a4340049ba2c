//! The per-issue panel: one small, self-contained HTML page (`GET /jira/panel/{KEY}`) with the
//! issue's sessions, total time, users and last use, for a Jira app or any page to embed in an
//! iframe.
//!
//! No scripts, no external assets: its only stylesheet is inline and allowed by its hash in the
//! Content-Security-Policy, so the default policy can forbid everything else. Who may embed it
//! is the CSP `frame-ancestors` directive, from `[jira] frame_ancestors`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use super::{JiraConfig, JiraError, config_error};
use crate::analytics::reports::JiraMetric;

/// The panel's whole stylesheet; light and dark to match the host page.
const STYLE: &str = "\
:root{color-scheme:light dark;--fg:#172b4d;--muted:#626f86;--line:#dcdfe4}\
@media (prefers-color-scheme:dark){:root{--fg:#dee4ea;--muted:#9fadbc;--line:#38414a}}\
*{box-sizing:border-box}\
body{margin:0;padding:8px;font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;color:var(--fg);background:transparent}\
h1{margin:0 0 8px;font-size:12px;font-weight:600;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}\
dl{display:grid;grid-template-columns:repeat(auto-fit,minmax(90px,1fr));gap:8px;margin:0}\
dl div{border:1px solid var(--line);border-radius:4px;padding:6px 8px}\
dt{font-size:12px;color:var(--muted)}\
dd{margin:0;font-size:18px;font-weight:600;white-space:nowrap}\
p{margin:0;color:var(--muted)}";

/// Checks `frame_ancestors` and `panel_csp` so that the header they make is valid.
pub fn check(config: &JiraConfig) -> Result<(), JiraError> {
    for source in &config.frame_ancestors {
        let ok = !source.is_empty()
            && source
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b';' && b != b',');
        if !ok {
            let message =
                format!("{source:?} is not a CSP source (e.g. 'self' or https://*.atlassian.net)");
            return Err(config_error("frame_ancestors", message));
        }
    }
    if config
        .panel_csp
        .bytes()
        .any(|b| b.is_ascii_control() || !b.is_ascii())
    {
        return Err(config_error(
            "panel_csp",
            "must be one line of printable ASCII",
        ));
    }
    Ok(())
}

/// The `Content-Security-Policy` of the panel: `panel_csp`, plus `style-src` with the hash of
/// the panel's stylesheet and `frame-ancestors` from the config, unless `panel_csp` sets them.
pub fn content_security_policy(config: &JiraConfig) -> String {
    let mut parts: Vec<String> = config
        .panel_csp
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    let sets = |parts: &[String], directive: &str| {
        parts.iter().any(|p| {
            p.split_whitespace()
                .next()
                .is_some_and(|d| d.eq_ignore_ascii_case(directive))
        })
    };
    if !sets(&parts, "style-src") {
        let hash = STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
        parts.push(format!("style-src 'sha256-{hash}'"));
    }
    if !sets(&parts, "frame-ancestors") {
        let sources = if config.frame_ancestors.is_empty() {
            "'none'".to_string()
        } else {
            config.frame_ancestors.join(" ")
        };
        parts.push(format!("frame-ancestors {sources}"));
    }
    parts.join("; ")
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `3 h 25 min`, `12 min`, `40 s`.
pub fn human_duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

fn tile(name: &str, label: &str, value: &str, title: &str) -> String {
    format!(
        "<div><dt>{label}</dt><dd data-metric=\"{name}\" title=\"{}\">{value}</dd></div>",
        escape(title)
    )
}

fn last_used(at: Option<&str>) -> String {
    match at {
        // RFC 3339 `2026-01-02T10:00:00Z` → `2026-01-02 10:00 UTC`.
        Some(t) if t.len() >= 16 => {
            let shown = format!("{} {} UTC", &t[..10], &t[11..16]);
            format!("<time datetime=\"{}\">{}</time>", escape(t), escape(&shown))
        }
        _ => "never".into(),
    }
}

/// The panel for issue `key` (already checked to be a key) with its all-time totals, if any.
pub fn render(key: &str, metric: Option<&JiraMetric>) -> String {
    let key = escape(key);
    let body = match metric {
        Some(m) => {
            let tiles = [
                tile(
                    "sessions",
                    "Sessions",
                    &m.sessions.to_string(),
                    &format!("{} exec, {} CI", m.exec_sessions, m.ci_sessions),
                ),
                tile(
                    "total-time",
                    "Total time",
                    &human_duration(m.total_session_time_seconds),
                    &format!("{:.0} seconds", m.total_session_time_seconds),
                ),
                tile(
                    "users",
                    "Users",
                    &m.unique_users.to_string(),
                    "distinct users",
                ),
                tile(
                    "last-used",
                    "Last used",
                    &last_used(m.last_used.as_deref()),
                    "latest session activity",
                ),
            ];
            format!("<dl>{}</dl>", tiles.concat())
        }
        None => "<p data-metric=\"none\">No mirrord sessions for this issue yet.</p>".into(),
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>mirrord · {key}</title><style>{STYLE}</style></head>\
         <body><main><h1>mirrord usage · {key}</h1>{body}</main></body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_person_would_say_them() {
        assert_eq!(human_duration(40.4), "40 s");
        assert_eq!(human_duration(720.0), "12 min");
        assert_eq!(human_duration(12_300.0), "3 h 25 min");
    }

    #[test]
    fn the_policy_adds_the_style_hash_and_frame_ancestors_unless_set() {
        let c = JiraConfig::default();
        let csp = content_security_policy(&c);
        assert!(csp.starts_with("default-src 'none'"), "{csp}");
        assert!(
            csp.contains("style-src 'sha256-")
                && csp.ends_with(
                    "frame-ancestors 'self' https://*.atlassian.net https://*.atlassian-dev.net"
                ),
            "{csp}"
        );
        let own = JiraConfig {
            panel_csp: "default-src 'self'; frame-ancestors *".into(),
            ..Default::default()
        };
        assert_eq!(
            content_security_policy(&own)
                .matches("frame-ancestors")
                .count(),
            1
        );
        let bad = JiraConfig {
            frame_ancestors: vec!["https://a; script-src *".into()],
            ..Default::default()
        };
        assert!(check(&bad).is_err());
    }
}
