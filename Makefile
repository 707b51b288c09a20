# Two commands: `make demo` and `make test`. Everything else is set up on the way.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The lock tests run again on these PostgreSQL majors (the oldest and newest supported; the
# main run uses the system's), with server builds fetched by scripts/pg-versions.
PG_VERSIONS ?= 12 18
ALL_PG_VERSIONS := 12 13 14 15 16 17 18
LOCK_TESTS := tests/functional/test_locks_*.py

.PHONY: demo test test-unit test-js test-locks test-versions lint typecheck check system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

system-deps:
	@./scripts/system-deps

demo: system-deps $(STAMP)
	$(BIN)/pgwarden demo

test: system-deps $(STAMP) temboard-ui
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	@# fetched first: the clone-anywhere test then finds them in npm's cache, offline
	@$(BIN)/python scripts/pg-versions $(PG_VERSIONS) >/dev/null
	@$(MAKE) --no-print-directory test-js
	$(BIN)/pytest
	@$(MAKE) --no-print-directory test-locks VERSIONS="$(PG_VERSIONS)"

# Pure logic only: no PostgreSQL needed, a few seconds.
test-unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

# The web page's pure modules (src/pgwarden/web/js/logic, history/model.js), under Node's test runner.
test-js:
	node --test tests/js/

# make test-locks VERSIONS="13 16": the lock tests on each of those majors
test-locks: $(STAMP)
	@for v in $(VERSIONS); do \
	    bindir=$$($(BIN)/python scripts/pg-versions --bindir $$v) || exit 1; \
	    echo "== lock tests on PostgreSQL $$v ($$bindir)"; \
	    PGWARDEN_PGBIN=$$bindir $(BIN)/pytest -q $(LOCK_TESTS) || exit 1; \
	done

test-versions: $(STAMP)
	@$(MAKE) --no-print-directory test-locks VERSIONS="$(ALL_PG_VERSIONS)"

# The real temBoard UI 7.11 in a Python 3.11 venv under .temboard/, for tests/e2e; made once.
# Without a Python 3.11 it says so, and the test that needs it skips.
temboard-ui:
	@./scripts/temboard-venv ui >/dev/null || [ $$? = 3 ]

# The restated temboard-agent 7.11 activity tests against pgwarden and against
# temboard-agent 7.11 itself (installed from the package index): pass/fail counts of both.
temboard-agent-control: $(STAMP)
	$(BIN)/python scripts/temboard-agent-control

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache .pgversions .temboard
