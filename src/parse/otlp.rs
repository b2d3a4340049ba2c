//! OTLP log records → [`RawFields`]. Two inputs share one mapping: OTLP/JSON (one
//! `ExportLogsServiceRequest` per line, as the Collector's file exporter writes it, or an
//! OTLP/HTTP JSON body) and the protobuf types from `opentelemetry-proto` (OTLP/gRPC and
//! OTLP/HTTP protobuf).
//!
//! The JSON reader is as lenient as the reference Collector: lowerCamelCase and snake_case
//! keys, int64 as strings or numbers, enum names or numbers, hex trace/span ids. It is written
//! over `serde_json::Value` on purpose: `opentelemetry-proto`'s serde silently yields zero
//! records for snake_case bodies, and a 200 that stored nothing is data loss.
//!
//! Mapping: the body (a string) is the message unless a `message` attribute exists; record
//! attributes are event fields; resource `service.version` is the operator version,
//! `k8s.cluster.name` the cluster, other resource attributes are kept as `resource.<key>`.

use base64::Engine;
use chrono::{DateTime, SecondsFormat};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use serde_json::{Map, Value};

use super::fields::RawFields;

/// One OTLP log record's contents, from either JSON or protobuf.
struct Record {
    time_unix_nano: u64,
    observed_time_unix_nano: u64,
    severity_text: Option<String>,
    body: Value,
    attributes: Vec<(String, Value)>,
    trace_id: Option<String>,
    span_id: Option<String>,
}

/// Converts a record with its scope and resource into [`RawFields`].
fn record_fields(rec: Record, scope: Option<&str>, resource: &[(String, Value)]) -> RawFields {
    let nanos = if rec.time_unix_nano != 0 {
        rec.time_unix_nano
    } else {
        rec.observed_time_unix_nano
    };
    let mut raw = RawFields {
        timestamp: (nanos != 0).then(|| {
            Value::String(
                DateTime::from_timestamp_nanos(nanos as i64)
                    .to_rfc3339_opts(SecondsFormat::Nanos, true),
            )
        }),
        level: rec.severity_text.filter(|s| !s.is_empty()),
        module_target: scope.filter(|s| !s.is_empty()).map(str::to_string),
        ..Default::default()
    };
    let has_message_attr = rec.attributes.iter().any(|(k, _)| k == "message");
    match rec.body {
        Value::Null => {}
        Value::Object(map) => raw.fields.extend(map),
        Value::String(s) if !has_message_attr => {
            raw.fields.push(("message".into(), Value::String(s)))
        }
        other => raw.extra.push(("body".into(), other)),
    }
    raw.fields.extend(rec.attributes);
    for (k, v) in [("trace_id", rec.trace_id), ("span_id", rec.span_id)] {
        if let Some(id) = v.filter(|s| !s.is_empty() && s.bytes().any(|b| b != b'0')) {
            raw.extra
                .push((k.into(), Value::String(id.to_ascii_lowercase())));
        }
    }
    for (k, v) in resource {
        let key = match k.as_str() {
            "service.version" | "k8s.cluster.name" => k.clone(),
            _ => format!("resource.{k}"),
        };
        raw.extra.push((key, v.clone()));
    }
    raw
}

// ---------------------------------------------------------------- OTLP/JSON

fn field<'a>(obj: &'a Map<String, Value>, camel: &str, snake: &str) -> Option<&'a Value> {
    obj.get(camel).or_else(|| obj.get(snake))
}

fn list<'a>(obj: &'a Map<String, Value>, camel: &str, snake: &str) -> Result<&'a [Value], String> {
    match field(obj, camel, snake) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(format!("OTLP/JSON: `{camel}` must be an array")),
    }
}

fn as_object<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>, String> {
    v.as_object()
        .ok_or_else(|| format!("OTLP/JSON: {what} must be an object"))
}

fn json_u64(v: Option<&Value>) -> Result<u64, String> {
    match v {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n.as_u64().ok_or_else(|| format!("OTLP/JSON: bad time {n}")),
        Some(Value::String(s)) if s.is_empty() => Ok(0),
        Some(Value::String(s)) => s.parse().map_err(|_| format!("OTLP/JSON: bad time {s:?}")),
        Some(other) => Err(format!("OTLP/JSON: bad time {other}")),
    }
}

fn json_any_value(v: &Value) -> Value {
    let Some(obj) = v.as_object() else {
        return Value::Null;
    };
    if let Some(s) = field(obj, "stringValue", "string_value") {
        return s.clone();
    }
    if let Some(b) = field(obj, "boolValue", "bool_value") {
        return b.clone();
    }
    if let Some(i) = field(obj, "intValue", "int_value") {
        return match i {
            Value::String(s) => s
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or(Value::String(s.clone())),
            other => other.clone(),
        };
    }
    if let Some(d) = field(obj, "doubleValue", "double_value") {
        return match d {
            Value::String(s) => s
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .unwrap_or(Value::String(s.clone())),
            other => other.clone(),
        };
    }
    if let Some(Value::Object(a)) = field(obj, "arrayValue", "array_value") {
        let values = a.get("values").and_then(Value::as_array);
        return Value::Array(values.into_iter().flatten().map(json_any_value).collect());
    }
    if let Some(Value::Object(kv)) = field(obj, "kvlistValue", "kvlist_value") {
        let values = kv.get("values").and_then(Value::as_array);
        return Value::Object(
            json_key_values(values.map(Vec::as_slice).unwrap_or(&[]))
                .into_iter()
                .collect(),
        );
    }
    if let Some(b) = field(obj, "bytesValue", "bytes_value") {
        return b.clone();
    }
    Value::Null
}

fn json_key_values(values: &[Value]) -> Vec<(String, Value)> {
    values
        .iter()
        .filter_map(|kv| {
            let obj = kv.as_object()?;
            let key = obj.get("key")?.as_str()?.to_string();
            Some((
                key,
                obj.get("value").map(json_any_value).unwrap_or(Value::Null),
            ))
        })
        .collect()
}

fn json_string(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_string)
}

fn json_record(v: &Value) -> Result<Record, String> {
    let obj = as_object(v, "a log record")?;
    Ok(Record {
        time_unix_nano: json_u64(field(obj, "timeUnixNano", "time_unix_nano"))?,
        observed_time_unix_nano: json_u64(field(
            obj,
            "observedTimeUnixNano",
            "observed_time_unix_nano",
        ))?,
        severity_text: json_string(field(obj, "severityText", "severity_text")),
        body: field(obj, "body", "body")
            .map(json_any_value)
            .unwrap_or(Value::Null),
        attributes: json_key_values(list(obj, "attributes", "attributes")?),
        trace_id: json_string(field(obj, "traceId", "trace_id")),
        span_id: json_string(field(obj, "spanId", "span_id")),
    })
}

/// Reads an OTLP/JSON `ExportLogsServiceRequest` into one [`RawFields`] per log record.
/// A structural error rejects the whole request; per-record problems surface later, per record.
pub fn json_request(request: &Value) -> Result<Vec<RawFields>, String> {
    let root = as_object(request, "the request")?;
    let mut out = Vec::new();
    for rl in list(root, "resourceLogs", "resource_logs")? {
        let rl = as_object(rl, "resourceLogs[]")?;
        let resource = match field(rl, "resource", "resource") {
            Some(Value::Object(r)) => json_key_values(list(r, "attributes", "attributes")?),
            _ => Vec::new(),
        };
        let mut scopes = list(rl, "scopeLogs", "scope_logs")?;
        if scopes.is_empty() {
            scopes = list(
                rl,
                "instrumentationLibraryLogs",
                "instrumentation_library_logs",
            )?;
        }
        for sl in scopes {
            let sl = as_object(sl, "scopeLogs[]")?;
            let scope = field(sl, "scope", "scope")
                .or_else(|| field(sl, "instrumentationLibrary", "instrumentation_library"))
                .and_then(|s| s.get("name"))
                .and_then(Value::as_str);
            for rec in list(sl, "logRecords", "log_records")? {
                out.push(record_fields(json_record(rec)?, scope, &resource));
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- protobuf

fn proto_any_value(v: Option<&AnyValue>) -> Value {
    use any_value::Value as V;
    match v.and_then(|v| v.value.as_ref()) {
        None => Value::Null,
        Some(V::StringValue(s)) => Value::String(s.clone()),
        Some(V::BoolValue(b)) => Value::Bool(*b),
        Some(V::IntValue(i)) => Value::from(*i),
        Some(V::DoubleValue(d)) => serde_json::Number::from_f64(*d)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(d.to_string())),
        Some(V::ArrayValue(a)) => {
            Value::Array(a.values.iter().map(|v| proto_any_value(Some(v))).collect())
        }
        Some(V::KvlistValue(kv)) => {
            Value::Object(proto_key_values(&kv.values).into_iter().collect())
        }
        Some(V::BytesValue(b)) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        #[allow(unreachable_patterns)]
        Some(_) => Value::Null,
    }
}

fn proto_key_values(kvs: &[KeyValue]) -> Vec<(String, Value)> {
    kvs.iter()
        .map(|kv| (kv.key.clone(), proto_any_value(kv.value.as_ref())))
        .collect()
}

/// Reads a protobuf `ExportLogsServiceRequest` into one [`RawFields`] per log record.
pub fn proto_request(request: &ExportLogsServiceRequest) -> Vec<RawFields> {
    let mut out = Vec::new();
    for rl in &request.resource_logs {
        let resource = rl
            .resource
            .as_ref()
            .map(|r| proto_key_values(&r.attributes))
            .unwrap_or_default();
        for sl in &rl.scope_logs {
            let scope = sl.scope.as_ref().map(|s| s.name.as_str());
            for rec in &sl.log_records {
                let record = Record {
                    time_unix_nano: rec.time_unix_nano,
                    observed_time_unix_nano: rec.observed_time_unix_nano,
                    severity_text: Some(rec.severity_text.clone()),
                    body: proto_any_value(rec.body.as_ref()),
                    attributes: proto_key_values(&rec.attributes),
                    trace_id: (!rec.trace_id.is_empty()).then(|| hex::encode(&rec.trace_id)),
                    span_id: (!rec.span_id.is_empty()).then(|| hex::encode(&rec.span_id)),
                };
                out.push(record_fields(record, scope, &resource));
            }
        }
    }
    out
}
