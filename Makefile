# The two commands a newcomer needs: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
# `make bench` runs every benchmark; BENCH_ARGS="--all --quick" for a smaller run.
BENCH_ARGS ?= --all
PORT ?= 8000

.PHONY: run demo test lint bench install install-dev clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# The site and its background worker; stopping the site (Ctrl+C) stops the worker too.
run: $(VENV)/.installed
	$(BIN)/nextwork setup
	$(BIN)/nextwork worker & trap 'kill $$! 2>/dev/null' EXIT INT TERM; \
	$(BIN)/nextwork serve --host $(HOST) --port $(PORT)

demo: $(VENV)/.installed
	$(BIN)/nextwork setup
	$(BIN)/nextwork demo
	$(BIN)/nextwork worker & trap 'kill $$! 2>/dev/null' EXIT INT TERM; \
	$(BIN)/nextwork serve --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var build *.egg-info
