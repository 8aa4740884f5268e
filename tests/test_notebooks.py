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

Last, `make lessons` (visualizations/run_notebooks.py) on a tiny lesson of its own: a
quick run never touches the committed notebook, a long cell is not silent, a failing
lesson is not written, and a notebook edited after its source is refused.
"""
import os
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
    assert "quick version" not in first_output and "lecture version" not in first_output, (
        f"{path.name} was saved from a MINPLT_FAST=1 or MINPLT_LECTURE=1 run; re-run it with "
        "`make lessons`")


# a code cell that draws: its committed outputs must hold the picture
DRAWS = re.compile(r"plt\.show\(|plt\.subplots\(|plt\.figure\(|charts\.plot_|schedule\.plot_|"
                   r"kv_layout\.plot_|\.plot_steps\(|display\(Image\(|Image\(filename")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_every_drawing_cell_carries_its_figure(path):
    nb = nbformat.read(path, as_version=4)
    missing = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and DRAWS.search(c.source)
               and not any("image/png" in o.get("data", {}) for o in c.get("outputs", []))]
    assert not missing, (f"{path.name}: cells {missing} draw a figure but carry no image; "
                         f"run `make lessons LESSON={path.stem[:2]}`")


FRONT_MATTER = {
    "the paper": "arXiv 2510.24824",
    "objectives": "After this lesson you can",
    "prerequisites": "Prerequisites",
    "time to read and to run": "Time",
    "a link to the notation table": "docs/method.md#1-notation",
}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_front_matter_and_exercises(path):
    """Each lesson opens with the paper, its objectives, prerequisites and times, and a link
    to the one notation table, and ends with exercises that point to their solutions."""
    nb = nbformat.read(path, as_version=4)
    opening = nb.cells[0].source
    missing = [what for what, text in FRONT_MATTER.items() if text not in opening]
    assert not missing, f"{path.name}: the first cell lacks {missing}"
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "## Exercises" in text, f"{path.name} has no '## Exercises' section"
    assert f"solutions/ex{path.stem[:2]}.py" in text, (
        f"{path.name} does not point to its worked solutions, solutions/ex{path.stem[:2]}.py")
    assert "## Summary" in text, f"{path.name} has no '## Summary' section"


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


# ----------------------------------------------------------------------------------------
# make lessons (visualizations/run_notebooks.py), on a tiny lesson of its own

TINY = '''# %% [markdown]
# A tiny lesson.

# %%
import os
print("quick" if os.environ.get("MINPLT_FAST") == "1" else "full")

# %%
import time
time.sleep(SLEEP)
'''


def tiny_lesson(folder, sleep=0.0, name="01_tiny"):
    folder.mkdir(exist_ok=True)
    source = folder / f"{name}.py"
    source.write_text(TINY.replace("SLEEP", str(sleep)))
    return source


def printed(nb):
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_quick_run_leaves_the_committed_notebook_alone(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    source = tiny_lesson(tmp_path / "lessons")
    monkeypatch.delenv("MINPLT_FAST", raising=False)
    assert run_notebooks.main([str(source)]) == 0                    # full: in place
    committed = source.with_suffix(".ipynb")
    before = committed.read_bytes()
    assert printed(nbformat.read(committed, as_version=4)).startswith("full")
    assert nbformat.read(committed, as_version=4).metadata.jupytext.formats == "ipynb,py:percent"

    monkeypatch.setenv("MINPLT_FAST", "1")
    assert run_notebooks.main([str(source)]) == 0                    # quick: to out/lessons/
    assert committed.read_bytes() == before
    quick = tmp_path / "out" / "lessons" / committed.name
    assert printed(nbformat.read(quick, as_version=4)).startswith("quick")
    out = capsys.readouterr().out
    assert "writing to out/lessons/ (the committed notebooks are left as they are)" in out
    assert "01_tiny: cell 1/2 done in" in out and "01_tiny: cell 2/2 done in" in out


def test_a_long_cell_is_not_silent(tmp_path, kernel_name):
    source = tiny_lesson(tmp_path, sleep=1.6)
    lines = []
    run_notebooks.run_notebook(source, None, kernel_name=kernel_name, log=lines.append,
                               heartbeat=0.5)
    assert any(line.startswith("01_tiny: cell 2/2 still running") for line in lines), lines
    assert lines[-1].startswith("01_tiny: cell 2/2 done in")


def test_a_failing_lesson_is_not_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    source = tiny_lesson(tmp_path)
    source.write_text(source.read_text() + "\n# %%\nraise RuntimeError('broken cell')\n")
    assert run_notebooks.main([str(source)]) == 1
    assert not source.with_suffix(".ipynb").exists()
    out = capsys.readouterr().out
    assert "FAILED (not written)" in out and "broken cell" in out


def test_a_notebook_edited_after_its_source_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    source = tiny_lesson(tmp_path)
    notebook = jupytext.read(source)
    notebook.cells[1].source += "\nprint('an edit made in the notebook')"
    path = source.with_suffix(".ipynb")
    nbformat.write(notebook, path)
    os.utime(path, (source.stat().st_mtime + 10,) * 2)
    assert run_notebooks.main([str(source)]) == 1
    out = capsys.readouterr().out
    assert f"{path} was edited after 01_tiny.py" in out and "jupytext --sync" in out
    assert "an edit made in the notebook" in path.read_text()        # nothing lost


def test_a_file_that_is_not_a_lesson_is_refused(tmp_path, capsys):
    assert run_notebooks.main([str(tmp_path / "notes.txt")]) == 1
    assert "expected a lesson's .py source" in capsys.readouterr().out
    assert run_notebooks.main([str(tmp_path / "02_missing.ipynb")]) == 1
    assert "02_missing.py does not exist" in capsys.readouterr().out
