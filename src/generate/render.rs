//! Renderers: one log line written byte for byte the way a real producer writes it.
//!
//! Every input shape the parsers accept has a renderer here, so generated logs exercise the
//! same code paths as logs taken from a cluster:
//!
//! - tracing-subscriber's JSON formatter, nested ([`OutputFormat::TracingJson`]) and with
//!   `flatten_event(true)` ([`OutputFormat::TracingFlat`], where the event's own mirrord
//!   `target` field and tracing's module-path `target` both appear as keys);
//! - fluentd records after `in_tail` + the CRI parser, with the JSON still a string in `log`
//!   ([`OutputFormat::Fluentd`]) or unpacked by the `parser` filter
//!   ([`OutputFormat::FluentdUnpacked`]);
//! - the kubelet's container-log files: CRI ([`OutputFormat::Cri`], long lines split into `P`
//!   pieces) and docker json-file ([`OutputFormat::Docker`]);
//! - tracing-subscriber's default plain-text `Full` format ([`OutputFormat::Text`]);
//! - OTLP/JSON as the OpenTelemetry Collector's file exporter writes it
//!   ([`OutputFormat::OtlpJson`]);
//! - a per-line random choice among all of the above ([`OutputFormat::Mixed`]).
//!
//! A renderer works on a [`LogLine`]: timestamp, level, tracing module, message and ordered
//! fields. Functional events become a `LogLine` with [`LogLine::from_event`]; the generator
//! builds non-functional lines (`Loaded license!`) directly, so both go through one path.

use std::io::{self, Write};

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde_json::Value;

use crate::event::OperatorEvent;

/// containerd's default `max_container_log_line_size`, and docker's json-file split size.
pub const DEFAULT_CRI_SPLIT: usize = 16 * 1024;

/// The tracing module path the operator logs functional events under.
pub const SESSION_MODULE: &str = crate::event::FUNCTIONAL_MODULE;

/// The Kubernetes metadata fluentd's `kubernetes_metadata` filter attaches to operator lines.
const KUBERNETES_METADATA: &str = concat!(
    r#"{"namespace_name":"mirrord","pod_name":"mirrord-operator-5d9c7b8f6-x2k4p","#,
    r#""container_name":"mirrord-operator","labels":{"app":"mirrord-operator"}}"#
);

/// The shape of the generated lines; each names the producer whose output it copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum OutputFormat {
    /// tracing-subscriber JSON, event fields nested under `fields` (operator `jsonLog: true`).
    TracingJson,
    /// tracing-subscriber JSON with `flatten_event(true)`: fields at the top level, so the
    /// mirrord `target` field and tracing's module `target` are both present.
    TracingFlat,
    /// fluentd record (in_tail + CRI parser + kubernetes_metadata), the JSON line as a string
    /// in `log`.
    Fluentd,
    /// fluentd record after `@type parser` (`reserve_data true`, `remove_key_name_field true`):
    /// the tracing JSON keys at the top level next to `stream` and `kubernetes`.
    FluentdUnpacked,
    /// Kubernetes CRI container log (`TIME stdout F line`), long lines split into `P` pieces.
    Cri,
    /// docker json-file container log (`{"log":"line\n","stream":"stdout","time":...}`).
    Docker,
    /// tracing-subscriber's default plain-text format (operator `jsonLog: false`).
    Text,
    /// One OTLP/JSON `ExportLogsServiceRequest` per line (Collector file exporter).
    OtlpJson,
    /// Each line in a format chosen at random among all the others.
    Mixed,
}

impl OutputFormat {
    /// Every format except [`OutputFormat::Mixed`].
    pub const CONCRETE: [OutputFormat; 8] = [
        OutputFormat::TracingJson,
        OutputFormat::TracingFlat,
        OutputFormat::Fluentd,
        OutputFormat::FluentdUnpacked,
        OutputFormat::Cri,
        OutputFormat::Docker,
        OutputFormat::Text,
        OutputFormat::OtlpJson,
    ];

    /// The name used on the command line (`tracing-json`, `otlp-json`, ...).
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::TracingJson => "tracing-json",
            OutputFormat::TracingFlat => "tracing-flat",
            OutputFormat::Fluentd => "fluentd",
            OutputFormat::FluentdUnpacked => "fluentd-unpacked",
            OutputFormat::Cri => "cri",
            OutputFormat::Docker => "docker",
            OutputFormat::Text => "text",
            OutputFormat::OtlpJson => "otlp-json",
            OutputFormat::Mixed => "mixed",
        }
    }
}

/// A field value as `tracing` records it: the type decides how each format writes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldValue<'a> {
    /// A string: JSON string, Debug-quoted in text, OTLP `stringValue`.
    Str(&'a str),
    /// An integer: JSON number, bare in text, OTLP `intValue` (a decimal string).
    Int(i64),
    /// A float: JSON number, Debug-formatted in text (`12.0`), OTLP `doubleValue`.
    Float(f64),
    /// A boolean: JSON bool, bare in text, OTLP `boolValue`.
    Bool(bool),
}

/// One log line before formatting: what `tracing` knows about an event.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine<'a> {
    /// When the event happened (written with microsecond precision by tracing).
    pub timestamp: DateTime<Utc>,
    /// `INFO`, `WARN`, ...
    pub level: &'a str,
    /// tracing's own `target`: the Rust module path (`operator::session`).
    pub module: &'a str,
    /// The event message (`Session Start`, `Loaded license!`).
    pub message: &'a str,
    /// The event's fields, in the order the operator declares them.
    pub fields: Vec<(&'a str, FieldValue<'a>)>,
    /// The operator version; only OTLP has a place for it (resource `service.version`).
    pub service_version: Option<&'a str>,
    /// 32 hex digits; only OTLP carries it.
    pub trace_id: Option<&'a str>,
    /// 16 hex digits; only OTLP carries it.
    pub span_id: Option<&'a str>,
}

impl<'a> LogLine<'a> {
    /// The line the operator writes for `event`. Only fields that are `Some` appear.
    ///
    /// A whole-number `session_duration` is written as an integer (older operators log whole
    /// seconds as `u64`); a fractional one as a float. String, number and boolean
    /// [`OperatorEvent::attributes`] follow the typed fields; other attribute values are left out.
    pub fn from_event(event: &'a OperatorEvent) -> Self {
        let mut fields = Vec::with_capacity(16 + event.attributes.len());
        let strings = [
            ("session_id", &event.session_id),
            ("client_id", &event.client_id),
            ("client_name", &event.client_name),
            ("client_hostname", &event.client_hostname),
            ("client_user", &event.client_user),
            ("client_cli_version", &event.client_cli_version),
            ("target", &event.target),
            ("target_type", &event.target_type),
            ("target_name", &event.target_name),
            ("target_namespace", &event.target_namespace),
        ];
        for (name, value) in strings {
            if let Some(value) = value {
                fields.push((name, FieldValue::Str(value)));
            }
        }
        if let Some(port) = event.port {
            fields.push(("port", FieldValue::Int(i64::from(port))));
        }
        if let Some(filter) = &event.http_filter {
            fields.push(("http_filter", FieldValue::Str(filter)));
        }
        if let Some(scale_down) = event.scale_down {
            fields.push(("scale_down", FieldValue::Bool(scale_down)));
        }
        if let Some(duration) = event.session_duration {
            fields.push(("session_duration", duration_value(duration)));
        }
        if let Some(branch) = &event.branch {
            fields.push(("branch", FieldValue::Str(branch)));
        }
        fields.extend(
            event
                .attributes
                .iter()
                .filter_map(|(k, v)| Some((k.as_str(), scalar(v)?))),
        );
        LogLine {
            timestamp: event.timestamp,
            level: event.level.as_deref().unwrap_or("INFO"),
            module: SESSION_MODULE,
            message: &event.message,
            fields,
            service_version: event.operator_version.as_deref(),
            trace_id: event.trace_id.as_deref(),
            span_id: event.span_id.as_deref(),
        }
    }
}

/// Whole seconds as an integer (how `u64` seconds are logged), anything else as a float.
fn duration_value(seconds: f64) -> FieldValue<'static> {
    if seconds.fract() == 0.0 && seconds.abs() < 9.0e15 {
        FieldValue::Int(seconds as i64)
    } else {
        FieldValue::Float(seconds)
    }
}

fn scalar(value: &Value) -> Option<FieldValue<'_>> {
    match value {
        Value::String(s) => Some(FieldValue::Str(s)),
        Value::Bool(b) => Some(FieldValue::Bool(*b)),
        Value::Number(n) => n
            .as_i64()
            .map(FieldValue::Int)
            .or_else(|| n.as_f64().map(FieldValue::Float)),
        _ => None,
    }
}

/// Writes log lines in one [`OutputFormat`], reusing its buffers from line to line.
#[derive(Debug, Clone)]
pub struct Renderer {
    format: OutputFormat,
    cri_split: usize,
    /// The finished output for one line (all its pieces).
    buf: Vec<u8>,
    /// The tracing JSON line that wrapper formats (CRI, docker, fluentd) embed.
    inner: Vec<u8>,
}

impl Renderer {
    /// A renderer for `format` that splits container-log lines at [`DEFAULT_CRI_SPLIT`] bytes.
    pub fn new(format: OutputFormat) -> Self {
        Renderer {
            format,
            cri_split: DEFAULT_CRI_SPLIT,
            buf: Vec::with_capacity(2048),
            inner: Vec::with_capacity(1024),
        }
    }

    /// Splits CRI and docker lines longer than `bytes` into partial pieces, as containerd's
    /// `max_container_log_line_size` does (docker's is fixed at 16 KiB in real life).
    /// Pieces end on UTF-8 character boundaries. `0` is treated as `1`.
    pub fn with_cri_split(mut self, bytes: usize) -> Self {
        self.cri_split = bytes.max(1);
        self
    }

    /// The format this renderer writes.
    pub fn format(&self) -> OutputFormat {
        self.format
    }

    /// Writes `event` as one line (or, for long CRI/docker lines, its pieces).
    pub fn render_event(&mut self, event: &OperatorEvent, out: &mut dyn Write) -> io::Result<()> {
        self.render_line(&LogLine::from_event(event), out)
    }

    /// Writes `line`, newline-terminated, with one `write_all` call.
    pub fn render_line(&mut self, line: &LogLine<'_>, out: &mut dyn Write) -> io::Result<()> {
        let format = match self.format {
            OutputFormat::Mixed => pick_format(line),
            format => format,
        };
        self.buf.clear();
        match format {
            OutputFormat::TracingJson | OutputFormat::Mixed => {
                write_tracing_json(&mut self.buf, line, false);
                self.buf.push(b'\n');
            }
            OutputFormat::TracingFlat => {
                write_tracing_json(&mut self.buf, line, true);
                self.buf.push(b'\n');
            }
            OutputFormat::Text => write_text(&mut self.buf, line)?,
            OutputFormat::OtlpJson => write_otlp(&mut self.buf, line),
            OutputFormat::Fluentd => {
                self.fill_inner(line);
                write_fluentd(&mut self.buf, &self.inner, line);
            }
            OutputFormat::FluentdUnpacked => {
                self.fill_inner(line);
                write_fluentd_unpacked(&mut self.buf, &self.inner, line);
            }
            OutputFormat::Cri => {
                self.fill_inner(line);
                write_cri(&mut self.buf, &self.inner, line, self.cri_split);
            }
            OutputFormat::Docker => {
                self.fill_inner(line);
                write_docker(&mut self.buf, &self.inner, line, self.cri_split);
            }
        }
        out.write_all(&self.buf)
    }

    fn fill_inner(&mut self, line: &LogLine<'_>) {
        self.inner.clear();
        write_tracing_json(&mut self.inner, line, false);
    }
}

/// Renders one event in `format` with default settings (16 KiB container-log split).
pub fn render(event: &OperatorEvent, format: OutputFormat, out: &mut impl Write) -> io::Result<()> {
    Renderer::new(format).render_event(event, out)
}

/// Renders one event in `format` to a string (one line, or several CRI/docker pieces).
pub fn render_to_string(event: &OperatorEvent, format: OutputFormat) -> String {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail, and every renderer writes valid UTF-8.
    if render(event, format, &mut out).is_err() {
        return String::new();
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The concrete format a `mixed` line uses: a pure function of the line, so output stays
/// deterministic without threading a random generator through the renderer.
fn pick_format(line: &LogLine<'_>) -> OutputFormat {
    let seed = line
        .message
        .bytes()
        .fold(nanos(&line.timestamp) as u64, |h, b| {
            h.rotate_left(5) ^ u64::from(b)
        });
    let index = (mix64(seed) % OutputFormat::CONCRETE.len() as u64) as usize;
    OutputFormat::CONCRETE[index]
}

/// SplitMix64's finalizer: a cheap, well-spread hash of a `u64`.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn nanos(ts: &DateTime<Utc>) -> i64 {
    ts.timestamp_nanos_opt()
        .unwrap_or(ts.timestamp_micros().saturating_mul(1000))
}

/// When the container runtime (or OTel SDK) saw the line: 9–129 µs after the event, with
/// nanosecond digits. Derived from the event time so output stays deterministic.
fn shipper_nanos(ts: &DateTime<Utc>) -> i64 {
    let at = nanos(ts);
    at + 9_000 + (mix64(at as u64) % 120_000) as i64
}

// ---------------------------------------------------------------------------------------------
// tracing-subscriber JSON and text

/// `{"timestamp":..,"level":..,"fields":{"message":..,...},"target":"<module>"}`, or with
/// `flat` the fields in place of `fields` (and so two `target` keys when the event has one).
fn write_tracing_json(buf: &mut Vec<u8>, line: &LogLine<'_>, flat: bool) {
    buf.extend_from_slice(br#"{"timestamp":""#);
    push_rfc3339_micros(buf, &line.timestamp);
    buf.extend_from_slice(br#"","level":"#);
    push_json_str(buf, line.level);
    buf.extend_from_slice(if flat { b"," } else { br#","fields":{"# });
    buf.extend_from_slice(br#""message":"#);
    push_json_str(buf, line.message);
    for (name, value) in &line.fields {
        buf.push(b',');
        push_json_str(buf, name);
        buf.push(b':');
        push_json_value(buf, *value);
    }
    buf.extend_from_slice(if flat {
        b",\"target\":"
    } else {
        b"},\"target\":"
    });
    push_json_str(buf, line.module);
    buf.push(b'}');
}

/// tracing-subscriber's `Full` format without ANSI colours:
/// `TIMESTAMP LEVEL MODULE: MESSAGE name=value ...`. The level is right-aligned to five
/// characters (hence two spaces before `INFO`), strings are written with `{:?}`.
fn write_text(buf: &mut Vec<u8>, line: &LogLine<'_>) -> io::Result<()> {
    push_rfc3339_micros(buf, &line.timestamp);
    write!(buf, " {:>5} {}: {}", line.level, line.module, line.message)?;
    for (name, value) in &line.fields {
        match value {
            FieldValue::Str(s) => write!(buf, " {name}={s:?}")?,
            FieldValue::Int(i) => write!(buf, " {name}={i}")?,
            FieldValue::Float(f) => write!(buf, " {name}={f:?}")?,
            FieldValue::Bool(b) => write!(buf, " {name}={b}")?,
        }
    }
    buf.push(b'\n');
    Ok(())
}

fn push_json_value(buf: &mut Vec<u8>, value: FieldValue<'_>) {
    match value {
        FieldValue::Str(s) => push_json_str(buf, s),
        FieldValue::Int(i) => push_display(buf, i),
        // serde_json (which tracing-subscriber uses) writes floats with ryu: `12.0`, `0.5`.
        FieldValue::Float(f) => match serde_json::to_writer(&mut *buf, &f) {
            Ok(()) => {}
            Err(_) => buf.extend_from_slice(b"null"),
        },
        FieldValue::Bool(b) => buf.extend_from_slice(if b { b"true" } else { b"false" }),
    }
}

// ---------------------------------------------------------------------------------------------
// Wrappers: fluentd, CRI, docker

/// `{"log":"<json line>","stream":"stdout","logtag":"F","time":"..","kubernetes":{..}}`.
fn write_fluentd(buf: &mut Vec<u8>, inner: &[u8], line: &LogLine<'_>) {
    buf.extend_from_slice(br#"{"log":"#);
    push_json_bytes(buf, inner);
    buf.extend_from_slice(br#","stream":"stdout","logtag":"F","time":""#);
    push_go_rfc3339_nano(buf, shipper_nanos(&line.timestamp));
    buf.extend_from_slice(br#"","kubernetes":"#);
    buf.extend_from_slice(KUBERNETES_METADATA.as_bytes());
    buf.extend_from_slice(b"}\n");
}

/// The fluentd record after the `parser` filter: the record's own keys first (`log` removed),
/// then the parsed JSON's keys, as Ruby's `Hash#merge` orders them.
fn write_fluentd_unpacked(buf: &mut Vec<u8>, inner: &[u8], line: &LogLine<'_>) {
    buf.extend_from_slice(br#"{"stream":"stdout","logtag":"F","time":""#);
    push_go_rfc3339_nano(buf, shipper_nanos(&line.timestamp));
    buf.extend_from_slice(br#"","kubernetes":"#);
    buf.extend_from_slice(KUBERNETES_METADATA.as_bytes());
    buf.push(b',');
    // `inner` is a JSON object: splice its members after ours.
    buf.extend_from_slice(inner.get(1..).unwrap_or_default());
    buf.push(b'\n');
}

/// `TIME stdout P piece` ... `TIME stdout F last-piece`, one line per piece.
fn write_cri(buf: &mut Vec<u8>, inner: &[u8], line: &LogLine<'_>, split: usize) {
    let at = shipper_nanos(&line.timestamp);
    let pieces = split_pieces(inner, split);
    let last = pieces.len().saturating_sub(1);
    for (i, piece) in pieces.into_iter().enumerate() {
        push_go_rfc3339_nano(buf, at + i as i64 * 1_337);
        buf.extend_from_slice(if i == last {
            b" stdout F "
        } else {
            b" stdout P "
        });
        buf.extend_from_slice(piece);
        buf.push(b'\n');
    }
}

/// `{"log":"piece","stream":"stdout","time":".."}`; only the last piece's `log` ends in `\n`.
fn write_docker(buf: &mut Vec<u8>, inner: &[u8], line: &LogLine<'_>, split: usize) {
    let at = shipper_nanos(&line.timestamp);
    let pieces = split_pieces(inner, split);
    let last = pieces.len().saturating_sub(1);
    for (i, piece) in pieces.into_iter().enumerate() {
        buf.extend_from_slice(br#"{"log":""#);
        push_go_json_inner(buf, piece);
        if i == last {
            buf.extend_from_slice(br"\n");
        }
        buf.extend_from_slice(br#"","stream":"stdout","time":""#);
        push_go_rfc3339_nano(buf, at + i as i64 * 1_337);
        buf.extend_from_slice(b"\"}\n");
    }
}

/// Splits `line` into pieces of at most `max` bytes, never inside a UTF-8 character (unless a
/// single character is longer than `max`). Always returns at least one piece.
pub(crate) fn split_pieces(line: &[u8], max: usize) -> Vec<&[u8]> {
    let max = max.max(1);
    let mut pieces = Vec::with_capacity(line.len() / max + 1);
    let mut rest = line;
    while rest.len() > max {
        let mut cut = max;
        while cut > 0 && is_continuation(rest[cut]) {
            cut -= 1;
        }
        if cut == 0 {
            cut = max;
            while cut < rest.len() && is_continuation(rest[cut]) {
                cut += 1;
            }
        }
        let (piece, tail) = rest.split_at(cut);
        pieces.push(piece);
        rest = tail;
    }
    pieces.push(rest);
    pieces
}

fn is_continuation(byte: u8) -> bool {
    byte & 0xC0 == 0x80
}

// ---------------------------------------------------------------------------------------------
// OTLP/JSON

/// One `ExportLogsServiceRequest` with one record, keys in the order the Collector's pdata
/// marshaler writes them (proto field order, empty values left out).
fn write_otlp(buf: &mut Vec<u8>, line: &LogLine<'_>) {
    buf.extend_from_slice(br#"{"resourceLogs":[{"resource":{"attributes":["#);
    push_otlp_attribute(buf, "service.name", FieldValue::Str("mirrord-operator"));
    if let Some(version) = line.service_version {
        buf.push(b',');
        push_otlp_attribute(buf, "service.version", FieldValue::Str(version));
    }
    buf.extend_from_slice(br#"]},"scopeLogs":[{"scope":{"name":"#);
    push_json_str(buf, line.module);
    buf.extend_from_slice(br#"},"logRecords":[{"timeUnixNano":""#);
    push_display(buf, nanos(&line.timestamp));
    buf.extend_from_slice(br#"","observedTimeUnixNano":""#);
    push_display(buf, shipper_nanos(&line.timestamp));
    buf.extend_from_slice(br#"","severityNumber":"#);
    push_display(buf, severity_number(line.level));
    buf.extend_from_slice(br#","severityText":"#);
    push_json_str(buf, line.level);
    buf.extend_from_slice(br#","body":{"stringValue":"#);
    push_json_str(buf, line.message);
    buf.push(b'}');
    if !line.fields.is_empty() {
        buf.extend_from_slice(br#","attributes":["#);
        for (i, (name, value)) in line.fields.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            push_otlp_attribute(buf, name, *value);
        }
        buf.push(b']');
    }
    if let (Some(trace_id), Some(span_id)) = (line.trace_id, line.span_id) {
        buf.extend_from_slice(br#","flags":1,"traceId":"#);
        push_json_str(buf, trace_id);
        buf.extend_from_slice(br#","spanId":"#);
        push_json_str(buf, span_id);
    }
    buf.extend_from_slice(b"}]}]}]}\n");
}

/// `{"key":"port","value":{"intValue":"8080"}}`: int64 as a decimal string (proto3 JSON),
/// doubles as Go writes them (`12` for a whole number, `12.5`).
fn push_otlp_attribute(buf: &mut Vec<u8>, key: &str, value: FieldValue<'_>) {
    buf.extend_from_slice(br#"{"key":"#);
    push_json_str(buf, key);
    buf.extend_from_slice(br#","value":{"#);
    match value {
        FieldValue::Str(s) => {
            buf.extend_from_slice(br#""stringValue":"#);
            push_json_str(buf, s);
        }
        FieldValue::Int(i) => {
            buf.extend_from_slice(br#""intValue":""#);
            push_display(buf, i);
            buf.push(b'"');
        }
        FieldValue::Float(f) if f.is_finite() => {
            buf.extend_from_slice(br#""doubleValue":"#);
            push_display(buf, f);
        }
        FieldValue::Float(f) => {
            buf.extend_from_slice(br#""doubleValue":"#);
            push_json_str(
                buf,
                if f.is_nan() {
                    "NaN"
                } else if f > 0.0 {
                    "Infinity"
                } else {
                    "-Infinity"
                },
            );
        }
        FieldValue::Bool(b) => {
            buf.extend_from_slice(if b {
                br#""boolValue":true"#
            } else {
                br#""boolValue":false"#
            });
        }
    }
    buf.extend_from_slice(b"}}");
}

/// OTLP `SeverityNumber` for a tracing level.
fn severity_number(level: &str) -> u8 {
    match level {
        "TRACE" => 1,
        "DEBUG" => 5,
        "WARN" => 13,
        "ERROR" => 17,
        _ => 9,
    }
}

// ---------------------------------------------------------------------------------------------
// Low-level writers

fn push_display(buf: &mut Vec<u8>, value: impl std::fmt::Display) {
    // Writing to a Vec<u8> cannot fail.
    let _ = write!(buf, "{value}");
}

/// A JSON string escaped as serde_json (and so tracing-subscriber) escapes it.
pub(crate) fn push_json_str(buf: &mut Vec<u8>, s: &str) {
    push_json_bytes(buf, s.as_bytes());
}

fn push_json_bytes(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.push(b'"');
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => br#"\""#,
            b'\\' => br"\\",
            b'\n' => br"\n",
            b'\r' => br"\r",
            b'\t' => br"\t",
            0x08 => br"\b",
            0x0c => br"\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        buf.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            push_unicode_escape(buf, u32::from(b));
        } else {
            buf.extend_from_slice(escape);
        }
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
    buf.push(b'"');
}

/// The inside of a JSON string as Go's docker json-file logger writes it: `<`, `>`, `&`,
/// U+2028 and U+2029 escaped as `\u....`, no `\b`/`\f` short forms.
fn push_go_json_inner(buf: &mut Vec<u8>, bytes: &[u8]) {
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let (escape, width): (Option<&[u8]>, usize) = match b {
            b'"' => (Some(br#"\""#), 1),
            b'\\' => (Some(br"\\"), 1),
            b'\n' => (Some(br"\n"), 1),
            b'\r' => (Some(br"\r"), 1),
            b'\t' => (Some(br"\t"), 1),
            0x00..=0x1f | b'<' | b'>' | b'&' => (None, 1),
            0xE2 if bytes.get(i + 1) == Some(&0x80)
                && matches!(bytes.get(i + 2), Some(0xA8 | 0xA9)) =>
            {
                (None, 3)
            }
            _ => {
                i += 1;
                continue;
            }
        };
        buf.extend_from_slice(&bytes[start..i]);
        match escape {
            Some(escape) => buf.extend_from_slice(escape),
            None if width == 3 => push_unicode_escape(buf, 0x2000 | u32::from(bytes[i + 2] & 0x3f)),
            None => push_unicode_escape(buf, u32::from(b)),
        }
        i += width;
        start = i;
    }
    buf.extend_from_slice(&bytes[start..]);
}

fn push_unicode_escape(buf: &mut Vec<u8>, code: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    buf.extend_from_slice(br"\u");
    for shift in [12, 8, 4, 0] {
        buf.push(HEX[((code >> shift) & 0xf) as usize]);
    }
}

fn push_digits(buf: &mut Vec<u8>, value: u32, width: usize) {
    let mut digits = [b'0'; 10];
    let mut v = value;
    for slot in digits[..width].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    buf.extend_from_slice(&digits[..width]);
}

/// `2026-02-01T03:55:25` (no fraction, no zone).
fn push_date_time(buf: &mut Vec<u8>, ts: &DateTime<Utc>) {
    let year = ts.year();
    if (0..=9999).contains(&year) {
        push_digits(buf, year as u32, 4);
    } else {
        push_display(buf, year);
    }
    for (sep, value) in [
        (b'-', ts.month()),
        (b'-', ts.day()),
        (b'T', ts.hour()),
        (b':', ts.minute()),
        (b':', ts.second()),
    ] {
        buf.push(sep);
        push_digits(buf, value, 2);
    }
}

/// tracing-subscriber's timestamp: RFC 3339 UTC, exactly six fractional digits, `Z`.
pub(crate) fn push_rfc3339_micros(buf: &mut Vec<u8>, ts: &DateTime<Utc>) {
    push_date_time(buf, ts);
    buf.push(b'.');
    push_digits(buf, (ts.nanosecond() % 1_000_000_000) / 1000, 6);
    buf.push(b'Z');
}

/// Go's `time.RFC3339Nano`, as containerd and dockerd write it: trailing zeros of the
/// fraction dropped, and the dot too when the fraction is zero.
fn push_go_rfc3339_nano(buf: &mut Vec<u8>, nanos: i64) {
    let ts = DateTime::from_timestamp_nanos(nanos);
    push_date_time(buf, &ts);
    let mut fraction = ts.nanosecond() % 1_000_000_000;
    if fraction != 0 {
        let mut width = 9;
        while fraction.is_multiple_of(10) {
            fraction /= 10;
            width -= 1;
        }
        buf.push(b'.');
        push_digits(buf, fraction, width);
    }
    buf.push(b'Z');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventKind;
    use serde_json::Value;

    fn event() -> OperatorEvent {
        let ts = DateTime::parse_from_rfc3339("2026-02-01T03:55:25.050620Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("valid test timestamp");
        let mut e = OperatorEvent::new(EventKind::PortSteal, ts);
        e.level = Some("INFO".into());
        e.session_id = Some("487F4F2B6D2376AD".into());
        e.client_name = Some(r#"Ana "Nina" Petrova"#.into());
        e.target = Some("deployment/order-service/container/main".into());
        e.target_namespace = Some("shop".into());
        e.port = Some(80);
        e.http_filter = Some(r"path=^/search\?q=.*&debug=1".into());
        e.operator_version = Some("3.120.0".into());
        e.finish()
    }

    fn json(line: &str) -> Value {
        serde_json::from_str(line).unwrap_or_else(|e| panic!("invalid JSON {line}: {e}"))
    }

    #[test]
    fn tracing_json_nests_fields_and_keeps_module_target() {
        let line = render_to_string(&event(), OutputFormat::TracingJson);
        let v = json(&line);
        assert_eq!(v["timestamp"], "2026-02-01T03:55:25.050620Z");
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["target"], "operator::session");
        assert_eq!(v["fields"]["message"], "Port Steal");
        assert_eq!(
            v["fields"]["target"],
            "deployment/order-service/container/main"
        );
        assert_eq!(v["fields"]["port"], 80);
        assert_eq!(v["fields"]["client_name"], r#"Ana "Nina" Petrova"#);
        assert!(
            v["fields"].get("scale_down").is_none(),
            "absent fields are left out"
        );
        assert!(line.starts_with(r#"{"timestamp":"2026-02-01T03:55:25.050620Z","level":"INFO","fields":{"message":"Port Steal","session_id""#));
    }

    #[test]
    fn flat_json_has_both_target_keys_in_tracing_order() {
        let line = render_to_string(&event(), OutputFormat::TracingFlat);
        assert_eq!(line.matches(r#""target":"#).count(), 2);
        let mirrord = line
            .find(r#""target":"deployment/order-service"#)
            .expect("mirrord target");
        let module = line
            .find(r#""target":"operator::session"}"#)
            .expect("module target last");
        assert!(mirrord < module);
        // serde_json keeps the last duplicate: tracing's module path.
        assert_eq!(json(&line)["target"], "operator::session");
        assert_eq!(json(&line)["message"], "Port Steal");
    }

    #[test]
    fn text_matches_tracing_full_format() {
        let line = render_to_string(&event(), OutputFormat::Text);
        assert_eq!(
            line,
            concat!(
                r#"2026-02-01T03:55:25.050620Z  INFO operator::session: Port Steal session_id="487F4F2B6D2376AD" "#,
                r#"client_name="Ana \"Nina\" Petrova" target="deployment/order-service/container/main" "#,
                r#"target_type="deployment" target_name="order-service" "#,
                r#"target_namespace="shop" port=80 http_filter="path=^/search\\?q=.*&debug=1""#,
                "\n"
            )
        );
    }

    #[test]
    fn text_writes_floats_with_debug_and_whole_durations_as_integers() {
        let mut e = event();
        e.kind = EventKind::SessionEnd;
        e.session_duration = Some(12.0);
        assert!(render_to_string(&e, OutputFormat::Text).contains(" session_duration=12\n"));
        e.session_duration = Some(12.5);
        assert!(render_to_string(&e, OutputFormat::Text).contains(" session_duration=12.5\n"));
        let mut line = Vec::new();
        let mut l = LogLine::from_event(&e);
        l.level = "WARN";
        l.fields = vec![
            ("ratio", FieldValue::Float(2.0)),
            ("ok", FieldValue::Bool(true)),
        ];
        Renderer::new(OutputFormat::Text)
            .render_line(&l, &mut line)
            .expect("vec write");
        let line = String::from_utf8(line).expect("utf8");
        assert!(
            line.contains("Z  WARN operator::session: Port Steal ratio=2.0 ok=true\n"),
            "{line}"
        );
    }

    #[test]
    fn fluentd_carries_the_json_line_as_a_string() {
        let v = json(&render_to_string(&event(), OutputFormat::Fluentd));
        let inner = v["log"].as_str().expect("log is a string");
        assert_eq!(
            inner.trim_end(),
            render_to_string(&event(), OutputFormat::TracingJson).trim_end()
        );
        assert_eq!(v["stream"], "stdout");
        assert_eq!(v["logtag"], "F");
        assert_eq!(v["kubernetes"]["namespace_name"], "mirrord");
        assert!(
            v["time"]
                .as_str()
                .is_some_and(|t| t.starts_with("2026-02-01T03:55:25.0"))
        );
    }

    #[test]
    fn fluentd_unpacked_has_tracing_keys_at_top_level() {
        let v = json(&render_to_string(&event(), OutputFormat::FluentdUnpacked));
        assert_eq!(v["fields"]["message"], "Port Steal");
        assert_eq!(v["target"], "operator::session");
        assert_eq!(v["timestamp"], "2026-02-01T03:55:25.050620Z");
        assert_eq!(v["kubernetes"]["container_name"], "mirrord-operator");
        assert!(v.get("log").is_none());
    }

    #[test]
    fn docker_line_is_go_escaped_and_ends_in_newline() {
        let line = render_to_string(&event(), OutputFormat::Docker);
        assert!(
            line.contains(r"\u0026debug=1"),
            "Go escapes & in docker logs: {line}"
        );
        let v = json(&line);
        let log = v["log"].as_str().expect("log string");
        assert!(log.ends_with('\n'));
        assert_eq!(
            json(log)["fields"]["http_filter"],
            r"path=^/search\?q=.*&debug=1"
        );
    }

    #[test]
    fn cri_pieces_concatenate_back_to_the_line() {
        let inner = render_to_string(&event(), OutputFormat::TracingJson);
        let mut out = Vec::new();
        Renderer::new(OutputFormat::Cri)
            .with_cri_split(100)
            .render_event(&event(), &mut out)
            .expect("vec write");
        let text = String::from_utf8(out).expect("utf8");
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines.len() >= 3,
            "a {} byte line splits at 100",
            inner.len()
        );
        let mut joined = String::new();
        for (i, l) in lines.iter().enumerate() {
            let mut parts = l.splitn(4, ' ');
            let time = parts.next().expect("time");
            assert!(DateTime::parse_from_rfc3339(time).is_ok(), "{time}");
            assert_eq!(parts.next(), Some("stdout"));
            let tag = parts.next().expect("tag");
            assert_eq!(tag, if i + 1 == lines.len() { "F" } else { "P" });
            let piece = parts.next().expect("content");
            assert!(piece.len() <= 100);
            joined.push_str(piece);
        }
        assert_eq!(joined, inner.trim_end());
    }

    #[test]
    fn docker_partials_lack_the_newline() {
        let mut out = Vec::new();
        Renderer::new(OutputFormat::Docker)
            .with_cri_split(64)
            .render_event(&event(), &mut out)
            .expect("vec write");
        let text = String::from_utf8(out).expect("utf8");
        let logs: Vec<String> = text
            .lines()
            .map(|l| json(l)["log"].as_str().expect("log").to_string())
            .collect();
        assert!(logs.len() > 2);
        let (last, partial) = logs.split_last().expect("pieces");
        assert!(partial.iter().all(|p| !p.ends_with('\n')));
        assert!(last.ends_with('\n'));
        let joined: String = logs.concat();
        assert_eq!(
            joined,
            render_to_string(&event(), OutputFormat::TracingJson)
        );
    }

    #[test]
    fn split_never_cuts_a_character() {
        let s = "aéé€€b".as_bytes();
        for max in 1..s.len() + 2 {
            let pieces = split_pieces(s, max);
            assert_eq!(pieces.concat(), s);
            assert!(
                pieces.iter().all(|p| std::str::from_utf8(p).is_ok()),
                "max {max}"
            );
        }
    }

    #[test]
    fn otlp_types_attributes_and_carries_version_and_trace() {
        let mut e = event();
        e.scale_down = Some(true);
        e.session_duration = Some(12.5);
        e.trace_id = Some("4bf92f3577b34da6a3ce929d0e0e4736".into());
        e.span_id = Some("00f067aa0ba902b7".into());
        let v = json(&render_to_string(&e, OutputFormat::OtlpJson));
        let rl = &v["resourceLogs"][0];
        assert_eq!(
            rl["resource"]["attributes"][1]["value"]["stringValue"],
            "3.120.0"
        );
        let scope = &rl["scopeLogs"][0];
        assert_eq!(scope["scope"]["name"], "operator::session");
        let rec = &scope["logRecords"][0];
        assert_eq!(rec["timeUnixNano"], "1769918125050620000");
        assert_eq!(rec["severityNumber"], 9);
        assert_eq!(rec["body"]["stringValue"], "Port Steal");
        assert_eq!(rec["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
        let attr = |k: &str| {
            rec["attributes"]
                .as_array()
                .and_then(|a| a.iter().find(|x| x["key"] == k))
                .map(|x| x["value"].clone())
                .unwrap_or(Value::Null)
        };
        assert_eq!(attr("port")["intValue"], "80");
        assert_eq!(attr("scale_down")["boolValue"], true);
        assert_eq!(attr("session_duration")["doubleValue"], 12.5);
        assert_eq!(attr("session_id")["stringValue"], "487F4F2B6D2376AD");
        let observed: i64 = rec["observedTimeUnixNano"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("ns");
        assert!(observed > 1_769_918_125_050_620_000);
    }

    #[test]
    fn every_json_format_is_valid_json_per_line() {
        let e = event();
        for format in OutputFormat::CONCRETE {
            let out = render_to_string(&e, format);
            assert!(out.ends_with('\n'), "{format:?}");
            let lines: Vec<&str> = out.lines().collect();
            match format {
                OutputFormat::Text => assert_eq!(lines.len(), 1),
                OutputFormat::Cri => {
                    let content = lines[0].splitn(4, ' ').nth(3).expect("cri content");
                    json(content);
                }
                _ => {
                    for l in &lines {
                        json(l);
                    }
                }
            }
        }
    }

    #[test]
    fn go_times_drop_trailing_zeros() {
        let mut buf = Vec::new();
        push_go_rfc3339_nano(&mut buf, 1_769_918_125_050_620_000);
        buf.push(b' ');
        push_go_rfc3339_nano(&mut buf, 1_769_918_125_000_000_000);
        buf.push(b' ');
        push_go_rfc3339_nano(&mut buf, 1_769_918_125_050_620_123);
        assert_eq!(
            String::from_utf8(buf).expect("utf8"),
            "2026-02-01T03:55:25.05062Z 2026-02-01T03:55:25Z 2026-02-01T03:55:25.050620123Z"
        );
    }

    #[test]
    fn json_escaping_matches_serde_json() {
        let tricky = "a\"b\\c\nd\te\u{1}f\u{8}g\u{c}h\u{7f}é\u{2028}/";
        let mut buf = Vec::new();
        push_json_str(&mut buf, tricky);
        assert_eq!(
            String::from_utf8(buf).expect("utf8"),
            serde_json::to_string(tricky).expect("ser")
        );
        let mut go = Vec::new();
        push_go_json_inner(&mut go, tricky.as_bytes());
        let quoted = format!("\"{}\"", String::from_utf8(go).expect("utf8"));
        assert!(quoted.contains(r"\u2028") && quoted.contains(r"\u0001"));
        assert_eq!(
            serde_json::from_str::<String>(&quoted).expect("valid"),
            tricky
        );
    }

    #[test]
    fn mixed_uses_several_formats_deterministically() {
        let base = event();
        let mut seen = std::collections::HashSet::new();
        for i in 0..200 {
            let mut e = base.clone();
            e.timestamp += chrono::Duration::milliseconds(i * 7);
            let a = render_to_string(&e, OutputFormat::Mixed);
            assert_eq!(a, render_to_string(&e, OutputFormat::Mixed));
            seen.insert(pick_format(&LogLine::from_event(&e)));
        }
        assert_eq!(seen.len(), OutputFormat::CONCRETE.len());
    }
}
