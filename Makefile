# crowdcensus -- the two commands of the quick start: `make demo` and `make test`.
# Each creates .venv on a fresh machine (Python >= 3.11 and make are all it needs).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
# Where `make demo` writes the report (override: make demo OUT=somewhere).
OUT    ?= demo-report

.PHONY: demo test install dev lint bench docs clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "crowdcensus needs Python >= 3.11 (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(DEVSTAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(STAMP)

dev: $(DEVSTAMP)

demo: $(STAMP)
	$(BIN)/crowdcensus demo --out $(OUT)

test: $(DEVSTAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q --durations=15

# The documentation site (Sphinx + MyST + numpydoc) into site/; every warning is an error.
docs: $(DEVSTAMP)
	$(BIN)/python -W error::UserWarning -m sphinx -W --keep-going -q -b html docs site
	@echo "site/index.html"

lint: $(DEVSTAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python benchmarks/cli.py
	$(BIN)/python benchmarks/closed.py
	$(BIN)/python benchmarks/mse.py
	$(BIN)/python benchmarks/pipeline.py
	$(BIN)/python benchmarks/pipeline_coverage.py
	$(BIN)/python benchmarks/likelihood.py
	$(BIN)/python benchmarks/synthesis.py
	$(BIN)/python benchmarks/collect.py

clean:
	rm -rf $(VENV) demo-report site .pytest_cache
