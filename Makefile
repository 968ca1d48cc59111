# Two commands matter: `make run` and `make test`. Everything else is a helper.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint lock openapi clean help

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/ -/'

LOCK := requirements.txt
UV := uv==0.13.9

# Installs come from the committed lock only, so a new release of any dependency cannot
# change what a fresh clone runs: --no-deps installs exactly its pins and nothing else, and
# `pip check` fails the install if the lock ever lacks a dependency. `make lock` is the one
# way to move the pins.
$(STAMP): pyproject.toml $(LOCK) requirements-build.txt
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements-build.txt
	$(BIN)/pip install -q --no-deps -r $(LOCK)
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	$(BIN)/pip check
	touch $(STAMP)

run: $(STAMP)  ## migrate, load demo data if empty, serve on http://127.0.0.1:8787
	$(BIN)/rtk-sessions serve --demo-if-empty

# Tests run in TEST_WORKERS processes (pytest-xdist): most of their time is spent waiting for
# servers and workers they start, so two processes on two cores finish in about a third. Tests
# that measure the server's latency (marked `serial`) run afterwards, alone.
TEST_WORKERS ?= 2
PYTEST_STAGES := $(BIN)/python tests/run_stages.py -n $(TEST_WORKERS)

# Every stage runs even when an earlier one failed; the target fails at the end if any did.
test: $(STAMP)  ## the whole suite: lint, SQLite, then PostgreSQL when reachable
	@failed=""; \
	$(BIN)/ruff check src tests bench || failed="$$failed ruff"; \
	$(BIN)/mypy || failed="$$failed mypy"; \
	$(BIN)/lint-imports --no-logo || failed="$$failed lint-imports"; \
	$(PYTEST_STAGES) || failed="$$failed sqlite"; \
	$(BIN)/python tests/run_postgres.py -n $(TEST_WORKERS) || failed="$$failed postgresql"; \
	if [ -n "$$failed" ]; then echo "FAILED stages:$$failed" >&2; exit 1; fi; \
	echo "all stages passed"

lint: $(STAMP)  ## ruff, mypy and the import contracts
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo

lock: $(STAMP)  ## re-resolve requirements.txt to the newest versions pyproject.toml allows
	$(BIN)/pip install -q $(UV)
	$(BIN)/uv pip compile pyproject.toml --extra test --python-version 3.11 --universal \
		--upgrade -o $(LOCK)
	@echo "review 'git diff $(LOCK)', run 'make test', then commit both"

openapi: $(STAMP)  ## regenerate the committed docs/openapi.json
	$(BIN)/rtk-sessions openapi > docs/openapi.json

clean:
	rm -rf $(VENV) data .pytest_cache
