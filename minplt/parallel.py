"""Using the cores: BLAS threads for small products, and independent runs in worker
processes.

    with parallel.blas_threads(1):      # numpy's products on one thread inside the block
        ...
    results = parallel.map_runs(fn, jobs, workers=2)   # fn(job) for each job, one per core

Why one BLAS thread for training at toy sizes: OpenBLAS splits even a small product
over its threads, and they spin while they wait for each other. On an idle machine two
threads barely help products this small; on a busy one a product waits for a thread to
get a core, and a training step runs several times slower (the README's Performance
section has the measurements). Independent runs (seeds, variants) use the cores better,
one per worker process.
"""
from __future__ import annotations

import contextlib
import os


@contextlib.contextmanager
def blas_threads(n: int | None):
    """numpy's BLAS limited to n threads inside the block (None: leave it as it is)."""
    if n is None:
        yield
        return
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=n, user_api="blas"):
        yield


def default_workers() -> int:
    """Worker processes for independent runs: one per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:                              # not on every platform
        return max(1, os.cpu_count() or 1)
