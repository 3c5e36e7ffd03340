#!/usr/bin/env bash
# Installs and starts what Scanflow's tests and demo need on a fresh Debian machine:
# the Docker engine (Debian's docker.io), Chromium for UI tests, debootstrap for local base images,
# docker-compose, and Debian's docker-registry (a local registry for the deploy tests).
# Idempotent: safe to run again; does nothing that is already done.
set -euo pipefail

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
# A local image registry for the tests of `--registry` (not started here: the tests start their own).
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
dpkg -s python3-venv >/dev/null 2>&1 || true
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]} from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Start dockerd in the background unless an engine already answers.
if ! docker info >/dev/null 2>&1; then
  echo "setup: starting dockerd"
  mkdir -p /var/log
  nohup dockerd >/var/log/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { echo "setup: dockerd did not start; see /var/log/dockerd.log" >&2; tail -20 /var/log/dockerd.log >&2; exit 1; }
fi
echo "setup: docker engine $(docker version --format '{{.Server.Version}}') is up"

# `scanflow deploy --to swarm` and its tests need a swarm: make this engine a one-node swarm,
# advertised on loopback only.
if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != "active" ]; then
  docker swarm init --advertise-addr 127.0.0.1 >/dev/null
  echo "setup: the docker engine is now a one-node swarm (docker swarm leave --force undoes it)"
fi
