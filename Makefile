# Two commands for a new user: `make run` and `make test`. Both build .venv first when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
REGION ?= sample

.PHONY: help setup run test lint lab bench browser clean-outputs

help:
	@echo "make run      build the environment if missing, generate the sample county, run the notebooks, print where outputs are"
	@echo "make test     run the whole test suite (offline)"
	@echo "make lint     check the code style (ruff)"
	@echo "make lab      open JupyterLab on notebooks/ with the project's kernel"
	@echo "make bench    run the benchmarks (prints ratios; not part of the tests)"
	@echo "make browser  install Debian's headless Chromium (for map screenshots)"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/accessibility run --region $(REGION)

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check accessibility tests benchmarks

lab: $(STAMP)
	$(BIN)/python -m ipykernel install --sys-prefix --name accessibility --display-name "Python (accessibility)"
	$(BIN)/jupyter lab --notebook-dir=notebooks

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_engine.py

browser:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y --no-install-recommends chromium fonts-noto-cjk)

clean-outputs:
	rm -rf maps/$(REGION) data/processed/$(REGION) runs/$(REGION)
