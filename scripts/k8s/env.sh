# Shared by scripts/k8s/build.sh and scripts/k8s/cluster.sh (sourced, not run): the pinned versions
# and where their builds are cached, so that both scripts (and the tests) agree on one place.
# SCANFLOW_CACHE moves the whole cache (default /var/cache/scanflow, kept between CI runs on a
# machine, so only the first run on a fresh machine pays for the build).
K8S_VERSION=1.37.2
# The staging modules (k8s.io/api, k8s.io/apiserver, ...) are published as v0.<minor>.<patch>.
K8S_STAGING_VERSION=0.37.2
KWOK_VERSION=0.8.0
ARGO_VERSION=4.0.5

SCANFLOW_CACHE=${SCANFLOW_CACHE:-/var/cache/scanflow}
K8S_CACHE=$SCANFLOW_CACHE/k8s
K8S_BIN=$K8S_CACHE/v$K8S_VERSION/bin
ARGO_CRDS=$K8S_CACHE/argo-crds/v$ARGO_VERSION
KWOK_STAGES=$K8S_CACHE/kwok-stages/v$KWOK_VERSION

# Go's caches live beside the binaries, not in $HOME, so CI and developers share one copy.
export GOMODCACHE=$SCANFLOW_CACHE/go/mod
export GOCACHE=$SCANFLOW_CACHE/go/build
export GOPATH=$SCANFLOW_CACHE/go/path
# Build with the installed Go: never download another toolchain (only module proxies are reachable).
export GOTOOLCHAIN=local
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  PATH=/usr/local/go/bin:$PATH
fi
