//! One followed file: reading complete lines from where it stopped, the positions that make a
//! restart exact, and noticing truncation (copytruncate) or a rewrite.
//!
//! Three positions: `read_pos` is where the next read starts (after the last complete line
//! read); `safe_pos` is after the last line that left no partial (CRI `P`, docker partial)
//! waiting in the parser, which is what a checkpoint may say; `committed` is the last
//! checkpoint stored. If a commit fails, reading goes back to `committed` with a fresh parser,
//! so nothing is skipped.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::identity::{FINGERPRINT_BYTES, Fingerprint, Identity, Inode};
use crate::parse::{InputFormat, LineParser, MAX_LINE_BYTES, Sink};
use crate::pipeline::Submission;
use crate::sources::SubmissionSink;
use crate::store::Checkpoint;

/// The `source` of events read from files.
const SOURCE: &str = "tail";

/// Bytes read at a time. Longer than the longest line the parser takes, so a chunk without a
/// newline is an over-long line, skipped with a reject.
const READ_CHUNK: usize = 2 * MAX_LINE_BYTES;

/// Bytes read into one submission at most.
const MAX_SUBMISSION_BYTES: u64 = 16 << 20;

/// What changed since the last look at a file.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    /// Same size as before.
    None,
    /// Grew (or first look).
    Grew,
    /// Shorter than what was read, or its first bytes changed: truncated and written again.
    Truncated,
}

/// A file being followed.
pub struct Tracked {
    /// The checkpoint's `source`, one per file: `tail:<path it was found at>#<dev>:<ino>`
    /// ([`key_for`]). It stays the file's key after the file is renamed, so the checkpoints of
    /// a rotated file and of its successor never overwrite each other.
    pub key: String,
    /// Checkpoints to delete with this file's next commit (older rows for the same file).
    pub retire: Vec<String>,
    /// The path it was found at.
    pub path: PathBuf,
    /// The file it is, whatever its path now.
    pub inode: Inode,
    /// Set when the file was rotated away: it is read on for `rotate_wait` after that, to its end.
    pub rotated_at: Option<Instant>,
    file: File,
    fingerprint: Fingerprint,
    last_size: Option<u64>,
    read_pos: u64,
    safe_pos: u64,
    committed: u64,
    parser: LineParser,
    /// Inside an over-long line: discard up to the next newline.
    skipping: bool,
}

impl Tracked {
    /// Starts following `file` (found at `path`) at byte `position`, a line start.
    pub fn new(file: File, path: &Path, inode: Inode, position: u64) -> io::Result<Tracked> {
        let size = file.metadata()?.len();
        Ok(Tracked {
            key: key_for(path, inode),
            retire: Vec::new(),
            path: path.to_path_buf(),
            inode,
            rotated_at: None,
            fingerprint: Fingerprint::current(&file, size)?,
            file,
            last_size: None,
            read_pos: position,
            safe_pos: position,
            committed: position,
            parser: LineParser::new(InputFormat::Auto),
            skipping: false,
        })
    }

    /// The checkpoint this file has committed so far (for saving it on its own, before another
    /// file's commit could make a restart forget it).
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            source: self.key.clone(),
            position: self.committed as i64,
            identity: Some(self.identity().to_string()),
        }
    }

    /// The identity saved with checkpoints.
    pub fn identity(&self) -> Identity {
        Identity {
            inode: self.inode,
            fingerprint: self.fingerprint.clone(),
        }
    }

    /// The fingerprint (for finding a copytruncate copy) and how far the file was read.
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    /// Where the next read starts.
    pub fn read_pos(&self) -> u64 {
        self.read_pos
    }

    /// Whether everything written so far has been read.
    pub fn at_end(&self) -> io::Result<bool> {
        Ok(self.file.metadata()?.len() <= self.read_pos)
    }

    /// Looks for truncation or a rewrite, and widens the fingerprint as the file grows.
    pub fn check(&mut self) -> io::Result<Change> {
        let size = self.file.metadata()?.len();
        if size < self.read_pos {
            return Ok(Change::Truncated);
        }
        if self.last_size == Some(size) {
            return Ok(Change::None);
        }
        if !self.fingerprint.still_matches(&self.file)? {
            return Ok(Change::Truncated);
        }
        if self.fingerprint.len < FINGERPRINT_BYTES && size > self.fingerprint.len {
            self.fingerprint = Fingerprint::current(&self.file, size)?;
        }
        self.last_size = Some(size);
        Ok(Change::Grew)
    }

    /// After a truncation: read the file again from its start.
    pub fn restart_from_zero(&mut self) -> io::Result<()> {
        let size = self.file.metadata()?.len();
        self.fingerprint = Fingerprint::current(&self.file, size)?;
        self.last_size = None;
        self.read_pos = 0;
        self.safe_pos = 0;
        self.parser = LineParser::new(InputFormat::Auto);
        self.skipping = false;
        Ok(())
    }

    /// Hands over the parser state (partial lines) to a copy of this file that continues it.
    pub fn take_parser(&mut self) -> LineParser {
        std::mem::replace(&mut self.parser, LineParser::new(InputFormat::Auto))
    }

    /// Continues with `parser` (from the file this one is a copy of).
    pub fn set_parser(&mut self, parser: LineParser) {
        self.parser = parser;
    }

    /// Reads complete lines from `read_pos` into a submission of at most about `max_events`
    /// events, with the checkpoint it reaches. `None` when there is nothing new.
    pub fn read_batch(&mut self, max_events: usize) -> io::Result<Option<Submission>> {
        let mut sink = SubmissionSink::new(SOURCE);
        let mut total = 0u64;
        loop {
            let size = self.file.metadata()?.len();
            let want = (size.saturating_sub(self.read_pos)).min(READ_CHUNK as u64) as usize;
            if want == 0 {
                break;
            }
            let mut buf = vec![0u8; want];
            let n = read_full(&self.file, &mut buf, self.read_pos)?;
            let consumed = self.consume(&buf[..n], n == READ_CHUNK, &mut sink);
            total += consumed as u64;
            if consumed == 0
                || sink.submission.events.len() >= max_events
                || total >= MAX_SUBMISSION_BYTES
            {
                break;
            }
        }
        let nothing_new = sink.submission.events.is_empty()
            && sink.rejected() == 0
            && self.safe_pos == self.committed
            && self.retire.is_empty();
        if nothing_new {
            return Ok(None);
        }
        sink.submission.retired = self.retire.clone();
        sink.submission.checkpoints.push(Checkpoint {
            source: self.key.clone(),
            position: self.safe_pos as i64,
            identity: Some(self.identity().to_string()),
        });
        Ok(Some(sink.submission))
    }

    /// Feeds the complete lines of `data` (read at `read_pos`); returns the bytes consumed.
    fn consume(&mut self, data: &[u8], full: bool, sink: &mut SubmissionSink) -> usize {
        let mut offset = 0;
        while let Some(nl) = data[offset..].iter().position(|&b| b == b'\n') {
            let start = self.read_pos + offset as u64;
            if self.skipping {
                self.skipping = false;
            } else {
                sink.set_location(format!("{}:{start}", self.path.display()));
                self.parser.feed(&data[offset..offset + nl], sink);
            }
            offset += nl + 1;
            if !self.parser.pending() {
                self.safe_pos = self.read_pos + offset as u64;
            }
        }
        if offset == 0 && full {
            // No newline in a whole chunk: a line longer than the parser takes.
            if !self.skipping {
                sink.set_location(format!("{}:{}", self.path.display(), self.read_pos));
                sink.reject(
                    format!("line longer than {MAX_LINE_BYTES} bytes; skipped"),
                    data,
                );
                self.skipping = true;
            }
            offset = data.len();
        }
        self.read_pos += offset as u64;
        offset
    }

    /// Records the outcome of committing the last batch. After a failure, reading goes back to
    /// the last stored checkpoint.
    pub fn committed(&mut self, stored: bool) {
        if stored {
            self.committed = self.safe_pos;
            self.retire.clear();
        } else {
            self.read_pos = self.committed;
            self.safe_pos = self.committed;
            self.parser = LineParser::new(InputFormat::Auto);
            self.skipping = false;
        }
    }
}

/// The checkpoint source of the file `inode`, first found at `path`.
pub fn key_for(path: &Path, inode: Inode) -> String {
    format!("tail:{}#{}:{}", path.display(), inode.dev, inode.ino)
}

/// Reads until `buf` is full or the file ends; returns the bytes read.
fn read_full(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], at + filled as u64)? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// The offset just after the last newline of `file` (0 if it has none): where "start at the
/// end" begins, so a line being written is read whole.
pub fn last_line_end(file: &File, size: u64) -> io::Result<u64> {
    const BLOCK: u64 = 64 * 1024;
    let mut end = size;
    while end > 0 {
        let start = end.saturating_sub(BLOCK);
        let mut buf = vec![0u8; (end - start) as usize];
        let n = read_full(file, &mut buf, start)?;
        if let Some(i) = buf[..n].iter().rposition(|&b| b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const LINE: &str = r#"{"timestamp":"2026-02-01T03:55:25.050620Z","level":"INFO","fields":{"message":"Session Start","session_id":"S"},"target":"operator::session"}"#;

    fn line(id: usize) -> String {
        LINE.replace("\"S\"", &format!("\"S{id}\""))
    }

    fn tracked(path: &Path, position: u64) -> Tracked {
        let file = File::open(path).unwrap();
        let inode = Inode::of(&file.metadata().unwrap());
        Tracked::new(file, path, inode, position).unwrap()
    }

    fn append(path: &Path, text: &str) {
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }

    #[test]
    fn only_complete_lines_are_read_and_checkpointed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        append(&path, &format!("{}\n{}", line(1), &line(2)[..20]));
        let mut t = tracked(&path, 0);
        let batch = t.read_batch(100).unwrap().unwrap();
        assert_eq!(batch.events.len(), 1);
        let expected = line(1).len() as i64 + 1;
        assert_eq!(batch.checkpoints[0].position, expected);
        t.committed(true);
        assert!(t.read_batch(100).unwrap().is_none(), "a partial line waits");
        append(&path, &format!("{}\n", &line(2)[20..]));
        assert_eq!(t.read_batch(100).unwrap().unwrap().events.len(), 1);
    }

    #[test]
    fn cri_partials_hold_the_checkpoint_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        let (head, tail) = LINE.split_at(40);
        append(&path, &format!("2026-02-01T03:55:25.1Z stdout P {head}\n"));
        let mut t = tracked(&path, 0);
        let batch = t.read_batch(100).unwrap().unwrap_or_default();
        assert!(batch.events.is_empty());
        assert!(
            batch.checkpoints.iter().all(|c| c.position == 0),
            "{batch:?}"
        );
        t.committed(true);
        append(&path, &format!("2026-02-01T03:55:25.1Z stdout F {tail}\n"));
        let batch = t.read_batch(100).unwrap().unwrap();
        assert_eq!(batch.events.len(), 1);
        assert_eq!(
            batch.checkpoints[0].position as u64,
            std::fs::metadata(&path).unwrap().len()
        );
    }

    #[test]
    fn a_failed_commit_rereads_from_the_last_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        append(&path, &format!("{}\n{}\n", line(1), line(2)));
        let mut t = tracked(&path, 0);
        assert_eq!(t.read_batch(100).unwrap().unwrap().events.len(), 2);
        t.committed(false);
        assert_eq!(t.read_batch(100).unwrap().unwrap().events.len(), 2);
    }

    #[test]
    fn truncation_and_rewrites_are_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        append(&path, &format!("{}\n", line(1)));
        let mut t = tracked(&path, 0);
        assert_eq!(t.check().unwrap(), Change::Grew);
        t.read_batch(100).unwrap();
        t.committed(true);
        assert_eq!(t.check().unwrap(), Change::None);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        assert_eq!(t.check().unwrap(), Change::Truncated);
        t.restart_from_zero().unwrap();
        append(&path, &format!("{}\n{}\n", line(2), line(3)));
        assert_eq!(t.check().unwrap(), Change::Grew);
        assert_eq!(t.read_batch(100).unwrap().unwrap().events.len(), 2);
    }

    #[test]
    fn over_long_lines_are_rejected_once_and_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        append(
            &path,
            &format!("{}\n{}\n", "x".repeat(READ_CHUNK + 10), line(1)),
        );
        let mut t = tracked(&path, 0);
        let mut events = 0;
        let mut rejects = 0;
        while let Some(batch) = t.read_batch(100).unwrap() {
            events += batch.events.len();
            rejects += batch.rejects.len();
            t.committed(true);
        }
        assert_eq!((events, rejects), (1, 1));
    }

    #[test]
    fn the_end_is_after_the_last_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        append(&path, "a\nbc\nunfinished");
        let file = File::open(&path).unwrap();
        assert_eq!(last_line_end(&file, 15).unwrap(), 5);
        std::fs::write(&path, "no newline").unwrap();
        assert_eq!(last_line_end(&File::open(&path).unwrap(), 10).unwrap(), 0);
    }
}
