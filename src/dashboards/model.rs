//! The panel model: every dashboard panel described once, in the user's words, independent of
//! any vendor.
//!
//! A [`Panel`] says what question it answers, how it is shown ([`Visual`]) and what it measures
//! ([`Query`]: which operator events, which measure, grouped by which fields, over what time).
//! The vendor renderers (`grafana_prometheus`, `grafana_loki`, `datadog`, `kibana`) translate a
//! `Query` into their own query language; none of them lists panels of its own. Adding a panel
//! means adding one entry to [`PANELS`].

use crate::rules;

/// A functional event the operator logs, known by its current and its legacy message name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    SessionStart,
    SessionEnd,
    CopyTarget,
    PortSteal,
    PortMirror,
    PortRelease,
}

impl Event {
    /// Every functional event, in the order the operator's docs list them.
    pub const ALL: &'static [Event] = &[
        Event::SessionStart,
        Event::SessionEnd,
        Event::CopyTarget,
        Event::PortSteal,
        Event::PortMirror,
        Event::PortRelease,
    ];
    /// The three port events.
    pub const PORTS: &'static [Event] = &[Event::PortSteal, Event::PortMirror, Event::PortRelease];

    /// The `message` values this event is logged with: the current name first, then the name
    /// operators released before late 2025 still use.
    pub fn messages(self) -> [&'static str; 2] {
        match self {
            Event::SessionStart => ["Session Start", "Session Started"],
            Event::SessionEnd => ["Session End", "Session Ended"],
            Event::CopyTarget => ["Copy Target", "Target Copied"],
            Event::PortSteal => ["Port Steal", "Port Stolen"],
            Event::PortMirror => ["Port Mirror", "Port Mirrored"],
            Event::PortRelease => ["Port Release", "Port Released"],
        }
    }
}

/// Every message name (current and legacy) of the given events.
pub fn messages_of(events: &[Event]) -> Vec<&'static str> {
    events.iter().flat_map(|event| event.messages()).collect()
}

/// A field of the operator's JSON log line (under `fields` in the default tracing layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Message,
    SessionId,
    ClientId,
    ClientName,
    ClientHostname,
    ClientUser,
    CliVersion,
    TargetType,
    TargetName,
    TargetNamespace,
    Port,
    HttpFilter,
    ScaleDown,
    SessionDuration,
}

/// How a field's values are typed once a log pipeline has indexed them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Text,
    Number,
    Bool,
}

impl Field {
    /// The key inside the operator's `fields` object.
    pub fn key(self) -> &'static str {
        match self {
            Field::Message => "message",
            Field::SessionId => "session_id",
            Field::ClientId => "client_id",
            Field::ClientName => "client_name",
            Field::ClientHostname => "client_hostname",
            Field::ClientUser => "client_user",
            Field::CliVersion => "client_cli_version",
            Field::TargetType => "target_type",
            Field::TargetName => "target_name",
            Field::TargetNamespace => "target_namespace",
            Field::Port => "port",
            Field::HttpFilter => "http_filter",
            Field::ScaleDown => "scale_down",
            Field::SessionDuration => "session_duration",
        }
    }

    /// The column heading a person reads.
    pub fn title(self) -> &'static str {
        match self {
            Field::Message => "Event",
            Field::SessionId => "Session",
            Field::ClientId => "Client id",
            Field::ClientName => "User",
            Field::ClientHostname => "Hostname",
            Field::ClientUser => "Kubernetes user",
            Field::CliVersion => "CLI version",
            Field::TargetType => "Target type",
            Field::TargetName => "Target",
            Field::TargetNamespace => "Namespace",
            Field::Port => "Port",
            Field::HttpFilter => "HTTP filter",
            Field::ScaleDown => "Scale down",
            Field::SessionDuration => "Duration (s)",
        }
    }

    /// The type JSON gives the value (numbers stay numbers in Elasticsearch and Loki filters).
    pub fn field_type(self) -> FieldType {
        match self {
            Field::Port | Field::SessionDuration => FieldType::Number,
            Field::ScaleDown => FieldType::Bool,
            _ => FieldType::Text,
        }
    }
}

/// A condition on one event, written once and translated by every renderer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cond {
    /// The field's value matches a glob where `*` stands for any text.
    Glob(Field, &'static str),
    /// The inner condition does not hold.
    Not(&'static Cond),
    /// At least one of the conditions holds.
    Any(&'static [Cond]),
}

/// How CI sessions are told apart in logs, which carry no CI marker: the rule of
/// [`crate::rules`] (the Kubernetes user of a CI API key, or its certificate name), the same
/// one the API's default `[sessions]` regexes are made from.
pub const CI_SESSION: Cond = Cond::Any(&[
    Cond::Glob(Field::ClientUser, rules::CI_USER_GLOB),
    Cond::Glob(Field::ClientName, rules::CI_NAME_GLOB),
]);

/// Sessions that are not CI sessions.
pub const EXEC_SESSION: Cond = Cond::Not(&CI_SESSION);

/// The two kinds of session, named as `/metrics` labels them (`kind="exec|ci"`).
pub const SESSION_KINDS: [(&str, Cond); 2] = [("exec", EXEC_SESSION), ("ci", CI_SESSION)];

/// Copy-target pods (`mirrord-copy-*`) are the operator's own, not targets users chose.
pub const NOT_COPY_POD: Cond = Cond::Not(&Cond::Glob(Field::TargetName, rules::COPY_POD_GLOB));

/// What a query computes over the matching events.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Measure {
    /// How many events match.
    Count,
    /// How many distinct values the field takes.
    Distinct(Field),
    /// The sum of a numeric field.
    Sum(Field),
    /// How many events fall in each range of a numeric field; the edges are upper bounds.
    Buckets(Field, &'static [f64]),
    /// The events themselves, one row each, with these columns.
    Rows(&'static [Field]),
}

/// The time a query covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// One number per group for the dashboard's time range.
    Total,
    /// A series over the dashboard's time range.
    OverTime,
    /// One number per group for the last `n` days, whatever the dashboard's range.
    LastDays(u32),
}

/// What a panel measures, independent of any query language.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Query {
    /// The events counted; their legacy names match too.
    pub events: &'static [Event],
    pub measure: Measure,
    /// One result per combination of these fields.
    pub group_by: &'static [Field],
    /// Split the result into exec and CI sessions ([`SESSION_KINDS`]).
    pub by_session_kind: bool,
    /// An extra condition every event must meet.
    pub filter: Option<Cond>,
    pub span: Span,
    /// Keep only the largest groups.
    pub top: Option<u32>,
}

impl Query {
    /// A count of `events` over the dashboard range, ungrouped; the other fields are set with
    /// struct update syntax.
    pub const fn count(events: &'static [Event]) -> Query {
        Query {
            events,
            measure: Measure::Count,
            group_by: &[],
            by_session_kind: false,
            filter: None,
            span: Span::Total,
            top: None,
        }
    }
}

impl Query {
    /// What the query's number is called in a column heading or legend.
    pub fn value_title(&self) -> &'static str {
        match self.measure {
            Measure::Count if self.events == [Event::SessionStart] => "Sessions",
            Measure::Count | Measure::Rows(_) => "Events",
            Measure::Distinct(Field::SessionId) | Measure::Buckets(..) => "Sessions",
            Measure::Distinct(Field::ClientId) => "Users",
            Measure::Sum(Field::SessionDuration) => "Session time",
            Measure::Distinct(field) | Measure::Sum(field) => field.title(),
        }
    }
}

/// How a panel shows its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visual {
    /// One big number.
    Stat,
    /// Lines over time.
    TimeSeries,
    /// Horizontal bars, one per group.
    Bars,
    /// A histogram of the measure's buckets.
    Histogram,
    /// Slices of a whole.
    Pie,
    /// Rows and columns.
    Table,
    /// The raw log lines.
    Logs,
}

/// The unit of a panel's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Seconds,
}

/// One dashboard panel, rendered by every vendor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Panel {
    /// Stable identifier: panel ids, Kibana object ids and README anchors derive from it.
    pub key: &'static str,
    pub title: &'static str,
    /// What the panel shows, for the panel's info tooltip.
    pub description: &'static str,
    /// The question a reader brings to this panel.
    pub question: &'static str,
    pub visual: Visual,
    pub unit: Unit,
    pub query: Query,
    /// Width in twelfths of the dashboard.
    pub width: u8,
    /// Height in rows of about 80 px.
    pub height: u8,
}

impl Panel {
    /// The panel's tooltip text: what it shows, the question it answers, then `notes` (the
    /// caveats of one vendor) as paragraphs.
    pub fn describe(&self, notes: &[String]) -> String {
        let mut text = format!("{} Answers: {}", self.description, self.question);
        for note in notes {
            text.push_str("\n\n");
            text.push_str(note);
        }
        text
    }
}

/// The fields every panel can be narrowed by, with the name of their dashboard variable.
pub const CONTROLS: [(Field, &str); 3] = [
    (Field::TargetNamespace, "namespace"),
    (Field::TargetType, "target_type"),
    (Field::TargetName, "target"),
];

/// Session duration buckets (seconds): the rule's, which `/metrics` exposes too.
pub const DURATION_BUCKETS: &[f64] = &rules::DURATION_BUCKETS;

const SESSION_START: &[Event] = &[Event::SessionStart];
const SESSION_END: &[Event] = &[Event::SessionEnd];

/// Every panel of the generated dashboards, in reading order.
pub const PANELS: &[Panel] = &[
    Panel {
        key: "sessions",
        title: "Sessions",
        description: "Sessions started in the time range (one Session Start each).",
        question: "How much is mirrord used?",
        visual: Visual::Stat,
        unit: Unit::Count,
        query: Query::count(SESSION_START),
        width: 4,
        height: 2,
    },
    Panel {
        key: "session_time",
        title: "Session time",
        description: "Total duration of the sessions that ended in the time range (session_duration of Session End).",
        question: "How much time do developers spend in mirrord sessions?",
        visual: Visual::Stat,
        unit: Unit::Seconds,
        query: Query {
            measure: Measure::Sum(Field::SessionDuration),
            ..Query::count(SESSION_END)
        },
        width: 4,
        height: 2,
    },
    Panel {
        key: "active_users",
        title: "Active users",
        description: "Distinct client ids (one per machine) seen in any functional event.",
        question: "How many people use mirrord?",
        visual: Visual::Stat,
        unit: Unit::Count,
        query: Query {
            measure: Measure::Distinct(Field::ClientId),
            ..Query::count(Event::ALL)
        },
        width: 4,
        height: 2,
    },
    Panel {
        key: "sessions_over_time",
        title: "Sessions over time (exec vs CI)",
        description: "Sessions started per interval, split into developer (exec) and CI sessions. In logs, a CI session is one whose Kubernetes user is system:serviceaccount:*:mirrord-ci or whose client name is mirrord-ci@*.",
        question: "Is usage growing, and how much of it is CI?",
        visual: Visual::TimeSeries,
        unit: Unit::Count,
        query: Query {
            by_session_kind: true,
            span: Span::OverTime,
            ..Query::count(SESSION_START)
        },
        width: 12,
        height: 4,
    },
    Panel {
        key: "top_users_by_sessions",
        title: "Top users by sessions",
        description: "The ten users who started the most sessions in the time range.",
        question: "Who uses mirrord the most often?",
        visual: Visual::Bars,
        unit: Unit::Count,
        query: Query {
            group_by: &[Field::ClientName],
            top: Some(10),
            ..Query::count(SESSION_START)
        },
        width: 6,
        height: 5,
    },
    Panel {
        key: "top_users_by_time",
        title: "Top users by session time",
        description: "The ten users with the most session time (sessions that ended in the time range).",
        question: "Who spends the most time in mirrord?",
        visual: Visual::Bars,
        unit: Unit::Seconds,
        query: Query {
            measure: Measure::Sum(Field::SessionDuration),
            group_by: &[Field::ClientName],
            top: Some(10),
            ..Query::count(SESSION_END)
        },
        width: 6,
        height: 5,
    },
    Panel {
        key: "session_duration",
        title: "Session duration distribution",
        description: "Sessions that ended in the time range, by duration.",
        question: "Are sessions quick checks or long debugging runs?",
        visual: Visual::Histogram,
        unit: Unit::Count,
        query: Query {
            measure: Measure::Buckets(Field::SessionDuration, DURATION_BUCKETS),
            ..Query::count(SESSION_END)
        },
        width: 6,
        height: 5,
    },
    Panel {
        key: "sessions_by_namespace",
        title: "Sessions by namespace",
        description: "Sessions started in the time range, by the target's namespace.",
        question: "Which teams' namespaces use mirrord?",
        visual: Visual::Pie,
        unit: Unit::Count,
        query: Query {
            group_by: &[Field::TargetNamespace],
            ..Query::count(SESSION_START)
        },
        width: 6,
        height: 5,
    },
    Panel {
        key: "targets",
        title: "Targets by sessions",
        description: "Distinct sessions per target, by namespace, type and name; mirrord-copy-* pods (created by Copy Target) are left out.",
        question: "Which services do developers run against?",
        visual: Visual::Table,
        unit: Unit::Count,
        query: Query {
            measure: Measure::Distinct(Field::SessionId),
            group_by: &[Field::TargetNamespace, Field::TargetType, Field::TargetName],
            filter: Some(NOT_COPY_POD),
            ..Query::count(SESSION_START)
        },
        width: 8,
        height: 6,
    },
    Panel {
        key: "cli_versions",
        title: "CLI versions in use",
        description: "Sessions started in the time range, by the client's mirrord CLI version.",
        question: "Which mirrord versions are in use; who should upgrade?",
        visual: Visual::Pie,
        unit: Unit::Count,
        query: Query {
            group_by: &[Field::CliVersion],
            ..Query::count(SESSION_START)
        },
        width: 4,
        height: 6,
    },
    Panel {
        key: "users_30d",
        title: "Users in the last 30 days",
        description: "Every client (machine) that started a session in the last 30 days, whatever the dashboard's time range, with its sessions.",
        question: "Who used mirrord this month, on which machine?",
        visual: Visual::Table,
        unit: Unit::Count,
        query: Query {
            group_by: &[Field::ClientId, Field::ClientName, Field::ClientHostname],
            span: Span::LastDays(30),
            ..Query::count(SESSION_START)
        },
        width: 12,
        height: 6,
    },
    Panel {
        key: "copy_target_events",
        title: "Copy Target events",
        description: "Each Copy Target: who copied which target, and whether the original was scaled down.",
        question: "Who copies targets, and do they scale the originals down?",
        visual: Visual::Table,
        unit: Unit::Count,
        query: Query {
            measure: Measure::Rows(&[
                Field::ClientName,
                Field::ClientHostname,
                Field::TargetNamespace,
                Field::TargetType,
                Field::TargetName,
                Field::ScaleDown,
            ]),
            ..Query::count(&[Event::CopyTarget])
        },
        width: 12,
        height: 6,
    },
    Panel {
        key: "port_events",
        title: "Port events",
        description: "Each Port Steal, Port Mirror and Port Release, with its port, HTTP filter and session.",
        question: "Which ports are stolen or mirrored, with or without an HTTP filter?",
        visual: Visual::Table,
        unit: Unit::Count,
        query: Query {
            measure: Measure::Rows(&[
                Field::Message,
                Field::SessionId,
                Field::ClientName,
                Field::TargetNamespace,
                Field::TargetName,
                Field::Port,
                Field::HttpFilter,
            ]),
            ..Query::count(Event::PORTS)
        },
        width: 12,
        height: 6,
    },
    Panel {
        key: "event_stream",
        title: "Event stream",
        description: "Every functional event the operator logged, newest first.",
        question: "What exactly happened, event by event?",
        visual: Visual::Logs,
        unit: Unit::Count,
        query: Query {
            measure: Measure::Rows(&[
                Field::Message,
                Field::SessionId,
                Field::ClientName,
                Field::ClientHostname,
                Field::ClientUser,
                Field::CliVersion,
                Field::TargetNamespace,
                Field::TargetType,
                Field::TargetName,
                Field::Port,
                Field::HttpFilter,
                Field::ScaleDown,
                Field::SessionDuration,
            ]),
            ..Query::count(Event::ALL)
        },
        width: 12,
        height: 8,
    },
];

/// How a query language writes conditions: its `or` and `and` and one field-matches-glob test.
pub struct CondSyntax<'a> {
    pub or: &'a str,
    pub and: &'a str,
    /// Writes "`field` matches `glob`", or with `negate` "does not match".
    pub glob: &'a dyn Fn(Field, &str, bool) -> String,
}

/// Writes `cond` (negated when `negate`) in a query language, pushing negations down to the
/// field tests (De Morgan) so languages without a general `not` work too.
pub fn render_cond(cond: Cond, negate: bool, syntax: &CondSyntax<'_>) -> String {
    match cond {
        Cond::Glob(field, glob) => (syntax.glob)(field, glob, negate),
        Cond::Not(inner) => render_cond(*inner, !negate, syntax),
        Cond::Any(conds) => {
            let joiner = if negate { syntax.and } else { syntax.or };
            let parts: Vec<_> = conds
                .iter()
                .map(|cond| render_cond(*cond, negate, syntax))
                .collect();
            format!("({})", parts.join(joiner))
        }
    }
}

pub use crate::rules::{glob_to_regex, regex_escape};

/// A glob in a Lucene-like search syntax (Datadog, KQL): `*` stays a wildcard, whitespace and
/// the syntax's `special` characters get a backslash.
pub fn glob_to_wildcard(glob: &str, special: &str) -> String {
    let mut out = String::with_capacity(glob.len());
    for c in glob.chars() {
        if c != '*' && (c.is_whitespace() || special.contains(c)) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A human label for the bucket between `lower` and `upper` seconds (`None`: open-ended).
pub fn bucket_label(lower: Option<f64>, upper: Option<f64>) -> String {
    match (lower, upper) {
        (None, Some(upper)) => format!("< {}", duration_label(upper)),
        (Some(lower), Some(upper)) => {
            format!("{}–{}", duration_label(lower), duration_label(upper))
        }
        (Some(lower), None) => format!("≥ {}", duration_label(lower)),
        (None, None) => "all".to_owned(),
    }
}

/// The buckets of `edges` as (lower, upper) pairs, open at both ends.
pub fn bucket_ranges(edges: &[f64]) -> Vec<(Option<f64>, Option<f64>)> {
    let mut ranges = Vec::with_capacity(edges.len() + 1);
    let mut lower = None;
    for &edge in edges {
        ranges.push((lower, Some(edge)));
        lower = Some(edge);
    }
    ranges.push((lower, None));
    ranges
}

fn duration_label(seconds: f64) -> String {
    if seconds >= 3600.0 {
        format!("{}h", seconds / 3600.0)
    } else if seconds >= 60.0 {
        format!("{}m", seconds / 60.0)
    } else {
        format!("{seconds}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panel_keys_are_unique() {
        let mut keys: Vec<_> = PANELS.iter().map(|panel| panel.key).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), PANELS.len());
    }

    #[test]
    fn every_event_and_field_appears_in_some_panel() {
        let stream = PANELS.iter().find(|panel| panel.key == "event_stream");
        let Some(Panel {
            query:
                Query {
                    events,
                    measure: Measure::Rows(columns),
                    ..
                },
            ..
        }) = stream
        else {
            panic!("the event stream panel lists rows");
        };
        assert_eq!(*events, Event::ALL);
        assert!(columns.len() >= 13);
    }

    #[test]
    fn globs_translate() {
        assert_eq!(glob_to_regex("mirrord-copy-*"), "mirrord-copy-.*");
        assert_eq!(glob_to_regex("a.b*"), "a\\.b.*");
        assert_eq!(
            glob_to_wildcard("system:serviceaccount:*:mirrord-ci", ":"),
            "system\\:serviceaccount\\:*\\:mirrord-ci"
        );
    }

    #[test]
    fn conditions_push_negation_down() {
        let syntax = CondSyntax {
            or: " or ",
            and: " and ",
            glob: &|field, glob, negate| {
                format!("{}{}{glob}", field.key(), if negate { "!=" } else { "=" })
            },
        };
        assert_eq!(
            render_cond(EXEC_SESSION, false, &syntax),
            "(client_user!=system:serviceaccount:*:mirrord-ci and client_name!=mirrord-ci@*)"
        );
        assert_eq!(
            render_cond(CI_SESSION, false, &syntax),
            "(client_user=system:serviceaccount:*:mirrord-ci or client_name=mirrord-ci@*)"
        );
    }

    #[test]
    fn buckets_are_labelled() {
        let ranges = bucket_ranges(&[60.0, 3600.0]);
        let labels: Vec<_> = ranges.iter().map(|(l, u)| bucket_label(*l, *u)).collect();
        assert_eq!(labels, ["< 1m", "1m–1h", "≥ 1h"]);
    }
}
