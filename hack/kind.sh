#!/usr/bin/env bash
# The demo's path on kind, for machines with a container engine (Docker or Podman):
# real images, real pods, the same chart and the same sample MicroServices as
# `make demo` (both use hack/lib/shop.sh).
#
#   hack/kind.sh up       create the kind cluster 'msop' (kubeconfig: .cluster/kind-kubeconfig)
#   hack/kind.sh deploy   build the operator and sample images, load them into kind,
#                         helm install the chart with that image, apply the shop, wait Ready
#   hack/kind.sh down     delete the kind cluster
#
# kind is built from its Go module into the per-user cache (hack/tools.sh kind).
# Without a container engine this fails at the first step and says so: the local
# control plane (`make demo`) is the path that runs everywhere.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=hack/versions.env
source hack/versions.env
BIN="$ROOT/.tools/bin"
CLUSTER=msop
export KUBECONFIG="$ROOT/.cluster/kind-kubeconfig"
RELEASE=msop
SYSTEM_NS=microservice-operator
SHOP_NS=shop
OPERATOR_IMAGE=microservice-operator:dev

log() { printf '\033[1m[kind]\033[0m %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
kubectl() { "$BIN/kubectl" "$@"; }
# shellcheck source=hack/lib/shop.sh
source hack/lib/shop.sh

engine() {
  local e
  for e in docker podman; do
    if command -v "$e" >/dev/null && "$e" info >/dev/null 2>&1; then
      printf '%s' "$e"
      return 0
    fi
  done
  die "kind needs a running container engine (Docker or Podman) and this machine has none;" \
    "'make demo' runs the same chart and samples on the local control plane instead"
}

kind() { "$BIN/kind" "$@"; }

cmd_up() {
  local e
  e="$(engine)"
  if [[ "$e" == podman ]]; then export KIND_EXPERIMENTAL_PROVIDER=podman; fi
  hack/tools.sh kind
  mkdir -p .cluster
  if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
    log "kind cluster '$CLUSTER' exists"
  else
    log "creating kind cluster '$CLUSTER'"
    kind create cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG" --wait 120s
  fi
  kind export kubeconfig --name "$CLUSTER" --kubeconfig "$KUBECONFIG"
  log "use it: export KUBECONFIG=.cluster/kind-kubeconfig"
}

cmd_deploy() {
  local e svc images=("$OPERATOR_IMAGE")
  e="$(engine)"
  if [[ "$e" == podman ]]; then export KIND_EXPERIMENTAL_PROVIDER=podman; fi
  [[ -f "$KUBECONFIG" ]] || die "no kind cluster: run 'make kind-up' first"
  log "1/4 images: the operator and the three sample services"
  "$e" build -t "$OPERATOR_IMAGE" .
  for svc in "${SHOP_SERVICES[@]}"; do
    # The tags the sample MicroServices name, so their manifests apply unchanged.
    "$e" build -f "sample-services/$svc/Dockerfile" -t "registry.example/shop/$svc:0.1.0" .
    images+=("registry.example/shop/$svc:0.1.0")
  done
  log "2/4 load them into kind"
  kind load docker-image --name "$CLUSTER" "${images[@]}"
  log "3/4 helm install the chart with that image"
  "$BIN/helm" upgrade --install "$RELEASE" charts/microservice-operator \
    --namespace "$SYSTEM_NS" --create-namespace \
    --set image.repository="${OPERATOR_IMAGE%:*}" --set image.tag="${OPERATOR_IMAGE#*:}" \
    --set image.pullPolicy=Never --wait --timeout 5m
  log "4/4 the sample shop (kind's default StorageClass provisions the databases' volumes)"
  apply_shop "$SHOP_NS"
  wait_shop_ready "$SHOP_NS" 600
  kubectl -n "$SHOP_NS" get microservices
  log "try it: kubectl -n $SHOP_NS port-forward service/auth 8001:80 (and products, orders)"
}

cmd_down() {
  if [[ -x "$BIN/kind" ]]; then
    kind delete cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG"
  fi
  rm -f "$KUBECONFIG"
}

case "${1:-}" in
  up) cmd_up ;;
  deploy) cmd_deploy ;;
  down) cmd_down ;;
  *) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
