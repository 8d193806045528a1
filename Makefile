# The README's two commands: `make demo` and `make test`. Each creates .venv if missing and installs the
# project (editable, with the dev extra) before running.
#
# TORCH: the torch requirement installed first. The default is the CPU build that lies on this project's
# machines (a plain `torch` would pull multi-GB CUDA wheels on a CPU-only box). GPU users override it, e.g.
#   make test TORCH='torch --index-url https://download.pytorch.org/whl/cu124'
PYTHON ?= $(shell command -v python3.11 || command -v python3)
TORCH  ?= torch==2.13.0
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-slow bench docs-table install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m analysis.demo --out out

test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

docs-table: $(STAMP)
	$(BIN)/python -m divkit.symbolic --table > docs/divergences.md

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
