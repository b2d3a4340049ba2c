//! ingest: one-shot import of files (plain or gzip) and stdin — the `ingest` subcommand.
//!
//! The same pipeline as `serve` ([`crate::pipeline`]): the store's writer thread commits what
//! the readers submit. Here a reader thread splits the input into chunks of whole lines
//! (capped in length, so a 10 MB line or binary garbage can't exhaust memory), parser threads
//! (one per core) turn chunks into events and their Arrow batches in parallel, and the writer
//! keeps each transaction open until it holds whole row groups ([`IngestOptions::commit_rows`]),
//! so DuckDB writes them straight to the file. Bad input never aborts an import: every line
//! ends up stored, skipped, counted as a duplicate or rejected with a reason and its file:line.
//!
//! CRI `P` and docker partial lines can be split by a chunk edge. Chunks are parsed on their
//! own (a fresh parser each) and their results taken in input order; when a chunk ends with
//! a partial line still open, the next chunk is parsed again, in order, with that parser's
//! state, so the result is exactly that of one parser reading the whole input.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, mpsc};

use flate2::read::MultiGzDecoder;
use indicatif::{ProgressBar, ProgressStyle};

use crate::batch::IncomingEvent;
use crate::event::OperatorEvent;
use crate::parse::{FormatName, InputFormat, LineParser, MAX_LINE_BYTES, Sink};
use crate::pipeline::{self, Ack, PipelineConfig, PipelineHandle, Ready, Submission};
use crate::store::{RejectRecord, Store};

/// How many rejects the summary quotes.
const QUOTED_REJECTS: usize = 5;

/// Lines per chunk handed to a parser thread.
pub const CHUNK_LINES: usize = 16_384;

/// DuckDB's row group: a commit of whole ones is written to the file directly, not the WAL.
pub const ROW_GROUP: usize = 122_880;

/// Events per bulk commit: two row groups. Measured with `bench ingest` (1M events): one row
/// group per commit took 40 % longer, four took the same time with 25 % more peak memory.
pub const COMMIT_ROWS: usize = 2 * ROW_GROUP;

/// DuckDB's memory for a bulk load. The buffer pool otherwise keeps every block written, up to
/// 80 % of RAM. Measured with `bench ingest` (1M events, four runs): 400MB brought peak RSS
/// from 698-705 MiB to 588-622 MiB, below DuckDB's own `read_json` in each same run (642-713
/// MiB), at 4.5-5.5 s instead of 4.6-4.9 s; 256MB saved only 30 MiB more and was slower.
pub const MEMORY_LIMIT: &str = "400MB";

/// Import errors: the inputs can't be opened or the database can't be written. Bad content is
/// never an error; it becomes rejects.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("no such file: {0} (check the path; use `-` for stdin)")]
    Missing(PathBuf),
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: io::Error },
    #[error("cannot store the events: {0}")]
    Store(String),
}

/// Import options.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub format: InputFormat,
    /// Events per commit (the last one holds what is left).
    pub commit_rows: usize,
    /// Parser threads (at least one).
    pub parsers: usize,
    /// Show a progress bar (on a terminal).
    pub progress: bool,
    /// DuckDB's memory for the run (`None`: DuckDB's default, 80 % of RAM).
    pub memory_limit: Option<String>,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            format: InputFormat::Auto,
            commit_rows: COMMIT_ROWS,
            parsers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            progress: false,
            memory_limit: Some(MEMORY_LIMIT.into()),
        }
    }
}

/// What an import did, summed over all inputs.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct IngestSummary {
    pub lines: u64,
    pub stored: u64,
    pub duplicates: u64,
    pub skipped: u64,
    pub rejected: u64,
    /// The first few rejects as `location: reason`.
    pub first_rejects: Vec<String>,
}

impl std::fmt::Display for IngestSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "lines read:                 {}", self.lines)?;
        writeln!(f, "events stored:              {}", self.stored)?;
        writeln!(f, "duplicates skipped:         {}", self.duplicates)?;
        writeln!(f, "non-functional lines skipped: {}", self.skipped)?;
        write!(f, "rejected:                   {}", self.rejected)?;
        for r in &self.first_rejects {
            write!(f, "\n  - {r}")?;
        }
        if self.rejected as usize > self.first_rejects.len() {
            write!(
                f,
                "\n  (all rejects: mirrord-usage sql \"select * from rejects\")"
            )?;
        }
        Ok(())
    }
}

/// Imports every input (`-` is stdin) through the pipeline and gives the store back. All
/// paths are checked first, so a typo fails fast before anything is written.
pub fn ingest_paths(
    store: Store,
    inputs: &[String],
    opts: &IngestOptions,
) -> (Store, Result<IngestSummary, IngestError>) {
    for input in inputs {
        if input != "-" && !std::path::Path::new(input).exists() {
            return (store, Err(IngestError::Missing(PathBuf::from(input))));
        }
    }
    let commit_rows = opts.commit_rows.max(1);
    let config = PipelineConfig {
        batch_size: commit_rows,
        min_commit_rows: commit_rows,
        // Rows are given back to the queue once inserted (not committed), so a few chunks
        // in flight keep the writer fed; more would only hold parsed batches in memory
        // while the writer, the slower side, catches up.
        queue_rows: 4 * CHUNK_LINES,
        queue_capacity: 1024,
        ..PipelineConfig::default()
    };
    if let Some(limit) = &opts.memory_limit
        && let Err(e) = store.set_memory_limit(limit)
    {
        return (store, Err(IngestError::Store(e.to_string())));
    }
    let (handle, writer) = pipeline::start(store, config);
    let mut summary = IngestSummary::default();
    let mut acks = Vec::new();
    let mut outcome = Ok(());
    for input in inputs {
        outcome = ingest_input(&handle, input, opts, &mut summary, &mut acks);
        if outcome.is_err() {
            break;
        }
    }
    let counters = handle.stats.clone();
    drop(handle);
    for ack in acks {
        let stats: Ack = ack
            .blocking_recv()
            .unwrap_or_else(|_| Err("the store's writer stopped".into()));
        if let (Err(e), true) = (stats, outcome.is_ok()) {
            outcome = Err(IngestError::Store(e));
        }
    }
    let store = writer.join().expect("the store's writer thread panicked");
    summary.stored = counters.stored.load(Ordering::Relaxed);
    summary.duplicates = counters.duplicates.load(Ordering::Relaxed);
    summary.rejected = counters.rejected.load(Ordering::Relaxed);
    (store, outcome.map(|()| summary))
}

fn ingest_input(
    handle: &PipelineHandle,
    input: &str,
    opts: &IngestOptions,
    summary: &mut IngestSummary,
    acks: &mut Vec<tokio::sync::oneshot::Receiver<Ack>>,
) -> Result<(), IngestError> {
    if input == "-" {
        let bar = progress_bar(opts.progress, None);
        let reader = BufReader::new(io::stdin().lock());
        ingest_reader(handle, reader, "stdin", opts, summary, acks)?;
        bar.finish_and_clear();
    } else {
        let file = File::open(input).map_err(|source| IngestError::Read {
            path: input.to_string(),
            source,
        })?;
        let len = file.metadata().map(|m| m.len()).ok();
        let bar = progress_bar(opts.progress, len);
        bar.set_message(input.to_string());
        let reader = BufReader::with_capacity(1 << 20, bar.wrap_read(file));
        ingest_reader(
            handle,
            reader,
            &format!("file:{input}"),
            opts,
            summary,
            acks,
        )?;
        bar.finish_and_clear();
    }
    Ok(())
}

fn progress_bar(enabled: bool, len: Option<u64>) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = match len {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    let style = ProgressStyle::with_template(
        "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar
}

/// Imports one stream; gzip is detected by its magic bytes.
fn ingest_reader<R: Read>(
    handle: &PipelineHandle,
    mut reader: BufReader<R>,
    source: &str,
    opts: &IngestOptions,
    summary: &mut IngestSummary,
    acks: &mut Vec<tokio::sync::oneshot::Receiver<Ack>>,
) -> Result<(), IngestError> {
    let gz = reader
        .fill_buf()
        .map_err(|e| IngestError::Read {
            path: source.to_string(),
            source: e,
        })?
        .starts_with(&[0x1f, 0x8b]);
    if gz {
        let inner = BufReader::with_capacity(1 << 20, MultiGzDecoder::new(reader));
        return ingest_lines(handle, inner, source, opts, summary, acks);
    }
    ingest_lines(handle, reader, source, opts, summary, acks)
}

/// Whole lines of the input, in order: the unit a parser thread works on.
struct Chunk {
    index: usize,
    /// Line number (1-based) of the first line.
    first_line: u64,
    /// The lines' bytes, each cut at `MAX_LINE_BYTES + 1`.
    data: Vec<u8>,
    /// Per line: where it ends in `data` and its full length before any cut.
    lines: Vec<(usize, usize)>,
    /// A read error after the last line: the rest of the input is skipped.
    error: Option<String>,
}

/// A parsed chunk: its outcomes and the parser's state after its last line.
struct Parsed {
    chunk: Chunk,
    sink: BatchSink,
    parser: LineParser,
    /// The Arrow batch of `sink.events` with the rejects, built on the parser thread.
    ready: Option<Result<Ready, String>>,
}

/// Parses `chunk` with `parser`, continuing whatever partial lines it holds.
fn parse_chunk(chunk: Chunk, mut parser: LineParser, source: &Arc<str>) -> Parsed {
    let mut sink = BatchSink::new(source.clone());
    let mut start = 0;
    for (i, &(end, total)) in chunk.lines.iter().enumerate() {
        let line = &chunk.data[start..end];
        start = end;
        sink.line = chunk.first_line + i as u64;
        if total > MAX_LINE_BYTES {
            sink.reject(
                format!("line of {total} bytes exceeds the {MAX_LINE_BYTES}-byte limit"),
                line,
            );
        } else {
            parser.feed(line, &mut sink);
        }
    }
    if let Some(e) = &chunk.error {
        sink.line = chunk.first_line + chunk.lines.len() as u64;
        sink.reject(format!("read error, rest of input skipped: {e}"), &[]);
    }
    Parsed {
        chunk,
        sink,
        parser,
        ready: None,
    }
}

/// Builds the chunk's Arrow batch on the calling (parser) thread.
fn prepare(mut parsed: Parsed) -> Parsed {
    let submission = Submission {
        events: std::mem::take(&mut parsed.sink.events),
        rejects: std::mem::take(&mut parsed.sink.rejects),
        ..Default::default()
    };
    parsed.ready = Some(submission.prepare().map_err(|e| e.to_string()));
    parsed
}

/// Reads chunks on this thread, parses them on `opts.parsers` threads, and submits the
/// results in input order.
fn ingest_lines<R: BufRead>(
    handle: &PipelineHandle,
    mut reader: R,
    source: &str,
    opts: &IngestOptions,
    summary: &mut IngestSummary,
    acks: &mut Vec<tokio::sync::oneshot::Receiver<Ack>>,
) -> Result<(), IngestError> {
    let source: Arc<str> = Arc::from(source);
    let format = opts.format;
    let workers = opts.parsers.max(1);
    std::thread::scope(|scope| -> Result<(), IngestError> {
        // Bounded both ways: at most two chunks wait per parser, and results wait for order.
        let (chunk_tx, chunk_rx) = mpsc::sync_channel::<Chunk>(2 * workers);
        let chunk_rx = Arc::new(Mutex::new(chunk_rx));
        let (done_tx, done_rx) = mpsc::sync_channel::<Parsed>(2 * workers);
        for _ in 0..workers {
            let rx = chunk_rx.clone();
            let tx = done_tx.clone();
            let source = source.clone();
            scope.spawn(move || {
                loop {
                    let next = rx.lock().map(|r| r.recv());
                    let Ok(Ok(chunk)) = next else { break };
                    let parsed = prepare(parse_chunk(chunk, LineParser::new(format), &source));
                    if tx.send(parsed).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        let collector = scope.spawn({
            let source = source.clone();
            move || collect_in_order(done_rx, handle, format, &source)
        });
        let read = read_chunks(&mut reader, &chunk_tx);
        drop(chunk_tx);
        let collected = collector.join().expect("the ingest collector panicked");
        let (lines, stats) = collected?;
        summary.lines += lines;
        let CollectStats {
            skipped,
            first_rejects,
            acks: new_acks,
        } = stats;
        summary.skipped += skipped;
        for r in first_rejects {
            if summary.first_rejects.len() < QUOTED_REJECTS {
                summary.first_rejects.push(r);
            }
        }
        acks.extend(new_acks);
        read.map_err(|e| IngestError::Read {
            path: source.to_string(),
            source: e,
        })
    })
}

/// Splits the input into chunks of whole lines. A read error ends the input with a chunk
/// that says so (its lines are kept); only a failed hand-over is an error here.
fn read_chunks<R: BufRead>(reader: &mut R, tx: &mpsc::SyncSender<Chunk>) -> io::Result<()> {
    let mut index = 0;
    let mut next_line = 1u64;
    loop {
        let mut chunk = Chunk {
            index,
            first_line: next_line,
            data: Vec::with_capacity(CHUNK_LINES * 512),
            lines: Vec::with_capacity(CHUNK_LINES),
            error: None,
        };
        let mut ended = false;
        while chunk.lines.len() < CHUNK_LINES {
            let before = chunk.data.len();
            match read_capped_line_into(reader, &mut chunk.data, before, MAX_LINE_BYTES) {
                Ok(Some(total)) => chunk.lines.push((chunk.data.len(), total)),
                Ok(None) => {
                    ended = true;
                    break;
                }
                Err(e) => {
                    // A corrupt gzip stream or an I/O error mid-file: keep what was read, say why.
                    chunk.data.truncate(before);
                    chunk.error = Some(e.to_string());
                    ended = true;
                    break;
                }
            }
        }
        next_line += chunk.lines.len() as u64;
        index += 1;
        let empty = chunk.lines.is_empty() && chunk.error.is_none();
        if !empty && tx.send(chunk).is_err() {
            return Err(io::Error::other("the parser threads stopped"));
        }
        if ended {
            return Ok(());
        }
    }
}

/// What the collector adds to the summary.
#[derive(Default)]
struct CollectStats {
    skipped: u64,
    first_rejects: Vec<String>,
    acks: Vec<tokio::sync::oneshot::Receiver<Ack>>,
}

/// Takes parsed chunks in input order, re-parses one whose predecessor left a partial line
/// open, and submits each. Returns the lines read.
fn collect_in_order(
    done: mpsc::Receiver<Parsed>,
    handle: &PipelineHandle,
    format: InputFormat,
    source: &Arc<str>,
) -> Result<(u64, CollectStats), IngestError> {
    let mut waiting: BTreeMap<usize, Parsed> = BTreeMap::new();
    let mut next = 0usize;
    let mut carried: Option<LineParser> = None;
    let mut stats = CollectStats::default();
    let mut lines = 0u64;
    let submit = |parsed: &mut Parsed, stats: &mut CollectStats| -> Result<(), IngestError> {
        let ready = match parsed.ready.take() {
            Some(Ok(ready)) => ready,
            Some(Err(e)) => return Err(IngestError::Store(e)),
            None => return Ok(()),
        };
        for r in ready
            .rejects
            .iter()
            .take(QUOTED_REJECTS.saturating_sub(stats.first_rejects.len()))
        {
            stats.first_rejects.push(format!(
                "{}: {}",
                r.location.as_deref().unwrap_or(&r.source),
                r.reason
            ));
        }
        stats.skipped += std::mem::take(&mut parsed.sink.skipped);
        let ack = handle
            .enqueue_ready_blocking(ready)
            .map_err(|e| IngestError::Store(e.to_string()))?;
        stats.acks.push(ack);
        Ok(())
    };
    for parsed in done {
        waiting.insert(parsed.chunk.index, parsed);
        while let Some(mut parsed) = waiting.remove(&next) {
            next += 1;
            lines += parsed.chunk.lines.len() as u64;
            if let Some(parser) = carried.take().filter(LineParser::pending) {
                // The previous chunk ended inside a partial line: this one continues it.
                parsed = prepare(parse_chunk(parsed.chunk, parser, source));
            }
            submit(&mut parsed, &mut stats)?;
            carried = Some(parsed.parser);
        }
    }
    // Partial lines still open at the end of the input are rejects.
    let mut parser = carried.unwrap_or_else(|| LineParser::new(format));
    let mut sink = BatchSink::new(source.clone());
    sink.line = lines;
    parser.finish(&mut sink);
    if !sink.rejects.is_empty() {
        let mut last = prepare(Parsed {
            chunk: Chunk {
                index: next,
                first_line: lines,
                data: Vec::new(),
                lines: Vec::new(),
                error: None,
            },
            sink,
            parser,
            ready: None,
        });
        submit(&mut last, &mut stats)?;
    }
    Ok((lines, stats))
}

/// Reads one line into `buf` (without the newline), keeping at most `cap + 1` bytes.
/// Returns the line's full length, or `None` at end of input.
pub fn read_capped_line<R: BufRead>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    cap: usize,
) -> io::Result<Option<usize>> {
    read_capped_line_into(reader, buf, 0, cap)
}

/// [`read_capped_line`] appending to `buf`, whose line starts at `start`.
fn read_capped_line_into<R: BufRead>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    start: usize,
    cap: usize,
) -> io::Result<Option<usize>> {
    let mut total = 0usize;
    let mut any = false;
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(any.then_some(total));
        }
        any = true;
        let (piece, done) = match memchr(chunk) {
            Some(i) => (&chunk[..i], Some(i + 1)),
            None => (chunk, None),
        };
        let room = (cap + 1).saturating_sub(buf.len() - start);
        buf.extend_from_slice(&piece[..piece.len().min(room)]);
        total += piece.len();
        let consumed = done.unwrap_or(chunk.len());
        reader.consume(consumed);
        if done.is_some() {
            return Ok(Some(total));
        }
    }
}

fn memchr(s: &[u8]) -> Option<usize> {
    s.iter().position(|&b| b == b'\n')
}

/// Collects parse outcomes for one chunk.
struct BatchSink {
    source: Arc<str>,
    line: u64,
    events: Vec<IncomingEvent>,
    rejects: Vec<RejectRecord>,
    skipped: u64,
}

impl BatchSink {
    fn new(source: Arc<str>) -> Self {
        BatchSink {
            source,
            line: 0,
            events: Vec::new(),
            rejects: Vec::new(),
            skipped: 0,
        }
    }
}

impl Sink for BatchSink {
    fn event(&mut self, event: OperatorEvent, format: FormatName) {
        self.events.push(IncomingEvent {
            event,
            format,
            source: self.source.clone(),
        });
    }

    fn skip(&mut self) {
        self.skipped += 1;
    }

    fn reject(&mut self, reason: String, raw: &[u8]) {
        let location = format!("{}:{}", self.source.trim_start_matches("file:"), self.line);
        self.rejects
            .push(RejectRecord::new(&self.source, Some(location), reason, raw));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_line(i: usize) -> String {
        format!(
            r#"{{"timestamp":"2026-02-01T03:{:02}:{:02}.{:06}Z","level":"INFO","fields":{{"message":"Port Steal","session_id":"S{i}","port":8080}},"target":"operator::session"}}"#,
            (i / 60) % 60,
            i % 60,
            i
        )
    }

    /// A CRI line whose pieces straddle chunk edges: the parsers see the pieces in different
    /// chunks, and the result must still be one event per operator line and no rejects.
    #[test]
    fn partial_lines_across_chunk_edges_join_as_one_parser_would() {
        let mut lines = Vec::new();
        let mut events = 0;
        let mut i = 0;
        while lines.len() < 3 * CHUNK_LINES + 10 {
            let line = json_line(i);
            i += 1;
            events += 1;
            let at = lines.len() + 1; // the 1-based number this line starts at
            let pieces = if at == CHUNK_LINES {
                2 // P at the last line of chunk 1, F at the first of chunk 2
            } else if at == 2 * CHUNK_LINES - 1 {
                4 // P, P at the end of chunk 2, P, F at the start of chunk 3
            } else {
                1
            };
            let step = line.len().div_ceil(pieces);
            let bytes = line.as_bytes();
            for (k, piece) in bytes.chunks(step).enumerate() {
                let tag = if k + 1 == pieces { 'F' } else { 'P' };
                lines.push(format!(
                    "2026-02-01T03:55:25.000000000Z stdout {tag} {}",
                    std::str::from_utf8(piece).unwrap()
                ));
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("edges.log");
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let store = crate::database::open(":memory:").unwrap();
        let opts = IngestOptions {
            parsers: 2,
            ..IngestOptions::default()
        };
        let (store, summary) = ingest_paths(store, &[path.display().to_string()], &opts);
        let summary = summary.unwrap();
        assert_eq!(summary.lines as usize, lines.len());
        assert_eq!(
            (summary.stored, summary.rejected, summary.duplicates),
            (events, 0, 0),
            "{:?}",
            summary.first_rejects
        );
        let distinct: i64 = store
            .connection()
            .query_row(
                "SELECT count(DISTINCT session_id) FROM events WHERE port = 8080",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(distinct as u64, events);
    }

    /// The memory limit reaches the DuckDB instance the import writes with.
    #[test]
    fn the_memory_limit_is_set_on_the_instance() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.log");
        std::fs::write(&path, "").unwrap();
        let store = crate::database::open(":memory:").unwrap();
        let opts = IngestOptions {
            memory_limit: Some("64MB".into()),
            ..IngestOptions::default()
        };
        let (store, summary) = ingest_paths(store, &[path.display().to_string()], &opts);
        summary.unwrap();
        let limit: String = store
            .connection()
            .query_row("SELECT current_setting('memory_limit')", [], |r| r.get(0))
            .unwrap();
        // 64MB is 64,000,000 bytes, which DuckDB shows in MiB.
        assert_eq!(limit, "61.0 MiB");
    }
}
