//! fast: a borrowed, typed reader for the line shape nearly every operator line has — tracing
//! JSON with the event's fields nested under `fields`, each under its own documented name.
//!
//! It deserializes straight into a struct of `&str` slices of the line (no `serde_json::Value`
//! per field, no map of keys), and it accepts only what it can map exactly as the general path
//! ([`super::json`] + [`super::fields`]) does: only the known top-level keys and field names
//! (no aliases, no extra fields), each once, with the types the operator writes. Anything
//! else — another shape, a duplicate key, an unknown field, a number where a string belongs, an
//! out-of-range port, a timestamp that doesn't parse — returns `None` and the line goes the
//! general way, so ids, attributes and rejects are identical whichever path a line takes (a
//! unit test and `tests/parse_paths.rs` compare the two on every generated format).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use super::fields::{Mapped, apply_extra, apply_target, parse_rfc3339};
use crate::event::{EventKind, FUNCTIONAL_MODULE, OperatorEvent};

/// The top level of a nested tracing JSON line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line<'a> {
    #[serde(borrow)]
    timestamp: Cow<'a, str>,
    #[serde(borrow, default)]
    level: Option<Cow<'a, str>>,
    #[serde(borrow)]
    fields: Fields<'a>,
    /// tracing's module path.
    #[serde(borrow, default)]
    target: Option<Cow<'a, str>>,
}

/// The event's fields, under the names the operator writes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields<'a> {
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    session_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    client_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    client_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    client_hostname: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    client_user: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    client_cli_version: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    target: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    target_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    target_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    target_namespace: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    target_container: Option<Cow<'a, str>>,
    #[serde(default)]
    port: Option<i64>,
    #[serde(borrow, default)]
    http_filter: Option<Cow<'a, str>>,
    #[serde(default)]
    scale_down: Option<bool>,
    #[serde(default)]
    session_duration: Option<f64>,
    #[serde(borrow, default)]
    branch: Option<Cow<'a, str>>,
}

fn owned(value: Option<Cow<'_, str>>) -> Option<String> {
    value.map(Cow::into_owned)
}

/// Maps `text` when it has the common shape; `extra` are a wrapper's fields (CRI, docker),
/// applied after the event's own as the general path does. `Some` only for an event or a
/// skip; `None` means "use the general path".
pub fn nested_tracing_json(text: &str, extra: &[(String, Value)]) -> Option<Mapped> {
    let line: Line<'_> = serde_json::from_str(text).ok()?;
    let f = line.fields;
    let Some(message) = f.message else {
        return Some(Mapped::Skip);
    };
    let Some(kind) = EventKind::from_message(&message) else {
        return Some(Mapped::Skip);
    };
    let timestamp = parse_rfc3339(&line.timestamp).ok()?;
    if f.port.is_some_and(|p| !(0..=65535).contains(&p))
        || f.session_duration
            .is_some_and(|d| !(d.is_finite() && d >= 0.0))
    {
        return None;
    }
    let mut event = OperatorEvent::new(kind, timestamp);
    event.message = message.into_owned();
    event.level = owned(line.level);
    if let Some(module) = line.target.filter(|t| t != FUNCTIONAL_MODULE) {
        event
            .attributes
            .insert("tracing_target".into(), Value::String(module.into_owned()));
    }
    event.session_id = owned(f.session_id);
    event.client_id = owned(f.client_id);
    event.client_name = owned(f.client_name);
    event.client_hostname = owned(f.client_hostname);
    event.client_user = owned(f.client_user);
    event.client_cli_version = owned(f.client_cli_version);
    event.target_type = owned(f.target_type);
    event.target_name = owned(f.target_name);
    event.target_namespace = owned(f.target_namespace);
    event.target_container = owned(f.target_container);
    event.port = f.port.map(|p| p as i32);
    event.http_filter = owned(f.http_filter);
    event.scale_down = f.scale_down;
    event.session_duration = f.session_duration;
    event.branch = owned(f.branch);
    if let Some(target) = f.target {
        apply_target(&mut event, Value::String(target.into_owned())).ok()?;
    }
    for (key, value) in extra {
        apply_extra(&mut event, key.clone(), value.clone()).ok()?;
    }
    Some(Mapped::Event(Box::new(event.finish())))
}
