# Two commands for a fresh machine: `make run` (the demo server) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
STORAGE ?= sqlite:///suolink.db
PYTEST_ARGS ?= -n 2

.PHONY: run test lint typecheck docs unit bench system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# System libraries the tests use; installed only when missing and when we are root.
system-deps:
	@bash scripts/system-deps.sh

run: $(STAMP)
	$(BIN)/suolink serve --host $(HOST) --port $(PORT) --storage $(STORAGE) --allow-anonymous

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir build/site

unit: $(STAMP) system-deps
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck docs unit

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_core.py

clean:
	rm -rf $(VENV) build site .pytest_cache .mypy_cache .ruff_cache .hypothesis
