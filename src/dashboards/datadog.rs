//! A Datadog dashboard over the operator's logs, for users whose Agent collects them.
//!
//! Datadog parses the operator's JSON lines, so event fields are the attributes
//! `@fields.<key>`. Every query selects the operator's container by its Kubernetes tags
//! (`kube_namespace`, `kube_container_name`), the panel's events by `@fields.message` (current
//! and legacy names), and applies the `$namespace`, `$target_type` and `$target` template
//! variables. Widgets use the formulas-and-functions request format in an ordered layout.

use serde_json::{Value, json};

use super::DashboardError;
use super::DashboardOptions;
use super::layout::{Grid, place};
use super::model::{
    CONTROLS, Cond, CondSyntax, Field, Measure, PANELS, Panel, Query, SESSION_KINDS, Span, Unit,
    Visual, bucket_label, bucket_ranges, glob_to_wildcard, messages_of, render_cond,
};

/// Datadog's ordered layout: 12 columns; one model row is one Datadog row.
const GRID: Grid = Grid {
    columns: 12,
    row_units: 1,
};

/// Characters Datadog's search syntax reserves, escaped with a backslash in values.
const SPECIAL: &str = "-!&|><=(){}[]\"?:#\\/+^~";

/// The Datadog dashboard JSON (`POST /api/v1/dashboard` body, or "Import dashboard JSON").
pub fn dashboard(opts: &DashboardOptions) -> Result<Value, DashboardError> {
    let widgets: Vec<Value> = PANELS
        .iter()
        .zip(place(PANELS, GRID))
        .enumerate()
        .map(|(index, (panel, rect))| {
            json!({
                "id": index + 1,
                "definition": definition(panel, opts),
                "layout": {"x": rect.x, "y": rect.y, "width": rect.w, "height": rect.h},
            })
        })
        .collect();
    Ok(json!({
        "title": "mirrord usage (Datadog)",
        "description": "mirrord Operator functional events from its JSON logs. Create facets for \
            the @fields.* attributes, and a measure for @fields.session_duration, so that \
            grouping and sums work.",
        "layout_type": "ordered",
        "reflow_type": "fixed",
        "template_variables": template_variables(),
        "widgets": widgets,
    }))
}

/// The log search and computation of one panel, for the README table.
pub fn summary(panel: &Panel, opts: &DashboardOptions) -> String {
    let query = &panel.query;
    let search = search(query, opts, None);
    let compute = match query.measure {
        Measure::Rows(columns) => {
            let columns: Vec<String> = columns.iter().map(|field| attribute(*field)).collect();
            return format!("{search} → columns {}", columns.join(", "));
        }
        _ => compute(query)
            .get("metric")
            .and_then(Value::as_str)
            .map(str::to_owned),
    };
    let aggregation = aggregation(query);
    let groups: Vec<String> = query
        .group_by
        .iter()
        .map(|field| attribute(*field))
        .collect();
    let mut text = format!("{search} → {aggregation}");
    if let Some(metric) = compute {
        text.push_str(&format!("({metric})"));
    }
    if !groups.is_empty() {
        text.push_str(&format!(" by {}", groups.join(", ")));
    }
    text
}

fn template_variables() -> Vec<Value> {
    CONTROLS
        .iter()
        .map(|(field, name)| {
            json!({"name": name, "prefix": attribute(*field), "available_values": [], "default": "*"})
        })
        .collect()
}

/// The widget definition for one panel.
fn definition(panel: &Panel, opts: &DashboardOptions) -> Value {
    let query = &panel.query;
    let mut definition = match (query.measure, panel.visual) {
        (Measure::Rows(columns), _) => list_stream(query, opts, columns),
        (Measure::Buckets(field, edges), _) => buckets(query, opts, field, edges),
        (_, Visual::TimeSeries) => timeseries(panel, opts),
        (_, visual) => scalar(panel, opts, visual),
    };
    if let Some(object) = definition.as_object_mut() {
        object.insert("title".to_owned(), json!(panel.title));
        object.insert("title_size".to_owned(), json!("16"));
        object.insert("title_align".to_owned(), json!("left"));
        object.insert(
            "description".to_owned(),
            json!(panel.describe(&notes(query))),
        );
        if let Span::LastDays(days) = query.span {
            object.insert(
                "time".to_owned(),
                json!({"type": "live", "unit": "day", "value": days}),
            );
        }
    }
    definition
}

/// What this panel needs configured in Datadog.
fn notes(query: &Query) -> Vec<String> {
    match query.measure {
        Measure::Sum(field) | Measure::Buckets(field, _) => vec![format!(
            "Needs {} as a measure (Logs → Configuration → facets).",
            attribute(field)
        )],
        _ => Vec::new(),
    }
}

/// A single number, bars, slices or a table: scalar results of one grouped query.
fn scalar(panel: &Panel, opts: &DashboardOptions, visual: Visual) -> Value {
    let query = &panel.query;
    let mut formula = json!({"formula": "query1", "alias": query.value_title()});
    if let (Some(top), Some(object)) = (query.top, formula.as_object_mut()) {
        object.insert("limit".to_owned(), json!({"count": top, "order": "desc"}));
    }
    if let (Unit::Seconds, Some(object)) = (panel.unit, formula.as_object_mut()) {
        object.insert(
            "number_format".to_owned(),
            json!({"unit": {"type": "canonical_unit", "unit_name": "second"}}),
        );
    }
    let request = json!({
        "response_format": "scalar",
        "queries": [event_query("query1", query, opts, None)],
        "formulas": [formula],
    });
    match visual {
        Visual::Stat => {
            json!({"type": "query_value", "autoscale": true, "precision": 0, "requests": [request]})
        }
        Visual::Bars => json!({"type": "toplist", "requests": [request]}),
        Visual::Pie => {
            json!({"type": "sunburst", "hide_total": false, "legend": {"type": "automatic"}, "requests": [request]})
        }
        _ => json!({"type": "query_table", "has_search_bar": "auto", "requests": [request]}),
    }
}

/// Bars over time, one series per session kind when the panel splits by kind.
fn timeseries(panel: &Panel, opts: &DashboardOptions) -> Value {
    let query = &panel.query;
    let (queries, formulas): (Vec<Value>, Vec<Value>) = if query.by_session_kind {
        SESSION_KINDS
            .iter()
            .map(|(kind, cond)| {
                (
                    event_query(kind, query, opts, Some(*cond)),
                    json!({"formula": kind, "alias": kind}),
                )
            })
            .unzip()
    } else {
        (
            vec![event_query("query1", query, opts, None)],
            vec![json!({"formula": "query1", "alias": query.value_title()})],
        )
    };
    json!({
        "type": "timeseries",
        "show_legend": true,
        "legend_layout": "auto",
        "requests": [{
            "response_format": "timeseries",
            "queries": queries,
            "formulas": formulas,
            "display_type": "bars",
        }],
    })
}

/// A table with one column per bucket of a numeric field.
fn buckets(query: &Query, opts: &DashboardOptions, field: Field, edges: &[f64]) -> Value {
    let name = attribute(field);
    let (queries, formulas): (Vec<Value>, Vec<Value>) = bucket_ranges(edges)
        .into_iter()
        .enumerate()
        .map(|(index, (lower, upper))| {
            let id = format!("bucket{index}");
            let mut range = Vec::new();
            range.extend(lower.map(|lower| format!("{name}:>={lower}")));
            range.extend(upper.map(|upper| format!("{name}:<{upper}")));
            let mut bucket = event_query(&id, query, opts, None);
            if let Some(search) = bucket.pointer_mut("/search/query") {
                let narrowed = format!(
                    "{} {}",
                    search.as_str().unwrap_or_default(),
                    range.join(" ")
                );
                *search = Value::String(narrowed);
            }
            (
                bucket,
                json!({"formula": id, "alias": bucket_label_of(index, edges)}),
            )
        })
        .unzip();
    json!({
        "type": "query_table",
        "has_search_bar": "never",
        "requests": [{"response_format": "scalar", "queries": queries, "formulas": formulas}],
    })
}

fn bucket_label_of(index: usize, edges: &[f64]) -> String {
    let ranges = bucket_ranges(edges);
    ranges
        .get(index)
        .map(|(lower, upper)| bucket_label(*lower, *upper))
        .unwrap_or_default()
}

/// The events themselves, newest first, with the panel's columns.
fn list_stream(query: &Query, opts: &DashboardOptions, columns: &[Field]) -> Value {
    let mut fields = vec![json!({"field": "timestamp", "width": "auto"})];
    fields.extend(
        columns
            .iter()
            .map(|field| json!({"field": attribute(*field), "width": "auto"})),
    );
    json!({
        "type": "list_stream",
        "show_legend": false,
        "requests": [{
            "response_format": "event_list",
            "query": {
                "data_source": "logs_stream",
                "query_string": search(query, opts, None),
                "indexes": [],
                "sort": {"column": "timestamp", "order": "desc"},
            },
            "columns": fields,
        }],
    })
}

/// A formulas-and-functions log query.
fn event_query(name: &str, query: &Query, opts: &DashboardOptions, extra: Option<Cond>) -> Value {
    let mut event_query = json!({
        "data_source": "logs",
        "name": name,
        "search": {"query": search(query, opts, extra)},
        "indexes": ["*"],
        "compute": compute(query),
    });
    let groups = group_by(query);
    if let (false, Some(object)) = (groups.is_empty(), event_query.as_object_mut()) {
        object.insert("group_by".to_owned(), Value::Array(groups));
    }
    event_query
}

fn aggregation(query: &Query) -> &'static str {
    match query.measure {
        Measure::Distinct(_) => "cardinality",
        Measure::Sum(_) => "sum",
        _ => "count",
    }
}

fn compute(query: &Query) -> Value {
    match query.measure {
        Measure::Distinct(field) | Measure::Sum(field) => {
            json!({"aggregation": aggregation(query), "metric": attribute(field)})
        }
        _ => json!({"aggregation": "count"}),
    }
}

fn group_by(query: &Query) -> Vec<Value> {
    let limit = query.top.unwrap_or(100);
    let mut sort = compute(query);
    if let Some(object) = sort.as_object_mut() {
        object.insert("order".to_owned(), json!("desc"));
    }
    query
        .group_by
        .iter()
        .map(|field| json!({"facet": attribute(*field), "limit": limit, "sort": sort}))
        .collect()
}

/// The log search: the operator's container, the events, the variables, the filters.
fn search(query: &Query, opts: &DashboardOptions, extra: Option<Cond>) -> String {
    let messages: Vec<String> = messages_of(query.events)
        .into_iter()
        .map(|message| format!("\"{message}\""))
        .collect();
    let mut terms = vec![
        format!(
            "kube_namespace:{}",
            glob_to_wildcard(&opts.namespace, SPECIAL)
        ),
        format!(
            "kube_container_name:{}",
            glob_to_wildcard(&opts.container, SPECIAL)
        ),
        format!("{}:({})", attribute(Field::Message), messages.join(" OR ")),
    ];
    terms.extend(CONTROLS.iter().map(|(_, name)| format!("${name}")));
    for cond in query.filter.into_iter().chain(extra) {
        terms.push(render_cond(cond, false, &SEARCH));
    }
    terms.join(" ")
}

/// Datadog search conditions: `@fields.x:value`, `-` to negate, `OR`, and a space for AND.
const SEARCH: CondSyntax<'static> = CondSyntax {
    or: " OR ",
    and: " ",
    glob: &|field, glob, negate| {
        let sign = if negate { "-" } else { "" };
        format!(
            "{sign}{}:{}",
            attribute(field),
            glob_to_wildcard(glob, SPECIAL)
        )
    },
};

/// The attribute Datadog's JSON parsing gives an operator field.
fn attribute(field: Field) -> String {
    format!("@fields.{}", field.key())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panel(key: &str) -> &'static Panel {
        PANELS
            .iter()
            .find(|panel| panel.key == key)
            .expect("panel exists")
    }

    #[test]
    fn searches_select_the_container_events_and_variables() {
        let search = search(&panel("sessions").query, &DashboardOptions::default(), None);
        assert_eq!(
            search,
            "kube_namespace:mirrord kube_container_name:mirrord\\-operator \
             @fields.message:(\"Session Start\" OR \"Session Started\") $namespace $target_type $target"
        );
    }

    #[test]
    fn ci_condition_escapes_colons() {
        let ci = render_cond(SESSION_KINDS[1].1, false, &SEARCH);
        assert_eq!(
            ci,
            "(@fields.client_user:system\\:serviceaccount\\:*\\:mirrord\\-ci OR @fields.client_name:mirrord\\-ci@*)"
        );
    }

    #[test]
    fn users_panel_covers_thirty_days() {
        let definition = definition(panel("users_30d"), &DashboardOptions::default());
        assert_eq!(definition["time"]["value"], 30);
        assert_eq!(definition["type"], "query_table");
    }
}
