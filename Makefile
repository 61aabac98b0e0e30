# The two commands of the README:
#   make run   - install into .venv and start the daemon on its embedded default
#   make test  - install into .venv (and, in CI, Dovecot and PostgreSQL) and run the whole test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench install

$(BIN)/mailgate: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[test]'
	touch $(BIN)/mailgate

install: $(BIN)/mailgate

run: install
	$(BIN)/mailgate serve

test: install
	@if [ -n "$$CI" ] && ! command -v dovecot >/dev/null 2>&1; then \
		apt-get update -qq && apt-get install -y -qq dovecot-imapd >/dev/null; fi
	@if [ -n "$$CI" ] && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 \
		&& ! command -v pg_ctl >/dev/null 2>&1; then \
		apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; fi
	$(BIN)/ruff check mailgate tests $(wildcard bench)
	$(BIN)/mypy
	$(BIN)/pytest -q

bench: install
	$(BIN)/python bench/run.py
