#!/usr/bin/env bash
# A real Kubernetes control plane as plain processes on 127.0.0.1: etcd,
# kube-apiserver (RBAC, ServiceAccount and PodSecurity admission on),
# kube-controller-manager, kube-scheduler, and kwok simulating 3 nodes.
#
#   hack/cluster.sh up       build tools if needed, start (or restart) the cluster
#   hack/cluster.sh down     stop it and delete its state; no process is left behind
#   hack/cluster.sh status   print whether it is running
#   hack/cluster.sh env      print shell exports (PATH, KUBECONFIG)
#
# State lives in .cluster/ (git-ignored); the kubeconfig is .cluster/kubeconfig.
# Environment: MSOP_CLUSTER_NAME (default msop), MSOP_CLUSTER_NODES (default 3),
# MSOP_KUBECONFIG_OUT (default .cluster/kubeconfig; give each side-by-side cluster its own),
# MSOP_CLUSTER_EXTRA_ARGS (space-separated component=flag=value, passed to kwokctl at creation),
# MSOP_CLUSTER_API_LIMITS (default 0; 1: keep the API server's request limits, i.e. priority
# and fairness, and the components' default client rate limits, as a real cluster has them;
# read at creation).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=hack/versions.env
source "$ROOT/hack/versions.env"
BIN="$ROOT/.tools/bin"
STATE="$ROOT/.cluster"
NAME="${MSOP_CLUSTER_NAME:-msop}"
NODES="${MSOP_CLUSTER_NODES:-3}"
KUBECONFIG_OUT="${MSOP_KUBECONFIG_OUT:-$STATE/kubeconfig}"
EXTRA_ARGS=()
for arg in ${MSOP_CLUSTER_EXTRA_ARGS:-}; do
  EXTRA_ARGS+=(--extra-args "$arg")
done
case "${MSOP_CLUSTER_API_LIMITS:-0}" in
  0) EXTRA_ARGS+=(--disable-qps-limits=true) ;;  # no 429s, no client throttling: tests run fast
  1) ;;
  *) echo "MSOP_CLUSTER_API_LIMITS must be 0 or 1" >&2; exit 2 ;;
esac

export KWOK_WORKDIR="$STATE/kwok"
export KWOK_KUBE_APISERVER_BINARY="$BIN/kube-apiserver"
export KWOK_KUBE_CONTROLLER_MANAGER_BINARY="$BIN/kube-controller-manager"
export KWOK_KUBE_SCHEDULER_BINARY="$BIN/kube-scheduler"
export KWOK_ETCD_BINARY="$BIN/etcd"
export KWOK_CONTROLLER_BINARY="$BIN/kwok"
export KWOK_KUBECTL_BINARY="$BIN/kubectl"
export KWOK_KUBE_VERSION="v$KUBERNETES_VERSION"
export KWOK_RUNTIME=binary

log() { printf '[cluster] %s\n' "$*" >&2; }
# kwokctl logs JSON lines; keep them in .cluster/kwokctl.log and show them only on failure.
kwokctl() {
  mkdir -p "$STATE"
  if ! "$BIN/kwokctl" "$@" 2>>"$STATE/kwokctl.log"; then
    tail -n 20 "$STATE/kwokctl.log" >&2
    return 1
  fi
}
kubectl() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_OUT" "$@"; }

exists() { [[ -d "$KWOK_WORKDIR/clusters/$NAME" ]]; }
healthy() { [[ -f "$KUBECONFIG_OUT" ]] && kubectl get --raw /readyz >/dev/null 2>&1; }

write_audit_policy() {
  # Metadata for every mutating request: tests and benchmarks count writes per user.
  cat >"$STATE/audit-policy.yaml" <<'YAML'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    users: ["system:kube-controller-manager", "system:kube-scheduler", "system:apiserver"]
  - level: None
    resources:
      - group: coordination.k8s.io
        resources: [leases]
    users: ["kwok-admin", "system:node"]
  - level: Metadata
    verbs: [create, update, patch, delete, deletecollection]
YAML
}

wait_ready() {
  local deadline=$((SECONDS + 120))
  until healthy; do
    (( SECONDS < deadline )) || { log "API server not ready after 120 s"; return 1; }
    sleep 0.5
  done
  # Nodes Ready and the default ServiceAccount present (pods need it).
  until [[ "$(kubectl get nodes --no-headers 2>/dev/null | grep -c ' Ready ')" -ge "$NODES" ]]; do
    (( SECONDS < deadline )) || { log "nodes not Ready after 120 s"; kubectl get nodes >&2 || true; return 1; }
    sleep 0.5
  done
  until kubectl -n default get serviceaccount default >/dev/null 2>&1; do
    (( SECONDS < deadline )) || { log "default ServiceAccount missing after 120 s"; return 1; }
    sleep 0.5
  done
}

up() {
  local start=$SECONDS
  "$ROOT/hack/tools.sh"
  mkdir -p "$STATE"
  if healthy; then
    log "cluster '$NAME' already running"
  elif exists; then
    log "starting existing cluster '$NAME'"
    kwokctl start cluster --name "$NAME"
  else
    write_audit_policy
    log "creating cluster '$NAME' (Kubernetes v$KUBERNETES_VERSION, $NODES kwok nodes)"
    kwokctl create cluster --name "$NAME" \
      --kube-authorization=true --kube-admission=true --secure-port=true \
      --kube-audit-policy "$STATE/audit-policy.yaml" \
      "${EXTRA_ARGS[@]}" \
      --wait 2m
  fi
  kwokctl get kubeconfig --name "$NAME" >"$KUBECONFIG_OUT.tmp"
  mv "$KUBECONFIG_OUT.tmp" "$KUBECONFIG_OUT"
  chmod 600 "$KUBECONFIG_OUT"
  local have
  have="$(kubectl get nodes --no-headers 2>/dev/null | wc -l)"
  if (( have < NODES )); then
    kwokctl scale node --name "$NAME" --replicas "$NODES"
  fi
  wait_ready
  log "ready in $((SECONDS - start)) s"
  cat >&2 <<EOF
[cluster] use it:   eval "\$(make -s env)" && kubectl get nodes
[cluster] kubeconfig: ${KUBECONFIG_OUT#"$ROOT"/}   audit log: $(audit_log_path)
EOF
}

audit_log_path() {
  local p="$KWOK_WORKDIR/clusters/$NAME/logs/audit.log"
  printf '%s' "${p#"$ROOT"/}"
}

# Live (non-zombie) processes started for this cluster.
running_pids() {
  ps -eo pid=,stat=,args= | awk -v dir="$KWOK_WORKDIR/clusters/$NAME" \
    'index($0, dir) && $2 !~ /^Z/ && !/awk/ { print $1 }' | tr '\n' ' '
}

down() {
  if [[ -f "$STATE/operator.pid" ]]; then  # an operator started by hack/demo.sh
    kill "$(cat "$STATE/operator.pid")" 2>/dev/null || true
    rm -f "$STATE/operator.pid"
  fi
  if exists; then
    log "deleting cluster '$NAME'"
    kwokctl delete cluster --name "$NAME" || true
  fi
  # Belt and braces: nothing of ours may survive.
  local left
  left="$(running_pids)"
  if [[ -n "$left" ]]; then
    log "killing leftover processes: $left"
    kill $left 2>/dev/null || true
    sleep 1
    kill -9 $left 2>/dev/null || true
  fi
  rm -rf "$KWOK_WORKDIR/clusters/$NAME" "$KUBECONFIG_OUT"
  if [[ -n "$(running_pids)" ]]; then
    log "processes still running after down: $(running_pids)"; return 1
  fi
  log "cluster '$NAME' is down"
}

status() {
  if healthy; then
    echo "running: $(kubectl version -o json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])')"
  elif exists; then
    echo "stopped"; return 1
  else
    echo "absent"; return 1
  fi
}

env_exports() {
  printf 'export PATH="%s:$PATH"\n' "$BIN"
  printf 'export KUBECONFIG="%s"\n' "$KUBECONFIG_OUT"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  env) env_exports ;;
  *) echo "usage: $0 up|down|status|env" >&2; exit 2 ;;
esac
