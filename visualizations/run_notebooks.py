"""Execute lessons from their Jupytext sources and save the notebooks with their outputs.

    python -m visualizations.run_notebooks lessons/03_cross_loop_parallelism.py
    make lessons                  # every lesson, in place: the committed full outputs
    make lessons LESSON=03        # one lesson (or LESSON="03 04")
    MINPLT_FAST=1 make lessons    # the quick version, written to out/lessons/

A lesson's source is `lessons/NN_name.py` (Jupytext percent format); its notebook
`NN_name.ipynb` holds the executed outputs. A run reads the .py (keeping the notebook's
metadata and cell ids, so a re-run changes outputs only), executes it in a fresh kernel
of this interpreter with the lesson's folder as the working directory, and prints each
code cell as it ends (cell i/n, its time, the total), plus a line every minute while a
long cell runs. A notebook whose run failed is not written; the script exits non-zero
if any failed.

Quick runs never touch the committed outputs: with MINPLT_FAST=1 set (other than 0)
the notebooks are written to out/lessons/ (or --out DIR) instead of in place.
"""

import argparse
import contextlib
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

FAST_OUT = Path("out") / "lessons"
# the Jupytext metadata every lesson notebook carries: paired with a percent-format .py,
# no version stamps or cell metadata in the .py
PAIRING = {"formats": "ipynb,py:percent",
           "notebook_metadata_filter": "-jupytext.text_representation",
           "cell_metadata_filter": "-all"}
HEARTBEAT = 60.0   # seconds between "still running" lines of one long cell


def fast_mode() -> bool:
    """The quick (MINPLT_FAST=1) or the lecture (MINPLT_LECTURE=1) version: neither may
    replace the committed outputs, which are those of the full version."""
    return any(os.environ.get(name, "") not in ("", "0") for name in ("MINPLT_FAST", "MINPLT_LECTURE"))


def pair_paths(path):
    """(source .py, notebook .ipynb) of a lesson given either file of the pair."""
    path = Path(path)
    if path.suffix not in (".py", ".ipynb"):
        raise ValueError(f"{path}: expected a lesson's .py source or its .ipynb notebook")
    source, notebook = path.with_suffix(".py"), path.with_suffix(".ipynb")
    if not source.exists():
        raise ValueError(f"{path}: its source {source} does not exist (each lesson is a "
                         "Jupytext .py paired with its .ipynb)")
    return source, notebook


def load_lesson(path):
    """The notebook to execute: the cells of the .py source, with the metadata, cell ids
    and (until re-executed) outputs of the existing .ipynb. Refuses a notebook whose cells
    were changed after its source, so that no edit is silently dropped."""
    import jupytext
    import nbformat
    from jupytext.combine import combine_inputs_with_outputs

    source, notebook_path = pair_paths(path)
    notebook = jupytext.read(source)
    pairing = notebook.metadata.setdefault("jupytext", {})
    for key, value in PAIRING.items():              # a new lesson gets the same pairing
        pairing.setdefault(key, value)
    if not notebook_path.exists():
        return notebook
    existing = nbformat.read(notebook_path, as_version=4)
    differs = ([(c.cell_type, c.source) for c in notebook.cells]
               != [(c.cell_type, c.source) for c in existing.cells])
    if differs and notebook_path.stat().st_mtime > source.stat().st_mtime:
        raise ValueError(f"{notebook_path} was edited after {source.name}: copy its edits into "
                         f"the source with `jupytext --sync {notebook_path}`, or discard them "
                         f"with `git checkout {notebook_path}`, then run again")
    return combine_inputs_with_outputs(notebook, existing)


@contextlib.contextmanager
def this_interpreter_kernel():
    """Yield the name of a kernelspec that runs this interpreter, first on JUPYTER_PATH.

    A 'python3' kernelspec installed elsewhere (a user's or the system's) could start a
    Python without minplt; this one always starts the interpreter running this code."""
    with tempfile.TemporaryDirectory(prefix="minplt-kernel-") as root:
        spec_dir = Path(root) / "kernels" / "python3"
        spec_dir.mkdir(parents=True)
        (spec_dir / "kernel.json").write_text(json.dumps({
            # log level ERROR: no start-up warning per kernel (about its local TCP ports)
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                     "--IPKernelApp.log_level=ERROR"],
            "display_name": "Python 3 (minplt)",
            "language": "python",
        }))
        saved = os.environ.get("JUPYTER_PATH")
        os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [root, saved]))
        try:
            yield "python3"
        finally:
            if saved is None:
                del os.environ["JUPYTER_PATH"]
            else:
                os.environ["JUPYTER_PATH"] = saved


class Progress:
    """nbclient hooks that print a line per finished code cell and a heartbeat while
    one runs: `03_cross_loop_parallelism: cell 4/13 done in 2.1 s (total 9.8 s)`."""

    def __init__(self, name, notebook, log=print, heartbeat=HEARTBEAT):
        self.name, self.log, self.heartbeat = name, log, heartbeat
        code = [i for i, c in enumerate(notebook.cells)
                if c.cell_type == "code" and c.source.strip()]
        self.number = {index: n + 1 for n, index in enumerate(code)}
        self.total = len(code)
        self.start = time.perf_counter()
        self.cell_start = self.start
        self.timer = None

    def cell_label(self, cell_index):
        return f"{self.name}: cell {self.number.get(cell_index, '?')}/{self.total}"

    def on_cell_execute(self, cell, cell_index):
        self.cell_start = time.perf_counter()
        self._arm(cell_index)

    def on_cell_executed(self, cell, cell_index, execute_reply):
        self.stop()
        now = time.perf_counter()
        self.log(f"{self.cell_label(cell_index)} done in {now - self.cell_start:.1f} s "
                 f"(total {now - self.start:.1f} s)")

    def _arm(self, cell_index):
        self.timer = threading.Timer(self.heartbeat, self._beat, args=(cell_index,))
        self.timer.daemon = True
        self.timer.start()

    def _beat(self, cell_index):
        self.log(f"{self.cell_label(cell_index)} still running, "
                 f"{time.perf_counter() - self.cell_start:.0f} s so far")
        self._arm(cell_index)

    def stop(self):
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


def run_notebook(path, out_path=None, timeout=3600, kernel_name="python3", log=print,
                 heartbeat=HEARTBEAT):
    """Execute the lesson at `path` (.py or .ipynb); write the notebook with its outputs
    to `out_path` (None: do not write). Returns the executed notebook."""
    import nbformat
    from nbclient import NotebookClient

    source, _ = pair_paths(path)
    notebook = load_lesson(path)
    progress = Progress(source.stem, notebook, log, heartbeat)
    client = NotebookClient(notebook, timeout=timeout, kernel_name=kernel_name,
                            record_timing=False,
                            on_cell_execute=progress.on_cell_execute,
                            on_cell_executed=progress.on_cell_executed,
                            resources={"metadata": {"path": str(source.parent.resolve())}})
    try:
        client.execute()
    finally:
        progress.stop()
    if out_path is not None:
        Path(out_path).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, out_path)
    return notebook


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="+", help="the lessons' .py sources (or .ipynb)")
    parser.add_argument("--timeout", type=int, default=3600,
                        help="seconds per cell (default 3600: the full ablation of lesson 06 "
                             "trains for about 17 minutes in one cell on two cores)")
    parser.add_argument("--out", default=None,
                        help=f"write the notebooks to this folder instead of in place "
                             f"(default with MINPLT_FAST=1 or MINPLT_LECTURE=1: {FAST_OUT})")
    parser.add_argument("--no-write", action="store_true",
                        help="only check that they run; write nothing")
    args = parser.parse_args(argv)

    out_dir = Path(args.out) if args.out else (FAST_OUT if fast_mode() else None)
    where = ("nothing is written" if args.no_write else
             f"writing to {out_dir}/ (the committed notebooks are left as they are)"
             if out_dir else "writing in place")
    print(f"{len(args.lessons)} lesson(s), "
          f"MINPLT_FAST={os.environ.get('MINPLT_FAST') or 'off'}, "
          f"MINPLT_LECTURE={os.environ.get('MINPLT_LECTURE') or 'off'}; {where}", flush=True)

    failed = []
    with this_interpreter_kernel() as kernel_name:
        for name in args.lessons:
            start = time.perf_counter()
            try:                         # report every lesson, then fail at the end
                notebook = pair_paths(name)[1]
                target = None if args.no_write else (out_dir / notebook.name if out_dir else notebook)
                run_notebook(notebook, target, args.timeout, kernel_name,
                             log=lambda line: print("  " + line, flush=True))
                status = f"ok, wrote {target}" if target else "ok"
            except Exception as error:
                failed.append(name)
                status = f"FAILED (not written)\n{error}"
            print(f"{name}: {time.perf_counter() - start:.1f} s  {status}", flush=True)
    if failed:
        print(f"{len(failed)} of {len(args.lessons)} lessons failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
