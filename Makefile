# The two commands of the README:
#   make run   - install into .venv (the daemon's dependencies only) and start the daemon on
#                its embedded default
#   make test  - install into .venv with the test tools (and, in CI, Dovecot and PostgreSQL)
#                and run the whole test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench install install-test

$(BIN)/mailgate: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q -e .
	touch $(BIN)/mailgate

$(BIN)/pytest: pyproject.toml $(BIN)/mailgate
	$(BIN)/pip install -q -e '.[test]'
	touch $(BIN)/pytest

install: $(BIN)/mailgate

install-test: $(BIN)/pytest

run: install
	$(BIN)/mailgate serve

test: install-test
	@if [ -n "$$CI" ] && ! command -v dovecot >/dev/null 2>&1; then \
		apt-get update -qq && apt-get install -y -qq dovecot-imapd >/dev/null; fi
	@if [ -n "$$CI" ] && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 \
		&& ! command -v pg_ctl >/dev/null 2>&1; then \
		apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; fi
	$(BIN)/ruff check mailgate tests $(wildcard bench) $(wildcard tools)
	$(BIN)/mypy
	$(BIN)/pytest -q

bench: install-test
	$(BIN)/python bench/run.py
