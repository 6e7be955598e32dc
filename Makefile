# jwtkeep developer entry points. Needs only Python 3.11+ and make; everything else is
# installed into .venv by these targets.
#
#   make run     install jwtkeep into .venv, `jwtkeep init`, `jwtkeep serve` (HTTPS, SQLite)
#   make test    install the dev dependencies into .venv, run the whole test suite
#   make check   format check, lint, type check, layering check, then the tests
#   make bench   run every bench/bench_*.py
#
# Installs rerun only when pyproject.toml changes (stamp files in .venv/).

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
# The first of these that is Python 3.11 or newer (override: make PYTHON=/path/to/python3.12).
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	2>/dev/null && { echo $$p; break; }; done)

BASE_STAMP := $(VENV)/.installed-base
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: help run test check bench clean python-version

help:
	@sed -n 's/^#   //p' Makefile

python-version:
	@if [ -z "$(PYTHON)" ] || ! $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then \
		echo "error: jwtkeep needs Python 3.11 or newer; none found as python3, python3.13," \
		     "python3.12 or python3.11 (PYTHON='$(PYTHON)'). Install one, or run" \
		     "'make PYTHON=/path/to/python3.11 ...'." >&2; \
		exit 1; \
	fi

$(BIN)/python: | python-version
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The server (`pip install 'jwtkeep[server]'`): enough to run it. (`pip install jwtkeep`
# alone is the SDK and `jwtkeep token inspect`; tests/test_install.py checks that install.)
$(BASE_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[server]'
	@touch $@

# The package with every extra and the test/lint tools (also satisfies the base install).
$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(BASE_STAMP)

run: $(BASE_STAMP)
	$(BIN)/jwtkeep init
	$(BIN)/jwtkeep serve

# pytest's own exit status is kept in .venv/pytest-status for .ci/run; exit 5 ("no tests
# ran") is a failure like any other.
test: $(DEV_STAMP)
	@status=0; $(BIN)/python -m pytest $(PYTEST_ARGS) || status=$$?; \
		echo $$status > $(VENV)/pytest-status; exit $$status

check: $(DEV_STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy --strict src tests
	$(BIN)/lint-imports
	$(MAKE) --no-print-directory test

bench: $(DEV_STAMP)
	@shopt -s nullglob; benches=(bench/bench_*.py); \
	if [ $${#benches[@]} -eq 0 ]; then echo "no bench/bench_*.py yet"; exit 0; fi; \
	for bench in "$${benches[@]}"; do \
		echo "== $$bench"; $(BIN)/python "$$bench" || exit $$?; \
	done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
