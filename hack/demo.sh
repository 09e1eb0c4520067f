#!/usr/bin/env bash
# The whole product in one command, on the local control plane:
#   1. start the cluster (building its binaries on first use),
#   2. helm install the chart: CRD, ServiceAccount, least-privilege RBAC,
#   3. run the operator as the chart's ServiceAccount (kwok simulates pods, so the
#      chart's own pod cannot run code: the operator runs here, with that pod's token),
#   4. apply the sample shop (auth, products, orders) and wait until all are Ready,
#   5. run the three services as local processes, wired from the Deployments and
#      Secrets the operator generated (a local PostgreSQL and FerretDB stand in for
#      the database pods, initialised from the generated credentials), and walk the
#      shop flow: register, log in, add a product as admin, order, check the stock.
#
#   hack/demo.sh          run the demo (idempotent); operator and shop keep running
#   hack/demo.sh stop     stop the operator started by the demo
#   hack/demo.sh down     stop the shop and the operator, uninstall, stop the cluster
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=hack/versions.env
source hack/versions.env
BIN="$ROOT/.tools/bin"
STATE="$ROOT/.cluster"
export KUBECONFIG="$STATE/kubeconfig"
RELEASE=demo
SYSTEM_NS=microservice-operator
SHOP_NS=shop
SA="$RELEASE-microservice-operator"
PIDFILE="$STATE/operator.pid"
export MSOP_SAMPLES_DIR="$STATE/demo-shop" KUBECTL="$BIN/kubectl"
started=$SECONDS

log() { printf '\033[1m[demo]\033[0m %s\n' "$*" >&2; }
kubectl() { "$BIN/kubectl" "$@"; }
# shellcheck source=hack/lib/shop.sh
source hack/lib/shop.sh

stop_operator() {
  if [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    kill "$(cat "$PIDFILE")" && log "operator stopped"
  fi
  rm -f "$PIDFILE"
}

shop() { .tools/bin/uv run --frozen --all-packages python sample-services/shoptools/local.py "$@"; }

if [[ "${1:-}" == "stop" ]]; then stop_operator; exit 0; fi
if [[ "${1:-}" == "down" ]]; then
  [[ -x .tools/bin/uv ]] && shop down
  stop_operator
  if [[ -f "$KUBECONFIG" ]] && kubectl get --raw /readyz >/dev/null 2>&1; then
    kubectl delete namespace "$SHOP_NS" --ignore-not-found --wait=true >/dev/null
    kubectl delete pv -l demo=shop --ignore-not-found >/dev/null
    "$BIN/helm" uninstall "$RELEASE" --namespace "$SYSTEM_NS" --ignore-not-found >/dev/null
  fi
  hack/cluster.sh down
  exit 0
fi

log "1/5 local control plane"
hack/cluster.sh up
hack/databases.sh install  # PostgreSQL and FerretDB, for step 5 (built once, minutes cold)
.tools/bin/uv sync --frozen --all-packages --quiet

log "2/5 helm install the operator chart (CRD, ServiceAccount, RBAC)"
crd=crd/microservices.microservice-operator.dev
if kubectl get "$crd" >/dev/null 2>&1; then  # installed earlier with kubectl: let helm adopt it
  kubectl label --overwrite "$crd" app.kubernetes.io/managed-by=Helm >/dev/null
  kubectl annotate --overwrite "$crd" meta.helm.sh/release-name="$RELEASE" \
    meta.helm.sh/release-namespace="$SYSTEM_NS" >/dev/null
fi
"$BIN/helm" upgrade --install "$RELEASE" charts/microservice-operator \
  --namespace "$SYSTEM_NS" --create-namespace \
  --set replicaCount=0 --wait --timeout 2m >/dev/null
kubectl wait --for=condition=Established --timeout=60s crd/microservices.microservice-operator.dev >/dev/null

log "3/5 run the operator as the chart's ServiceAccount (log: .cluster/operator.log)"
stop_operator
token="$(kubectl -n "$SYSTEM_NS" create token "$SA" --duration=24h)"
server="$(kubectl config view --raw -o jsonpath='{.clusters[0].cluster.server}')"
ca="$(kubectl config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')"
cat >"$STATE/operator.kubeconfig" <<EOF
apiVersion: v1
kind: Config
current-context: operator
clusters: [{name: local, cluster: {server: "$server", certificate-authority-data: "$ca"}}]
users: [{name: operator, user: {token: "$token"}}]
contexts: [{name: operator, context: {cluster: local, user: operator}}]
EOF
chmod 600 "$STATE/operator.kubeconfig"
KUBECONFIG="$STATE/operator.kubeconfig" nohup .venv/bin/msop run --log-format human --metrics-port 18090 \
  --liveness http://127.0.0.1:18080/healthz >"$STATE/operator.log" 2>&1 &
echo $! >"$PIDFILE"
for _ in $(seq 120); do
  curl -fsS http://127.0.0.1:18080/healthz >/dev/null 2>&1 && break
  kill -0 "$(cat "$PIDFILE")" 2>/dev/null || { cat "$STATE/operator.log" >&2; exit 1; }
  sleep 0.5
done

log "4/5 the sample shop: auth (JWT issuer), products, orders (each with its own database)"
# The local cluster has no storage provisioner: one PersistentVolume per dedicated database.
for db in auth products orders; do
  cat <<EOF | kubectl apply -f - >/dev/null
apiVersion: v1
kind: PersistentVolume
metadata: {name: demo-$db-db, labels: {demo: shop}}
spec:
  capacity: {storage: 2Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: /tmp/demo-$db-db}
EOF
done
apply_shop "$SHOP_NS"
log "waiting for Ready (each MicroService's Ready condition as it changes):"
wait_shop_ready "$SHOP_NS" 180
kubectl -n "$SHOP_NS" get ms
echo
kubectl -n "$SHOP_NS" get deployments,statefulsets,services,networkpolicies,secrets -l app.kubernetes.io/managed-by=microservice-operator

log "5/5 the services as local processes, wired from what the operator generated"
shop down >/dev/null
shop up --from-cluster "$SHOP_NS"
log "the shop flow, step by step:"
shop flow
cat >&2 <<EOF

[demo] Done in $((SECONDS - started)) s: every MicroService Ready, the shop flow succeeded.
  eval "\$(make -s env)"
  kubectl -n $SHOP_NS describe ms orders
  kubectl -n $SHOP_NS get deploy orders -o jsonpath='{.spec.template.spec.containers[0].env}'
  MSOP_SAMPLES_DIR=.cluster/demo-shop .tools/bin/uv run python sample-services/shoptools/local.py flow
[demo] The operator (pid $(cat "$PIDFILE")) and the shop keep running; 'make demo-down' removes
       everything the demo started, the cluster included.
EOF
