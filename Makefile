# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-fast test-clocks lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml setup.py tests/typecheck/package-lock.json $(wildcard projections/*.pyx projections/*.pxd projections/clickhouse/*.pyx)
	@PY=$$(command -v $(PYTHON) || command -v python3); \
	if [ ! -x $(BIN)/python ]; then \
	  $$PY -m venv $(VENV) || \
	  { apt-get update -qq && apt-get install -y -qq python3-venv && $$PY -m venv $(VENV); }; \
	fi
	$(BIN)/python -m pip install -q --upgrade pip
	# grafana-client pulls niquests -> urllib3-future, whose wheel overwrites urllib3/ and
	# breaks the libraries that import urllib3: build it from source, keeping urllib3 whole.
	URLLIB3_NO_OVERRIDE=1 $(BIN)/python -m pip install -q --no-binary urllib3-future \
	  -e '.[dev]'
	@# @grafana/schema and TypeScript (pinned in tests/typecheck) type-check the dashboards.
	@command -v npm >/dev/null 2>&1 || { apt-get update -qq && \
	  apt-get install -y -qq nodejs npm >/dev/null; }
	npm ci --prefix tests/typecheck --no-audit --no-fund --silent
	@command -v faketime >/dev/null 2>&1 || { apt-get update -qq && \
	  apt-get install -y -qq faketime >/dev/null; } || \
	  echo "faketime not installed: make test-clocks will not run"
	@# The live page's browser tests drive Debian's chromium (Playwright downloads nothing).
	@[ -x /usr/bin/chromium ] || { apt-get update -qq && \
	  apt-get install -y -qq chromium >/dev/null; } || \
	  echo "chromium not installed: the page's browser tests will skip"
	@touch $(STAMP)

demo: setup
	$(BIN)/dossier demo --fresh

test: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/pytest -q

# The whole suite again under a faked system clock (libfaketime, inherited by every process
# the tests start): no test may depend on the day or hour it runs. CLOCK is UTC; the default
# is Sunday 3 January 2027, 01:00 in Vietnam.
CLOCK ?= 2027-01-02 18:00:00
test-clocks: setup
	TZ=UTC faketime '$(CLOCK)' $(BIN)/pytest -q -p no:cacheprovider

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
	$(BIN)/python -m bench.api
	$(BIN)/python -m bench.scale
	$(BIN)/python -m bench.kafka

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
