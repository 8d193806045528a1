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

.PHONY: demo test test-slow bench docs-table docs lint typecheck wheel-check gpu-check install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

DOCS_STAMP := $(VENV)/.installed-docs

$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,docs]'
	touch $(DOCS_STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m analysis.demo --out out

test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

# The API reference (pdoc) into build/api/ (git-ignored); fails on a pdoc warning or a broken reference in a
# docstring. Open build/api/index.html.
docs: $(DOCS_STAMP)
	$(BIN)/python tools/build_docs.py --out build/api

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Build the wheel and use it from a clean venv outside the source tree (console scripts included).
wheel-check: $(STAMP)
	TORCH='$(TORCH)' .ci/wheel-check $(BIN)/python

# The GPU suite: CUDA tests, then the GPU benchmark rows, one table + JSON (gpu-check.json). No install and no
# network: .venv's python if there is one, else the machine's python3 with PYTHONPATH=. (its torch).
# DRY=1 checks that every step resolves (what CI runs); the CUDA parts skip with a reason. GPU_PYTHON=python3
# picks the machine's Python when .venv holds a CPU-only torch.
GPU_PYTHON = $(if $(wildcard $(BIN)/python),$(BIN)/python,python3)
gpu-check:
	PYTHONPATH=. $(GPU_PYTHON) bench/gpu_check.py$(if $(DRY), --dry) --json $(or $(JSON),gpu-check.json)

docs-table: $(STAMP)
	$(BIN)/python -m divkit.symbolic --table > docs/divergences.md

clean:
	rm -rf $(VENV) out build .pytest_cache .hypothesis .ruff_cache .mypy_cache
