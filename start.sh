#!/usr/bin/env bash
# Install WindFlow into ./.venv (first run only) and start it on its embedded defaults:
# SQLite and data under ~/.local/share/windflow, the local Docker socket if present,
# no LLM required. The first start creates an organization and prints its owner's login.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv >/dev/null 2>&1 || true
stamp=.venv/.windflow-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "Installing WindFlow into .venv (first run takes a minute)..."
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -e .
  touch "$stamp"
fi
.venv/bin/windflow init --if-empty
exec .venv/bin/windflow serve "$@"
