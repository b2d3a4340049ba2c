//! OTLP/HTTP receiver: `POST /v1/logs`, default `:4318`, for the operator's
//! `otelLogExportUrl`, the Collector's `otlphttp` exporter and SDK exporters.
//!
//! Bodies are protobuf (`application/x-protobuf`) or JSON (`application/json`, camelCase or
//! snake_case keys), optionally gzip or deflate encoded. The reply uses the request's content
//! type and the OTLP status codes: 200 (with `partialSuccess` when records were rejected),
//! 400 for a body that cannot be read, 413 past `[receivers] max_body_bytes` (after
//! decompression), 415 for another content type, 405 for another method, 429 when the queue is
//! full and 503 when shutting down, both with `Retry-After`. Error bodies are `google.rpc.Status`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use prost::Message;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::body::decode_body;
use super::limits::{LimitError, RequestLimits, check_json, check_otlp_proto};
use super::otlp::{RpcStatus, collect_json, collect_proto, partial_success};
use super::{Refusal, Running, SubmissionSink, local_address, stopped, submit_and_wait};
use crate::config::ReceiversConfig;
use crate::pipeline::PipelineHandle;

/// The `source` of events received here.
const SOURCE: &str = "otlp-http";

/// Seconds a client is told to wait when pushed back.
const RETRY_AFTER: &str = "1";

/// gRPC codes used in `google.rpc.Status` bodies.
const INVALID_ARGUMENT: i32 = 3;
const RESOURCE_EXHAUSTED: i32 = 8;
const UNAVAILABLE: i32 = 14;

#[derive(Clone)]
struct HttpState {
    pipeline: PipelineHandle,
    max_body_bytes: usize,
    limits: RequestLimits,
    /// `[receivers] bearer_token`, when set.
    bearer_token: Option<std::sync::Arc<str>>,
}

/// The body encoding a request used, and so the reply's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    fn of(headers: &HeaderMap) -> Option<Encoding> {
        let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
        let essence = value.split(';').next()?.trim().to_ascii_lowercase();
        match essence.as_str() {
            "application/x-protobuf" | "application/protobuf" => Some(Encoding::Protobuf),
            "application/json" => Some(Encoding::Json),
            _ => None,
        }
    }

    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        })
    }
}

/// An error reply: its HTTP status and message, rendered as `google.rpc.Status`.
struct Failure {
    status: StatusCode,
    message: String,
}

impl Failure {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
        }
    }

    fn bad(message: impl Into<String>) -> Self {
        Failure::new(StatusCode::BAD_REQUEST, message)
    }

    fn refused(refusal: Refusal) -> Self {
        let status = match refusal {
            Refusal::Full => StatusCode::TOO_MANY_REQUESTS,
            Refusal::Closed | Refusal::Failed(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        Failure::new(status, refusal.to_string())
    }

    fn into_response(self, encoding: Encoding) -> Response {
        let code = match self.status {
            StatusCode::TOO_MANY_REQUESTS => RESOURCE_EXHAUSTED,
            StatusCode::SERVICE_UNAVAILABLE => UNAVAILABLE,
            _ => INVALID_ARGUMENT,
        };
        let body = match encoding {
            Encoding::Protobuf => RpcStatus {
                code,
                message: self.message,
                details: Vec::new(),
            }
            .encode_to_vec(),
            Encoding::Json => serde_json::json!({"code": code, "message": self.message})
                .to_string()
                .into_bytes(),
        };
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, encoding.content_type());
        if matches!(
            self.status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        ) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER));
        }
        response
    }
}

/// `POST /v1/logs`.
async fn export(
    State(state): State<HttpState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(encoding) = Encoding::of(&headers) else {
        let message = "Content-Type must be application/x-protobuf or application/json";
        return Failure::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, message)
            .into_response(Encoding::Json);
    };
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match crate::secret::check_bearer(authorization, state.bearer_token.as_deref()) {
        Ok(()) => {}
        Err(crate::secret::BearerRefusal::Missing) => {
            let message = "missing Authorization: Bearer <[receivers] bearer_token>";
            return Failure::new(StatusCode::UNAUTHORIZED, message).into_response(encoding);
        }
        Err(crate::secret::BearerRefusal::Wrong) => {
            return Failure::new(StatusCode::FORBIDDEN, "wrong bearer token")
                .into_response(encoding);
        }
    }
    match receive(&state, &headers, body, encoding).await {
        Ok(reply) => {
            let mut response = (StatusCode::OK, reply).into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, encoding.content_type());
            response
        }
        Err(failure) => failure.into_response(encoding),
    }
}

/// Reads, parses and commits one request; returns the encoded success reply.
async fn receive(
    state: &HttpState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    encoding: Encoding,
) -> Result<Vec<u8>, Failure> {
    let body = body.map_err(|r| Failure::new(r.status(), r.body_text()))?;
    let body = decode_body(headers, body, state.max_body_bytes)
        .map_err(|e| Failure::new(e.status, e.message))?;
    let sink = parse(&body, encoding, state.limits)?;
    let partial = partial_success(&sink);
    submit_and_wait(&state.pipeline, sink.submission)
        .await
        .map_err(Failure::refused)?;
    Ok(match encoding {
        Encoding::Protobuf => ExportLogsServiceResponse {
            partial_success: partial,
        }
        .encode_to_vec(),
        Encoding::Json => match partial {
            None => b"{}".to_vec(),
            Some(p) => serde_json::json!({"partialSuccess": {
                "rejectedLogRecords": p.rejected_log_records.to_string(),
                "errorMessage": p.error_message,
            }})
            .to_string()
            .into_bytes(),
        },
    })
}

/// A body past a count limit: 413, logged, before anything is decoded.
fn over_limit(e: LimitError) -> Failure {
    match e {
        LimitError::Malformed(what) => Failure::bad(format!(
            "not an OTLP ExportLogsServiceRequest (protobuf): {what}"
        )),
        e => {
            tracing::warn!(reason = %e, "otlp-http: request refused before decoding");
            Failure::new(StatusCode::PAYLOAD_TOO_LARGE, e.to_string())
        }
    }
}

fn parse(
    body: &[u8],
    encoding: Encoding,
    limits: RequestLimits,
) -> Result<SubmissionSink, Failure> {
    match encoding {
        Encoding::Protobuf => {
            check_otlp_proto(body, limits).map_err(over_limit)?;
            let request = ExportLogsServiceRequest::decode(body).map_err(|e| {
                Failure::bad(format!(
                    "not an OTLP ExportLogsServiceRequest (protobuf): {e}"
                ))
            })?;
            Ok(collect_proto(&request, SOURCE))
        }
        Encoding::Json => {
            check_json(body, limits).map_err(over_limit)?;
            let value: serde_json::Value = serde_json::from_slice(body)
                .map_err(|e| Failure::bad(format!("invalid JSON: {e}")))?;
            collect_json(&value, SOURCE).map_err(Failure::bad)
        }
    }
}

/// Serves `POST /v1/logs` on `listener` until `shutdown`; in-flight requests finish first.
pub fn start(
    listener: TcpListener,
    config: &ReceiversConfig,
    tls: Option<tokio_rustls::TlsAcceptor>,
    pipeline: PipelineHandle,
    shutdown: watch::Receiver<bool>,
) -> Running {
    let address = local_address(&listener, &config.otlp_http);
    let scheme = if tls.is_some() { ", TLS" } else { "" };
    let auth = if config.bearer_token.get().is_some() {
        ", bearer token"
    } else {
        ""
    };
    let state = HttpState {
        pipeline,
        max_body_bytes: config.max_body_bytes,
        limits: RequestLimits::from(config),
        bearer_token: config.bearer_token.get().map(std::sync::Arc::from),
    };
    let app = Router::new()
        .route("/v1/logs", post(export))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .with_state(state);
    let task = tokio::spawn(async move {
        let served = crate::tls::serve_http(listener, tls, app, stopped(shutdown)).await;
        if let Err(e) = served {
            tracing::error!(error = %e, "the OTLP/HTTP receiver stopped");
        }
    });
    Running {
        name: "otlp-http",
        address: format!("{address}  OTLP/HTTP POST /v1/logs (protobuf, JSON{scheme}{auth})"),
        task,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(content_type: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).unwrap(),
        );
        h
    }

    #[test]
    fn content_types_are_matched_on_their_essence() {
        assert_eq!(
            Encoding::of(&headers("application/json; charset=utf-8")),
            Some(Encoding::Json)
        );
        assert_eq!(
            Encoding::of(&headers("Application/X-Protobuf")),
            Some(Encoding::Protobuf)
        );
        assert_eq!(Encoding::of(&headers("text/plain")), None);
        assert_eq!(Encoding::of(&HeaderMap::new()), None);
    }

    #[test]
    fn garbage_is_a_bad_request_in_either_encoding() {
        let failure = parse(
            b"\xff\xff\xff",
            Encoding::Protobuf,
            RequestLimits::UNLIMITED,
        )
        .err()
        .unwrap();
        assert_eq!(failure.status, StatusCode::BAD_REQUEST);
        let failure = parse(
            b"{\"resourceLogs\": 3}",
            Encoding::Json,
            RequestLimits::UNLIMITED,
        )
        .err()
        .unwrap();
        assert_eq!(failure.status, StatusCode::BAD_REQUEST);
    }
}
