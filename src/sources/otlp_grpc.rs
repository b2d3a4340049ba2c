//! OTLP/gRPC receiver: `opentelemetry.proto.collector.logs.v1.LogsService/Export` on tonic,
//! default `:4317`, for the OpenTelemetry Collector's `otlp` exporter and SDK exporters.
//!
//! gzip and deflate requests are accepted, and the decoded-message limit is raised from
//! tonic's 4 MiB to `[receivers] max_body_bytes` (counted after decompression, so a gzip bomb
//! stops there). The reply is sent after the commit: OK (with `partial_success` when records
//! were rejected), RESOURCE_EXHAUSTED with `RetryInfo` when the queue is full, UNAVAILABLE
//! when shutting down or when the commit failed. All of these are retryable for OTLP clients.

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::codec::CompressionEncoding;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::TcpIncoming;
use tonic::{Code, Request, Response, Status};

use super::otlp::{collect_proto, partial_success, retry_details};
use super::{Refusal, Running, local_address, stopped, submit_and_wait};
use crate::config::ReceiversConfig;
use crate::pipeline::PipelineHandle;

/// The `source` of events received here.
const SOURCE: &str = "otlp-grpc";

/// Seconds a client is told to wait when the queue is full.
const RETRY_AFTER_SECONDS: i64 = 1;

/// The `LogsService` implementation.
struct LogsReceiver {
    pipeline: PipelineHandle,
}

#[tonic::async_trait]
impl LogsService for LogsReceiver {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let sink = collect_proto(request.get_ref(), SOURCE);
        drop(request);
        let partial_success = partial_success(&sink);
        submit_and_wait(&self.pipeline, sink.submission)
            .await
            .map_err(refusal_status)?;
        Ok(Response::new(ExportLogsServiceResponse { partial_success }))
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
    let service = LogsServiceServer::new(LogsReceiver { pipeline })
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Deflate)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(config.max_body_bytes);
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
