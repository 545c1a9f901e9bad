# One virtual environment, made on first use; every target installs what it needs.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run demo test bench lint typecheck clean install

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.11 (apt-get install python3.11 python3.11-venv)"; exit 2; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# With Slack credentials in the environment this serves Slack; without, the terminal demo.
run: $(STAMP)
	$(BIN)/helpdesk run

demo: $(STAMP)
	$(BIN)/helpdesk demo

test: $(STAMP)
	bash scripts/test.sh

bench: $(STAMP)
	bash scripts/bench.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
