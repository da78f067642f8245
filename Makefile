# Tender: reproducible entry points. `make help` lists them.
#
#   make reproduce   create .venv if needed, run every notebook with params/PROFILE/ into outputs/PROFILE/
#   make test        create .venv if needed, run the unit tests and `pytest --nbval` on the notebooks,
#                    one worker per core (TEST_JOBS)
#   make check-portable   the suite from a fresh clone of HEAD twice: AVX2 kernels on 1 thread, then the CPU's own
#   make notebooks   re-execute the committed notebooks in place (smoke defaults), strip metadata
#   make env         create or update .venv (re-installs only when pyproject.toml changed)
#   make lab         create .venv if needed, open JupyterLab on notebooks/ (LAB_ARGS, e.g. --no-browser --port 8890)
#
# Variables: PROFILE (default: default), JOBS (runs side by side in make reproduce; default: the
# CPU count), NOTEBOOKS (make reproduce: these notebook files only, e.g.
# NOTEBOOKS="notebooks/0[1-4]*.ipynb"; default: every notebook), CELL_TIMEOUT (seconds per
# notebook cell, 0 = none; default 1800 for make test and make notebooks, none for make
# reproduce, whose runs are cached and resumable), PYTEST_ARGS (extra pytest arguments, e.g.
# PYTEST_ARGS="-k params -x"), TEST_JOBS (make test: pytest-xdist workers, each a notebook or test
# file at a time; default: the CPU count; 0: no workers, everything in one process).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

VENV := .venv
PY := $(VENV)/bin/python
# Written after a successful install; older than pyproject.toml -> install again.
STAMP := $(VENV)/.tender-installed

PROFILE ?= default
JOBS ?=
NOTEBOOKS ?=
# make reproduce has no cell limit unless CELL_TIMEOUT is given on the command line or in the environment
REPRODUCE_TIMEOUT := $(if $(filter command line environment,$(origin CELL_TIMEOUT)),$(CELL_TIMEOUT),0)
CELL_TIMEOUT ?= 1800
PYTEST_ARGS ?=
TEST_JOBS ?= auto
LAB_ARGS ?=

# Stored notebook outputs must compare equal run to run: no progress bars in headless runs.
export TQDM_DISABLE := 1

.PHONY: help env lab reproduce test check-portable notebooks strip clean-env

help:
	@sed -n 's/^#   \(make .*\)/\1/p' $(firstword $(MAKEFILE_LIST))
	@echo "Variables: PROFILE=$(PROFILE) JOBS=$(JOBS) CELL_TIMEOUT=$(CELL_TIMEOUT) PYTEST_ARGS=$(PYTEST_ARGS) TEST_JOBS=$(TEST_JOBS)"

env: $(STAMP)

# python3.11, else python3 if it is 3.11. The venv is rebuilt if its interpreter is broken.
$(STAMP): pyproject.toml
	@if ! $(PY) -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null; then \
	  boot=""; \
	  for cand in python3.11 python3; do \
	    if command -v $$cand >/dev/null 2>&1 && \
	       $$cand -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then \
	      boot=$$cand; break; \
	    fi; \
	  done; \
	  if [ -z "$$boot" ]; then echo "error: Python 3.11 is required (python3.11, or python3 being 3.11)" >&2; exit 1; fi; \
	  echo "creating $(VENV) with $$(command -v $$boot) ($$($$boot --version))"; \
	  rm -rf $(VENV); \
	  $$boot -m venv $(VENV); \
	fi
	$(PY) -m pip install --progress-bar off -e '.[dev]'
	@touch $@

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(LAB_ARGS)

reproduce: $(STAMP)
	$(PY) -m tenderlib.notebooks reproduce --profile $(PROFILE) --timeout $(REPRODUCE_TIMEOUT) $(if $(JOBS),--jobs $(JOBS)) $(NOTEBOOKS)

test: $(STAMP)
	$(PY) -m pytest -n $(TEST_JOBS) --dist loadscope --nbval --nbval-cell-timeout=$(if $(filter 0,$(CELL_TIMEOUT)),100000,$(CELL_TIMEOUT)) $(PYTEST_ARGS)

check-portable:
	bash tests/check_portable.sh $(PYTEST_ARGS)

notebooks: $(STAMP)
	$(PY) -m tenderlib.notebooks refresh --timeout $(CELL_TIMEOUT)

strip: $(STAMP)
	$(PY) -m tenderlib.notebooks strip

clean-env:
	rm -rf $(VENV) tenderlib.egg-info
