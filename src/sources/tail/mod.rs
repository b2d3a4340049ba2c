//! File tailing: follows container-log files matched by `[tail] paths` globs (CRI, docker
//! json-file, or plain operator lines; the parser detects each line's format) and commits each
//! batch of lines with the file's checkpoint in the same transaction.
//!
//! How files are told apart and followed:
//! - A checkpoint is kept per file, not per path: `(tail:<path>#<dev>:<ino>, byte offset after
//!   the last complete line, identity)`, the identity being `dev:ino` plus a fingerprint of the
//!   first bytes ([`identity`]). A file keeps its row when it is renamed, and the row is
//!   deleted only once the file has been read to its end after `rotate_wait_ms`, or cannot be
//!   found at start-up. So a restart resumes the live file and every rotated file it hadn't
//!   finished, whatever order their commits landed in: no gap, no duplicate.
//! - Files that appear later are read from their beginning; files present at the first scan
//!   with no checkpoint start at `[tail] start_at` (`beginning` or `end`).
//! - Rotation by rename: when a path points to a new file, the old one (still open) is read on
//!   under its own checkpoint for `rotate_wait_ms` more, to its end. If the service was down
//!   during a rotation, the old file is found again by identity in the same directory.
//! - Copytruncate: a file that shrank, or whose first bytes changed, is read again from 0; the
//!   lines written between the last read and the truncation are read from the copy, found in
//!   the same directory by fingerprint. The copy's checkpoint is committed before anything
//!   else, so a crash can't lose its place.
//! - `notify` only wakes the loop early; a rescan every `poll_interval_ms` finds everything
//!   (symlinked `/var/log/containers`, lost inotify events).
//! - Back-pressure: the loop waits for each commit, so a full queue pauses reading.
//!
//! The tailer runs on one blocking thread; it reads a bounded amount per file per turn.

mod file;
pub mod identity;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher};
use tokio::runtime::Handle;
use tokio::sync::watch;

use self::file::{Change, Tracked, last_line_end};
use self::identity::{Fingerprint, Identity, Inode};
use super::{Running, SourceError, stopped};
use crate::config::TailConfig;
use crate::pipeline::{PipelineHandle, Submission};
use crate::store::Checkpoint;

/// Prefix of the tailer's checkpoint sources.
const KEY_PREFIX: &str = "tail:";

/// Suffix of the checkpoint of a rotated file in versions that kept one row per path (still
/// read, so an upgrade resumes where the old version stopped).
const LEGACY_ROTATED_SUFFIX: &str = "#rotated";

/// Batches read from one file per turn, so one big file doesn't starve the others.
const BATCHES_PER_TURN: usize = 8;

/// Pause after a failed commit before reading again.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Loads the tailer's saved checkpoints through a reader connection.
pub fn load_checkpoints(conn: &duckdb::Connection) -> Result<Vec<Checkpoint>, duckdb::Error> {
    let mut stmt = conn.prepare(
        "SELECT source, position, identity FROM checkpoints WHERE starts_with(source, ?)",
    )?;
    let rows = stmt.query_map([KEY_PREFIX], |r| {
        Ok(Checkpoint {
            source: r.get(0)?,
            position: r.get(1)?,
            identity: r.get(2)?,
        })
    })?;
    rows.collect()
}

/// Where to begin in a file seen at the first scan that has no checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StartAt {
    Beginning,
    End,
}

/// A saved checkpoint whose file may need reading on.
struct Saved {
    key: String,
    path: PathBuf,
    identity: Identity,
    position: u64,
}

/// Starts the tailer on a blocking thread.
pub fn start(
    config: &TailConfig,
    batch_size: usize,
    saved: Vec<Checkpoint>,
    pipeline: PipelineHandle,
    shutdown: watch::Receiver<bool>,
) -> Result<Running, SourceError> {
    let start_at = match config.start_at.as_str() {
        "beginning" => StartAt::Beginning,
        "end" => StartAt::End,
        other => {
            return Err(SourceError::Tail(format!(
                "start_at must be \"beginning\" or \"end\", not {other:?}"
            )));
        }
    };
    for pattern in &config.paths {
        glob::Pattern::new(pattern)
            .map_err(|e| SourceError::Tail(format!("bad glob {pattern:?}: {e}")))?;
    }
    let (wake_tx, wake_rx) = std_mpsc::channel();
    let stop_wake = wake_tx.clone();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        stopped(stop).await;
        let _ = stop_wake.send(());
    });
    let mut tailer = Tailer {
        patterns: config.paths.clone(),
        start_at,
        poll: Duration::from_millis(config.poll_interval_ms.max(10)),
        rotate_wait: Duration::from_millis(config.rotate_wait_ms),
        max_events: batch_size.max(1),
        active: HashMap::new(),
        draining: Vec::new(),
        known: HashMap::new(),
        saved_keys: HashMap::new(),
        saved_paths: HashSet::new(),
        watched: HashSet::new(),
        pipeline,
        runtime: Handle::current(),
        shutdown,
    };
    let orphans = tailer.remember(saved);
    let address = config.paths.join(", ");
    let blocking = tokio::task::spawn_blocking(move || tailer.run(orphans, wake_tx, wake_rx));
    let task = tokio::spawn(async move {
        if let Err(e) = blocking.await {
            tracing::error!(error = %e, "the tailer stopped");
        }
    });
    Ok(Running {
        name: "tail",
        address,
        task,
    })
}

struct Tailer {
    patterns: Vec<String>,
    start_at: StartAt,
    poll: Duration,
    rotate_wait: Duration,
    max_events: usize,
    /// Files followed at their matched path.
    active: HashMap<PathBuf, Tracked>,
    /// Files rotated away, read for `rotate_wait` more.
    draining: Vec<Tracked>,
    /// Positions of files not followed right now, by inode: from checkpoints, or files that
    /// were drained. A file found again resumes there.
    known: HashMap<Inode, (Fingerprint, u64)>,
    /// Checkpoint rows saved for each file: the first is taken over by the file when it is
    /// followed again, the others are deleted with its next commit.
    saved_keys: HashMap<Inode, Vec<String>>,
    /// Paths that had a checkpoint: a new file there is a successor, read from its start.
    saved_paths: HashSet<PathBuf>,
    watched: HashSet<PathBuf>,
    pipeline: PipelineHandle,
    runtime: Handle,
    shutdown: watch::Receiver<bool>,
}

impl Tailer {
    /// Takes in saved checkpoints; returns them for the search for rotated files.
    fn remember(&mut self, saved: Vec<Checkpoint>) -> Vec<Saved> {
        let mut out = Vec::new();
        for cp in saved {
            let Some(rest) = cp.source.strip_prefix(KEY_PREFIX) else {
                continue;
            };
            let Some(Ok(identity)) = cp.identity.as_deref().map(str::parse::<Identity>) else {
                continue;
            };
            let rotated = rest.ends_with(LEGACY_ROTATED_SUFFIX);
            let own_suffix = format!("#{}:{}", identity.inode.dev, identity.inode.ino);
            let path = rest
                .strip_suffix(own_suffix.as_str())
                .or_else(|| rest.strip_suffix(LEGACY_ROTATED_SUFFIX))
                .unwrap_or(rest);
            let path = PathBuf::from(path);
            if !rotated {
                self.saved_paths.insert(path.clone());
            }
            self.saved_keys
                .entry(identity.inode)
                .or_default()
                .push(cp.source.clone());
            let position = u64::try_from(cp.position).unwrap_or(0);
            // The same file may have two rows (before and after it rotated): the further wins.
            let entry = self
                .known
                .entry(identity.inode)
                .or_insert((identity.fingerprint.clone(), position));
            if entry.0 == identity.fingerprint {
                entry.1 = entry.1.max(position);
            }
            out.push(Saved {
                key: cp.source,
                path,
                identity,
                position,
            });
        }
        out
    }

    fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    fn run(
        mut self,
        orphans: Vec<Saved>,
        wake_tx: std_mpsc::Sender<()>,
        wake: std_mpsc::Receiver<()>,
    ) {
        let mut watcher = notify::recommended_watcher(move |_| {
            let _ = wake_tx.send(());
        })
        .map_err(|e| tracing::warn!(error = %e, "tail: no file-system notifications; polling only"))
        .ok();
        self.scan(true, watcher.as_mut());
        self.find_rotated(orphans);
        while !self.stopping() {
            let busy = self.read_all();
            if self.stopping() {
                break;
            }
            if !busy {
                let _ = wake.recv_timeout(self.poll);
                while wake.try_recv().is_ok() {}
            }
            self.scan(false, watcher.as_mut());
        }
        tracing::info!("tail: stopped; checkpoints are committed");
    }

    /// Paths the globs match now (regular files, symlinks followed). Compressed rotations
    /// (`0.log.20260201-035525.gz`) are left out: they were read before they were compressed.
    fn matches(&self) -> Vec<(PathBuf, std::fs::Metadata)> {
        let mut out = Vec::new();
        for pattern in &self.patterns {
            let Ok(paths) = glob::glob(pattern) else {
                continue;
            };
            for path in paths.flatten().filter(|p| !is_compressed(p)) {
                match std::fs::metadata(&path) {
                    Ok(meta) if meta.is_file() => out.push((path, meta)),
                    _ => {}
                }
            }
        }
        out
    }

    fn scan(&mut self, first: bool, mut watcher: Option<&mut notify::RecommendedWatcher>) {
        let matches = self.matches();
        let seen: HashSet<&PathBuf> = matches.iter().map(|(p, _)| p).collect();
        let gone: Vec<PathBuf> = self
            .active
            .keys()
            .filter(|p| !seen.contains(p))
            .cloned()
            .collect();
        for path in gone {
            self.rotate_out(&path);
        }
        let inodes: HashSet<Inode> = matches.iter().map(|(_, m)| Inode::of(m)).collect();
        for (path, meta) in &matches {
            let inode = Inode::of(meta);
            match self.active.get(path) {
                Some(t) if t.inode == inode => continue,
                Some(_) => self.rotate_out(path),
                None => {}
            }
            if self.is_followed(inode) {
                continue; // renamed onto another matched path while still being read
            }
            match self.open(path, inode, meta.len(), first) {
                Ok(t) => {
                    if let Some(w) = watcher.as_deref_mut() {
                        self.watch_dir(w, path);
                    }
                    self.active.insert(path.clone(), t);
                }
                Err(e) => tracing::warn!(path = %path.display(), error = %e, "tail: cannot open"),
            }
        }
        if let Some(w) = watcher {
            for pattern in self.patterns.clone() {
                self.watch_dir(w, &glob_base(&pattern));
            }
        }
        if !first {
            self.known.retain(|inode, _| inodes.contains(inode));
        }
    }

    fn is_followed(&self, inode: Inode) -> bool {
        self.active
            .values()
            .chain(&self.draining)
            .any(|t| t.inode == inode)
    }

    /// Opens a newly matched file at the right place: where its checkpoint says, else at its
    /// start (a file that appeared later, or a successor at a known path), else `start_at`.
    /// A checkpointed file whose content changed was copytruncated while the service was
    /// stopped: it is read from 0, and what followed the checkpoint is read from the copy.
    fn open(
        &mut self,
        path: &Path,
        inode: Inode,
        size: u64,
        first: bool,
    ) -> std::io::Result<Tracked> {
        let file = File::open(path)?;
        let position = match self.known.get(&inode).cloned() {
            Some((fingerprint, position))
                if position <= size && fingerprint.still_matches(&file)? =>
            {
                position
            }
            Some((fingerprint, position)) => {
                self.recover_from_copy(path, &fingerprint, position, inode, None);
                0
            }
            None if first && self.start_at == StartAt::End && !self.saved_paths.contains(path) => {
                last_line_end(&file, size)?
            }
            None => 0,
        };
        tracing::info!(path = %path.display(), position, "tail: following");
        let mut t = Tracked::new(file, path, inode, position)?;
        self.take_over_saved_keys(&mut t);
        Ok(t)
    }

    /// Gives `t` the checkpoint row saved for its file (the first one, when there are several:
    /// an older version's `tail:<path>` rows, or the file renamed onto another matched path),
    /// and deletes the others with its next commit.
    fn take_over_saved_keys(&mut self, t: &mut Tracked) {
        if let Some(mut keys) = self.saved_keys.remove(&t.inode) {
            t.key = keys.remove(0);
            t.retire.extend(keys);
        }
    }

    /// The file at `path` was rotated away (renamed, removed, replaced): keep reading it
    /// under its own checkpoint for `rotate_wait` more.
    fn rotate_out(&mut self, path: &Path) {
        let Some(mut t) = self.active.remove(path) else {
            return;
        };
        // A file rotated twice while still being drained is not written to any more.
        for older in self.draining.iter_mut().filter(|d| d.path == t.path) {
            older.rotated_at = Some(Instant::now() - self.rotate_wait);
        }
        t.rotated_at = Some(Instant::now());
        self.draining.push(t);
    }

    /// After a restart: files whose checkpoint names an identity not found by the globs, found
    /// again in their directory (rotated while the service was down), are read on.
    /// A checkpoint whose file is gone (not matched, not found beside its path) is deleted.
    fn find_rotated(&mut self, saved: Vec<Saved>) {
        let mut gone = Vec::new();
        for s in saved {
            if self.is_followed(s.identity.inode) {
                continue;
            }
            let Some(keys) = self.saved_keys.remove(&s.identity.inode) else {
                continue; // taken over by a file found under another of its rows
            };
            let found = find_near(&s.path, |_, inode, file| {
                Ok(inode == s.identity.inode && s.identity.fingerprint.still_matches(file)?)
            });
            let Some((path, file, _)) = found else {
                tracing::info!(checkpoint = %s.key, "tail: the file of this checkpoint is gone; forgetting it");
                gone.extend(keys);
                continue;
            };
            match Tracked::new(file, &path, s.identity.inode, s.position) {
                Ok(mut t) => {
                    tracing::info!(path = %path.display(), position = s.position, "tail: reading a file rotated while stopped");
                    self.saved_keys.insert(t.inode, keys);
                    self.take_over_saved_keys(&mut t);
                    t.rotated_at = Some(Instant::now());
                    self.draining.push(t);
                }
                Err(e) => tracing::warn!(path = %path.display(), error = %e, "tail: cannot reopen"),
            }
        }
        if !gone.is_empty() {
            self.commit(Submission {
                retired: gone,
                ..Default::default()
            });
        }
    }

    /// One turn over every file. Returns whether anything was read.
    fn read_all(&mut self) -> bool {
        let mut busy = false;
        let paths: Vec<PathBuf> = self.active.keys().cloned().collect();
        for path in paths {
            let Some(mut t) = self.active.remove(&path) else {
                continue;
            };
            busy |= self.pump(&mut t);
            self.active.insert(path, t);
        }
        let draining = std::mem::take(&mut self.draining);
        for mut t in draining {
            busy |= self.pump(&mut t);
            // Read to its end: its checkpoint goes (with any older rows of the same file).
            let retired = self.drained(&t) && {
                let mut retired = std::mem::take(&mut t.retire);
                retired.push(t.key.clone());
                self.commit(Submission {
                    retired,
                    ..Default::default()
                })
            };
            if retired {
                tracing::info!(path = %t.path.display(), "tail: rotated file read to its end");
                self.known
                    .insert(t.inode, (t.fingerprint().clone(), t.read_pos()));
            } else {
                self.draining.push(t);
            }
        }
        busy
    }

    /// Whether a rotated-away file was rotated `rotate_wait` ago and has been read to its end.
    fn drained(&self, t: &Tracked) -> bool {
        let quiet = t
            .rotated_at
            .is_some_and(|at| at.elapsed() >= self.rotate_wait);
        quiet && t.at_end().unwrap_or(true)
    }

    /// Reads what is new in one file, committing batch by batch.
    fn pump(&mut self, t: &mut Tracked) -> bool {
        match t.check() {
            Ok(Change::Truncated) => self.truncated(t),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(path = %t.path.display(), error = %e, "tail: cannot read");
                return false;
            }
        }
        let mut busy = false;
        for _ in 0..BATCHES_PER_TURN {
            let batch = match t.read_batch(self.max_events) {
                Ok(Some(b)) => b,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(path = %t.path.display(), error = %e, "tail: read failed");
                    break;
                }
            };
            busy = true;
            let stored = self.commit(batch);
            t.committed(stored);
            if !stored || self.stopping() {
                break;
            }
        }
        busy
    }

    /// Copytruncate seen while running: the lines after our last read are in the copy; then
    /// the file is read again from 0.
    fn truncated(&mut self, t: &mut Tracked) {
        tracing::info!(path = %t.path.display(), "tail: truncated; reading it again from the start");
        let (path, fingerprint) = (t.path.clone(), t.fingerprint().clone());
        let parser = t.take_parser();
        self.recover_from_copy(&path, &fingerprint, t.read_pos(), t.inode, Some(parser));
        if let Err(e) = t.restart_from_zero() {
            tracing::warn!(path = %t.path.display(), error = %e, "tail: cannot reread");
        }
    }

    /// Finds the copy of a truncated file (another file in its directory with the same first
    /// bytes and more than `from` bytes) and reads it from `from` to its end, continuing
    /// `parser` (partial lines) when given.
    fn recover_from_copy(
        &mut self,
        original: &Path,
        fingerprint: &Fingerprint,
        from: u64,
        own: Inode,
        parser: Option<crate::parse::LineParser>,
    ) {
        let copy = find_near(original, |meta, inode, file| {
            Ok(inode != own && meta.len() > from && fingerprint.still_matches(file)?)
        });
        let Some((path, file, inode)) = copy.filter(|(_, _, inode)| !self.is_followed(*inode))
        else {
            return;
        };
        match Tracked::new(file, &path, inode, from) {
            Ok(mut copy) => {
                tracing::info!(path = %path.display(), from, "tail: reading the end of the truncated file from its copy");
                if let Some(parser) = parser {
                    copy.set_parser(parser);
                }
                copy.rotated_at = Some(Instant::now() - self.rotate_wait);
                // Saved before the truncated file commits its new start, so a crash in between
                // still knows where the copy's unread end begins.
                self.commit(Submission {
                    checkpoints: vec![copy.checkpoint()],
                    ..Default::default()
                });
                self.draining.push(copy);
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "tail: cannot open the copy")
            }
        }
    }

    /// Commits one batch, waiting for room in the queue and for the commit.
    fn commit(&self, batch: Submission) -> bool {
        match self.runtime.block_on(self.pipeline.submit(batch)) {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(error = %e, "tail: commit failed; reading again from the last checkpoint");
                std::thread::sleep(RETRY_PAUSE);
                false
            }
        }
    }

    fn watch_dir(&mut self, watcher: &mut notify::RecommendedWatcher, path: &Path) {
        let dir = std::fs::canonicalize(path).ok().and_then(|p| {
            if p.is_dir() {
                Some(p)
            } else {
                p.parent().map(Path::to_path_buf)
            }
        });
        let Some(dir) = dir else { return };
        if self.watched.insert(dir.clone())
            && let Err(e) = watcher.watch(&dir, RecursiveMode::NonRecursive)
        {
            tracing::debug!(dir = %dir.display(), error = %e, "tail: cannot watch; polling");
        }
    }
}

/// The first regular file beside `path` for which `pick` holds: in the directory of the file
/// it resolves to (rotated Kubernetes logs sit beside the `/var/log/pods/...` target of a
/// `/var/log/containers` symlink), then in its own directory.
fn find_near(
    path: &Path,
    pick: impl Fn(&std::fs::Metadata, Inode, &File) -> std::io::Result<bool>,
) -> Option<(PathBuf, File, Inode)> {
    let resolved = std::fs::canonicalize(path)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    let literal = path.parent().map(Path::to_path_buf);
    let mut dirs: Vec<PathBuf> = resolved.into_iter().chain(literal).collect();
    dirs.dedup();
    dirs.iter().find_map(|dir| find_in_dir(dir, &pick))
}

/// The first regular file in `dir` for which `pick(metadata, inode, file)` holds.
fn find_in_dir(
    dir: &Path,
    pick: impl Fn(&std::fs::Metadata, Inode, &File) -> std::io::Result<bool>,
) -> Option<(PathBuf, File, Inode)> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let Ok(file) = File::open(&path) else {
            continue;
        };
        let inode = Inode::of(&meta);
        if pick(&meta, inode, &file).unwrap_or(false) {
            return Some((path, file, inode));
        }
    }
    None
}

/// Whether a file name says it is compressed (kubelet and logrotate gzip old rotations).
fn is_compressed(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    matches!(ext, "gz" | "zst" | "bz2" | "xz")
}

/// The directory part of a glob before its first wildcard.
fn glob_base(pattern: &str) -> PathBuf {
    let mut base = PathBuf::new();
    for part in Path::new(pattern).components() {
        let text = part.as_os_str().to_string_lossy();
        if text.contains(['*', '?', '[', '{']) {
            break;
        }
        base.push(part);
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressed_rotations_are_not_tailed() {
        assert!(is_compressed(Path::new(
            "/var/log/pods/x/op/0.log.20260201-035525.gz"
        )));
        assert!(!is_compressed(Path::new(
            "/var/log/pods/x/op/0.log.20260201-035525"
        )));
        assert!(!is_compressed(Path::new("/var/log/containers/op.log")));
    }

    #[test]
    fn glob_bases_stop_at_the_first_wildcard() {
        assert_eq!(
            glob_base("/var/log/containers/*mirrord*.log"),
            PathBuf::from("/var/log/containers")
        );
        assert_eq!(
            glob_base("/var/log/pods/*/op/*.log"),
            PathBuf::from("/var/log/pods")
        );
    }
}
