# Shift Learning — the two set-up commands are `make run` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench packs soak i18n clean venv

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

## run: sync server + Flet app (web) with the sample packs, embedded defaults
run: $(STAMP)
	$(BIN)/python -m tools.run_all

## test: the whole suite (browser / PostgreSQL tests run when available; skips are explained)
test: $(STAMP)
	$(BIN)/python tools/test_env.py
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

packs: $(STAMP)
	$(BIN)/python -m tools.build_packs

soak: $(STAMP)
	SHIFT_SOAK=1 $(BIN)/python -m pytest -m slow tests/integration/test_store_crash.py -k soak

i18n: $(STAMP)
	$(BIN)/python -m tools.i18n

clean:
	rm -rf $(VENV) var test-artifacts .pytest_cache
