"""Validates generated Datadog dashboards offline with Datadog's own API client models.

    python3 validate_datadog.py DASHBOARD.json...

Each file is deserialized into `datadog_api_client.v1.model.dashboard.Dashboard` with type
checking. The client does not raise on everything: an unknown widget type or enum value only
marks the node (and its ancestors) `_unparsed`, and unknown keys are kept silently. So the
model tree is walked beside the raw JSON, and the check fails on any unparsed node and on any
key the node's model does not list in `attribute_map`. It also checks that every `$variable` a
query uses is a template variable and that every formula names a query of its request.
Exits 1 and prints every problem when anything fails.
"""

import json
import re
import sys

try:
    from datadog_api_client import Configuration
    from datadog_api_client.model_utils import (
        ModelComposed,
        ModelNormal,
        UnparsedObject,
        validate_and_convert_types,
    )
    from datadog_api_client.v1.model.dashboard import Dashboard
except ImportError as error:  # pragma: no cover - reported to the Rust test
    sys.exit(f"datadog-api-client is not installed ({error}): run .ci/install.d/dashboards.sh")


def walk(model, raw, path, problems):
    """Compares a deserialized model node with the raw JSON it came from."""
    if isinstance(model, UnparsedObject) or getattr(model, "_unparsed", False):
        problems.append(f"{path}: unparsed by the client ({type(model).__name__}): {json.dumps(raw)[:160]}")
    if isinstance(model, ModelComposed):
        walk(model.get_oneof_instance(), raw, path, problems)
    elif isinstance(model, ModelNormal) and not isinstance(model, UnparsedObject):
        walk_object(model, raw, path, problems)
    elif isinstance(model, list) and isinstance(raw, list):
        for index, (item, raw_item) in enumerate(zip(model, raw)):
            walk(item, raw_item, f"{path}[{index}]", problems)


def walk_object(model, raw, path, problems):
    if not isinstance(raw, dict):
        problems.append(f"{path}: expected an object for {type(model).__name__}")
        return
    by_json_key = {json_key: attr for attr, json_key in type(model).attribute_map.items()}
    for key, value in raw.items():
        attr = by_json_key.get(key)
        if attr is None:
            problems.append(f"{path}.{key}: unknown key for {type(model).__name__}")
            continue
        walk(model._data_store.get(attr), value, f"{path}.{key}", problems)


def strings(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)
    elif isinstance(node, str):
        yield node


def check_references(raw, path, problems):
    """Template variables used exist; formulas name queries of their request."""
    variables = {variable["name"] for variable in raw.get("template_variables", [])}
    for name in ("namespace", "target_type", "target"):
        if name not in variables:
            problems.append(f"{path}: missing template variable {name}")
    for text in strings(raw.get("widgets", [])):
        for name in re.findall(r"\$([A-Za-z_]\w*)", text):
            if name not in variables:
                problems.append(f"{path}: query uses undefined template variable ${name}")
    for index, widget in enumerate(raw.get("widgets", [])):
        for request in widget.get("definition", {}).get("requests", []):
            if not isinstance(request, dict):
                continue
            names = {query.get("name") for query in request.get("queries", [])}
            for formula in request.get("formulas", []):
                for token in re.findall(r"[A-Za-z_]\w*", formula.get("formula", "")):
                    if token not in names:
                        problems.append(f"{path}.widgets[{index}]: formula uses unknown query {token}")


def validate(path):
    problems = []
    try:
        with open(path, encoding="utf-8") as file:
            raw = json.load(file)
    except (OSError, json.JSONDecodeError) as error:
        return [f"{path}: cannot read JSON: {error}"]
    try:
        model = validate_and_convert_types(
            raw, (Dashboard,), ["dashboard"], True, True, configuration=Configuration()
        )
    except Exception as error:  # the client raises its own ApiTypeError / ApiValueError
        return [f"{path}: does not deserialize into Dashboard: {error}"]
    walk(model, raw, "dashboard", problems)
    check_references(raw, path, problems)
    if not problems:
        print(f"{path}: {len(raw.get('widgets', []))} widgets checked")
    return problems


def main(paths):
    if not paths:
        sys.exit("usage: python3 validate_datadog.py DASHBOARD.json...")
    problems = [problem for path in paths for problem in validate(path)]
    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(f"{len(problems)} problem(s)")
    print("Datadog dashboards valid")


if __name__ == "__main__":
    main(sys.argv[1:])
