//! The operator's log lines, as tracing JSON with nested `fields`, for tests that feed sessions
//! over `POST /api/v1/ingest` or `ingest FILE`.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// An RFC 3339 timestamp with microseconds, as the operator writes it.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// One log line: `message` with `fields` at `t`.
pub fn line(t: DateTime<Utc>, message: &str, fields: Value) -> String {
    let mut f = fields;
    f["message"] = json!(message);
    json!({ "timestamp": ts(t), "level": "INFO", "fields": f, "target": "operator::session" })
        .to_string()
}

/// A closed session of `user` on `branch` (none: no branch field): Session Start, and Session
/// End `minutes` later at `end`, carrying `extra` fields.
pub fn closed_at(
    id: &str,
    user: &str,
    branch: Option<&str>,
    extra: Value,
    end: DateTime<Utc>,
    minutes: i64,
) -> Vec<String> {
    let start = end - chrono::Duration::minutes(minutes);
    let mut fields =
        json!({ "session_id": id, "client_user": user, "target": "deployment/api/container/main" });
    if let Some(b) = branch {
        fields["branch"] = json!(b);
    }
    let mut end_fields = fields.clone();
    end_fields["session_duration"] = json!(minutes * 60);
    if let (Value::Object(e), Value::Object(x)) = (&mut end_fields, extra) {
        e.extend(x);
    }
    vec![
        line(start, "Session Start", fields),
        line(end, "Session End", end_fields),
    ]
}

/// The same, ending `ago` minutes before now.
pub fn closed(
    id: &str,
    user: &str,
    branch: Option<&str>,
    extra: Value,
    ago: i64,
    minutes: i64,
) -> Vec<String> {
    closed_at(
        id,
        user,
        branch,
        extra,
        Utc::now() - chrono::Duration::minutes(ago),
        minutes,
    )
}
