#!/usr/bin/env bash
# The tracker's tests and benchmark need the full `mlflow` (for `mlflow server`, the anchor and the
# reference server our TS client is checked against) and `schemathesis` (the fuzz test).
# Idempotent: pip skips what is already installed at a matching version.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -x .venv/bin/python ] || python3 -m venv .venv
if ! .venv/bin/python -c 'import mlflow.server, schemathesis, sys; sys.exit(mlflow.__version__ != "3.17.2")' 2>/dev/null; then
  echo "setup: installing mlflow (server) and schemathesis into .venv"
  # The versions the tracker's tests were written against (mlflow 3 changed register_model).
  .venv/bin/pip install -q --disable-pip-version-check 'mlflow==3.17.2' 'schemathesis==4.32.5'
fi
echo "setup: tracker python tools ready (mlflow $(.venv/bin/python -c 'import mlflow; print(mlflow.__version__)'))"
