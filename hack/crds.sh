#!/usr/bin/env bash
# Upstream CRDs of optional integrations, taken from their released Go modules
# (never hand-copied), cached in the per-user Go module cache.
#
#   hack/crds.sh cnpg         print the directory holding CloudNativePG's CRDs
#   hack/crds.sh prometheus   print the directory holding prometheus-operator's CRDs
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=hack/versions.env
source "$ROOT/hack/versions.env"
CACHE="${MSOP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/microservice-operator}"
export GOMODCACHE="$CACHE/go/mod" GOFLAGS="-mod=mod" GOTOOLCHAIN=local

module_dir() { # module_dir MODULE VERSION
  go mod download -json "$1@v$2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])'
}

case "${1:-}" in
  cnpg) printf '%s/config/crd/bases\n' "$(module_dir github.com/cloudnative-pg/cloudnative-pg "$CNPG_VERSION")" ;;
  prometheus)
    printf '%s/example/prometheus-operator-crd\n' \
      "$(module_dir github.com/prometheus-operator/prometheus-operator "$PROMETHEUS_OPERATOR_VERSION")" ;;
  *) sed -n '2,7p' "$0" >&2; exit 2 ;;
esac
