# ambient-harness — every target that needs the virtualenv creates it first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Where the CRD schemas live; CI and tests point this at ../shared/crds when it exists.
export AMBIENT_HARNESS_CRD_DIR ?= $(if $(wildcard ../shared/crds),$(abspath ../shared/crds),$(HOME)/.cache/ambient-harness/crds)

.PHONY: setup schemas test test-order lint demo e2e bench clean help

help:  ## list targets
	@grep -E '^[a-z0-9-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

setup: $(STAMP)  ## create .venv and install the project with its dev extra

# The pinned CRD bundles lint and the tests validate against: ../shared/crds in CI, else the
# user cache, filled once from the pinned release URLs (sha256-verified).
CRD_FILES := $(AMBIENT_HARNESS_CRD_DIR)/gateway-api-v1.5.1-experimental.yaml \
             $(AMBIENT_HARNESS_CRD_DIR)/istio-1.30.3-crd-all.gen.yaml
$(CRD_FILES) &: | $(STAMP)  # one fetch writes both (grouped target, GNU make >= 4.3)
	$(BIN)/ambient-harness schemas fetch

schemas: $(CRD_FILES)  ## download the pinned CRD schemas into AMBIENT_HARNESS_CRD_DIR if missing

# The offline suite is xdist-safe; about a fifth of its time is waiting on subprocesses
# (agents, Envoy, stand-ins): one worker per usable CPU, plus one to fill those waits (2 CPUs:
# 3 workers took 33.0-34.7 s where 2 took 35.1-37.5 s, interleaved; benchmarks/suite_time.py).
# PYTEST_WORKERS=0 runs it in one process; a -n in PYTEST_ARGS wins, being later.
PYTEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1); print(len(cpus) + 1)')
# pytest's exit 5 (nothing collected) is a broken suite, not a pass: said here, because make
# turns every failing recipe into its own exit 2.
# The suite starts ~60 Python processes, and every xdist worker imports every test module:
# with PYTHONDONTWRITEBYTECODE set (as on some CI machines) each would compile the package and
# pytest would rewrite every test module again, ~7 s of CPU. Bytecode goes to the usual
# (git-ignored) __pycache__ directories.
test: $(STAMP) $(CRD_FILES)  ## offline suite (live tests skip with a reason when no cluster is configured)
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -p no:cacheprovider -n $(PYTEST_WORKERS) $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests: the suite is broken" >&2; fi; \
	exit $$rc

# One pytest process per seed: each runs a seeded half of the suite in collection order, as one
# xdist worker may (tests/subset_order.py). A test that needs another to run before it (or not)
# fails here under a seed that `pytest --subset=SEED` reproduces, not some day in CI.
SEEDS ?= 1 2 3 4
test-order: $(STAMP) $(CRD_FILES)  ## the suite in seeded parts (SEEDS="1 2 3 4"): finds tests that depend on what ran before
	@rc=0; for seed in $(SEEDS); do \
	  echo "pytest --subset=$$seed"; \
	  env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -p no:cacheprovider -n 0 -q --subset=$$seed $(PYTEST_ARGS) || rc=1; \
	done; exit $$rc

lint: $(STAMP) $(CRD_FILES)  ## ruff + mypy --strict + scenario lint
	$(BIN)/ruff check harness tests benchmarks
	$(BIN)/ruff format --check harness
	$(BIN)/mypy harness
	$(BIN)/ambient-harness lint scenarios/

# Docker is checked before anything is installed, so a machine without it fails in seconds.
# With an existing cluster (DEMO_ARGS="--context CTX", alias --kube-context, or --kubeconfig)
# no Docker is needed.
demo:  ## the talk, live: kind + Istio ambient + the catalogue (needs Docker)
ifeq ($(findstring --context,$(DEMO_ARGS))$(findstring --kube-context,$(DEMO_ARGS))$(findstring --kubeconfig,$(DEMO_ARGS)),)
	@if ! command -v docker >/dev/null 2>&1; then why="docker is not installed"; \
	elif ! docker info >/dev/null 2>&1; then why="the Docker engine is not reachable: docker info failed"; \
	else why=""; fi; \
	if [ -n "$$why" ]; then \
	  echo "error: make demo needs a running Docker engine ($$why)." >&2; \
	  echo "  kind runs the cluster's nodes as containers: install Docker" >&2; \
	  echo "  (https://docs.docker.com/engine/install/) or start it, and check 'docker info'." >&2; \
	  echo "Offline instead: ambient-harness plan scenarios/ambient-authz-l4" >&2; \
	  echo "                 ambient-harness run --dry-run" >&2; \
	  echo "On a cluster you already have: make demo DEMO_ARGS='--context CONTEXT'" >&2; \
	  exit 3; \
	fi
endif
	@$(MAKE) --no-print-directory $(STAMP)
	$(BIN)/ambient-harness demo $(DEMO_ARGS)

e2e: $(STAMP)  ## the live suite on a kind cluster, with JUnit and JSON reports
	mkdir -p reports
	$(BIN)/python -m pytest scenarios tests/e2e --cluster=kind \
	  --junitxml=reports/junit.xml --report-json=reports/report.json $(PYTEST_ARGS)

bench: $(STAMP) $(CRD_FILES)  ## benchmarks (print their figures)
	$(BIN)/python benchmarks/split_check.py
	$(BIN)/python benchmarks/streak_check.py
	$(BIN)/python benchmarks/agent_overhead.py
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/lint_scale.py
	$(BIN)/python benchmarks/dry_run.py

clean:  ## remove the virtualenv and caches (the kind cluster is left alone: `ambient-harness cluster down`)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build dist *.egg-info reports artifacts
