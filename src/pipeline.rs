//! pipeline: the bounded queue between live sources and the store, batching, back-pressure
//! and acknowledgements.
//!
//! Every source — `ingest` (files, stdin), tailing, HTTP JSON, OTLP, Forward — hands over the
//! same unit, a [`Submission`] (events, rejects, checkpoints), with an acknowledgement
//! channel. Its events become an Arrow [`EventBatch`] on the submitting thread or task, before
//! it is queued, so the writer does only DuckDB work. One writer thread owns the [`Store`] and
//! commits by group commit: it inserts every submission already queued (up to `batch_size`
//! events) into one transaction (events, rejects and checkpoints together), commits, then
//! answers every acknowledgement. An idle writer therefore commits a lone submission at once
//! (latency: one commit), and under load the submissions that arrive during a commit make the
//! next one bigger (throughput grows with load). `flush_interval` (default 0) optionally
//! lingers for more before committing; `min_commit_rows` (bulk `ingest`) keeps the
//! transaction open until it holds that many events or the sources are done, so DuckDB writes
//! whole row groups.
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

use crate::batch::{EventBatch, IncomingEvent};
use crate::store::{AppendStats, Checkpoint, Commit, RejectRecord, Store, StoreError};

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
    /// Events a commit waits for while its sources are still sending (zero: commit whenever
    /// the queue is empty). Bulk `ingest` sets whole row groups here.
    pub min_commit_rows: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            batch_size: 10_000,
            flush_interval: Duration::ZERO,
            queue_capacity: 256,
            queue_rows: 500_000,
            min_commit_rows: 0,
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

/// A submission ready for the writer: its events are an Arrow batch.
#[derive(Debug, Default)]
pub struct Ready {
    pub events: EventBatch,
    pub rejects: Vec<RejectRecord>,
    pub checkpoints: Vec<Checkpoint>,
    pub retired: Vec<String>,
}

impl Submission {
    /// Builds the Arrow batch of the events, on the calling thread.
    pub fn prepare(self) -> Result<Ready, SubmitError> {
        Ok(Ready {
            events: EventBatch::build(&self.events)
                .map_err(|e| SubmitError::Batch(e.to_string()))?,
            rejects: self.rejects,
            checkpoints: self.checkpoints,
            retired: self.retired,
        })
    }
}

struct Queued {
    ready: Ready,
    ack: oneshot::Sender<Ack>,
    /// The submission's share of `queue_rows`, given back once it is inserted into the open
    /// commit (see [`Tally::add`]).
    _rows: OwnedSemaphorePermit,
}

impl Queued {
    fn new(ready: Ready, rows: OwnedSemaphorePermit) -> (Queued, oneshot::Receiver<Ack>) {
        let (ack, rx) = oneshot::channel();
        let queued = Queued {
            ready,
            ack,
            _rows: rows,
        };
        (queued, rx)
    }
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
    #[error("cannot build the batch: {0}")]
    Batch(String),
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
    /// The database's generation: bumped after every successful commit and every maintenance
    /// job, before their senders are answered. Readers that cache results key them on it.
    pub generation: AtomicU64,
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
    fn permits(&self, rows: usize) -> u32 {
        rows.clamp(1, self.max_rows) as u32
    }

    /// Queues a submission if there is room; the receiver yields the commit outcome.
    pub fn try_submit(
        &self,
        submission: Submission,
    ) -> Result<oneshot::Receiver<Ack>, SubmitError> {
        let rows = match self.rows.clone().try_acquire_many_owned(
            self.permits(submission.events.len() + submission.rejects.len()),
        ) {
            Ok(p) => p,
            Err(tokio::sync::TryAcquireError::NoPermits) => {
                self.stats.refused_full.fetch_add(1, Ordering::Relaxed);
                return Err(SubmitError::Full);
            }
            Err(tokio::sync::TryAcquireError::Closed) => return Err(SubmitError::Closed),
        };
        let (queued, rx) = Queued::new(submission.prepare()?, rows);
        self.tx
            .try_send(Work::Submit(queued))
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
            .acquire_many_owned(self.permits(submission.events.len() + submission.rejects.len()))
            .await
            .map_err(|_| SubmitError::Closed)?;
        let (queued, rx) = Queued::new(submission.prepare()?, rows);
        self.tx
            .send(Work::Submit(queued))
            .await
            .map_err(|_| SubmitError::Closed)?;
        Ok(rx)
    }

    /// [`PipelineHandle::enqueue`] of a prepared submission, for a plain thread (bulk
    /// `ingest`, whose parser threads build the batches): blocks while the queue is full. Must
    /// not be called from inside an async runtime.
    pub fn enqueue_ready_blocking(
        &self,
        ready: Ready,
    ) -> Result<oneshot::Receiver<Ack>, SubmitError> {
        let permits = self.permits(ready.events.len() + ready.rejects.len());
        let rows = loop {
            match self.rows.clone().try_acquire_many_owned(permits) {
                Ok(p) => break p,
                Err(tokio::sync::TryAcquireError::NoPermits) => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                Err(tokio::sync::TryAcquireError::Closed) => return Err(SubmitError::Closed),
            }
        };
        let (queued, rx) = Queued::new(ready, rows);
        self.tx
            .blocking_send(Work::Submit(queued))
            .map_err(|_| SubmitError::Closed)?;
        Ok(rx)
    }

    /// Runs `job` on the writer thread, after the submissions queued before it are committed,
    /// and returns its result. Waits for room in the queue like [`PipelineHandle::enqueue`].
    /// Has the writer run the store's catch-up steps now (between commits), for a reader that
    /// is about to read what they keep. Unlike [`Self::maintain`] it leaves the database
    /// generation: the answers readers get don't change.
    pub async fn catch_up(&self) -> Result<Result<usize, StoreError>, SubmitError> {
        let (done, rx) = oneshot::channel();
        let job: MaintenanceJob = Box::new(move |store| {
            let _ = done.send(store.catch_up());
        });
        self.tx
            .send(Work::Maintain(job))
            .await
            .map_err(|_| SubmitError::Closed)?;
        rx.await.map_err(|_| SubmitError::Closed)
    }

    pub async fn maintain<T, F>(&self, job: F) -> Result<T, SubmitError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> T + Send + 'static,
    {
        self.maintain_if(move |store| (job(store), true)).await
    }

    /// [`Self::maintain`] for a job that says whether it changed what readers see: the
    /// database generation (and so the report caches) moves only when it did.
    pub async fn maintain_if<T, F>(&self, job: F) -> Result<T, SubmitError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> (T, bool) + Send + 'static,
    {
        let (done, rx) = oneshot::channel();
        let stats = self.stats.clone();
        let job: MaintenanceJob = Box::new(move |store| {
            let (out, changed) = job(store);
            if changed {
                stats.generation.fetch_add(1, Ordering::Release);
            }
            let _ = done.send(out);
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

/// How long the writer waits without work before it runs the store's catch-up steps (the
/// all-time rollups' merge), and after how many commits it runs them even when never idle.
/// Merging costs ~50-100 ms whatever its size, so it waits for a pause rather than delaying the
/// next commit; readers that need it current ask for it (`maintain`).
pub const CATCH_UP_IDLE: Duration = Duration::from_secs(1);
pub const CATCH_UP_COMMITS: usize = 500;

/// Runs the store's catch-up steps. The database generation stays: what readers see (derived
/// tables plus what is pending for them) does not change, so cached answers stay valid.
fn catch_up(store: &Store) {
    match store.catch_up() {
        Ok(0) => {}
        Ok(rows) => tracing::debug!(rows, "derived tables caught up"),
        Err(e) => tracing::warn!(error = %e, "catching up derived tables failed; retried later"),
    }
}

fn writer_loop(
    mut store: Store,
    mut rx: mpsc::Receiver<Work>,
    config: PipelineConfig,
    stats: &PipelineStats,
) -> Store {
    // Commits since the last catch-up, and when the last one ended.
    let mut behind: Option<(usize, Instant)> = None;
    // Waits for work with a deadline (the idle catch-up), waking the moment work arrives.
    let timer = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a timer for the store writer");
    loop {
        let work = match behind {
            None => rx.blocking_recv(),
            Some((commits, _)) if commits >= CATCH_UP_COMMITS => {
                catch_up(&store);
                behind = None;
                continue;
            }
            Some((_, since)) => {
                let left = CATCH_UP_IDLE.saturating_sub(since.elapsed());
                match timer.block_on(async { tokio::time::timeout(left, rx.recv()).await }) {
                    Ok(work) => work,
                    Err(_idle) => {
                        catch_up(&store);
                        behind = None;
                        continue;
                    }
                }
            }
        };
        let Some(work) = work else { break };
        match work {
            Work::Submit(first) => {
                if let Some(job) = commit(&mut store, first, &mut rx, config, stats) {
                    job(&mut store);
                }
                let commits = behind.map_or(0, |(n, _)| n);
                behind = Some((commits + 1, Instant::now()));
            }
            Work::Maintain(job) => job(&mut store),
        }
    }
    // Nothing left for after: e.g. `ingest` reads the rollups once it returns.
    catch_up(&store);
    store
}

/// Events gathered from queued submissions before they go into the open commit as one insert
/// (one duplicate check, one `INSERT`): live receivers send many small requests, and the
/// per-statement cost of inserting each on its own was a fifth of the writer's time.
pub const INSERT_ROWS: usize = 16_384;

/// What one commit has taken so far.
#[derive(Default)]
struct Tally {
    events: usize,
    rejects: usize,
    acks: Vec<oneshot::Sender<Ack>>,
    /// Taken but not inserted yet, with their shares of the queue.
    pending: Vec<(Ready, OwnedSemaphorePermit)>,
    pending_events: usize,
}

impl Tally {
    /// Adds a submission to the open commit. Submissions are inserted together once
    /// `INSERT_ROWS` events are pending (and at the end, [`Tally::flush`]); their queue rows
    /// are given back once inserted.
    fn add(&mut self, commit: &mut Commit<'_>, q: Queued) -> Result<(), StoreError> {
        let Queued { ready, ack, _rows } = q;
        self.events += ready.events.len();
        self.rejects += ready.rejects.len();
        self.acks.push(ack);
        self.pending_events += ready.events.len();
        self.pending.push((ready, _rows));
        if self.pending_events >= INSERT_ROWS {
            self.flush(commit)?;
        }
        Ok(())
    }

    /// Inserts the pending submissions' events as one, then their rejects and checkpoints in
    /// the order they were submitted.
    fn flush(&mut self, commit: &mut Commit<'_>) -> Result<(), StoreError> {
        let pending = std::mem::take(&mut self.pending);
        self.pending_events = 0;
        let batches: Vec<&EventBatch> = pending.iter().map(|(r, _)| &r.events).collect();
        commit.add_event_batches(&batches)?;
        for (r, _) in &pending {
            commit.add_rejects(&r.rejects)?;
            commit.save_checkpoints(&r.checkpoints, &r.retired)?;
        }
        Ok(())
    }
}

/// One group commit, starting with `first`: everything queued meanwhile joins it, up to
/// `batch_size` events; it waits for more while it holds fewer than `min_commit_rows` and the
/// sources are still there, and lingers up to `flush_interval`. A maintenance job ends the
/// commit (what was queued before it commits first) and is returned to run next.
fn commit(
    store: &mut Store,
    first: Queued,
    rx: &mut mpsc::Receiver<Work>,
    config: PipelineConfig,
    stats: &PipelineStats,
) -> Option<MaintenanceJob> {
    let started = Instant::now();
    let deadline = started + config.flush_interval;
    let span = tracing::info_span!(
        "store.commit",
        submissions = tracing::field::Empty,
        events = tracing::field::Empty,
        rejects = tracing::field::Empty,
        stored = tracing::field::Empty,
        duplicates = tracing::field::Empty,
        rejected = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    );
    let _entered = span.enter();
    let mut tally = Tally::default();
    let mut job = None;
    let outcome = (|| -> Result<AppendStats, StoreError> {
        let mut commit = store.begin()?;
        tally.add(&mut commit, first)?;
        while tally.events < config.batch_size {
            let next = match rx.try_recv() {
                Ok(work) => Some(work),
                Err(mpsc::error::TryRecvError::Empty) if tally.events < config.min_commit_rows => {
                    rx.blocking_recv()
                }
                Err(mpsc::error::TryRecvError::Empty) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                }
                Err(_) => None,
            };
            match next {
                Some(Work::Submit(q)) => tally.add(&mut commit, q)?,
                Some(Work::Maintain(j)) => {
                    job = Some(j);
                    break;
                }
                None => break,
            }
        }
        tally.flush(&mut commit)?;
        commit.finish()
    })()
    .map_err(|e| e.to_string());
    let Tally {
        events,
        rejects,
        acks,
        ..
    } = tally;
    span.record("submissions", acks.len());
    span.record("events", events);
    span.record("rejects", rejects);
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
            stats.generation.fetch_add(1, Ordering::Release);
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
    job
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
