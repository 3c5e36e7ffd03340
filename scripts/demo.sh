#!/usr/bin/env bash
# The quick start's first command: set up everything on a fresh machine, then run the main job:
# the MNIST demo (workflow of containers, drift check, labeling and retraining; see README).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
node bin/scanflow.js demo mnist
