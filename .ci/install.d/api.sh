#!/usr/bin/env bash
# Tools for the API tests: promtool (Debian package `prometheus`) checks /metrics.
set -euo pipefail
if ! command -v promtool >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
promtool --version | head -1
# The OpenAPI response check (tests/api/check_openapi.py).
python3 -c "import yaml, jsonschema" 2>/dev/null || pip install --quiet "PyYAML==6.0.2" "jsonschema==4.23.0"
