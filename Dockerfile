# syntax=docker/dockerfile:1.7
# The operator image: a venv built from uv.lock in a builder stage, copied into a
# slim, non-root runtime. hack/image-check.sh runs the same install steps without
# a container engine (`make image-check`); keep the two in step.

# ---------------------------------------------------------------- builder
FROM python:3.11-slim AS builder

# Pinned in hack/versions.env (UV_VERSION); hack/image-check.sh fails if they differ.
ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir --disable-pip-version-check --root-user-action=ignore "uv==${UV_VERSION}"

ENV UV_PROJECT_ENVIRONMENT=/opt/msop \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy

WORKDIR /src
ENV UV_CACHE_DIR=/tmp/uv-cache

# Dependencies first, from the lockfile alone: this layer survives source edits.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/tmp/uv-cache \
    uv sync --frozen --no-dev --no-editable --package microservice-operator --no-install-workspace

# Then the operator itself, built as a wheel and installed (not editable) into the venv.
COPY README.md ./
COPY operator/ operator/
RUN --mount=type=cache,target=/tmp/uv-cache \
    uv sync --frozen --no-dev --no-editable --package microservice-operator

# ---------------------------------------------------------------- runtime
FROM python:3.11-slim AS runtime

LABEL org.opencontainers.image.title="microservice-operator" \
      org.opencontainers.image.description="Kubernetes operator: one MicroService resource, everything a microservice needs" \
      org.opencontainers.image.licenses="Apache-2.0"

RUN groupadd --system --gid 10001 msop \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin msop

# Bytecode is compiled at build time, so nothing is written outside /tmp at run time
# (the chart mounts /tmp as an emptyDir and the root filesystem read-only).
COPY --from=builder /opt/msop /opt/msop

ENV PATH=/opt/msop/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp

USER 10001:10001
WORKDIR /tmp

# 8080: liveness (/healthz); 9090: metrics.
EXPOSE 8080 9090
ENTRYPOINT ["msop"]
CMD ["run"]
