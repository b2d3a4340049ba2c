"""Structural checker for generated Kibana 8.x saved objects (`.ndjson`), offline.

    python3 validate_kibana.py --kibana-version 8.15 FILE.ndjson...

What Kibana's import needs and what a broken export looks like:
- every line is a JSON object with type, id, attributes, references and migration versions;
- (type, id) pairs are unique, and every reference resolves to an object in the file;
- every JSON-string attribute (`panelsJSON`, `optionsJSON`, `searchSourceJSON`, the control
  group's JSON, `ignoreParentSettingsJSON`) parses, and so does Lens state if it is a string;
- each dashboard panel's `panelRefName` `panel_<i>` has a reference `<i>:panel_<i>` of the
  panel's type; panels fit the 48-column grid and do not overlap;
- each Lens layer has its `indexpattern-datasource-layer-<id>` reference, its column order
  lists its columns, and the visualization's accessors name existing columns;
- each saved search's `indexRefName` and each control's data view have references;
- every KQL query parses (PyPI `kibana-ql`); string fields are aggregated on `.keyword`;
- `coreMigrationVersion` and `typeMigrationVersion` are at most the target Kibana version.
Exits 1 and prints every problem when anything fails.
"""

import argparse
import json
import sys

try:
    from kibana_ql import KqlParser
except ImportError as error:  # pragma: no cover - reported to the Rust test
    sys.exit(f"kibana-ql is not installed ({error}): run .ci/install.d/dashboards.sh")

GRID_COLUMNS = 48
KQL = KqlParser()


def version(text):
    parts = [int(part) for part in str(text).split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


class Checker:
    def __init__(self, path, target):
        self.path = path
        self.target = target
        self.problems = []
        self.objects = {}

    def fail(self, where, message):
        self.problems.append(f"{self.path}: {where}: {message}")

    def json_string(self, where, text):
        if not isinstance(text, str):
            self.fail(where, "must be a JSON string")
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            self.fail(where, f"does not parse: {error}")
            return None

    def kql(self, where, query):
        if not isinstance(query, dict) or query.get("language") != "kuery":
            return
        try:
            KQL.parse(query.get("query", ""))
        except Exception as error:  # parsimonious raises several error types
            self.fail(where, f"KQL does not parse: {query.get('query')!r}: {str(error)[:120]}")

    def load(self):
        with open(self.path, encoding="utf-8") as file:
            lines = [line for line in file.read().splitlines() if line.strip()]
        for number, line in enumerate(lines, 1):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as error:
                self.fail(f"line {number}", f"not JSON: {error}")
                continue
            self.check_envelope(number, obj)
        return len(lines)

    def check_envelope(self, number, obj):
        where = f"line {number}"
        for key in ("type", "id", "attributes", "references", "coreMigrationVersion", "typeMigrationVersion"):
            if key not in obj:
                self.fail(where, f"missing {key}")
        key = (obj.get("type"), obj.get("id"))
        if key in self.objects:
            self.fail(where, f"duplicate (type, id) {key}")
        self.objects[key] = obj
        for field in ("coreMigrationVersion", "typeMigrationVersion"):
            try:
                if version(obj.get(field, "0")) > self.target:
                    self.fail(where, f"{field} {obj[field]} is newer than Kibana {'.'.join(map(str, self.target))}")
            except ValueError:
                self.fail(where, f"{field} is not a version: {obj.get(field)!r}")

    def check_references(self):
        for (kind, oid), obj in self.objects.items():
            names = [ref.get("name") for ref in obj.get("references", [])]
            if len(names) != len(set(names)):
                self.fail(f"{kind} {oid}", "duplicate reference names")
            for ref in obj.get("references", []):
                if (ref.get("type"), ref.get("id")) not in self.objects:
                    self.fail(f"{kind} {oid}", f"reference {ref.get('name')} to missing {ref.get('type')} {ref.get('id')}")

    def references(self, obj):
        return {ref.get("name"): ref for ref in obj.get("references", [])}

    def check_object(self, kind, oid, obj):
        where = f"{kind} {oid}"
        attributes = obj.get("attributes", {})
        meta = attributes.get("kibanaSavedObjectMeta", {})
        source = None
        if "searchSourceJSON" in meta:
            source = self.json_string(f"{where} searchSourceJSON", meta["searchSourceJSON"])
        if source:
            self.kql(f"{where} searchSourceJSON", source.get("query"))
            ref_name = source.get("indexRefName")
            if ref_name and ref_name not in self.references(obj):
                self.fail(where, f"indexRefName {ref_name} has no reference")
        if kind == "index-pattern" and not attributes.get("timeFieldName"):
            self.fail(where, "data view without a time field")
        if kind == "search" and not source:
            self.fail(where, "saved search without a search source")
        if kind == "lens":
            self.check_lens(where, obj)
        if kind == "dashboard":
            self.check_dashboard(where, obj)

    def check_lens(self, where, obj):
        state = obj["attributes"].get("state")
        if isinstance(state, str):
            state = self.json_string(f"{where} state", state)
        if not isinstance(state, dict):
            self.fail(where, "Lens without state")
            return
        self.kql(f"{where} query", state.get("query"))
        layers = state.get("datasourceStates", {}).get("formBased", {}).get("layers", {})
        if not layers:
            self.fail(where, "Lens without form-based layers")
        refs = self.references(obj)
        columns = set()
        for layer_id, layer in layers.items():
            if f"indexpattern-datasource-layer-{layer_id}" not in refs:
                self.fail(where, f"layer {layer_id} has no data view reference")
            if set(layer.get("columnOrder", [])) != set(layer.get("columns", {})):
                self.fail(where, f"layer {layer_id} columnOrder does not list its columns")
            for column_id, column in layer.get("columns", {}).items():
                columns.add(column_id)
                self.check_column(f"{where} column {column_id}", column)
        for accessor in accessors(state.get("visualization", {})):
            if accessor not in columns:
                self.fail(where, f"visualization uses unknown column {accessor}")

    def check_column(self, where, column):
        field = column.get("sourceField")
        if column.get("operationType") in ("terms", "unique_count") and column.get("dataType") == "string":
            if not str(field).endswith(".keyword"):
                self.fail(where, f"string field {field} must be aggregated on .keyword")
        if field and not (field.startswith("fields.") or field in ("@timestamp", "___records___")):
            self.fail(where, f"unexpected field {field}")
        for item in column.get("params", {}).get("filters", []):
            self.kql(f"{where} filter {item.get('label')}", item.get("input"))

    def check_dashboard(self, where, obj):
        attributes = obj["attributes"]
        refs = self.references(obj)
        self.json_string(f"{where} optionsJSON", attributes.get("optionsJSON"))
        panels = self.json_string(f"{where} panelsJSON", attributes.get("panelsJSON")) or []
        boxes = []
        indexes = set()
        for panel in panels:
            index = panel.get("panelIndex")
            at = f"{where} panel {index}"
            if index in indexes:
                self.fail(at, "duplicate panelIndex")
            indexes.add(index)
            ref = refs.get(f"{index}:{panel.get('panelRefName')}")
            if panel.get("panelRefName") != f"panel_{index}" or ref is None:
                self.fail(at, f"panelRefName {panel.get('panelRefName')} has no reference {index}:panel_{index}")
            elif ref.get("type") != panel.get("type"):
                self.fail(at, f"panel type {panel.get('type')} but reference type {ref.get('type')}")
            grid = panel.get("gridData", {})
            if grid.get("i") != index:
                self.fail(at, "gridData.i differs from panelIndex")
            if not (grid.get("x", -1) >= 0 and grid.get("w", 0) > 0 and grid["x"] + grid["w"] <= GRID_COLUMNS and grid.get("h", 0) > 0):
                self.fail(at, f"gridData outside the {GRID_COLUMNS} columns: {grid}")
            else:
                boxes.append((at, grid))
        for i, (at, a) in enumerate(boxes):
            for _, b in boxes[i + 1:]:
                if a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]:
                    self.fail(at, f"overlaps panel {b.get('i')}")
        self.check_controls(where, attributes.get("controlGroupInput"), refs)

    def check_controls(self, where, group, refs):
        if not group:
            self.fail(where, "no controls")
            return
        self.json_string(f"{where} ignoreParentSettingsJSON", group.get("ignoreParentSettingsJSON"))
        controls = self.json_string(f"{where} controlGroupInput.panelsJSON", group.get("panelsJSON")) or {}
        fields = set()
        for control_id, control in controls.items():
            explicit = control.get("explicitInput", {})
            fields.add(explicit.get("fieldName"))
            if explicit.get("id") != control_id:
                self.fail(where, f"control {control_id} has explicitInput.id {explicit.get('id')}")
            if f"controlGroup_{control_id}:optionsListDataView" not in refs:
                self.fail(where, f"control {control_id} has no data view reference")
        for field in ("fields.target_namespace.keyword", "fields.target_type.keyword", "fields.target_name.keyword"):
            if field not in fields:
                self.fail(where, f"no control on {field}")

    def run(self):
        count = self.load()
        self.check_references()
        for (kind, oid), obj in self.objects.items():
            self.check_object(kind, oid, obj)
        if not self.problems:
            print(f"{self.path}: {count} saved objects checked")
        return self.problems


def accessors(visualization):
    """Every column id a Lens visualization state points at."""
    found = []
    for key in ("metricAccessor", "xAccessor", "splitAccessor"):
        if isinstance(visualization.get(key), str):
            found.append(visualization[key])
    for key in ("accessors", "primaryGroups", "metrics"):
        found.extend(visualization.get(key, []))
    found.extend(column.get("columnId") for column in visualization.get("columns", []))
    for layer in visualization.get("layers", []):
        found.extend(accessors(layer))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kibana-version", default="8.15")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    target = version(args.kibana_version)
    problems = [problem for path in args.files for problem in Checker(path, target).run()]
    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(f"{len(problems)} problem(s)")
    print("Kibana saved objects valid")


if __name__ == "__main__":
    main()
