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
