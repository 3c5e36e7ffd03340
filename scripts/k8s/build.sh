#!/usr/bin/env bash
# Builds what the deploy tests need to talk to a real Kubernetes API server (see DESIGN.md §5):
#   - kube-apiserver, kube-controller-manager, kube-scheduler from k8s.io/kubernetes (no Debian
#     package ships them; they build from the Go module proxy),
#   - kwok (fakes the kubelets of a simulated cluster), and its stage YAMLs,
#   - Argo Workflows' CRDs (YAML only: that module's code has known security flaws),
#   - etcd, from Debian's etcd-server package.
# Everything is cached under $SCANFLOW_CACHE (default /var/cache/scanflow): the first run on a fresh
# machine takes about 10 minutes on 2 cores, later runs only check that the files are there.
# Usage: scripts/k8s/build.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"
start=$(date +%s)
say() { echo "k8s: $*"; }
# Go's own output (a line per downloaded module) goes to a log, shown only when a step fails.
log=$K8S_CACHE/build.log
quiet() {
  if ! "$@" >>"$log" 2>&1; then
    say "failed: $*" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
}

command -v go >/dev/null 2>&1 || { say "go is not installed (expected /usr/local/go/bin/go)" >&2; exit 1; }
mkdir -p "$K8S_CACHE" "$GOMODCACHE" "$GOCACHE"

# One build at a time: setup and a developer (or two test runs) may start this together.
exec 9>"$K8S_CACHE/.build.lock"
flock 9
: >"$log"

# etcd: Debian's etcd-server alone. Debian's kubernetes-client would replace the preinstalled
# kubectl with an older one, so no other package comes along.
if ! command -v etcd >/dev/null 2>&1; then
  say "installing etcd-server from Debian"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq --no-install-recommends etcd-server >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends etcd-server >/dev/null
  fi
fi
command -v kubectl >/dev/null 2>&1 || say "warning: kubectl is missing; cluster.sh needs it"

# Where `go mod download` put a module (downloading it once; later calls read the local cache).
module_dir() {
  go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p'
}

# Copies the *.yaml manifests of a module's folder (not its kustomization.yaml, which is no
# Kubernetes object) into a cache folder, atomically: a half copy never counts.
copy_yaml() {
  local from=$1 to=$2 tmp f n=0
  tmp="$to.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  for f in "$from"/*.yaml; do
    [ -f "$f" ] && [ "$(basename "$f")" != kustomization.yaml ] || continue
    cp "$f" "$tmp"/
    n=$((n + 1))
  done
  [ "$n" -gt 0 ] || { say "no YAML files in $from" >&2; exit 1; }
  chmod -R u+w "$tmp"
  rm -rf "$to"
  mkdir -p "$(dirname "$to")"
  mv "$tmp" "$to"
}

# Argo Workflows' CRDs with their full OpenAPI schemas, so the API server checks Workflows strictly.
if [ ! -f "$ARGO_CRDS/.done" ]; then
  say "fetching Argo Workflows v$ARGO_VERSION CRDs"
  dir=$(cd "$K8S_CACHE" && module_dir "github.com/argoproj/argo-workflows/v4@v$ARGO_VERSION")
  copy_yaml "$dir/manifests/base/crds/full" "$ARGO_CRDS"
  touch "$ARGO_CRDS/.done"
fi

# kwok's stages: how fake nodes become Ready and keep their heartbeat, and how pods move through
# their phases (no container runs).
if [ ! -f "$KWOK_STAGES/.done" ]; then
  say "fetching kwok v$KWOK_VERSION stages"
  dir=$(cd "$K8S_CACHE" && module_dir "sigs.k8s.io/kwok@v$KWOK_VERSION")
  tmp="$KWOK_STAGES.tmp.$$"
  rm -rf "$tmp"
  for stage in node/fast node/heartbeat pod/fast; do
    copy_yaml "$dir/kustomize/stage/$stage" "$tmp/${stage/\//-}"
  done
  rm -rf "$KWOK_STAGES"
  mv "$tmp" "$KWOK_STAGES"
  touch "$KWOK_STAGES/.done"
fi

mkdir -p "$K8S_BIN"
if [ ! -x "$K8S_BIN/kwok" ]; then
  say "building kwok v$KWOK_VERSION"
  t=$(date +%s)
  # `go install pkg@version` ignores any go.mod, so a plain GOFLAGS is used; GOBIN is a temporary
  # folder so that a half-built binary never lands in the cache.
  tmp=$(mktemp -d "$K8S_BIN/.kwok.XXXXXX")
  GOBIN="$tmp" GOFLAGS=-buildvcs=false quiet go install -trimpath -ldflags='-s -w' \
    "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION"
  mv "$tmp/kwok" "$K8S_BIN/kwok"
  rm -rf "$tmp"
  say "kwok built in $(($(date +%s) - t)) s"
fi

components=(kube-apiserver kube-controller-manager kube-scheduler)
missing=()
for c in "${components[@]}"; do
  [ -x "$K8S_BIN/$c" ] || missing+=("$c")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "building ${missing[*]} v$K8S_VERSION (about 10 minutes the first time)"
  t=$(date +%s)
  # An empty module that requires k8s.io/kubernetes. Its go.mod replaces each staging module
  # (k8s.io/api => ./staging/...) with a local path, which only works inside its own repository,
  # so here each one is replaced by its published v0.x release of the same path instead.
  src="$K8S_CACHE/v$K8S_VERSION/src"
  mkdir -p "$src"
  kmod=$(cd "$K8S_CACHE" && go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" |
    sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
  {
    echo "module scanflow.local/k8s-build"
    echo
    # The same language version and GODEBUG defaults as Kubernetes' own builds.
    grep -E '^(go|godebug) ' "$kmod"
    echo
    echo "require k8s.io/kubernetes v$K8S_VERSION"
    echo
    echo "replace ("
    sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\) => \./staging/.*$#\t\1 => \1 v'"$K8S_STAGING_VERSION"'#p' "$kmod"
    echo ")"
  } >"$src/go.mod"
  n=$(grep -c " => .* v$K8S_STAGING_VERSION" "$src/go.mod")
  [ "$n" -gt 20 ] || { say "found only $n staging modules in $kmod" >&2; exit 1; }
  # Imports the three commands' packages, so that `go mod tidy` pins every module they need.
  cat >"$src/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	_ "k8s.io/kubernetes/cmd/kube-scheduler/app"
)
GO
  rm -f "$src/go.sum"
  say "resolving modules"
  (cd "$src" && GOFLAGS=-mod=mod quiet go mod tidy)
  # The version that `kubectl version` and the API server's /version report (the same -X flags as
  # Kubernetes' hack/lib/version.sh); -s -w drop the symbol tables (about a third of the size).
  minor=$(echo "$K8S_VERSION" | cut -d. -f2)
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=v$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  tmp=$(mktemp -d "$K8S_BIN/.kube.XXXXXX")
  pkgs=()
  for c in "${missing[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  say "compiling"
  # One `go build` for all three: the packages they share compile once.
  (cd "$src" && GOFLAGS="-mod=mod -buildvcs=false" quiet go build -trimpath -ldflags="$ldflags" -o "$tmp/" "${pkgs[@]}")
  for c in "${missing[@]}"; do mv "$tmp/$c" "$K8S_BIN/$c"; done
  rm -rf "$tmp"
  say "kubernetes components built in $(($(date +%s) - t)) s"
fi

say "ready in $(($(date +%s) - start)) s: $("$K8S_BIN/kube-apiserver" --version), kwok v$KWOK_VERSION, etcd $(etcd --version 2>/dev/null | sed -n 's/^etcd Version: //p'), in $K8S_BIN"
