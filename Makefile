# Shift Learning — the two set-up commands are `make run` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# uv installs the locked dependency set (uv.lock); uv itself is pinned by hash.
UV_HOME := .uv
UV := $(UV_HOME)/bin/uv
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never

.PHONY: run test lint typecheck bench packs soak i18n clean venv lock check-lock flet-app

$(UV): tools/uv-requirements.txt
	@echo "setup: installing the pinned uv (tools/uv-requirements.txt) into $(UV_HOME)/ ..."
	@test -x $(UV_HOME)/bin/python || $(PY) -m venv $(UV_HOME)
	@$(UV_HOME)/bin/pip install -q --disable-pip-version-check --require-hashes -r tools/uv-requirements.txt
	@touch $(UV)

## check-lock: fail clearly when pyproject.toml and uv.lock disagree (offline check)
check-lock: $(UV)
	@$(UV) lock --check --offline --python $(PY) -q 2>/dev/null || { \
	  echo "setup: pyproject.toml and uv.lock disagree (a dependency was changed in one of them)."; \
	  echo "       Run 'make lock' to update uv.lock on purpose, review the diff, commit both."; \
	  exit 1; }

$(STAMP): pyproject.toml uv.lock $(UV)
	@$(MAKE) --no-print-directory check-lock
	@echo "setup: installing the locked dependencies (uv.lock) into $(VENV)/ ..."
	@$(UV) sync --frozen --extra dev --python $(PY) -q
	@echo "setup: done."
	@touch $(STAMP)

venv: $(STAMP)

## lock: the one deliberate way to change dependencies. `make lock` re-resolves after an
## edit of pyproject.toml keeping every other pin; `make lock UPGRADE=all` (or a package
## name) upgrades on purpose.
lock: $(UV)
	$(UV) lock --python $(PY) $(if $(UPGRADE),$(if $(filter all,$(UPGRADE)),--upgrade,--upgrade-package $(UPGRADE)))

## run: sync server + Flet app (web) with the sample packs, embedded defaults.
## Other ports: make run APP_PORT=8551 SERVER_PORT=8701 (or SHIFT_APP_PORT / SHIFT_SERVER_PORT)
run: $(STAMP)
	$(BIN)/python -m tools.run_all $(if $(APP_PORT),--app-port $(APP_PORT)) $(if $(SERVER_PORT),--server-port $(SERVER_PORT))

## test: the whole suite (browser / PostgreSQL tests run when available; skips are explained)
## on TEST_JOBS processes (pytest-xdist; the machine's cores, at most 4; tests/conftest.py
## keeps each file, and all browser tests, on one). `make test TEST_JOBS=1` (or
## SHIFT_TEST_JOBS=1): one process.
TEST_JOBS ?= $(or $(SHIFT_TEST_JOBS),$(shell n=$$(nproc 2>/dev/null || echo 1); echo $$(( n > 4 ? 4 : n ))))
test: $(STAMP) check-lock
	$(BIN)/python tools/test_env.py
	$(BIN)/python -m pytest $(if $(filter-out 0 1,$(TEST_JOBS)),-n $(TEST_JOBS) --dist loadfile --no-loadscope-reorder) $(PYTEST_ARGS)

## lint: ruff, then the type check
lint: $(STAMP) typecheck
	$(BIN)/ruff check .

## typecheck: mypy over app/, sync_server/ and tools/ ([tool.mypy] in pyproject.toml; app/core strict)
typecheck: $(STAMP)
	$(BIN)/mypy

## bench: every benchmark with a target in one table (benchmarks/table.py; docs/benchmarks.md);
## `make bench QUICK=1` is a smaller smoke run
bench: $(STAMP)
	$(BIN)/python benchmarks/table.py $(if $(QUICK),--quick)

packs: $(STAMP)
	$(BIN)/python -m tools.build_packs --strict

soak: $(STAMP)
	SHIFT_SOAK=1 $(BIN)/python -m pytest -m slow tests/integration/test_store_crash.py -k soak

i18n: $(STAMP)
	$(BIN)/python -m tools.i18n

## flet-app: the `flet build` project of the device app in build/flet-app/ (docs/deployment.md)
flet-app: $(STAMP)
	$(BIN)/python -m tools.flet_project

clean:
	rm -rf $(VENV) $(UV_HOME) var test-artifacts .pytest_cache
