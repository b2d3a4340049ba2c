//! pipeline: the bounded queue between live sources and the store, batching, back-pressure
//! and acknowledgements.
//!
//! Sources hand over a [`Submission`] (events, rejects, checkpoints) with an acknowledgement
//! channel. One writer thread owns the [`Store`]: it gathers submissions until the batch is
//! full or the flush interval passes, commits them in one transaction (events, rejects and
//! checkpoints together), then answers every acknowledgement. A source acknowledges its
//! sender (HTTP 200, gRPC OK, forward `ack`, file offset) only after that answer, so nothing
//! is acknowledged that isn't stored.
//!
//! The queue is bounded in submissions. When it is full, [`PipelineHandle::try_submit`] fails
//! at once and the source pushes back (HTTP 429, gRPC RESOURCE_EXHAUSTED, withheld forward
//! acks, paused tailing); memory never grows without bound.
//!
//! Maintenance that must write (retention, backups) runs on the same thread, between commits,
//! through [`PipelineHandle::maintain`]: the writer owns the only write connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::batch::IncomingEvent;
use crate::store::{AppendStats, Checkpoint, RejectRecord, Store};

/// Batching and queue limits.
#[derive(Debug, Clone, Copy)]
pub struct PipelineConfig {
    /// Commit once this many events are gathered.
    pub batch_size: usize,
    /// Commit at least this often while anything is waiting.
    pub flush_interval: Duration,
    /// Submissions that may wait in the queue before senders are pushed back.
    pub queue_capacity: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            batch_size: 10_000,
            flush_interval: Duration::from_millis(500),
            queue_capacity: 256,
        }
    }
}

/// Outcome of a commit, as told to a source.
pub type Ack = Result<AppendStats, String>;

/// One unit of work from a source.
#[derive(Debug, Default)]
pub struct Submission {
    pub events: Vec<IncomingEvent>,
    pub rejects: Vec<RejectRecord>,
    pub checkpoints: Vec<Checkpoint>,
}

struct Queued {
    submission: Submission,
    ack: oneshot::Sender<Ack>,
}

/// A maintenance job: runs on the writer thread with the store, between commits.
pub type MaintenanceJob = Box<dyn FnOnce(&mut Store) + Send>;

/// What travels on the writer's queue.
enum Work {
    Submit(Queued),
    Maintain(MaintenanceJob),
}

/// Why a submission was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("the ingest queue is full; retry later")]
    Full,
    #[error("the pipeline has stopped")]
    Closed,
}

/// Counters the pipeline keeps for `/metrics` and health checks.
#[derive(Debug, Default)]
pub struct PipelineStats {
    pub stored: AtomicU64,
    pub duplicates: AtomicU64,
    pub rejected: AtomicU64,
    pub commits: AtomicU64,
    pub failed_commits: AtomicU64,
    pub refused_full: AtomicU64,
    /// Duration of the last commit, in microseconds.
    pub last_commit_micros: AtomicU64,
}

impl PipelineStats {
    /// Duration of the last commit, in seconds.
    pub fn last_commit_seconds(&self) -> f64 {
        self.last_commit_micros.load(Ordering::Relaxed) as f64 / 1e6
    }
}

/// Cloneable handle sources use to submit work.
#[derive(Clone)]
pub struct PipelineHandle {
    tx: mpsc::Sender<Work>,
    pub stats: Arc<PipelineStats>,
}

impl PipelineHandle {
    /// Submissions waiting for the writer.
    pub fn queue_depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// Queues a submission if there is room; the receiver yields the commit outcome.
    pub fn try_submit(
        &self,
        submission: Submission,
    ) -> Result<oneshot::Receiver<Ack>, SubmitError> {
        let (ack, rx) = oneshot::channel();
        self.tx
            .try_send(Work::Submit(Queued { submission, ack }))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => {
                    self.stats.refused_full.fetch_add(1, Ordering::Relaxed);
                    SubmitError::Full
                }
                mpsc::error::TrySendError::Closed(_) => SubmitError::Closed,
            })?;
        Ok(rx)
    }

    /// Queues a submission, waiting for room (for sources that pause instead of refusing,
    /// such as file tailing), and waits for its commit.
    pub async fn submit(&self, submission: Submission) -> Ack {
        let rx = self.enqueue(submission).await.map_err(|e| e.to_string())?;
        rx.await.map_err(|_| SubmitError::Closed.to_string())?
    }

    /// Queues a submission, waiting for room, without waiting for its commit: the receiver
    /// yields the outcome. For sources that keep several submissions in flight while pushing
    /// back (Forward withholds acks and stops reading while the queue is full).
    pub async fn enqueue(
        &self,
        submission: Submission,
    ) -> Result<oneshot::Receiver<Ack>, SubmitError> {
        let (ack, rx) = oneshot::channel();
        self.tx
            .send(Work::Submit(Queued { submission, ack }))
            .await
            .map_err(|_| SubmitError::Closed)?;
        Ok(rx)
    }

    /// Runs `job` on the writer thread, after the submissions queued before it are committed,
    /// and returns its result. Waits for room in the queue like [`PipelineHandle::enqueue`].
    pub async fn maintain<T, F>(&self, job: F) -> Result<T, SubmitError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> T + Send + 'static,
    {
        let (done, rx) = oneshot::channel();
        let job: MaintenanceJob = Box::new(move |store| {
            let _ = done.send(job(store));
        });
        self.tx
            .send(Work::Maintain(job))
            .await
            .map_err(|_| SubmitError::Closed)?;
        rx.await.map_err(|_| SubmitError::Closed)
    }
}

/// Starts the writer thread that owns `store`. It stops when every handle is dropped, after
/// committing what was queued.
pub fn start(
    store: Store,
    config: PipelineConfig,
) -> (PipelineHandle, std::thread::JoinHandle<Store>) {
    let (tx, rx) = mpsc::channel(config.queue_capacity.max(1));
    let stats = Arc::new(PipelineStats::default());
    let writer_stats = stats.clone();
    let join = std::thread::Builder::new()
        .name("store-writer".into())
        .spawn(move || writer_loop(store, rx, config, &writer_stats))
        .expect("spawn the store writer thread");
    (PipelineHandle { tx, stats }, join)
}

fn writer_loop(
    mut store: Store,
    mut rx: mpsc::Receiver<Work>,
    config: PipelineConfig,
    stats: &PipelineStats,
) -> Store {
    while let Some(work) = rx.blocking_recv() {
        let first = match work {
            Work::Submit(q) => q,
            Work::Maintain(job) => {
                job(&mut store);
                continue;
            }
        };
        let deadline = Instant::now() + config.flush_interval;
        let mut pending = vec![first];
        let mut events: usize = pending[0].submission.events.len();
        // A maintenance job ends the batch: what was queued before it commits first.
        let mut job = None;
        while events < config.batch_size && Instant::now() < deadline {
            match rx.try_recv() {
                Ok(Work::Submit(q)) => {
                    events += q.submission.events.len();
                    pending.push(q);
                }
                Ok(Work::Maintain(j)) => {
                    job = Some(j);
                    break;
                }
                Err(mpsc::error::TryRecvError::Empty) => {
                    std::thread::sleep(Duration::from_millis(2))
                }
                Err(mpsc::error::TryRecvError::Disconnected) => break,
            }
        }
        commit(&mut store, pending, stats);
        if let Some(job) = job {
            job(&mut store);
        }
    }
    store
}

fn commit(store: &mut Store, pending: Vec<Queued>, stats: &PipelineStats) {
    let mut events = Vec::new();
    let mut rejects = Vec::new();
    let mut checkpoints = Vec::new();
    let mut acks = Vec::with_capacity(pending.len());
    for q in pending {
        events.extend(q.submission.events);
        rejects.extend(q.submission.rejects);
        checkpoints.extend(q.submission.checkpoints);
        acks.push(q.ack);
    }
    let span = tracing::info_span!(
        "store.commit",
        submissions = acks.len(),
        events = events.len(),
        rejects = rejects.len(),
        stored = tracing::field::Empty,
        duplicates = tracing::field::Empty,
        rejected = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    );
    let _entered = span.enter();
    let started = Instant::now();
    let outcome = store
        .append(&events, &rejects, &checkpoints)
        .map_err(|e| e.to_string());
    stats
        .last_commit_micros
        .store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
    match &outcome {
        Ok(s) => {
            span.record("stored", s.stored);
            span.record("duplicates", s.duplicates);
            span.record("rejected", s.rejected);
            stats.stored.fetch_add(s.stored, Ordering::Relaxed);
            stats.duplicates.fetch_add(s.duplicates, Ordering::Relaxed);
            stats.rejected.fetch_add(s.rejected, Ordering::Relaxed);
            stats.commits.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => {
            span.record("otel.status_code", "ERROR");
            stats.failed_commits.fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %e, "commit failed; senders are told to retry");
        }
    }
    for ack in acks {
        // A sender that went away no longer needs its answer.
        let _ = ack.send(outcome.clone());
    }
}
