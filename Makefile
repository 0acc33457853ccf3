# The two commands of the README: `make demo` (install + run end to end) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME := $(CURDIR)
N ?= 10

.PHONY: install demo test dev lint clean-home

$(BIN)/blast-pipeline: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	# bagpipes writes its IGM absorption grid into site-packages on its first import: do it now.
	$(BIN)/python -c "import bagpipes" > /dev/null
	@touch $@

install: $(BIN)/blast-pipeline

## Install, simulate N transients on the embedded sky, run every workflow, show the results.
demo: install
	$(BIN)/blast-pipeline configure-instance
	$(BIN)/blast-pipeline simulate $(N)
	$(BIN)/blast-pipeline process
	$(BIN)/blast-pipeline list

## Install and run the test suite (SQLite and the local PostgreSQL).
test: install
	$(BIN)/pytest -q

## The Dagster UI and daemon (sensor, schedules) on http://127.0.0.1:3000, Blast's web API on :8000
dev: install
	$(BIN)/blast-pipeline configure-instance  # creates the instance storage once, before the daemon
	$(BIN)/blast-pipeline serve --host 127.0.0.1 --port 8000 & api=$$!; \
	trap "kill $$api" EXIT INT TERM; \
	$(BIN)/dagster dev -h 127.0.0.1 -p 3000

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean-home:
	rm -rf .blast_home
