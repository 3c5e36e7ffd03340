#!/usr/bin/env bash
# Creates .venv with JupyterLab 4 and the Python tools the tests use (mlflow, nbclient, build tools).
# Idempotent: pip skips what is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r scripts/requirements-dev.txt
echo "setup: python env ready ($(.venv/bin/jupyter lab --version 2>/dev/null | head -1) jupyterlab)"
