# One virtual environment, made on first use; every target installs what it needs.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run demo test bench lint typecheck clean install lock image-smoke messages

# The development install stays within the image's pins (requirements/image.lock, hashes
# stripped: an editable install cannot be hash-checked), so the tests run what the image ships.
$(STAMP): pyproject.toml requirements/image.lock
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.11 (apt-get install python3.11 python3.11-venv)"; exit 2; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	sed -n 's/^\([A-Za-z0-9._-]*==[^ ]*\).*/\1/p' requirements/image.lock > $(VENV)/constraints.txt
	$(BIN)/python -m pip install --quiet -c $(VENV)/constraints.txt -e '.[dev,demo,otel]'
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

# The image's pinned, hashed dependencies (requirements/), from pyproject.toml: rerun after
# changing a dependency or to take updates; tests/deploy checks the two agree.
lock: $(STAMP)
	bash scripts/lock.sh

# Build the image on a local Debian base and run it against the local PostgreSQL (needs
# root, podman and debootstrap: the script says what is missing). Not part of `make test`.
image-smoke: $(STAMP)
	bash scripts/image-smoke.sh

# Extract the texts the code says (t, tn, N_) into config/locales/helpdesk.pot and update
# every language's catalogue from it; then translate what it reports as untranslated.
messages: $(STAMP)
	$(BIN)/python -m config.catalogues

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
