#!/usr/bin/env bash
# The tracker's tests and benchmark need the full `mlflow` (for `mlflow server`, the anchor and the
# reference server our TS client is checked against) and `schemathesis` (the fuzz test).
# Idempotent: pip skips what is already installed at a matching version.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -x .venv/bin/python ] || python3 -m venv .venv
if ! .venv/bin/python -c 'import mlflow.server, schemathesis' 2>/dev/null; then
  echo "setup: installing mlflow (server) and schemathesis into .venv"
  .venv/bin/pip install -q --disable-pip-version-check 'mlflow>=3.1,<4' 'schemathesis>=4,<5'
fi
echo "setup: tracker python tools ready (mlflow $(.venv/bin/python -c 'import mlflow; print(mlflow.__version__)'))"
