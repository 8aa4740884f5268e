"""Every lesson notebook runs, top to bottom, in the quick version.

Each `lessons/*.ipynb` is executed with nbclient on a copy in memory (the committed
file, with its full-version outputs, is never rewritten), with MINPLT_FAST=1 (fewer
steps, smaller shapes), MPLBACKEND=Agg and lessons/ as the working directory, in a
Jupyter kernel running *this* interpreter. A failing cell fails the test with the
notebook's name, the cell's number and source, and the error. The time of each notebook
is printed (`pytest -s`) and recorded as a test property.

Cheap checks of the committed files come first: each notebook is paired with its
Jupytext source `lessons/NN_name.py` and has the same cells, it was executed in the full
version (outputs present, no errors), and lessons/README.md lists every one.
"""
import re
import time
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from visualizations import run_notebooks

LESSONS = Path(__file__).resolve().parent.parent / "lessons"
NOTEBOOKS = sorted(LESSONS.glob("[0-9][0-9]_*.ipynb"))
CELL_TIMEOUT = 600          # seconds; the quick version of a whole notebook takes well under a minute
FAST_BUDGET = 180           # the limit for one notebook in the quick version (not asserted)


def ids(paths):
    return [p.stem for p in paths]


def test_there_are_lessons():
    assert len(NOTEBOOKS) >= 8, f"expected the 8 lessons in {LESSONS}, found {ids(NOTEBOOKS)}"


# ----------------------------------------------------------------------------------------
# The committed files

def cells(notebook):
    return [(cell.cell_type, cell.source) for cell in notebook.cells]


def test_every_source_has_its_notebook():
    sources = {p.stem for p in LESSONS.glob("[0-9][0-9]_*.py")}
    notebooks = {p.stem for p in NOTEBOOKS}
    assert sources == notebooks, (
        f"lessons/ sources without a notebook: {sorted(sources - notebooks)}, notebooks without "
        f"a source: {sorted(notebooks - sources)}; `make lessons` writes the notebook of a source")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_pair_in_sync(path):
    """The notebook's cells are its Jupytext source's, cell for cell (type and text), and
    the notebook names the pairing. Edit the .py (or the notebook in JupyterLab, which saves
    both), then `make lessons LESSON=NN` re-executes it from the .py."""
    notebook = nbformat.read(path, as_version=4)
    formats = notebook.metadata.get("jupytext", {}).get("formats")
    assert formats == "ipynb,py:percent", (
        f"{path.name}: jupytext pairing metadata is {formats!r}, expected 'ipynb,py:percent'")
    source = jupytext.read(path.with_suffix(".py"))
    want, have = cells(source), cells(notebook)
    fix = f"re-run it from its source (make lessons LESSON={path.stem[:2]})"
    for i, (a, b) in enumerate(zip(want, have)):
        assert a == b, f"{path.name}, cell {i}: differs from {path.stem}.py; {fix}"
    assert len(want) == len(have), (
        f"{path.name} has {len(have)} cells, {path.stem}.py has {len(want)}; {fix}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_committed_with_full_outputs(path):
    """Committed notebooks carry the outputs of a full run (`make lessons`), no errors."""
    nb = nbformat.read(path, as_version=4)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    not_run = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.execution_count is None]
    assert not not_run, f"{path.name}: cells {not_run} have no outputs; run `make lessons`"
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            assert out.output_type != "error", f"{path.name}, cell {i} was saved with an error"
    first_output = "".join(o.get("text", "") for o in code_cells[0].outputs)
    assert "quick version" not in first_output, (
        f"{path.name} was saved from a MINPLT_FAST=1 run; re-run it with `make lessons`")


def test_readme_lists_every_lesson():
    readme = (LESSONS / "README.md").read_text()
    missing = [p.name for p in NOTEBOOKS if p.name not in readme]
    assert not missing, f"lessons/README.md does not mention {missing}"


# ----------------------------------------------------------------------------------------
# Running them

@pytest.fixture(scope="module")
def kernel_name():
    """A kernel of this interpreter (not a 'python3' kernelspec found elsewhere)."""
    with run_notebooks.this_interpreter_kernel() as name:
        yield name


def first_error(nb):
    """(index, cell) of the first cell whose outputs hold an error, or (None, None)."""
    for i, cell in enumerate(nb.cells):
        if any(o.output_type == "error" for o in cell.get("outputs", [])):
            return i, cell
    return None, None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_notebook_runs(path, kernel_name, monkeypatch, record_property):
    monkeypatch.setenv("MINPLT_FAST", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)          # a copy in memory; the file is not written
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name=kernel_name,
                            resources={"metadata": {"path": str(LESSONS)}})
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as error:
        index, cell = first_error(nb)
        where = f"cell {index}" if index is not None else "a cell"
        source = cell.source if cell is not None else ""
        message = re.sub(r"\x1b\[[0-9;]*m", "", str(error))      # drop the terminal colours
        pytest.fail(f"{path.name}: {where} failed\n--- source ---\n{source}\n--- error ---\n"
                    f"{message}", pytrace=False)
    seconds = time.perf_counter() - start
    record_property("seconds", round(seconds, 1))
    note = "" if seconds <= FAST_BUDGET else f"  (over the {FAST_BUDGET} s budget)"
    print(f"\n{path.name}: {seconds:.1f} s with MINPLT_FAST=1{note}")
