#!/usr/bin/env bash
# Bootstraps a fresh machine: system headers that mysqlclient builds against,
# a virtualenv with the exact pinned packages, and a migrated Airflow home.
# Idempotent: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3.11}
UV_VERSION=0.13.8

need_apt=()
# `bootstrap.sh test` also brings what only the tests use (docker-compose validates the compose file,
# headless chromium renders the migrations dashboard).
if [ "${1:-}" = test ]; then
  command -v docker-compose >/dev/null 2>&1 || need_apt+=(docker-compose)
  [ -x /usr/bin/chromium ] || need_apt+=(chromium)
  command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)   # the distributed suite's broker
fi
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
pkg-config --exists libmariadb 2>/dev/null || pkg-config --exists mysqlclient 2>/dev/null || need_apt+=(libmariadb-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "bootstrap: please install ${need_apt[*]} (mysqlclient builds against them; tests use docker-compose)" >&2; exit 1
  fi
  echo "bootstrap: installing ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
  command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
  "$PYTHON" -m venv "$VENV"
fi
if ! "$VENV/bin/uv" --version 2>/dev/null | grep -q "$UV_VERSION"; then
  "$VENV/bin/pip" install -q "uv==$UV_VERSION"
fi
stamp="$VENV/.lock-installed"
if [ ! -f "$stamp" ] || ! cmp -s requirements.lock "$stamp"; then
  "$VENV/bin/uv" pip sync -q --python "$VENV/bin/python" requirements.lock
  cp requirements.lock "$stamp"
fi
