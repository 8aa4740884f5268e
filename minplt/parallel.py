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
import multiprocessing
import os
import signal


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


_stop = False          # set by Ctrl-C (or stop()): runs not yet started are skipped


def stop() -> None:
    """Ask the runs that have not started yet to be skipped (after a Ctrl-C)."""
    global _stop
    _stop = True


def stopped() -> bool:
    return _stop


def _worker_start() -> None:
    """In a worker: a Ctrl-C between runs skips the runs still to come. (During a run,
    training's own handler saves a checkpoint and returns; see train.py.)"""
    signal.signal(signal.SIGINT, lambda signum, frame: stop())


def map_runs(fn, jobs: list[tuple], workers: int | None = None) -> list:
    """[fn(*job) for job in jobs], in up to `workers` worker processes (default: one per
    core), results in the order of `jobs`. Each worker is a fresh interpreter ('spawn'),
    so nothing about the parent's threads is inherited; fn and the jobs must pickle.
    With one worker, or one job, everything runs in this process. A run gives the same
    result in a worker as here: it depends on its own seed only, and training uses one
    BLAS thread (blas_threads) wherever it runs.

    Ctrl-C reaches every worker: fn should then save what it has, call stop() and
    return; the runs not started yet see stopped() and return at once. map_runs waits
    for them all, so nothing is cut off in the middle of a write."""
    global _stop
    _stop = False
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers == 1 or len(jobs) <= 1:
        return [fn(*job) for job in jobs]
    with multiprocessing.get_context("spawn").Pool(min(workers, len(jobs)),
                                                   initializer=_worker_start) as pool:
        pending = pool.starmap_async(fn, jobs, chunksize=1)
        try:
            return pending.get()
        except KeyboardInterrupt:          # the workers got it too: wait while they save
            print("stopping: the runs save their checkpoints (Ctrl-C again to quit now)",
                  flush=True)
            return pending.get()
