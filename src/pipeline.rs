//! pipeline: the bounded queue between live sources and the store, batching, back-pressure
//! and acknowledgements.
//!
//! Sources hand over a [`Submission`] (events, rejects, checkpoints) with an acknowledgement
//! channel. One writer thread owns the [`Store`] and commits by group commit: it takes every
//! submission already queued (up to `batch_size` events), commits them in one transaction
//! (events, rejects and checkpoints together), then answers every acknowledgement. An idle
//! writer therefore commits a lone submission at once (latency: one commit), and under load
//! the submissions that arrive during a commit make the next one bigger (throughput grows
//! with load). `flush_interval` (default 0) optionally lingers for more before committing.
//! A source acknowledges its sender (HTTP 200, gRPC OK, forward `ack`, file offset) only after
//! that answer, so nothing is acknowledged that isn't stored.
//!
//! The queue is bounded in rows (events + rejects, `queue_rows`) and in submissions. When it
//! is full, [`PipelineHandle::try_submit`] fails at once and the source pushes back (HTTP 429,
//! gRPC RESOURCE_EXHAUSTED, withheld forward acks, paused tailing); memory never grows without
//! bound.
//!
//! Maintenance that must write (retention, backups) runs on the same thread, between commits,
//! through [`PipelineHandle::maintain`]: the writer owns the only write connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use crate::batch::IncomingEvent;
use crate::store::{AppendStats, Checkpoint, RejectRecord, Store};

/// Batching and queue limits.
#[derive(Debug, Clone, Copy)]
pub struct PipelineConfig {
    /// Most events one commit gathers.
    pub batch_size: usize,
    /// How long the writer lingers for more submissions before committing what it has (zero:
    /// commit as soon as nothing more is queued).
    pub flush_interval: Duration,
    /// Submissions that may wait in the queue before senders are pushed back.
    pub queue_capacity: usize,
    /// Rows (events and rejects) that may wait in the queue before senders are pushed back.
    pub queue_rows: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            batch_size: 10_000,
            flush_interval: Duration::ZERO,
            queue_capacity: 256,
            queue_rows: 500_000,
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
    /// Checkpoints the source is done with, deleted in the same commit.
    pub retired: Vec<String>,
}

struct Queued {
    submission: Submission,
    ack: oneshot::Sender<Ack>,
    /// The submission's share of `queue_rows`, given back when it is committed.
    _rows: OwnedSemaphorePermit,
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
    /// Permits for queued rows (`queue_rows`).
    rows: Arc<Semaphore>,
    max_rows: usize,
    pub stats: Arc<PipelineStats>,
}

impl PipelineHandle {
    /// Submissions waiting for the writer.
    pub fn queue_depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// The permits a submission takes: its rows, at least one, at most the whole queue (so a
    /// submission larger than `queue_rows` still goes in, alone, when the queue is empty).
    fn permits(&self, submission: &Submission) -> u32 {
        let rows = submission.events.len() + submission.rejects.len();
        rows.clamp(1, self.max_rows) as u32
    }

    /// Queues a submission if there is room; the receiver yields the commit outcome.
    pub fn try_submit(
        &self,
        submission: Submission,
    ) -> Result<oneshot::Receiver<Ack>, SubmitError> {
        let rows = match self
            .rows
            .clone()
            .try_acquire_many_owned(self.permits(&submission))
        {
            Ok(p) => p,
            Err(tokio::sync::TryAcquireError::NoPermits) => {
                self.stats.refused_full.fetch_add(1, Ordering::Relaxed);
                return Err(SubmitError::Full);
            }
            Err(tokio::sync::TryAcquireError::Closed) => return Err(SubmitError::Closed),
        };
        let (ack, rx) = oneshot::channel();
        self.tx
            .try_send(Work::Submit(Queued {
                submission,
                ack,
                _rows: rows,
            }))
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
        let rows = self
            .rows
            .clone()
            .acquire_many_owned(self.permits(&submission))
            .await
            .map_err(|_| SubmitError::Closed)?;
        let (ack, rx) = oneshot::channel();
        self.tx
            .send(Work::Submit(Queued {
                submission,
                ack,
                _rows: rows,
            }))
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
    let max_rows = config
        .queue_rows
        .clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
    let rows = Arc::new(Semaphore::new(max_rows));
    let stats = Arc::new(PipelineStats::default());
    let writer_stats = stats.clone();
    let join = std::thread::Builder::new()
        .name("store-writer".into())
        .spawn(move || writer_loop(store, rx, config, &writer_stats))
        .expect("spawn the store writer thread");
    (
        PipelineHandle {
            tx,
            rows,
            max_rows,
            stats,
        },
        join,
    )
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
        // Group commit: everything queued now joins this commit, up to `batch_size` events;
        // when nothing more is queued (and any linger has passed) it commits at once.
        let deadline = Instant::now() + config.flush_interval;
        let mut pending = vec![first];
        let mut events: usize = pending[0].submission.events.len();
        // A maintenance job ends the batch: what was queued before it commits first.
        let mut job = None;
        while events < config.batch_size {
            match rx.try_recv() {
                Ok(Work::Submit(q)) => {
                    events += q.submission.events.len();
                    pending.push(q);
                }
                Ok(Work::Maintain(j)) => {
                    job = Some(j);
                    break;
                }
                Err(mpsc::error::TryRecvError::Empty) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                Err(_) => break,
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
    let mut retired = Vec::new();
    let mut acks = Vec::with_capacity(pending.len());
    for q in pending {
        events.extend(q.submission.events);
        rejects.extend(q.submission.rejects);
        // A later submission's position for the same source wins (INSERT OR REPLACE in order);
        // a source retired and then checkpointed again in one commit keeps the checkpoint.
        for cp in &q.submission.checkpoints {
            retired.retain(|r| r != &cp.source);
        }
        checkpoints.retain(|c: &Checkpoint| !q.submission.retired.contains(&c.source));
        checkpoints.extend(q.submission.checkpoints);
        retired.extend(q.submission.retired);
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
        .append_retiring(&events, &rejects, &checkpoints, &retired)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Derivations;

    fn rejects(n: usize) -> Submission {
        Submission {
            rejects: (0..n)
                .map(|i| RejectRecord::new("test", None, format!("bad {i}"), b"x"))
                .collect(),
            ..Default::default()
        }
    }

    /// The queue is bounded in rows, not only in submissions: with room for 10 rows, a
    /// 6-row submission fits, a second one doesn't until the first is committed.
    #[test]
    fn the_queue_is_bounded_in_rows() {
        let store = Store::open(":memory:", Derivations::default()).unwrap();
        let config = PipelineConfig {
            queue_rows: 10,
            ..Default::default()
        };
        let (handle, join) = start(store, config);
        let rt = tokio::runtime::Runtime::new().unwrap();
        // Hold the writer in a maintenance job so nothing is committed meanwhile.
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let h = handle.clone();
        let blocked = rt.spawn(async move {
            h.maintain(move |_| {
                let _ = hold.recv();
            })
            .await
        });
        std::thread::sleep(Duration::from_millis(100));
        let first = handle.try_submit(rejects(6)).expect("6 of 10 rows fit");
        assert!(matches!(
            handle.try_submit(rejects(6)),
            Err(SubmitError::Full)
        ));
        release.send(()).unwrap();
        rt.block_on(blocked).unwrap().unwrap();
        let stats = rt.block_on(first).unwrap().unwrap();
        assert_eq!(stats.rejected, 6);
        let again = handle
            .try_submit(rejects(6))
            .expect("room again after the commit");
        assert_eq!(rt.block_on(again).unwrap().unwrap().rejected, 6);
        drop(handle);
        join.join().unwrap();
    }
}
