# microservice-operator — every task of the project. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

UV := .tools/bin/uv
RUN := $(UV) run --frozen
PYTEST := $(RUN) pytest

##@ General
.PHONY: help
help: ## List every target with its description
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m\n"} \
	  /^[a-zA-Z0-9_-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } \
	  /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Setup
$(UV):
	@hack/tools.sh uv

.PHONY: setup
setup: $(UV) ## Install Python dependencies into .venv (from uv.lock)
	@$(UV) sync --frozen --quiet

.PHONY: tools
tools: ## Build/install kube-apiserver, etcd, kwok, helm, kubectl into the per-user cache
	@hack/tools.sh

.PHONY: lock
lock: $(UV) ## Refresh uv.lock after changing dependencies
	@$(UV) lock

##@ Local cluster
.PHONY: cluster-up
cluster-up: ## Start the local control plane (etcd, apiserver, KCM, scheduler, 3 kwok nodes)
	@hack/cluster.sh up

.PHONY: cluster-down
cluster-down: ## Stop the local control plane and remove its state
	@hack/cluster.sh down

.PHONY: cluster-status
cluster-status: ## Tell whether the local control plane is running
	@hack/cluster.sh status

.PHONY: env
env: ## Print exports for the project's tools and cluster: eval "$(make -s env)"
	@hack/cluster.sh env

##@ Quality
.PHONY: fmt
fmt: setup ## Format and autofix the code
	@$(RUN) ruff format operator tests hack
	@$(RUN) ruff check --fix operator tests hack

.PHONY: lint
lint: setup ## ruff (lint + format check), mypy --strict, import-linter
	@$(RUN) ruff check operator tests hack
	@$(RUN) ruff format --check operator tests hack
	@$(RUN) mypy
	@$(RUN) lint-imports

##@ Generated files
.PHONY: generate
generate: setup ## Regenerate crds/ from the API models
	@$(RUN) msop crd -o crds/microservices.yaml

.PHONY: generate-check
generate-check: setup ## Fail if generated files are stale (CI drift check)
	@$(RUN) msop crd -o crds/microservices.yaml --check

.PHONY: golden
golden: setup ## Rewrite builder golden files after an intended change (review the diff)
	@$(PYTEST) -m unit --update-golden -q

##@ Tests
.PHONY: test
test: lint tools generate-check ## Everything CI runs: lint, types, drift checks, unit, integration, e2e
	@$(PYTEST)

.PHONY: test-unit
test-unit: setup ## Unit tests (pure, no cluster)
	@$(PYTEST) -m unit

.PHONY: test-integration
test-integration: setup tools ## Integration tests (real API server, real databases)
	@$(PYTEST) -m integration

.PHONY: test-e2e
test-e2e: setup tools ## End-to-end tests (operator process against a cluster)
	@$(PYTEST) -m e2e
