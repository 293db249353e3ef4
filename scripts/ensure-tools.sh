#!/usr/bin/env bash
# Install the system tools the test suite needs when they are missing: promtool and prometheus (alert rule
# tests and the scrape test), chromium (report screenshot test) and a Java runtime (pyspark).
# Uses Debian's packages; needs root or sudo. Fails loudly: the tests must never skip for a missing tool.
# With arguments, only the named tools are ensured (the monitor workflow: `ensure-tools.sh promtool`).
# `--best-effort` (make demo): where a tool cannot be had (no apt-get, neither root nor sudo, apt-get
# failing, e.g. without network) say why in one line and exit 0; the caller skips what needs the tool.
set -euo pipefail

best_effort=0
if [ "${1:-}" = "--best-effort" ]; then best_effort=1; shift; fi

declare -A package=(
  [promtool]=prometheus [chromium]=chromium [java]=default-jre-headless [wrk]=wrk
  [redis-server]=redis-server [jq]=jq [curl]=curl
)
tools=("$@")
if [ ${#tools[@]} -eq 0 ]; then tools=(promtool chromium java wrk redis-server jq curl); fi

missing=()
for tool in "${tools[@]}"; do
  if [ -z "${package[$tool]:-}" ]; then
    echo "error: unknown tool $tool (known: ${!package[*]})" >&2
    exit 2
  fi
  command -v "$tool" >/dev/null 2>&1 || missing+=("${package[$tool]}")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

cannot() {
  if [ "$best_effort" -eq 1 ]; then
    echo "ensure-tools: cannot install ${missing[*]}: $1; the steps that need it are skipped"
    exit 0
  fi
  echo "error: cannot install ${missing[*]}: $1" >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || cannot "no apt-get (not Debian or Ubuntu); install them by hand"
echo "installing missing system packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || cannot "need root or sudo"
  if [ "$best_effort" -eq 1 ] && ! sudo -n true >/dev/null 2>&1; then cannot "need root or password-less sudo"; fi
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || cannot "apt-get update failed (no network?)"
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || cannot "apt-get install failed"
# The Debian prometheus package starts a server on :9090 when installed; tests start their own.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
pkill -x prometheus >/dev/null 2>&1 || true
