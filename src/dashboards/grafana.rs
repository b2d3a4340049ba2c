//! What both Grafana dashboards share: the dashboard frame, the `datasource` variable, panel
//! JSON per [`Visual`], and the grid. The Prometheus and Loki renderers only supply queries
//! through [`GrafanaSource`].
//!
//! The JSON follows Grafana's classic dashboard model (`@grafana/schema`, `schemaVersion` 39),
//! which Grafana 10 to 12 import and migrate; each panel's `options` and custom field config
//! follow Grafana 12's schema for its panel type (checked by `tests/dashboards.rs`). No panel
//! names a data source uid: every one uses `${datasource}`, picked by the user from a
//! `datasource` template variable.

use serde_json::{Value, json};

use super::DashboardError;
use super::layout::{Grid, Rect, place};
use super::model::{PANELS, Panel, Unit, Visual};

/// Grafana's grid: 24 columns, 30 px rows; one model row is two of them.
const GRID: Grid = Grid {
    columns: 24,
    row_units: 2,
};

/// A panel as one Grafana data source renders it.
#[derive(Debug, Clone)]
pub struct GrafanaPanel {
    /// Usually the model's visual; a data source that cannot show it picks another.
    pub visual: Visual,
    /// Query objects without `refId` and `datasource`; [`dashboard`] adds both.
    pub targets: Vec<Value>,
    pub transformations: Vec<Value>,
    /// Caveats appended to the description: what this data source cannot show.
    pub notes: Vec<String>,
    /// A relative time override such as `30d`.
    pub time_from: Option<String>,
}

impl GrafanaPanel {
    /// A panel showing the model's visual with these targets and nothing else.
    pub fn new(panel: &Panel, targets: Vec<Value>) -> GrafanaPanel {
        GrafanaPanel {
            visual: panel.visual,
            targets,
            transformations: Vec::new(),
            notes: Vec::new(),
            time_from: None,
        }
    }
}

/// One Grafana data source's translation of the panel model.
pub trait GrafanaSource {
    /// The data source plugin id (`prometheus`, `loki`).
    fn plugin(&self) -> &'static str;
    /// The dashboard's stable uid.
    fn uid(&self) -> &'static str;
    fn title(&self) -> &'static str;
    fn description(&self) -> String;
    /// Template variables for the model's controls (namespace, target type, target).
    fn control_variables(&self) -> Vec<Value>;
    /// Translates one panel.
    fn panel(&self, panel: &Panel) -> Result<GrafanaPanel, DashboardError>;
}

/// The dashboard for one data source, with every panel of the model.
pub fn dashboard(source: &dyn GrafanaSource) -> Result<Value, DashboardError> {
    let rects = place(PANELS, GRID);
    let mut panels = Vec::with_capacity(PANELS.len());
    for (index, (panel, rect)) in PANELS.iter().zip(rects).enumerate() {
        let rendered = source.panel(panel)?;
        panels.push(panel_json(
            source.plugin(),
            panel,
            &rendered,
            rect,
            index + 1,
        ));
    }
    let mut variables = vec![datasource_variable(source.plugin())];
    variables.extend(source.control_variables());
    Ok(json!({
        "uid": source.uid(),
        "title": source.title(),
        "description": source.description(),
        "tags": ["mirrord", "mirrord-usage"],
        "editable": true,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-7d", "to": "now"},
        "timezone": "browser",
        "refresh": "5m",
        "fiscalYearStartMonth": 0,
        "liveNow": false,
        "weekStart": "",
        "annotations": {"list": []},
        "links": [],
        "templating": {"list": variables},
        "panels": panels,
    }))
}

/// The data source reference every panel and query variable uses.
pub fn datasource_ref(plugin: &str) -> Value {
    json!({"type": plugin, "uid": "${datasource}"})
}

/// A multi-value variable filled by a data source query, `All` meaning the regex `.*`.
pub fn query_variable(plugin: &str, name: &str, label: &str, query: &str) -> Value {
    json!({
        "type": "query",
        "name": name,
        "label": label,
        "datasource": datasource_ref(plugin),
        "query": query,
        "refresh": 2,
        "sort": 1,
        "multi": true,
        "includeAll": true,
        "allValue": ".*",
        "current": {"text": ["All"], "value": ["$__all"]},
        "hide": 0,
    })
}

/// A free-text variable holding a regular expression, `.*` by default.
pub fn regex_variable(name: &str, label: &str) -> Value {
    json!({
        "type": "textbox",
        "name": name,
        "label": label,
        "description": "A regular expression; .* matches everything.",
        "query": ".*",
        "current": {"text": ".*", "value": ".*"},
        "hide": 0,
    })
}

/// An `organize` transformation that hides `hidden` columns and renames the others.
pub fn organize(hidden: &[&str], renames: &[(String, String)]) -> Value {
    let hidden: serde_json::Map<String, Value> = hidden
        .iter()
        .map(|name| ((*name).to_owned(), Value::Bool(true)))
        .collect();
    let renames: serde_json::Map<String, Value> = renames
        .iter()
        .map(|(from, to)| (from.clone(), Value::String(to.clone())))
        .collect();
    json!({"id": "organize", "options": {"excludeByName": hidden, "renameByName": renames}})
}

fn datasource_variable(plugin: &str) -> Value {
    json!({
        "type": "datasource",
        "name": "datasource",
        "label": "Data source",
        "query": plugin,
        "refresh": 1,
        "hide": 0,
    })
}

fn panel_json(
    plugin: &str,
    panel: &Panel,
    rendered: &GrafanaPanel,
    rect: Rect,
    id: usize,
) -> Value {
    let targets: Vec<Value> = rendered
        .targets
        .iter()
        .enumerate()
        .map(|(index, target)| with_ref(plugin, target, index))
        .collect();
    let mut json = json!({
        "id": id,
        "type": plugin_type(rendered.visual),
        "title": panel.title,
        "description": panel.describe(&rendered.notes),
        "gridPos": {"x": rect.x, "y": rect.y, "w": rect.w, "h": rect.h},
        "datasource": datasource_ref(plugin),
        "targets": targets,
        "options": options(rendered.visual),
        "fieldConfig": field_config(rendered.visual, panel.unit),
        "transformations": rendered.transformations,
    });
    if let (Some(time_from), Some(object)) = (&rendered.time_from, json.as_object_mut()) {
        object.insert("timeFrom".to_owned(), Value::String(time_from.clone()));
    }
    json
}

/// Adds `refId` (A, B, ...) and the data source to a target.
fn with_ref(plugin: &str, target: &Value, index: usize) -> Value {
    let mut target = target.clone();
    if let Some(object) = target.as_object_mut() {
        let letter = char::from(b'A' + u8::try_from(index % 26).unwrap_or(0));
        object.insert("refId".to_owned(), Value::String(letter.to_string()));
        object.insert("datasource".to_owned(), datasource_ref(plugin));
    }
    target
}

fn plugin_type(visual: Visual) -> &'static str {
    match visual {
        Visual::Stat => "stat",
        Visual::TimeSeries => "timeseries",
        Visual::Bars | Visual::Histogram => "bargauge",
        Visual::Pie => "piechart",
        Visual::Table => "table",
        Visual::Logs => "logs",
    }
}

fn reduce_last() -> Value {
    json!({"calcs": ["lastNotNull"], "fields": "", "values": false})
}

fn hidden_legend() -> Value {
    json!({"calcs": [], "displayMode": "list", "placement": "bottom", "showLegend": false})
}

fn options(visual: Visual) -> Value {
    match visual {
        Visual::Stat => json!({
            "reduceOptions": reduce_last(),
            "colorMode": "value", "graphMode": "none", "justifyMode": "auto",
            "orientation": "auto", "textMode": "auto", "wideLayout": true,
            "showPercentChange": false, "percentChangeColorMode": "standard",
        }),
        Visual::TimeSeries => json!({
            "legend": {"calcs": ["sum"], "displayMode": "list", "placement": "bottom", "showLegend": true},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }),
        Visual::Bars | Visual::Histogram => json!({
            "reduceOptions": reduce_last(),
            "orientation": if visual == Visual::Bars { "horizontal" } else { "vertical" },
            "displayMode": "gradient", "valueMode": "color", "namePlacement": "auto",
            "showUnfilled": true, "sizing": "auto",
            "minVizHeight": 16, "minVizWidth": 8, "maxVizHeight": 300,
            "legend": hidden_legend(),
        }),
        // No `sort`: the Grafana 12 piechart schema the dashboards are checked against has none
        // (`@grafana/schema` has it from 12.2 on); without the key Grafana uses its default.
        Visual::Pie => json!({
            "reduceOptions": reduce_last(),
            "pieType": "donut", "displayLabels": ["name", "percent"], "orientation": "auto",
            "tooltip": {"mode": "single", "sort": "none"},
            "legend": {"calcs": [], "displayMode": "table", "placement": "right", "showLegend": true, "values": ["value", "percent"]},
        }),
        Visual::Table => json!({"showHeader": true, "frameIndex": 0, "cellHeight": "sm"}),
        Visual::Logs => json!({
            "showTime": true, "showLabels": false, "showCommonLabels": false,
            "wrapLogMessage": true, "prettifyLogMessage": false, "enableLogDetails": true,
            "dedupStrategy": "none", "sortOrder": "Descending", "showLogContextToggle": true,
        }),
    }
}

fn field_config(visual: Visual, unit: Unit) -> Value {
    let unit = match unit {
        Unit::Count => "short",
        Unit::Seconds => "s",
    };
    let mut defaults = json!({"unit": unit});
    if visual == Visual::TimeSeries
        && let Some(object) = defaults.as_object_mut()
    {
        object.insert(
            "custom".to_owned(),
            json!({"drawStyle": "bars", "fillOpacity": 80, "lineWidth": 1,
                   "stacking": {"mode": "normal", "group": "A"}}),
        );
    }
    json!({"defaults": defaults, "overrides": []})
}
