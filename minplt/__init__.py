"""minplt: the Parallel Loop Transformer from scratch in NumPy."""
import os
import sys


def _numba_cache_dir() -> str:
    """Where Numba keeps compiled kernels (cache=True), the same however minplt is started:
    inside a virtual environment (`make`, `.venv/bin/python -m minplt`) its numba-cache
    folder, else $MINPLT_CACHE/numba or ~/.cache/minplt/numba."""
    if sys.prefix != sys.base_prefix:
        return os.path.join(sys.prefix, "numba-cache")
    cache = os.environ.get("MINPLT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache",
                                                           "minplt")
    return os.path.join(cache, "numba")


# Numba reads this when it is first imported, which minplt.kernels does after this line.
os.environ.setdefault("NUMBA_CACHE_DIR", _numba_cache_dir())

# Numba's parallel kernels run on OpenMP threads that wait for each other at the end of
# every parallel loop. GNU OpenMP's default is to spin for a long while first: on a
# machine where other programs keep the cores busy, a decode step of ~30 such loops then
# waits a scheduler time slice at many of them and runs tens of times slower. A short
# spin (then sleep) keeps the idle speed and shares the cores fairly under load (the
# measurements are in docs/performance.md). Set GOMP_SPINCOUNT or
# OMP_WAIT_POLICY yourself to choose otherwise.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "1000")
