"""Execute notebooks in place and save them with their outputs.

    python -m visualizations.run_notebooks lessons/*.ipynb

Each notebook runs in a fresh 'python3' kernel with its own folder as the working
directory and at most 900 s per cell. The script prints the time each one took and
exits non-zero if any failed; a failed notebook is not rewritten.
"""

import argparse
import sys
import time
from pathlib import Path


def run_notebook(path, timeout=900, kernel_name="python3", write=True):
    """Execute the notebook at `path`; write it back with outputs unless write=False."""
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name=kernel_name,
                            resources={"metadata": {"path": str(path.parent.resolve())}})
    client.execute()
    if write:
        nbformat.write(notebook, path)
    return notebook


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", help="the .ipynb files to execute")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    parser.add_argument("--kernel", default="python3", help="Jupyter kernel name")
    parser.add_argument("--no-write", action="store_true",
                        help="only check that they run; leave the files unchanged")
    args = parser.parse_args(argv)

    failed = []
    for path in args.notebooks:
        start = time.perf_counter()
        try:
            run_notebook(path, args.timeout, args.kernel, write=not args.no_write)
            status = "ok"
        except Exception as error:  # report every notebook, then fail at the end
            failed.append(path)
            status = f"FAILED\n{error}"
        print(f"{path}: {time.perf_counter() - start:.1f} s  {status}", flush=True)
    if failed:
        print(f"{len(failed)} of {len(args.notebooks)} notebooks failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
