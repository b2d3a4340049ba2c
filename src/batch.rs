//! batch: events → Arrow `RecordBatch`, the unit every source hands to storage.
//!
//! An [`EventBatch`] is built on the source's own thread or task (a file's parser thread, a
//! receiver's request handler), so the store's writer thread does only DuckDB work. Its
//! schema mirrors the `events` table column for column except `ingested_at`, which the writer
//! stamps per commit (see `schemas/duckdb/001_core.sql`), so the store inserts batches without
//! any mapping. Ids are unique within a batch: a repeat is counted, not kept.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use chrono::{DateTime, Utc};
use duckdb::arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use duckdb::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use duckdb::arrow::error::ArrowError;
use duckdb::arrow::record_batch::RecordBatch;

use crate::event::OperatorEvent;
use crate::parse::FormatName;

/// An event together with where it came from and which reader produced it.
#[derive(Debug, Clone)]
pub struct IncomingEvent {
    pub event: OperatorEvent,
    pub format: FormatName,
    pub source: Arc<str>,
}

impl IncomingEvent {
    /// `events`, each tagged with the same reader `format` and `source` (generated data).
    pub fn tagged(
        events: impl IntoIterator<Item = OperatorEvent>,
        format: FormatName,
        source: &str,
    ) -> impl Iterator<Item = IncomingEvent> {
        let source: Arc<str> = Arc::from(source);
        events.into_iter().map(move |event| IncomingEvent {
            event,
            format,
            source: source.clone(),
        })
    }
}

/// The columns between `kind` and `operator_version`, in table order.
const MIDDLE_COLUMNS: [&str; 21] = [
    "message",
    "level",
    "session_id",
    "client_id",
    "client_name",
    "client_hostname",
    "client_user",
    "client_cli_version",
    "target",
    "target_type",
    "target_name",
    "target_namespace",
    "target_container",
    "port",
    "http_filter",
    "scale_down",
    "session_duration",
    "branch",
    "ci",
    "trace_id",
    "span_id",
];

/// The Arrow schema of an [`EventBatch`]: the `events` table's columns but `ingested_at`.
pub static EVENTS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let ts = DataType::Timestamp(TimeUnit::Microsecond, None);
    let mut fields = vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("timestamp", ts.clone(), false),
        Field::new("kind", DataType::Utf8, false),
    ];
    for name in MIDDLE_COLUMNS {
        let ty = match name {
            "port" => DataType::Int32,
            "scale_down" | "ci" => DataType::Boolean,
            "session_duration" => DataType::Float64,
            _ => DataType::Utf8,
        };
        fields.push(Field::new(name, ty, name != "message"));
    }
    for name in ["operator_version", "cluster", "attributes"] {
        fields.push(Field::new(name, DataType::Utf8, true));
    }
    fields.push(Field::new("source", DataType::Utf8, false));
    fields.push(Field::new("format", DataType::Utf8, false));
    Arc::new(Schema::new(fields))
});

/// Column builders for one batch.
struct Columns {
    strings: Vec<StringBuilder>,
    timestamp: TimestampMicrosecondBuilder,
    port: Int32Builder,
    scale_down: BooleanBuilder,
    ci: BooleanBuilder,
    duration: Float64Builder,
}

/// String builders: id, kind, message, the 18 optional strings of [`append`], attributes,
/// source, format.
const STRING_SLOTS: usize = 24;

/// Events ready for the store: an Arrow batch with the `events` columns (but `ingested_at`),
/// ids unique within it, and its time range (what the store's duplicate check scans).
#[derive(Debug, Clone, Default)]
pub struct EventBatch {
    rows: Option<RecordBatch>,
    /// Events dropped because an earlier one in the batch had the same id.
    repeats: u64,
    /// Smallest and largest event timestamp, µs since the epoch.
    bounds: (i64, i64),
}

impl EventBatch {
    /// Builds the batch, keeping the first of events with the same id.
    pub fn build(events: &[IncomingEvent]) -> Result<EventBatch, ArrowError> {
        let mut seen = HashSet::with_capacity(events.len());
        let unique: Vec<&IncomingEvent> = events
            .iter()
            .filter(|e| seen.insert(e.event.id.as_str()))
            .collect();
        let repeats = (events.len() - unique.len()) as u64;
        if unique.is_empty() {
            return Ok(EventBatch {
                repeats,
                ..Default::default()
            });
        }
        let mut bounds = (i64::MAX, i64::MIN);
        for e in &unique {
            let t = e.event.timestamp.timestamp_micros();
            bounds = (bounds.0.min(t), bounds.1.max(t));
        }
        Ok(EventBatch {
            rows: Some(to_record_batch(&unique)?),
            repeats,
            bounds,
        })
    }

    /// Events in the batch (after dropping repeats).
    pub fn len(&self) -> usize {
        self.rows.as_ref().map_or(0, RecordBatch::num_rows)
    }

    /// No events.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Events dropped as repeats within the batch.
    pub fn repeats(&self) -> u64 {
        self.repeats
    }

    /// The Arrow rows, if any.
    pub fn rows(&self) -> Option<&RecordBatch> {
        self.rows.as_ref()
    }

    /// Smallest and largest timestamp of its events.
    pub fn time_range(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        let at = |us| DateTime::from_timestamp_micros(us).unwrap_or_default();
        (at(self.bounds.0), at(self.bounds.1))
    }
}

/// Builds the Arrow rows of `events` (in order, repeats included).
fn to_record_batch(events: &[&IncomingEvent]) -> Result<RecordBatch, ArrowError> {
    let n = events.len();
    let mut c = Columns {
        strings: (0..STRING_SLOTS)
            .map(|_| StringBuilder::with_capacity(n, n * 16))
            .collect(),
        timestamp: TimestampMicrosecondBuilder::with_capacity(n),
        port: Int32Builder::with_capacity(n),
        scale_down: BooleanBuilder::with_capacity(n),
        ci: BooleanBuilder::with_capacity(n),
        duration: Float64Builder::with_capacity(n),
    };
    for inc in events {
        append(&mut c, inc);
    }
    let s = &mut c.strings;
    let mut take = |i: usize| -> ArrayRef { Arc::new(s[i].finish()) };
    let mut columns: Vec<ArrayRef> = vec![take(0), Arc::new(c.timestamp.finish()), take(1)];
    // message .. target_container
    for i in 2..=14 {
        columns.push(take(i));
    }
    columns.push(Arc::new(c.port.finish()));
    columns.push(take(15)); // http_filter
    columns.push(Arc::new(c.scale_down.finish()));
    columns.push(Arc::new(c.duration.finish()));
    columns.push(take(16)); // branch
    columns.push(Arc::new(c.ci.finish()));
    for i in 17..=23 {
        columns.push(take(i)); // trace_id, span_id, operator_version, cluster, attributes, source, format
    }
    RecordBatch::try_new(EVENTS_SCHEMA.clone(), columns)
}

fn append(c: &mut Columns, inc: &IncomingEvent) {
    let e = &inc.event;
    let s = &mut c.strings;
    s[0].append_value(&e.id);
    c.timestamp.append_value(e.timestamp.timestamp_micros());
    s[1].append_value(e.kind.as_str());
    s[2].append_value(&e.message);
    let optional = [
        &e.level,
        &e.session_id,
        &e.client_id,
        &e.client_name,
        &e.client_hostname,
        &e.client_user,
        &e.client_cli_version,
        &e.target,
        &e.target_type,
        &e.target_name,
        &e.target_namespace,
        &e.target_container,
        &e.http_filter,
        &e.branch,
        &e.trace_id,
        &e.span_id,
        &e.operator_version,
        &e.cluster,
    ];
    for (i, v) in optional.into_iter().enumerate() {
        s[3 + i].append_option(v.as_deref());
    }
    if e.attributes.is_empty() {
        s[21].append_null();
    } else {
        // Serialized straight from the map: no copy of it.
        s[21].append_value(serde_json::to_string(&e.attributes).unwrap_or_default());
    }
    s[22].append_value(&*inc.source);
    s[23].append_value(inc.format);
    c.port.append_option(e.port);
    c.scale_down.append_option(e.scale_down);
    c.ci.append_option(e.ci);
    c.duration.append_option(e.session_duration);
}
