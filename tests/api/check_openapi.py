"""Checks live responses of a running mirrord-usage against schemas/openapi.yaml.

Usage: check_openapi.py SPEC BASE_URL KEY [ADMIN_KEY]
For every GET route with a JSON response (and the SQL and ingest POSTs) it calls the server
with the key, picks the response schema for the status and content type from the spec, turns
OpenAPI 3.0 `nullable` into JSON Schema, resolves `$ref`s, and validates. Exits 1 with the
first problems on a mismatch.
"""
import json
import sys
import urllib.request

import jsonschema
import yaml


def to_json_schema(node):
    """OpenAPI 3.0 schema objects → JSON Schema (nullable → a null type)."""
    if isinstance(node, list):
        return [to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: to_json_schema(v) for k, v in node.items() if k not in ("nullable", "format")}
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        elif "$ref" in out:
            out = {"anyOf": [{"$ref": out["$ref"]}, {"type": "null"}]}
    return out


def call(base, key, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("x-license-key", key)
    if data is not None:
        req.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.headers.get("content-type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("content-type", ""), e.read()


def main():
    spec_path, base, viewer_key = sys.argv[1:4]
    admin_key = sys.argv[4] if len(sys.argv) > 4 else viewer_key
    spec = yaml.safe_load(open(spec_path))
    root = to_json_schema(spec)
    checks = [
        ("POST", "/api/v1/admin/retention", "/api/v1/admin/retention?dry_run=true", None),
        ("GET", "/api/v1/reports/usage", "/api/v1/reports/usage", None),
        ("GET", "/api/v1/reports/usage", "/api/v1/reports/usage?from=2000-01-01&to=2100-01-01&primary_key=machine_id", None),
        ("GET", "/api/v1/reports/usage", "/api/v1/reports/usage?from=not-a-date", None),
        ("GET", "/api/v1/reports/usage/trends", "/api/v1/reports/usage/trends?days=90", None),
        ("GET", "/api/v1/reports/usage/trends", "/api/v1/reports/usage/trends?days=0", None),
        ("GET", "/api/v1/reports/jira", "/api/v1/reports/jira", None),
        ("GET", "/api/v1/reports/jira/{key}", "/api/v1/reports/jira/NOPE-1", None),
        ("GET", "/api/v1/jira/status", "/api/v1/jira/status", None),
        ("GET", "/api/v1/sessions", "/api/v1/sessions?limit=50", None),
        ("GET", "/api/v1/usage/sessions", "/api/v1/usage/sessions?limit=50", None),
        ("GET", "/api/v1/usage/sessions", "/api/v1/usage/sessions?cursor=", None),
        ("GET", "/api/v1/sessions", "/api/v1/sessions?kind=ci&limit=5", None),
        ("GET", "/api/v1/reports/usage", "/api/v1/reports/usage?group=payments&primary_key=username", None),
        ("GET", "/api/v1/reports/usage", "/api/v1/reports/usage?group=no-such-group", None),
        ("GET", "/api/v1/reports/usage/trends", "/api/v1/reports/usage/trends?days=90&interval=week&group=product", None),
        ("GET", "/api/v1/reports/usage/trends", "/api/v1/reports/usage/trends?days=90&interval=fortnight", None),
        ("GET", "/api/v1/reports/adoption", "/api/v1/reports/adoption", None),
        ("GET", "/api/v1/reports/adoption", "/api/v1/reports/adoption?group=search&interval=month", None),
        ("GET", "/api/v1/reports/adoption", "/api/v1/reports/adoption?interval=year", None),
        ("GET", "/api/v1/sessions", "/api/v1/sessions?group=devex&limit=20", None),
        ("GET", "/api/v1/usage/sessions", "/api/v1/usage/sessions?group=devex&limit=20", None),
        ("POST", "/api/v1/sql", "/api/v1/sql", {"query": "select kind, count(*) from events group by 1"}),
        ("POST", "/api/v1/sql", "/api/v1/sql", {"query": "drop table events"}),
    ]
    jira = json.loads(call(base, viewer_key, "GET", "/api/v1/reports/jira")[2])["issues"]
    if jira:
        checks.append(("GET", "/api/v1/reports/jira/{key}", "/api/v1/reports/jira/" + jira[0]["key"], None))
    problems = []
    for method, template, path, body in checks:
        op = root["paths"][template][method.lower()]
        admin_only = all("adminKey" in s or "ingestKey" in s for s in op.get("security", [{"licenseKey": []}]))
        status, ctype, raw = call(base, admin_key if admin_only else viewer_key, method, path, body)
        op = root["paths"][template][method.lower()]
        resp = op["responses"].get(str(status))
        if resp is None:
            problems.append(f"{method} {path}: status {status} is not in the spec")
            continue
        if "$ref" in resp:
            resp = root["components"]["responses"][resp["$ref"].rsplit("/", 1)[1]]
        media = ctype.split(";")[0].strip()
        content = resp.get("content", {})
        if media not in content:
            problems.append(f"{method} {path}: content type {media} not in the spec for {status}")
            continue
        schema = dict(content[media].get("schema", {}))
        schema["components"] = root["components"]
        try:
            jsonschema.validate(json.loads(raw), schema)
        except jsonschema.ValidationError as e:
            problems.append(f"{method} {path} ({status}): {e.message} at {list(e.absolute_path)}")
        print(f"ok {method} {path} {status}")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
