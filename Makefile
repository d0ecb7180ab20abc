# ambient-harness — every target that needs the virtualenv creates it first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Where the CRD schemas live; CI and tests point this at ../shared/crds when it exists.
export AMBIENT_HARNESS_CRD_DIR ?= $(if $(wildcard ../shared/crds),$(abspath ../shared/crds),$(HOME)/.cache/ambient-harness/crds)

.PHONY: setup test lint demo e2e bench clean help

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

setup: $(STAMP)  ## create .venv and install the project with its dev extra

test: $(STAMP)  ## offline suite (live tests skip with a reason when no cluster is configured)
	$(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff + mypy --strict + scenario lint
	$(BIN)/ruff check harness tests benchmarks
	$(BIN)/ruff format --check harness
	$(BIN)/mypy harness
	$(BIN)/ambient-harness lint scenarios/

demo: $(STAMP)  ## the talk, live: kind + Istio ambient + the catalogue (needs Docker)
	$(BIN)/ambient-harness demo $(DEMO_ARGS)

e2e: $(STAMP)  ## the live suite on a kind cluster, with JUnit and JSON reports
	mkdir -p reports
	$(BIN)/python -m pytest scenarios tests/e2e --cluster=kind \
	  --junitxml=reports/junit.xml --report-json=reports/report.json $(PYTEST_ARGS)

bench: $(STAMP)  ## benchmarks (print their figures)
	$(BIN)/python benchmarks/split_check.py
	$(BIN)/python benchmarks/agent_overhead.py

clean:  ## remove the virtualenv and caches (the kind cluster is left alone: `ambient-harness cluster down`)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build dist *.egg-info reports artifacts
