#!/usr/bin/env bash
# Builds Scanflow's local base images without any image registry (see DESIGN.md, section 5):
#   scanflow/debian:bookworm  a minimal Debian made with debootstrap, imported into Docker
#   scanflow/node:20          that base plus a copy of this machine's `node` binary
#   scanflow/python:3.11      that base plus Debian's python3 and pip (for steps with `base` and
#                             `requirements`; the wheels are downloaded on this machine, see README)
# Idempotent: an image that already exists is kept. Pass --force to rebuild them all.
# Needs root (debootstrap), the `docker` CLI and a running engine; the Debian mirror is
# $DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail

DEBIAN_IMAGE=${SCANFLOW_DEBIAN_IMAGE:-scanflow/debian:bookworm}
NODE_IMAGE=${SCANFLOW_NODE_IMAGE:-scanflow/node:20}
PYTHON_IMAGE=${SCANFLOW_PYTHON_IMAGE:-scanflow/python:3.11}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
force=false
[ "${1:-}" = "--force" ] && force=true

exists() { docker image inspect "$1" >/dev/null 2>&1; }

if $force || ! exists "$DEBIAN_IMAGE"; then
  command -v debootstrap >/dev/null || { echo "base images: debootstrap is missing; install it with: apt-get install -y debootstrap" >&2; exit 1; }
  root=$(mktemp -d /tmp/scanflow-debootstrap.XXXXXX)
  trap 'rm -rf "$root"' EXIT
  echo "base images: debootstrap bookworm (about a minute)"
  debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$root.log" 2>&1 || {
    echo "base images: debootstrap failed; last lines of $root.log:" >&2; tail -20 "$root.log" >&2; exit 1; }
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' - "$DEBIAN_IMAGE" >/dev/null
  rm -rf "$root" "$root.log"
  trap - EXIT
  echo "base images: built $DEBIAN_IMAGE"
fi

if $force || ! exists "$NODE_IMAGE"; then
  context=$(mktemp -d /tmp/scanflow-node-image.XXXXXX)
  trap 'rm -rf "$context"' EXIT
  cp "$(command -v node)" "$context/node"
  cat >"$context/Dockerfile" <<DOCKERFILE
FROM $DEBIAN_IMAGE
COPY node /usr/local/bin/node
RUN node --version
DOCKERFILE
  DOCKER_BUILDKIT=0 docker build -q -t "$NODE_IMAGE" "$context" >/dev/null
  rm -rf "$context"
  trap - EXIT
  echo "base images: built $NODE_IMAGE ($(docker run --rm "$NODE_IMAGE" node --version))"
fi

if $force || ! exists "$PYTHON_IMAGE"; then
  context=$(mktemp -d /tmp/scanflow-python-image.XXXXXX)
  trap 'rm -rf "$context"' EXIT
  # Debian's mirror is plain HTTP, so apt works inside the build without this machine's CAs.
  cat >"$context/Dockerfile" <<DOCKERFILE
FROM $DEBIAN_IMAGE
RUN echo "deb $MIRROR bookworm main" >/etc/apt/sources.list \\
 && apt-get update -q \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3 python3-pip \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
RUN python3 -m pip --version
DOCKERFILE
  echo "base images: building $PYTHON_IMAGE (apt-get, about a minute)"
  DOCKER_BUILDKIT=0 docker build -q -t "$PYTHON_IMAGE" "$context" >/dev/null
  rm -rf "$context"
  trap - EXIT
  echo "base images: built $PYTHON_IMAGE ($(docker run --rm "$PYTHON_IMAGE" python3 --version))"
fi
