#!/usr/bin/env bash
# The notebook side: installs the tslab kernel (from npm, into .venv/tslab), registers it in .venv's
# Jupyter, and makes `scanflow` importable from the example notebooks (tslab resolves modules from
# the notebook's folder) through a node_modules/scanflow link to this repository.
# Idempotent: each part skips what is already done.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
version=1.0.22
prefix="$root/.venv/tslab"
tslab="$prefix/node_modules/.bin/tslab"

if [ "$("$tslab" --version 2>/dev/null || true)" != "tslab $version" ]; then
  echo "setup: installing tslab $version into .venv/tslab"
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "tslab@$version"
fi

spec="$root/.venv/share/jupyter/kernels/tslab/kernel.json"
if [ ! -f "$spec" ] || ! grep -q "$tslab" "$spec"; then
  echo "setup: registering the tslab kernel in .venv"
  "$tslab" install --python="$root/.venv/bin/python" --binary="$tslab" --sys-prefix >/dev/null
fi

link="$root/examples/notebooks/node_modules/scanflow"
if [ "$(readlink "$link" 2>/dev/null || true)" != "../../.." ]; then
  mkdir -p "$(dirname "$link")"
  rm -rf "$link"
  ln -s ../../.. "$link"
fi
echo "setup: tslab kernel ready ($("$tslab" --version))"
