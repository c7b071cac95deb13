SHELL := /bin/bash
# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MANIFEST := transforms/target/manifest.json
DBT_SOURCES := $(shell find transforms -path transforms/target -prune -o \( -name '*.sql' -o -name '*.yml' -o -name '*.csv' \) -print)

.PHONY: install demo test ui serve lint manifest clean chromium redis

install: $(STAMP) $(MANIFEST)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock 2> >(grep -v "is ignored: it is neither" >&2)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

# dagster-dbt reads the dbt manifest when the code location loads; it is built here, never committed.
$(MANIFEST): $(STAMP) $(DBT_SOURCES)
	$(BIN)/python -c "from orchestration.lib.env import configure_environment; configure_environment(); \
	from orchestration.lib.dbt_project import ensure_manifest; ensure_manifest()"
	touch $(MANIFEST)

manifest: $(MANIFEST)

demo: install redis
	$(BIN)/tailor demo

test: install chromium redis
	$(BIN)/python -m pytest -q

# The governance browser test drives Debian's Chromium (`playwright install` cannot download
# browsers here). Idempotent: apt runs only when the binary is missing (CI's clean clone, as root).
CHROMIUM := /usr/bin/chromium
chromium: $(CHROMIUM)

$(CHROMIUM):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

# The event stream and online profiles run on Debian's redis-server (started per home by
# `tailor serve` / `tailor stream-worker`, per test by the tests). Idempotent, as chromium.
REDIS := /usr/bin/redis-server
redis: $(REDIS)

$(REDIS):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server

ui: install
	$(BIN)/tailor ui

serve: install redis
	$(BIN)/tailor serve

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf .tailor transforms/target transforms/logs
