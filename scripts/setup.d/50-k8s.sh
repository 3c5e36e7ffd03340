#!/usr/bin/env bash
# The deploy tests check manifests against a real Kubernetes API server (and a simulated cluster:
# controller manager, scheduler and kwok's fake nodes). No Debian package ships kube-apiserver, so
# scripts/k8s/build.sh builds it and the rest from the Go module proxy and installs etcd from
# Debian. About 10 minutes on a fresh machine; cached under /var/cache/scanflow after that.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/k8s/build.sh
