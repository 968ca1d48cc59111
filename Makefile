# Two commands matter: `make run` and `make test`. Everything else is a helper.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint types check openapi clean help

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/ -/'

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

run: $(STAMP)  ## migrate, load demo data if empty, serve on http://127.0.0.1:8787
	$(BIN)/rtk-sessions serve --demo-if-empty

test: $(STAMP)  ## the whole suite: lint, SQLite, then PostgreSQL when reachable
	$(BIN)/ruff check src tests
	$(BIN)/mypy
	$(BIN)/python -m pytest
	$(BIN)/python tests/run_postgres.py

lint: $(STAMP)  ## ruff and mypy
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

openapi: $(STAMP)  ## regenerate the committed docs/openapi.json
	$(BIN)/rtk-sessions openapi > docs/openapi.json

clean:
	rm -rf $(VENV) data .pytest_cache
