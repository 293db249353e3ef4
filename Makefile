# steelthread: every developer and CI action is a make target. `make help` lists them.
# Each target does the set-up it needs, so `make demo` and `make test` work on a fresh machine that has
# only Python 3.11+ and make.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
RUN := $(UV) run --no-sync
HOST ?= 127.0.0.1
PORT ?= 8000
IMAGE_TAG ?= dev
export STEELTHREAD_DATA_DIR ?= var
ROWS ?= 20000
WINDOW ?= 24h
BENCH_RESULTS ?= bench/results.json

.PHONY: help setup tools demo test test-fast coverage lint typecheck fmt serve bench bench-small data train promote rollback audit monitor evaluate \
	config-docs openapi openapi-check images stack-up stack-down clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

# Bytecode is compiled once at install: with PYTHONDONTWRITEBYTECODE set (as on these machines) every
# process would otherwise recompile what it imports (`import feast` is the largest part).
.venv/.synced: uv.lock pyproject.toml $(wildcard packages/*/pyproject.toml apps/*/pyproject.toml usecases/*/pyproject.toml examples/*/pyproject.toml)
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --locked --all-packages --compile-bytecode
	@touch $@

setup: .venv/.synced ## Install the locked workspace (installs uv with pip if missing)

tools: ## Install the system tools the tests need (promtool, chromium, java) when missing
	bash scripts/ensure-tools.sh

demo: setup ## Run the main job end to end on embedded defaults (USECASE=credit|delivery); STACK=1: on the stack
	@bash scripts/ensure-tools.sh --best-effort promtool
	$(if $(USECASE),STEELTHREAD_USECASE=$(USECASE) ,)$(RUN) python scripts/demo.py $(if $(STACK),--stack,)

test: setup tools ## Run every test (the one command CI runs)
	$(RUN) pytest

# The unit tier: in-process tests only (no subprocess servers, no Spark, no MLflow training, no PostgreSQL or
# Redis), picked by module so that the whole tier stays under a minute; `make test` still runs every test,
# these included. A module joins the list only if it keeps that promise.
UNIT_TESTS := packages usecases examples tests/habits tests/serving/test_serving_contract.py \
	tests/serving/test_serving_flags.py tests/infra/test_infra_terraform_structure.py \
	tests/infra/test_infra_compliance_features.py tests/runbooks/test_runbooks_pages.py \
	tests/workflows/test_workflows_policy.py tests/training/test_training_tasks.py \
	tests/training/test_training_paired.py tests/training/test_training_experiment.py

test-fast: setup ## Run the unit tier only (no servers, Spark, MLflow training or databases; under a minute)
	$(RUN) pytest -m "not slow and not services" $(UNIT_TESTS)

coverage: setup tools ## Run every test with a coverage report (var/coverage/); fails below the floor in pyproject.toml
	$(RUN) pytest --cov --cov-report=term --cov-report=html:var/coverage

lint: setup ## ruff lint + format check + layering contracts (lint-imports)
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) lint-imports --no-logo

typecheck: setup ## mypy strict on packages and apps
	$(RUN) mypy packages/*/src apps/*/src usecases/*/src examples/*/src

fmt: setup ## Format and autofix
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

serve: setup ## Serve the API on HOST:PORT (needs STEELTHREAD_API_KEYS)
	$(RUN) steelthread-serve --host $(HOST) --port $(PORT)

bench: setup tools ## Run the benchmarks; records figures and ratios in BENCH_RESULTS, renders bench/RESULTS.md
	@for b in bench/bench_*.py; do echo "== $$b"; $(RUN) python $$b --size full --results $(BENCH_RESULTS); done

bench-small: setup tools ## The benchmarks at the small size CI compares against the committed results
	@for b in bench/bench_*.py; do echo "== $$b"; $(RUN) python $$b --size small --results $(BENCH_RESULTS); done

data: setup ## Generate data (ROWS), apply the Feast repo and materialise the online store
	$(RUN) steelthread-data generate --rows $(ROWS) --out $(STEELTHREAD_DATA_DIR)/data \
		--end "$$(date -u +%Y-%m-%dT%H:%M:%S+00:00)"
	$(RUN) steelthread-features apply
	$(RUN) steelthread-features materialize

train: setup ## Train, evaluate, gate, export ONNX and register a challenger in MLflow (TUNE=1: search first)
	$(RUN) steelthread-train run $(if $(TRAIN_ROWS),--rows $(TRAIN_ROWS),) $(if $(TUNE),--tune,) \
		--report-dir $(STEELTHREAD_DATA_DIR)/training/last-run

promote: setup ## Promote VERSION to TO (staging|champion) with REASON, through the gates
	$(RUN) steelthread-promote promote --version "$(VERSION)" --to "$(TO)" --reason "$(REASON)"

rollback: setup ## Restore the previous champion, recording REASON
	$(RUN) steelthread-promote rollback --reason "$(REASON)"

audit: setup ## Which version was champion at time AT (default: now)
	$(RUN) steelthread-audit $(if $(AT),--at "$(AT)",)

monitor: setup ## Run the monitoring job over the last WINDOW of the prediction log
	$(RUN) steelthread-monitor run --window $(WINDOW)

evaluate: setup ## Evaluate every version on the test sets and the labelled cohort of WINDOW; compare them
	$(RUN) steelthread-eval test-sets
	$(RUN) steelthread-eval backfill --window $(WINDOW)
	$(RUN) steelthread-eval compare

config-docs: setup ## Regenerate docs/configuration.md and the valid STEELTHREAD_* names from the settings classes
	$(RUN) python docs/gen_config_reference.py

openapi: setup ## Regenerate docs/api/openapi.json from the app (USECASE=delivery: docs/api/openapi.delivery.json)
	$(if $(USECASE),STEELTHREAD_USECASE=$(USECASE) ,)$(RUN) python -m steelthread_serving.openapi

openapi-check: setup ## Fail when docs/api/openapi.json differs from the app's schema
	$(if $(USECASE),STEELTHREAD_USECASE=$(USECASE) ,)$(RUN) python -m steelthread_serving.openapi --check

images: ## Build every container image (needs a Docker engine)
	@for f in infra/docker/*.Dockerfile; do n=$$(basename $$f .Dockerfile); \
		echo "== steelthread-$$n:$(IMAGE_TAG)"; docker build -f $$f -t steelthread-$$n:$(IMAGE_TAG) .; done

stack-up: ## Start the whole stack on this laptop (needs Docker Compose and STEELTHREAD_API_KEYS)
	mkdir -p var/models var/stack/flags
	test -f var/stack/flags/flags.json || cp apps/serving/flags.json var/stack/flags/flags.json
	docker compose -f infra/compose.yaml up -d --build --wait

stack-down: ## Stop the local stack (its volumes stay; add -v by hand to drop them)
	STEELTHREAD_API_KEYS="$${STEELTHREAD_API_KEYS:-not-needed-to-stop-the-stack}" docker compose -f infra/compose.yaml down

clean: ## Remove local state (var/) and caches
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
