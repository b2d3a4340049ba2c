//! Kibana 8.x saved objects (`.ndjson`, Stack Management → Saved objects → Import) for operator
//! logs shipped by fluentd to Elasticsearch with `logstash_format`.
//!
//! fluentd's dynamic mapping makes the operator's string fields `text` with a `.keyword`
//! sub-field, so terms, counts and filters use `fields.<key>.keyword`; numbers and booleans keep
//! their own type. One data view (`logstash-*`, time field `@timestamp`), one Lens visualization
//! per aggregate panel, one saved search per event panel, and a dashboard with options-list
//! controls for namespace, target type and target. Every reference resolves inside the file.

use std::cmp::min;
use std::fmt;

use serde_json::{Value, json};

use super::layout::{Grid, place};
use super::model::{
    CONTROLS, CondSyntax, Field, FieldType, Measure, PANELS, Panel, Query, SESSION_KINDS, Span,
    Visual, bucket_label, bucket_ranges, glob_to_wildcard, messages_of, render_cond,
};
use super::{DashboardError, DashboardOptions, Vendor};

const DATA_VIEW_ID: &str = "mirrord-usage-logstash";
const DASHBOARD_ID: &str = "mirrord-usage-dashboard";
const LAYER: &str = "layer1";
const METRIC: &str = "metric";

/// Kibana's dashboard grid: 48 columns, 20 px rows; one model row is four of them.
const GRID: Grid = Grid {
    columns: 48,
    row_units: 4,
};

/// Characters KQL reserves in unquoted values, escaped with a backslash.
const SPECIAL: &str = "\\():<>\"{}";

/// A Kibana release, compared to keep every written migration version at or below the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct KibanaVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl KibanaVersion {
    /// Parses `8.15` or `8.15.2`; only 8.9 to 8.x are accepted, the releases whose saved-object
    /// format (`typeMigrationVersion`, Lens `formBased` layers, control groups) we write.
    pub fn parse(text: &str) -> Result<KibanaVersion, DashboardError> {
        let invalid = |reason: &str| DashboardError::KibanaVersion {
            version: text.to_owned(),
            reason: reason.to_owned(),
        };
        let parts: Vec<u32> = text
            .trim()
            .split('.')
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(|_| invalid("expected MAJOR.MINOR or MAJOR.MINOR.PATCH, e.g. 8.15"))?;
        let version = match parts.as_slice() {
            [major, minor] => KibanaVersion::new(*major, *minor, 0),
            [major, minor, patch] => KibanaVersion::new(*major, *minor, *patch),
            _ => {
                return Err(invalid(
                    "expected MAJOR.MINOR or MAJOR.MINOR.PATCH, e.g. 8.15",
                ));
            }
        };
        if version.major != 8 || version.minor < 9 {
            return Err(invalid(
                "the saved objects are written for Kibana 8.9 to 8.x",
            ));
        }
        Ok(version)
    }

    const fn new(major: u32, minor: u32, patch: u32) -> KibanaVersion {
        KibanaVersion {
            major,
            minor,
            patch,
        }
    }
}

impl fmt::Display for KibanaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The migration version each saved-object type's JSON below is written in.
fn format_version(object_type: &str) -> KibanaVersion {
    match object_type {
        "lens" | "dashboard" => KibanaVersion::new(8, 9, 0),
        _ => KibanaVersion::new(8, 0, 0),
    }
}

/// Every saved object, one JSON document per line, dependencies first.
pub fn saved_objects(opts: &DashboardOptions) -> Result<String, DashboardError> {
    let target = KibanaVersion::parse(&opts.kibana_version)?;
    let mut objects = vec![data_view(opts)];
    objects.extend(PANELS.iter().map(panel_object));
    objects.push(dashboard());
    let mut ndjson = String::new();
    for object in objects {
        let line = serde_json::to_string(&with_versions(object, target)).map_err(|source| {
            DashboardError::Serialize {
                vendor: Vendor::Kibana,
                source,
            }
        })?;
        ndjson.push_str(&line);
        ndjson.push('\n');
    }
    Ok(ndjson)
}

/// The KQL and the aggregation of one panel, for the README table.
pub fn summary(panel: &Panel) -> String {
    let query = &panel.query;
    let kql = kql(query);
    match query.measure {
        Measure::Rows(columns) => {
            let columns: Vec<&str> = columns.iter().map(|field| display_field(*field)).collect();
            format!("{kql} → saved search, columns {}", columns.join(", "))
        }
        _ => {
            let columns = lens_columns(query);
            let parts: Vec<String> = columns
                .iter()
                .map(|(_, column)| describe_column(column))
                .collect();
            format!("{kql} → {}", parts.join(", "))
        }
    }
}

fn describe_column(column: &Value) -> String {
    let operation = column["operationType"].as_str().unwrap_or_default();
    match column["sourceField"].as_str() {
        Some(field) if field != "___records___" => format!("{operation}({field})"),
        _ => operation.to_owned(),
    }
}

fn with_versions(mut object: Value, target: KibanaVersion) -> Value {
    let object_type = object["type"].as_str().unwrap_or_default();
    let type_version = min(format_version(object_type), target);
    if let Some(map) = object.as_object_mut() {
        map.insert("coreMigrationVersion".to_owned(), json!(target.to_string()));
        map.insert(
            "typeMigrationVersion".to_owned(),
            json!(type_version.to_string()),
        );
    }
    object
}

fn data_view(opts: &DashboardOptions) -> Value {
    json!({
        "type": "index-pattern",
        "id": DATA_VIEW_ID,
        "attributes": {
            "title": opts.index,
            "name": "mirrord Operator logs (fluentd)",
            "timeFieldName": "@timestamp",
        },
        "references": [],
    })
}

fn object_id(panel: &Panel) -> String {
    format!("mirrord-usage-{}", panel.key.replace('_', "-"))
}

fn object_type(panel: &Panel) -> &'static str {
    match panel.query.measure {
        Measure::Rows(_) => "search",
        _ => "lens",
    }
}

fn panel_object(panel: &Panel) -> Value {
    match panel.query.measure {
        Measure::Rows(columns) => saved_search(panel, columns),
        _ => lens(panel),
    }
}

/// A Discover session listing the events with the panel's columns, newest first.
fn saved_search(panel: &Panel, columns: &[Field]) -> Value {
    let index_ref = "kibanaSavedObjectMeta.searchSourceJSON.index";
    let source = json!({
        "query": {"query": kql(&panel.query), "language": "kuery"},
        "filter": [],
        "indexRefName": index_ref,
    });
    let columns: Vec<&str> = columns.iter().map(|field| display_field(*field)).collect();
    json!({
        "type": "search",
        "id": object_id(panel),
        "attributes": {
            "title": panel.title,
            "description": panel.describe(&[]),
            "columns": columns,
            "sort": [["@timestamp", "desc"]],
            "grid": {},
            "hideChart": true,
            "isTextBasedQuery": false,
            "kibanaSavedObjectMeta": {"searchSourceJSON": source.to_string()},
        },
        "references": [{"name": index_ref, "type": "index-pattern", "id": DATA_VIEW_ID}],
    })
}

/// A Lens visualization with one form-based layer on the data view.
fn lens(panel: &Panel) -> Value {
    let columns = lens_columns(&panel.query);
    let order: Vec<&str> = columns.iter().map(|(id, _)| id.as_str()).collect();
    let column_map: serde_json::Map<String, Value> = columns
        .iter()
        .map(|(id, column)| (id.clone(), column.clone()))
        .collect();
    let (visualization_type, visualization) = visualization(panel.visual, &order);
    json!({
        "type": "lens",
        "id": object_id(panel),
        "attributes": {
            "title": panel.title,
            "description": panel.describe(&[]),
            "visualizationType": visualization_type,
            "state": {
                "datasourceStates": {"formBased": {"layers": {LAYER: {
                    "columns": column_map,
                    "columnOrder": order,
                    "incompleteColumns": {},
                }}}},
                "visualization": visualization,
                "query": {"query": kql(&panel.query), "language": "kuery"},
                "filters": [],
                "internalReferences": [],
                "adHocDataViews": {},
            },
        },
        "references": [{
            "type": "index-pattern",
            "id": DATA_VIEW_ID,
            "name": format!("indexpattern-datasource-layer-{LAYER}"),
        }],
    })
}

/// The layer's columns, bucket columns first and the metric last.
fn lens_columns(query: &Query) -> Vec<(String, Value)> {
    let mut columns = Vec::new();
    for (index, field) in query.group_by.iter().enumerate() {
        columns.push((format!("group{index}"), terms(*field, query)));
    }
    if query.span == Span::OverTime {
        columns.push(("time".to_owned(), date_histogram()));
    }
    if query.by_session_kind {
        columns.push(("kind".to_owned(), session_kinds()));
    }
    if let Measure::Buckets(field, edges) = query.measure {
        columns.push(("bucket".to_owned(), ranges(field, edges)));
    }
    columns.push((METRIC.to_owned(), metric(query)));
    columns
}

fn metric(query: &Query) -> Value {
    let (operation, field) = match query.measure {
        Measure::Distinct(field) => ("unique_count", es_field(field)),
        Measure::Sum(field) => ("sum", es_field(field)),
        _ => ("count", "___records___".to_owned()),
    };
    json!({
        "label": query.value_title(), "customLabel": true,
        "dataType": "number", "isBucketed": false,
        "operationType": operation, "sourceField": field,
        "params": {"emptyAsNull": true},
    })
}

fn terms(field: Field, query: &Query) -> Value {
    let data_type = match field.field_type() {
        FieldType::Number => "number",
        FieldType::Bool => "boolean",
        FieldType::Text => "string",
    };
    json!({
        "label": field.title(), "customLabel": true,
        "dataType": data_type, "isBucketed": true,
        "operationType": "terms", "sourceField": es_field(field),
        "params": {
            "size": query.top.unwrap_or(100),
            "orderBy": {"type": "column", "columnId": METRIC},
            "orderDirection": "desc",
            "otherBucket": false,
            "missingBucket": false,
        },
    })
}

fn date_histogram() -> Value {
    json!({
        "label": "@timestamp", "dataType": "date", "isBucketed": true,
        "operationType": "date_histogram", "sourceField": "@timestamp",
        "params": {"interval": "auto", "includeEmptyRows": true, "dropPartials": false},
    })
}

/// Exec and CI as two KQL filters, the same rule every vendor applies.
fn session_kinds() -> Value {
    let filters: Vec<Value> = SESSION_KINDS
        .iter()
        .map(|(kind, cond)| {
            json!({"label": kind, "input": {"query": render_cond(*cond, false, &KQL), "language": "kuery"}})
        })
        .collect();
    json!({
        "label": "Kind", "customLabel": true, "dataType": "string", "isBucketed": true,
        "operationType": "filters", "params": {"filters": filters},
    })
}

fn ranges(field: Field, edges: &[f64]) -> Value {
    let ranges: Vec<Value> = bucket_ranges(edges)
        .into_iter()
        .map(|(from, to)| json!({"from": from, "to": to, "label": bucket_label(from, to)}))
        .collect();
    json!({
        "label": field.title(), "customLabel": true, "dataType": "number", "isBucketed": true,
        "operationType": "range", "sourceField": es_field(field),
        "params": {"type": "range", "ranges": ranges, "maxBars": "auto", "includeEmptyRows": true},
    })
}

/// The Lens visualization type and state for a visual, given the layer's column ids.
fn visualization(visual: Visual, order: &[&str]) -> (&'static str, Value) {
    let buckets: Vec<&str> = order.iter().copied().filter(|id| *id != METRIC).collect();
    let x = buckets.iter().copied().find(|id| *id != "kind");
    let split = buckets.iter().copied().find(|id| *id == "kind");
    let xy = |series_type: &str| {
        json!({
            "preferredSeriesType": series_type,
            "legend": {"isVisible": split.is_some(), "position": "right"},
            "valueLabels": "hide",
            "layers": [{
                "layerId": LAYER, "layerType": "data", "seriesType": series_type,
                "xAccessor": x, "splitAccessor": split, "accessors": [METRIC],
            }],
        })
    };
    match visual {
        Visual::Stat => (
            "lnsMetric",
            json!({"layerId": LAYER, "layerType": "data", "metricAccessor": METRIC}),
        ),
        Visual::TimeSeries => ("lnsXY", xy("bar_stacked")),
        Visual::Bars => ("lnsXY", xy("bar_horizontal")),
        Visual::Histogram => ("lnsXY", xy("bar")),
        Visual::Pie => (
            "lnsPie",
            json!({"shape": "donut", "layers": [{
                "layerId": LAYER, "layerType": "data", "primaryGroups": buckets,
                "metrics": [METRIC], "numberDisplay": "percent",
                "categoryDisplay": "default", "legendDisplay": "default", "nestedLegend": false,
            }]}),
        ),
        Visual::Table | Visual::Logs => {
            let columns: Vec<Value> = order
                .iter()
                .map(|id| json!({"columnId": id, "isTransposed": false}))
                .collect();
            (
                "lnsDatatable",
                json!({"layerId": LAYER, "layerType": "data", "columns": columns}),
            )
        }
    }
}

/// The dashboard: every panel on the 48-column grid, plus one options-list control per
/// model control.
fn dashboard() -> Value {
    let mut panels = Vec::new();
    let mut references = Vec::new();
    for (panel, rect) in PANELS.iter().zip(place(PANELS, GRID)) {
        let mut config = json!({"enhancements": {}});
        if let (Span::LastDays(days), Some(map)) = (panel.query.span, config.as_object_mut()) {
            map.insert(
                "timeRange".to_owned(),
                json!({"from": format!("now-{days}d"), "to": "now"}),
            );
        }
        panels.push(json!({
            "type": object_type(panel),
            "panelIndex": panel.key,
            "gridData": {"x": rect.x, "y": rect.y, "w": rect.w, "h": rect.h, "i": panel.key},
            "embeddableConfig": config,
            "panelRefName": format!("panel_{}", panel.key),
        }));
        references.push(json!({
            "name": format!("{}:panel_{}", panel.key, panel.key),
            "type": object_type(panel),
            "id": object_id(panel),
        }));
    }
    let (controls, control_refs) = controls();
    references.extend(control_refs);
    let options = json!({"useMargins": true, "syncColors": false, "syncCursor": true, "syncTooltips": false, "hidePanelTitles": false});
    let search_source = json!({"query": {"query": "", "language": "kuery"}, "filter": []});
    json!({
        "type": "dashboard",
        "id": DASHBOARD_ID,
        "attributes": {
            "title": "mirrord usage (Kibana)",
            "description": "mirrord Operator functional events from its JSON logs, shipped by fluentd to Elasticsearch.",
            "panelsJSON": Value::Array(panels).to_string(),
            "optionsJSON": options.to_string(),
            "controlGroupInput": controls,
            "timeRestore": true,
            "timeFrom": "now-7d",
            "timeTo": "now",
            "refreshInterval": {"pause": true, "value": 60000},
            "version": 1,
            "kibanaSavedObjectMeta": {"searchSourceJSON": search_source.to_string()},
        },
        "references": references,
    })
}

/// The control group and the data-view references of its controls.
fn controls() -> (Value, Vec<Value>) {
    let mut panels = serde_json::Map::new();
    let mut references = Vec::new();
    for (order, (field, id)) in CONTROLS.iter().enumerate() {
        panels.insert(
            (*id).to_owned(),
            json!({
                "order": order, "width": "medium", "grow": true, "type": "optionsListControl",
                "explicitInput": {
                    "id": id, "fieldName": es_field(*field), "title": field.title(),
                    "searchTechnique": "prefix", "selectedOptions": [], "enhancements": {},
                },
            }),
        );
        references.push(json!({
            "name": format!("controlGroup_{id}:optionsListDataView"),
            "type": "index-pattern",
            "id": DATA_VIEW_ID,
        }));
    }
    let ignore = json!({"ignoreFilters": false, "ignoreQuery": false, "ignoreTimerange": false, "ignoreValidations": false});
    let group = json!({
        "controlStyle": "oneLine",
        "chainingSystem": "HIERARCHICAL",
        "showApplySelections": false,
        "ignoreParentSettingsJSON": ignore.to_string(),
        "panelsJSON": Value::Object(panels).to_string(),
    });
    (group, references)
}

/// The panel's KQL: its events (current and legacy names) and its filter.
fn kql(query: &Query) -> String {
    let messages: Vec<String> = messages_of(query.events)
        .into_iter()
        .map(|message| format!("\"{message}\""))
        .collect();
    let mut clauses = vec![format!(
        "{} : ({})",
        es_field(Field::Message),
        messages.join(" or ")
    )];
    clauses.extend(query.filter.map(|cond| render_cond(cond, false, &KQL)));
    clauses.join(" and ")
}

/// KQL conditions on keyword fields: `field : value`, `not` to negate.
const KQL: CondSyntax<'static> = CondSyntax {
    or: " or ",
    and: " and ",
    glob: &|field, glob, negate| {
        let not = if negate { "not " } else { "" };
        format!(
            "{not}{} : {}",
            es_field(field),
            glob_to_wildcard(glob, SPECIAL)
        )
    },
};

/// The Elasticsearch field to aggregate or filter on.
fn es_field(field: Field) -> String {
    match field.field_type() {
        FieldType::Text => format!("fields.{}.keyword", field.key()),
        FieldType::Number | FieldType::Bool => format!("fields.{}", field.key()),
    }
}

/// The field Discover shows in a column (the analysed text field reads the same).
fn display_field(field: Field) -> &'static str {
    match field {
        Field::Message => "fields.message",
        Field::SessionId => "fields.session_id",
        Field::ClientId => "fields.client_id",
        Field::ClientName => "fields.client_name",
        Field::ClientHostname => "fields.client_hostname",
        Field::ClientUser => "fields.client_user",
        Field::CliVersion => "fields.client_cli_version",
        Field::TargetType => "fields.target_type",
        Field::TargetName => "fields.target_name",
        Field::TargetNamespace => "fields.target_namespace",
        Field::Port => "fields.port",
        Field::HttpFilter => "fields.http_filter",
        Field::ScaleDown => "fields.scale_down",
        Field::SessionDuration => "fields.session_duration",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboards::model::Cond;

    #[test]
    fn versions_parse_and_reject_other_majors() {
        assert_eq!(
            KibanaVersion::parse("8.15").map(|v| v.to_string()).ok(),
            Some("8.15.0".to_owned())
        );
        assert!(KibanaVersion::parse("7.17").is_err());
        assert!(KibanaVersion::parse("8.5").is_err());
        assert!(KibanaVersion::parse("eight").is_err());
    }

    #[test]
    fn migration_versions_never_exceed_the_target() {
        let object = with_versions(lens(&PANELS[0]), KibanaVersion::new(8, 9, 0));
        assert_eq!(object["typeMigrationVersion"], "8.9.0");
        assert_eq!(object["coreMigrationVersion"], "8.9.0");
    }

    #[test]
    fn kql_matches_both_names_and_excludes_copy_pods() {
        let targets = PANELS.iter().find(|panel| panel.key == "targets");
        assert_eq!(
            kql(&targets.expect("panel exists").query),
            "fields.message.keyword : (\"Session Start\" or \"Session Started\") and \
             not fields.target_name.keyword : mirrord-copy-*"
        );
    }

    #[test]
    fn every_cond_is_translatable() {
        let ci: Cond = SESSION_KINDS[1].1;
        assert_eq!(
            render_cond(ci, false, &KQL),
            "(fields.client_user.keyword : system\\:serviceaccount\\:*\\:mirrord-ci or fields.client_name.keyword : mirrord-ci@*)"
        );
    }
}
