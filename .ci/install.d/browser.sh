#!/usr/bin/env bash
# Installs what the dashboard needs to build and what tests/browser.rs needs to test it:
#   chromium (Debian)            the browser the tests drive, at /usr/bin/chromium
#   node + npm (>= 20)           esbuild bundles web/; playwright-core drives Chromium
#   npm ci in web/               TypeScript, esbuild, ECharts, the Inter font (build.rs bundles)
#   npm ci in tests/browser/     playwright-core (never a browser download), axe-core, esbuild
# Run as root on Debian by .ci/test (or by hand). Idempotent: it installs only what is missing
# and re-runs `npm ci` only when a lockfile changed, so a second run takes a second.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then
    apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if [ ! -x /usr/bin/chromium ]; then
  echo "browser: installing chromium"
  apt_install chromium fonts-liberation
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "browser: installing nodejs and npm"
  apt_install nodejs npm
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  echo "browser: Node.js $(node --version) is too old; playwright-core needs 20 or newer" >&2
  exit 1
fi

# `npm ci` wipes node_modules and reinstalls; skip it while the lockfile is the one installed.
npm_ci() {
  local dir="$1" stamp="$1/node_modules/.lock-sha256" sum
  sum="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
    return 0
  fi
  echo "browser: npm ci in ${dir#"$root"/}"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$sum" >"$stamp"
}
npm_ci "$root/web"
npm_ci "$root/tests/browser"

/usr/bin/chromium --version
echo "browser: node $(node --version), playwright-core $(node -p "require('$root/tests/browser/node_modules/playwright-core/package.json').version")"
