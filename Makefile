# One command each for setup, demo, test, lint and bench; CI runs the same ones.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-fast lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)  ## create .venv and install kiseki with its test tools

demo: setup  ## train the demo project into ~/.kiseki and serve it on http://127.0.0.1:8765
	$(VENV)/bin/kiseki demo

test: setup  ## the whole default test suite (SQLite and PostgreSQL)
	$(PY) -m pytest -q

test-fast: setup  ## everything except PostgreSQL
	$(PY) -m pytest -q -m "not postgres"

lint: setup
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy src/kiseki --ignore-missing-imports

bench: setup  ## benchmarks (figures, not pass/fail); see benchmarks/README.md
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
