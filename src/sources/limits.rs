//! limits: how many records and nested values one request may carry, checked on the wire
//! before anything is decoded.
//!
//! A byte cap alone does not bound memory: an empty OTLP `LogRecord` is 2 bytes on the wire and
//! some 200 bytes once decoded, so a 57 KiB gzip body that inflates within `max_body_bytes`
//! can still become gigabytes of structs. Each receiver therefore walks the raw body first
//! (protobuf tags, JSON brackets, MessagePack headers) and counts records and nested items
//! without allocating, refusing the request as soon as a count passes its limit:
//! 413 over HTTP, `INVALID_ARGUMENT` over gRPC, a closed connection for Forward.

/// The per-request caps (`[receivers] max_records_per_request`, `max_items_per_request`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// Log records (OTLP), entries (Forward chunk, msgpack body) or JSON records.
    pub records: usize,
    /// Nested values of any kind: resource and scope wrappers, attributes, array and map
    /// items, JSON objects and arrays, MessagePack values.
    pub items: usize,
}

impl From<&crate::config::ReceiversConfig> for RequestLimits {
    fn from(c: &crate::config::ReceiversConfig) -> Self {
        RequestLimits {
            records: c.max_records_per_request,
            items: c.max_items_per_request,
        }
    }
}

impl RequestLimits {
    /// Limits too large to matter, for tests and callers that check elsewhere.
    pub const UNLIMITED: RequestLimits = RequestLimits {
        records: usize::MAX,
        items: usize::MAX,
    };
}

/// Why a request was refused before decoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error(
        "the request holds more than {0} records ([receivers] max_records_per_request); send smaller batches"
    )]
    Records(usize),
    #[error(
        "the request holds more than {0} nested values ([receivers] max_items_per_request); send smaller batches"
    )]
    Items(usize),
    #[error("values nested deeper than {MAX_DEPTH} levels")]
    Depth,
    #[error("malformed protobuf: {0}")]
    Malformed(&'static str),
}

/// Deepest nesting accepted (prost's own recursion limit is 100).
pub const MAX_DEPTH: usize = 64;

struct Counter {
    limits: RequestLimits,
    records: usize,
    items: usize,
}

impl Counter {
    fn new(limits: RequestLimits) -> Self {
        Counter {
            limits,
            records: 0,
            items: 0,
        }
    }

    fn item(&mut self) -> Result<(), LimitError> {
        self.items += 1;
        if self.items > self.limits.items {
            return Err(LimitError::Items(self.limits.items));
        }
        Ok(())
    }

    fn record(&mut self) -> Result<(), LimitError> {
        self.record_only()?;
        self.item()
    }

    fn record_only(&mut self) -> Result<(), LimitError> {
        self.records += 1;
        if self.records > self.limits.records {
            return Err(LimitError::Records(self.limits.records));
        }
        Ok(())
    }
}

/// The messages of `ExportLogsServiceRequest` whose sub-messages are counted.
#[derive(Clone, Copy)]
enum Msg {
    Request,
    ResourceLogs,
    Resource,
    ScopeLogs,
    Scope,
    LogRecord,
    KeyValue,
    AnyValue,
    ArrayValue,
    KeyValueList,
}

impl Msg {
    /// The message type of field `field`, if it is a counted sub-message.
    fn child(self, field: u64) -> Option<Msg> {
        use Msg::*;
        match (self, field) {
            (Request, 1) => Some(ResourceLogs),
            (ResourceLogs, 1) => Some(Resource),
            (ResourceLogs, 2) => Some(ScopeLogs),
            (Resource, 1) => Some(KeyValue),
            (ScopeLogs, 1) => Some(Scope),
            (ScopeLogs, 2) => Some(LogRecord),
            (Scope, 3) => Some(KeyValue),
            (LogRecord, 5) => Some(AnyValue),
            (LogRecord, 6) => Some(KeyValue),
            (KeyValue, 2) => Some(AnyValue),
            (AnyValue, 5) => Some(ArrayValue),
            (AnyValue, 6) => Some(KeyValueList),
            (ArrayValue, 1) => Some(AnyValue),
            (KeyValueList, 1) => Some(KeyValue),
            _ => None,
        }
    }
}

fn varint(buf: &mut &[u8]) -> Result<u64, LimitError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = buf
            .split_first()
            .ok_or(LimitError::Malformed("truncated varint"))?;
        *buf = rest;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(LimitError::Malformed("varint longer than 10 bytes"))
}

fn take<'a>(buf: &mut &'a [u8], n: u64) -> Result<&'a [u8], LimitError> {
    let n = usize::try_from(n).map_err(|_| LimitError::Malformed("length out of range"))?;
    if n > buf.len() {
        return Err(LimitError::Malformed("length past the end"));
    }
    let (head, rest) = buf.split_at(n);
    *buf = rest;
    Ok(head)
}

fn walk(mut buf: &[u8], msg: Msg, depth: usize, c: &mut Counter) -> Result<(), LimitError> {
    if depth > MAX_DEPTH {
        return Err(LimitError::Depth);
    }
    while !buf.is_empty() {
        let key = varint(&mut buf)?;
        let (field, wire) = (key >> 3, key & 7);
        match wire {
            0 => {
                varint(&mut buf)?;
            }
            1 => {
                take(&mut buf, 8)?;
            }
            5 => {
                take(&mut buf, 4)?;
            }
            2 => {
                let len = varint(&mut buf)?;
                let body = take(&mut buf, len)?;
                if let Some(child) = msg.child(field) {
                    match child {
                        Msg::LogRecord => c.record()?,
                        _ => c.item()?,
                    }
                    walk(body, child, depth + 1, c)?;
                }
            }
            _ => return Err(LimitError::Malformed("unsupported wire type")),
        }
    }
    Ok(())
}

/// Counts the records and nested values of a protobuf `ExportLogsServiceRequest`.
pub fn check_otlp_proto(body: &[u8], limits: RequestLimits) -> Result<(), LimitError> {
    walk(body, Msg::Request, 0, &mut Counter::new(limits))
}

/// Counts the objects and arrays of a JSON text or NDJSON stream (outside strings) as items,
/// and its records from above: every line break between top-level values and every comma
/// directly inside a top-level array or object counts one (a top-level object's fields are
/// counted too, which only over-estimates). Also bounds nesting depth.
pub fn check_json(body: &[u8], limits: RequestLimits) -> Result<(), LimitError> {
    let mut c = Counter::new(limits);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in body {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                c.item()?;
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(LimitError::Depth);
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' if depth == 1 => c.record_only()?,
            b'\n' if depth == 0 => c.record_only()?,
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use prost::Message;

    use super::*;

    fn request(records: usize, attributes: usize) -> Vec<u8> {
        let record = LogRecord {
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue("Session Start".into())),
            }),
            attributes: (0..attributes)
                .map(|i| KeyValue {
                    key: format!("k{i}"),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::IntValue(i as i64)),
                    }),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![record; records],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
        .encode_to_vec()
    }

    const LIMITS: RequestLimits = RequestLimits {
        records: 10,
        items: 100,
    };

    #[test]
    fn protobuf_counts_records_and_nested_values() {
        // 10 records, each: itself, its body, 2 attributes and their values = 6 items, plus the
        // resource and scope wrappers: 62 items.
        assert_eq!(check_otlp_proto(&request(10, 2), LIMITS), Ok(()));
        assert_eq!(
            check_otlp_proto(&request(11, 0), LIMITS),
            Err(LimitError::Records(10))
        );
        // 3 records of 40 attributes: 3 × 82 + 2 items.
        assert_eq!(
            check_otlp_proto(&request(3, 40), LIMITS),
            Err(LimitError::Items(100))
        );
    }

    #[test]
    fn empty_records_count_and_garbage_is_malformed() {
        // Field 1 (ResourceLogs) holding field 2 (ScopeLogs) holding 11 empty LogRecords.
        let scope: Vec<u8> = std::iter::repeat_n([0x12u8, 0x00], 11).flatten().collect();
        let mut resource = vec![0x12, scope.len() as u8];
        resource.extend(&scope);
        let mut body = vec![0x0a, resource.len() as u8];
        body.extend(&resource);
        assert_eq!(
            check_otlp_proto(&body, LIMITS),
            Err(LimitError::Records(10))
        );
        assert!(matches!(
            check_otlp_proto(&[0x0a, 0x05, 0x00], LIMITS),
            Err(LimitError::Malformed(_))
        ));
    }

    #[test]
    fn json_counts_brackets_outside_strings() {
        let ok = r#"[{"a":"{[{[{"},{"b":[1,2]}]"#;
        assert_eq!(check_json(ok.as_bytes(), LIMITS), Ok(()));
        let many = format!("[{}]", vec!["{}"; 100].join(","));
        let few_records = RequestLimits {
            records: 1000,
            items: 100,
        };
        assert_eq!(
            check_json(many.as_bytes(), few_records),
            Err(LimitError::Items(100))
        );
        let lines = "{}\n".repeat(11);
        assert_eq!(
            check_json(lines.as_bytes(), LIMITS),
            Err(LimitError::Records(10))
        );
        let scalars = format!("[{}]", ["1"; 12].join(","));
        assert_eq!(
            check_json(scalars.as_bytes(), LIMITS),
            Err(LimitError::Records(10))
        );
        let deep = "[".repeat(MAX_DEPTH + 1);
        assert_eq!(
            check_json(deep.as_bytes(), RequestLimits::UNLIMITED),
            Err(LimitError::Depth)
        );
    }
}
