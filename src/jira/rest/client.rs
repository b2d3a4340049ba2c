//! The HTTP side of the REST sink: one client per Jira site, signing each request (basic auth
//! on Cloud, bearer on Data Center) and sorting each answer into what the caller does next.
//!
//! - 2xx: [`Outcome::Done`], with the JSON body when there is one.
//! - 429, 5xx, 401, 408, a timeout or a lost connection: [`Outcome::Retry`], with the wait
//!   Jira asked for in `Retry-After` (seconds or an HTTP date) when it gave one. 401 is
//!   retried because it is not about one issue: the writes stay pending until a new token
//!   (read at start, so after a restart) fixes it for all.
//! - any other 4xx (404 unknown issue, 400 field error, 403 no permission):
//!   [`Outcome::Rejected`] with Jira's own error text (`errorMessages` and `errors`), which the
//!   outbox records once instead of retrying forever.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use super::{Auth, Deployment, JiraRestConfig};
use crate::jira::delivery::{describe, http_client};
use crate::jira::{JiraConfig, JiraError};

/// The longest `Retry-After` honoured as asked; a longer one is capped (a day), so a bad
/// header cannot park the sink for years.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Most of an error body kept when it is not Jira's JSON.
const MAX_ERROR_TEXT: usize = 300;

/// What a request came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// 2xx; the body as JSON (`Null` when empty or not JSON).
    Done(Value),
    /// Try again later; `after` is Jira's `Retry-After` when it sent one.
    Retry {
        /// The HTTP status; `None` for a timeout or a lost connection.
        status: Option<u16>,
        error: String,
        after: Option<Duration>,
    },
    /// Jira refused this request for good (until something changes).
    Rejected { status: u16, error: String },
}

/// A signed client for one Jira site and API version.
#[derive(Debug, Clone)]
pub struct Client {
    base: Url,
    deployment: Deployment,
    authorization: HeaderValue,
    http: reqwest::Client,
}

impl Client {
    /// The client for `[jira.rest]`, with `[jira]`'s CA file and timeout.
    pub fn new(jira: &JiraConfig, rest: &JiraRestConfig) -> Result<Client, JiraError> {
        let mut base = rest.url()?;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let mut authorization = HeaderValue::from_str(&authorization(&rest.auth()?))
            .map_err(|_| super::rest_error("api_token", "must be printable ASCII"))?;
        authorization.set_sensitive(true);
        Ok(Client {
            base,
            deployment: rest.deployment,
            authorization,
            http: http_client(jira, "rest.base_url")?,
        })
    }

    /// Cloud or Data Center.
    pub fn deployment(&self) -> Deployment {
        self.deployment
    }

    /// `base/rest/api/{v}/{path}`, with `query` pairs; `path` segments must be URL-safe (issue
    /// keys and ids are checked before they get here).
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> Url {
        let v = self.deployment.api_version();
        let mut url = self
            .base
            .join(&format!("rest/api/{v}/{path}"))
            .unwrap_or_else(|_| self.base.clone());
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Sends one request (JSON body when given) and sorts the answer.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Outcome {
        let mut req = self
            .http
            .request(method, self.url(path, query))
            .header(AUTHORIZATION, self.authorization.clone())
            .header("Accept", "application/json");
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                return Outcome::Retry {
                    status: None,
                    error: describe(e.without_url()),
                    after: None,
                };
            }
        };
        let status = resp.status();
        let after = retry_after(resp.headers(), Utc::now());
        let text = resp.text().await.unwrap_or_default();
        classify(status, after, &text)
    }
}

fn authorization(auth: &Auth) -> String {
    use base64::Engine;
    match auth {
        Auth::Basic { email, token } => format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{email}:{token}"))
        ),
        Auth::Bearer { token } => format!("Bearer {token}"),
    }
}

/// Sorts a status and body into an [`Outcome`].
pub fn classify(status: StatusCode, after: Option<Duration>, text: &str) -> Outcome {
    if status.is_success() {
        return Outcome::Done(serde_json::from_str(text).unwrap_or(Value::Null));
    }
    let error = error_text(status, text);
    let retry = status.is_server_error()
        || matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::UNAUTHORIZED | StatusCode::REQUEST_TIMEOUT
        );
    if retry {
        Outcome::Retry {
            status: Some(status.as_u16()),
            error,
            after,
        }
    } else {
        Outcome::Rejected {
            status: status.as_u16(),
            error,
        }
    }
}

/// `HTTP 400 Bad Request: customfield_10051: Operation value must be a number.` from Jira's
/// `{"errorMessages": [...], "errors": {field: message}}`, or the start of a body that is not.
pub fn error_text(status: StatusCode, body: &str) -> String {
    let mut parts = Vec::new();
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        if let Some(messages) = v["errorMessages"].as_array() {
            parts.extend(
                messages
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string),
            );
        }
        if let Some(errors) = v["errors"].as_object() {
            for (field, message) in errors {
                let m = message
                    .as_str()
                    .map_or_else(|| message.to_string(), str::to_string);
                parts.push(format!("{field}: {m}"));
            }
        }
        if parts.is_empty()
            && let Some(m) = v["message"].as_str()
        {
            parts.push(m.to_string());
        }
    } else if !body.trim().is_empty() {
        let t: String = body.trim().chars().take(MAX_ERROR_TEXT).collect();
        parts.push(t.split_whitespace().collect::<Vec<_>>().join(" "));
    }
    if parts.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {}", parts.join("; "))
    }
}

/// `Retry-After` as a wait from `now`: delay-seconds or an HTTP date; `None` when absent or
/// unreadable. Capped at a day.
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = if let Ok(seconds) = value.parse::<u64>() {
        Duration::from_secs(seconds)
    } else {
        let at = DateTime::parse_from_rfc2822(value)
            .ok()?
            .with_timezone(&Utc);
        (at - now).to_std().unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
        assert_eq!(
            retry_after(&headers("7"), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(&headers("Mon, 05 Jan 2026 09:00:30 GMT"), now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after(&headers("Mon, 05 Jan 2026 08:00:00 GMT"), now),
            Some(Duration::ZERO),
            "a date in the past: now"
        );
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
        assert_eq!(
            retry_after(&headers("99999999"), now),
            Some(MAX_RETRY_AFTER)
        );
    }

    #[test]
    fn answers_are_sorted_and_jira_errors_quoted() {
        let body = r#"{"errorMessages":[],"errors":{"customfield_10051":"Operation value must be a number."}}"#;
        assert_eq!(
            classify(StatusCode::BAD_REQUEST, None, body),
            Outcome::Rejected {
                status: 400,
                error: "HTTP 400 Bad Request: customfield_10051: Operation value must be a number."
                    .into()
            }
        );
        let missing = r#"{"errorMessages":["Issue does not exist or you do not have permission to see it."],"errors":{}}"#;
        let Outcome::Rejected { status: 404, error } =
            classify(StatusCode::NOT_FOUND, None, missing)
        else {
            panic!("404 is rejected")
        };
        assert!(error.ends_with("Issue does not exist or you do not have permission to see it."));
        let wait = Some(Duration::from_secs(3));
        assert!(matches!(
            classify(StatusCode::TOO_MANY_REQUESTS, wait, ""),
            Outcome::Retry { after, .. } if after == wait
        ));
        assert!(matches!(
            classify(StatusCode::BAD_GATEWAY, None, "<html>bad gateway</html>"),
            Outcome::Retry { .. }
        ));
        assert_eq!(
            classify(StatusCode::NO_CONTENT, None, ""),
            Outcome::Done(Value::Null)
        );
    }
}
