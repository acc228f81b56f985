# Two commands for a new user: `make run` and `make test`. Both build .venv first when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
REGION ?= sample
# make lab: no PORT = a browser opens; PORT=8899 = headless on that port (a server, reached
# through an SSH tunnel); IP = the address it listens on (headless default 127.0.0.1).
PORT ?=
IP   ?=
# Debian packages outside pip: headless Chromium (browser tests, map screenshots) and a
# font with Chinese characters (Chinese labels on PNG maps and screenshots).
SYSTEM_PACKAGES := chromium fonts-noto-cjk

.PHONY: help setup run batch test lint lab bench browser clean-outputs

help:
	@echo "make run      build the environment if missing, generate the sample county, run the notebooks, print where outputs are"
	@echo "make batch    every notebook for every unit of REGION (default sample), resumable; see docs/batch.md"
	@echo "make test     run the whole test suite (offline)"
	@echo "make lint     check the code style (ruff)"
	@echo "make lab      open JupyterLab on notebooks/ with the project's kernel (a browser opens)"
	@echo "make lab PORT=8899 [IP=0.0.0.0]  the same headless, for a server: prints the URL with its token"
	@echo "make bench    run the benchmarks (prints ratios; not part of the tests)"
	@echo "make browser  install Debian's headless Chromium and Chinese fonts (browser tests, PNG maps); needs root"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The Python environment, then the Debian packages when they are missing and we may
# install them (root); otherwise a warning says how (`sudo make browser`).
setup: $(STAMP)
	@$(MAKE) --no-print-directory browser || echo "warning: without $(SYSTEM_PACKAGES) the browser tests fail and PNG maps have English labels: run 'sudo make browser'" >&2

run: setup
	$(BIN)/accessibility run --region $(REGION) --notebook all

batch: setup
	$(BIN)/accessibility batch $(REGION)

test: setup
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check accessibility tests benchmarks

# The launcher registers the notebooks' kernel only when missing or bound to another
# Python, and adds --allow-root only as root (see accessibility/lab.py).
lab: $(STAMP)
	$(BIN)/python -m accessibility.lab $(if $(PORT),--port '$(PORT)') $(if $(IP),--ip '$(IP)')

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_engine.py

# Installs only what is missing, with one `apt-get update`; fails (with the command to
# run) when something is missing and this is not root on a Debian-like system.
browser:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing=" chromium"; \
	{ command -v fc-list >/dev/null 2>&1 && fc-list :lang=zh family | grep -q .; } || missing="$$missing fonts-noto-cjk"; \
	if [ -z "$$missing" ]; then echo "chromium and a Chinese font are installed"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing$$missing with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else \
		echo "missing:$$missing; install as root with: sudo make browser (apt-get install$$missing)" >&2; \
		exit 1; \
	fi

clean-outputs:
	rm -rf maps/$(REGION) data/processed/$(REGION) runs/$(REGION)
