#!/usr/bin/env bash
# The quick start's first command: set up everything on a fresh machine, then run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
node bin/scanflow.js run examples/hello/workflow.ts
