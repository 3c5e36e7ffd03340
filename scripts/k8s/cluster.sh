#!/usr/bin/env bash
# Starts (or stops) a throwaway Kubernetes API server for the deploy tests, from the binaries that
# scripts/k8s/build.sh caches (see DESIGN.md §5):
#   up [--simulated] [--dir DIR]   etcd + kube-apiserver with Argo Workflows' CRDs installed; with
#                                  --simulated also kube-controller-manager, kube-scheduler and
#                                  kwok with 2 fake Ready nodes (pods run through their phases, no
#                                  container runs). Prints the kubeconfig's path as its last line.
#   down [--dir DIR]               stops every process of DIR's cluster and removes DIR.
# DIR defaults to /tmp/scanflow-k8s. Every server listens on 127.0.0.1 only, on free ports; the
# processes run detached (the calling shell may exit), their logs are DIR/*.log, their pids DIR/*.pid.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"

usage() { echo "usage: $0 up [--simulated] [--dir DIR] | down [--dir DIR]" >&2; exit 2; }
[ $# -ge 1 ] || usage
action=$1
shift
dir=/tmp/scanflow-k8s
simulated=false
while [ $# -gt 0 ]; do
  case $1 in
    --simulated) simulated=true ;;
    --dir) [ $# -ge 2 ] || usage; dir=$2; shift ;;
    --dir=*) dir=${1#--dir=} ;;
    *) usage ;;
  esac
  shift
done
case $dir in /*) ;; *) dir="$PWD/$dir" ;; esac
# Progress goes to stderr: stdout's only line is the kubeconfig's path, for the callers to read.
say() { echo "k8s: $*" >&2; }
die() { say "$*"; exit 1; }

# Stops the processes whose pids are in DIR (newest first), TERM then KILL, and removes DIR. A pid
# is only signalled while it still runs the binary that was started, never a process that reused it.
down() {
  local pidfile pid name
  [ -d "$dir" ] || return 0
  for name in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
    pidfile="$dir/$name.pid"
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if [ -n "$pid" ] && ours "$pid" "$name"; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do ours "$pid" "$name" || break; sleep 0.1; done
      ! ours "$pid" "$name" || kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  done
  rm -rf "$dir"
}
ours() {
  [ -r "/proc/$1/cmdline" ] && tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | head -1 | grep -Eq "(^|/)$2\$"
}

if [ "$action" = down ]; then
  down
  exit 0
fi
[ "$action" = up ] || usage

start=$(date +%s)
for b in kube-apiserver kwok kube-controller-manager kube-scheduler; do
  [ -x "$K8S_BIN/$b" ] || die "$K8S_BIN/$b is missing: run scripts/k8s/build.sh first"
done
command -v etcd >/dev/null 2>&1 || die "etcd is missing: run scripts/k8s/build.sh first"
command -v kubectl >/dev/null 2>&1 || die "kubectl is missing"
command -v openssl >/dev/null 2>&1 || die "openssl is missing"

# A cluster already in DIR is stopped first, so that `up` can be run again.
if [ -n "$(ls "$dir"/*.pid 2>/dev/null)" ]; then
  say "stopping the cluster already in $dir"
  down
fi
mkdir -p "$dir"
chmod 700 "$dir"
# What a cluster killed without `down` may have left (an old etcd's data would be reused).
rm -rf "$dir/etcd" "$dir/pki" "$dir"/*.log "$dir"/*.pid "$dir/kubeconfig" "$dir/nodes.yaml"
kubeconfig=$dir/kubeconfig

# If anything below fails, stop what was started (the logs' ends go to stderr first).
failed() {
  local log
  for log in "$dir"/*.log; do
    [ -f "$log" ] || continue
    echo "--- last lines of $log" >&2
    tail -n 15 "$log" >&2
  done
  down
}
trap 'status=$?; [ $status -eq 0 ] || failed' EXIT
trap 'exit 143' TERM INT HUP

# Runs a server detached from this shell (own session, no stdin) with its log and pid in DIR.
spawn() {
  local name=$1
  shift
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$dir/$name.pid" "$@" </dev/null >"$dir/$name.log" 2>&1 8>&- &
  # Until bash has exec'd the server, the pid would not pass `ours`.
  for _ in $(seq 1 250); do
    [ -s "$dir/$name.pid" ] && ours "$(cat "$dir/$name.pid")" "$name" && return 0
    sleep 0.02
  done
  die "$name did not start; see $dir/$name.log"
}
alive() { ours "$(cat "$dir/$1.pid")" "$1" || die "$1 exited; see $dir/$1.log"; }

# Waits (up to $2 seconds) until command "${@:3}" succeeds, checking that process $1 still runs.
wait_for() {
  local name=$1 seconds=$2 deadline
  shift 2
  deadline=$(($(date +%s) + seconds))
  until "$@" >/dev/null 2>&1; do
    alive "$name"
    [ "$(date +%s)" -lt "$deadline" ] || die "$name was not ready after $seconds s; see $dir/$name.log"
    sleep 0.2
  done
}

# Free ports on loopback. Two `up`s at once (parallel test files) take turns from here until their
# servers listen, so that they never pick the same port.
listening() { [ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ]; }
free_port() {
  local p
  while :; do
    # Below the kernel's ephemeral range (32768-60999), so no outgoing connection holds it.
    p=$((20000 + RANDOM % 12000))
    [ -z "$(ss -Htan "( sport = :$p or dport = :$p )" 2>/dev/null)" ] || continue
    case " ${taken[*]-} " in *" $p "*) continue ;; esac
    echo "$p"
    return
  done
}
exec 8>/tmp/scanflow-k8s-ports.lock
flock 8
taken=()
etcd_port=$(free_port); taken+=("$etcd_port")
peer_port=$(free_port); taken+=("$peer_port")
api_port=$(free_port); taken+=("$api_port")

# Credentials: a self-signed serving certificate (the kubeconfig trusts exactly it), a service
# account signing key pair, and a static admin token (system:masters).
pki=$dir/pki
mkdir -p "$pki"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
  -keyout "$pki/apiserver.key" -out "$pki/apiserver.crt" -subj /CN=scanflow-kube-apiserver \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.96.0.1" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign" \
  -addext "extendedKeyUsage=serverAuth" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$pki/sa.key" 2>/dev/null
openssl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
token=$(openssl rand -hex 24)
echo "$token,scanflow-admin,scanflow-admin,\"system:masters\"" >"$pki/tokens.csv"
chmod 600 "$pki"/*

cat >"$kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: scanflow
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority-data: $(base64 -w0 <"$pki/apiserver.crt")
users:
- name: scanflow-admin
  user:
    token: $token
contexts:
- name: scanflow
  context:
    cluster: scanflow
    user: scanflow-admin
    namespace: default
current-context: scanflow
EOF
chmod 600 "$kubeconfig"
k() { kubectl --kubeconfig "$kubeconfig" "$@"; }

say "starting etcd on 127.0.0.1:$etcd_port"
spawn etcd "$(command -v etcd)" --name scanflow --data-dir "$dir/etcd" \
  --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
  --initial-cluster "scanflow=http://127.0.0.1:$peer_port" --initial-cluster-state new \
  --logger zap --log-outputs stderr
wait_for etcd 30 curl -fsS --max-time 2 "http://127.0.0.1:$etcd_port/health"

say "starting kube-apiserver on 127.0.0.1:$api_port"
# --endpoint-reconciler-type none: the default reconciler refuses a loopback advertise address (it
# would publish it as the `kubernetes` Service's endpoint); nothing here runs inside the cluster.
spawn kube-apiserver "$K8S_BIN/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$etcd_port" \
  --bind-address 127.0.0.1 --secure-port "$api_port" --advertise-address 127.0.0.1 \
  --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --token-auth-file "$pki/tokens.csv" --authorization-mode RBAC \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
  --service-cluster-ip-range 10.96.0.0/16 --allow-privileged=true --profiling=false \
  --endpoint-reconciler-type none --feature-gates=WatchList=false
wait_for kube-apiserver 60 listening "$api_port"
flock -u 8
wait_for kube-apiserver 90 k get --raw /readyz

say "installing Argo Workflows v$ARGO_VERSION CRDs"
[ -f "$ARGO_CRDS/.done" ] || die "$ARGO_CRDS is missing: run scripts/k8s/build.sh first"
crds=()
for f in "$ARGO_CRDS"/*.yaml; do
  case $(basename "$f") in kustomization.yaml) ;; *) crds+=(-f "$f") ;; esac
done
# Server-side: the CRDs with their full schemas are too large for client-side apply's annotation.
k apply --server-side --field-manager scanflow-setup "${crds[@]}" >"$dir/crds.log" 2>&1 ||
  die "installing the CRDs failed: $(cat "$dir/crds.log")"
k wait --for condition=Established --timeout 60s crd --all >>"$dir/crds.log" 2>&1 ||
  die "the CRDs were not Established: $(tail -5 "$dir/crds.log")"

if [ "$simulated" = true ]; then
  say "starting kube-controller-manager, kube-scheduler and kwok"
  # No serving ports (--secure-port 0): nothing needs their health endpoints.
  spawn kube-controller-manager "$K8S_BIN/kube-controller-manager" \
    --kubeconfig "$kubeconfig" --leader-elect=false --secure-port 0 \
    --controllers '*,-serviceaccount-token' --use-service-account-credentials=false \
    --root-ca-file "$pki/apiserver.crt" --cluster-name scanflow
  spawn kube-scheduler "$K8S_BIN/kube-scheduler" \
    --kubeconfig "$kubeconfig" --leader-elect=false --secure-port 0
  stages=()
  for f in "$KWOK_STAGES"/*/*.yaml; do
    case $(basename "$f") in kustomization.yaml) ;; *) stages+=(-f "$f") ;; esac
  done
  # kwok reads its stages from the API (--enable-crds=Stage), so that tests can add their own.
  k apply --server-side --field-manager scanflow-setup \
    -f "$GOMODCACHE/sigs.k8s.io/kwok@v$KWOK_VERSION/kustomize/crd/bases/kwok.x-k8s.io_stages.yaml" \
    >"$dir/stages.log" 2>&1 || die "installing kwok's Stage CRD failed: $(cat "$dir/stages.log")"
  k wait --for condition=Established --timeout 60s crd/stages.kwok.x-k8s.io >>"$dir/stages.log" 2>&1 ||
    die "kwok's Stage CRD was not Established: $(tail -5 "$dir/stages.log")"
  k apply --server-side --field-manager scanflow-setup "${stages[@]}" >>"$dir/stages.log" 2>&1 ||
    die "creating kwok's stages failed: $(cat "$dir/stages.log")"
  # HOME=DIR: kwok also reads ~/.kwok/kwok.yaml, which must not change this cluster. Node leases
  # (renewed every 10 s) keep the fake nodes healthy for the node lifecycle controller; kwok serves
  # nothing itself (no --server-address or --node-port).
  spawn kwok env HOME="$dir" "$K8S_BIN/kwok" --kubeconfig "$kubeconfig" --enable-crds=Stage \
    --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake --node-ip 127.0.0.1 \
    --node-lease-duration-seconds 40
  # `env` exec's kwok, so the pid file names kwok's own process.
  for n in 0 1; do
    cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$n
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: kwok-node-$n
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    kubernetes.io/role: agent
    type: kwok
status:
  allocatable: {cpu: "16", memory: 64Gi, pods: "110"}
  capacity: {cpu: "16", memory: 64Gi, pods: "110"}
EOF
  done >"$dir/nodes.yaml"
  k apply -f "$dir/nodes.yaml" >"$dir/nodes.log" 2>&1 || die "creating the nodes failed: $(cat "$dir/nodes.log")"
  wait_for kwok 60 k wait --for condition=Ready --timeout 5s node -l type=kwok
  # Pods are refused until the service account controller made namespace default's account.
  wait_for kube-controller-manager 60 k get serviceaccount default -n default
  alive kube-scheduler
fi

say "cluster up in $(($(date +%s) - start)) s (kube-apiserver https://127.0.0.1:$api_port$([ "$simulated" = true ] && echo ", simulated with 2 kwok nodes"))"
echo "$kubeconfig"
