# minplt — the commands people type. Each target sets up .venv itself when missing.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
# numba keeps compiled kernels here (cache=True), so a second run starts fast
export NUMBA_CACHE_DIR ?= $(CURDIR)/.venv/numba-cache
export MPLBACKEND ?= Agg

.PHONY: demo test test-nojit bench lessons figures clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

## The main job: train vanilla, loop-2 and PLT-2 on built-in data and compare them.
demo: $(STAMP)
	$(BIN)/python -m minplt demo

## The whole suite: unit tests, notebooks, a quick bench; then the kernel tests once more
## as plain Python (NUMBA_DISABLE_JIT=1), so the kernels are also checked without JIT.
test: $(STAMP)
	$(BIN)/python -m pytest -q
	$(MAKE) --no-print-directory test-nojit

test-nojit: $(STAMP)
	NUMBA_DISABLE_JIT=1 $(BIN)/python -m pytest -q -m kernels

## Decode latency, KV-cache bytes and training throughput (see README, Performance).
bench: $(STAMP)
	$(BIN)/python -m minplt bench

## Re-execute every lesson notebook in place (outputs are committed).
lessons: $(STAMP)
	$(BIN)/python -m visualizations.run_notebooks lessons/*.ipynb

## Render the README's figures into visualizations/figures/.
figures: $(STAMP)
	$(BIN)/python -m visualizations.render_all

clean:
	rm -rf $(VENV) .pytest_cache out
