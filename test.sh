#!/usr/bin/env bash
# Install everything the tests need (Python packages, a Docker engine, Kubernetes binaries
# built from Debian's source, Vagrant) and run all checks and tests.
# Idempotent: a second run reuses what the first one installed and built.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv >/dev/null 2>&1 || true
stamp=.venv/.windflow-dev-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "== installing Python packages"
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -e '.[postgres,redis,dev]'
  touch "$stamp"
fi
echo "== preparing real engines (Docker, Kubernetes, Vagrant)"
bash tests/setup-engines.sh
echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy windflow api assistant guardrails tools knowledge cli bench channels
echo "== pytest"
exec .venv/bin/python -m pytest -q "$@"
