//! The canonical operator event: the one shape every parser produces and every later stage
//! (batching, storage, analytics) consumes.
//!
//! An [`OperatorEvent`] is one *functional* log line of the mirrord Operator (Copy Target,
//! Port Steal/Mirror/Release, Session Start/End). Typed fields cover everything the operator
//! documents or is seen to send; anything else is kept verbatim in [`OperatorEvent::attributes`]
//! so nothing the operator sent is thrown away.
//!
//! The event id is a hash of the event's *content*, never of the path it arrived by, so the
//! same line replayed, re-read after a restart, or received over two transports is stored once.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// tracing's module path (its `target`) on every functional event of the operator. Being the
/// same on every row, it is not stored; any other module path is kept as the `tracing_target`
/// attribute.
pub const FUNCTIONAL_MODULE: &str = "operator::session";

/// What happened, in the user's words. Both the current and the legacy operator message names
/// map to the same kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    CopyTarget,
    PortSteal,
    PortMirror,
    PortRelease,
    SessionStart,
    SessionEnd,
}

impl EventKind {
    /// All kinds, in the order they usually happen in a session.
    pub const ALL: [EventKind; 6] = [
        EventKind::SessionStart,
        EventKind::CopyTarget,
        EventKind::PortSteal,
        EventKind::PortMirror,
        EventKind::PortRelease,
        EventKind::SessionEnd,
    ];

    /// Maps an operator log message (current or legacy name) to a kind.
    /// Returns `None` for non-functional lines such as `Loaded license!`.
    pub fn from_message(message: &str) -> Option<Self> {
        Some(match message.trim() {
            "Copy Target" | "Target Copied" => EventKind::CopyTarget,
            "Port Steal" | "Port Stolen" => EventKind::PortSteal,
            "Port Mirror" | "Port Mirrored" => EventKind::PortMirror,
            "Port Release" | "Port Released" => EventKind::PortRelease,
            "Session Start" | "Session Started" => EventKind::SessionStart,
            "Session End" | "Session Ended" => EventKind::SessionEnd,
            _ => return None,
        })
    }

    /// The stored name (`session_start`, `port_steal`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::CopyTarget => "copy_target",
            EventKind::PortSteal => "port_steal",
            EventKind::PortMirror => "port_mirror",
            EventKind::PortRelease => "port_release",
            EventKind::SessionStart => "session_start",
            EventKind::SessionEnd => "session_end",
        }
    }

    /// The operator's current message for this kind (`Session Start`, ...).
    pub fn message(self) -> &'static str {
        match self {
            EventKind::CopyTarget => "Copy Target",
            EventKind::PortSteal => "Port Steal",
            EventKind::PortMirror => "Port Mirror",
            EventKind::PortRelease => "Port Release",
            EventKind::SessionStart => "Session Start",
            EventKind::SessionEnd => "Session End",
        }
    }

    /// The operator's legacy message for this kind (`Session Started`, ...).
    pub fn legacy_message(self) -> &'static str {
        match self {
            EventKind::CopyTarget => "Target Copied",
            EventKind::PortSteal => "Port Stolen",
            EventKind::PortMirror => "Port Mirrored",
            EventKind::PortRelease => "Port Released",
            EventKind::SessionStart => "Session Started",
            EventKind::SessionEnd => "Session Ended",
        }
    }
}

/// A mirrord target split into its parts. `deployment/order-service/container/main` becomes
/// type `deployment`, name `order-service`, container `main`; `targetless` has type
/// `targetless` and no name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TargetParts {
    pub target_type: Option<String>,
    pub name: Option<String>,
    pub container: Option<String>,
}

impl TargetParts {
    /// Splits a mirrord target path. Returns `None` for strings that are not mirrord targets,
    /// notably tracing's own `target` (a Rust module path such as `operator::session`).
    pub fn parse(raw: &str) -> Option<TargetParts> {
        let raw = raw.trim();
        if raw.is_empty() || raw.contains("::") || raw.contains(char::is_whitespace) {
            return None;
        }
        if raw == "targetless" {
            return Some(TargetParts {
                target_type: Some("targetless".into()),
                ..Default::default()
            });
        }
        let parts: Vec<&str> = raw.split('/').collect();
        match parts.as_slice() {
            [kind, name] => Some(TargetParts {
                target_type: Some((*kind).to_string()),
                name: Some((*name).to_string()),
                container: None,
            }),
            [kind, name, "container", container] => Some(TargetParts {
                target_type: Some((*kind).to_string()),
                name: Some((*name).to_string()),
                container: Some((*container).to_string()),
            }),
            _ => None,
        }
    }

    /// True when the string looks like tracing's module path rather than a mirrord target.
    pub fn is_module_path(raw: &str) -> bool {
        raw.contains("::") || (!raw.contains('/') && raw != "targetless" && !raw.is_empty())
    }
}

/// One functional operator event, normalized. Field names match the `events` table columns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperatorEvent {
    /// Content hash (32 hex chars); see [`OperatorEvent::compute_id`].
    pub id: String,
    pub timestamp: DateTime<Utc>,
    pub kind: EventKind,
    /// The message as the operator wrote it (current or legacy name).
    pub message: String,
    pub level: Option<String>,
    pub session_id: Option<String>,
    pub client_id: Option<String>,
    pub client_name: Option<String>,
    pub client_hostname: Option<String>,
    pub client_user: Option<String>,
    pub client_cli_version: Option<String>,
    /// The mirrord target as sent (`deployment/x/container/y`, `targetless`).
    pub target: Option<String>,
    pub target_type: Option<String>,
    pub target_name: Option<String>,
    pub target_namespace: Option<String>,
    pub target_container: Option<String>,
    pub port: Option<i32>,
    pub http_filter: Option<String>,
    pub scale_down: Option<bool>,
    /// Seconds (Session End only; may be fractional).
    pub session_duration: Option<f64>,
    pub branch: Option<String>,
    /// An explicit CI marker when the record carries one (`ci`, `is_ci`, `mirrord_ci`).
    pub ci: Option<bool>,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub operator_version: Option<String>,
    pub cluster: Option<String>,
    /// Every field the operator sent that has no typed column, as a JSON object.
    pub attributes: Map<String, Value>,
}

impl OperatorEvent {
    /// A new event of `kind` at `timestamp` with every optional field empty.
    pub fn new(kind: EventKind, timestamp: DateTime<Utc>) -> Self {
        OperatorEvent {
            id: String::new(),
            timestamp,
            kind,
            message: kind.message().to_string(),
            level: None,
            session_id: None,
            client_id: None,
            client_name: None,
            client_hostname: None,
            client_user: None,
            client_cli_version: None,
            target: None,
            target_type: None,
            target_name: None,
            target_namespace: None,
            target_container: None,
            port: None,
            http_filter: None,
            scale_down: None,
            session_duration: None,
            branch: None,
            ci: None,
            trace_id: None,
            span_id: None,
            operator_version: None,
            cluster: None,
            attributes: Map::new(),
        }
    }

    /// Fills `target_type`/`target_name`/`target_container` from `target` where the split
    /// fields are absent, then sets the content id. Parsers call this last.
    pub fn finish(mut self) -> Self {
        if let Some(parts) = self.target.as_deref().and_then(TargetParts::parse) {
            if self.target_type.is_none() {
                self.target_type = parts.target_type;
            }
            if self.target_name.is_none() {
                self.target_name = parts.name;
            }
            if self.target_container.is_none() {
                self.target_container = parts.container;
            }
        }
        self.id = self.compute_id();
        self
    }

    /// The content hash: the fields that make two log lines "the same event", independent of
    /// the transport or wrapper format, of the legacy/current message name and of fields a
    /// transport adds (attributes such as Kubernetes metadata).
    pub fn compute_id(&self) -> String {
        let mut h = Sha256::new();
        let ts = self.timestamp.timestamp_micros();
        h.update(ts.to_le_bytes());
        h.update(self.kind.as_str().as_bytes());
        for f in [
            &self.session_id,
            &self.client_id,
            &self.client_name,
            &self.client_hostname,
            &self.client_user,
            &self.target_type,
            &self.target_name,
            &self.target_namespace,
            &self.target_container,
            &self.http_filter,
        ] {
            h.update([0xff]);
            if let Some(s) = f {
                h.update(s.as_bytes());
            }
        }
        h.update([0xfe]);
        h.update(self.port.unwrap_or(-1).to_le_bytes());
        h.update([self.scale_down.map(|b| b as u8).unwrap_or(2)]);
        h.update(
            self.session_duration
                .map(|d| (d * 1e6).round() as i64)
                .unwrap_or(-1)
                .to_le_bytes(),
        );
        let digest = h.finalize();
        hex::encode(&digest[..16])
    }
}
