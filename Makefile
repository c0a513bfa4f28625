# Two commands for a fresh machine: `make run` (the demo server) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
STORAGE ?= sqlite:///suolink.db
# loadgroup: each docs page's examples (tests/docs) run on one worker, once.
PYTEST_ARGS ?= -n 2 --dist loadgroup --durations=40
# The Django ORM backend also runs on a throwaway PostgreSQL server when its binaries are
# installed (they are on Debian with the postgresql package); otherwise those tests skip.
SUOLINK_TEST_POSTGRES ?= start
export SUOLINK_TEST_POSTGRES
# The mysql:// backend runs on a throwaway MariaDB server (Debian's mariadb-server,
# installed by system-deps); without its binaries those rows skip.
SUOLINK_TEST_MARIADB ?= start
export SUOLINK_TEST_MARIADB

.PHONY: run test lint typecheck docs unit wheel-test browser test-postgres bench system-deps clean

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

# Not --quiet: mkdocs then logs only errors, so --strict never sees a warning (a broken
# link passed that way until session 8).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir build/site

unit: $(STAMP) system-deps
	$(BIN)/pytest $(PYTEST_ARGS)

# The real-browser suite alone (Chromium via Playwright; screenshots in build/artifacts/).
browser: $(STAMP) system-deps
	$(BIN)/pytest tests/browser -q

# The Django ORM backend and app on PostgreSQL alone: uses SUOLINK_TEST_POSTGRES_URL if
# set, else starts a throwaway server from the installed PostgreSQL binaries (as the
# postgres user when root). `make unit` runs these too.
test-postgres: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS) tests/backends tests/adapters/django -k postgres

# The built sdist and wheel, installed with each extra into its own fresh virtual
# environment (kept in build/wheel-smoke/venvs/ while the dependencies stay the same).
wheel-test: $(STAMP)
	PYTHON=$(PYTHON) BUILD_PYTHON=$(BIN)/python bash scripts/wheel-smoke.sh

# The wheel smoke (fresh environments per extra, their checks and doc examples) runs
# beside the unit tests at a lower CPU priority, filling the gaps where tests wait on
# servers and subprocesses instead of adding its own minutes after them; its log is
# printed at the end. (At nice 19 pytest took as long, and the smoke half as long again.)
test: lint typecheck docs system-deps
	@mkdir -p build; status=0; \
	nice -n 10 $(MAKE) --no-print-directory wheel-test >build/wheel-test.log 2>&1 & smoke=$$!; \
	$(MAKE) --no-print-directory unit || status=$$?; \
	wait $$smoke || status=$$((status ? status : 1)); \
	cat build/wheel-test.log; \
	if [ $$status -ne 0 ]; then echo "make test: FAILED"; fi; exit $$status

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_core.py

clean:
	rm -rf $(VENV) build site .pytest_cache .mypy_cache .ruff_cache .hypothesis
