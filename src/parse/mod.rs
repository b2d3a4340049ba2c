//! parse: raw records → canonical events. Knows formats, nothing about transports or storage.
//!
//! A [`LineParser`] takes one raw line at a time (bytes, possibly invalid UTF-8) and reports
//! each outcome to a [`Sink`]: an event, a skip (a valid line that is not a functional event),
//! or a reject with a reason. It keeps the little state formats need across lines: CRI `P`
//! partials and docker json-file partials, per stream.
//!
//! Formats (see `samples/README.md`): tracing JSON nested and flattened, fluentd records (JSON
//! in `log`, or unpacked), CRI, docker json-file, plain-text tracing, OTLP/JSON. With
//! [`InputFormat::Auto`] each line's format is detected on its own, so mixed files work.

pub mod fast;
pub mod fields;
pub mod json;
pub mod otlp;
pub mod text;

use std::collections::HashMap;

use serde_json::Value;

use crate::event::OperatorEvent;
pub use fields::{Mapped, RawFields};
use json::JsonShape;
pub use json::OrderedObject;

/// Lines longer than this are rejected rather than parsed (the operator's lines are ~1 KiB).
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// The input format of a file or stream, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InputFormat {
    /// Detect each line's format.
    Auto,
    /// tracing JSON, fields nested under `fields` or flattened.
    TracingJson,
    /// fluentd/fluent-bit records (JSON in `log`, or unpacked).
    Fluentd,
    /// Kubernetes CRI container-log lines (`TIME stdout F ...`).
    Cri,
    /// docker json-file container logs.
    Docker,
    /// The plain-text tracing format.
    Text,
    /// OTLP/JSON, one ExportLogsServiceRequest per line.
    Otlp,
}

/// The `format` column: which reader produced an event.
pub type FormatName = &'static str;

/// Receives what the parser made of each line.
pub trait Sink {
    /// A functional event, with the name of the format that carried it.
    fn event(&mut self, event: OperatorEvent, format: FormatName);
    /// A valid line that is not a functional event.
    fn skip(&mut self);
    /// A line that could not be read; `raw` is the offending input (the caller caps it).
    fn reject(&mut self, reason: String, raw: &[u8]);
}

/// Parses lines of one stream (a file, stdin, a request body), keeping partial-line state.
#[derive(Debug)]
pub struct LineParser {
    format: InputFormat,
    /// CRI `P` pieces and docker partials waiting for their final piece, by stream name.
    partials: HashMap<String, String>,
    /// Try the borrowed, typed reader ([`fast`]) before the general one.
    fast: bool,
}

impl LineParser {
    /// A parser for `format`.
    pub fn new(format: InputFormat) -> Self {
        LineParser {
            format,
            partials: HashMap::new(),
            fast: true,
        }
    }

    /// The same parser without the typed fast path: every line goes the general way. For the
    /// tests that check both paths agree, and to measure what the fast path saves.
    pub fn general_only(mut self) -> Self {
        self.fast = false;
        self
    }

    /// Parses one line (without its newline).
    pub fn feed(&mut self, line: &[u8], sink: &mut dyn Sink) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > MAX_LINE_BYTES {
            let reason = format!(
                "line of {} bytes exceeds the {MAX_LINE_BYTES}-byte limit",
                line.len()
            );
            return sink.reject(reason, line);
        }
        let text = match std::str::from_utf8(line) {
            Ok(t) => t,
            Err(e) => {
                return sink.reject(format!("invalid UTF-8 at byte {}", e.valid_up_to()), line);
            }
        };
        if text.trim().is_empty() {
            return sink.skip();
        }
        match self.format {
            InputFormat::Cri => match split_cri(text) {
                Some(cri) => self.feed_cri(cri, sink),
                None => sink.reject("not a CRI log line (TIME STREAM P|F CONTENT)".into(), line),
            },
            InputFormat::Text => self.feed_text(text, "text", Vec::new(), sink),
            InputFormat::Auto => {
                if let Some(cri) = split_cri(text) {
                    self.feed_cri(cri, sink)
                } else if text.trim_start().starts_with('{') {
                    self.feed_json(text, None, sink)
                } else if text::looks_like_text(text) {
                    self.feed_text(text, "text", Vec::new(), sink)
                } else {
                    sink.reject(
                        "unrecognized line: not JSON, CRI or tracing text".into(),
                        line,
                    )
                }
            }
            _ => self.feed_json(text, None, sink),
        }
    }

    fn feed_cri(&mut self, cri: CriLine<'_>, sink: &mut dyn Sink) {
        let key = format!("cri:{}", cri.stream);
        if cri.partial {
            return self.push_partial(key, cri.content, sink);
        }
        let content = match self.partials.remove(&key) {
            Some(mut head) => {
                head.push_str(cri.content);
                head
            }
            None => cri.content.to_string(),
        };
        let extra = vec![("stream".to_string(), Value::String(cri.stream.to_string()))];
        self.feed_inner(&content, "cri", extra, sink);
    }

    fn push_partial(&mut self, key: String, piece: &str, sink: &mut dyn Sink) {
        let buf = self.partials.entry(key.clone()).or_default();
        if buf.len() + piece.len() > MAX_LINE_BYTES {
            let head = self.partials.remove(&key).unwrap_or_default();
            let reason = format!("partial line pieces exceed the {MAX_LINE_BYTES}-byte limit");
            return sink.reject(reason, head.as_bytes());
        }
        buf.push_str(piece);
    }

    /// Content found inside a wrapper (CRI, docker, fluentd `log`): tracing JSON or text.
    fn feed_inner(
        &mut self,
        content: &str,
        format: FormatName,
        extra: Vec<(String, Value)>,
        sink: &mut dyn Sink,
    ) {
        let content = content.trim_end_matches(['\n', '\r']);
        if content.trim_start().starts_with('{') {
            self.feed_tracing_json(content, format, extra, sink)
        } else if text::looks_like_text(content) {
            self.feed_text(content, format, extra, sink)
        } else if content.trim().is_empty() {
            sink.skip()
        } else {
            // Plain output that is neither format (a panic message, a banner): not functional.
            sink.skip()
        }
    }

    fn feed_text(
        &mut self,
        text: &str,
        format: FormatName,
        extra: Vec<(String, Value)>,
        sink: &mut dyn Sink,
    ) {
        match text::parse_text(text) {
            Some(mut raw) => {
                raw.extra.extend(extra);
                emit(raw, format, text.as_bytes(), sink)
            }
            None => sink.reject(
                "not a tracing text line (TIME LEVEL target: message k=v)".into(),
                text.as_bytes(),
            ),
        }
    }

    fn feed_json(&mut self, text: &str, wrapper: Option<FormatName>, sink: &mut dyn Sink) {
        if self.fast
            && wrapper.is_none()
            && let Some(mapped) = fast::nested_tracing_json(text, &[])
        {
            return deliver(mapped, "tracing-json", text.as_bytes(), sink);
        }
        let obj: OrderedObject = match serde_json::from_str(text) {
            Ok(o) => o,
            Err(e) => return sink.reject(format!("invalid JSON: {e}"), text.as_bytes()),
        };
        self.feed_parsed(obj, wrapper, Some(text), sink)
    }

    /// A record that arrived already structured (a Forward entry's record, decoded from
    /// MessagePack): the same shapes, the same mapping and so the same id as the same record
    /// read as a JSON line, without writing it out as text and reading it again. Its keys keep
    /// their order and duplicates. A reject has no raw line to quote; its reason names the
    /// field and the bad value.
    pub fn feed_object(&mut self, obj: OrderedObject, sink: &mut dyn Sink) {
        self.feed_parsed(obj, None, None, sink)
    }

    /// Dispatches a top-level JSON object by its shape; `text` is the line it was read from.
    fn feed_parsed(
        &mut self,
        obj: OrderedObject,
        wrapper: Option<FormatName>,
        text: Option<&str>,
        sink: &mut dyn Sink,
    ) {
        match obj.shape() {
            JsonShape::Otlp => {
                let value = Value::Object(obj.0.into_iter().collect());
                self.feed_otlp(&value, text.unwrap_or("").as_bytes(), sink)
            }
            JsonShape::Docker => self.feed_docker(obj, sink),
            JsonShape::FluentdLog => self.feed_fluentd_log(obj, sink),
            shape => {
                let format = wrapper.unwrap_or(match (&shape, obj.has_transport_keys()) {
                    (_, true) => "fluentd",
                    (JsonShape::Nested, false) => "tracing-json",
                    _ => "tracing-flat",
                });
                let raw = obj.into_tracing_fields(shape == JsonShape::Nested);
                emit(raw, format, text.unwrap_or("").as_bytes(), sink)
            }
        }
    }

    /// The operator's tracing JSON found inside a wrapper; the wrapper's keys become attributes.
    fn feed_tracing_json(
        &mut self,
        content: &str,
        format: FormatName,
        extra: Vec<(String, Value)>,
        sink: &mut dyn Sink,
    ) {
        if self.fast
            && let Some(mapped) = fast::nested_tracing_json(content, &extra)
        {
            return deliver(mapped, format, content.as_bytes(), sink);
        }
        let obj: OrderedObject = match serde_json::from_str(content) {
            Ok(o) => o,
            Err(e) => {
                return sink.reject(
                    format!("invalid JSON inside {format} record: {e}"),
                    content.as_bytes(),
                );
            }
        };
        let nested = obj.shape() == JsonShape::Nested;
        let mut raw = obj.into_tracing_fields(nested);
        raw.extra.extend(extra);
        emit(raw, format, content.as_bytes(), sink)
    }

    fn feed_docker(&mut self, mut obj: OrderedObject, sink: &mut dyn Sink) {
        let stream = obj
            .get("stream")
            .and_then(Value::as_str)
            .unwrap_or("stdout")
            .to_string();
        let Some(Value::String(log)) = obj.take("log") else {
            return sink.skip();
        };
        let key = format!("docker:{stream}");
        if !log.ends_with('\n') {
            return self.push_partial(key, &log, sink);
        }
        let content = match self.partials.remove(&key) {
            Some(mut head) => {
                head.push_str(&log);
                head
            }
            None => log,
        };
        let extra = vec![("stream".to_string(), Value::String(stream))];
        self.feed_inner(&content, "docker", extra, sink)
    }

    fn feed_fluentd_log(&mut self, mut obj: OrderedObject, sink: &mut dyn Sink) {
        let Some(Value::String(log)) = obj.take("log") else {
            return sink.skip();
        };
        let extra: Vec<(String, Value)> = obj
            .0
            .into_iter()
            .map(|(k, v)| {
                if k == "time" {
                    ("log_time".to_string(), v)
                } else {
                    (k, v)
                }
            })
            .collect();
        if let Some(cri) = split_cri(&log) {
            // fluent-bit without a CRI parser forwards the raw container-log line.
            return self.feed_cri(cri, sink);
        }
        self.feed_inner(&log, "fluentd", extra, sink)
    }

    fn feed_otlp(&mut self, value: &Value, excerpt: &[u8], sink: &mut dyn Sink) {
        match otlp::json_request(value) {
            Ok(records) => {
                for raw in records {
                    emit(raw, "otlp", excerpt, sink);
                }
            }
            Err(reason) => sink.reject(reason, excerpt),
        }
    }

    /// Whether partial pieces (CRI `P`, docker partials) wait for their final piece. A tailer
    /// checkpoints only after lines that leave nothing pending, so a restart re-reads them.
    pub fn pending(&self) -> bool {
        !self.partials.is_empty()
    }

    /// Reports partial lines still waiting for their final piece at the end of the input.
    pub fn finish(&mut self, sink: &mut dyn Sink) {
        for (key, head) in self.partials.drain() {
            sink.reject(
                format!("input ended inside a partial {key} line"),
                head.as_bytes(),
            );
        }
    }
}

/// Maps collected fields and reports the outcome.
pub fn emit(raw: RawFields, format: FormatName, source_line: &[u8], sink: &mut dyn Sink) {
    deliver(raw.map(), format, source_line, sink)
}

/// Reports a mapped record.
fn deliver(mapped: Mapped, format: FormatName, source_line: &[u8], sink: &mut dyn Sink) {
    match mapped {
        Mapped::Event(event) => sink.event(*event, format),
        Mapped::Skip => sink.skip(),
        Mapped::Reject(reason) => sink.reject(reason, source_line),
    }
}

/// One CRI container-log line: `<RFC3339Nano> <stdout|stderr> <P|F> <content>`.
struct CriLine<'a> {
    stream: &'a str,
    partial: bool,
    content: &'a str,
}

fn split_cri(line: &str) -> Option<CriLine<'_>> {
    let mut parts = line.splitn(4, ' ');
    let time = parts.next()?;
    let stream = parts.next()?;
    let tag = parts.next()?;
    let content = parts.next().unwrap_or("");
    let time_ok = time.len() >= 20 && time.as_bytes()[4] == b'-' && time.as_bytes()[10] == b'T';
    if !time_ok || !matches!(stream, "stdout" | "stderr") {
        return None;
    }
    let partial = match tag.split(':').next() {
        Some("P") => true,
        Some("F") => false,
        _ => return None,
    };
    Some(CriLine {
        stream,
        partial,
        content,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventKind;

    #[derive(Default)]
    struct Collect {
        events: Vec<(OperatorEvent, FormatName)>,
        skips: usize,
        rejects: Vec<String>,
    }

    impl Sink for Collect {
        fn event(&mut self, event: OperatorEvent, format: FormatName) {
            self.events.push((event, format));
        }
        fn skip(&mut self) {
            self.skips += 1;
        }
        fn reject(&mut self, reason: String, _raw: &[u8]) {
            self.rejects.push(reason);
        }
    }

    fn parse_lines(lines: &[&str]) -> Collect {
        let mut p = LineParser::new(InputFormat::Auto);
        let mut c = Collect::default();
        for l in lines {
            p.feed(l.as_bytes(), &mut c);
        }
        p.finish(&mut c);
        c
    }

    const NESTED: &str = r#"{"timestamp":"2026-02-01T03:55:25.050620Z","level":"INFO","fields":{"message":"Port Steal","session_id":"487F4F2B6D2376AD","client_name":"Aris Doe","target":"deployment/order-service/container/main","target_namespace":"shop","port":8080,"http_filter":"header=x-user: aris","custom":"kept"},"target":"operator::session"}"#;

    #[test]
    fn nested_tracing_json_maps_every_field() {
        let c = parse_lines(&[NESTED]);
        assert!(c.rejects.is_empty(), "{:?}", c.rejects);
        let (e, format) = &c.events[0];
        assert_eq!(*format, "tracing-json");
        assert_eq!(e.kind, EventKind::PortSteal);
        assert_eq!(e.port, Some(8080));
        assert_eq!(e.target_type.as_deref(), Some("deployment"));
        assert_eq!(e.target_name.as_deref(), Some("order-service"));
        assert_eq!(e.target_container.as_deref(), Some("main"));
        assert_eq!(e.http_filter.as_deref(), Some("header=x-user: aris"));
        assert_eq!(e.attributes["custom"], "kept");
        assert!(
            !e.attributes.contains_key("tracing_target"),
            "the functional events' module path is not stored per row"
        );
    }

    #[test]
    fn flattened_json_keeps_the_mirrord_target_despite_the_duplicate_key() {
        let flat = r#"{"timestamp":"2026-02-01T03:55:25.050620Z","level":"INFO","message":"Port Steal","session_id":"487F4F2B6D2376AD","client_name":"Aris Doe","target":"deployment/order-service/container/main","target_namespace":"shop","port":8080,"http_filter":"header=x-user: aris","custom":"kept","target":"operator::session"}"#;
        let c = parse_lines(&[flat, NESTED]);
        assert_eq!(c.events.len(), 2);
        let (flat_event, format) = &c.events[0];
        assert_eq!(*format, "tracing-flat");
        assert_eq!(
            flat_event.target.as_deref(),
            Some("deployment/order-service/container/main")
        );
        assert_eq!(
            flat_event.id, c.events[1].0.id,
            "same event in two layouts has one id"
        );
        let module_only = r#"{"timestamp":"2026-02-01T03:55:25Z","level":"INFO","message":"Session Start","session_id":"1","target":"operator::session"}"#;
        let c = parse_lines(&[module_only]);
        assert_eq!(
            c.events[0].0.target, None,
            "a module path is never a mirrord target"
        );
    }

    #[test]
    fn cri_partials_are_joined_per_stream() {
        let (a, b) = NESTED.split_at(100);
        let lines = [
            format!("2026-02-01T03:55:25.050620123Z stdout P {a}"),
            "2026-02-01T03:55:25.050620124Z stderr F some unrelated stderr text".to_string(),
            format!("2026-02-01T03:55:25.050620125Z stdout F {b}"),
        ];
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let c = parse_lines(&refs);
        assert!(c.rejects.is_empty(), "{:?}", c.rejects);
        assert_eq!(c.events.len(), 1);
        assert_eq!(c.events[0].1, "cri");
        assert_eq!(c.events[0].0.id, parse_lines(&[NESTED]).events[0].0.id);
        assert_eq!(c.skips, 1, "the stderr text is not functional");
    }

    #[test]
    fn docker_json_file_and_partials() {
        let (a, b) = NESTED.split_at(50);
        let enc = |s: &str| serde_json::to_string(s).unwrap();
        let lines = [
            format!(
                r#"{{"log":{},"stream":"stdout","time":"2026-02-01T03:55:25.1Z"}}"#,
                enc(a)
            ),
            format!(
                r#"{{"log":{},"stream":"stdout","time":"2026-02-01T03:55:25.1Z"}}"#,
                enc(&format!("{b}\n"))
            ),
        ];
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let c = parse_lines(&refs);
        assert!(c.rejects.is_empty(), "{:?}", c.rejects);
        assert_eq!(c.events.len(), 1);
        assert_eq!(c.events[0].1, "docker");
    }

    #[test]
    fn fluentd_record_with_json_in_log_keeps_kubernetes_metadata() {
        let rec = serde_json::json!({
            "log": NESTED, "stream": "stdout", "time": "2026-02-01T03:55:25.1Z",
            "kubernetes": {"namespace_name": "mirrord", "pod_name": "mirrord-operator-x"}
        });
        let c = parse_lines(&[&rec.to_string()]);
        assert_eq!(c.events.len(), 1, "{:?}", c.rejects);
        let (e, format) = &c.events[0];
        assert_eq!(*format, "fluentd");
        assert_eq!(e.attributes["kubernetes"]["pod_name"], "mirrord-operator-x");
        assert_eq!(e.id, parse_lines(&[NESTED]).events[0].0.id);
    }

    #[test]
    fn otlp_json_in_camel_and_snake_case_gives_the_same_events() {
        let camel = r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.version","value":{"stringValue":"3.120.0"}}]},"scopeLogs":[{"scope":{"name":"operator::session"},"logRecords":[{"timeUnixNano":"1769918125050620000","severityText":"INFO","body":{"stringValue":"Port Steal"},"attributes":[{"key":"port","value":{"intValue":"8080"}},{"key":"session_id","value":{"stringValue":"487F4F2B6D2376AD"}}],"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174"}]}]}]}"#;
        let snake = r#"{"resource_logs":[{"resource":{"attributes":[{"key":"service.version","value":{"string_value":"3.120.0"}}]},"scope_logs":[{"scope":{"name":"operator::session"},"log_records":[{"time_unix_nano":1769918125050620000,"severity_text":"INFO","body":{"string_value":"Port Steal"},"attributes":[{"key":"port","value":{"int_value":8080}},{"key":"session_id","value":{"string_value":"487F4F2B6D2376AD"}}]}]}]}]}"#;
        let c = parse_lines(&[camel, snake]);
        assert!(c.rejects.is_empty(), "{:?}", c.rejects);
        assert_eq!(c.events.len(), 2);
        let (a, b) = (&c.events[0].0, &c.events[1].0);
        assert_eq!(a.id, b.id);
        assert_eq!(a.port, Some(8080));
        assert_eq!(a.operator_version.as_deref(), Some("3.120.0"));
        assert_eq!(
            a.trace_id.as_deref(),
            Some("5b8efff798038103d269b633813fc60c")
        );
        assert_eq!(a.timestamp.timestamp_micros(), 1769918125050620);
    }

    #[test]
    fn legacy_and_current_names_are_one_event() {
        let legacy = NESTED.replace("\"Port Steal\"", "\"Port Stolen\"");
        let c = parse_lines(&[NESTED, &legacy]);
        assert_eq!(c.events.len(), 2);
        assert_eq!(c.events[0].0.id, c.events[1].0.id);
        assert_eq!(c.events[1].0.message, "Port Stolen");
    }

    #[test]
    fn text_format_matches_json() {
        let text = r#"2026-02-01T03:55:25.050620Z  INFO operator::session: Port Steal session_id="487F4F2B6D2376AD" client_name="Aris Doe" target="deployment/order-service/container/main" target_namespace="shop" port=8080 http_filter="header=x-user: aris" custom="kept""#;
        let c = parse_lines(&[text]);
        assert!(c.rejects.is_empty(), "{:?}", c.rejects);
        assert_eq!(c.events[0].1, "text");
        assert_eq!(c.events[0].0.id, parse_lines(&[NESTED]).events[0].0.id);
    }

    #[test]
    fn wrong_types_are_rejected_not_coerced() {
        let bad_port = NESTED.replace("8080", "\"abc\"");
        let c = parse_lines(&[&bad_port, "{\"fields\":", "\u{1}\u{2}garbage"]);
        assert_eq!(c.events.len(), 0);
        assert_eq!(c.rejects.len(), 3, "{:?}", c.rejects);
        assert!(c.rejects[0].contains("field `port`"));
        assert!(c.rejects[1].contains("invalid JSON"));
    }
}
