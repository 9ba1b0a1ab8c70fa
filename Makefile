# The two commands of the README: `make run` and `make test`. Everything they need is
# installed here, into .venv, from PyPI (and Debian packages where noted).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check --quiet
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test install install-dev bench bench-promotions bench-engine bench-operations clean

$(VENV)/.runtime: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime pyproject.toml
	$(PIP) install -e '.[dev]'
	touch $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

## Install and serve both APIs on the embedded SQLite default (./.cielo/).
run: install
	$(VENV)/bin/cielo serve --host $(HOST) --port $(PORT)

## Install and run the whole test suite (SQLite always; PostgreSQL and Redis when reachable;
## browser tests in Debian's chromium, installed here when missing).
test: install-dev
	./scripts/install-system-packages.sh chromium
	$(PY) -m pytest -n auto -p no:cacheprovider $(PYTEST_ARGS)

## Benchmarks (on demand, not part of the tests); wrk comes from Debian's packages.
bench: install-dev
	./scripts/install-system-packages.sh wrk
	$(PY) benchmarks/whitelabel.py

## The promotions search over a million establishments (seeds once into benchmarks/.data/;
## PostgreSQL when reachable; Stoplight Prism from npm for comparison).
bench-promotions: install-dev
	./scripts/install-system-packages.sh wrk
	$(PY) benchmarks/promotions.py --postgres $${CIELO_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/test} --prism

## Transaction ingestion through the campaign engine against plain inserts, and /me/transactions.
bench-engine: install-dev
	./scripts/install-system-packages.sh wrk
	$(PY) benchmarks/engine.py --postgres $${CIELO_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/test}

## Every GET operation of both APIs and the subscription POST, each next to the bare FastAPI
## endpoint and Stoplight Prism (npm): SQLite with 1 worker, PostgreSQL with 2 when reachable.
bench-operations: install-dev
	./scripts/install-system-packages.sh wrk
	$(PY) benchmarks/operations.py --postgres $${CIELO_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/test}

clean:
	rm -rf $(VENV) .cielo build *.egg-info
