//! Grafana over the operator's own logs in Loki, for users who ship logs there.
//!
//! Every query selects the operator's stream (`{namespace=…, container=…}` from the options),
//! keeps lines of the panel's events (current and legacy message names), parses them with
//! `| json` (nested `fields.x` becomes `fields_x`) and applies the variables as label filters.
//! Loki cannot list values of parsed fields, so the namespace, target type and target variables
//! are regular expressions typed by the user (`.*` by default).

use serde_json::{Value, json};

use super::DashboardOptions;
use super::grafana::{self, GrafanaPanel, GrafanaSource};
use super::model::{
    CONTROLS, Cond, CondSyntax, Field, Measure, Panel, Query, SESSION_KINDS, Span, Visual,
    bucket_label, bucket_ranges, glob_to_regex, messages_of, regex_escape, render_cond,
};
use super::{DashboardError, Vendor};

/// The Grafana data source translation for Loki.
struct Loki {
    /// The stream selector of the operator's container.
    stream: String,
}

impl Loki {
    fn new(opts: &DashboardOptions) -> Loki {
        Loki {
            stream: format!(
                "{{namespace={}, container={}}}",
                logql_string(&opts.namespace),
                logql_string(&opts.container)
            ),
        }
    }
}

/// The Grafana dashboard over Loki.
pub fn dashboard(opts: &DashboardOptions) -> Result<Value, DashboardError> {
    grafana::dashboard(&Loki::new(opts))
}

/// The LogQL of one panel, for the README table.
pub fn summary(panel: &Panel, opts: &DashboardOptions) -> Result<Vec<String>, DashboardError> {
    let rendered = Loki::new(opts).panel(panel)?;
    Ok(rendered
        .targets
        .iter()
        .filter_map(|target| target.get("expr").and_then(Value::as_str))
        .map(str::to_owned)
        .collect())
}

impl GrafanaSource for Loki {
    fn plugin(&self) -> &'static str {
        "loki"
    }

    fn uid(&self) -> &'static str {
        "mirrord-usage-loki"
    }

    fn title(&self) -> &'static str {
        "mirrord usage (Loki)"
    }

    fn description(&self) -> String {
        format!(
            "mirrord Operator functional events from its JSON logs in Loki ({}). Expects the \
             default tracing layout (event fields nested under \"fields\").",
            self.stream
        )
    }

    fn control_variables(&self) -> Vec<Value> {
        CONTROLS
            .iter()
            .map(|(field, name)| {
                grafana::regex_variable(name, &format!("{} (regex)", field.title()))
            })
            .collect()
    }

    fn panel(&self, panel: &Panel) -> Result<GrafanaPanel, DashboardError> {
        let query = &panel.query;
        let mut rendered = match query.measure {
            Measure::Rows(columns) => self.rows(panel, columns),
            Measure::Buckets(field, edges) => self.buckets(panel, field, edges),
            _ if query.by_session_kind => self.by_kind(panel)?,
            _ => {
                let expr = self.metric(panel, None)?;
                let target = target(&expr, &legend(query), query.span);
                GrafanaPanel::new(panel, vec![target])
            }
        };
        if panel.visual == Visual::Table && !matches!(query.measure, Measure::Rows(_)) {
            rendered.transformations = metric_table(query);
        }
        if let Span::LastDays(days) = query.span {
            rendered.time_from = Some(format!("{days}d"));
        }
        Ok(rendered)
    }
}

impl Loki {
    /// Stream selector, event filter, `| json` and the label filters every query shares.
    fn pipeline(&self, query: &Query, extra: Option<Cond>) -> String {
        let messages: Vec<String> = messages_of(query.events)
            .into_iter()
            .map(regex_escape)
            .collect();
        let messages = logql_string(&messages.join("|"));
        let mut stages = vec![
            self.stream.clone(),
            format!("|~ {messages}"),
            "| json".to_owned(),
            "| __error__=\"\"".to_owned(),
            format!("| fields_message=~{messages}"),
        ];
        for (field, name) in CONTROLS {
            stages.push(format!("| {}=~\"${name}\"", label(field)));
        }
        for cond in query.filter.into_iter().chain(extra) {
            stages.push(format!("| {}", render_cond(cond, false, &LABEL_FILTER)));
        }
        stages.join(" ")
    }

    /// The metric query of the panel's measure, for events also meeting `extra`.
    fn metric(&self, panel: &Panel, extra: Option<Cond>) -> Result<String, DashboardError> {
        let query = &panel.query;
        let pipeline = self.pipeline(query, extra);
        let range = match query.span {
            Span::OverTime => "$__interval",
            Span::Total | Span::LastDays(_) => "$__range",
        };
        let groups: Vec<&str> = query.group_by.iter().map(|field| label(*field)).collect();
        let expr = match query.measure {
            Measure::Count => {
                let counts = format!("count_over_time({pipeline} [{range}])");
                aggregate("sum", &groups, &counts)
            }
            Measure::Distinct(field) => {
                let mut per_value = groups.clone();
                per_value.push(label(field));
                let counts = format!("count_over_time({pipeline} [{range}])");
                aggregate("count", &groups, &aggregate("sum", &per_value, &counts))
            }
            Measure::Sum(field) => {
                let unwrap = format!("| unwrap {} | __error__=\"\"", label(field));
                let sums = format!("sum_over_time({pipeline} {unwrap} [{range}])");
                aggregate("sum", &groups, &sums)
            }
            Measure::Buckets(..) | Measure::Rows(_) => {
                return Err(DashboardError::Unsupported {
                    vendor: Vendor::GrafanaLoki,
                    panel: panel.key,
                    reason: "buckets and rows are not a single metric".to_owned(),
                });
            }
        };
        Ok(match query.top {
            Some(top) => format!("topk({top}, {expr})"),
            None => expr,
        })
    }

    /// One series per session kind, classified by the CI rule.
    fn by_kind(&self, panel: &Panel) -> Result<GrafanaPanel, DashboardError> {
        let mut targets = Vec::new();
        for (kind, cond) in SESSION_KINDS {
            let expr = self.metric(panel, Some(cond))?;
            targets.push(target(&expr, kind, panel.query.span));
        }
        Ok(GrafanaPanel::new(panel, targets))
    }

    /// One count per bucket of a numeric field.
    fn buckets(&self, panel: &Panel, field: Field, edges: &[f64]) -> GrafanaPanel {
        let pipeline = self.pipeline(&panel.query, None);
        let name = label(field);
        let targets = bucket_ranges(edges)
            .into_iter()
            .map(|(lower, upper)| {
                let mut bounds = String::new();
                if let Some(lower) = lower {
                    bounds.push_str(&format!(" | {name} >= {lower}"));
                }
                if let Some(upper) = upper {
                    bounds.push_str(&format!(" | {name} < {upper}"));
                }
                let expr = format!("sum(count_over_time({pipeline}{bounds} [$__range]))");
                target(&expr, &bucket_label(lower, upper), Span::Total)
            })
            .collect();
        GrafanaPanel::new(panel, targets)
    }

    /// The events themselves: a log panel, or a table of the chosen fields.
    fn rows(&self, panel: &Panel, columns: &[Field]) -> GrafanaPanel {
        let expr = self.pipeline(&panel.query, None);
        let target =
            json!({"expr": expr, "queryType": "range", "editorMode": "code", "maxLines": 1000});
        let mut rendered = GrafanaPanel::new(panel, vec![target]);
        if panel.visual == Visual::Table {
            let mut names = vec!["Time".to_owned()];
            names.extend(columns.iter().map(|field| label(*field).to_owned()));
            let renames: Vec<(String, String)> = columns
                .iter()
                .map(|field| (label(*field).to_owned(), field.title().to_owned()))
                .collect();
            rendered.transformations = vec![
                json!({"id": "extractFields", "options": {"source": "labels"}}),
                json!({"id": "filterFieldsByName", "options": {"include": {"names": names}}}),
                grafana::organize(&[], &renames),
            ];
        }
        rendered
    }
}

/// LogQL label filters: `fields_x=~"regex"`, joined with `or` / `and`.
const LABEL_FILTER: CondSyntax<'static> = CondSyntax {
    or: " or ",
    and: " and ",
    glob: &|field, glob, negate| {
        let op = if negate { "!~" } else { "=~" };
        format!("{}{op}{}", label(field), logql_string(&glob_to_regex(glob)))
    },
};

/// The label `| json` gives a field nested under `fields`.
fn label(field: Field) -> &'static str {
    match field {
        Field::Message => "fields_message",
        Field::SessionId => "fields_session_id",
        Field::ClientId => "fields_client_id",
        Field::ClientName => "fields_client_name",
        Field::ClientHostname => "fields_client_hostname",
        Field::ClientUser => "fields_client_user",
        Field::CliVersion => "fields_client_cli_version",
        Field::TargetType => "fields_target_type",
        Field::TargetName => "fields_target_name",
        Field::TargetNamespace => "fields_target_namespace",
        Field::Port => "fields_port",
        Field::HttpFilter => "fields_http_filter",
        Field::ScaleDown => "fields_scale_down",
        Field::SessionDuration => "fields_session_duration",
    }
}

/// `op(inner)` or `op by (labels) (inner)`.
fn aggregate(op: &str, labels: &[&str], inner: &str) -> String {
    if labels.is_empty() {
        format!("{op}({inner})")
    } else {
        format!("{op} by ({}) ({inner})", labels.join(", "))
    }
}

fn legend(query: &Query) -> String {
    if query.group_by.is_empty() {
        return query.value_title().to_owned();
    }
    let parts: Vec<String> = query
        .group_by
        .iter()
        .map(|field| format!("{{{{{}}}}}", label(*field)))
        .collect();
    parts.join(" ")
}

/// A LogQL double-quoted string (Go syntax).
fn logql_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn target(expr: &str, legend: &str, span: Span) -> Value {
    let query_type = if span == Span::OverTime {
        "range"
    } else {
        "instant"
    };
    json!({"expr": expr, "legendFormat": legend, "queryType": query_type, "editorMode": "code"})
}

/// Turns one instant series per group into one table: a row per group, a column per label.
fn metric_table(query: &Query) -> Vec<Value> {
    let mut renames: Vec<(String, String)> = query
        .group_by
        .iter()
        .map(|field| (label(*field).to_owned(), field.title().to_owned()))
        .collect();
    renames.push(("Last *".to_owned(), query.value_title().to_owned()));
    vec![
        json!({"id": "reduce", "options": {"reducers": ["lastNotNull"], "mode": "seriesToRows", "labelsToFields": true}}),
        grafana::organize(&["Field"], &renames),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboards::model::PANELS;

    fn exprs(key: &str) -> Vec<String> {
        let panel = PANELS.iter().find(|panel| panel.key == key);
        summary(panel.expect("panel exists"), &DashboardOptions::default()).expect("renders")
    }

    #[test]
    fn queries_match_current_and_legacy_names() {
        let expr = &exprs("copy_target_events")[0];
        assert!(expr.starts_with(
            "{namespace=\"mirrord\", container=\"mirrord-operator\"} |~ \"Copy Target|Target Copied\" | json"
        ));
    }

    #[test]
    fn ci_sessions_are_classified_by_user_or_name() {
        let exprs = exprs("sessions_over_time");
        assert_eq!(exprs.len(), 2);
        assert!(exprs[1].contains(
            "| (fields_client_user=~\"system:serviceaccount:.*:mirrord-ci\" or fields_client_name=~\"mirrord-ci@.*\")"
        ));
        assert!(exprs[0].contains("fields_client_user!~"));
    }

    #[test]
    fn distinct_sessions_count_session_ids() {
        let expr = &exprs("targets")[0];
        assert!(expr.starts_with("count by (fields_target_namespace, fields_target_type, fields_target_name) (sum by (fields_target_namespace, fields_target_type, fields_target_name, fields_session_id)"));
        assert!(expr.contains("| fields_target_name!~\"mirrord-copy-.*\""));
    }
}
