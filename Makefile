# One command each for setup, demo, test, lint and bench; CI runs the same ones.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup ui ui-test demo test test-fast test-e2e lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $(STAMP)

UI_BUNDLE := src/kiseki/server/static/index.html
UI_SOURCES := $(shell find ui/src ui/scripts -type f ! -name '*.gen.ts' ! -name openapi.json 2>/dev/null) \
	ui/index.html ui/vite.config.ts ui/tsconfig.json $(wildcard src/kiseki/server/*.py src/kiseki/server/routes/*.py)
NODE_STAMP := ui/node_modules/.installed

$(NODE_STAMP): ui/package-lock.json
	cd ui && npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

# The web app: typed client generated from the server's OpenAPI, bundled into the package.
$(UI_BUNDLE): $(STAMP) $(NODE_STAMP) $(UI_SOURCES)
	$(PY) -m kiseki.server.openapi > ui/src/api/openapi.json
	cd ui && npm run build

ui: $(UI_BUNDLE)  ## build the web app into src/kiseki/server/static (served at /)

setup: $(STAMP) $(UI_BUNDLE)  ## create .venv, install kiseki with its test tools, build the web app

demo: setup  ## train the demo project into ~/.kiseki and serve it on http://127.0.0.1:8765
	$(VENV)/bin/kiseki demo

test: setup  ## the whole default test suite: UI unit tests, then Python (SQLite, PostgreSQL, browser)
	cd ui && npx vitest run
	$(PY) -m pytest -q

ui-test: $(NODE_STAMP)  ## UI unit tests only (vitest)
	$(PY) -m kiseki.server.openapi > ui/src/api/openapi.json
	cd ui && npm run gen && npx vitest run

test-e2e: setup  ## browser tests only (headless Chromium)
	$(PY) -m pytest -q tests/e2e

test-fast: setup  ## everything except PostgreSQL
	$(PY) -m pytest -q -m "not postgres"

lint: setup
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy src/kiseki --ignore-missing-imports

bench: setup  ## benchmarks (figures, not pass/fail); see benchmarks/README.md
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info src/kiseki/server/static ui/node_modules
