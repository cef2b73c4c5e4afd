#!/usr/bin/env bash
# Installs what Kiln's tests need beyond Node.js, on a Debian machine: pnpm, Chromium (browser
# tests via playwright-core), clickhouse-server (the remote-store tests), golang-go
# (`go tool pprof` reads Kiln's pprof exports), prometheus-alertmanager (findings posted as
# alerts) and docker-compose (checks deploy/compose.yaml; Docker engines do not run here).
# Skips what is already there. Run as root or with sudo available.
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v pnpm >/dev/null 2>&1; then
  npm install -g pnpm@10 >/dev/null
fi

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ -x /usr/sbin/clickhouse-server ] || missing+=(clickhouse-server)
command -v go >/dev/null 2>&1 || missing+=(golang-go)
[ -x /usr/bin/prometheus-alertmanager ] || missing+=(prometheus-alertmanager)
# Compose's own schema check of deploy/compose.yaml (`config`, no engine needed).
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
if [ "${#missing[@]}" -gt 0 ]; then
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup-machine: pnpm $(pnpm --version), $(chromium --version 2>/dev/null || echo 'no chromium'), $(go version 2>/dev/null || echo 'no go')"
