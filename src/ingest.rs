//! ingest: one-shot import of files (plain or gzip) and stdin — the `ingest` subcommand.
//!
//! Reads lines (capped in length so a 10 MB line or binary garbage can't exhaust memory),
//! hands them to a [`LineParser`], batches the events and appends each batch with its rejects.
//! Bad input never aborts an import: every line ends up stored, skipped, counted as a
//! duplicate or rejected with a reason and its file:line.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::Arc;

use flate2::read::MultiGzDecoder;
use indicatif::{ProgressBar, ProgressStyle};

use crate::batch::IncomingEvent;
use crate::event::OperatorEvent;
use crate::parse::{FormatName, InputFormat, LineParser, MAX_LINE_BYTES, Sink};
use crate::store::{AppendStats, RejectRecord, Store, StoreError};

/// How many rejects the summary quotes.
const QUOTED_REJECTS: usize = 5;

/// Import errors: the inputs can't be opened or the database can't be written. Bad content is
/// never an error; it becomes rejects.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("no such file: {0} (check the path; use `-` for stdin)")]
    Missing(PathBuf),
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Import options.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub format: InputFormat,
    /// Events per committed batch.
    pub batch_size: usize,
    /// Show a progress bar (on a terminal).
    pub progress: bool,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            format: InputFormat::Auto,
            batch_size: 50_000,
            progress: false,
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

/// Imports every input (`-` is stdin). All paths are checked first, so a typo fails fast
/// before anything is written.
pub fn ingest_paths(
    store: &mut Store,
    inputs: &[String],
    opts: &IngestOptions,
) -> Result<IngestSummary, IngestError> {
    for input in inputs {
        if input != "-" && !std::path::Path::new(input).exists() {
            return Err(IngestError::Missing(PathBuf::from(input)));
        }
    }
    let mut summary = IngestSummary::default();
    for input in inputs {
        if input == "-" {
            let bar = progress_bar(opts.progress, None);
            let reader = BufReader::new(io::stdin().lock());
            ingest_reader(store, reader, "stdin", opts, &bar, &mut summary)?;
            bar.finish_and_clear();
        } else {
            let file = File::open(input).map_err(|source| IngestError::Read {
                path: input.clone(),
                source,
            })?;
            let len = file.metadata().map(|m| m.len()).ok();
            let bar = progress_bar(opts.progress, len);
            bar.set_message(input.clone());
            let reader = BufReader::with_capacity(1 << 20, bar.wrap_read(file));
            ingest_reader(
                store,
                reader,
                &format!("file:{input}"),
                opts,
                &bar,
                &mut summary,
            )?;
            bar.finish_and_clear();
        }
    }
    Ok(summary)
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
pub fn ingest_reader<R: Read>(
    store: &mut Store,
    mut reader: BufReader<R>,
    source: &str,
    opts: &IngestOptions,
    bar: &ProgressBar,
    summary: &mut IngestSummary,
) -> Result<(), IngestError> {
    let read_err = |source_err: io::Error| IngestError::Read {
        path: source.to_string(),
        source: source_err,
    };
    let gz = reader
        .fill_buf()
        .map_err(read_err)?
        .starts_with(&[0x1f, 0x8b]);
    if gz {
        let inner = BufReader::with_capacity(1 << 20, MultiGzDecoder::new(reader));
        return ingest_lines(store, inner, source, opts, bar, summary);
    }
    ingest_lines(store, reader, source, opts, bar, summary)
}

/// One batch on its way from the parser to the writer.
struct Flush {
    events: Vec<IncomingEvent>,
    rejects: Vec<RejectRecord>,
}

/// Parses on the calling thread while a second thread appends the previous batch, so parsing
/// and DuckDB's work overlap. The queue between them holds two batches, which bounds memory.
fn ingest_lines<R: BufRead>(
    store: &mut Store,
    mut reader: R,
    source: &str,
    opts: &IngestOptions,
    bar: &ProgressBar,
    summary: &mut IngestSummary,
) -> Result<(), IngestError> {
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Flush>(2);
        let writer = scope.spawn(move || -> Result<AppendStats, IngestError> {
            let mut total = AppendStats::default();
            for f in rx {
                let s = store.append(&f.events, &f.rejects, &[])?;
                total.stored += s.stored;
                total.duplicates += s.duplicates;
                total.rejected += s.rejected;
            }
            Ok(total)
        });
        let mut parser = LineParser::new(opts.format);
        let mut sink = BatchSink::new(source);
        let mut buf = Vec::with_capacity(4096);
        let mut sent = 0u64;
        loop {
            buf.clear();
            let total = match read_capped_line(&mut reader, &mut buf, MAX_LINE_BYTES) {
                Ok(Some(n)) => n,
                Ok(None) => break,
                Err(e) => {
                    // A corrupt gzip stream or an I/O error mid-file: keep what was read, say why.
                    sink.line += 1;
                    sink.reject(format!("read error, rest of input skipped: {e}"), &[]);
                    break;
                }
            };
            summary.lines += 1;
            sink.line += 1;
            if total > MAX_LINE_BYTES {
                sink.reject(
                    format!("line of {total} bytes exceeds the {MAX_LINE_BYTES}-byte limit"),
                    &buf,
                );
            } else {
                parser.feed(&buf, &mut sink);
            }
            if sink.events.len() >= opts.batch_size {
                sent += sink.events.len() as u64;
                if tx.send(sink.take(summary)).is_err() {
                    break; // the writer failed; its error is reported below
                }
                bar.set_message(format!("{source}: {sent} events parsed"));
            }
        }
        parser.finish(&mut sink);
        let _ = tx.send(sink.take(summary));
        drop(tx);
        let stats = writer.join().unwrap_or_else(|_| {
            Err(IngestError::Read {
                path: source.to_string(),
                source: io::Error::other("writer thread panicked"),
            })
        })?;
        summary.stored += stats.stored;
        summary.duplicates += stats.duplicates;
        summary.rejected += stats.rejected;
        Ok(())
    })
}

/// Reads one line into `buf` (without the newline), keeping at most `cap + 1` bytes.
/// Returns the line's full length, or `None` at end of input.
pub fn read_capped_line<R: BufRead>(
    reader: &mut R,
    buf: &mut Vec<u8>,
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
        let room = (cap + 1).saturating_sub(buf.len());
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

/// Collects parse outcomes for one input until they are flushed to the store.
struct BatchSink {
    source: Arc<str>,
    line: u64,
    events: Vec<IncomingEvent>,
    rejects: Vec<RejectRecord>,
    skipped: u64,
}

impl BatchSink {
    fn new(source: &str) -> Self {
        BatchSink {
            source: Arc::from(source),
            line: 0,
            events: Vec::new(),
            rejects: Vec::new(),
            skipped: 0,
        }
    }

    /// Hands over the collected batch, noting the first rejects and the skips in `summary`.
    fn take(&mut self, summary: &mut IngestSummary) -> Flush {
        for r in self
            .rejects
            .iter()
            .take(QUOTED_REJECTS.saturating_sub(summary.first_rejects.len()))
        {
            summary.first_rejects.push(format!(
                "{}: {}",
                r.location.as_deref().unwrap_or(&r.source),
                r.reason
            ));
        }
        summary.skipped += std::mem::take(&mut self.skipped);
        Flush {
            events: std::mem::take(&mut self.events),
            rejects: std::mem::take(&mut self.rejects),
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
