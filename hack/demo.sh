#!/usr/bin/env bash
# The whole product in one command, on the local control plane:
#   1. start the cluster (building its binaries on first use),
#   2. helm install the chart: CRD, ServiceAccount, least-privilege RBAC,
#   3. run the operator as the chart's ServiceAccount (kwok simulates pods, so the
#      chart's own pod cannot run code: the operator runs here, with that pod's token),
#   4. apply the sample shop (auth, products, orders) and wait until all are Ready.
#
#   hack/demo.sh          run the demo (idempotent); the operator keeps running
#   hack/demo.sh stop     stop the operator started by the demo
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

log() { printf '\033[1m[demo]\033[0m %s\n' "$*" >&2; }
kubectl() { "$BIN/kubectl" "$@"; }

stop_operator() {
  if [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    kill "$(cat "$PIDFILE")" && log "operator stopped"
  fi
  rm -f "$PIDFILE"
}

if [[ "${1:-}" == "stop" ]]; then stop_operator; exit 0; fi

log "1/4 local control plane"
hack/cluster.sh up
.tools/bin/uv sync --frozen --all-packages --quiet

log "2/4 helm install the operator chart (CRD, ServiceAccount, RBAC)"
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

log "3/4 run the operator as the chart's ServiceAccount (log: .cluster/operator.log)"
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
KUBECONFIG="$STATE/operator.kubeconfig" nohup .venv/bin/msop run --log-format human \
  --liveness http://127.0.0.1:18080/healthz >"$STATE/operator.log" 2>&1 &
echo $! >"$PIDFILE"
for _ in $(seq 120); do
  curl -fsS http://127.0.0.1:18080/healthz >/dev/null 2>&1 && break
  kill -0 "$(cat "$PIDFILE")" 2>/dev/null || { cat "$STATE/operator.log" >&2; exit 1; }
  sleep 0.5
done

log "4/4 the sample shop: auth (JWT issuer), products, orders (each with its own database)"
kubectl create namespace "$SHOP_NS" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n "$SHOP_NS" create secret generic shop-admin \
  --from-literal=password="$(python3 -c 'import secrets; print(secrets.token_urlsafe(16))')" \
  --dry-run=client -o yaml | kubectl apply -f - >/dev/null 2>&1 || true
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
for svc in auth products orders; do
  kubectl -n "$SHOP_NS" apply --server-side -f "sample-services/$svc/deploy/microservice.yaml" >/dev/null
done
kubectl -n "$SHOP_NS" wait --for=condition=Ready ms --all --timeout=180s >/dev/null
kubectl -n "$SHOP_NS" get ms
echo
kubectl -n "$SHOP_NS" get deployments,statefulsets,services,networkpolicies,secrets -l app.kubernetes.io/managed-by=microservice-operator
cat >&2 <<EOF

[demo] The shop is Ready. Explore:
  eval "\$(make -s env)"
  kubectl -n $SHOP_NS describe ms orders
  kubectl -n $SHOP_NS get deploy orders -o jsonpath='{.spec.template.spec.containers[0].env}'
[demo] The operator keeps running (pid $(cat "$PIDFILE")); stop it with 'hack/demo.sh stop',
       everything with 'make cluster-down'.
EOF
