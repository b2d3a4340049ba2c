//! Field mapping shared by every format: a list of `(key, value)` pairs, whatever wrapper they
//! came in, becomes one [`OperatorEvent`] — or a skip (not a functional line) or a reject
//! (a functional line whose fields have the wrong types).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::event::{EventKind, FUNCTIONAL_MODULE, OperatorEvent, TargetParts};

/// What became of one record.
#[derive(Debug)]
pub enum Mapped {
    /// A functional event.
    Event(Box<OperatorEvent>),
    /// A line that is valid but not a functional event (`Loaded license!`, a WARN, ...).
    Skip,
    /// A line that claims to be a functional event but cannot be read; the reason says why.
    Reject(String),
}

/// Everything a format parser knows about one record before mapping: the envelope fields
/// (timestamp, level, tracing's module target) and the event's own fields in order.
#[derive(Debug, Default)]
pub struct RawFields {
    pub timestamp: Option<Value>,
    pub level: Option<String>,
    /// tracing's `target` (a Rust module path), kept as the `tracing_target` attribute unless
    /// it is the functional events' own module ([`FUNCTIONAL_MODULE`]).
    pub module_target: Option<String>,
    /// Event fields in the order they were written, duplicates included.
    pub fields: Vec<(String, Value)>,
    /// Fields added by a transport (Kubernetes metadata, resource attributes, ...).
    pub extra: Vec<(String, Value)>,
}

impl RawFields {
    /// Maps the collected fields into an event.
    pub fn map(self) -> Mapped {
        let Some(message) = self.message() else {
            return Mapped::Skip;
        };
        let Some(kind) = EventKind::from_message(&message) else {
            return Mapped::Skip;
        };
        let timestamp = match self.timestamp.as_ref().map(parse_timestamp) {
            Some(Ok(ts)) => ts,
            Some(Err(e)) => return Mapped::Reject(e),
            None => return Mapped::Reject("functional event without a timestamp".into()),
        };
        let mut event = OperatorEvent::new(kind, timestamp);
        event.message = message;
        event.level = self.level;
        if let Some(t) = self.module_target.filter(|t| t != FUNCTIONAL_MODULE) {
            event
                .attributes
                .insert("tracing_target".into(), Value::String(t));
        }
        for (key, value) in self.fields {
            if key == "message" {
                continue;
            }
            if let Err(e) = apply_field(&mut event, &key, value) {
                return Mapped::Reject(e);
            }
        }
        for (key, value) in self.extra {
            if let Err(e) = apply_extra(&mut event, key, value) {
                return Mapped::Reject(e);
            }
        }
        Mapped::Event(Box::new(event.finish()))
    }

    fn message(&self) -> Option<String> {
        self.fields
            .iter()
            .find(|(k, _)| k == "message" || k == "msg")
            .and_then(|(_, v)| v.as_str().map(str::to_string))
    }
}

/// Parses an RFC 3339 timestamp string, or a number of seconds / nanoseconds since the epoch.
pub fn parse_timestamp(value: &Value) -> Result<DateTime<Utc>, String> {
    match value {
        Value::String(s) => parse_rfc3339(s),
        Value::Number(n) => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            let nanos = if f > 1e17 { f } else { f * 1e9 };
            if !nanos.is_finite() || nanos < 0.0 {
                return Err(format!("field `timestamp`: {n} is not a time"));
            }
            Ok(DateTime::from_timestamp_nanos(nanos as i64))
        }
        other => Err(format!("field `timestamp`: expected a time, got {other}")),
    }
}

/// Parses an RFC 3339 timestamp string.
pub fn parse_rfc3339(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("field `timestamp`: {e} in {s:?}"))
}

/// A string view of a scalar: strings as-is, numbers and bools printed. Objects and arrays are
/// not scalars.
fn scalar_string(key: &str, value: Value) -> Result<Option<String>, String> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        other => Err(format!(
            "field `{key}`: expected a string, got {}",
            excerpt_value(&other)
        )),
    }
}

fn excerpt_value(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 60 {
        format!("{}…", &s[..s.floor_char_boundary(60)])
    } else {
        s
    }
}

fn parse_port(value: Value) -> Result<Option<i32>, String> {
    let port = match &value {
        Value::Null => return Ok(None),
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    match port {
        Some(p) if (0..=65535).contains(&p) => Ok(Some(p as i32)),
        _ => Err(format!(
            "field `port`: expected an integer 0..65535, got {}",
            excerpt_value(&value)
        )),
    }
}

fn parse_bool(key: &str, value: Value) -> Result<Option<bool>, String> {
    match &value {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        _ => Err(format!(
            "field `{key}`: expected true or false, got {}",
            excerpt_value(&value)
        )),
    }
}

fn parse_duration(value: Value) -> Result<Option<f64>, String> {
    let secs = match &value {
        Value::Null => return Ok(None),
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().trim_end_matches('s').parse::<f64>().ok(),
        _ => None,
    };
    match secs {
        Some(d) if d.is_finite() && d >= 0.0 => Ok(Some(d)),
        _ => Err(format!(
            "field `session_duration`: expected a non-negative number of seconds, got {}",
            excerpt_value(&value)
        )),
    }
}

/// Applies one event field: typed columns where one exists, `attributes` otherwise.
fn apply_field(event: &mut OperatorEvent, key: &str, value: Value) -> Result<(), String> {
    let slot: &mut Option<String> = match key {
        "port" => {
            event.port = parse_port(value)?;
            return Ok(());
        }
        "scale_down" => {
            event.scale_down = parse_bool(key, value)?;
            return Ok(());
        }
        "ci" | "is_ci" | "mirrord_ci" => {
            event.ci = parse_bool(key, value)?;
            return Ok(());
        }
        "session_duration" => {
            event.session_duration = parse_duration(value)?;
            return Ok(());
        }
        "target" => return apply_target(event, value),
        "session_id" => &mut event.session_id,
        "client_id" => &mut event.client_id,
        "client_name" => &mut event.client_name,
        "client_hostname" => &mut event.client_hostname,
        "client_user" => &mut event.client_user,
        "client_cli_version" | "cli_version" => &mut event.client_cli_version,
        "target_type" => &mut event.target_type,
        "target_name" => &mut event.target_name,
        "target_namespace" | "namespace" => &mut event.target_namespace,
        "target_container" | "container" => &mut event.target_container,
        "http_filter" => &mut event.http_filter,
        "branch" | "branch_name" | "git_branch" => &mut event.branch,
        "trace_id" | "traceId" => &mut event.trace_id,
        "span_id" | "spanId" => &mut event.span_id,
        "operator_version" | "service.version" => &mut event.operator_version,
        "cluster" | "k8s.cluster.name" => &mut event.cluster,
        _ => {
            event.attributes.insert(key.to_string(), value);
            return Ok(());
        }
    };
    if let Some(s) = scalar_string(key, value)? {
        *slot = Some(s);
    }
    Ok(())
}

/// The `target` field: a mirrord target path, or — in flattened tracing JSON — tracing's own
/// module path that collides with it. The module path is kept as an attribute, never as a target.
pub(super) fn apply_target(event: &mut OperatorEvent, value: Value) -> Result<(), String> {
    let Some(raw) = scalar_string("target", value)? else {
        return Ok(());
    };
    if TargetParts::parse(&raw).is_some() {
        event.target = Some(raw);
    } else if TargetParts::is_module_path(&raw) {
        if raw != FUNCTIONAL_MODULE {
            event
                .attributes
                .entry("tracing_target")
                .or_insert(Value::String(raw));
        }
    } else {
        event.target = Some(raw);
    }
    Ok(())
}

/// Transport fields: typed where they name an event column (trace ids, operator version,
/// cluster), otherwise attributes (Kubernetes metadata, resource attributes).
pub(super) fn apply_extra(
    event: &mut OperatorEvent,
    key: String,
    value: Value,
) -> Result<(), String> {
    match key.as_str() {
        "trace_id" | "span_id" | "operator_version" | "cluster" | "service.version"
        | "k8s.cluster.name" => apply_field(event, &key, value),
        _ => {
            event.attributes.insert(key, value);
            Ok(())
        }
    }
}

/// Turns a JSON object into ordered pairs (no duplicates possible here).
pub fn object_pairs(map: Map<String, Value>) -> Vec<(String, Value)> {
    map.into_iter().collect()
}
