# Set-up and the two everyday jobs. `make quickstart` and `make test` each set up a fresh machine first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch; GPU machines keep whatever torch the package's range allows.
TORCH_CPU ?= torch==2.13.0

.PHONY: setup quickstart reproduce test lint benchmark docs docs-build

$(BIN)/jasper-tc: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@if command -v nvidia-smi >/dev/null 2>&1; then echo "GPU found: torch comes from the package's range"; \
	else $(BIN)/pip install --quiet "$(TORCH_CPU)"; fi
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@

setup: $(BIN)/jasper-tc

quickstart: setup
	HF_HUB_OFFLINE=1 $(BIN)/jasper-tc quickstart

reproduce: setup  # the report's claims at CPU scale (about 110 minutes on 2 cores): rewrites docs/reproduction.md
	HF_HUB_OFFLINE=1 $(BIN)/jasper-tc reproduce

test: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check src tests benchmarks && $(BIN)/ruff format --check src tests benchmarks

benchmark: setup
	$(BIN)/python benchmarks/compression_speed.py

docs: setup  # the documentation site at http://127.0.0.1:8000, rebuilt on every change
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

docs-build: setup  # the site into site/, failing on any broken link or reference (the tests run it too)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict
