# Watchkeeper: `make run` starts it with embedded defaults; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
DATA ?= data
BIN := $(VENV)/bin
# PyTorch for the deep detectors: this exact release is the CPU build the CI machine holds.
TORCH ?= torch==2.13.0

.PHONY: run test lint typecheck bench-api clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.run-deps: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.test-deps: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e '.[dev,ml,deep,prophet]'
	touch $@

run: $(VENV)/.run-deps
	@test -f $(DATA)/watchkeeper.yaml || $(BIN)/watchkeeper init --data-dir $(DATA)
	@echo "Watchkeeper on http://127.0.0.1:8000 — API docs at /docs, log in as admin with the password printed at init"
	$(BIN)/watchkeeper serve --config $(DATA)/watchkeeper.yaml

test: $(VENV)/.test-deps
	@scripts/system-deps.sh || echo "warning: could not install Debian packages; tests that need them will skip"
	PYTEST=$(BIN)/pytest scripts/test-in-parts.sh

# lint-imports checks this tree's src/ (PYTHONPATH), whichever checkout the venv was installed from.
lint:
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
	PYTHONPATH=src $(BIN)/lint-imports

typecheck:
	$(BIN)/mypy

bench-api: $(VENV)/.test-deps
	$(BIN)/python bench/api.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
