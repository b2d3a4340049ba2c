//! OTLP/gRPC receiver: `opentelemetry.proto.collector.logs.v1.LogsService/Export` on tonic,
//! default `:4317`, for the OpenTelemetry Collector's `otlp` exporter and SDK exporters.
//!
//! gzip and deflate requests are accepted, and the decoded-message limit is raised from
//! tonic's 4 MiB to `[receivers] max_body_bytes` (counted after decompression, so a gzip bomb
//! stops there). Before protobuf decoding, the message's records and nested values are
//! counted on the wire ([`super::limits`]); past `[receivers] max_records_per_request` or
//! `max_items_per_request` the call fails with INVALID_ARGUMENT, so a small body of millions
//! of empty records is never decoded. That is why the service is assembled here from tonic's
//! parts (`LimitedCodec` in place of the generated server's fixed prost codec).
//!
//! The reply is sent after the commit: OK (with `partial_success` when records were rejected),
//! RESOURCE_EXHAUSTED with `RetryInfo` when the queue is full, UNAVAILABLE when shutting down
//! or when the commit failed. All of these are retryable for OTLP clients.

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use prost::Message;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{Body, BoxFuture, Context, Poll, Service, StdError, http};
use tonic::server::{NamedService, UnaryService};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::TcpIncoming;
use tonic::{Code, Request, Response, Status};

use super::limits::{LimitError, RequestLimits, check_otlp_proto};
use super::otlp::{collect_proto, partial_success, retry_details};
use super::{Refusal, Running, local_address, stopped, submit_and_wait};
use crate::config::ReceiversConfig;
use crate::pipeline::PipelineHandle;

/// The `source` of events received here.
const SOURCE: &str = "otlp-grpc";

/// Seconds a client is told to wait when the queue is full.
const RETRY_AFTER_SECONDS: i64 = 1;

/// The one method this service serves.
const EXPORT_PATH: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

/// `LogsService/Export`: parses, commits, then answers.
#[derive(Clone)]
struct LogsReceiver {
    pipeline: PipelineHandle,
}

impl UnaryService<ExportLogsServiceRequest> for LogsReceiver {
    type Response = ExportLogsServiceResponse;
    type Future = BoxFuture<Response<ExportLogsServiceResponse>, Status>;

    fn call(&mut self, request: Request<ExportLogsServiceRequest>) -> Self::Future {
        let pipeline = self.pipeline.clone();
        Box::pin(async move {
            let sink = collect_proto(request.get_ref(), SOURCE);
            drop(request);
            let partial_success = partial_success(&sink);
            submit_and_wait(&pipeline, sink.submission)
                .await
                .map_err(refusal_status)?;
            Ok(Response::new(ExportLogsServiceResponse { partial_success }))
        })
    }
}

/// The prost codec with the wire-level count check in front of decoding.
#[derive(Clone, Copy)]
struct LimitedCodec {
    limits: RequestLimits,
}

struct ResponseEncoder;

impl Encoder for ResponseEncoder {
    type Item = ExportLogsServiceResponse;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(buf)
            .map_err(|e| Status::internal(format!("cannot encode the reply: {e}")))
    }
}

struct RequestDecoder {
    limits: RequestLimits,
}

impl Decoder for RequestDecoder {
    type Item = ExportLogsServiceRequest;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        use bytes::Buf;
        match check_otlp_proto(buf.chunk(), self.limits) {
            Ok(()) => {}
            Err(LimitError::Malformed(what)) => {
                return Err(Status::invalid_argument(format!(
                    "not an OTLP ExportLogsServiceRequest: {what}"
                )));
            }
            Err(e) => {
                tracing::warn!(reason = %e, "otlp-grpc: request refused before decoding");
                return Err(Status::invalid_argument(e.to_string()));
            }
        }
        ExportLogsServiceRequest::decode(buf)
            .map(Some)
            .map_err(|e| Status::invalid_argument(format!("invalid protobuf: {e}")))
    }
}

impl Codec for LimitedCodec {
    type Encode = ExportLogsServiceResponse;
    type Decode = ExportLogsServiceRequest;
    type Encoder = ResponseEncoder;
    type Decoder = RequestDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        ResponseEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        RequestDecoder {
            limits: self.limits,
        }
    }
}

/// The `LogsService` server: routes `Export` through tonic's unary handling with
/// [`LimitedCodec`]; any other method is UNIMPLEMENTED.
#[derive(Clone)]
struct LogsServer {
    receiver: LogsReceiver,
    codec: LimitedCodec,
    max_decoding_message_size: usize,
}

impl NamedService for LogsServer {
    const NAME: &'static str = "opentelemetry.proto.collector.logs.v1.LogsService";
}

impl<B> Service<http::Request<B>> for LogsServer
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req.uri().path() != EXPORT_PATH {
            return Box::pin(async move {
                Ok(Status::unimplemented("only LogsService/Export is served").into_http())
            });
        }
        let mut grpc = tonic::server::Grpc::new(self.codec)
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Deflate)
            .send_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(self.max_decoding_message_size);
        let receiver = self.receiver.clone();
        Box::pin(async move { Ok(grpc.unary(receiver, req).await) })
    }
}

/// The gRPC status for a refused submission.
fn refusal_status(refusal: Refusal) -> Status {
    let message = refusal.to_string();
    match refusal {
        Refusal::Full => {
            let details = retry_details(
                Code::ResourceExhausted as i32,
                &message,
                RETRY_AFTER_SECONDS,
            );
            Status::with_details(Code::ResourceExhausted, message, details.into())
        }
        Refusal::Closed | Refusal::Failed(_) => {
            let details = retry_details(Code::Unavailable as i32, &message, RETRY_AFTER_SECONDS);
            Status::with_details(Code::Unavailable, message, details.into())
        }
    }
}

/// Serves `LogsService` on `listener` until `shutdown`; in-flight exports finish first.
pub fn start(
    listener: TcpListener,
    config: &ReceiversConfig,
    tls: Option<tokio_rustls::TlsAcceptor>,
    pipeline: PipelineHandle,
    shutdown: watch::Receiver<bool>,
) -> Running {
    let address = local_address(&listener, &config.otlp_grpc);
    let service = LogsServer {
        receiver: LogsReceiver { pipeline },
        codec: LimitedCodec {
            limits: RequestLimits::from(config),
        },
        max_decoding_message_size: config.max_body_bytes,
    };
    let token = config.bearer_token.get().map(std::sync::Arc::<str>::from);
    let described = format!(
        "{address}  OTLP/gRPC logs{}{}",
        if tls.is_some() { " (TLS)" } else { "" },
        if token.is_some() {
            " (bearer token)"
        } else {
            ""
        }
    );
    let service = InterceptedService::new(service, move |req: Request<()>| {
        authorize(&req, token.as_deref())?;
        Ok(req)
    });
    let task = tokio::spawn(async move {
        let server = tonic::transport::Server::builder().add_service(service);
        let served = match tls {
            None => {
                let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
                server
                    .serve_with_incoming_shutdown(incoming, stopped(shutdown))
                    .await
            }
            Some(acceptor) => {
                let incoming = crate::tls::incoming(listener, acceptor);
                server
                    .serve_with_incoming_shutdown(incoming, stopped(shutdown))
                    .await
            }
        };
        if let Err(e) = served {
            tracing::error!(error = %e, "the OTLP/gRPC receiver stopped");
        }
    });
    Running {
        name: "otlp-grpc",
        address: described,
        task,
    }
}

/// The `authorization: Bearer` metadata check of `[receivers] bearer_token`.
fn authorize(req: &Request<()>, token: Option<&str>) -> Result<(), Status> {
    let given = req
        .metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    crate::secret::check_bearer(given, token).map_err(|refusal| match refusal {
        crate::secret::BearerRefusal::Missing => {
            Status::unauthenticated("missing authorization: Bearer <[receivers] bearer_token>")
        }
        crate::secret::BearerRefusal::Wrong => Status::permission_denied("wrong bearer token"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_is_resource_exhausted_with_retry_info() {
        let status = refusal_status(Refusal::Full);
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert!(!status.details().is_empty());
        assert_eq!(refusal_status(Refusal::Closed).code(), Code::Unavailable);
    }
}
