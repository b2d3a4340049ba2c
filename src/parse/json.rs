//! JSON line formats: tracing JSON (fields nested under `fields`, or flattened with the
//! colliding `target` key), fluentd records (the operator's JSON still a string in `log`, or
//! already unpacked next to `kubernetes` metadata) and docker json-file wrappers.
//!
//! The top-level object is read as an ordered list of pairs so that duplicate keys survive:
//! tracing's `flatten_event` writes the event's mirrord `target` and then its own module-path
//! `target` into the same object, and a plain map would keep only the last.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use super::fields::RawFields;

/// A JSON object with its keys in order, duplicates kept.
#[derive(Debug, Default)]
pub struct OrderedObject(pub Vec<(String, Value)>);

impl<'de> Deserialize<'de> for OrderedObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OrderedObject;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedObject, A::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    pairs.push((k, v));
                }
                Ok(OrderedObject(pairs))
            }
        }
        d.deserialize_map(V)
    }
}

impl OrderedObject {
    /// The first value under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Removes and returns the first value under `key`.
    pub fn take(&mut self, key: &str) -> Option<Value> {
        let i = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(i).1)
    }

    fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }
}

/// What a JSON object is, judged by its keys.
#[derive(Debug, PartialEq, Eq)]
pub enum JsonShape {
    /// An OTLP/JSON `ExportLogsServiceRequest`.
    Otlp,
    /// docker json-file: `log`, `stream` and `time`, nothing else.
    Docker,
    /// A fluentd/fluent-bit record whose `log` string still holds the operator's line.
    FluentdLog,
    /// tracing JSON with event fields under `fields` (possibly unpacked by fluentd).
    Nested,
    /// tracing JSON with `flatten_event(true)`.
    Flat,
}

/// Keys a log shipper adds around a record; never event fields.
const TRANSPORT_KEYS: [&str; 9] = [
    "kubernetes",
    "stream",
    "logtag",
    "time",
    "date",
    "tag",
    "_p",
    "@timestamp",
    "docker",
];

impl OrderedObject {
    /// Classifies the object.
    pub fn shape(&self) -> JsonShape {
        if self.has("resourceLogs") || self.has("resource_logs") {
            return JsonShape::Otlp;
        }
        if matches!(self.get("log"), Some(Value::String(_))) {
            // docker's json-file driver writes all three on every line; a shipper's record
            // with only `log` (and `stream`) is a complete line, not a docker partial.
            let docker_only = self.has("time")
                && self
                    .0
                    .iter()
                    .all(|(k, _)| matches!(k.as_str(), "log" | "stream" | "time"));
            return if docker_only {
                JsonShape::Docker
            } else {
                JsonShape::FluentdLog
            };
        }
        if matches!(self.get("fields"), Some(Value::Object(_))) {
            JsonShape::Nested
        } else {
            JsonShape::Flat
        }
    }

    /// True when a shipper's keys are present (the record came through fluentd/fluent-bit).
    pub fn has_transport_keys(&self) -> bool {
        self.0
            .iter()
            .any(|(k, _)| TRANSPORT_KEYS.contains(&k.as_str()))
    }

    /// Collects a tracing JSON object (nested or flat) into [`RawFields`]. Shipper keys become
    /// attributes, tracing's own `target`, `span` and `spans` are kept apart from event fields.
    pub fn into_tracing_fields(self, nested: bool) -> RawFields {
        let mut raw = RawFields::default();
        for (key, value) in self.0 {
            match key.as_str() {
                "timestamp" if raw.timestamp.is_none() => raw.timestamp = Some(value),
                "level" => raw.level = value.as_str().map(str::to_string),
                "fields" if nested => {
                    if let Value::Object(map) = value {
                        raw.fields.extend(map);
                    }
                }
                "target" if nested => raw.module_target = value.as_str().map(str::to_string),
                "span" | "spans" | "threadName" | "threadId" | "filename" | "line_number" => {
                    raw.extra.push((key, value))
                }
                k if TRANSPORT_KEYS.contains(&k) => {
                    if k == "time" || k == "@timestamp" {
                        // Shipper's read time; the event's own timestamp wins, this is a fallback.
                        raw.extra
                            .push((format!("log_{}", k.trim_start_matches('@')), value));
                    } else {
                        raw.extra.push((key, value));
                    }
                }
                _ => raw.fields.push((key, value)),
            }
        }
        if raw.timestamp.is_none() {
            raw.timestamp = raw
                .extra
                .iter()
                .find(|(k, _)| k == "log_time" || k == "log_timestamp")
                .map(|(_, v)| v.clone());
        }
        raw
    }
}
