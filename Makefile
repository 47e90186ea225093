# Two commands for a newcomer: `make run` and `make test`. Each creates the
# virtual environment and installs Tranche into it on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	@[ -f tranche.db ] || $(BIN)/tranche demo
	$(BIN)/tranche db upgrade
	$(BIN)/tranche serve

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/service_commands.py

clean:
	rm -rf $(VENV) tranche.db tranche.db-wal tranche.db-shm tranche.db-writer.lock
