//! `POST /api/v1/ingest`: HTTP ingest for fluentd `out_http` and fluent-bit's `http` output.
//! The body is a JSON object, a JSON array of objects, or NDJSON; with `Content-Type:
//! application/msgpack` it is fluent-bit's default MessagePack stream of `[time, record]`
//! entries. gzip or deflate encoding is allowed. Each record goes through the same parser as
//! files; the response is sent after the commit: 200 with counts, 400 for a body that can't be
//! read, 413 past `[receivers] max_body_bytes` (after decompression), 415 for an unknown
//! `Content-Encoding`, 429 when the queue is full and 503 when shutting down (both with
//! `Retry-After`).
//!
//! A bad record inside a good body is a reject row (located as `record N`), not a failed
//! request. Content-Encoding is undone by `sources::body::decode_body`, shared with the
//! OTLP/HTTP receiver.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::value::RawValue;

use super::{ApiError, AppState};
use crate::parse::{InputFormat, LineParser, Sink};
use crate::sources::body::decode_body;
use crate::sources::limits::{RequestLimits, check_json};
use crate::sources::{Refusal, SubmissionSink, forward, submit_and_wait};

/// The `source` of events received here.
const SOURCE: &str = "http";

/// Reads a request body, refusing more than `limit` bytes on the wire with 413.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        // `to_bytes` fails with http-body's `LengthLimitError` when the body is too long.
        if error_chain_mentions(&e, "length limit") {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("body exceeds {limit} bytes"),
            )
        } else {
            ApiError::bad_request(format!("cannot read the request body: {e}"))
        }
    })
}

fn error_chain_mentions(e: &(dyn std::error::Error + 'static), needle: &str) -> bool {
    let mut current = Some(e);
    while let Some(err) = current {
        if err.to_string().contains(needle) {
            return true;
        }
        current = err.source();
    }
    false
}

/// Feeds a JSON object, JSON array or NDJSON body to the parser, one record at a time.
pub fn parse_body(body: &[u8], sink: &mut SubmissionSink) {
    let mut parser = LineParser::new(InputFormat::Auto);
    let trimmed = body.trim_ascii();
    if trimmed.starts_with(b"[") {
        // Each element is handed over as the bytes it arrived as, never re-serialized: a
        // `Value` would keep only the last of two duplicate keys (the flattened tracing
        // record's two `target`s) and give the event another id than the same line from a file.
        match serde_json::from_slice::<Vec<&RawValue>>(trimmed) {
            Ok(records) => {
                for r in records {
                    sink.next_record();
                    parser.feed(r.get().as_bytes(), sink);
                }
            }
            Err(e) => {
                sink.next_record();
                sink.reject(format!("invalid JSON array: {e}"), trimmed);
            }
        }
    } else if is_single_multiline_object(trimmed) {
        sink.next_record();
        parser.feed(trimmed, sink);
    } else {
        for line in trimmed.split(|&b| b == b'\n') {
            if line.trim_ascii().is_empty() {
                continue;
            }
            sink.next_record();
            parser.feed(line, sink);
        }
    }
    parser.finish(sink);
}

/// A body that is one pretty-printed JSON object (as `curl -d @file.json` sends it), which
/// line splitting would break apart.
fn is_single_multiline_object(body: &[u8]) -> bool {
    body.starts_with(b"{")
        && body.contains(&b'\n')
        && serde_json::from_slice::<&RawValue>(body).is_ok()
}

/// Whether the body is MessagePack (fluent-bit's `http` output without `Format json`).
fn is_msgpack(headers: &HeaderMap) -> bool {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/msgpack")
        || essence.eq_ignore_ascii_case("application/x-msgpack")
}

/// `POST /api/v1/ingest`.
pub async fn ingest(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let limit = state.config.receivers.max_body_bytes;
    let body = decode_body(&headers, read_body(body, limit).await?, limit)
        .map_err(|e| ApiError::new(e.status, e.message))?;
    let limits = RequestLimits::from(&state.config.receivers);
    let mut sink = SubmissionSink::new(SOURCE);
    let counted = if is_msgpack(&headers) {
        forward::collect_entries(&body, limit, limits, &mut sink)
    } else {
        check_json(&body, limits)
            .map(|()| parse_body(&body, &mut sink))
            .map_err(|e| e.to_string())
    };
    if let Err(reason) = counted {
        tracing::warn!(%reason, "http ingest: request refused before decoding");
        return Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, reason));
    }
    let (events, rejected, skipped) = (sink.submission.events.len(), sink.rejected(), sink.skipped);
    match submit_and_wait(&state.pipeline, sink.submission).await {
        Ok(stats) => Ok(Json(serde_json::json!({
            "accepted": events,
            "stored": stats.stored,
            "duplicates": stats.duplicates,
            "rejected": rejected,
            "skipped": skipped,
        }))
        .into_response()),
        Err(refusal) => Ok(refused(refusal)),
    }
}

/// 429 (queue full) or 503 (shutting down, commit failed), with `Retry-After`.
fn refused(refusal: Refusal) -> Response {
    let status = match refusal {
        Refusal::Full => StatusCode::TOO_MANY_REQUESTS,
        Refusal::Closed | Refusal::Failed(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    let mut response = ApiError::new(status, refusal.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"timestamp":"2026-02-01T03:55:25.050620Z","level":"INFO","fields":{"message":"Session Start","session_id":"A1"},"target":"operator::session"}"#;

    fn parse(body: &str) -> SubmissionSink {
        let mut sink = SubmissionSink::new("http");
        parse_body(body.as_bytes(), &mut sink);
        sink
    }

    #[test]
    fn object_array_ndjson_and_pretty_object_all_parse() {
        assert_eq!(parse(LINE).submission.events.len(), 1);
        assert_eq!(
            parse(&format!("[{LINE}, {LINE}]")).submission.events.len(),
            2
        );
        let second = LINE.replace("A1", "A2");
        assert_eq!(
            parse(&format!("{LINE}\n\n{second}\n"))
                .submission
                .events
                .len(),
            2
        );
        let pretty =
            serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(LINE).unwrap())
                .unwrap();
        assert_eq!(parse(&pretty).submission.events.len(), 1);
    }

    #[test]
    fn a_bad_ndjson_line_is_a_located_reject_and_the_rest_survive() {
        let sink = parse(&format!(
            "{LINE}\nnot json at all {{\n{}",
            LINE.replace("A1", "A3")
        ));
        assert_eq!(sink.submission.events.len(), 2);
        assert_eq!(sink.submission.rejects.len(), 1);
        assert_eq!(
            sink.submission.rejects[0].location.as_deref(),
            Some("record 2")
        );
    }

    #[test]
    fn fluentd_records_with_log_strings_parse() {
        let record = serde_json::json!({"log": format!("{LINE}\n"), "stream": "stdout",
            "kubernetes": {"pod_name": "mirrord-operator-0"}});
        let sink = parse(&format!("[{record}]"));
        assert_eq!(
            sink.submission.events.len(),
            1,
            "{:?}",
            sink.submission.rejects
        );
    }

    #[test]
    fn fluent_bit_msgpack_bodies_are_read_as_entries() {
        use rmpv::Value as M;
        let record = M::Map(vec![
            (M::from("time"), M::from("2026-02-01T03:55:25.050620Z")),
            (M::from("stream"), M::from("stdout")),
            (M::from("_p"), M::from("F")),
            (M::from("log"), M::from(LINE)),
        ]);
        let time = M::Array(vec![
            M::Ext(0, vec![0x69, 0x7e, 0xcf, 0x2d, 0, 0, 0, 0]),
            M::Map(vec![]),
        ]);
        let mut body = Vec::new();
        rmpv::encode::write_value(&mut body, &M::Array(vec![time, record])).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, "application/msgpack".parse().unwrap());
        assert!(is_msgpack(&headers));
        let mut sink = SubmissionSink::new("http");
        forward::collect_entries(&body, 1 << 20, RequestLimits::UNLIMITED, &mut sink).unwrap();
        assert_eq!(
            sink.submission.events.len(),
            1,
            "{:?}",
            sink.submission.rejects
        );
    }

    #[tokio::test]
    async fn oversized_bodies_are_413_before_decoding() {
        let err = read_body(Body::from(vec![b'x'; 2048]), 1024)
            .await
            .unwrap_err();
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(read_body(Body::from("ok"), 1024).await.unwrap(), "ok");
    }
}
