#!/usr/bin/env bash
# Tools for tests/ops.rs: yamllint and kubernetes-validate (the Kubernetes JSON schemas ship in
# the package, so manifests are checked offline; `kubectl apply --dry-run=client` needs a
# cluster), pinned in tests/ops/requirements.txt and installed into tests/ops/.venv.
# Idempotent: redone only when the pins change. Bare Debian, as root.
set -euo pipefail
cd "$(dirname "$0")/../../tests/ops"

need_apt=()
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
python3 -c "import venv, ensurepip" >/dev/null 2>&1 || need_apt+=(python3-venv)
if [ "${#need_apt[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

want="$(sha256sum requirements.txt | cut -c1-16)"
if [ "$(cat .venv/.stamp 2>/dev/null || true)" != "$want" ]; then
  rm -rf .venv
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
  echo "$want" > .venv/.stamp
fi
echo "ops: $(.venv/bin/python -m yamllint --version), kubernetes-validate $(.venv/bin/python -m kubernetes_validate --version)"
