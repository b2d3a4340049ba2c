//! The hand-checked session behind `samples/`: six functional events (one of each kind) and
//! one `Loaded license!` line, rendered once per input format.
//!
//! Every current-name sample file holds the *same* six events (same timestamps, session,
//! client and target), and `legacy-names.log` holds them again under the legacy messages, so
//! ingesting all of `samples/*` stores exactly six events: the event id ignores the format and
//! the message's spelling. A unit test keeps the files equal to what the renderers write;
//! run it with `MIRRORD_USAGE_UPDATE_SAMPLES=1` to rewrite them after a deliberate change.

use chrono::{DateTime, Utc};

use super::render::{DEFAULT_CRI_SPLIT, LogLine, OutputFormat, Renderer};
use crate::event::{EventKind, OperatorEvent};

/// The split size `samples/cri.log` is written with (containerd's `max_container_log_line_size`),
/// so that its longer lines show `P` pieces. The other samples use the 16 KiB default.
pub const SAMPLE_CRI_SPLIT: usize = 256;

/// One sample file: its name under `samples/`, format, and whether it uses legacy messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleFile {
    /// File name under `samples/`.
    pub name: &'static str,
    /// The format it is written in.
    pub format: OutputFormat,
    /// Written with the legacy messages (`Session Started`, `Port Stolen`, ...).
    pub legacy_names: bool,
}

/// Every file in `samples/` except the README.
pub const SAMPLE_FILES: [SampleFile; 9] = [
    SampleFile {
        name: "tracing-json.log",
        format: OutputFormat::TracingJson,
        legacy_names: false,
    },
    SampleFile {
        name: "tracing-flat.log",
        format: OutputFormat::TracingFlat,
        legacy_names: false,
    },
    SampleFile {
        name: "fluentd.ndjson",
        format: OutputFormat::Fluentd,
        legacy_names: false,
    },
    SampleFile {
        name: "fluentd-unpacked.ndjson",
        format: OutputFormat::FluentdUnpacked,
        legacy_names: false,
    },
    SampleFile {
        name: "cri.log",
        format: OutputFormat::Cri,
        legacy_names: false,
    },
    SampleFile {
        name: "docker.log",
        format: OutputFormat::Docker,
        legacy_names: false,
    },
    SampleFile {
        name: "text.log",
        format: OutputFormat::Text,
        legacy_names: false,
    },
    SampleFile {
        name: "otlp.jsonl",
        format: OutputFormat::OtlpJson,
        legacy_names: false,
    },
    SampleFile {
        name: "legacy-names.log",
        format: OutputFormat::TracingJson,
        legacy_names: true,
    },
];

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN_IDS: [&str; 6] = [
    "00f067aa0ba902b7",
    "53995c3f42cd8ad8",
    "a3ce929d0e0e4736",
    "6e0c63257de34c92",
    "b7ad6b7169203331",
    "c8f2e1d4a5b69780",
];

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// The six sample events, in time order, ids set. Only OTLP carries `operator_version`,
/// `trace_id` and `span_id`; the other formats have no place for them.
///
/// Session `487F4F2B6D2376AD`: Aris Doe starts a session on `deployment/order-service`
/// in `shop` from branch `feature/SHOP-123-checkout`, copies the target with scale-down,
/// steals port 80 for requests with `x-user: aris`, mirrors 8080, releases 80 and ends after
/// 136.124625 s (exactly End − Start).
pub fn sample_session() -> Vec<OperatorEvent> {
    let steps = [
        (EventKind::SessionStart, "2026-02-01T03:55:25.050620Z"),
        (EventKind::CopyTarget, "2026-02-01T03:55:27.412907Z"),
        (EventKind::PortSteal, "2026-02-01T03:55:28.118342Z"),
        (EventKind::PortMirror, "2026-02-01T03:55:28.530011Z"),
        (EventKind::PortRelease, "2026-02-01T03:57:40.903114Z"),
        (EventKind::SessionEnd, "2026-02-01T03:57:41.175245Z"),
    ];
    steps
        .iter()
        .zip(SPAN_IDS)
        .map(|(&(kind, time), span)| sample_event(kind, at(time), span))
        .collect()
}

fn sample_event(kind: EventKind, timestamp: DateTime<Utc>, span: &str) -> OperatorEvent {
    let mut e = OperatorEvent::new(kind, timestamp);
    e.level = Some("INFO".into());
    if kind != EventKind::CopyTarget {
        e.session_id = Some("487F4F2B6D2376AD".into());
    }
    e.client_id = Some("jNgtjp7x9nqsV2fQ8kLw3RzB5dYc1HuT".into());
    e.client_name = Some("Aris Doe".into());
    e.client_hostname = Some("aris-mbp.local".into());
    e.client_user = Some("aris@corp.example".into());
    e.client_cli_version = Some("3.184.0".into());
    e.target = Some("deployment/order-service/container/main".into());
    e.target_type = Some("deployment".into());
    e.target_name = Some("order-service".into());
    e.target_namespace = Some("shop".into());
    match kind {
        EventKind::CopyTarget => e.scale_down = Some(true),
        EventKind::PortSteal => {
            e.port = Some(80);
            e.http_filter = Some("header=x-user: aris".into());
        }
        EventKind::PortMirror => e.port = Some(8080),
        EventKind::PortRelease => e.port = Some(80),
        EventKind::SessionStart => e.branch = Some("feature/SHOP-123-checkout".into()),
        EventKind::SessionEnd => {
            e.session_duration = Some(136.124625);
            e.branch = Some("feature/SHOP-123-checkout".into());
        }
    }
    e.operator_version = Some("3.120.0".into());
    e.trace_id = Some(TRACE_ID.into());
    e.span_id = Some(span.into());
    e.finish()
}

/// The non-functional line every sample file starts with.
pub fn sample_noise() -> LogLine<'static> {
    LogLine {
        timestamp: at("2026-02-01T03:55:20.000118Z"),
        level: "INFO",
        module: "operator::license",
        message: "Loaded license!",
        fields: Vec::new(),
        service_version: Some("3.120.0"),
        trace_id: None,
        span_id: None,
    }
}

/// The bytes of one sample file: the noise line, then the six events.
pub fn render_sample(file: &SampleFile) -> Vec<u8> {
    let split = match file.format {
        OutputFormat::Cri => SAMPLE_CRI_SPLIT,
        _ => DEFAULT_CRI_SPLIT,
    };
    let mut renderer = Renderer::new(file.format).with_cri_split(split);
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = renderer.render_line(&sample_noise(), &mut out);
    for mut event in sample_session() {
        if file.legacy_names {
            event.message = event.kind.legacy_message().to_string();
        }
        let _ = renderer.render_event(&event, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn samples_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples")
    }

    #[test]
    fn sample_files_match_the_renderers() {
        let update = std::env::var_os("MIRRORD_USAGE_UPDATE_SAMPLES").is_some();
        for file in &SAMPLE_FILES {
            let path = samples_dir().join(file.name);
            let expected = render_sample(file);
            if update {
                std::fs::write(&path, &expected)
                    .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
                continue;
            }
            let actual =
                std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
            assert!(
                actual == expected,
                "{} differs from the renderer; rerun with MIRRORD_USAGE_UPDATE_SAMPLES=1 if intended",
                file.name
            );
        }
    }

    #[test]
    fn sample_session_has_every_kind_once_and_consistent_duration() {
        let events = sample_session();
        let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, EventKind::ALL);
        let ids: std::collections::HashSet<&str> = events.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids.len(), 6);
        let (start, end) = (&events[0], &events[5]);
        let micros = (end.timestamp - start.timestamp)
            .num_microseconds()
            .expect("short span");
        assert_eq!(end.session_duration, Some(micros as f64 / 1e6));
    }

    #[test]
    fn legacy_messages_keep_the_ids() {
        for event in sample_session() {
            let mut legacy = event.clone();
            legacy.message = event.kind.legacy_message().to_string();
            assert_eq!(legacy.compute_id(), event.id);
        }
    }

    #[test]
    fn every_sample_has_seven_logical_lines_and_a_split_cri_line() {
        for file in &SAMPLE_FILES {
            let text = String::from_utf8(render_sample(file)).expect("utf8");
            let finals = match file.format {
                OutputFormat::Cri => text
                    .lines()
                    .filter(|l| l.split(' ').nth(2) == Some("F"))
                    .count(),
                _ => text.lines().count(),
            };
            assert_eq!(finals, 7, "{}", file.name);
            assert!(text.contains("Loaded license!"), "{}", file.name);
            let message = if file.legacy_names {
                "Port Stolen"
            } else {
                "Port Steal"
            };
            assert!(text.contains(message), "{}", file.name);
        }
        let cri = String::from_utf8(render_sample(&SAMPLE_FILES[4])).expect("utf8");
        let tags: String = cri.lines().filter_map(|l| l.split(' ').nth(2)).collect();
        assert!(tags.contains("PPF"), "a line split into P, P, F: {tags}");
    }
}
