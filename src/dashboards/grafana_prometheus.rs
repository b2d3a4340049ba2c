//! Grafana over mirrord-usage's own `/metrics`, scraped by Prometheus.
//!
//! `/metrics` holds counters and gauges computed from the database, not events. Each panel is
//! answered by the series in [`SERIES`] that measures the same thing and carries the most of the
//! labels the panel groups and filters by. What a series cannot show (a missing label, single
//! events) is said in the panel's description, not hidden.

use serde_json::{Value, json};

use super::grafana::{self, GrafanaPanel, GrafanaSource};
use super::model::{
    CONTROLS, Cond, Event, Field, Measure, Panel, Query, Span, Visual, bucket_label, bucket_ranges,
    glob_to_regex,
};
use super::{DashboardError, Vendor};

/// What a series label stands for in the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dim {
    Field(Field),
    /// `kind="exec|ci"`.
    SessionKind,
}

/// What a series measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counts {
    /// A counter of these events (for Session Start: of sessions).
    Events(&'static [Event]),
    /// A counter of the seconds of closed sessions.
    SessionSeconds,
    /// A gauge of distinct users per `window`.
    ActiveUsers,
    /// A histogram of closed sessions' durations.
    DurationHistogram,
}

/// One metric family `/metrics` exposes.
struct Series {
    metric: &'static str,
    counts: Counts,
    labels: &'static [(&'static str, Dim)],
}

const TARGET_LABELS: &[(&str, Dim)] = &[
    ("kind", Dim::SessionKind),
    ("namespace", Dim::Field(Field::TargetNamespace)),
    ("target_type", Dim::Field(Field::TargetType)),
    ("target_name", Dim::Field(Field::TargetName)),
];
const USER_LABELS: &[(&str, Dim)] = &[("user", Dim::Field(Field::ClientName))];

/// The series of `/metrics`, as the reports API issue defines them.
const SERIES: &[Series] = &[
    Series {
        metric: "mirrord_usage_sessions_total",
        counts: Counts::Events(&[Event::SessionStart]),
        labels: TARGET_LABELS,
    },
    Series {
        metric: "mirrord_usage_session_seconds_total",
        counts: Counts::SessionSeconds,
        labels: TARGET_LABELS,
    },
    Series {
        metric: "mirrord_usage_user_sessions_total",
        counts: Counts::Events(&[Event::SessionStart]),
        labels: USER_LABELS,
    },
    Series {
        metric: "mirrord_usage_user_session_seconds_total",
        counts: Counts::SessionSeconds,
        labels: USER_LABELS,
    },
    Series {
        metric: "mirrord_usage_cli_version_sessions_total",
        counts: Counts::Events(&[Event::SessionStart]),
        labels: &[("cli_version", Dim::Field(Field::CliVersion))],
    },
    Series {
        metric: "mirrord_usage_session_duration_seconds",
        counts: Counts::DurationHistogram,
        labels: &[("kind", Dim::SessionKind)],
    },
    Series {
        metric: "mirrord_usage_active_users",
        counts: Counts::ActiveUsers,
        labels: &[],
    },
    Series {
        metric: "mirrord_usage_port_events_total",
        counts: Counts::Events(Event::PORTS),
        labels: &[
            ("kind", Dim::Field(Field::Message)),
            ("namespace", Dim::Field(Field::TargetNamespace)),
            ("target_name", Dim::Field(Field::TargetName)),
            ("filtered", Dim::Field(Field::HttpFilter)),
        ],
    },
    Series {
        metric: "mirrord_usage_copy_target_total",
        counts: Counts::Events(&[Event::CopyTarget]),
        labels: &[
            ("namespace", Dim::Field(Field::TargetNamespace)),
            ("target_name", Dim::Field(Field::TargetName)),
            ("scale_down", Dim::Field(Field::ScaleDown)),
        ],
    },
    Series {
        metric: "mirrord_usage_events_total",
        counts: Counts::Events(Event::ALL),
        labels: &[("kind", Dim::Field(Field::Message))],
    },
];

impl Series {
    /// Whether the series measures what the query asks, whatever its labels.
    fn answers(&self, query: &Query) -> bool {
        match (self.counts, query.measure) {
            (Counts::Events(events), Measure::Count | Measure::Rows(_)) => events == query.events,
            (Counts::Events(events), Measure::Distinct(Field::SessionId)) => {
                events == [Event::SessionStart] && query.events == events
            }
            (Counts::SessionSeconds, Measure::Sum(Field::SessionDuration))
            | (Counts::ActiveUsers, Measure::Distinct(Field::ClientId))
            | (Counts::DurationHistogram, Measure::Buckets(Field::SessionDuration, _)) => true,
            _ => false,
        }
    }

    fn label(&self, dim: Dim) -> Option<&'static str> {
        self.labels
            .iter()
            .find(|(_, label_dim)| *label_dim == dim)
            .map(|(label, _)| *label)
    }

    /// How well the labels fit the query: grouping counts most, then filters, then controls.
    fn fit(&self, query: &Query) -> usize {
        let has = |field: Field| usize::from(self.label(Dim::Field(field)).is_some());
        let groups: usize = query.group_by.iter().map(|field| has(*field)).sum();
        let kind = usize::from(query.by_session_kind && self.label(Dim::SessionKind).is_some());
        let filter = query.filter.and_then(filter_field).map_or(0, has);
        let controls: usize = CONTROLS.iter().map(|(field, _)| has(*field)).sum();
        (groups + kind) * 100 + filter * 10 + controls
    }
}

/// The field a filter tests, when it is a single (possibly negated) glob.
fn filter_field(cond: Cond) -> Option<Field> {
    match cond {
        Cond::Glob(field, _) => Some(field),
        Cond::Not(inner) => filter_field(*inner),
        Cond::Any(_) => None,
    }
}

/// The Grafana data source translation for `/metrics`.
struct Prometheus;

/// The Grafana dashboard over `/metrics`.
pub fn dashboard() -> Result<Value, DashboardError> {
    grafana::dashboard(&Prometheus)
}

/// The PromQL of one panel, for the README table.
pub fn summary(panel: &Panel) -> Result<Vec<String>, DashboardError> {
    let rendered = Prometheus.panel(panel)?;
    Ok(rendered
        .targets
        .iter()
        .filter_map(|target| target.get("expr").and_then(Value::as_str))
        .map(str::to_owned)
        .collect())
}

impl GrafanaSource for Prometheus {
    fn plugin(&self) -> &'static str {
        "prometheus"
    }

    fn uid(&self) -> &'static str {
        "mirrord-usage-prometheus"
    }

    fn title(&self) -> &'static str {
        "mirrord usage (Prometheus)"
    }

    fn description(&self) -> String {
        "mirrord Operator usage from mirrord-usage's /metrics (port 8050). Counters only: for \
         single events use the Loki, Datadog or Kibana dashboard or the reports API."
            .to_owned()
    }

    fn control_variables(&self) -> Vec<Value> {
        let mut selector = Vec::new();
        let mut variables = Vec::new();
        // Each variable lists the values left by the ones before it.
        for (field, name) in CONTROLS {
            let Some(label) = target_label(field) else {
                continue;
            };
            let query = format!(
                "label_values(mirrord_usage_sessions_total{{{}}}, {label})",
                selector.join(",")
            );
            variables.push(grafana::query_variable(
                "prometheus",
                name,
                field.title(),
                &query,
            ));
            selector.push(format!("{label}=~\"${name}\""));
        }
        variables
    }

    fn panel(&self, panel: &Panel) -> Result<GrafanaPanel, DashboardError> {
        // The best fit wins; on a tie, the series listed first.
        let (_, series) = SERIES
            .iter()
            .enumerate()
            .filter(|(_, series)| series.answers(&panel.query))
            .max_by_key(|(index, series)| (series.fit(&panel.query), std::cmp::Reverse(*index)))
            .ok_or_else(|| DashboardError::Unsupported {
                vendor: Vendor::GrafanaPrometheus,
                panel: panel.key,
                reason: "no /metrics series measures this".to_owned(),
            })?;
        Ok(PanelQuery::new(panel, series).render())
    }
}

/// The label of the session counters for a control field.
fn target_label(field: Field) -> Option<&'static str> {
    TARGET_LABELS
        .iter()
        .find(|(_, dim)| *dim == Dim::Field(field))
        .map(|(label, _)| *label)
}

/// One panel's translation onto one series.
struct PanelQuery<'a> {
    panel: &'a Panel,
    series: &'a Series,
    notes: Vec<String>,
}

impl<'a> PanelQuery<'a> {
    fn new(panel: &'a Panel, series: &'a Series) -> Self {
        PanelQuery {
            panel,
            series,
            notes: Vec::new(),
        }
    }

    fn render(mut self) -> GrafanaPanel {
        let query = self.panel.query;
        let matchers = self.matchers();
        let selector = braces(&matchers);
        let range = match query.span {
            Span::OverTime => "$__interval",
            Span::Total | Span::LastDays(_) => "$__range",
        };
        let mut rendered = match (self.series.counts, query.measure, self.panel.visual) {
            (Counts::ActiveUsers, ..) => self.active_users(),
            (Counts::DurationHistogram, Measure::Buckets(_, edges), _) => {
                self.buckets(&matchers, edges)
            }
            (_, Measure::Rows(_), Visual::Logs) => self.event_rate(&selector),
            (_, Measure::Rows(_), _) => self.event_counts(&selector),
            _ => {
                let labels = self.group_labels();
                self.counter(&selector, &labels, range)
            }
        };
        if let Span::LastDays(days) = query.span {
            rendered.time_from = Some(format!("{days}d"));
            self.notes.push(format!(
                "Needs {days} days of Prometheus retention (the default is 15)."
            ));
        }
        rendered.notes.splice(0..0, self.notes);
        rendered
    }

    /// `label=~"$var"` matchers for the controls and the filter the series can express.
    fn matchers(&mut self) -> Vec<String> {
        let mut matchers = Vec::new();
        let mut unfiltered = Vec::new();
        for (field, name) in CONTROLS {
            match self.series.label(Dim::Field(field)) {
                Some(label) => matchers.push(format!("{label}=~\"${name}\"")),
                None => unfiltered.push(field.title()),
            }
        }
        if let Some(cond) = self.panel.query.filter {
            match self.filter_matcher(cond, false) {
                Some(matcher) => matchers.push(matcher),
                None => self.notes.push(
                    "The metric cannot apply this panel's filter; the numbers include \
                     what the description says is left out."
                        .to_owned(),
                ),
            }
        }
        if !unfiltered.is_empty() {
            self.notes.push(format!(
                "The {} variables do not narrow this panel: {} has no such labels.",
                unfiltered.join(", "),
                self.series.metric
            ));
        }
        matchers
    }

    fn filter_matcher(&self, cond: Cond, negate: bool) -> Option<String> {
        match cond {
            Cond::Glob(field, glob) => {
                let label = self.series.label(Dim::Field(field))?;
                let op = if negate { "!~" } else { "=~" };
                Some(format!(
                    "{label}{op}{}",
                    promql_string(&glob_to_regex(glob))
                ))
            }
            Cond::Not(inner) => self.filter_matcher(*inner, !negate),
            Cond::Any(_) => None,
        }
    }

    /// The labels to sum by; fields the series lacks become a note.
    fn group_labels(&mut self) -> Vec<&'static str> {
        let query = self.panel.query;
        let mut labels = Vec::new();
        let mut missing = Vec::new();
        for field in query.group_by {
            match self.series.label(Dim::Field(*field)) {
                Some(label) => labels.push(label),
                None => missing.push(field.title()),
            }
        }
        if query.by_session_kind {
            labels.extend(self.series.label(Dim::SessionKind));
        }
        if !missing.is_empty() {
            self.notes.push(format!(
                "Not broken down by {}: {} does not carry them (the log dashboards and the \
                 reports API do).",
                missing.join(", "),
                self.series.metric
            ));
        }
        labels
    }

    fn counter(&self, selector: &str, labels: &[&str], range: &str) -> GrafanaPanel {
        let query = self.panel.query;
        let increase = format!("increase({}{selector}[{range}])", self.series.metric);
        let mut expr = sum_by(labels, &increase);
        if let Some(top) = query.top {
            expr = format!("topk({top}, {expr})");
        }
        if query.span != Span::OverTime && !labels.is_empty() {
            expr = format!("{expr} > 0");
        }
        let legend = legend(labels, query.value_title());
        let target = target(&expr, &legend, self.panel.visual, query.span);
        let mut rendered = GrafanaPanel::new(self.panel, vec![target]);
        if self.panel.visual == Visual::Table {
            rendered.transformations =
                vec![table_columns(self.series, labels, query.value_title())];
        }
        rendered
    }

    fn active_users(&mut self) -> GrafanaPanel {
        self.notes.push(
            "Distinct users in the last 1, 7 and 30 days up to now, whatever the dashboard's \
             time range."
                .to_owned(),
        );
        let expr = format!("max by (window) ({})", self.series.metric);
        let target = target(&expr, "{{window}}", Visual::Stat, Span::Total);
        GrafanaPanel::new(self.panel, vec![target])
    }

    /// One query per bucket: the difference of two cumulative `le` buckets.
    fn buckets(&self, matchers: &[String], edges: &[f64]) -> GrafanaPanel {
        let bucket = |edge: Option<f64>| {
            // Prometheus 3 stores `le="60.0"` where older servers keep the exposed `le="60"`.
            let le = edge.map_or_else(
                || "le=\"+Inf\"".to_owned(),
                |edge| format!("le=~\"{edge}(\\\\.0)?\""),
            );
            let mut with_le = vec![le];
            with_le.extend_from_slice(matchers);
            format!(
                "sum(increase({}_bucket{}[$__range]))",
                self.series.metric,
                braces(&with_le)
            )
        };
        let targets = bucket_ranges(edges)
            .into_iter()
            .map(|(lower, upper)| {
                let expr = match lower {
                    None => bucket(upper),
                    Some(_) => format!("{} - {}", bucket(upper), bucket(lower)),
                };
                let label = bucket_label(lower, upper);
                target(&expr, &label, Visual::Histogram, Span::Total)
            })
            .collect();
        GrafanaPanel::new(self.panel, targets)
    }

    /// Event tables become counts per label combination.
    fn event_counts(&mut self, selector: &str) -> GrafanaPanel {
        self.notes.push(format!(
            "Counts per {}, not single events: /metrics holds counters. The events themselves \
             are in the Loki, Datadog and Kibana dashboards.",
            label_titles(self.series)
        ));
        let labels: Vec<&str> = self.series.labels.iter().map(|(label, _)| *label).collect();
        let mut rendered = self.counter(selector, &labels, "$__range");
        rendered.visual = Visual::Table;
        rendered
    }

    /// The raw event stream becomes the event rate by kind.
    fn event_rate(&mut self, selector: &str) -> GrafanaPanel {
        self.notes.push(
            "Prometheus has no log lines: this shows events per interval by kind. For the \
             stream itself use the Loki, Datadog or Kibana dashboard."
                .to_owned(),
        );
        let labels: Vec<&str> = self.series.labels.iter().map(|(label, _)| *label).collect();
        let increase = format!("increase({}{selector}[$__interval])", self.series.metric);
        let expr = sum_by(&labels, &increase);
        let target = target(
            &expr,
            &legend(&labels, "events"),
            Visual::TimeSeries,
            Span::OverTime,
        );
        let mut rendered = GrafanaPanel::new(self.panel, vec![target]);
        rendered.visual = Visual::TimeSeries;
        rendered
    }
}

fn braces(matchers: &[String]) -> String {
    if matchers.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", matchers.join(","))
    }
}

/// `sum(inner)` or `sum by (labels) (inner)`.
fn sum_by(labels: &[&str], inner: &str) -> String {
    if labels.is_empty() {
        format!("sum({inner})")
    } else {
        format!("sum by ({}) ({inner})", labels.join(", "))
    }
}

fn legend(labels: &[&str], fallback: &str) -> String {
    if labels.is_empty() {
        return fallback.to_owned();
    }
    let parts: Vec<String> = labels
        .iter()
        .map(|label| format!("{{{{{label}}}}}"))
        .collect();
    parts.join(" ")
}

fn label_titles(series: &Series) -> String {
    let titles: Vec<&str> = series
        .labels
        .iter()
        .map(|(label, dim)| match dim {
            Dim::Field(field) => field.title(),
            Dim::SessionKind => label,
        })
        .collect();
    titles.join(", ")
}

/// A PromQL double-quoted string.
fn promql_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn target(expr: &str, legend: &str, visual: Visual, span: Span) -> Value {
    let instant = span != Span::OverTime;
    let format = if visual == Visual::Table {
        "table"
    } else {
        "time_series"
    };
    json!({
        "expr": expr,
        "legendFormat": legend,
        "instant": instant,
        "range": !instant,
        "format": format,
        "editorMode": "code",
    })
}

/// Hides the timestamp and names the columns of an instant table.
fn table_columns(series: &Series, labels: &[&str], value_title: &str) -> Value {
    let mut renames: Vec<(String, String)> = labels
        .iter()
        .map(|label| {
            let title = series
                .labels
                .iter()
                .find(|(name, _)| name == label)
                .and_then(|(_, dim)| match dim {
                    Dim::Field(field) => Some(field.title()),
                    Dim::SessionKind => None,
                })
                .unwrap_or("Kind");
            ((*label).to_owned(), title.to_owned())
        })
        .collect();
    renames.push(("Value".to_owned(), value_title.to_owned()));
    grafana::organize(&["Time"], &renames)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboards::model::PANELS;

    fn exprs(key: &str) -> Vec<String> {
        let panel = PANELS.iter().find(|panel| panel.key == key);
        summary(panel.expect("panel exists")).expect("renders")
    }

    #[test]
    fn every_panel_finds_a_series() {
        for panel in PANELS {
            assert!(
                !summary(panel).expect("renders").is_empty(),
                "{}",
                panel.key
            );
        }
    }

    #[test]
    fn targets_use_the_session_counter_with_the_copy_pod_filter() {
        assert_eq!(
            exprs("targets"),
            [
                "sum by (namespace, target_type, target_name) (increase(mirrord_usage_sessions_total\
              {namespace=~\"$namespace\",target_type=~\"$target_type\",target_name=~\"$target\",\
              target_name!~\"mirrord-copy-.*\"}[$__range])) > 0"
            ]
        );
    }

    #[test]
    fn exec_and_ci_come_from_the_kind_label() {
        let expr = &exprs("sessions_over_time")[0];
        assert!(expr.starts_with("sum by (kind) (increase(mirrord_usage_sessions_total{"));
        assert!(expr.ends_with("[$__interval]))"));
    }

    #[test]
    fn histogram_buckets_are_differences_of_cumulative_buckets() {
        let exprs = exprs("session_duration");
        assert_eq!(exprs.len(), 9);
        assert_eq!(
            exprs[1],
            "sum(increase(mirrord_usage_session_duration_seconds_bucket{le=~\"300(\\\\.0)?\"}[$__range])) \
             - sum(increase(mirrord_usage_session_duration_seconds_bucket{le=~\"60(\\\\.0)?\"}[$__range]))"
        );
    }
}
