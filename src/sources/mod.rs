//! sources: transports that hand raw records to the parser and submissions to the pipeline.
//! Each receiver knows only its wire protocol; acknowledgement to the sender waits for the
//! commit (see `pipeline`). HTTP JSON ingest lives with the API (`api::ingest`) because it
//! shares the main port.
//!
//! - [`otlp_grpc`]: OTLP/gRPC `LogsService/Export` (tonic), default `:4317`.
//! - [`otlp_http`]: OTLP/HTTP `POST /v1/logs`, protobuf and JSON, default `:4318`.
//! - [`forward`]: the fluentd Forward protocol over TCP, default `:24224`.
//! - [`tail`]: container-log files followed through rotation, with checkpoints.
//! - [`body`]: Content-Encoding with a decompressed-size cap, for every HTTP receiver.
//! - [`limits`]: records and nested values per request, counted on the wire before decoding.
//! - [`otlp`]: what the two OTLP receivers share (record excerpts, `google.rpc` messages).
//!
//! Every receiver turns a full queue into push-back its senders understand (HTTP 429, gRPC
//! RESOURCE_EXHAUSTED, withheld Forward acks, paused tailing) and stops on the `shutdown`
//! watch: it stops accepting, lets in-flight submissions commit, then its task ends.

pub mod body;
pub mod directory_file;
pub mod forward;
pub mod limits;
mod msgpack;
pub mod otlp;
pub mod otlp_grpc;
pub mod otlp_http;
pub mod tail;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::batch::IncomingEvent;
use crate::config::{Config, ReceiversConfig};
use crate::event::OperatorEvent;
use crate::parse::{FormatName, Sink};
use crate::pipeline::{Ack, PipelineHandle, Submission, SubmitError};
use crate::store::{AppendStats, RejectRecord};

/// Receiver start-up errors.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(
        "cannot listen on {addr} for {name}: {source} (is another process using the port? change [receivers] {name} or set it to \"\" to disable)"
    )]
    Bind {
        name: &'static str,
        addr: String,
        source: std::io::Error,
    },
    #[error("invalid [tail] setting: {0}")]
    Tail(String),
    #[error("cannot read tail checkpoints from the database: {0}")]
    Checkpoints(#[from] duckdb::Error),
    #[error(transparent)]
    Secret(#[from] crate::secret::SecretFileError),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

/// The receivers' section with every `*_file` secret read into its value, so each receiver
/// sees one resolved key.
fn resolve_secrets(config: &ReceiversConfig) -> Result<ReceiversConfig, SourceError> {
    use crate::secret::{Secret, resolve};
    let mut resolved = config.clone();
    let shared = resolve(
        "receivers.forward_shared_key_file",
        &config.forward_shared_key,
        config.forward_shared_key_file.as_deref(),
    )?;
    resolved.forward_shared_key = Secret(shared.unwrap_or_default());
    resolved.forward_shared_key_file = None;
    let bearer = resolve(
        "receivers.bearer_token_file",
        &config.bearer_token,
        config.bearer_token_file.as_deref(),
    )?;
    resolved.bearer_token = Secret(bearer.unwrap_or_default());
    resolved.bearer_token_file = None;
    Ok(resolved)
}

/// A started receiver.
pub struct Running {
    /// Short name for the port map (`otlp-grpc`, `otlp-http`, `forward`, `tail`).
    pub name: &'static str,
    /// Where it listens or what it follows.
    pub address: String,
    /// Ends after `shutdown` turns true and in-flight work is committed.
    pub task: JoinHandle<()>,
}

/// Starts every receiver enabled in `config` (an empty address or no tail paths disables
/// one). `db` is a reader connection, used once to load the tailer's checkpoints.
pub async fn start_all(
    config: &Config,
    pipeline: PipelineHandle,
    shutdown: watch::Receiver<bool>,
    db: duckdb::Connection,
) -> Result<Vec<Running>, SourceError> {
    let receivers = &resolve_secrets(&config.receivers)?;
    let tls = |alpn: &[&[u8]]| {
        config
            .server
            .tls
            .as_ref()
            .map(|t| crate::tls::acceptor(&t.files(), alpn))
            .transpose()
    };
    let mut running = Vec::new();
    if !receivers.otlp_grpc.is_empty() {
        let listener = bind("otlp_grpc", &receivers.otlp_grpc).await?;
        running.push(otlp_grpc::start(
            listener,
            receivers,
            tls(&[b"h2"])?,
            pipeline.clone(),
            shutdown.clone(),
        ));
    }
    if !receivers.otlp_http.is_empty() {
        let listener = bind("otlp_http", &receivers.otlp_http).await?;
        running.push(otlp_http::start(
            listener,
            receivers,
            tls(&[b"h2", b"http/1.1"])?,
            pipeline.clone(),
            shutdown.clone(),
        ));
    }
    if !receivers.forward.is_empty() {
        let listener = bind("forward", &receivers.forward).await?;
        running.push(forward::start(
            listener,
            receivers,
            pipeline.clone(),
            shutdown.clone(),
        ));
    }
    if !config.tail.paths.is_empty() {
        let saved = tail::load_checkpoints(&db)?;
        running.push(tail::start(
            &config.tail,
            config.pipeline.batch_size,
            saved,
            pipeline,
            shutdown,
        )?);
    }
    Ok(running)
}

async fn bind(name: &'static str, addr: &str) -> Result<TcpListener, SourceError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| SourceError::Bind {
            name,
            addr: addr.to_string(),
            source,
        })
}

/// The address a listener ended up on (the configured one if the OS won't say).
fn local_address(listener: &TcpListener, configured: &str) -> String {
    listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| configured.to_string())
}

/// Resolves when `shutdown` turns true (or its sender is gone).
pub async fn stopped(mut shutdown: watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Why a submission was not stored; each transport maps it to its own push-back.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The queue is full: the sender should retry after a pause.
    #[error("the ingest queue is full; retry later")]
    Full,
    /// The service is shutting down.
    #[error("the service is shutting down; retry later")]
    Closed,
    /// The commit failed; nothing of the submission was stored.
    #[error("not stored, retry: {0}")]
    Failed(String),
}

/// Submits if there is room (refusing at once otherwise) and waits for the commit.
pub async fn submit_and_wait(
    pipeline: &PipelineHandle,
    submission: Submission,
) -> Result<AppendStats, Refusal> {
    let rx = pipeline.try_submit(submission).map_err(|e| match e {
        SubmitError::Full => Refusal::Full,
        SubmitError::Closed => Refusal::Closed,
        e @ SubmitError::Batch(_) => Refusal::Failed(e.to_string()),
    })?;
    await_ack(rx).await
}

/// Waits for the commit outcome of a queued submission.
pub async fn await_ack(rx: oneshot::Receiver<Ack>) -> Result<AppendStats, Refusal> {
    match rx.await {
        Ok(Ok(stats)) => Ok(stats),
        Ok(Err(e)) => Err(Refusal::Failed(e)),
        Err(_) => Err(Refusal::Closed),
    }
}

/// Queues a submission, waiting (without reading more from the sender) while the queue is
/// full. Returns the commit receiver, so the caller can go on reading while it commits.
pub async fn submit_when_room(
    pipeline: &PipelineHandle,
    submission: Submission,
) -> Result<oneshot::Receiver<Ack>, Refusal> {
    pipeline
        .enqueue(submission)
        .await
        .map_err(|_| Refusal::Closed)
}

/// Collects parse outcomes of one request, chunk or file read into a [`Submission`], with
/// rejects located by record number (or by a location the caller sets).
pub struct SubmissionSink {
    source: Arc<str>,
    record: usize,
    location: Option<String>,
    /// Events, rejects and checkpoints collected so far.
    pub submission: Submission,
    /// Valid records that are not functional events.
    pub skipped: u64,
}

impl SubmissionSink {
    /// A sink whose events and rejects carry `source` (`otlp-grpc`, `forward`, `tail`, ...).
    pub fn new(source: &str) -> Self {
        SubmissionSink {
            source: Arc::from(source),
            record: 0,
            location: None,
            submission: Submission::default(),
            skipped: 0,
        }
    }

    /// Moves on to the next record (for reject locations: `record N`).
    pub fn next_record(&mut self) {
        self.record += 1;
        self.location = None;
    }

    /// Names where the next records come from (for example `path:offset`), instead of a
    /// record number.
    pub fn set_location(&mut self, location: String) {
        self.location = Some(location);
    }

    /// Rejects collected so far.
    pub fn rejected(&self) -> usize {
        self.submission.rejects.len()
    }
}

impl Sink for SubmissionSink {
    fn event(&mut self, event: OperatorEvent, format: FormatName) {
        self.submission.events.push(IncomingEvent {
            event,
            format,
            source: self.source.clone(),
        });
    }
    fn skip(&mut self) {
        self.skipped += 1;
    }
    fn reject(&mut self, reason: String, raw: &[u8]) {
        let location = Some(
            self.location
                .clone()
                .unwrap_or_else(|| format!("record {}", self.record)),
        );
        self.submission
            .rejects
            .push(RejectRecord::new(&self.source, location, reason, raw));
    }
}
