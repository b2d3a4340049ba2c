#!/usr/bin/env bash
# Real clients for the receiver tests (tests/receivers*.rs), installed into tests/clients/:
# - a Python venv with the OpenTelemetry SDK and its OTLP exporters (gRPC, HTTP/protobuf) and
#   fluent-logger, pinned in tests/clients/requirements.txt;
# - @fluent-org/logger for Node, pinned in tests/clients/package-lock.json;
# - curl.
# Idempotent: each part is redone only when its pin file changed. Bare Debian, as root.
set -euo pipefail
cd "$(dirname "$0")/../../tests/clients"

need_apt=()
command -v curl >/dev/null 2>&1 || need_apt+=(curl ca-certificates)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
python3 -c "import venv, ensurepip" >/dev/null 2>&1 || need_apt+=(python3-venv)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
if [ "${#need_apt[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

stamp() { sha256sum "$@" | sha256sum | cut -c1-16; }

want="$(stamp requirements.txt)"
if [ "$(cat .venv/.stamp 2>/dev/null || true)" != "$want" ]; then
  rm -rf .venv
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
  echo "$want" > .venv/.stamp
fi
.venv/bin/python -c "import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.grpc, opentelemetry.exporter.otlp.proto.http, fluent.sender"

want="$(stamp package.json package-lock.json)"
if [ "$(cat node_modules/.stamp 2>/dev/null || true)" != "$want" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > node_modules/.stamp
fi
node -e 'import("@fluent-org/logger").then(() => console.log("receiver clients ready: node", process.version))'
