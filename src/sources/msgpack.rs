//! MessagePack helpers for the Forward receiver: finding where one value ends in a byte
//! stream (without decoding it, resumable across reads), fluentd's `EventTime`, and turning
//! a record into JSON for the parser.
//!
//! The [`Framer`] makes decoding safe: a value is handed to `rmpv` only once all of its bytes
//! have arrived and it fits the size limit, so a forged length can't make the decoder allocate
//! more than the bytes really sent.

use chrono::{DateTime, SecondsFormat};
use rmpv::Value;
use serde_json::Value as Json;

use crate::parse::OrderedObject;

/// Why a byte stream is not MessagePack we accept.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("invalid MessagePack marker 0xc1")]
    Marker,
    #[error("a message exceeds the {0}-byte limit")]
    TooLarge(usize),
    #[error(
        "a message holds more than {0} values ([receivers] max_items_per_request); send smaller chunks"
    )]
    TooManyItems(usize),
}

/// Finds the end of the next MessagePack value in a growing buffer. Work done on a partial
/// value is kept, so a large message arriving in many reads is scanned once.
#[derive(Debug)]
pub struct Framer {
    /// Bytes of the current value scanned so far.
    pos: usize,
    /// Values still to skip before the current one is complete (0: not started).
    pending: u64,
    /// Values of the current message scanned so far, and the most allowed.
    items: usize,
    max_items: usize,
}

impl Default for Framer {
    fn default() -> Self {
        Framer::new(usize::MAX)
    }
}

/// Shape of one MessagePack item: its header length, payload length and child count.
struct Head {
    header: usize,
    payload: usize,
    children: u64,
}

impl Framer {
    /// A framer that refuses a value made of more than `max_items` MessagePack values (each
    /// decodes to an `rmpv::Value`, so this bounds memory where the byte limit can't: a
    /// megabyte of `nil`s is a million values).
    pub fn new(max_items: usize) -> Self {
        Framer {
            pos: 0,
            pending: 0,
            items: 0,
            max_items,
        }
    }

    /// Values the last complete value was made of.
    pub fn items(&self) -> usize {
        self.items
    }

    /// `Some(n)` when `buf[..n]` holds one complete value (the framer is then reset), `None`
    /// when more bytes are needed.
    pub fn next_value(&mut self, buf: &[u8], limit: usize) -> Result<Option<usize>, FrameError> {
        if self.pending == 0 {
            self.pos = 0;
            self.pending = 1;
            self.items = 0;
        }
        while self.pending > 0 {
            let Some(head) = head(&buf[self.pos.min(buf.len())..])? else {
                return Ok(None);
            };
            let end = self.pos + head.header + head.payload;
            let children_floor = self.pending - 1 + head.children;
            // This value, and the ones its header and its parents still promise.
            if (self.items as u64).saturating_add(1 + children_floor) > self.max_items as u64 {
                self.pending = 0;
                return Err(FrameError::TooManyItems(self.max_items));
            }
            if end > limit || children_floor > (limit - end.min(limit)) as u64 {
                self.pending = 0;
                return Err(FrameError::TooLarge(limit));
            }
            if end > buf.len() {
                return Ok(None);
            }
            self.pos = end;
            self.pending = children_floor;
            self.items += 1;
        }
        Ok(Some(self.pos))
    }
}

/// Reads an item's header at the start of `bytes`; `None` if the header is not all there.
fn head(bytes: &[u8]) -> Result<Option<Head>, FrameError> {
    let Some(&marker) = bytes.first() else {
        return Ok(None);
    };
    let fixed = |header: usize, payload: usize| Head {
        header,
        payload,
        children: 0,
    };
    // (header length, length-field size, kind) for items with a length field.
    let (header, size, kind) = match marker {
        0x00..=0x7f | 0xc0 | 0xc2 | 0xc3 | 0xe0..=0xff => return Ok(Some(fixed(1, 0))),
        0x80..=0x8f => {
            return Ok(Some(Head {
                header: 1,
                payload: 0,
                children: 2 * u64::from(marker & 0x0f),
            }));
        }
        0x90..=0x9f => {
            return Ok(Some(Head {
                header: 1,
                payload: 0,
                children: u64::from(marker & 0x0f),
            }));
        }
        0xa0..=0xbf => return Ok(Some(fixed(1, usize::from(marker & 0x1f)))),
        0xc1 => return Err(FrameError::Marker),
        0xca => return Ok(Some(fixed(5, 0))),
        0xcb => return Ok(Some(fixed(9, 0))),
        0xcc | 0xd0 => return Ok(Some(fixed(2, 0))),
        0xcd | 0xd1 => return Ok(Some(fixed(3, 0))),
        0xce | 0xd2 => return Ok(Some(fixed(5, 0))),
        0xcf | 0xd3 => return Ok(Some(fixed(9, 0))),
        0xd4..=0xd8 => return Ok(Some(fixed(2, 1 << (marker - 0xd4)))),
        0xc4 | 0xd9 => (2, 1, Kind::Bytes),
        0xc5 | 0xda => (3, 2, Kind::Bytes),
        0xc6 | 0xdb => (5, 4, Kind::Bytes),
        0xc7 => (3, 1, Kind::Bytes),
        0xc8 => (4, 2, Kind::Bytes),
        0xc9 => (6, 4, Kind::Bytes),
        0xdc => (3, 2, Kind::Array),
        0xdd => (5, 4, Kind::Array),
        0xde => (3, 2, Kind::Map),
        0xdf => (5, 4, Kind::Map),
    };
    if bytes.len() < header {
        return Ok(None);
    }
    let n = bytes[1..=size]
        .iter()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    Ok(Some(match kind {
        Kind::Bytes => fixed(header, usize::try_from(n).unwrap_or(usize::MAX)),
        Kind::Array => Head {
            header,
            payload: 0,
            children: n,
        },
        Kind::Map => Head {
            header,
            payload: 0,
            children: 2 * n,
        },
    }))
}

enum Kind {
    Bytes,
    Array,
    Map,
}

/// A Forward entry's time as nanoseconds since the epoch: `EventTime` (ext type 0, big-endian
/// seconds and nanoseconds), integer seconds, or float seconds.
pub fn event_time_nanos(value: &Value) -> Option<i64> {
    match value {
        Value::Ext(0, data) if data.len() == 8 => {
            let secs = i64::from(u32::from_be_bytes([data[0], data[1], data[2], data[3]]));
            let nanos = i64::from(u32::from_be_bytes([data[4], data[5], data[6], data[7]]));
            Some(secs * 1_000_000_000 + nanos)
        }
        Value::Integer(i) => i.as_i64().and_then(|s| s.checked_mul(1_000_000_000)),
        Value::F32(f) => Some((f64::from(*f) * 1e9) as i64),
        Value::F64(f) => Some((f * 1e9) as i64),
        _ => None,
    }
}

/// Nanoseconds since the epoch as RFC 3339 (what the parser reads as a timestamp).
pub fn rfc3339(nanos: i64) -> String {
    DateTime::from_timestamp_nanos(nanos).to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// A MessagePack value as JSON: binary that is UTF-8 becomes a string (older fluentd sends
/// strings as raw bytes), `EventTime` becomes RFC 3339, other extensions become null.
pub fn to_json(value: Value) -> Json {
    match value {
        Value::Nil => Json::Null,
        Value::Boolean(b) => Json::Bool(b),
        Value::Integer(i) => i
            .as_i64()
            .map(Json::from)
            .or_else(|| i.as_u64().map(Json::from))
            .unwrap_or(Json::Null),
        Value::F32(f) => float(f64::from(f)),
        Value::F64(f) => float(f),
        Value::String(s) if s.is_str() => Json::String(s.into_str().unwrap_or_default()),
        Value::String(s) => Json::String(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        Value::Binary(b) => Json::String(String::from_utf8_lossy(&b).into_owned()),
        Value::Array(items) => Json::Array(items.into_iter().map(to_json).collect()),
        Value::Map(pairs) => Json::Object(
            pairs
                .into_iter()
                .map(|(k, v)| (key_string(k), to_json(v)))
                .collect(),
        ),
        ext @ Value::Ext(..) => event_time_nanos(&ext)
            .map(|n| Json::String(rfc3339(n)))
            .unwrap_or(Json::Null),
    }
}

/// A MessagePack map as an ordered list of pairs, duplicate keys kept (the top level of a
/// Forward record: a flattened tracing record can carry `target` twice, and the parser needs
/// both, in order, as from any other route). `None` when the value is not a map.
pub fn to_ordered(value: Value) -> Option<OrderedObject> {
    match value {
        Value::Map(pairs) => Some(OrderedObject(
            pairs
                .into_iter()
                .map(|(k, v)| (key_string(k), to_json(v)))
                .collect(),
        )),
        _ => None,
    }
}

fn float(f: f64) -> Json {
    serde_json::Number::from_f64(f)
        .map(Json::Number)
        .unwrap_or(Json::Null)
}

fn key_string(key: Value) -> String {
    match key {
        Value::String(s) => s.into_str().unwrap_or_default(),
        Value::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
        other => other.to_string(),
    }
}

/// The raw bytes of a string or binary value.
pub fn bytes_of(value: &Value) -> Option<&[u8]> {
    match value {
        Value::String(s) => Some(s.as_bytes()),
        Value::Binary(b) => Some(b),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(value: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, value).unwrap();
        out
    }

    fn sample() -> Value {
        Value::Array(vec![
            Value::from("tag"),
            Value::Array(vec![Value::Array(vec![
                Value::Ext(0, vec![0, 0, 0, 1, 0, 0, 0, 2]),
                Value::Map(vec![(Value::from("log"), Value::from("x".repeat(300)))]),
            ])]),
            Value::Map(vec![(Value::from("chunk"), Value::from("abc"))]),
        ])
    }

    #[test]
    fn a_value_is_found_whatever_the_read_sizes() {
        let bytes = encode(&sample());
        let mut stream = bytes.clone();
        stream.extend_from_slice(&[0xc0]); // a heartbeat follows
        for step in [1, 2, 7, 64, stream.len()] {
            let mut framer = Framer::default();
            let mut found = None;
            for end in (step..=stream.len()).step_by(step).chain([stream.len()]) {
                if let Some(n) = framer.next_value(&stream[..end], 1 << 20).unwrap() {
                    found = Some(n);
                    break;
                }
            }
            assert_eq!(found, Some(bytes.len()), "step {step}");
            assert_eq!(
                framer.next_value(&stream[bytes.len()..], 1 << 20).unwrap(),
                Some(1)
            );
        }
    }

    #[test]
    fn values_are_counted_and_a_promised_flood_is_refused_at_its_header() {
        // sample(): the message, its tag, the entries array, one entry, its time, its record,
        // the record's key and value, the option map, its key and value: 11 values.
        let bytes = encode(&sample());
        assert_eq!(
            Framer::new(11).next_value(&bytes, 1 << 20),
            Ok(Some(bytes.len()))
        );
        assert_eq!(
            Framer::new(10).next_value(&bytes, 1 << 20),
            Err(FrameError::TooManyItems(10))
        );
        // An array32 header promising a million nils, and only the first few sent.
        let mut flood = vec![0xdd, 0x00, 0x0f, 0x42, 0x40];
        flood.extend([0xc0; 16]);
        assert_eq!(
            Framer::new(1000).next_value(&flood, 1 << 30),
            Err(FrameError::TooManyItems(1000))
        );
    }

    #[test]
    fn forged_lengths_and_bad_markers_are_errors() {
        let huge_array = [0xdd, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(
            Framer::default().next_value(&huge_array, 1024),
            Err(FrameError::TooLarge(1024))
        );
        let huge_bin = [0xc6, 0x7f, 0xff, 0xff, 0xff];
        assert!(Framer::default().next_value(&huge_bin, 1024).is_err());
        assert_eq!(
            Framer::default().next_value(&[0xc1], 1024),
            Err(FrameError::Marker)
        );
    }

    #[test]
    fn event_time_and_records_convert() {
        assert_eq!(
            event_time_nanos(&Value::Ext(0, vec![0, 0, 0, 1, 0, 0, 0, 2])),
            Some(1_000_000_002)
        );
        assert_eq!(event_time_nanos(&Value::from(3)), Some(3_000_000_000));
        assert_eq!(rfc3339(1_000_000_002), "1970-01-01T00:00:01.000000002Z");
        let record = Value::Map(vec![
            (Value::from("log"), Value::Binary(b"hi".to_vec())),
            (Value::from("n"), Value::from(-4)),
        ]);
        assert_eq!(to_json(record), serde_json::json!({"log": "hi", "n": -4}));
    }
}
