#!/usr/bin/env bash
# Installs what tests/dashboards.rs needs to validate the generated dashboards offline:
#   promtool (Debian `prometheus`)            PromQL of the Grafana/Prometheus dashboard
#   node + npm, `npm ci` in tests/dashboards  @grafana/schema, ts-json-schema-generator, ajv,
#                                             @grafana/lezer-logql (Grafana schemas, LogQL)
#   datadog-api-client, kibana-ql (PyPI)      Datadog models, KQL parser
# Sourced by .ci/run (or run with bash) as root on Debian. Idempotent: it only installs what is
# missing, so a second run takes a second. Nothing here runs at test time.

_dashboards_install() {
  local root validators stamp lock_sum
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)" || return 1
  validators="$root/tests/dashboards"
  local apt_updated=""
  _dashboards_apt() {
    if [ -z "$apt_updated" ]; then
      apt-get update -qq || return 1
      apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null || return 1
  }

  if ! command -v promtool >/dev/null 2>&1; then
    echo "dashboards: installing prometheus (promtool)"
    _dashboards_apt prometheus || return 1
  fi
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "dashboards: installing nodejs and npm"
    _dashboards_apt nodejs npm || return 1
  fi

  # npm ci again only when package-lock.json changed since the last install.
  stamp="$validators/node_modules/.mirrord-usage-lock.sha256"
  lock_sum="$(sha256sum "$validators/package-lock.json" | cut -d' ' -f1)" || return 1
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sum" ]; then
    echo "dashboards: npm ci in tests/dashboards"
    (cd "$validators" && npm ci --no-audit --no-fund --loglevel=error) || return 1
    echo "$lock_sum" >"$stamp"
  fi

  if ! command -v python3 >/dev/null 2>&1; then
    echo "dashboards: installing python3"
    _dashboards_apt python3 python3-pip || return 1
  fi
  if ! python3 - <<'PY' 2>/dev/null
from importlib.metadata import version
assert version("datadog-api-client") == "2.62.0"
assert version("kibana-ql") == "0.2"
PY
  then
    echo "dashboards: pip install datadog-api-client kibana-ql"
    local packages=(datadog-api-client==2.62.0 kibana-ql==0.2)
    if ! python3 -m pip --version >/dev/null 2>&1; then
      _dashboards_apt python3-pip || return 1
    fi
    python3 -m pip install -q "${packages[@]}" \
      || python3 -m pip install -q --break-system-packages "${packages[@]}" \
      || return 1
  fi
}

if ! _dashboards_install; then
  echo "dashboards: installing the dashboard validators failed" >&2
  return 1 2>/dev/null || exit 1
fi
unset -f _dashboards_install _dashboards_apt
