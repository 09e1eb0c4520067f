# shellcheck shell=bash
# The sample shop's cluster side, shared by hack/demo.sh (local control plane) and
# hack/kind.sh (kind): the same namespace, admin Secret, MicroServices and wait.
# Expects a `kubectl` function or binary and `log`.

SHOP_SERVICES=(auth products orders)

# apply_shop NAMESPACE: the namespace, the bootstrap admin's Secret (kept if it
# exists) and the three MicroServices from sample-services/*/deploy/.
apply_shop() {
  local ns="$1" svc
  kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  if ! kubectl -n "$ns" get secret shop-admin >/dev/null 2>&1; then
    kubectl -n "$ns" create secret generic shop-admin \
      --from-literal=password="$(python3 -c 'import secrets; print(secrets.token_urlsafe(16))')" \
      >/dev/null
  fi
  for svc in "${SHOP_SERVICES[@]}"; do
    kubectl -n "$ns" apply --server-side -f "sample-services/$svc/deploy/microservice.yaml" >/dev/null
  done
}

# wait_shop_ready NAMESPACE TIMEOUT_SECONDS: print each MicroService's Ready
# condition whenever it changes, until all are True (exit 1 on timeout).
wait_shop_ready() {
  local ns="$1" timeout="$2" start=$SECONDS now last="" line
  local jsonpath='{range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}/{.status.conditions[?(@.type=="Ready")].reason} {end}'
  while true; do
    line="$(kubectl -n "$ns" get microservices -o jsonpath="$jsonpath" 2>/dev/null || true)"
    line="${line//=\//=Pending/}"
    now=$((SECONDS - start))
    if [[ "$line" != "$last" ]]; then
      log "  ${now}s  ${line:-(no status yet)}"
      last="$line"
    fi
    if [[ -n "$line" && "$line" != *"=False"* && "$line" != *"=Unknown"* && "$line" != *"=Pending/"* ]]; then
      return 0
    fi
    if ((now >= timeout)); then
      log "not Ready after ${timeout}s:"
      kubectl -n "$ns" get microservices -o wide >&2 || true
      return 1
    fi
    sleep 1
  done
}
