//! What the OTLP receivers share: turning an `ExportLogsServiceRequest` (protobuf or JSON)
//! into a [`SubmissionSink`] with one outcome per log record, the partial-success summary, and
//! the few `google.rpc` messages OTLP error replies carry (`Status`, `RetryInfo`).
//!
//! A record that cannot be read becomes a reject row whose excerpt is that record (as JSON),
//! not the whole request, and counts in `partialSuccess.rejectedLogRecords`. A record that is
//! valid but not a functional event (`Loaded license!`) is skipped, which is not a rejection.

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest,
};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use serde_json::Value;

use super::SubmissionSink;
use crate::event::OperatorEvent;
use crate::parse::otlp::{json_request, proto_request};
use crate::parse::{FormatName, RawFields, Sink, emit};

/// The `format` column of events that arrived over OTLP.
const FORMAT: FormatName = "otlp";

/// How many reject reasons the partial-success message quotes.
const QUOTED_REASONS: usize = 3;

/// Parses a protobuf request: one outcome per log record.
pub fn collect_proto(request: &ExportLogsServiceRequest, source: &str) -> SubmissionSink {
    let records: Vec<&LogRecord> = request
        .resource_logs
        .iter()
        .flat_map(|rl| &rl.scope_logs)
        .flat_map(|sl| &sl.log_records)
        .collect();
    collect(proto_request(request), source, |i| {
        records
            .get(i)
            .and_then(|r| serde_json::to_vec(r).ok())
            .unwrap_or_default()
    })
}

/// Parses an OTLP/JSON request (camelCase or snake_case keys). A structural error (a list that
/// is not a list, a bad time) fails the whole request.
pub fn collect_json(request: &Value, source: &str) -> Result<SubmissionSink, String> {
    let raws = json_request(request)?;
    let records = json_log_records(request);
    Ok(collect(raws, source, |i| {
        records
            .get(i)
            .map(|r| r.to_string().into_bytes())
            .unwrap_or_default()
    }))
}

fn collect(
    raws: Vec<RawFields>,
    source: &str,
    excerpt: impl Fn(usize) -> Vec<u8>,
) -> SubmissionSink {
    let mut sink = SubmissionSink::new(source);
    for (i, raw) in raws.into_iter().enumerate() {
        sink.next_record();
        let mut record = RecordSink {
            sink: &mut sink,
            excerpt: || excerpt(i),
        };
        emit(raw, FORMAT, &[], &mut record);
    }
    sink
}

/// The log records of an OTLP/JSON request in document order, as `json_request` reads them.
fn json_log_records(request: &Value) -> Vec<&Value> {
    fn list<'a>(v: &'a Value, camel: &str, snake: &str) -> Vec<&'a Value> {
        v.get(camel)
            .or_else(|| v.get(snake))
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default()
    }
    let mut out = Vec::new();
    for rl in list(request, "resourceLogs", "resource_logs") {
        let mut scopes = list(rl, "scopeLogs", "scope_logs");
        if scopes.is_empty() {
            scopes = list(
                rl,
                "instrumentationLibraryLogs",
                "instrumentation_library_logs",
            );
        }
        for sl in scopes {
            out.extend(list(sl, "logRecords", "log_records"));
        }
    }
    out
}

/// Passes outcomes through, making a reject's excerpt (the record as JSON) only when needed.
struct RecordSink<'a, F: Fn() -> Vec<u8>> {
    sink: &'a mut SubmissionSink,
    excerpt: F,
}

impl<F: Fn() -> Vec<u8>> Sink for RecordSink<'_, F> {
    fn event(&mut self, event: OperatorEvent, format: FormatName) {
        self.sink.event(event, format);
    }
    fn skip(&mut self) {
        self.sink.skip();
    }
    fn reject(&mut self, reason: String, _raw: &[u8]) {
        let excerpt = (self.excerpt)();
        self.sink.reject(reason, &excerpt);
    }
}

/// The partial-success part of a reply: `None` when every record was accepted or skipped.
pub fn partial_success(sink: &SubmissionSink) -> Option<ExportLogsPartialSuccess> {
    let rejects = &sink.submission.rejects;
    if rejects.is_empty() {
        return None;
    }
    let mut message: Vec<String> = rejects
        .iter()
        .take(QUOTED_REASONS)
        .map(|r| format!("{}: {}", r.location.as_deref().unwrap_or("?"), r.reason))
        .collect();
    if rejects.len() > QUOTED_REASONS {
        message.push(format!("and {} more", rejects.len() - QUOTED_REASONS));
    }
    Some(ExportLogsPartialSuccess {
        rejected_log_records: rejects.len() as i64,
        error_message: message.join("; "),
    })
}

/// `google.rpc.Status`: the body of OTLP/HTTP error replies.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<ProtoAny>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ProtoAny {
    #[prost(string, tag = "1")]
    pub type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `google.rpc.RetryInfo`: how long a client should wait before retrying.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    pub retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ProtoDuration {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// An encoded `google.rpc.Status` whose only detail is a `RetryInfo` of `seconds`, for
/// `tonic::Status::with_details`.
pub fn retry_details(code: i32, message: &str, seconds: i64) -> Vec<u8> {
    use prost::Message;
    let retry = RetryInfo {
        retry_delay: Some(ProtoDuration { seconds, nanos: 0 }),
    };
    RpcStatus {
        code,
        message: message.to_string(),
        details: vec![ProtoAny {
            type_url: "type.googleapis.com/google.rpc.RetryInfo".into(),
            value: retry.encode_to_vec(),
        }],
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(message: &str, time: &str, port: Value) -> Value {
        serde_json::json!({
            "timeUnixNano": time,
            "body": {"stringValue": message},
            "attributes": [
                {"key": "session_id", "value": {"stringValue": "ABC"}},
                {"key": "port", "value": port},
            ],
        })
    }

    #[test]
    fn a_bad_record_is_rejected_with_its_own_excerpt_and_good_ones_survive() {
        let good = record(
            "Port Steal",
            "1769918125050620000",
            serde_json::json!({"intValue": "8080"}),
        );
        let bad = record(
            "Port Steal",
            "1769918125050620001",
            serde_json::json!({"kvlistValue": {"values": []}}),
        );
        let skipped = record("Loaded license!", "1769918125050620002", Value::Null);
        let request = serde_json::json!({"resource_logs": [{"scope_logs": [{"log_records": [good, bad, skipped]}]}]});
        let sink = collect_json(&request, "otlp-http").unwrap();
        assert_eq!(sink.submission.events.len(), 1);
        assert_eq!(sink.skipped, 1);
        let reject = &sink.submission.rejects[0];
        assert_eq!(reject.location.as_deref(), Some("record 2"));
        assert!(
            reject.excerpt.contains("1769918125050620001"),
            "{}",
            reject.excerpt
        );
        let partial = partial_success(&sink).unwrap();
        assert_eq!(partial.rejected_log_records, 1);
        assert!(
            partial.error_message.starts_with("record 2: "),
            "{}",
            partial.error_message
        );
    }

    #[test]
    fn json_records_are_found_in_every_spelling() {
        let r = serde_json::json!({"timeUnixNano": "1"});
        let camel = serde_json::json!({"resourceLogs": [{"scopeLogs": [{"logRecords": [r.clone(), r.clone()]}]}]});
        let legacy = serde_json::json!({"resource_logs": [{"instrumentation_library_logs": [{"log_records": [r]}]}]});
        assert_eq!(json_log_records(&camel).len(), 2);
        assert_eq!(json_log_records(&legacy).len(), 1);
    }

    #[test]
    fn retry_details_round_trip() {
        use prost::Message;
        let bytes = retry_details(8, "full", 1);
        let status = RpcStatus::decode(&bytes[..]).unwrap();
        assert_eq!(status.code, 8);
        let retry = RetryInfo::decode(&status.details[0].value[..]).unwrap();
        assert_eq!(retry.retry_delay.unwrap().seconds, 1);
    }
}
