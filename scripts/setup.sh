#!/usr/bin/env bash
# Sets up everything Scanflow's demo and tests need on a fresh machine, then builds the project.
# Idempotent: each part skips what is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-system.sh
bash scripts/setup-python.sh
export PATH="$PWD/.venv/bin:$PATH"

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi

echo "setup: building the toolkit and the JupyterLab extension"
npm run --silent build:lib
npm run --silent build:labextension >/dev/null
.venv/bin/pip install -q --disable-pip-version-check --no-build-isolation --no-deps --force-reinstall .

for script in scripts/setup.d/*.sh; do
  [ -e "$script" ] && bash "$script"
done
echo "setup: done"
