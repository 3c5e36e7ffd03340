#!/usr/bin/env bash
# Local base images for step containers (no registry is reachable): scanflow/debian:bookworm,
# scanflow/node:20 and scanflow/python:3.11. Skips images that already exist.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/build-base-images.sh
