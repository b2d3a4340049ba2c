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
//! request. [`decode_body`] is shared with the OTLP/HTTP receiver.

use std::io::Read;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::value::RawValue;

use super::{ApiError, AppState};
use crate::parse::{InputFormat, LineParser, Sink};
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

/// Decodes the body as `Content-Encoding` says (identity, gzip, deflate), refusing more than
/// `limit` bytes after decompression, so a small gzip bomb can't exhaust memory.
pub fn decode_body(headers: &HeaderMap, body: Bytes, limit: usize) -> Result<Vec<u8>, ApiError> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
        .unwrap_or_default();
    let decoder: Box<dyn Read + '_> = match encoding.as_str() {
        "" | "identity" => {
            if body.len() > limit {
                return Err(too_large(limit, ""));
            }
            return Ok(body.to_vec());
        }
        "gzip" | "x-gzip" => Box::new(flate2::read::MultiGzDecoder::new(&body[..])),
        "deflate" => Box::new(flate2::read::ZlibDecoder::new(&body[..])),
        other => {
            let message =
                format!("unsupported Content-Encoding {other:?}; use gzip, deflate or none");
            return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, message));
        }
    };
    let mut out = Vec::new();
    decoder
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| ApiError::bad_request(format!("invalid {encoding} body: {e}")))?;
    if out.len() > limit {
        return Err(too_large(limit, " after decompression"));
    }
    Ok(out)
}

fn too_large(limit: usize, when: &str) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("body exceeds {limit} bytes{when}"),
    )
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
    let body = decode_body(&headers, read_body(body, limit).await?, limit)?;
    let mut sink = SubmissionSink::new(SOURCE);
    if is_msgpack(&headers) {
        forward::collect_entries(&body, limit, &mut sink);
    } else {
        parse_body(&body, &mut sink);
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
    use std::io::Write;

    use super::*;

    const LINE: &str = r#"{"timestamp":"2026-02-01T03:55:25.050620Z","level":"INFO","fields":{"message":"Session Start","session_id":"A1"},"target":"operator::session"}"#;

    fn parse(body: &str) -> SubmissionSink {
        let mut sink = SubmissionSink::new("http");
        parse_body(body.as_bytes(), &mut sink);
        sink
    }

    fn gzip(data: &[u8]) -> Bytes {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        Bytes::from(enc.finish().unwrap())
    }

    fn encoded(encoding: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_ENCODING, encoding.parse().unwrap());
        h
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
    fn gzip_is_limited_after_decompression() {
        let body = gzip(&vec![b' '; 10_000]);
        assert_eq!(
            decode_body(&encoded("gzip"), body.clone(), 20_000)
                .unwrap()
                .len(),
            10_000
        );
        let err = decode_body(&encoded("gzip"), body, 5_000).unwrap_err();
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn unknown_encodings_and_broken_gzip_are_refused() {
        let err = decode_body(&encoded("br"), Bytes::from_static(b"x"), 100).unwrap_err();
        assert_eq!(err.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let err = decode_body(&encoded("gzip"), Bytes::from_static(b"not gzip"), 100).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        let err = decode_body(&HeaderMap::new(), Bytes::from(vec![b'x'; 101]), 100).unwrap_err();
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
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
        forward::collect_entries(&body, 1 << 20, &mut sink);
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
