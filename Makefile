# minplt — the commands people type. Each target sets up .venv itself when missing.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
# (numba keeps compiled kernels in .venv/numba-cache: minplt sets that itself, so the
# same cache serves `make` and `.venv/bin/python -m minplt`)
export MPLBACKEND ?= Agg

.PHONY: help demo test test-nojit bench lessons lab readme figures clean venv

## List these targets (make help).
help:
	@awk '/^## /{doc = doc (doc ? "\n                " : "") substr($$0, 4); next} \
	     /^[a-z][a-z-]*:/{if (doc) {split($$0, t, ":"); printf "  make %-8s %s\n", t[1], doc}; doc = ""; next} \
	     {doc = ""}' $(MAKEFILE_LIST)
	@echo "  (MINPLT_FAST=1 before make lessons or make test: the quick version of the lessons)"

## Create .venv and install minplt with its dev tools (every target does this when needed).
venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

## The main job: train vanilla, loop-2 and PLT-2 on built-in data and compare them.
## Run again, it reuses the trained models (and continues an interrupted run);
## ARGS=--overwrite trains them anew.
demo: $(STAMP)
	$(BIN)/python -m minplt demo $(or $(ARGS),--resume)

## The whole suite: unit tests, notebooks, a quick bench; then the kernel tests once more
## as plain Python (NUMBA_DISABLE_JIT=1), so the kernels are also checked without JIT.
test: $(STAMP)
	$(BIN)/python -m pytest -q
	$(MAKE) --no-print-directory test-nojit

test-nojit: $(STAMP)
	NUMBA_DISABLE_JIT=1 $(BIN)/python -m pytest -q -m kernels

## Decode latency, KV-cache bytes, the batch sweep, the products of R rows and training
## throughput (see docs/performance.md; 10-14 minutes on a 2-core Zen 3 machine).
bench: $(STAMP)
	$(BIN)/python -m minplt bench --batch 1,2,4,8,16,32

LESSON  ?=
LESSONS  = $(if $(LESSON),$(foreach n,$(LESSON),$(wildcard lessons/$(n)*.py)),$(wildcard lessons/[0-9][0-9]_*.py))

## Re-execute the lessons from their .py sources into their .ipynb, with outputs,
## printing each cell as it ends (LESSON=03 for one). With MINPLT_FAST=1: the quick
## version, written to out/lessons/ (the committed outputs are not touched).
lessons: $(STAMP)
	$(if $(LESSONS),,$(error no lesson in lessons/ matches LESSON="$(LESSON)"; use its number, e.g. LESSON=03))
	$(BIN)/python -m visualizations.run_notebooks $(LESSONS)

## Open the lessons in JupyterLab from .venv (installs the lessons extra the first time).
lab: $(STAMP)
	test -x $(BIN)/jupyter-lab || $(BIN)/python -m pip install -q -e ".[dev,lessons]"
	env -u MPLBACKEND $(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) lessons/

## Copy the results of the last demo, hops, ablate and bench runs (out/*/results.md)
## into docs/findings.md and docs/performance.md.
readme: $(STAMP)
	$(BIN)/python -m minplt.readme

## Render the figures of the README and docs/ into visualizations/figures/ (the hops
## figures too when out/hops/results.json or out/hops-staircase/results.json exists:
## run `python -m minplt hops` first).
figures: $(STAMP)
	$(BIN)/python -m visualizations.render_all
	$(if $(wildcard out/hops/results.json),$(BIN)/python -m visualizations.render_all --hops out/hops/results.json)
	$(if $(wildcard out/hops-staircase/results.json),$(BIN)/python -m visualizations.render_all --hops out/hops-staircase/results.json)

## Remove .venv, the pytest cache and out/ (quick lesson runs, bench output).
clean:
	rm -rf $(VENV) .pytest_cache out
