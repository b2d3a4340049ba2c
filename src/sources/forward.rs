//! The fluentd Forward protocol (v1) over TCP, default `:24224`, for fluentd `out_forward`,
//! fluent-bit's `forward` output and fluent logger libraries.
//!
//! Every event mode is read: Message `[tag, time, record, option?]`, Forward
//! `[tag, [[time, record], ...], option?]`, PackedForward `[tag, bin, option?]` and
//! CompressedPackedForward (the same, gzip, `{"compressed": "gzip"}`). Times are `EventTime`
//! (ext type 0) or integer seconds; fluent-bit's `[[time, metadata], record]` entries work too.
//! A msgpack `nil` is a heartbeat.
//!
//! Delivery: each message becomes one submission. When its option carries `chunk`, the
//! reply `{"ack": chunk}` is written only after the commit, in message order. While the queue
//! is full the connection stops reading (acks are withheld, TCP pushes back); if a commit
//! fails the connection is closed without the ack, so the sender retries. Records that can't
//! be read become rejects and the chunk is still acknowledged: sending them again can't help.
//!
//! With `[receivers] forward_shared_key` set, a connection must pass the handshake first:
//! server `HELO` (nonce), client `PING` (sha512 of salt, hostname, nonce, key), server `PONG`.

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rand::RngCore;
use rmpv::Value;
use sha2::{Digest, Sha512};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;

use super::limits::RequestLimits;
use super::msgpack::{self, Framer, bytes_of, event_time_nanos, rfc3339, to_json};
use super::{Running, SubmissionSink, await_ack, local_address, stopped, submit_when_room};
use crate::config::ReceiversConfig;
use crate::parse::{InputFormat, LineParser, Sink};
use crate::pipeline::{Ack, PipelineHandle};

/// The `source` of events received here.
const SOURCE: &str = "forward";

/// Messages of one connection that may wait for their commit before reading pauses. Their
/// data is already in the pipeline's bounded queue (which bounds memory); this only keeps a
/// sender of many small messages (Message mode) from waiting one flush interval per few.
const IN_FLIGHT_PER_CONNECTION: usize = 4096;

/// After shutdown, how long connections go on reading what senders had already sent...
const SHUTDOWN_DRAIN: Duration = Duration::from_secs(2);

/// ...stopping earlier once a connection has been quiet this long.
const DRAIN_QUIET: Duration = Duration::from_millis(200);

/// How long a client has to answer `HELO`.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Bytes read from a socket at a time.
const READ_BYTES: usize = 64 * 1024;

/// Why a connection was closed.
#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error("read failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("not MessagePack: {0}")]
    Frame(#[from] super::msgpack::FrameError),
    #[error("not MessagePack: {0}")]
    Decode(#[from] rmpv::decode::Error),
    #[error("the connection closed inside a message")]
    Truncated,
    #[error("handshake failed: {0}")]
    Handshake(String),
    #[error("nothing received for {0} s ([receivers] forward_idle_timeout_seconds)")]
    Idle(u64),
    #[error("message refused: {0}")]
    Refused(String),
}

/// What every connection needs to know.
struct Settings {
    /// Largest message, and largest decompressed PackedForward stream, in bytes.
    limit: usize,
    /// Entries and MessagePack values one message may hold.
    limits: RequestLimits,
    /// A connection silent this long is closed.
    idle_timeout: Duration,
    /// Connections open at once.
    max_connections: usize,
    shared_key: Option<String>,
    hostname: String,
}

/// Serves the Forward protocol on `listener` until `shutdown`: then stops accepting, stops
/// reading, and waits until every message already read is committed and acknowledged.
pub fn start(
    listener: TcpListener,
    config: &ReceiversConfig,
    pipeline: PipelineHandle,
    shutdown: watch::Receiver<bool>,
) -> Running {
    let address = local_address(&listener, &config.forward);
    let settings = Arc::new(Settings {
        limit: config.max_body_bytes,
        limits: RequestLimits::from(config),
        idle_timeout: Duration::from_secs(config.forward_idle_timeout_seconds.max(1)),
        max_connections: config.forward_max_connections.max(1),
        shared_key: config.forward_shared_key.get().map(str::to_string),
        hostname: server_hostname(),
    });
    let auth = if settings.shared_key.is_some() {
        ", shared key"
    } else {
        ""
    };
    let task = tokio::spawn(accept_loop(listener, settings, pipeline, shutdown));
    Running {
        name: "forward",
        address: format!("{address}  fluentd Forward (TCP{auth})"),
        task,
    }
}

fn server_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "mirrord-usage".into())
}

async fn accept_loop(
    listener: TcpListener,
    settings: Arc<Settings>,
    pipeline: PipelineHandle,
    shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped(shutdown.clone()) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) if connections.len() >= settings.max_connections => {
                    tracing::warn!(%peer, max = settings.max_connections, "forward: too many connections ([receivers] forward_max_connections); closing the new one");
                    drop(stream);
                }
                Ok((stream, _)) => {
                    let conn = serve_connection(stream, settings.clone(), pipeline.clone(), shutdown.clone());
                    connections.spawn(conn);
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "forward: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// Reads framed MessagePack values from one socket.
struct Incoming {
    read: OwnedReadHalf,
    buf: BytesMut,
    framer: Framer,
    limit: usize,
    limits: RequestLimits,
    idle_timeout: Duration,
}

impl Incoming {
    /// The next value, or `None` at a clean end of stream.
    async fn next_value(&mut self) -> Result<Option<Value>, ConnError> {
        loop {
            if !self.buf.is_empty()
                && let Some(n) = self.framer.next_value(&self.buf, self.limit)?
            {
                let frame = self.buf.split_to(n);
                return Ok(Some(rmpv::decode::read_value(&mut &frame[..])?));
            }
            self.buf.reserve(READ_BYTES);
            let read = tokio::time::timeout(self.idle_timeout, self.read.read_buf(&mut self.buf));
            let Ok(read) = read.await else {
                return Err(ConnError::Idle(self.idle_timeout.as_secs()));
            };
            if read? == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(ConnError::Truncated)
                };
            }
        }
    }
}

/// A message read and queued, waiting for its commit.
struct Pending {
    chunk: Option<Value>,
    ack: oneshot::Receiver<Ack>,
}

async fn serve_connection(
    stream: TcpStream,
    settings: Arc<Settings>,
    pipeline: PipelineHandle,
    shutdown: watch::Receiver<bool>,
) {
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut incoming = Incoming {
        read,
        buf: BytesMut::new(),
        framer: Framer::new(settings.limits.items),
        limit: settings.limit,
        limits: settings.limits,
        idle_timeout: settings.idle_timeout,
    };
    if let Some(key) = &settings.shared_key {
        let shaken = tokio::time::timeout(
            HANDSHAKE_TIMEOUT,
            handshake(&mut incoming, &mut write, key, &settings.hostname),
        );
        match shaken.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return tracing::warn!(%peer, error = %e, "forward: connection refused"),
            Err(_) => return tracing::warn!(%peer, "forward: no PING within the handshake timeout"),
        }
    }
    let (pending_tx, pending_rx) = mpsc::channel(IN_FLIGHT_PER_CONNECTION);
    let acker = tokio::spawn(write_acks(write, pending_rx, peer.clone()));
    if let Err(e) = read_messages(&mut incoming, &pipeline, &pending_tx, shutdown).await {
        tracing::warn!(%peer, error = %e, "forward: closing the connection");
    }
    drop(pending_tx);
    let _ = acker.await;
}

/// Reads messages and queues them until the peer closes, the stream breaks, acks can't be
/// written, or the service shuts down (then what was already sent is still read, briefly).
async fn read_messages(
    incoming: &mut Incoming,
    pipeline: &PipelineHandle,
    pending: &mpsc::Sender<Pending>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), ConnError> {
    let mut drain_until: Option<Instant> = None;
    loop {
        let value = match drain_until {
            None => tokio::select! {
                _ = stopped(shutdown.clone()) => {
                    drain_until = Some(Instant::now() + SHUTDOWN_DRAIN);
                    continue;
                }
                value = incoming.next_value() => value?,
            },
            Some(until) => {
                let quiet = DRAIN_QUIET.min(until.saturating_duration_since(Instant::now()));
                match tokio::time::timeout(quiet, incoming.next_value()).await {
                    Ok(value) => value?,
                    Err(_) => return Ok(()),
                }
            }
        };
        let Some(value) = value else { return Ok(()) };
        if value.is_nil() {
            continue; // heartbeat
        }
        let mut sink = SubmissionSink::new(SOURCE);
        let chunk = collect_message(value, incoming.limit, incoming.limits, &mut sink)
            .map_err(ConnError::Refused)?;
        let Ok(ack) = submit_when_room(pipeline, sink.submission).await else {
            return Ok(());
        };
        if pending.send(Pending { chunk, ack }).await.is_err() {
            return Ok(()); // the acker gave up on this connection
        }
    }
}

/// Writes `{"ack": chunk}` for each committed message, in order. A failed commit closes the
/// connection without its ack, so the sender sends the chunk again.
async fn write_acks(mut write: OwnedWriteHalf, mut pending: mpsc::Receiver<Pending>, peer: String) {
    while let Some(p) = pending.recv().await {
        if let Err(e) = await_ack(p.ack).await {
            return tracing::warn!(%peer, error = %e, "forward: withholding the ack and closing");
        }
        let Some(chunk) = p.chunk else { continue };
        let ack = Value::Map(vec![(Value::from("ack"), chunk)]);
        if let Err(e) = send(&mut write, &ack).await {
            return tracing::warn!(%peer, error = %e, "forward: cannot write an ack");
        }
    }
}

async fn send(write: &mut OwnedWriteHalf, value: &Value) -> std::io::Result<()> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, value).map_err(std::io::Error::other)?;
    write.write_all(&out).await
}

/// Parses one message into `sink`; returns the chunk id to acknowledge, if any.
/// Takes one message apart into `sink`; returns its chunk id. `Err` (too many entries) refuses
/// the whole message: the connection is closed without an ack.
fn collect_message(
    value: Value,
    limit: usize,
    limits: RequestLimits,
    sink: &mut SubmissionSink,
) -> Result<Option<Value>, String> {
    if let Err(reason) = check_message(&value) {
        sink.next_record();
        sink.reject(reason.into(), &value_excerpt(&value));
        return Ok(None);
    }
    let Value::Array(items) = value else {
        return Ok(None);
    };
    let (entries, option) = split_message(items, limit, limits)?;
    let mut parser = LineParser::new(InputFormat::Auto);
    for entry in entries {
        sink.next_record();
        feed_entry(entry, &mut parser, sink);
    }
    parser.finish(sink);
    Ok(option.and_then(|o| option_value(&o, "chunk").cloned()))
}

/// Parses a stream of MessagePack `[time, record]` entries (fluent-bit's `http` output in its
/// default `msgpack` format) into `sink`, one record per entry.
/// `Err` when the stream holds more entries or values than `limits` allow.
pub fn collect_entries(
    packed: &[u8],
    limit: usize,
    limits: RequestLimits,
    sink: &mut SubmissionSink,
) -> Result<(), String> {
    let mut parser = LineParser::new(InputFormat::Auto);
    for entry in unpack_entries(packed, false, limit, limits)? {
        sink.next_record();
        feed_entry(entry, &mut parser, sink);
    }
    parser.finish(sink);
    Ok(())
}

/// Checks a message's outer shape before it is taken apart.
fn check_message(value: &Value) -> Result<(), &'static str> {
    let items = value
        .as_array()
        .ok_or("a Forward message must be an array [tag, ...]")?;
    if items.len() < 2 || items.len() > 4 || bytes_of(&items[0]).is_none() {
        return Err(
            "a Forward message must be [tag, entries, option?] or [tag, time, record, option?]",
        );
    }
    let message_mode = !matches!(
        items[1],
        Value::Array(_) | Value::Binary(_) | Value::String(_)
    );
    if message_mode && items.len() < 3 {
        return Err("Message mode needs [tag, time, record]");
    }
    Ok(())
}

/// A message's entries (each `[time, record]`, or an error for a bad packed stream) and its
/// option map.
type Parts = (Vec<Result<Value, String>>, Option<Value>);

/// Takes apart a message that passed [`check_message`]; `Err` past `limits.records` entries.
fn split_message(items: Vec<Value>, limit: usize, limits: RequestLimits) -> Result<Parts, String> {
    let mut items = items.into_iter().skip(1);
    Ok(match items.next() {
        Some(Value::Array(entries)) => {
            if entries.len() > limits.records {
                return Err(too_many_entries(limits.records));
            }
            (entries.into_iter().map(Ok).collect(), items.next())
        }
        Some(packed @ (Value::Binary(_) | Value::String(_))) => {
            let option = items.next();
            let compressed = option
                .as_ref()
                .and_then(|o| option_value(o, "compressed"))
                .and_then(bytes_of)
                .is_some_and(|c| c == b"gzip");
            let packed = bytes_of(&packed).unwrap_or_default();
            (unpack_entries(packed, compressed, limit, limits)?, option)
        }
        Some(time) => {
            let record = items.next().unwrap_or(Value::Nil);
            (vec![Ok(Value::Array(vec![time, record]))], items.next())
        }
        None => (Vec::new(), None),
    })
}

fn too_many_entries(max: usize) -> String {
    format!(
        "more than {max} entries in one message ([receivers] max_records_per_request); send smaller chunks"
    )
}

/// The entries of a PackedForward stream (gunzipped first when compressed). A corrupt tail
/// becomes one error after the entries read before it. `Err` refuses the whole stream: more
/// entries than `limits.records`, or more MessagePack values in all than `limits.items`
/// (counted before each entry is decoded, so a stream of `nil`s stays cheap to refuse).
fn unpack_entries(
    packed: &[u8],
    compressed: bool,
    limit: usize,
    limits: RequestLimits,
) -> Result<Vec<Result<Value, String>>, String> {
    let inflated;
    let mut rest = if compressed {
        let mut out = Vec::new();
        let read = flate2::read::MultiGzDecoder::new(packed)
            .take(limit as u64 + 1)
            .read_to_end(&mut out);
        match read {
            Err(e) => {
                return Ok(vec![Err(format!(
                    "CompressedPackedForward: invalid gzip: {e}"
                ))]);
            }
            Ok(n) if n > limit => {
                return Err(format!(
                    "CompressedPackedForward: more than {limit} bytes inflated"
                ));
            }
            Ok(_) => {}
        }
        inflated = out;
        &inflated[..]
    } else {
        packed
    };
    let mut entries = Vec::new();
    let mut items_left = limits.items;
    while !rest.is_empty() {
        if entries.len() >= limits.records {
            return Err(too_many_entries(limits.records));
        }
        let mut framer = Framer::new(items_left);
        let framed = framer.next_value(rest, limit);
        if let Err(e @ super::msgpack::FrameError::TooManyItems(_)) = &framed {
            return Err(e.to_string());
        }
        items_left -= framer.items().min(items_left);
        let entry = match framed {
            Ok(Some(n)) => rmpv::decode::read_value(&mut &rest[..n])
                .map(|v| (v, n))
                .map_err(|e| e.to_string()),
            Ok(None) => Err("truncated entry".to_string()),
            Err(e) => Err(e.to_string()),
        };
        match entry {
            Ok((value, n)) => {
                entries.push(Ok(value));
                rest = &rest[n..];
            }
            Err(e) => {
                entries.push(Err(format!("PackedForward stream: {e}")));
                break;
            }
        }
    }
    Ok(entries)
}

fn option_value<'a>(option: &'a Value, key: &str) -> Option<&'a Value> {
    option
        .as_map()?
        .iter()
        .find(|(k, _)| bytes_of(k) == Some(key.as_bytes()))
        .map(|(_, v)| v)
}

/// Feeds one `[time, record]` entry to the parser as a structured record (its keys in order,
/// duplicates kept; no JSON text in between). A record with neither its
/// own `timestamp` nor a `log` line gets the entry's time as its timestamp.
fn feed_entry(entry: Result<Value, String>, parser: &mut LineParser, sink: &mut SubmissionSink) {
    let entry = match entry {
        Ok(e) => e,
        Err(reason) => return sink.reject(reason, b""),
    };
    let time = match check_entry(&entry) {
        Ok(time) => time,
        Err(reason) => return sink.reject(reason.into(), &value_excerpt(&entry)),
    };
    let Value::Array(mut pair) = entry else {
        return;
    };
    let Some(record) = pair.pop().and_then(msgpack::to_ordered) else {
        return;
    };
    let mut object = record;
    if object.get("timestamp").is_none() && object.get("log").is_none() {
        match time {
            Some(nanos) => object.0.push((
                "timestamp".into(),
                serde_json::Value::String(rfc3339(nanos)),
            )),
            None => {
                return sink.reject(
                    "an entry's time must be EventTime or an integer".into(),
                    b"",
                );
            }
        };
    }
    parser.feed_object(object, sink);
}

/// Checks an entry's shape; returns its time in nanoseconds, if it has a readable one.
fn check_entry(entry: &Value) -> Result<Option<i64>, &'static str> {
    let Some([time, record]) = entry.as_array().map(Vec::as_slice) else {
        return Err("an entry must be [time, record]");
    };
    if !record.is_map() {
        return Err("an entry's record must be a map");
    }
    // fluent-bit 2+ sends [[time, metadata], record].
    let time = match time {
        Value::Array(t) => t.first().unwrap_or(&Value::Nil),
        t => t,
    };
    Ok(event_time_nanos(time))
}

/// A readable excerpt of a MessagePack value for a reject row.
fn value_excerpt(value: &Value) -> Vec<u8> {
    to_json(value.clone()).to_string().into_bytes()
}

/// Runs the shared-key handshake: HELO, check the PING, answer PONG.
async fn handshake(
    incoming: &mut Incoming,
    write: &mut OwnedWriteHalf,
    key: &str,
    hostname: &str,
) -> Result<(), ConnError> {
    let mut nonce = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut nonce);
    let helo = Value::Array(vec![
        Value::from("HELO"),
        Value::Map(vec![
            (Value::from("nonce"), Value::Binary(nonce.to_vec())),
            (Value::from("auth"), Value::from("")),
            (Value::from("keepalive"), Value::Boolean(true)),
        ]),
    ]);
    send(write, &helo).await?;
    let ping = incoming.next_value().await?.ok_or(ConnError::Truncated)?;
    match check_ping(&ping, &nonce, key) {
        Ok(salt) => {
            let digest = shared_key_digest(&salt, hostname.as_bytes(), &nonce, key);
            send(write, &pong(true, "", hostname, &digest)).await?;
            Ok(())
        }
        Err(reason) => {
            let _ = send(write, &pong(false, &reason, hostname, "")).await;
            Err(ConnError::Handshake(reason))
        }
    }
}

/// Checks `["PING", hostname, salt, digest, user, password_digest]`; returns the salt.
fn check_ping(ping: &Value, nonce: &[u8], key: &str) -> Result<Vec<u8>, String> {
    let items = ping.as_array().map(Vec::as_slice).unwrap_or_default();
    let [kind, hostname, salt, digest, ..] = items else {
        return Err("expected PING".into());
    };
    if bytes_of(kind) != Some(b"PING") {
        return Err("expected PING".into());
    }
    let (Some(hostname), Some(salt), Some(digest)) =
        (bytes_of(hostname), bytes_of(salt), bytes_of(digest))
    else {
        return Err("malformed PING".into());
    };
    if shared_key_digest(salt, hostname, nonce, key).as_bytes() != digest {
        return Err("shared_key mismatch".into());
    }
    Ok(salt.to_vec())
}

fn pong(ok: bool, reason: &str, hostname: &str, digest: &str) -> Value {
    Value::Array(vec![
        Value::from("PONG"),
        Value::Boolean(ok),
        Value::from(reason),
        Value::from(hostname),
        Value::from(digest),
    ])
}

/// `sha512_hex(salt + hostname + nonce + shared_key)`.
fn shared_key_digest(salt: &[u8], hostname: &[u8], nonce: &[u8], key: &str) -> String {
    let mut hasher = Sha512::new();
    hasher.update(salt);
    hasher.update(hostname);
    hasher.update(nonce);
    hasher.update(key.as_bytes());
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"timestamp":"2026-02-01T03:55:25.050620Z","level":"INFO","fields":{"message":"Session Start","session_id":"A1"},"target":"operator::session"}"#;

    fn event_time() -> Value {
        Value::Ext(0, vec![0x69, 0x7e, 0xcf, 0x2d, 0, 0, 0, 7])
    }

    /// A record as fluent-bit's `cri` multiline parser makes it.
    fn log_record(line: &str) -> Value {
        Value::Map(vec![
            (
                Value::from("time"),
                Value::from("2026-02-01T03:55:25.050620Z"),
            ),
            (Value::from("stream"), Value::from("stdout")),
            (Value::from("_p"), Value::from("F")),
            (Value::from("log"), Value::from(line)),
        ])
    }

    fn entry(line: &str) -> Value {
        Value::Array(vec![event_time(), log_record(line)])
    }

    fn chunk_option() -> Value {
        Value::Map(vec![(Value::from("chunk"), Value::from("c1"))])
    }

    fn packed(entries: &[Value]) -> Vec<u8> {
        let mut out = Vec::new();
        for e in entries {
            rmpv::encode::write_value(&mut out, e).unwrap();
        }
        out
    }

    fn collect(value: Value) -> (SubmissionSink, Option<Value>) {
        let mut sink = SubmissionSink::new(SOURCE);
        let chunk = collect_message(value, 1 << 20, RequestLimits::UNLIMITED, &mut sink).unwrap();
        (sink, chunk)
    }

    #[test]
    fn every_mode_yields_its_events_and_chunk() {
        let second = LINE.replace("A1", "A2");
        let message = Value::Array(vec![
            Value::from("t"),
            event_time(),
            log_record(LINE),
            chunk_option(),
        ]);
        let forward = Value::Array(vec![
            Value::from("t"),
            Value::Array(vec![entry(LINE), entry(&second)]),
            chunk_option(),
        ]);
        let packed_mode = Value::Array(vec![
            Value::from("t"),
            Value::Binary(packed(&[entry(LINE), entry(&second)])),
        ]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &packed(&[entry(LINE), entry(&second)])).unwrap();
        let compressed_option = Value::Map(vec![
            (Value::from("chunk"), Value::from("c1")),
            (Value::from("compressed"), Value::from("gzip")),
        ]);
        let compressed = Value::Array(vec![
            Value::from("t"),
            Value::Binary(gz.finish().unwrap()),
            compressed_option,
        ]);
        for (value, events, acked) in [
            (message, 1, true),
            (forward, 2, true),
            (packed_mode, 2, false),
            (compressed, 2, true),
        ] {
            let (sink, chunk) = collect(value);
            assert_eq!(
                sink.submission.events.len(),
                events,
                "{:?}",
                sink.submission.rejects
            );
            assert_eq!(chunk.is_some(), acked);
        }
    }

    #[test]
    fn unpacked_records_take_the_entry_time() {
        let record = Value::Map(vec![
            (Value::from("message"), Value::from("Port Steal")),
            (Value::from("port"), Value::from(80)),
        ]);
        let message = Value::Array(vec![Value::from("t"), Value::from(1_769_918_125), record]);
        let (sink, _) = collect(message);
        let event = &sink.submission.events[0].event;
        assert_eq!(event.timestamp.to_rfc3339(), "2026-02-01T03:55:25+00:00");
        assert_eq!(event.port, Some(80));
    }

    #[test]
    fn an_unpacked_flattened_record_keeps_both_targets_and_the_id_of_its_line() {
        // tracing's flatten_event writes the mirrord `target`, then its module path `target`.
        let line = r#"{"timestamp":"2026-02-01T03:55:25.050620Z","level":"INFO","message":"Port Steal","session_id":"A1","target":"deployment/api/container/main","port":8080,"target":"operator::session"}"#;
        let pairs: Vec<(Value, Value)> = [
            ("timestamp", Value::from("2026-02-01T03:55:25.050620Z")),
            ("level", Value::from("INFO")),
            ("message", Value::from("Port Steal")),
            ("session_id", Value::from("A1")),
            ("target", Value::from("deployment/api/container/main")),
            ("port", Value::from(8080)),
            ("target", Value::from("operator::session")),
        ]
        .into_iter()
        .map(|(k, v)| (Value::from(k), v))
        .collect();
        let message = Value::Array(vec![Value::from("t"), event_time(), Value::Map(pairs)]);
        let (sink, _) = collect(message);
        let event = &sink.submission.events[0].event;
        assert_eq!(
            event.target.as_deref(),
            Some("deployment/api/container/main")
        );
        assert_eq!(event.target_name.as_deref(), Some("api"));
        let mut from_file = SubmissionSink::new(SOURCE);
        LineParser::new(InputFormat::Auto).feed(line.as_bytes(), &mut from_file);
        assert_eq!(
            event.id, from_file.submission.events[0].event.id,
            "the same record by Forward and from a file is one event"
        );
    }

    #[test]
    fn bad_entries_are_rejects_and_good_ones_survive() {
        let forward = Value::Array(vec![
            Value::from("t"),
            Value::Array(vec![entry(LINE), Value::from(3), entry("{not json")]),
            chunk_option(),
        ]);
        let (sink, chunk) = collect(forward);
        assert_eq!(sink.submission.events.len(), 1);
        assert_eq!(sink.submission.rejects.len(), 2);
        assert_eq!(
            sink.submission.rejects[0].location.as_deref(),
            Some("record 2")
        );
        assert!(
            chunk.is_some(),
            "bad records are acknowledged: resending can't fix them"
        );
        let mut truncated = packed(&[entry(LINE)]);
        truncated.extend_from_slice(&[0x92, 0xd7]);
        let (sink, _) = collect(Value::Array(vec![
            Value::from("t"),
            Value::Binary(truncated),
        ]));
        assert_eq!(
            (sink.submission.events.len(), sink.submission.rejects.len()),
            (1, 1)
        );
        let (sink, _) = collect(Value::from("nope"));
        assert_eq!(sink.submission.rejects.len(), 1);
    }

    #[test]
    fn ping_digests_are_checked() {
        let nonce = [7u8; 16];
        let digest = shared_key_digest(b"salt", b"client", &nonce, "k");
        let ping = |d: &str| {
            Value::Array(vec![
                Value::from("PING"),
                Value::from("client"),
                Value::from("salt"),
                Value::from(d),
                Value::from(""),
                Value::from(""),
            ])
        };
        assert_eq!(check_ping(&ping(&digest), &nonce, "k").unwrap(), b"salt");
        assert!(check_ping(&ping(&digest), &nonce, "other").is_err());
        assert!(check_ping(&Value::from("PING"), &nonce, "k").is_err());
    }
}
