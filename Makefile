# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-fast lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml setup.py $(wildcard projections/*.pyx projections/*.pxd projections/clickhouse/*.pyx)
	@PY=$$(command -v $(PYTHON) || command -v python3); \
	if [ ! -x $(BIN)/python ]; then \
	  $$PY -m venv $(VENV) || \
	  { apt-get update -qq && apt-get install -y -qq python3-venv && $$PY -m venv $(VENV); }; \
	fi
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

demo: setup
	$(BIN)/dossier demo --fresh

test: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/pytest -q

test-fast: setup
	$(BIN)/pytest -q tests/unit

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: setup
	$(BIN)/python -m bench.ledger
	$(BIN)/python -m bench.scoring
	$(BIN)/python -m bench.live

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
